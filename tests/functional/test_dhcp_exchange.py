"""
A real DHCP exchange: Salt renders and checks dhcpd.conf from the example lab, the real ISC
dhcpd serves it on a bridge inside a network namespace, and the real ISC dhclient (with
Debian's dhclient-script) runs in guest namespaces whose NICs carry the MACs. The reserved
guest gets exactly its address and applies MTU 9000 from option 26; the unknown guest shows up
in ``dhcp_reservations.discover`` of dhcpd's real log. Nothing leaves the namespaces.
"""

import ipaddress
import os
from datetime import datetime

import pytest

from brine_testlib import wait_for
from dhcp_testbed import Testbed, acquire_lease

RESERVED_MAC = "52:54:00:10:01:02"  # ubuntu1's management NIC in the example lab
UNKNOWN_MAC = "52:54:00:aa:bb:01"


def test_reserved_guest_gets_its_address_and_mtu_and_the_unknown_one_is_discovered(salt_call, inventory, tmp_path):
    conf, leases, log = tmp_path / "dhcpd.conf", tmp_path / "dhcpd.leases", tmp_path / "dhcpd.log"
    inventory["services"]["dhcp"].update(interface="mgmt0", log=str(log))
    pillar_root = salt_call.pillar_root_with(inventory)
    out, _ = salt_call("state.single", "dhcp_reservations.managed", f"name={conf}",
                       minion_id="bootstrap", pillar_root=pillar_root)
    (applied,) = out.values()
    assert applied["result"] is True, applied["comment"]
    assert "interface-mtu 9000;" in conf.read_text()
    leases.touch()
    log.touch()

    with Testbed(tmp_path, address="10.10.0.5", prefix=24, bridge="mgmt0") as bed:
        reserved = bed.add_guest(RESERVED_MAC, nic="eth2")
        stranger = bed.add_guest(UNKNOWN_MAC, nic="eth2")
        dhcpd = bed.start(
            bed.server,
            ["dhcpd", "-4", "-f", "-d", "-cf", str(conf), "-lf", str(leases), "-pf", str(tmp_path / "dhcpd.pid"), "mgmt0"],
            log_path=str(log), tag="dhcpd",
        )
        assert wait_for(lambda: "Sending on" in log.read_text() or dhcpd.poll() is not None), log.read_text()
        assert dhcpd.poll() is None, log.read_text()

        mine = acquire_lease(reserved, "eth2", str(tmp_path), bed)
        theirs = acquire_lease(stranger, "eth2", str(tmp_path), bed)

    assert (mine["address"], mine["prefix"], mine["mtu"]) == ("10.10.0.11", 24, 9000), mine
    assert "option interface-mtu 9000;" in mine["lease"]
    assert "option routers 10.10.0.1;" in mine["lease"] and 'option host-name "ubuntu1";' in mine["lease"]
    pool = ipaddress.ip_address("10.10.0.200"), ipaddress.ip_address("10.10.0.250")
    assert pool[0] <= ipaddress.ip_address(theirs["address"]) <= pool[1], theirs
    assert f"DHCPACK on 10.10.0.11 to {RESERVED_MAC}" in log.read_text()

    # As the events reactor calls it: no arguments, the server and its log come from the inventory.
    found, _ = salt_call("dhcp_reservations.discover", minion_id="bootstrap", pillar_root=pillar_root)
    assert [entry["mac"] for entry in found] == [UNKNOWN_MAC], found
    (entry,) = found
    assert entry["ip"] == theirs["address"] and entry["interface"] == "mgmt0"
    assert entry["count"] >= 4  # DISCOVER, OFFER, REQUEST, ACK
    first, last = datetime.fromisoformat(entry["first_seen"]), datetime.fromisoformat(entry["last_seen"])
    assert first <= last and abs((datetime.now(first.tzinfo) - last).total_seconds()) < 600
    assert not any(name.startswith(f"{bed.tag}-") for name in os.listdir("/run/netns")), "namespaces left behind"


def _dnsmasq(bed, conf, tmp_path):
    return bed.start(bed.server, ["dnsmasq", "-d", "-C", str(conf)], tag="dnsmasq")


def _kea(bed, conf, tmp_path):
    # Kea keeps its lock and pid files under /run/kea: the server namespace's /run is private.
    start = f"mkdir -p /run/kea && exec kea-dhcp4 -c {conf}"
    return bed.start(bed.server, ["sh", "-c", start], log_path=str(tmp_path / "kea-stdout.log"), tag="kea-dhcp4")


@pytest.mark.parametrize("server, start", [("dnsmasq", _dnsmasq), ("kea", _kea)])
def test_the_other_renderers_serve_the_same_reservation(salt_call, inventory, tmp_path, server, start):
    """dnsmasq and Kea, from the pure renderers (with the test's own lease and log files)."""
    from brinelib.dhcp import plan, render

    log, leases = tmp_path / f"{server}.log", tmp_path / f"{server}.leases"
    p = plan.plan(inventory, server=server, interface="mgmt0")
    text = render.RENDERERS[server](p, lease_file=str(leases), log_file=str(log))
    conf = tmp_path / f"{server}.conf"
    conf.write_text(text)
    with Testbed(tmp_path, address="10.10.0.5", prefix=24, bridge="mgmt0") as bed:
        reserved = bed.add_guest(RESERVED_MAC, nic="eth2")
        stranger = bed.add_guest(UNKNOWN_MAC, nic="eth2")
        daemon = start(bed, conf, tmp_path)
        assert wait_for(lambda: daemon.poll() is not None or (log.exists() and log.stat().st_size > 0), timeout=30)
        assert daemon.poll() is None
        mine = acquire_lease(reserved, "eth2", str(tmp_path), bed)
        theirs = acquire_lease(stranger, "eth2", str(tmp_path), bed)
        assert wait_for(lambda: UNKNOWN_MAC in log.read_text(), timeout=10)
    assert (mine["address"], mine["prefix"], mine["mtu"]) == ("10.10.0.11", 24, 9000), mine

    found, _ = salt_call("dhcp_reservations.discover", f"log_path={log}", f"server={server}", minion_id="bootstrap")
    assert [entry["mac"] for entry in found] == [UNKNOWN_MAC], (found, log.read_text()[-2000:])
    assert found[0]["ip"] == theirs["address"]
