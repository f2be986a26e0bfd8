#!py
"""
brine_events_key: the key this minion signs its events with (docs/events.md, "What is
trusted"), derived on the master from its secret (<master cachedir>/brine/events.secret) and
the minion id by _runners/brine.py's minion_key(). Pillar goes to that minion only.
"""
import importlib.util
import os
import sys


def run():
    if __opts__.get("__role") != "master":
        return {}  # masterless (salt-call --local): no master to send events to, no master secret
    dirs = list(__opts__.get("runner_dirs") or [])
    path = next((os.path.join(d, "brine.py") for d in dirs if os.path.isfile(os.path.join(d, "brine.py"))), None)
    if path is None:
        raise RuntimeError("brine_events_key: no brine runner (_runners/brine.py) in runner_dirs")
    # The runner imports Brine's library (brinelib), which the pillar's sys.path lacks.
    for lib in list(__opts__.get("utils_dirs") or []) + [os.path.join(__opts__["extension_modules"], "utils")]:
        if lib not in sys.path:
            sys.path.append(lib)
    spec = importlib.util.spec_from_file_location("brine_pillar_keys", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    secret = module.master_secret(os.path.join(__opts__["cachedir"], "brine"))
    return {"brine_events_key": module.minion_key(secret, __opts__["id"])}
