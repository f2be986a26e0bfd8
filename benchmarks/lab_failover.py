#!/usr/bin/env python3
"""
Failover and recovery times of the dual bond in the virtual lab, per backend.

    ./main.sh                                   # the lab up and converged
    .venv/bin/python benchmarks/lab_failover.py [--cuts 10] [--host ubuntu1 --host ubuntu3]

For each host (ubuntu1: Linux bonds, ubuntu3: Open vSwitch) the benchmark cuts a cable at the
guest's switch port ``--cuts`` times, alternating eth2 and eth3, and mends it 1.5 s later. Inside
the guest, one script does the cut and the measurement, all on the guest's own clock:

- failover: cable cut -> traffic flowing again, from packet timestamps: a 200 packets/s ping
  from the host to ubuntu2's address on the cut NIC's network (management for eth2, tunnel for
  eth3) is captured by ``tcpdump`` on the host's interface of that network (the kernel's
  timestamps of each echo request leaving and each reply arriving); failover is the longest time
  between the sending of two consecutive *answered* requests around the cut. When requests were
  lost it spans them (last request through before the cut -> first one through after it); when
  none was lost it is the longest pause in sending, an upper bound of an outage too short to lose
  a packet. The longest gap between the replies' arrivals (the reply gap) is printed for
  comparison: it also holds the peer's and the host's own delays in answering and reading,
  which in a loaded UML guest reach 100-300 ms without any packet lost. For Linux bonds also the bond's own switch, from the kernel log (the
  switch port's "entered disabled state" -> "making interface the new active one"; 10 ms ticks),
  which tells the bond's reaction from the guest's traffic path;
- recovery: cable back -> the NIC is its bond's active member again (Linux: the bond's
  ``active_slave`` in sysfs, read in a busy loop; OVS: the time of vswitchd's own "active member
  is now" log line, with ``ovs-appctl bond/show`` in a loop as the confirmation, whose time is
  printed too: it adds that command's run time, 100-300 ms in a loaded guest).

Before the first cut the benchmark waits (at most 5 min) until the host's CPUs are less than
25% busy over 5 s: right after ./main.sh the guests restart their minions and keep both cores
busy, and a guest that is not scheduled runs its miimon timer late. The host's CPU use over the
run is printed with the figures.

Targets: failover <= miimon (100 ms) + 50 ms; recovery <= 1 s. Traffic stays inside
the lab (guests on the lab switch).

Measured on a 2-core "Intel(R) Xeon(R) Processor" with AMX, lab kernel UML 7.2um1 (7.2.7),
cables on tap vector NICs, right after ./main.sh, host CPUs 52% busy during the run, 20 cuts
per host (ms, min / median / max):

    host (backend)          failover       reply gap max  lost requests  bond's own switch  recovery
    ubuntu1 (linux)         20 / 76 / 121  121            100            10 / 65 / 110      40 / 139 / 204
    ubuntu3 (ovs, carrier)  19 / 22 / 52   65             5              -                  13 / 25 / 70

All 40 cuts within both targets.

OVS link detection compared on ubuntu3 (Debian 12's UML 6.1, daemon transport, kernel
datapath, one lab, host CPUs 56-60% busy, 20 cuts each): polling (bond-detect-mode=miimon)
failover 74 / 110 / 158, 20 requests lost, recovery 145 / 195 / 441; carrier detection
failover 42 / 66 / 116, no request lost, recovery 67 / 99 / 216.
"""

import argparse
import datetime
import os
import re
import statistics
import sys
import time
from pathlib import Path

import import_path  # noqa: F401  (first: the checkout's import path)

from lab import kernel
from lab.core import Lab, load_inventory

PEER = "ubuntu2"
NETWORK_OF = {"eth2": "management", "eth3": "tunnel"}

POLL = {
    "linux": 'while read -r a < /sys/class/net/$bond/bonding/active_slave; [ "$a" != "$nic" ] && [ $SECONDS -lt $end ]; do :; done',
    "ovs": 'while a=$(ovs-appctl bond/show $bond | sed -n "s/^active member mac.*(\\(.*\\))$/\\1/p"); '
           '[ "$a" != "$nic" ] && [ $SECONDS -lt $end ]; do :; done',
}

SCRIPT = r"""
nic={nic}; bond=bond-{nic}; peer={peer}
dev=$(ip -o route get $peer | sed -n 's/.* dev \([^ ]*\).*/\1/p')
cap=/tmp/brine-failover.pcap
rm -f $cap
tcpdump -i $dev -n -U -w $cap 'icmp[icmptype] == icmp-echo or icmp[icmptype] == icmp-echoreply' 2>/dev/null &
capture=$!
while [ ! -s $cap ] && kill -0 $capture 2>/dev/null; do sleep 0.1; done
ping -q -n -i 0.005 -W 1 $peer > /dev/null 2>&1 &
pinger=$!
sleep 1
{mark_cut}t_cut=$(date +%s.%N); ip -n tor link set sw-$nic down
sleep 1.5
t_mend=$(date +%s.%N); ip -n tor link set sw-$nic up
end=$((SECONDS + 20))
{poll}
t_back=$(date +%s.%N)
sleep 0.3; kill $pinger; wait $pinger 2>/dev/null
sleep 0.2; kill $capture; wait $capture 2>/dev/null
echo "MARKS $t_cut $t_mend $t_back ${{a:--}} $dev"
{switch_log}
tcpdump -r $cap -tt -n 2>/dev/null | sed -n 's/^\([0-9.]*\) .*ICMP echo \(request\|reply\), id [0-9]*, seq \([0-9]*\).*/PACKET \1 \2 \3/p'
rm -f $cap
"""


# Linux: the kernel log's own clock times the bond's switch; the mark says where this cut's
# lines start, the switch port's "entered disabled state" line is the cut itself (the ``ip``
# command that cuts takes 100-200 ms to start in a loaded guest). OVS: vswitchd logs its
# switches (UTC, ms): "2026-11-22T06:30:01.123Z|...|bond|INFO|bond bond-eth2: active member is
# now eth2" - the recovery's end. (Its switch to the crossing is not timed against the cut: the
# kernel log's clock and the wall clock drift apart by tenths of a second in UML.)
MARK_CUT = 'echo "brine-bench cut $nic" > /dev/kmsg; '
SWITCH_LOG = {
    "linux": 'dmesg | sed -n "/brine-bench cut $nic$/,\\$p" | tail -n 50 | sed "s/^/KERNEL /"',
    "ovs": 'grep -a "bond $bond: active member is now" /var/log/openvswitch/ovs-vswitchd.log | tail -n 6 | sed "s/^/SWITCHLOG /"',
}


def vswitchd_switch_time(lines, member, after):
    """The first time vswitchd made ``member`` active at or after ``after`` (epoch s)."""
    stamps = []
    for line in lines:
        if line.startswith("SWITCHLOG ") and line.endswith(f"active member is now {member}"):
            stamp = datetime.datetime.strptime(line[10:33], "%Y-%m-%dT%H:%M:%S.%f")
            stamps.append(stamp.replace(tzinfo=datetime.timezone.utc).timestamp())
    later = [t for t in stamps if t >= after]
    return min(later) if later else None


def kernel_times(lines, nic):
    """Kernel log times (s since boot) of this cut: ``cut`` (the switch port went down) and
    ``switch`` (the Linux bond made the crossing its active member)."""
    stamps = {}
    for line in lines:
        match = re.match(r"KERNEL \[\s*([\d.]+)\] (.*)$", line)
        if not match:
            continue
        stamp, text = float(match.group(1)), match.group(2)
        if text == f"brine-bench cut {nic}":
            stamps["mark"] = stamp
        elif "mark" in stamps and "cut" not in stamps and text.endswith(f"(sw-{nic}) entered disabled state"):
            stamps["cut"] = stamp
        elif "cut" in stamps and "new active one" in text and f"(slave vbk-{nic})" in text:
            stamps.setdefault("switch", stamp)
    return stamps


def bond_switch_ms(lines, backend, nic):
    """Linux: cut -> the bond made the crossing its active member, in ms (10 ms kernel ticks)."""
    kernel = kernel_times(lines, nic)
    if backend != "linux" or "cut" not in kernel or "switch" not in kernel:
        return None
    return (kernel["switch"] - kernel["cut"]) * 1000


def failover_figures(lines, t_cut, t_mend):
    """Failover from the captured echo traffic (``PACKET <epoch s> request|reply <seq>`` lines):
    ``{"failover": ms, "reply_gap": ms, "lost": n}``, or None when no request around the cut was
    answered.

    failover: the longest time between the sending of two consecutive answered requests, over the
    pairs that reach past the cut mark and begin before the mend; ``reply_gap``: the same over
    the replies' arrival times; ``lost``: requests sent between the cut mark and the mend that got
    no reply.
    """
    requests, replies = {}, {}
    for line in lines:
        fields = line.split()
        if len(fields) == 4 and fields[0] == "PACKET":
            (requests if fields[2] == "request" else replies).setdefault(int(fields[3]), float(fields[1]))
    answered = sorted(sent for seq, sent in requests.items() if seq in replies)
    arrived = sorted(replies.values())

    def longest_gap(stamps):
        gaps = [b - a for a, b in zip(stamps, stamps[1:]) if b > t_cut and a < t_mend]
        return max(gaps) * 1000 if gaps else None

    failover = longest_gap(answered)
    if failover is None:
        return None
    lost = sum(1 for seq, sent in requests.items() if t_cut < sent < t_mend and seq not in replies)
    return {"failover": failover, "reply_gap": longest_gap(arrived), "lost": lost}


def one_cut(lab, host, backend, nic, peer):
    """One cable cut and mend: ``{"failover", "reply_gap", "recovery", "bond_switch", "seen"}`` in ms,
    and ``lost`` (echo requests)."""
    script = SCRIPT.format(nic=nic, peer=peer, poll=POLL[backend], switch_log=SWITCH_LOG[backend], mark_cut=MARK_CUT)
    out = lab.exec(host, script, timeout=120).check().output
    lines = out.split("\n")
    marks = next(line for line in lines if line.startswith("MARKS ")).split()
    t_cut, t_mend, t_back, active = float(marks[1]), float(marks[2]), float(marks[3]), marks[4]
    traffic = failover_figures(lines, t_cut, t_mend)
    if active != nic:
        raise RuntimeError(f"{host} {nic}: bond not back on its NIC 20 s after the mend (active: {active!r})")
    if traffic is None:
        raise RuntimeError(f"{host} {nic}: no answered echo requests around the cut: traffic did not flow")
    seen = (t_back - t_mend) * 1000
    recovery = seen
    if backend == "ovs":
        switched = vswitchd_switch_time(lines, nic, t_mend - 0.002)
        if switched is None:
            raise RuntimeError(f"{host} {nic}: vswitchd logged no switch back to {nic} after the mend")
        recovery = (switched - t_mend) * 1000
    return {**traffic, "recovery": recovery, "bond_switch": bond_switch_ms(lines, backend, nic), "seen": seen}


def fmt(ms):
    return "   -" if ms is None else f"{ms:4.0f}"


def host_cpu_ticks():
    """(busy, total) jiffies of the host's CPUs since boot, from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


def host_cpu_busy_since(before):
    """The fraction of the host's CPU time that was busy since ``before`` (``host_cpu_ticks()``)."""
    busy, total = (after - start for after, start in zip(host_cpu_ticks(), before))
    return busy / total if total else 0.0


def wait_for_quiet_host(busy_below=0.25, window=5.0, give_up=300.0):
    """Wait until the host's CPUs were less than ``busy_below`` busy over ``window`` s (at most
    ``give_up`` s); return the last fraction measured.

    Right after ./main.sh the four guests restart their minions onto the new code (Python runs
    5-10x slower in UML) and keep both cores busy for a minute or two; a guest that is not
    scheduled runs its miimon timer late, which real hardware does not do.
    """
    deadline = time.monotonic() + give_up
    while True:
        before = host_cpu_ticks()
        time.sleep(window)
        fraction = host_cpu_busy_since(before)
        if fraction < busy_below or time.monotonic() > deadline:
            return fraction
        print(f"waiting for the lab to settle: host CPUs {100 * fraction:.0f}% busy", flush=True)


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
    settled = wait_for_quiet_host()
    print(f"host CPUs {100 * settled:.0f}% busy before the first cut", flush=True)
    cpu_before = host_cpu_ticks()
    for host in args.host or ["ubuntu1", "ubuntu3"]:
        backend = inv["hosts"][host]["dualbond"]["backend"]
        miimon = inv["hosts"][host]["dualbond"].get("miimon", 100)
        samples = []
        if backend == "ovs":
            # vswitchd rate-limits its bond log lines (a burst, then a few per minute): without
            # this, a run of cuts soon finds no "active member is now" line to time.
            lab.exec(host, "ovs-appctl vlog/disable-rate-limit bond").check()
        for i in range(args.cuts):
            nic = ("eth2", "eth3")[i % 2]
            peer = inv["hosts"][PEER]["networks"][NETWORK_OF[nic]]["address"]
            sample = one_cut(lab, host, backend, nic, peer)
            samples.append(sample)
            bond = f" (the bond switched after {sample['bond_switch']:3.0f} ms)" if sample["bond_switch"] is not None else ""
            extra = f", seen by ovs-appctl after {sample['seen']:5.0f} ms" if backend == "ovs" else ""
            print(f"{host} ({backend}) cut {i + 1:2d} {nic}: failover {sample['failover']:5.0f} ms "
                  f"({sample['lost']} lost, reply gap {fmt(sample['reply_gap'])} ms){bond}, "
                  f"recovery {sample['recovery']:5.0f} ms{extra}", flush=True)
        rows.append((host, backend, miimon, samples))
    print(f"\n{'host':<9} {'backend':<7} {'cuts':>4}  failover ms min/median/max  recovery ms min/median/max")
    for host, backend, miimon, samples in rows:
        values = {key: [sample[key] for sample in samples] for key in samples[0]}
        print(f"{host:<9} {backend:<7} {len(samples):>4}  {summary(values['failover'])}        {summary(values['recovery'])}"
              f"   (targets: failover <= {miimon + 50}, recovery <= 1000)")
        print(f"{'':<9} {'':<7} {'':>4}  {summary([v for v in values['reply_gap'] if v is not None])}   the longest gap between reply arrivals "
              f"(for comparison); {sum(values['lost'])} requests lost in all")
        switches = [v for v in values["bond_switch"] if v is not None]
        if switches:
            print(f"{'':<9} {'':<7} {len(switches):>4}  {summary(switches)}   the bond's own switch: cut -> crossing "
                  "active (kernel log, 10 ms ticks: indicative)")
        if backend == "ovs":
            print(f"{'':<9} {'':<7} {'':>4}  {'':<28}{summary(values['seen'])}   recovery as seen by ovs-appctl bond/show")
    print(f"host during the run: CPUs {100 * host_cpu_busy_since(cpu_before):.0f}% busy, load average {os.getloadavg()[0]:.1f} "
          f"({os.cpu_count()} cores; the UML guests' timing follows it)")
    print(kernel.describe_host())
    return 0


if __name__ == "__main__":
    sys.exit(main())
