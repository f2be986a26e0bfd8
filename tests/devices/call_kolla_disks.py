"""
Runs one kolla_disks function and prints its result as JSON: the device tests start it inside a
private mount namespace whose /dev/disk/by-id holds only the links the test made.

    PYTHONPATH=... python call_kolla_disks.py FUNCTION '{"kwarg": ...}' [module|grain]

PYTHONPATH is the tests' import path (brine_testlib.PYTHONPATH).
"""

import json
import sys

from brine_testlib import load_extension


def main():
    func, kwargs = sys.argv[1], json.loads(sys.argv[2])
    kind = sys.argv[3] if len(sys.argv) > 3 else "modules"
    module = load_extension(kind, "kolla_disks")
    try:
        name = {v: k for k, v in getattr(module, "__func_alias__", {}).items()}.get(func, func)
        result = {"return": getattr(module, name)(**kwargs)}
    except Exception as exc:  # noqa: BLE001 - the test asserts on the error itself
        result = {"error": type(exc).__name__, "message": str(exc)}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
