#!/usr/bin/env python3
"""
Failover and recovery times of the dual bond in the virtual lab, per backend.

    ./main.sh                                   # the lab up and converged
    .venv/bin/python benchmarks/lab_failover.py [--cuts 10] [--host ubuntu1 --host ubuntu3]

For each host (ubuntu1: Linux bonds, ubuntu3: Open vSwitch) the benchmark cuts a cable at the
guest's switch port ``--cuts`` times, alternating eth2 and eth3, and mends it 1.5 s later. Inside
the guest, one script does the cut and the measurement, all on the guest's own clock:

- failover: the longest gap between echo replies of a 200 packets/s ping from the host to
  ubuntu2's address on the cut NIC's bridge (management for eth2, tunnel for eth3), around the
  cut: cable cut -> traffic flowing again, from packet timestamps (``ping -D``), not from sleeps;
- recovery: cable back -> the NIC is its bond's active member again (Linux: the bond's
  ``active_slave`` in sysfs, read in a busy loop; OVS: ``ovs-appctl bond/show`` in a loop, so
  its figure includes that command's own run time, ~10-40 ms in a guest).

Targets (issue #4): failover <= miimon (100 ms) + 50 ms; recovery <= 1 s. Traffic stays inside
the lab (guests on the lab switch).
"""

import argparse
import statistics
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from lab.core import Lab, load_inventory  # noqa: E402

PEER = "ubuntu2"
NETWORK_OF = {"eth2": "management", "eth3": "tunnel"}

POLL = {
    "linux": 'while read -r a < /sys/class/net/$bond/bonding/active_slave; [ "$a" != "$nic" ] && [ $SECONDS -lt $end ]; do :; done',
    "ovs": 'while a=$(ovs-appctl bond/show $bond | sed -n "s/^active member mac.*(\\(.*\\))$/\\1/p"); '
           '[ "$a" != "$nic" ] && [ $SECONDS -lt $end ]; do :; done',
}

SCRIPT = r"""
nic={nic}; bond=bond-{nic}; peer={peer}
log=/tmp/brine-failover-ping.log
ping -D -n -i 0.005 -W 1 $peer > $log 2>&1 &
pinger=$!
sleep 1
t_cut=$(date +%s.%N); ip -n tor link set sw-$nic down
sleep 1.5
t_mend=$(date +%s.%N); ip -n tor link set sw-$nic up
end=$((SECONDS + 20))
{poll}
t_back=$(date +%s.%N)
sleep 0.3; kill $pinger; wait $pinger 2>/dev/null
echo "MARKS $t_cut $t_mend $t_back $a"
sed -n 's/^\[\([0-9.]*\)\] .* bytes from.*/\1/p' $log
rm -f $log
"""


def one_cut(lab, host, backend, nic, peer):
    out = lab.exec(host, SCRIPT.format(nic=nic, peer=peer, poll=POLL[backend]), timeout=120).check().output
    lines = out.split("\n")
    marks = next(line for line in lines if line.startswith("MARKS ")).split()
    t_cut, t_mend, t_back, active = float(marks[1]), float(marks[2]), float(marks[3]), marks[4] if len(marks) > 4 else ""
    replies = sorted(float(line) for line in lines if line and line[0].isdigit())
    gaps = [b - a for a, b in zip(replies, replies[1:]) if b > t_cut and a < t_mend]
    if active != nic:
        raise RuntimeError(f"{host} {nic}: bond not back on its NIC 20 s after the mend (active: {active!r})")
    if not gaps:
        raise RuntimeError(f"{host} {nic}: no echo replies around the cut: traffic did not flow")
    return max(gaps) * 1000, (t_back - t_mend) * 1000


def summary(values):
    return f"{min(values):6.0f} {statistics.median(values):6.0f} {max(values):6.0f}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cuts", type=int, default=10)
    parser.add_argument("--host", action="append", help="default: ubuntu1 (linux) and ubuntu3 (ovs)")
    args = parser.parse_args()
    lab = Lab(log=lambda msg: None)
    if not lab.is_up:
        print("the lab is not up: ./main.sh first", file=sys.stderr)
        return 1
    inv = load_inventory()[1]
    rows = []
    for host in args.host or ["ubuntu1", "ubuntu3"]:
        backend = inv["hosts"][host]["dualbond"]["backend"]
        miimon = inv["hosts"][host]["dualbond"].get("miimon", 100)
        failover, recovery = [], []
        for i in range(args.cuts):
            nic = ("eth2", "eth3")[i % 2]
            peer = inv["hosts"][PEER]["networks"][NETWORK_OF[nic]]["address"]
            f, r = one_cut(lab, host, backend, nic, peer)
            failover.append(f)
            recovery.append(r)
            print(f"{host} ({backend}) cut {i + 1:2d} {nic}: failover {f:6.0f} ms, recovery {r:6.0f} ms", flush=True)
        rows.append((host, backend, miimon, failover, recovery))
    print(f"\n{'host':<9} {'backend':<7} {'cuts':>4}  failover ms min/median/max  recovery ms min/median/max")
    for host, backend, miimon, failover, recovery in rows:
        print(f"{host:<9} {backend:<7} {len(failover):>4}  {summary(failover)}        {summary(recovery)}"
              f"   (targets: failover <= {miimon + 50}, recovery <= 1000)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
