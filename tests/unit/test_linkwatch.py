"""The link watchers: brinelib.linkwatch (link observations in, brine/net/... events out), the
module's live links, the engine and the beacon."""

import pytest

import brine_linkwatch
from brinelib import linkwatch
from brinelib.linkwatch import LinkTracker, link_from_message

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
    beacon.__salt__ = {}
    ok, _message = beacon.validate(config)
    assert ok is valid


# --------------------------------------------------------------------------- local reselect

from brinelib.linkwatch import local_reselect, reselected  # noqa: E402

BONDS = {"bond0": {"members": ["eth2", "eth3"], "backend": "ovs"}}
GROUP_LEGS = [{"nic": "eth2", "bond": "bond-eth2"}, {"nic": "eth3", "bond": "bond-eth3"}]


def up_payload(bond="bond0", backend="ovs", interface="eth2"):
    return {"interface": interface, "bond": bond, "backend": backend, "carrier": True, "operstate": "UP",
            "active": interface, "timestamp": NOW}


def test_mended_member_of_a_named_ovs_bond_is_reselected_here_with_its_own_plan():
    assert local_reselect("brine/net/link/up", up_payload(), bonds=BONDS) == {
        "bond": "bond0", "the_plan": {"backend": "ovs", "legs": [{"nic": "eth2", "bond": "bond0"}]}}
    # The backup coming back asks too: the bond may still be on it.
    assert local_reselect("brine/net/link/up", up_payload(interface="eth3"), bonds=BONDS)["bond"] == "bond0"


def test_the_inventory_group_is_no_bond_name():
    kwargs = local_reselect("brine/net/link/up", up_payload(bond=linkwatch.INVENTORY_GROUP), legs=GROUP_LEGS)
    assert kwargs == {"the_plan": {"backend": "ovs", "legs": GROUP_LEGS}}
    assert "bond" not in kwargs
    # Without the dual bond's names: every bond, from dualbond's own plan.
    assert local_reselect("brine/net/link/up", up_payload(bond=linkwatch.INVENTORY_GROUP)) == {}


@pytest.mark.parametrize("tag,payload", [
    ("brine/net/link/down", up_payload()),
    ("brine/net/bond/failover", up_payload()),
    ("brine/net/bond/restored", up_payload()),
    ("brine/net/link/up", up_payload(backend="linux")),  # the kernel re-selects by itself
    ("brine/net/link/up", up_payload(bond=None, backend=None)),
    ("brine/net/link/up", None),
])
def test_nothing_else_is_reselected_here(tag, payload):
    assert local_reselect(tag, payload, bonds=BONDS, legs=GROUP_LEGS) is None


def test_tracker_events_drive_the_decision():
    tracker = pair_tracker()
    tracker.observe(link("eth2", 2, up=False), NOW)
    decided = [local_reselect(t, p, bonds=tracker.bonds) for t, p in tracker.observe(link("eth2", 2), NOW + 1)]
    assert decided == [{"bond": "bond0", "the_plan": {"backend": "ovs", "legs": [{"nic": "eth2", "bond": "bond0"}]}},
                       None]  # link/up, then the failover: one reselect


def test_reselected_reports_what_was_done():
    tag, payload = reselected(up_payload(), done=["bond0: active member is now eth2"], now=NOW)
    assert tag == "brine/net/bond/reselected"
    assert payload == {"bond": "bond0", "backend": "ovs", "done": ["bond0: active member is now eth2"], "timestamp": NOW}
    assert reselected(up_payload(), done=[], now=NOW)[1]["done"] == []


def test_reselected_reports_an_error_short_and_printable():
    _, payload = reselected(up_payload(), error="CommandExecutionError: ovs-appctl\nfailed\x00 " + "x" * 500, now=NOW)
    assert set(payload) == {"bond", "backend", "error", "timestamp"}
    assert len(payload["error"]) <= linkwatch.RESULT_MAX_TEXT and payload["error"].isprintable()
    assert payload["error"].startswith("CommandExecutionError: ovs-appctl failed")


def test_reselected_bounds_what_the_master_would_reject():
    _, payload = reselected(up_payload(), done=[f"line\n{i}" for i in range(40)], now=NOW)
    assert len(payload["done"]) == linkwatch.RESULT_MAX_ITEMS
    assert payload["done"][-1] == "(and 25 more)" and all(d.isprintable() for d in payload["done"])
    assert reselected(up_payload(), done=True, now=NOW)[1]["done"] == ["True"]
    assert reselected(up_payload(), done=[""], now=NOW)[1]["done"] == ["(empty)"]


def test_reselect_legs_come_from_dualbond_names(monkeypatch):
    names = [dict(leg, bridge="br", backup="x", crossing="y") for leg in GROUP_LEGS]
    monkeypatch.setattr(brine_linkwatch, "__salt__", {"dualbond.device_names": lambda nics: names}, raising=False)
    group = {"dualbond": {"members": ["eth2", "eth3"], "backend": "ovs"}}
    assert brine_linkwatch.reselect_legs(group) == GROUP_LEGS
    assert brine_linkwatch.reselect_legs({"dualbond": {"members": ["eth2", "eth3"], "backend": "linux"}}) is None
    assert brine_linkwatch.reselect_legs(BONDS) is None

    def broken(nics):
        raise KeyError("dualbond.device_names")

    monkeypatch.setattr(brine_linkwatch, "__salt__", {"dualbond.device_names": broken}, raising=False)
    assert brine_linkwatch.reselect_legs(group) is None


# --------------------------------------------------------------------------- the engine's handling


class FakeMinion:
    """The engine's __salt__: a recording event.send, a dualbond stand-in."""

    def __init__(self, reselect=None):
        self.log = []
        self.reselect = reselect or (lambda **kwargs: ["bond0: active member is now eth2"])
        self.funcs = {
            "event.send": lambda tag, payload: self.log.append(("send", tag, payload)),
            "dualbond.reselect_primary": self.call,
        }

    def call(self, **kwargs):
        self.log.append(("reselect_primary", kwargs))
        return self.reselect(**kwargs)


@pytest.fixture
def engine(monkeypatch):
    from brine_testlib import load_extension

    module = load_extension("engines", "brine_linkwatch")
    module.slept = []
    monkeypatch.setattr(module.time, "sleep", module.slept.append)
    return module


def test_engine_publishes_the_marked_link_up_then_reselects_then_reports(engine):
    minion = FakeMinion()
    engine.__salt__ = minion.funcs
    engine.handle("brine/net/link/up", up_payload(), bonds=BONDS)
    assert [entry[0] if entry[0] != "send" else entry[1] for entry in minion.log] == [
        "brine/net/link/up", "reselect_primary", "brine/net/bond/reselected"]
    assert minion.log[0][2] == dict(up_payload(), reselect="engine")
    assert minion.log[1][1] == {"bond": "bond0", "the_plan": {"backend": "ovs", "legs": [{"nic": "eth2", "bond": "bond0"}]}}
    report = minion.log[2][2]
    assert report["done"] == ["bond0: active member is now eth2"] and report["bond"] == "bond0" and "error" not in report


def test_engine_reports_a_failed_reselect_and_carries_on(engine):
    def fails(**kwargs):
        raise RuntimeError("ovs-vswitchd is not running")

    minion = FakeMinion(reselect=fails)
    engine.__salt__ = minion.funcs
    engine.handle("brine/net/link/up", up_payload(), bonds=BONDS)
    # Every try, then one report of the last error.
    tries = 1 + len(engine.RESELECT_RETRIES)
    assert [e[0] for e in minion.log] == ["send"] + ["reselect_primary"] * tries + ["send"]
    assert [w for w in engine.slept if w] == list(engine.RESELECT_RETRIES)
    (_, tag, report) = minion.log[-1]
    assert tag == "brine/net/bond/reselected"
    assert report["error"] == "RuntimeError: ovs-vswitchd is not running" and "done" not in report
    # The next event is handled as usual.
    engine.handle("brine/net/link/down", up_payload(), bonds=BONDS)
    assert minion.log[-1][:2] == ("send", "brine/net/link/down")


def test_engine_tries_again_while_ovs_has_not_enabled_the_member(engine):
    answers = iter([RuntimeError("cannot make disabled member active"), ["bond0: active member is now eth2"]])

    def reselect(**kwargs):
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    minion = FakeMinion(reselect=reselect)
    engine.__salt__ = minion.funcs
    engine.handle("brine/net/link/up", up_payload(), bonds=BONDS)
    assert [e[0] for e in minion.log] == ["send", "reselect_primary", "reselect_primary", "send"]
    assert [w for w in engine.slept if w] == [engine.RESELECT_RETRIES[0]]
    report = minion.log[-1][2]
    assert report["done"] == ["bond0: active member is now eth2"] and "error" not in report


def test_engine_without_dualbond_reports_an_error(engine):
    minion = FakeMinion()
    del minion.funcs["dualbond.reselect_primary"]
    engine.__salt__ = minion.funcs
    engine.handle("brine/net/link/up", up_payload(), bonds=BONDS)
    assert [e[1] for e in minion.log] == ["brine/net/link/up", "brine/net/bond/reselected"]
    assert "dualbond.reselect_primary" in minion.log[-1][2]["error"]


def test_engine_survives_a_failing_event_send(engine):
    minion = FakeMinion()

    def broken_send(tag, payload):
        raise OSError("minion event bus gone")

    minion.funcs["event.send"] = broken_send
    engine.__salt__ = minion.funcs
    engine.handle("brine/net/link/up", up_payload(), bonds=BONDS)  # must not raise
    assert [e[0] for e in minion.log] == ["reselect_primary"]  # the reselect still ran


@pytest.mark.parametrize("payload,tag", [(up_payload(backend="linux"), "brine/net/link/up"),
                                         (up_payload(), "brine/net/link/down")])
def test_engine_passes_other_events_through_unmarked(engine, payload, tag):
    minion = FakeMinion()
    engine.__salt__ = minion.funcs
    engine.handle(tag, payload, bonds=BONDS)
    assert minion.log == [("send", tag, payload)]


@pytest.mark.parametrize("setting", [False, "false", "no", 0])
def test_engine_with_reselect_off_leaves_it_to_the_master(engine, setting):
    minion = FakeMinion()
    engine.__salt__ = minion.funcs
    engine.handle("brine/net/link/up", up_payload(), bonds=BONDS, reselect=engine.as_flag(setting))
    assert minion.log == [("send", "brine/net/link/up", up_payload())]


def test_beacon_events_are_never_marked(monkeypatch):
    from brine_testlib import load_extension

    beacon = load_extension("beacons", "brine_linkwatch")
    sent = []
    states = iter([[link("eth2", 2), link("eth3", 3)], [link("eth2", 2, up=False), link("eth3", 3)],
                   [link("eth2", 2), link("eth3", 3)]])
    beacon.__salt__ = {"brine_linkwatch.links": lambda netns=None, interfaces=None: next(states),
                       "event.send": lambda tag, payload: sent.append((tag, payload))}
    config = [{"interval": 1}, {"bonds": BONDS}, {"interfaces": ["eth2", "eth3"]}]
    for _ in range(3):
        assert beacon.beacon(config) == []
    ups = [p for t, p in sent if t == "brine/net/link/up"]
    assert len(ups) == 1 and "reselect" not in ups[0] and ups[0]["backend"] == "ovs"
    assert "brine/net/bond/reselected" not in [t for t, _ in sent]


def test_the_plan_the_engine_passes_is_all_dualbond_needs(monkeypatch):
    # The engine has no pillar: dualbond.reselect_primary must act from the_plan alone.
    import types

    import dualbond
    from brinelib.dualbond import live

    names = dualbond.device_names(["eth2", "eth3"])
    monkeypatch.setattr(brine_linkwatch, "__salt__", {"dualbond.device_names": dualbond.device_names}, raising=False)
    legs = brine_linkwatch.reselect_legs({"dualbond": {"members": ["eth2", "eth3"], "backend": "ovs"}})
    assert legs == [{"nic": leg["nic"], "bond": leg["bond"]} for leg in names]
    kwargs = local_reselect("brine/net/link/up", up_payload(bond="dualbond"), legs=legs)
    ran = []

    def run(argv, check=True, timeout=60):
        ran.append(argv)
        # Both OVS bonds are on eth3 (the primary's cable was cut); eth3's own link is down.
        return types.SimpleNamespace(stdout="active member mac: 52:54:00:00:00:03(eth3)\n", returncode=0, stderr="")

    monkeypatch.setattr(live, "ip_links", lambda: {"eth2": {"carrier": True}, "eth3": {"carrier": False}})
    monkeypatch.setattr(live, "run", run)
    monkeypatch.setattr(dualbond, "_load_plan", lambda *a: pytest.fail("read the plan from pillar"), raising=True)
    done = dualbond.reselect_primary(**kwargs)
    assert done == [f"{legs[0]['bond']}: active member is now eth2"]
    assert ran[-1] == ["ovs-appctl", "bond/set-active-member", legs[0]["bond"], "eth2"]


# --------------------------------------------------------------------------- flapping links


class DictTracker(LinkTracker):
    """A tracker fed link dicts where the engine feeds it netlink messages."""

    def observe_message(self, msg, now=None):
        return self.observe(msg, now)


class FakeNetlink:
    """Netlink messages at set times on a fake monotonic clock; ends the loop when drained."""

    class Drained(Exception):
        pass

    def __init__(self, batches):
        self.batches = list(batches)  # [(time, [link, ...])]
        self.now = 0.0

    def clock(self):
        return self.now

    def readable(self, _ipr, timeout):
        if self.batches and (timeout is None or self.now + timeout >= self.batches[0][0]):
            self.now = max(self.now, self.batches[0][0])
            return True
        if timeout is None:
            raise self.Drained()
        self.now += timeout
        return False

    def get(self):
        return self.batches.pop(0)[1]


def run_engine(engine, batches, hold_down=1.0):
    minion = FakeMinion()
    engine.__salt__ = minion.funcs
    tracker = DictTracker(bonds=BONDS, interfaces=["eth2", "eth3"])
    tracker.observe(link("eth2", 2))
    tracker.observe(link("eth3", 3))
    net = FakeNetlink(batches)
    act = lambda tag, payload: engine.handle(tag, payload, bonds=tracker.bonds, reselect=True)  # noqa: E731
    with pytest.raises(FakeNetlink.Drained):
        engine.watch(net, tracker, act, engine.HoldDown(hold_down), clock=net.clock, readable=net.readable)
    return minion.log, net


def test_a_burst_of_300_flaps_in_30_ms_is_a_bounded_few_events_and_one_reselect(engine):
    # eth2 (the primary) goes down and up 150 times in 30 ms and ends up.
    burst = [(i * 0.0001, [link("eth2", 2, up=bool(i % 2))]) for i in range(300)]
    log, net = run_engine(engine, burst)
    sent = [(e[1], e[2]) for e in log if e[0] == "send"]
    reselects = [entry for entry in log if entry[0] == "reselect_primary"]
    print(f"\n300 link changes in 30 ms: {len(sent)} events, {len(reselects)} reselect calls")
    assert len(sent) <= 6 and len(reselects) == 1
    links = [(tag, p["interface"]) for tag, p in sent if "/link/" in tag]
    assert links == [("brine/net/link/down", "eth2"), ("brine/net/link/up", "eth2")]  # first and final state
    assert [t for t, _ in sent].count("brine/net/bond/reselected") == 1
    assert net.now < 1.2  # the final state went out when the window ended, not later


def test_a_single_change_goes_out_at_once_and_one_after_the_window_too(engine):
    log, _ = run_engine(engine, [(0.0, [link("eth3", 3, up=False)]), (5.0, [link("eth3", 3)])])
    sent = [(e[1], e[2].get("interface")) for e in log if e[0] == "send" and "/link/" in e[1]]
    assert sent == [("brine/net/link/down", "eth3"), ("brine/net/link/up", "eth3")]


def test_a_flap_that_ends_where_it_began_is_not_published_again(engine):
    burst = [(0.0, [link("eth3", 3, up=False)]), (0.01, [link("eth3", 3)]), (0.02, [link("eth3", 3, up=False)])]
    log, _ = run_engine(engine, burst)
    assert [e[1] for e in log if e[0] == "send" and "/link/" in e[1]] == ["brine/net/link/down"]


@pytest.mark.parametrize("window", [-1, float("nan"), "soon"])
def test_a_bad_hold_down_is_one_clear_error(engine, window):
    with pytest.raises(ValueError, match="hold_down"):
        engine.HoldDown(window)


class BlockingNetlink:
    """A pyroute2 IPRoute stand-in: its dump is ``links``; get() blocks until a batch (or an
    error) is given to it."""

    def __init__(self, links=()):
        import queue

        self.items = queue.Queue()
        self.links = list(links)
        self.groups = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def bind(self, groups):
        self.groups = groups

    def get_links(self):
        return [dict(link) for link in self.links]

    def get(self):
        item = self.items.get()
        if isinstance(item, Exception):
            raise item
        return item


def test_the_netlink_reader_dumps_first_then_hands_over_every_batch_and_times_out_when_quiet(engine):
    import errno

    net = BlockingNetlink(links=[{"name": "eth2"}])
    reader = engine.NetlinkReader(lambda: net)
    assert reader.wait(2) is True
    assert reader.get() == [{"name": "eth2", "event": "RTM_NEWLINK"}]  # the dump comes first
    assert net.groups == engine.RTMGRP_LINK
    assert reader.wait(0.05) is False
    net.items.put(["a", "b"])
    net.items.put(["c"])
    assert reader.wait(2) is True and reader.get() == ["a", "b"]
    assert reader.wait(2) is True and reader.get() == ["c"]
    # An overrun is answered with a fresh dump, and reading goes on after it.
    net.items.put(OSError(errno.ENOBUFS, "No buffer space available"))
    net.items.put(["d"])
    assert reader.wait(2) is True and reader.get() == [{"name": "eth2", "event": "RTM_NEWLINK"}]
    assert reader.wait(2) is True and reader.get() == ["d"]
    # Any other error ends the reader and reaches the loop.
    net.items.put(OSError(errno.EBADF, "Bad file descriptor"))
    assert reader.wait(2) is True
    with pytest.raises(OSError):
        reader.get()


# --------------------------------------------------------------------------- snapshots


def test_snapshot_reports_every_bond_now():
    tracker = pair_tracker()
    tracker.observe(link("eth2", 2, up=False), NOW + 1)
    tag, payload = tracker.snapshot(NOW + 2)
    assert tag == "brine/net/snapshot"
    assert payload == {"bonds": [{"bond": "bond0", "backend": "ovs", "members": ["eth2", "eth3"],
                                  "up": ["eth3"], "active": "eth3"}], "timestamp": NOW + 2}


def test_snapshot_waits_for_every_member():
    tracker = LinkTracker(bonds={"bond0": {"members": ["eth2", "eth3"], "backend": "ovs"}})
    tracker.observe(link("eth2", 2), NOW)
    assert tracker.snapshot(NOW) is None


def resync_engine():
    from brine_testlib import load_extension

    return load_extension("engines", "brine_linkwatch")


A, B = {("0100007F:9C40", "0100007F:1199")}, {("0100007F:9C41", "0100007F:1199")}


def test_a_new_connection_to_the_master_sends_one_snapshot_after_it_settles():
    engine = resync_engine()
    answers = iter([A, set(), set(), B, B, B])
    resync = engine.MasterResync(pair_tracker(), lambda: next(answers), every=5.0, settle=5.0, wall=lambda: NOW)
    sent = [(now, [tag for tag, _ in resync.due(now)]) for now in (0, 5, 10, 15, 19.9, 20, 25)]
    assert sent == [(0, []), (5, []), (10, []), (15, []), (19.9, []), (20, ["brine/net/snapshot"]), (25, [])]


def test_a_restart_between_two_checks_is_seen_by_its_new_connection():
    engine = resync_engine()
    answers = iter([A, B, B])
    resync = engine.MasterResync(pair_tracker(), lambda: next(answers), every=5.0, settle=0.0, wall=lambda: NOW)
    assert [[t for t, _ in resync.due(now)] for now in (0, 5, 10)] == [[], ["brine/net/snapshot"], []]


def test_the_same_connection_throughout_needs_no_snapshot():
    engine = resync_engine()
    resync = engine.MasterResync(pair_tracker(), lambda: A, every=5.0, settle=5.0, wall=lambda: NOW)
    assert [resync.due(now) for now in (0, 5, 10, 15)] == [[], [], [], []]


def test_no_master_at_the_start_then_one_sends_a_snapshot():
    engine = resync_engine()
    answers = iter([set(), A, A])
    resync = engine.MasterResync(pair_tracker(), lambda: next(answers), every=1.0, settle=0.0, wall=lambda: NOW)
    assert [[t for t, _ in resync.due(now)] for now in (0, 1, 2)] == [[], ["brine/net/snapshot"], []]


def test_a_failing_connection_check_changes_nothing():
    engine = resync_engine()
    answers = iter([A, RuntimeError("proc"), A, B])

    def connection():
        value = next(answers)
        if isinstance(value, Exception):
            raise value
        return value

    resync = engine.MasterResync(pair_tracker(), connection, every=1.0, settle=0.0, wall=lambda: NOW)
    assert [[t for t, _ in resync.due(now)] for now in (0, 1, 2, 3)] == [[], [], [], ["brine/net/snapshot"]]


def test_proc_net_tcp_addresses_are_decoded():
    engine = resync_engine()
    assert engine._proc_address("0100007F:1199") == ("127.0.0.1", 4505)
    assert engine._proc_address("0EFF1FAC:1199") == ("172.31.255.14", 4505)
    assert engine._proc_address("0000000000000000FFFF00000100007F:1199") == ("127.0.0.1", 4505)
    assert engine._proc_address("00000000000000000000000001000000:0050") == ("::1", 80)


def test_master_connection_reads_only_the_minion_process_sockets():
    """This test process's own connection to a loopback listener is found; other sockets not."""
    import os
    import socket

    engine = resync_engine()
    with socket.create_server(("127.0.0.1", 0)) as server, socket.create_server(("127.0.0.1", 0)) as request:
        port, request_port = server.getsockname()[1], request.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port)) as pub, socket.create_connection(("127.0.0.1", request_port)):
            found = engine.master_connection({"master": "127.0.0.1", "master_port": request_port}, pid=os.getpid())()
            local = pub.getsockname()[1]
            assert {engine._proc_address(r) for _, r in found} >= {("127.0.0.1", port)}
            assert ("127.0.0.1", request_port) not in {engine._proc_address(r) for _, r in found}
            assert any(engine._proc_address(l) == ("127.0.0.1", local) for l, _ in found)
        other = engine.master_connection({"master": "127.0.0.1", "master_port": request_port}, pid=1)
        assert all(engine._proc_address(r)[1] != port for _, r in other())


def test_watch_asks_resync_between_quiet_reads():
    engine = resync_engine()
    clock = [0.0]
    acted = []

    class Quiet:
        calls = 0

        def wait(self, timeout):
            assert timeout == 5.0  # no hold-down pending: the resync interval bounds the wait
            clock[0] += timeout
            Quiet.calls += 1
            if Quiet.calls > 4:
                raise StopIteration
            return False

    answers = iter([set(), A, A, A, A])
    resync = engine.MasterResync(pair_tracker(), lambda: next(answers), every=5.0, settle=5.0, wall=lambda: NOW)
    with pytest.raises(StopIteration):
        engine.watch(Quiet(), pair_tracker(), lambda tag, payload: acted.append(tag), engine.HoldDown(1.0),
                     clock=lambda: clock[0], resync=resync)
    assert acted == ["brine/net/snapshot"]


def test_watchers_without_bonds_of_their_own_track_the_inventorys_dual_bond():
    from brine_testlib import load_extension

    group = {"dualbond": {"members": ["eth2", "eth3"], "backend": "ovs"}}
    beacon = load_extension("beacons", "brine_linkwatch")
    beacon.__salt__ = {"brine_linkwatch.inventory_bonds": lambda: group,
                       "brine_linkwatch.links": lambda netns=None, interfaces=None: [link("eth2", 2)],
                       "event.send": lambda tag, payload: None}
    beacon.beacon([{"interval": 1}])
    (tracker,) = beacon._TRACKERS.values()
    assert tracker.bonds == {"dualbond": {"members": ["eth2", "eth3"], "backend": "ovs"}}


def test_the_beacon_loads_where_salt_puts_no_utils_dir_on_sys_path():
    """Salt's beacon loader, unlike the others, adds no _utils directory to sys.path: the beacon
    file must import without brinelib importable (it takes it once the module loaded it)."""
    import subprocess
    import sys
    from pathlib import Path

    beacon = Path(__file__).resolve().parents[2] / "_beacons" / "brine_linkwatch.py"
    code = (
        "import importlib.util, sys\n"
        "sys.path = [p for p in sys.path if not p.rstrip('/').endswith(('_utils', '_modules'))]\n"
        "spec = importlib.util.spec_from_file_location('brine_linkwatch_beacon', sys.argv[1])\n"
        "spec.loader.exec_module(importlib.util.module_from_spec(spec))\n"
        "assert 'brinelib' not in sys.modules\n"
    )
    proc = subprocess.run([sys.executable, "-c", code, str(beacon)], capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr
