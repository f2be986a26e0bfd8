"""The link watcher's pure core: link observations in, brine/net/... events out."""

import pytest
from brine_testlib import REPO  # noqa: F401  (puts _modules on sys.path)

import brine_linkwatch
from brine_linkwatch import LinkTracker, link_from_message

NOW = 1000.0


def link(name, index, up=True, master=None, kind="veth", active_index=None, carrier=None):
    return {
        "event": "RTM_NEWLINK",
        "name": name,
        "index": index,
        "carrier": up if carrier is None else carrier,
        "operstate": "UP" if up else "DOWN",
        "master": master,
        "kind": kind,
        "active_index": active_index,
    }


def pair_tracker(backend="ovs"):
    tracker = LinkTracker(bonds={"bond0": {"members": ["eth2", "eth3"], "backend": backend}})
    assert tracker.observe(link("eth2", 2), NOW) == []
    assert tracker.observe(link("eth3", 3), NOW) == []
    return tracker


def test_first_sight_is_a_baseline_not_an_event():
    tracker = LinkTracker()
    assert tracker.observe(link("eth0", 2, up=False), NOW) == []


def test_lost_carrier_is_a_link_down_event():
    tracker = LinkTracker()
    tracker.observe(link("eth0", 2), NOW)
    events = tracker.observe(link("eth0", 2, up=False), NOW + 1)
    assert events == [("brine/net/link/down", {
        "interface": "eth0", "bond": None, "backend": None, "carrier": False,
        "operstate": "DOWN", "active": None, "timestamp": NOW + 1,
    })]


def test_repeated_state_is_silent():
    tracker = LinkTracker()
    tracker.observe(link("eth0", 2), NOW)
    assert tracker.observe(link("eth0", 2), NOW + 1) == []


def test_carrier_with_operstate_down_is_down():
    # Admin-down with a cable still plugged in: not carrying traffic.
    tracker = LinkTracker()
    tracker.observe(link("eth0", 2), NOW)
    down = dict(link("eth0", 2), carrier=True, operstate="DOWN")
    assert [tag for tag, _ in tracker.observe(down, NOW)] == ["brine/net/link/down"]


def test_allow_list_hides_other_interfaces():
    tracker = LinkTracker(interfaces=["eth1"])
    tracker.observe(link("eth0", 2), NOW)
    tracker.observe(link("eth1", 3), NOW)
    assert tracker.observe(link("eth0", 2, up=False), NOW) == []
    assert [t for t, _ in tracker.observe(link("eth1", 3, up=False), NOW)] == ["brine/net/link/down"]


def test_loopback_is_never_reported():
    tracker = LinkTracker()
    tracker.observe(link("lo", 1), NOW)
    assert tracker.observe(link("lo", 1, up=False), NOW) == []


def test_cut_primary_fails_over_to_the_backup():
    tracker = pair_tracker()
    events = tracker.observe(link("eth2", 2, up=False), NOW + 1)
    assert events == [
        ("brine/net/link/down", {"interface": "eth2", "bond": "bond0", "backend": "ovs", "carrier": False,
                                 "operstate": "DOWN", "active": "eth3", "timestamp": NOW + 1}),
        ("brine/net/bond/failover", {"bond": "bond0", "backend": "ovs", "previous": "eth2", "active": "eth3",
                                     "timestamp": NOW + 1}),
    ]


def test_mended_primary_is_reported_up_and_primary_order_wins_again():
    tracker = pair_tracker()
    tracker.observe(link("eth2", 2, up=False), NOW)
    events = tracker.observe(link("eth2", 2), NOW + 1)
    assert [t for t, _ in events] == ["brine/net/link/up", "brine/net/bond/failover"]
    assert events[0][1]["bond"] == "bond0" and events[0][1]["active"] == "eth2"


def test_backup_member_loss_does_not_fail_over():
    tracker = pair_tracker()
    assert [t for t, _ in tracker.observe(link("eth3", 3, up=False), NOW)] == ["brine/net/link/down"]


def test_both_members_down_is_a_bond_down_then_restored():
    tracker = pair_tracker()
    tracker.observe(link("eth2", 2, up=False), NOW)
    events = tracker.observe(link("eth3", 3, up=False), NOW + 1)
    assert [t for t, _ in events] == ["brine/net/link/down", "brine/net/bond/down"]
    assert events[1][1] == {"bond": "bond0", "backend": "ovs", "members": ["eth2", "eth3"], "timestamp": NOW + 1}
    assert events[0][1]["active"] is None
    events = tracker.observe(link("eth3", 3), NOW + 2)
    assert [t for t, _ in events] == ["brine/net/link/up", "brine/net/bond/restored"]
    assert events[1][1]["active"] == "eth3"
    # Back on a member: no failover from "nothing" to eth3.
    assert "brine/net/bond/failover" not in [t for t, _ in events]


def test_bond_events_wait_until_every_member_was_seen():
    tracker = LinkTracker(bonds={"bond0": ["eth2", "eth3"]})
    tracker.observe(link("eth2", 2), NOW)
    events = tracker.observe(link("eth2", 2, up=False), NOW)
    assert [t for t, _ in events] == ["brine/net/link/down"]


def test_kernel_bond_members_and_active_slave_come_from_the_kernel():
    tracker = LinkTracker()
    tracker.observe(link("bond0", 10, kind="bond", active_index=2), NOW)
    tracker.observe(link("eth2", 2, master=10), NOW)
    tracker.observe(link("eth3", 3, master=10), NOW)
    events = tracker.observe(link("eth2", 2, up=False, master=10), NOW)
    # The kernel has not reported its new choice yet: no failover guessed.
    assert events[0][0] == "brine/net/link/down" and events[0][1]["bond"] == "bond0"
    assert events[0][1]["backend"] == "linux"
    events = tracker.observe(link("bond0", 10, kind=None, active_index=3), NOW + 1)
    assert events == []  # a carrier-only message without linkinfo keeps the old active index
    events = tracker.observe(link("bond0", 10, kind="bond", active_index=3), NOW + 1)
    assert events == [("brine/net/bond/failover", {"bond": "bond0", "backend": "linux", "previous": "eth2",
                                                   "active": "eth3", "timestamp": NOW + 1})]


def test_deleted_member_counts_as_down():
    tracker = pair_tracker()
    events = tracker.observe(dict(link("eth2", 2), event="RTM_DELLINK"), NOW)
    assert [t for t, _ in events] == ["brine/net/link/down", "brine/net/bond/failover"]
    assert events[0][1]["operstate"] == "NOTPRESENT"
    assert "eth2" not in tracker.links


@pytest.mark.parametrize("bad", [{"bond0": "eth2"}, {"bond0": {"members": []}}, {"bond0": {"backend": "ovs"}}])
def test_bad_bond_settings_are_refused(bad):
    with pytest.raises(ValueError):
        LinkTracker(bonds=bad)


def test_link_from_message_reads_a_real_netlink_dump():
    from pyroute2 import IPRoute
    from events_netns import VethLab

    with VethLab("blw-unit") as lab:
        lab.add_pair("lwu0", "lwu0p")
        with IPRoute(netns=lab.watch_ns) as ipr:
            (msg,) = [m for m in ipr.get_links() if m.get("IFLA_IFNAME") == "lwu0"]
            msg["event"] = "RTM_NEWLINK"
            parsed = link_from_message(msg)
        assert parsed["name"] == "lwu0" and parsed["kind"] == "veth" and parsed["index"] == 100
        assert parsed["carrier"] is True and parsed["operstate"] == "UP" and parsed["master"] is None
        lab.cut("lwu0p")
        lab.wait_carrier("lwu0p", up=False)
        snapshot = {l["name"]: l for l in brine_linkwatch.links(netns=lab.watch_ns)}
        assert snapshot["lwu0"]["carrier"] is False and snapshot["lwu0"]["operstate"] in ("DOWN", "LOWERLAYERDOWN")


@pytest.mark.parametrize("config,valid", [
    ([{"interval": 1}, {"interfaces": ["eth2", "eth3"]}], True),
    ([{"interval": 1}, {"bonds": {"bond0": {"members": ["eth2", "eth3"], "backend": "ovs"}}}, {"netns": "x"}], True),
    ({"interval": 1}, False),
    ([{"interfaces": "eth2"}], False),
    ([{"bogus": 1}], False),
    ([{"bonds": {"bond0": "eth2"}}], False),
])
def test_beacon_validates_its_configuration(config, valid):
    from brine_testlib import load_extension

    beacon = load_extension("beacons", "brine_linkwatch")
    beacon.__salt__ = {"brine_linkwatch.tracker": brine_linkwatch.LinkTracker}
    ok, _message = beacon.validate(config)
    assert ok is valid
