#!py
"""
Reactor for salt/minion/<id>/start.

Nothing is decided here: reaction() of the brine runner module (_runners/brine.py) validates
the event in Python while this renders and returns the actions, each aimed at the sending
minion only, plus the record for salt-run brine.events. See docs/events.md.
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
    return _brine().reaction("minion_start", tag, data, __opts__)
