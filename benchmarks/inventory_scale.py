#!/usr/bin/env python3
"""
How the inventory's size costs a state run, masterless (salt-call --local against the checkout):
``state.show_highstate`` of the bootstrap host and of a controller, with the example inventory
(4 hosts) and with one grown to 64 hosts (compute hosts added), and how many times one run
checks the inventory (the brine_inventory debug line "checked the inventory"; the model is
memoised per run, so 1 is the aim).

    .venv/bin/python benchmarks/inventory_scale.py [--runs 3] [--hosts 64]
    .venv/bin/python benchmarks/inventory_scale.py --lab [--runs 3] [--hosts 64]

``--lab``: the no-op ``state.apply`` of the lab's bootstrap host and ubuntu1 through the running
lab's master (`./main.sh` first), with the example inventory and with the grown one. The lab's
master reads this checkout's ``pillar/brine/example-lab.yaml``: the grown inventory is written
over it for the run and the original put back at the end, whatever happens (the added hosts
have no guests; for them the lab only renders DHCP reservations, PXE files and ``/etc/hosts``
lines). One converging apply per size comes first.

Prints min/median/max seconds per case; nothing is asserted.

Measured on the 2-core Xeon, 3 runs each, medians (min-max). The masterless "before" and
"after" in one sitting: before the inventory memo and the PXE change (e4860a6) and after them:

    masterless show_highstate           4 hosts            64 hosts           64 / 4
    bootstrap, before                   0.97 (0.95-1.03)   2.01 (1.96-2.02)   2.07
    bootstrap, after                    0.97 (0.94-0.99)   1.12 (1.12-1.14)   1.15
    ubuntu1, before                     1.04 (1.03-1.05)   1.28 (1.27-1.29)   1.23
    ubuntu1, after                      1.12 (1.10-1.16)   1.21 (1.21-1.21)   1.08

With every PXE file in one state (brine_bootstrap.pxe_files) and RabbitMQ and memcached on
the controllers, a later sitting (the host also running unit tests):

    masterless show_highstate           4 hosts            64 hosts           64 / 4
    bootstrap                           1.04 (0.99-1.25)   1.32 (1.26-1.45)   1.27
    ubuntu1                             1.19 (1.19-1.24)   1.27 (1.27-1.47)   1.07
    lab no-op state.apply (--lab), PXE files as two file.managed states per host
    bootstrap                           19.4 (18.2-20.4)   25.4 (24.1-25.6)   1.31
    ubuntu1                             17.2 (17.1-17.3)   18.5 (18.4-19.1)   1.08
    lab no-op state.apply (--lab), PXE files in one state; RabbitMQ and memcached added
    bootstrap                           17.8 (17.4-19.3)   20.0 (18.8-20.6)   1.12
    ubuntu1                             21.9 (19.5-30.0)   24.4 (23.4-30.2)   1.11

The inventory is checked once per run at either size. A no-op ``salt '*' state.apply`` of the
whole lab (four hosts at once) took 26 s with the PXE files in one state and the RabbitMQ
account read in one ``rabbitmqctl eval``.
"""

import argparse
import copy
import statistics
import sys
import tempfile
import time
from pathlib import Path

from import_path import REPO  # first: the checkout's import path

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


def lab_noop_applies(hosts, runs):
    """The lab's no-op state.apply per host, with the example inventory and the grown one."""
    import shutil

    import yaml
    from lab.core import Lab, minion_restarts

    lab = Lab(log=lambda msg: None)
    base = example_inventory()
    inventory_file = REPO / "pillar" / "brine" / "example-lab.yaml"
    saved = Path(tempfile.mkdtemp()) / "example-lab.yaml"
    shutil.copy2(inventory_file, saved)

    def apply(minion):
        started = time.monotonic()
        results = lab.salt_json(minion, "state.apply")
        seconds = time.monotonic() - started
        states = [s for host in results.values() if isinstance(host, dict) for s in host.values()]
        if not states or any(s.get("result") is False for s in states):
            raise SystemExit(f"{minion}: state.apply failed: {str(results)[:2000]}")
        return seconds, results, sum(1 for s in states if s.get("changes"))

    def converge():
        lab.salt_json("*", "saltutil.refresh_pillar")
        _, results, _ = apply("*")
        lab.wait_minion_restarts(minion_restarts(results))

    try:
        for size in (len(base["hosts"]), hosts):
            if size != len(base["hosts"]):
                with open(inventory_file, "w", encoding="utf-8") as fh:
                    yaml.safe_dump(grown(base, size), fh)
            converge()
            for minion in ("bootstrap", "ubuntu1"):
                times, changed = [], set()
                for _ in range(runs):
                    seconds, _, count = apply(minion)
                    times.append(seconds)
                    changed.add(count)
                print(f"{size:>3} hosts, {minion:<9} no-op state.apply (lab): min {min(times):.2f} median "
                      f"{statistics.median(times):.2f} max {max(times):.2f} s; states changed: {sorted(changed)}",
                      flush=True)
    finally:
        shutil.copy2(saved, inventory_file)
        converge()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--hosts", type=int, default=64)
    parser.add_argument("--lab", action="store_true", help="no-op state.apply through the running lab's master")
    args = parser.parse_args()
    if args.lab:
        lab_noop_applies(args.hosts, args.runs)
        return 0
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
