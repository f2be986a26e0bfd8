#!py
"""
Reactor for brine/echo/request, the liveness probe of the reactor system:
`salt-call brine_sign.send brine/echo/request` on a minion makes the master answer that minion,
and only that one, with a brine/echo/reply event. reaction() of the brine runner module
(_runners/brine.py) checks that the request is signed by the minion it names, and records it.
"""
import importlib.util
import os
import sys


def _brine():
    # Loaded once per reactor process (restart the master after changing _runners/brine.py).
    module = sys.modules.get("brine_reactions")
    if module is None:
        dirs = list(__opts__.get("runner_dirs") or []) + [os.path.join(__opts__["extension_modules"], "runners")]
        path = next(os.path.join(d, "brine.py") for d in dirs if os.path.isfile(os.path.join(d, "brine.py")))
        # The runner imports Brine's library (brinelib), which the reactor's sys.path lacks.
        for lib in list(__opts__.get("utils_dirs") or []) + [os.path.join(__opts__["extension_modules"], "utils")]:
            if lib not in sys.path:
                sys.path.append(lib)
        spec = importlib.util.spec_from_file_location("brine_reactions", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules["brine_reactions"] = module
    return module


def run():
    return _brine().reaction("echo", tag, data, __opts__)
