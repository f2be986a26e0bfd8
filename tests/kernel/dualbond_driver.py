"""
Runs inside a UML guest (see uml_guest.py): one Python process per scenario, because Python
start-up is slow under UML. It imports the dualbond module's pure core and live layer directly
(no Salt loader), drives the real kernel/OVS, and prints one ``JSON:{...}`` line per result.

usage: PYTHONPATH=... dualbond_driver.py SCENARIO BACKEND [ARGS...]
(PYTHONPATH the tests' import path, brine_testlib.PYTHONPATH; kernel_scenarios.driver_payload sets it)

The switch namespace ``sw`` and the peer host ``peer`` were made by the harness
(``switch_setup``); cables are cut by taking the switch-side veth down.
"""

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import brine_inventory
import brine_testlib
import dualbond
import yaml
from brinelib.dualbond import live as dualbond_live
from brinelib.dualbond import transaction as dualbond_transaction
from brine_testlib import REPO

PEERS = {"management": "10.10.0.50", "tunnel": "10.200.0.50", "external": "10.100.0.50"}
CONFIG_DIRS = {"networkd": "/etc/systemd/network", "ifupdown": "/etc/network/interfaces.d"}


def emit(**kwargs):
    print("JSON:" + json.dumps(kwargs, sort_keys=True), flush=True)


def sh(*argv, check=True):
    proc = subprocess.run(argv, capture_output=True, text=True)
    if check and proc.returncode:
        raise RuntimeError(f"{argv}: {proc.stderr}")
    return proc


def inventory(backend, style="networkd", **dualbond_extra):
    with open(REPO / "pillar" / "brine" / "example-lab.yaml", encoding="utf-8") as fh:
        inv = yaml.safe_load(fh)
    minion = "ubuntu1" if backend == "linux" else "ubuntu3"
    host = inv["hosts"][minion]
    host["dualbond"].update(dualbond_extra)
    if backend == "ovs":
        host["dualbond"]["datapath_type"] = "netdev"  # the kernel datapath loses upcalls in UML
    host["network_config"] = style
    norm = brine_inventory.normalise(inv)
    return minion, norm["hosts"][minion], norm["networks"]


def give_nics_their_macs(host):
    for nic, spec in host["nics"].items():
        if nic in host["dualbond"]["nics"]:
            sh("ip", "link", "set", nic, "address", spec["mac"])


def counters(name):
    base = f"/sys/class/net/{name}/statistics"
    return {k: int(Path(base, k).read_text()) for k in ("tx_packets", "rx_packets")}


def ping(address, count=3, source=None, ip_size=None):
    """Echo replies came back; with ``ip_size``, for IP packets of that size, not fragmented."""
    argv = ["ping", "-n", "-c", str(count), "-i", "0.2", "-W", "1", address]
    if ip_size:
        argv[-1:-1] = ["-M", "do", "-s", str(ip_size - 28)]
    return sh(*argv, check=False).returncode == 0


def jumbo_ping(address):
    """A 9000-byte IP packet, not fragmented, answered: the whole path carries MTU 9000."""
    return ping(address, count=2, ip_size=9000)


def active_slave(bond):
    try:
        return Path(f"/sys/class/net/{bond}/bonding/active_slave").read_text().strip()
    except OSError:
        return None


def wait_for(predicate, seconds):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def ovs_active(bond):
    return dualbond_live.ovs_active(bond)


def active_of(backend, bond):
    return active_slave(bond) if backend == "linux" else ovs_active(bond)


# --------------------------------------------------------------------------- scenarios


def scenario_apply(backend, style="networkd"):
    minion, host, networks = inventory(backend, style)
    give_nics_their_macs(host)
    the_plan = dualbond.build_plan(host, networks, minion)
    preview = dualbond.apply(host=host, networks=networks, minion_id=minion, test=True)
    emit(preview=preview["changes"])
    first = dualbond.apply(host=host, networks=networks, minion_id=minion)
    emit(first=first)
    legs = the_plan["legs"]
    settled = wait_for(lambda: all(active_of(backend, leg["bond"]) == leg["nic"] for leg in legs), 10)
    before = {leg["nic"]: counters(leg["nic"]) for leg in legs}
    reach = {net: ping(addr) for net, addr in PEERS.items()}
    after = {leg["nic"]: counters(leg["nic"]) for leg in legs}
    jumbo = {net: jumbo_ping(addr) for net, addr in PEERS.items()}
    full_size = {net: ping(addr, count=2, ip_size=networks[net]["mtu"]) for net, addr in PEERS.items()}
    second = dualbond.apply(host=host, networks=networks, minion_id=minion)
    status = dualbond.status(host=host, networks=networks, minion_id=minion)
    files = sorted(os.listdir(CONFIG_DIRS[style]))
    grain = brine_testlib.load_extension("grains", "brine_nics")
    nic_table = grain.collect(physical_only=False)  # the guest's "NICs" are veths
    emit(
        grain={n: nic_table.get(n) for n in host["dualbond"]["nics"]},
        settled=settled,
        reach=reach,
        jumbo=jumbo,
        full_size=full_size,
        mtus={net: networks[net]["mtu"] for net in PEERS},
        tx={nic: after[nic]["tx_packets"] - before[nic]["tx_packets"] for nic in after},
        rx={nic: after[nic]["rx_packets"] - before[nic]["rx_packets"] for nic in after},
        second=second,
        status=status,
        files=files,
        plan=the_plan,
    )
    return minion, host, networks, the_plan


def scenario_cut(backend, ctx=None):
    minion, host, networks, the_plan = ctx or scenario_apply(backend)
    legs = the_plan["legs"]
    results = []
    for leg in legs:
        nic, bond = leg["nic"], leg["bond"]
        net = next(n for n, a in host["networks"].items() if a["nic"] == nic)
        sh("ip", "-n", "sw", "link", "set", f"sw-{nic}", "down")
        moved = wait_for(lambda: active_of(backend, bond) == leg["backup"], 5)
        # The backup carries traffic once the peer's switch has relearned the bond's MAC; under
        # UML the guest's one CPU may be busy with the failover itself for a second, so the
        # check is "answered within 5 s", not "the first echo answered" (benchmarks time the gap).
        reach_cut = wait_for(lambda: ping(PEERS[net], count=1), 5)
        jumbo_cut = jumbo_ping(PEERS[net])
        sh("ip", "-n", "sw", "link", "set", f"sw-{nic}", "up")
        back = wait_for(lambda: active_of(backend, bond) == nic, 5)
        results.append({"nic": nic, "network": net, "mtu": networks[net]["mtu"], "moved_to_backup": moved,
                        "reach_while_cut": reach_cut, "jumbo_while_cut": jumbo_cut, "back_on_primary": back,
                        "reach_after": ping(PEERS[net], count=2)})
    emit(cuts=results)


def scenario_loop(backend, guarded, ctx=None):
    """
    Both cables cut: count packets on the crossings for 5 s, then over 2 s in which the host
    itself sent nothing into its bridges. A ring that forwards by itself (a storm) keeps counting
    in the quiet window; a bounded one is silent there.
    """
    minion, host, networks, the_plan = ctx or scenario_apply(backend)
    legs = the_plan["legs"]
    if not guarded:
        # Show what the guard prevents: take it away (only on this test's own veths and bridges).
        for leg in legs:
            if backend == "linux":
                for name in (leg["crossing"], leg["backup"]):
                    sh("tc", "qdisc", "del", "dev", name, "clsact")
            else:
                sh("ovs-ofctl", "del-flows", leg["bridge"], f"cookie={dualbond.OVS_GUARD_COOKIE}/-1")
    for leg in legs:
        sh("ip", "-n", "sw", "link", "set", f"sw-{leg['nic']}", "down")
    sent_before, ring_before = host_frames(the_plan), ring_packets(backend, the_plan)
    # A broadcast from the host (ARP for an address that is not there) is what circulates.
    sh("ping", "-n", "-c", "2", "-i", "0.2", "-W", "1", "10.10.0.99", check=False)
    time.sleep(0.5)
    before = ring_packets(backend, the_plan)
    time.sleep(5)
    after = ring_packets(backend, the_plan)
    sent = host_frames(the_plan) - sent_before
    quiet = quiet_ring(backend, the_plan)
    status = dualbond.status(host=host, networks=networks, minion_id=minion)
    for leg in legs:
        sh("ip", "-n", "sw", "link", "set", f"sw-{leg['nic']}", "up")
    recovered = wait_for(lambda: all(active_of(backend, leg["bond"]) == leg["nic"] for leg in legs), 10)
    unit_rc = None
    if not guarded and backend == "ovs":
        # What ovs-vswitchd's restart would trigger: the guard unit's ExecStart lines, as systemd runs them.
        unit = Path(dualbond.SYSTEMD_DIR, dualbond.GUARD_UNIT).read_text()
        unit_rc = [subprocess.run(line.split("=", 1)[1].split(), capture_output=True).returncode
                   for line in unit.splitlines() if line.startswith("ExecStart=")]
    healed = dualbond.loop_guard(the_plan=the_plan)
    emit(healed=healed, unit_rc=unit_rc, loop={c: after[c] - before[c] for c in after}, host_sent=sent, quiet=quiet,
         ring_total=sum(after.values()) - sum(ring_before.values()),
         guarded=guarded, status=status, recovered=recovered,
         reach_after={n: ping(a, count=2) for n, a in PEERS.items()})


def host_frames(the_plan):
    """Frames the host's own stack sent into its bridges (bridge and VLAN devices)."""
    names = [leg["bridge"] for leg in the_plan["legs"]] + [vlan["name"] for vlan in the_plan["vlans"]]
    return sum(counters(name)["tx_packets"] for name in names if Path("/sys/class/net", name).exists())


def ring_packets(backend, the_plan):
    if backend == "linux":
        return {c: counters(c)["tx_packets"] for leg in the_plan["legs"] for c in (leg["crossing"], leg["backup"])}
    return ovs_patch_packets(the_plan)


def quiet_ring(backend, the_plan, attempts=8):
    """Packets on the crossings over 2 s in which the host sent nothing (None: it never kept quiet)."""
    for _ in range(attempts):
        start = host_frames(the_plan)
        time.sleep(1.5)  # OVS updates patch-port statistics from its revalidators, up to ~1 s late
        before = ring_packets(backend, the_plan)
        time.sleep(2)
        after = ring_packets(backend, the_plan)
        if host_frames(the_plan) == start:
            return {c: after[c] - before[c] for c in after}
    return None


def ovs_patch_packets(the_plan):
    """
    Packets sent on the patch ports, from OpenFlow port statistics: OVSDB's ``statistics``
    column is refreshed only every 5 s, too late for a 2 s window.
    """
    out = {}
    for leg in the_plan["legs"]:
        for bridge, name in ((leg["bridge"], leg["backup"]), (leg["crossing_bridge"], leg["crossing"])):
            reply = sh("ovs-ofctl", "dump-ports", bridge, name).stdout
            out[name] = int(re.search(r"tx pkts=(\d+)", reply).group(1))
    return out


def scenario_reselect(backend, ctx):
    """An operator (or an old OVS) left a bond on its backup: reselect_primary puts it back."""
    minion, host, networks, the_plan = ctx
    leg = the_plan["legs"][0]
    if backend == "linux":
        sh("ip", "link", "set", leg["bond"], "type", "bond", "active_slave", leg["backup"])
    else:
        # OVS >= 2.14 enforces bond-primary by itself; without it (older OVS) the bond stays put.
        sh("ovs-vsctl", "remove", "port", leg["bond"], "other_config", "bond-primary")
        sh("ovs-appctl", "bond/set-active-member", leg["bond"], leg["backup"])
    moved = wait_for(lambda: active_of(backend, leg["bond"]) == leg["backup"], 5)
    first = dualbond.reselect_primary(the_plan=the_plan)
    back = wait_for(lambda: active_of(backend, leg["bond"]) == leg["nic"], 5)
    second = dualbond.reselect_primary(the_plan=the_plan)
    if backend == "ovs":
        dualbond.apply(host=host, networks=networks, minion_id=minion)  # bond-primary back
    emit(reselect={"moved_to_backup": moved, "first": first, "back_on_primary": back, "second": second})


def scenario_rollback(backend, ctx=None):
    minion, host, networks, the_plan = ctx or scenario_apply(backend)
    peer = PEERS["management"]
    good_files = {p: Path(p).read_text() for p in sorted(dualbond_transaction.own_files(CONFIG_DIRS))}
    broken = json.loads(json.dumps(host))
    # The operator's typo: 10.10.1.11 instead of 10.10.0.11 on the management bridge. The host
    # loses its management network and with it the probe (the peer, standing in for the master).
    broken["networks"]["management"]["address"] = "10.10.1.11"
    broken["dualbond"]["probe"] = peer
    broken["dualbond"]["rollback_seconds"] = 3
    t0 = time.monotonic()
    result = dualbond.apply(host=broken, networks=networks, minion_id=minion)
    took = time.monotonic() - t0
    live = dualbond_live.ip_links()
    mgmt = next(v["name"] for v in the_plan["vlans"] if v["network"] == "management")
    files_now = {p: Path(p).read_text() for p in sorted(dualbond_transaction.own_files(CONFIG_DIRS))}
    expected = the_plan["addresses"][mgmt]
    emit(rollback=result, seconds=round(took, 2), addresses=live[mgmt]["addresses"], expected_addresses=expected,
         files_restored=files_now == good_files, reach=ping(peer))


def scenario_remove(backend, ctx=None):
    minion, host, networks, the_plan = ctx or scenario_apply(backend)
    preview = dualbond.remove(host=host, networks=networks, minion_id=minion, test=True)
    removed = dualbond.remove(host=host, networks=networks, minion_id=minion)
    again = dualbond.remove(host=host, networks=networks, minion_id=minion)
    live = dualbond_live.ip_links()
    emit(remove_preview=preview, removed=removed, again=again,
         left=sorted(n for n in dualbond.managed_names(the_plan) if n in live),
         nics={leg["nic"]: live.get(leg["nic"], {}).get("master") for leg in the_plan["legs"]},
         files=sorted(os.listdir(CONFIG_DIRS["networkd"])))


def scenario_persist(backend):
    """
    Reboot proof without a reboot: write only the persistent files (nothing live), start a real
    systemd-networkd on them, run the guard unit's ExecStart lines the way systemd would, and
    check the topology it built.
    """
    minion, host, networks = inventory(backend)
    give_nics_their_macs(host)
    for nic in host["dualbond"]["nics"]:
        sh("ip", "link", "set", nic, "down")
    the_plan = dualbond.build_plan(host, networks, minion)
    files = dualbond.persistent_files(the_plan)
    for path, text in files.items():
        Path(path).write_text(text)
    # networkd configures a link only once udev has initialised it, as at boot.
    sh("/lib/systemd/systemd-udevd", "--daemon")
    sh("udevadm", "trigger")
    sh("udevadm", "settle", "-t", "20", check=False)
    os.makedirs("/run/systemd/netif", exist_ok=True)
    sh("chown", "-R", "systemd-network:systemd-network", "/run/systemd/netif")
    networkd = subprocess.Popen(["/lib/systemd/systemd-networkd"], stdout=subprocess.DEVNULL, stderr=open("/run/networkd.log", "w"))
    legs = the_plan["legs"]
    settled = wait_for(lambda: all(active_slave(leg["bond"]) == leg["nic"] for leg in legs)
                       and all(dualbond_live.ip_links().get(v["name"], {}).get("addresses") for v in the_plan["vlans"]), 60)
    unit = files.get(os.path.join(dualbond.SYSTEMD_DIR, dualbond.GUARD_UNIT), "")
    unit_rc = [subprocess.run(line.split("=", 1)[1].split(), capture_output=True).returncode
               for line in unit.splitlines() if line.startswith("ExecStart=")]
    seen = dualbond_live.ip_links()
    guard = dualbond_live.guard_seen(the_plan, seen)
    todo = [c["detail"] for c in dualbond.diff_linux(the_plan, seen, guard, dualbond_live.fdb_seen(the_plan, seen))]
    reach = {net: ping(addr) for net, addr in PEERS.items()}
    networkd.terminate()
    emit(persist_settled=settled, unit_rc=unit_rc, remaining=todo, reach=reach,
         networkd_log=Path("/run/networkd.log").read_text()[-3000:])


def enter_netns(name):
    """Move the calling thread (only) into network namespace ``name``."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(f"/run/netns/{name}", os.O_RDONLY)
    try:
        if libc.setns(fd, 0x40000000) != 0:  # CLONE_NEWNET
            raise OSError(ctypes.get_errno(), f"setns {name}")
    finally:
        os.close(fd)


# UDP without checksum (valid for IPv4): OVS's userspace datapath in UML forwards veth frames
# with the checksum still left to offload, and the receiver would drop them.
SO_NO_CHECK = 11


class EchoProbe:
    """
    UDP echo between the peer host (a thread inside netns "peer") and the host's address:
    every ``interval`` s the peer sends (seq, send time); the host echoes. The record of
    echoed send times is the traffic timeline the failover is read from.
    """

    def __init__(self, address, interval=0.002, port=9999):
        self.address, self.interval, self.port = address, interval, port
        self.ok = []  # send times (monotonic) of packets whose echo came back
        self.stop = threading.Event()
        self.ready = threading.Event()
        self.server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.server.setsockopt(socket.SOL_SOCKET, SO_NO_CHECK, 1)
        self.server.bind((address, port))
        self.server.settimeout(0.2)
        threading.Thread(target=self._echo, daemon=True).start()
        threading.Thread(target=self._peer, daemon=True).start()
        self.ready.wait(10)

    def _echo(self):
        while not self.stop.is_set():
            try:
                data, src = self.server.recvfrom(64)
            except OSError:
                continue
            self.server.sendto(data, src)

    def _peer(self):
        enter_netns("peer")
        import struct

        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, SO_NO_CHECK, 1)
        sock.setblocking(False)
        self.ready.set()
        seq = 0
        next_send = time.monotonic()
        while not self.stop.is_set():
            now = time.monotonic()
            if now >= next_send:
                sock.sendto(struct.pack("!Id", seq, now), (self.address, self.port))
                seq += 1
                next_send += self.interval
            try:
                while True:
                    data = sock.recv(64)
                    self.ok.append(struct.unpack("!Id", data)[1])
            except BlockingIOError:
                pass
            time.sleep(max(0.0, next_send - time.monotonic()))

    def outage(self, since):
        """Longest gap between consecutive echoed send times after ``since`` (s)."""
        times = sorted(t for t in self.ok if t >= since)
        gaps = [b - a for a, b in zip(times, times[1:])]
        return max(gaps) if gaps else None

    def close(self):
        self.stop.set()


class SwitchPorts:
    """Netlink to the switch namespace, opened once: a cable cut is one syscall, no fork."""

    def __init__(self):
        from pyroute2 import IPRoute

        self.ipr = IPRoute(netns="sw")
        self.index = {link.get("ifname"): link["index"] for link in self.ipr.get_links()}

    def set(self, port, state):
        self.ipr.link("set", index=self.index[port], state=state)


def ovs_log_switch_time(bond, member, after_wall):
    """Wall-clock time of vswitchd's 'active member is now MEMBER' line for ``bond`` after ``after_wall``."""
    import datetime

    best = None
    for line in Path("/var/log/openvswitch/ovs-vswitchd.log").read_text().splitlines():
        if f"bond {bond}: active member is now {member}" not in line and f"bond {bond}: active interface is now {member}" not in line:
            continue
        stamp = datetime.datetime.strptime(line[:23], "%Y-%m-%dT%H:%M:%S.%f").replace(tzinfo=datetime.timezone.utc).timestamp()
        if stamp >= after_wall - 0.002 and (best is None or stamp < best):
            best = stamp
    return best


def kernel_switch_ms(nic, new_active):
    """
    From the kernel log: switch port of ``nic`` disabled -> bond made ``new_active`` its active
    member (the bond's own reaction, without the traffic path), in ms; None if not logged.
    """
    import re

    lines = sh("dmesg").stdout.splitlines()
    stamps = [(float(m.group(1)), line) for line in lines if (m := re.match(r"\[\s*([\d.]+)\]", line))]
    down = [t for t, line in stamps if f"(sw-{nic}) entered disabled state" in line]
    if not down:
        return None
    t_down = down[-1]
    made = [t for t, line in stamps if t >= t_down and f"(slave {new_active}): making interface the new active one" in line]
    return round((made[0] - t_down) * 1000, 1) if made else None


def scenario_bench(backend, cuts="10"):
    minion, host, networks, the_plan = scenario_apply(backend)
    by_nic = {leg["nic"]: leg for leg in the_plan["legs"]}
    targets = {"eth2": the_plan["addresses"]["br-eth2.10"][0].split("/")[0],
               "eth3": the_plan["addresses"]["br-eth3.200"][0].split("/")[0]}
    probes = {nic: EchoProbe(addr) for nic, addr in targets.items()}
    switch = SwitchPorts()
    time.sleep(1.0)
    samples = []
    for i in range(int(cuts)):
        nic = ("eth2", "eth3")[i % 2]
        leg = by_nic[nic]
        probe = probes[nic]
        time.sleep(0.5)
        t_cut = time.monotonic()
        switch.set(f"sw-{nic}", "down")
        time.sleep(1.0)  # traffic must flow again; the outage is read from the packets below
        outage = probe.outage(t_cut - 0.2)
        bond_ms = kernel_switch_ms(nic, leg["backup"]) if backend == "linux" else None
        wall_mend, t_mend = time.time(), time.monotonic()
        switch.set(f"sw-{nic}", "up")
        if backend == "linux":
            while active_slave(leg["bond"]) != nic and time.monotonic() - t_mend < 5:
                time.sleep(0.001)
            recovery = time.monotonic() - t_mend
        else:
            time.sleep(1.5)
            switched = ovs_log_switch_time(leg["bond"], nic, wall_mend)
            recovery = None if switched is None else switched - wall_mend
        time.sleep(0.5)
        samples.append({"cut": i + 1, "nic": nic,
                        "failover_ms": None if outage is None else round(outage * 1000, 1),
                        "bond_switch_ms": bond_ms,
                        "recovery_ms": None if recovery is None else round(recovery * 1000, 1),
                        "on_primary": active_of(backend, leg["bond"]) == nic})
        emit(sample=samples[-1])
    for probe in probes.values():
        probe.close()
    emit(bench=samples, backend=backend, miimon=the_plan["miimon"], interval_ms=2)


def scenario_ifupdown(backend, ifup):
    """The ifupdown file under a real ``ifup -a`` (ifupdown unpacked from its Debian package)."""
    minion, host, networks = inventory(backend, style="ifupdown")
    give_nics_their_macs(host)
    the_plan = dualbond.build_plan(host, networks, minion)
    files = dualbond.persistent_files(the_plan)
    (path, text), = files.items()
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Path(path).write_text(text)
    os.makedirs("/run/network", exist_ok=True)
    for hook in ("if-pre-up.d", "if-up.d", "if-down.d", "if-post-down.d"):
        os.makedirs(f"/etc/network/{hook}", exist_ok=True)  # the package's hook dirs, empty
    proc = subprocess.run([ifup, "-a", "-v", "-i", path], capture_output=True, text=True)
    legs = the_plan["legs"]
    settled = wait_for(lambda: all(active_slave(leg["bond"]) == leg["nic"] for leg in legs), 10)
    seen = dualbond_live.ip_links()
    remaining = [c["detail"] for c in dualbond.diff_linux(the_plan, seen, dualbond_live.guard_seen(the_plan, seen),
                                                          dualbond_live.fdb_seen(the_plan, seen))]
    emit(ifup_rc=proc.returncode, ifup_log=(proc.stdout + proc.stderr)[-3000:], ifup_settled=settled,
         remaining=remaining, reach={net: ping(addr) for net, addr in PEERS.items()})


def main():
    scenario, backend, *args = sys.argv[1:]
    if scenario == "apply":
        scenario_apply(backend, *args)
    elif scenario == "cut":
        scenario_cut(backend)
    elif scenario == "loop":
        scenario_loop(backend, guarded=args == ["guarded"])
    elif scenario == "rollback":
        scenario_rollback(backend)
    elif scenario == "remove":
        scenario_remove(backend)
    elif scenario == "all":
        ctx = scenario_apply(backend)
        scenario_cut(backend, ctx)
        scenario_reselect(backend, ctx)
        scenario_loop(backend, True, ctx)
        scenario_rollback(backend, ctx)
        scenario_remove(backend, ctx)
    elif scenario == "bench":
        scenario_bench(backend, *args)
    elif scenario == "ifupdown":
        scenario_ifupdown(backend, *args)
    elif scenario == "persist":
        scenario_persist(backend)
    else:
        raise SystemExit(f"unknown scenario {scenario}")


if __name__ == "__main__":
    main()
