"""
The dual bond on real kernels (UML guests, see uml_guest.py): both backends applied, cables cut
and mended, both cables cut (loop), a broken change rolled back, removal, and the persistent
files brought up by a real systemd-networkd.
"""

import pytest
from kernel_scenarios import run_scenario

# Crossing packets one frame from the host may cause with both NICs down: flooded out both
# crossing ends of its bridge, each copy arrives in the other bridge marked and is dropped at the
# next crossing (measured: 4 per frame on OVS, where a drop still counts as sent on the patch
# port; 2 on Linux). Twice that leaves room for frames OVS sends by itself on a failover (bond
# learning packets), which the host's counters do not see. Unguarded, OVS sends each frame round
# its ring of patch ports up to 64 times (its translation depth) and a Linux ring forwards by itself.
RING_PACKETS_PER_FRAME = 8


@pytest.fixture(scope="module", params=["linux", "ovs"])
def lifecycle(request):
    """apply -> cut each cable -> cut both -> broken change -> remove, in one guest per backend."""
    return request.param, run_scenario("all", request.param)


def test_apply_brings_both_bonds_up_on_their_own_nic_and_traffic_uses_both_ports(lifecycle):
    backend, run = lifecycle
    applied = run.result("settled")
    assert applied["settled"], "a bond did not settle on its own NIC"
    assert applied["reach"] == {"management": True, "tunnel": True, "external": True}
    # management/external ride on eth2's bridge, tunnel on eth3's: both ports carried traffic
    assert applied["tx"]["eth2"] > 0 and applied["tx"]["eth3"] > 0
    assert applied["rx"]["eth2"] > 0 and applied["rx"]["eth3"] > 0
    for bond, state in applied["status"]["bonds"].items():
        assert state["on_primary"], (bond, state)
    bridges = applied["status"]["bridges"]
    assert bridges["br-eth2"]["mtu"] == 9000 and bridges["br-eth2"]["mac"] == applied["plan"]["legs"][0]["mac"]
    assert "vx-eth3" in bridges["br-eth2"]["ports"] and "bond-eth2" in bridges["br-eth2"]["ports"]
    interfaces = applied["status"]["interfaces"]
    assert interfaces["br-eth2.10"]["addresses"] == applied["plan"]["addresses"]["br-eth2.10"]
    assert interfaces["br-eth2.100"]["mtu"] == 1500


def test_jumbo_frames_cross_the_bonds_on_the_9000_byte_networks_only(lifecycle):
    backend, run = lifecycle
    applied = run.result("jumbo")
    assert applied["mtus"] == {"management": 9000, "tunnel": 9000, "external": 1500}
    # a 9000-byte packet, not fragmented, goes to the peer and back on the VLANs with MTU 9000
    # and is refused on the one with 1500, where a full 1500-byte packet still passes
    assert applied["jumbo"] == {"management": True, "tunnel": True, "external": False}
    assert applied["full_size"] == {"management": True, "tunnel": True, "external": True}


def test_grain_reports_the_nics_bond_membership_and_permanent_mac(lifecycle):
    backend, run = lifecycle
    applied = run.result("grain")
    for leg in applied["plan"]["legs"]:
        nic = applied["grain"][leg["nic"]]
        assert nic["mac"] == leg["mac"] and nic["carrier"] is True
        if backend == "linux":
            assert nic["bond"] == leg["bond"]
        else:
            assert nic["master"] == "ovs-system" or nic["master"] is None  # OVS has no kernel bond


def test_test_mode_listed_exactly_what_the_apply_then_did(lifecycle):
    backend, run = lifecycle
    preview = run.result("preview")["preview"]
    first = run.result("first")["first"]
    assert first["rolled_back"] is False
    assert preview == first["changes"] and preview


def test_second_apply_changes_nothing(lifecycle):
    backend, run = lifecycle
    assert run.result("second")["second"] == {"changes": [], "comment": "already as planned", "rolled_back": False}


def test_cutting_one_cable_keeps_traffic_flowing_and_mending_it_restores_the_primary(lifecycle):
    backend, run = lifecycle
    cuts = run.result("cuts")["cuts"]
    assert [c["nic"] for c in cuts] == ["eth2", "eth3"]
    for cut in cuts:
        assert cut == {**cut, "moved_to_backup": True, "reach_while_cut": True, "back_on_primary": True, "reach_after": True}
        # through the crossing into the other bridge, 9000-byte packets still pass
        assert cut["mtu"] == 9000 and cut["jumbo_while_cut"] is True, cut


def test_reselect_primary_puts_a_bond_back_on_its_nic_and_is_a_no_op_after(lifecycle):
    backend, run = lifecycle
    result = run.result("reselect")["reselect"]
    assert result["moved_to_backup"], "could not move the bond to its backup for the test"
    assert result["first"] == ["bond-eth2: active member is now eth2"]
    assert result["back_on_primary"] and result["second"] == []


def test_cutting_both_cables_forms_no_loop(lifecycle):
    backend, run = lifecycle
    result = run.result("loop")
    print_loop_figures(f"{backend}, both cables cut", result)
    # With both NICs down, once the host stops sending, nothing moves on the crossings: the ring
    # does not forward by itself. Without the guard the Linux ring does (the test below).
    assert result["quiet"] is not None, "the host never stopped sending for 3.5 s"
    assert sum(result["quiet"].values()) == 0, result["quiet"]
    # While it sends, each of its frames crosses at most once.
    assert result["ring_total"] <= RING_PACKETS_PER_FRAME * max(result["host_sent"], 1), result
    assert result["recovered"] and all(result["reach_after"].values())
    assert result["healed"] == [], "loop_guard found its guard missing"


def test_a_broken_change_is_rolled_back_by_itself(lifecycle):
    backend, run = lifecycle
    result = run.result("rollback")
    assert result["rollback"]["rolled_back"] is True
    assert "did not answer" in result["rollback"]["comment"]
    assert "add address 10.10.1.11/24 to br-eth2.10" in result["rollback"]["attempted"]
    assert result["addresses"] == result["expected_addresses"]
    assert result["files_restored"] and result["reach"]


def test_remove_takes_everything_away_but_the_nics(lifecycle):
    backend, run = lifecycle
    result = run.result("removed")
    assert result["remove_preview"]["changes"] == result["removed"]["changes"]
    assert result["left"] == [] and result["files"] == []
    assert result["nics"] == {"eth2": None, "eth3": None}
    assert result["again"] == {"changes": [], "comment": "already absent"}


def print_loop_figures(what, result):
    print(f"{what}: {result['host_sent']} frames from the host, crossings {result['ring_total']} in all, "
          f"in 5 s {result['loop']}, in a quiet 2 s {result['quiet']}")


def unguarded_loop(backend):
    """The loop scenario with the guard taken away (tc filters or OpenFlow rules); its result."""
    result = run_scenario("loop", backend).result("loop")
    assert result["guarded"] is False
    print_loop_figures(f"{backend} unguarded", result)
    return result


def test_without_the_guard_the_ovs_ring_carries_each_frame_round_and_round():
    result = unguarded_loop("ovs")
    # Not a storm (OVS stops at its translation depth), but many times what the guard lets through.
    assert result["ring_total"] > 4 * RING_PACKETS_PER_FRAME * max(result["host_sent"], 1), result
    # The guard unit's flows (what ovs-vswitchd's restart runs) put everything back.
    assert result["unit_rc"] == [0] * 8 and result["healed"] == [] and result["recovered"]


def test_the_loop_is_real_without_the_guard():
    result = unguarded_loop("linux")
    assert sum(result["loop"].values()) > 10000, result["loop"]
    assert result["ring_total"] > RING_PACKETS_PER_FRAME * max(result["host_sent"], 1), result
    assert sum(result["quiet"].values()) > 10000, result["quiet"]  # it forwards by itself
    # loop_guard puts the guard back and the host recovers
    assert len(result["healed"]) == 12 and result["recovered"]


def test_ifupdown_builds_the_topology_from_its_file():
    """A real ifup (ifupdown unpacked from Debian's package into .cache/, not installed)."""
    ifup = ensure_ifup()
    run = run_scenario("ifupdown", "linux", str(ifup))
    result = run.result("ifup_rc")
    assert result["ifup_rc"] == 0, result["ifup_log"]
    assert result["ifup_settled"] and result["remaining"] == []
    assert result["reach"] == {"management": True, "tunnel": True, "external": True}


def ensure_ifup():
    import glob
    import subprocess

    from brine_testlib import REPO

    root = REPO / ".cache" / "ifupdown"
    ifup = root / "root" / "sbin" / "ifup"
    if not ifup.exists():
        root.mkdir(parents=True, exist_ok=True)
        subprocess.run(["apt-get", "download", "ifupdown"], cwd=root, check=True, capture_output=True)
        (deb,) = glob.glob(str(root / "ifupdown_*.deb"))
        subprocess.run(["dpkg-deb", "-x", deb, str(root / "root")], check=True)
    return ifup


def test_networkd_builds_the_topology_from_the_persistent_files():
    run = run_scenario("persist", "linux")
    result = run.result("persist_settled")
    assert result["persist_settled"], result["networkd_log"]
    assert result["remaining"] == [], "networkd's topology differs from the plan"
    assert result["unit_rc"] == [0] * 14
    assert result["reach"] == {"management": True, "tunnel": True, "external": True}
