"""
The dual bond in the virtual lab (docs/dualbond.md): the converged example lab's servers (ubuntu1 and
ubuntu2 on the Linux backend, ubuntu3 on Open vSwitch), their real kernels and the lab switch.

Cables are cut at the guest's switch port (`lab.cut`), so the NIC really loses carrier. Every
test leaves the lab as it found it: cables mended, addresses and files restored, guests running.
The figures (failover and recovery times from packet timestamps) come from
benchmarks/lab_failover.py; here only outcomes are asserted.
"""

import json
import re
import shlex
import time

import pytest

from lab.core import load_inventory
from lab_testlib import wait_until

BACKENDS = {"ubuntu1": "linux", "ubuntu3": "ovs"}
PEER = "ubuntu2"  # a Linux-backend server on the far side of the lab switch
BOOTSTRAP_MGMT = "10.10.0.5"


def inventory():
    return load_inventory()[1]


def address(host, network):
    return inventory()["hosts"][host]["networks"][network]["address"]


def wait_for(predicate, timeout, what):
    """Poll ``predicate`` until it is true; return the seconds it took, fail naming ``what``."""
    started = time.monotonic()
    wait_until(what, predicate, timeout, interval=0.2)
    return time.monotonic() - started


def active_member(lab, host, bond):
    """The bond's active member as the guest's kernel or vswitchd says (no Salt in the way)."""
    if BACKENDS.get(host, "linux") == "linux":
        command = f"cat /sys/class/net/{bond}/bonding/active_slave"
    else:
        command = f"ovs-appctl bond/show {bond} | sed -n 's/^active member mac.*(\\(.*\\))$/\\1/p'"
    result = lab.exec(host, command)
    return result.output.strip() if result.ok else ""


def tx_packets(lab, host, nics):
    out = lab.exec(host, " ; ".join(f"cat /sys/class/net/{nic}/statistics/tx_packets" for nic in nics)).check()
    return dict(zip(nics, map(int, out.output.split())))


def ping(lab, host, target, count=5, interval=0.1):
    return lab.exec(host, f"ping -n -q -c {count} -i {interval} -W 2 {target}").ok


def status(lab, host):
    return lab.salt_json(host, "dualbond.status")[host]


@pytest.mark.parametrize("host", ["ubuntu1", "ubuntu2", "ubuntu3"])
def test_after_converge_both_bonds_are_up_on_their_own_nic(converged_lab, host):
    state = status(converged_lab, host)
    assert state["backend"] == inventory()["hosts"][host]["dualbond"]["backend"]
    for bond, info in state["bonds"].items():
        assert info["exists"], (host, bond)
        assert info["on_primary"], (host, bond, info["active"])
        assert all(member["carrier"] for member in info["members"].values()), (host, bond, info["members"])
    for network in ("management", "tunnel", "external"):
        addresses = [a for i in state["interfaces"].values() if i for a in i.get("addresses") or []]
        assert any(a.startswith(address(host, network) + "/") for a in addresses), (host, network, addresses)


@pytest.mark.parametrize("host", ["ubuntu1", "ubuntu3"])
def test_traffic_between_lab_hosts_flows_on_both_ports(converged_lab, host):
    lab = converged_lab
    before = tx_packets(lab, host, ["eth2", "eth3"])
    # Management and external ride on eth2's bridge, the tunnel network on eth3's.
    assert ping(lab, host, address(PEER, "management"), count=20, interval=0.02)
    assert ping(lab, host, address(PEER, "tunnel"), count=20, interval=0.02)
    assert ping(lab, host, address(PEER, "external"), count=5)
    after = tx_packets(lab, host, ["eth2", "eth3"])
    assert after["eth2"] - before["eth2"] >= 25, (before, after)
    assert after["eth3"] - before["eth3"] >= 20, (before, after)


@pytest.mark.parametrize("host,nic,network", [
    ("ubuntu1", "eth2", "management"),
    ("ubuntu1", "eth3", "tunnel"),
    ("ubuntu3", "eth2", "management"),
    ("ubuntu3", "eth3", "tunnel"),
])
def test_a_cut_cable_moves_traffic_to_the_other_port_and_mending_it_restores_the_primary(converged_lab, host, nic, network):
    lab = converged_lab
    bond, other = f"bond-{nic}", ("eth3" if nic == "eth2" else "eth2")
    peer = address(PEER, network)
    assert active_member(lab, host, bond) == nic
    lab.cut(host, nic)
    try:
        wait_for(lambda: active_member(lab, host, bond) not in ("", nic), 20, f"{host} {bond} leaves {nic}")
        before = tx_packets(lab, host, [nic, other])
        # The bridge addressed as the cut NIC still reaches the peer, through the other port.
        assert ping(lab, host, peer, count=20, interval=0.02), f"{host} lost {network} with {nic} cut"
        after = tx_packets(lab, host, [nic, other])
        assert after[other] - before[other] >= 20, (before, after)
        assert after[nic] == before[nic], (before, after)
    finally:
        lab.mend(host, nic)
    took = wait_for(lambda: active_member(lab, host, bond) == nic, 30, f"{host} {bond} back on {nic}")
    print(f"{host} {bond}: back on {nic} {took:.2f} s after the mend (polled over the lab's control channel)")
    other_bond = f"bond-{other}"
    assert active_member(lab, host, other_bond) == other
    assert ping(lab, host, peer)


CROSSINGS = {"vbk-eth2": "br-eth2", "vx-eth2": "br-eth3", "vbk-eth3": "br-eth3", "vx-eth3": "br-eth2"}
# Crossing packets one frame from the host may cause with both NICs down: each copy crosses
# once (2 on Linux, 4 on OVS, where the guard's drop counts as sent on the patch port), twice
# that for OVS's own learning packets (tests/kernel measure it per frame and unguarded).
RING_PACKETS_PER_FRAME = 8


def loop_counters(lab, host):
    """Packets sent on the four crossing ends (veths on Linux, patch ports on OVS from OpenFlow
    port statistics: OVSDB's statistics column is refreshed only every 5 s)."""
    if BACKENDS[host] == "linux":
        command = " ; ".join(f"cat /sys/class/net/{n}/statistics/tx_packets" for n in CROSSINGS)
        counts = lab.exec(host, command).check().output.split()
    else:
        command = " ; ".join(f"ovs-ofctl dump-ports {bridge} {n}" for n, bridge in CROSSINGS.items())
        counts = re.findall(r"tx pkts=(\d+)", lab.exec(host, command).check().output)
    return dict(zip(CROSSINGS, map(int, counts)))


def host_frames(lab, host):
    """Frames the host's own stack sent into its bridges (bridge and VLAN devices, all br-*)."""
    out = lab.exec(host, "cat /sys/class/net/br-*/statistics/tx_packets").check().output
    return sum(map(int, out.split()))


@pytest.mark.parametrize("host", ["ubuntu1", "ubuntu3"])
def test_cutting_both_cables_forms_no_loop(converged_lab, host):
    lab = converged_lab
    names = loop_counters(lab, host)
    assert set(names) == set(CROSSINGS) and len(names) == 4, names
    lab.cut(host, "eth2")
    lab.cut(host, "eth3")
    try:
        sent_before, ring_before = host_frames(lab, host), loop_counters(lab, host)
        # A broadcast from the host (ARP for an address nobody has) is what a ring would carry.
        lab.exec(host, "ping -n -c 2 -i 0.2 -W 1 10.10.0.99")
        time.sleep(0.5)
        before = loop_counters(lab, host)
        time.sleep(5)
        after = loop_counters(lab, host)
        sent = host_frames(lab, host) - sent_before
    finally:
        lab.mend(host, "eth2")
        lab.mend(host, "eth3")
    carried = {n: after[n] - before[n] for n in after}
    total = sum(after.values()) - sum(ring_before.values())
    print(f"{host}: {sent} frames from the host, {total} packets on the crossings in all, "
          f"in 5 s with both cables cut: {carried}")
    # A ring that forwards by itself carries ~1,000,000 in 5 s (tests/kernel measure it, and
    # that the ring is silent once the host stops sending).
    assert total <= RING_PACKETS_PER_FRAME * max(sent, 1), (sent, total, carried)
    for nic in ("eth2", "eth3"):
        wait_for(lambda: active_member(lab, host, f"bond-{nic}") == nic, 30, f"{host} bond-{nic} back on {nic}")
    assert ping(lab, host, address(PEER, "management"))
    assert ping(lab, host, address(PEER, "tunnel"))


def management_addresses(lab, host):
    out = lab.exec(host, "ip -j addr show").check().output
    mine = address(host, "management")
    return sorted(f"{a['local']}/{a['prefixlen']}" for link in json.loads(out) for a in link.get("addr_info", [])
                  if a["family"] == "inet" and (a["local"] == mine or a["local"].startswith("10.10.")))


NETWORKD_FILES_DIGEST = "cat /etc/systemd/network/*.netdev /etc/systemd/network/*.network 2>/dev/null | sha256sum"


def broken_management_change(host, rollback_seconds):
    """(host entry, networks) of the inventory with the operator's typo 10.10.1.x for 10.10.0.x
    on the management bridge. In the lab every minion talks to its master over the out-of-band
    control network, which this change cannot break; the probe is therefore the bootstrap host
    on the management network, which it does break."""
    inv = inventory()
    broken = json.loads(json.dumps(inv["hosts"][host]))
    broken["networks"]["management"]["address"] = address(host, "management").replace("10.10.0.", "10.10.1.")
    broken["dualbond"]["probe"] = BOOTSTRAP_MGMT
    broken["dualbond"]["rollback_seconds"] = rollback_seconds
    return broken, inv["networks"]


def test_a_broken_management_address_is_rolled_back_by_itself(converged_lab):
    lab = converged_lab
    host = "ubuntu2"
    files = NETWORKD_FILES_DIGEST
    files_before = lab.exec(host, files).check().output
    addresses_before = management_addresses(lab, host)
    assert addresses_before == [address(host, "management") + "/24"]
    broken, networks = broken_management_change(host, rollback_seconds=5)
    started = time.monotonic()
    result = lab.salt_json(host, "dualbond.apply", f"host={json.dumps(broken)}",
                           f"networks={json.dumps(networks)}", f"minion_id={host}")[host]
    took = time.monotonic() - started
    print(f"broken change applied, probe lost and rolled back in {took:.1f} s (salt round trip included)")
    assert isinstance(result, dict), result
    assert result["rolled_back"] is True, result
    assert "did not answer" in result["comment"], result
    assert any("10.10.1.12" in change for change in result["attempted"]), result
    # The detached timer was armed for the change and is disarmed again with nothing pending.
    assert result["safety_net"], result
    assert not lab.exec(host, "systemctl is-active brine-dualbond-rollback.timer").ok
    assert not lab.exec(host, "test -e /var/lib/brine/dualbond/pending.json").ok
    # Live and on disk, the host is as before; it reaches the probe and answers its master.
    assert management_addresses(lab, host) == addresses_before
    assert lab.exec(host, files).check().output == files_before
    assert ping(lab, host, BOOTSTRAP_MGMT)
    assert lab.salt_json(host, "test.ping") == {host: True}
    assert lab.salt_json(host, "dualbond.apply", "test=True")[host]["changes"] == []


def test_a_change_whose_minion_dies_is_rolled_back_by_the_safety_net(converged_lab):
    """The `netplan try` case: the process that made the change is gone before its probe
    could fail, so only the detached timer can undo it."""
    lab = converged_lab
    host = "ubuntu2"
    files = NETWORKD_FILES_DIGEST
    files_before = lab.exec(host, files).check().output
    addresses_before = management_addresses(lab, host)
    broken, networks = broken_management_change(host, rollback_seconds=20)
    call = shlex.join(["salt-call", "--local", "--out=json", "dualbond.apply", f"host={json.dumps(broken)}",
                       f"networks={json.dumps(networks)}", f"minion_id={host}"])
    lab.exec(host, f"setsid {call} > /tmp/brine-doomed-apply.log 2>&1 < /dev/null &").check()
    try:
        wait_for(lambda: lab.exec(host, "systemctl is-active brine-dualbond-rollback.timer").ok, 180,
                 "the change applied and the rollback timer armed")
        assert "10.10.1.12/24" in management_addresses(lab, host)
    finally:
        # The minion dies mid-change (OOM killer, a restart, a crash): no in-process rollback.
        lab.exec(host, "pkill -KILL -f 'salt-call --local --out=json dualbond.apply'")
    took = wait_for(lambda: management_addresses(lab, host) == addresses_before, 120,
                    "the safety net restored the management address")
    print(f"safety net: management address restored {took:.1f} s after the applying process was killed")
    wait_for(lambda: not lab.exec(host, "test -e /var/lib/brine/dualbond/pending.json").ok, 60, "nothing left pending")
    assert lab.exec(host, files).check().output == files_before
    journal = lab.exec(host, "journalctl -u brine-dualbond-rollback.service --no-pager").check().output
    assert "rolled back an unconfirmed change" in journal, journal
    assert ping(lab, host, BOOTSTRAP_MGMT)
    assert lab.salt_json(host, "dualbond.apply", "test=True")[host]["changes"] == []


@pytest.mark.parametrize("host", ["ubuntu1", "ubuntu3"])
def test_the_topology_survives_a_power_cycle(converged_lab, host):
    lab = converged_lab
    lab.kill(host)
    lab.start(host)
    # No Salt run since the boot: what is there came from the persistent configuration.
    for nic in ("eth2", "eth3"):
        wait_for(lambda: active_member(lab, host, f"bond-{nic}") == nic, 120, f"{host} bond-{nic} on {nic} after boot")
    wait_for(lambda: ping(lab, host, address(PEER, "management"), count=1), 120, f"{host} reaches {PEER} after boot")
    assert ping(lab, host, address(PEER, "tunnel"))
    assert ping(lab, PEER, address(host, "external"))
    assert lab.salt_json(host, "dualbond.apply", "test=True")[host]["changes"] == []
    # the baseline's /etc/hosts survives the boot: the services' VIP names still resolve
    assert lab.exec(host, "getent hosts internal.lab.home.arpa").check().output.split()[0] == "10.10.0.100"


def test_restarting_ovs_vswitchd_brings_the_loop_guard_back(converged_lab):
    """OVSDB keeps bridges and ports but not OpenFlow rules: the guard unit puts the loop
    guard's flows back when ovs-vswitchd starts (a package upgrade, an operator's restart)."""
    lab = converged_lab
    host = "ubuntu3"
    guard_flows = ("ovs-ofctl --no-stats dump-flows br-eth2 cookie=0xb41e0001/-1; "
                   "ovs-ofctl --no-stats dump-flows br-eth3 cookie=0xb41e0001/-1")
    assert lab.exec(host, guard_flows).check().output.count("cookie=0xb41e0001") == 8
    lab.exec(host, "systemctl restart ovs-vswitchd").check()
    wait_for(lambda: lab.exec(host, guard_flows).output.count("cookie=0xb41e0001") == 8, 60,
             f"{host}: the loop guard's 8 flows back after the restart")
    for nic in ("eth2", "eth3"):
        wait_for(lambda: active_member(lab, host, f"bond-{nic}") == nic, 30, f"{host} bond-{nic} on {nic} after the restart")
    assert lab.exec(host, "systemctl is-active brine-dualbond-guard.service").output.strip() == "active"
    assert lab.salt_json(host, "dualbond.apply", "test=True")[host]["changes"] == []
    assert ping(lab, host, address(PEER, "management"))
