#!/usr/bin/env python3
"""
How the inventory's size costs a state run, masterless (salt-call --local against the checkout):
``state.show_highstate`` of the bootstrap host and of a controller, with the example inventory
(4 hosts) and with one grown to 64 hosts (compute hosts added), and how many times one run
checks the inventory (the brine_inventory debug line "checked the inventory"; the model is
memoised per run, so 1 is the aim).

    .venv/bin/python benchmarks/inventory_scale.py [--runs 3] [--hosts 64]

Prints min/median/max seconds per case; nothing is asserted.

Measured on the 2-core Xeon (one run each, another test run busy on the machine): the
inventory checked once per run (4 or 64 hosts alike); the bootstrap host's render about 1.2 s
at 4 hosts and 2.3 s at 64 (its DHCP and PXE files for every host, not the check); the
controller's about 1.1-1.3 s.
"""

import argparse
import copy
import statistics
import sys
import tempfile
import time
from pathlib import Path

import import_path  # noqa: F401  (first: the checkout's import path)

from brine_testlib import SaltCall, example_inventory


def grown(inventory, total):
    """The example inventory with compute hosts added (copies of ubuntu1's shape) up to ``total``."""
    inv = copy.deepcopy(inventory)
    template = inv["hosts"]["ubuntu1"]
    number = 4
    while len(inv["hosts"]) < total:
        name = f"ubuntu{number}"
        host = copy.deepcopy(template)
        host["roles"] = ["compute", "storage"]
        host["nics"] = {nic: dict(spec, mac=f"52:54:00:20:{number:02x}:{idx:02x}")
                        for idx, (nic, spec) in enumerate(sorted(template["nics"].items()), start=2)}
        host["networks"] = {net: dict(spec, address=spec["address"].rsplit(".", 1)[0] + f".{10 + number}")
                            for net, spec in template["networks"].items()}
        host["disks"] = {d: dict(spec, by_id=spec["by_id"].replace("ubuntu1", name)) for d, spec in template["disks"].items()}
        inv["hosts"][name] = host
        number += 1
    return inv


def run_case(salt_call, minion, pillar_root, runs):
    times, checks = [], []
    log = salt_call.workdir / "minion.log"
    for _ in range(runs):
        log.write_text("")
        started = time.monotonic()
        out, proc = salt_call("state.show_highstate", "--log-file-level=debug", minion_id=minion, pillar_root=pillar_root)
        times.append(time.monotonic() - started)
        if proc.returncode != 0 or not isinstance(out, dict):
            raise SystemExit(f"{minion}: show_highstate failed: {proc.stderr[-500:]}")
        checks.append(log.read_text().count("brine_inventory: checked the inventory"))
    return times, checks


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--hosts", type=int, default=64)
    args = parser.parse_args()
    base = example_inventory()
    with tempfile.TemporaryDirectory() as tmp:
        salt_call = SaltCall(Path(tmp) / "salt")
        for size in (len(base["hosts"]), args.hosts):
            root = salt_call.pillar_root_with(grown(base, size))
            for minion in ("bootstrap", "ubuntu1"):
                times, checks = run_case(salt_call, minion, root, args.runs)
                print(f"{size:>3} hosts, {minion:<9} state.show_highstate: min {min(times):.2f} median "
                      f"{statistics.median(times):.2f} max {max(times):.2f} s; inventory checks per run: "
                      f"{sorted(set(checks))}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
