"""The brine runner's pure core: event → validated action or rejection; the record stores."""

import json
import os

import pytest
from brine_testlib import load_extension
from brinelib import decisions, options, signing, stores
from brinelib import events as contract
from brinelib.events import Rejected
from events_keys import minion_key, signed

import brine_inventory

brine = load_extension("runners", "brine")

T = 1_700_000_000.0


def event(payload, minion="ubuntu3"):
    return {"id": minion, "cmd": "_minion_event", "tag": "x", "data": payload, "_stamp": "2026-11-22T00:00:00"}


def link_up(**changes):
    payload = {"interface": "eth2", "bond": "bond0", "backend": "ovs", "carrier": True, "operstate": "UP",
               "active": "eth2", "timestamp": T}
    payload.update(changes)
    return payload


@pytest.fixture
def react(tmp_path):
    """reaction() of a master on ``tmp_path`` for an event its minion signed (at ``received``)."""
    def call(kind, tag, data, extra_opts=None, received=T):
        opts = {"cachedir": str(tmp_path), **(extra_opts or {})}
        return decisions.reaction(kind, tag, signed(tmp_path, tag, data, received), opts, received=received)
    return call


# --------------------------------------------------------------------------- link events


def test_mended_ovs_member_reselects_the_primary_on_the_sender_only():
    minion, record, actions = decisions.decide_link("brine/net/link/up", event(link_up()))
    assert minion == "ubuntu3"
    assert actions == [("dualbond.reselect_primary", {})]
    assert record["interface"] == "eth2" and record["bond"] == "bond0"


def test_linux_bond_reselects_by_itself():
    _, _, actions = decisions.decide_link("brine/net/link/up", event(link_up(backend="linux")))
    assert actions == []


def test_link_down_is_only_recorded():
    _, record, actions = decisions.decide_link("brine/net/link/down", event(link_up(carrier=False, operstate="DOWN")))
    assert actions == [] and record["carrier"] is False


def test_unbonded_link_up_does_nothing():
    _, _, actions = decisions.decide_link("brine/net/link/up", event(link_up(bond=None, backend=None, active=None)))
    assert actions == []


@pytest.mark.parametrize("tag", ["brine/net/bond/down", "brine/net/bond/restored"])
def test_double_failure_runs_the_loop_guard(tag):
    payload = {"bond": "bond0", "backend": "linux", "members": ["eth2", "eth3"], "timestamp": T}
    _, record, actions = decisions.decide_link(tag, event(payload))
    assert actions == [("dualbond.loop_guard", {})] and record["members"] == ["eth2", "eth3"]


def test_failover_is_recorded():
    payload = {"bond": "bond0", "backend": "ovs", "previous": "eth2", "active": "eth3", "timestamp": T}
    _, record, actions = decisions.decide_link("brine/net/bond/failover", event(payload))
    assert actions == [] and record["active"] == "eth3"


def test_link_up_the_engine_acted_on_is_recorded_only():
    minion, record, actions = decisions.decide_link("brine/net/link/up", event(link_up(reselect="engine")))
    assert minion == "ubuntu3" and actions == []
    assert record["reselect"] == "engine" and record["interface"] == "eth2"


def test_unmarked_link_up_records_no_reselect_key():
    _, record, _ = decisions.decide_link("brine/net/link/up", event(link_up()))
    assert "reselect" not in record


def reselected(**changes):
    payload = {"bond": "dualbond", "backend": "ovs", "done": ["bond-eth2: active member is now eth2"], "timestamp": T}
    payload.update(changes)
    return payload


def test_engine_reselect_report_is_recorded_only():
    minion, record, actions = decisions.decide_link("brine/net/bond/reselected", event(reselected()))
    assert minion == "ubuntu3" and actions == []
    assert record == {"bond": "dualbond", "backend": "ovs", "done": ["bond-eth2: active member is now eth2"],
                      "timestamp": T}
    _, record, actions = decisions.decide_link("brine/net/bond/reselected", event(reselected(done=[])))
    assert record["done"] == [] and actions == []


def test_failed_engine_reselect_falls_back_to_the_reactor_on_the_sender_only(react):
    payload = reselected(error="CommandExecutionError: ovs-appctl failed")
    del payload["done"]
    minion, record, actions = decisions.decide_link("brine/net/bond/reselected", event(payload))
    assert minion == "ubuntu3"
    # A fixed call: nothing from the report (not even the bond) reaches the job.
    assert actions == [("dualbond.reselect_primary", {})]
    assert record["error"] == "CommandExecutionError: ovs-appctl failed"
    high = react("link", "brine/net/bond/reselected", event(payload))
    assert high["brine-0-dualbond.reselect_primary"] == {
        "local.dualbond.reselect_primary": [{"tgt": ["ubuntu3"]}, {"tgt_type": "list"}]}


def test_runner_and_engine_agree_on_the_backends_to_reselect():
    from brinelib import linkwatch

    assert decisions.RESELECT_BACKENDS == linkwatch.RESELECT_BACKENDS
    # What the engine sends, the runner accepts.
    tag, payload = linkwatch.reselected({"bond": "bond0", "backend": "ovs"},
                                        done=[f"x\n{i}" * 100 for i in range(30)], now=T)
    assert decisions.decide_link(tag, event(payload))[1]["done"] == payload["done"]
    tag, payload = linkwatch.reselected({"bond": "bond0", "backend": "ovs"}, error="\x00" + "e" * 999, now=T)
    assert decisions.decide_link(tag, event(payload))[2] == [("dualbond.reselect_primary", {})]


HOSTILE_MARK = [
    ("reselect by someone else", "brine/net/link/up", link_up(reselect="master")),
    ("reselect true", "brine/net/link/up", link_up(reselect=True)),
    ("reselect null", "brine/net/link/up", link_up(reselect=None)),
    ("reselect list", "brine/net/link/up", link_up(reselect=["engine"])),
    ("reselect command", "brine/net/link/up", link_up(reselect="engine; reboot")),
    ("reselect on link down", "brine/net/link/down", link_up(carrier=False, operstate="DOWN", reselect="engine")),
    ("marked and claims another", "brine/net/link/up", link_up(reselect="engine", minion="ubuntu1")),
]


@pytest.mark.parametrize("why,tag,payload", HOSTILE_MARK, ids=[w for w, _, _ in HOSTILE_MARK])
def test_hostile_reselect_marks_are_rejected(why, tag, payload):
    with pytest.raises(Rejected):
        decisions.decide_link(tag, event(payload))


def without_done(**changes):
    payload = reselected(**changes)
    del payload["done"]
    return payload


HOSTILE_RESELECTED = [
    ("neither done nor error", without_done()),
    ("both done and error", reselected(error="x")),
    ("bad bond", reselected(bond="bond0/../x")),
    ("bond list", reselected(bond=["bond0"])),
    ("no bond", reselected(bond=None)),
    ("unknown backend", reselected(backend="sh")),
    ("no backend", reselected(backend=None)),
    ("done not a list", reselected(done="bond0: ok")),
    ("done too long", reselected(done=["ok"] * 17)),
    ("done item not text", reselected(done=[{"fun": "cmd.run"}])),
    ("done item number", reselected(done=[3])),
    ("done item newline", reselected(done=["ok\nrm -rf /"])),
    ("done item huge", reselected(done=["x" * 257])),
    ("error empty", without_done(error="")),
    ("error not text", without_done(error={"fun": "cmd.run"})),
    ("error newline", without_done(error="x\ny")),
    ("error huge", without_done(error="x" * 257)),
    ("error null", without_done(error=None)),
    ("nan time", reselected(timestamp=float("nan"))),
    ("extra key", reselected(fun="cmd.run")),
    ("extra args", without_done(error="x", args=["bond=x"])),
    ("claims another minion", without_done(error="x", minion="ubuntu1")),
    ("target field", without_done(error="x", tgt="*")),
]


@pytest.mark.parametrize("why,payload", HOSTILE_RESELECTED, ids=[w for w, _ in HOSTILE_RESELECTED])
def test_hostile_reselect_reports_are_rejected(why, payload):
    with pytest.raises(Rejected):
        decisions.decide_link("brine/net/bond/reselected", event(payload))


def test_rejected_reselect_report_starts_no_fallback(react):
    high = react("link", "brine/net/bond/reselected", event(without_done(error="x", tgt="*")))
    assert list(high) == ["brine-record"]


HOSTILE_LINK = [
    ("claims another minion", link_up(minion="ubuntu1")),
    ("claims another id", link_up(id="ubuntu1")),
    ("claims another host", link_up(host="ubuntu1")),
    ("target field", link_up(tgt="*")),
    ("path traversal", link_up(interface="../../etc")),
    ("too long", link_up(interface="a" * 16)),
    ("white space", link_up(interface="eth 2")),
    ("colon alias", link_up(interface="eth2:1")),
    ("newline", link_up(interface="eth2\nx")),
    ("non-ascii", link_up(interface="eth\u00e9")),
    ("empty", link_up(interface="")),
    ("dot", link_up(interface=".")),
    ("list interface", link_up(interface=["eth2"])),
    ("bad bond", link_up(bond="bond0 && rm -rf /")),
    ("bad bond slash", link_up(bond="bond0/../x")),
    ("bad active", link_up(active="x/y")),
    ("unknown backend", link_up(backend="sh -c id")),
    ("carrier string", link_up(carrier="yes")),
    ("bad operstate", link_up(operstate="UP; id")),
    ("nan time", link_up(timestamp=float("nan"))),
    ("string time", link_up(timestamp="now")),
    ("bool time", link_up(timestamp=True)),
    ("extra key", link_up(state="highstate")),
    ("extra fun", link_up(fun="cmd.run")),
]


@pytest.mark.parametrize("why,payload", HOSTILE_LINK, ids=[w for w, _ in HOSTILE_LINK])
def test_hostile_link_events_are_rejected(why, payload):
    with pytest.raises(Rejected):
        decisions.decide_link("brine/net/link/up", event(payload))


@pytest.mark.parametrize("name", ["eth2;reboot", "$(reboot)", "`id`", "a|b&c>d"])
def test_shell_characters_the_kernel_allows_are_data_never_arguments(name):
    # The kernel accepts these as interface names, so they are recorded as the minion sent
    # them; the actions are fixed calls that take nothing from the event.
    _, record, actions = decisions.decide_link("brine/net/link/up", event(link_up(interface=name, bond=name, active=name)))
    assert record["interface"] == name
    assert actions == [("dualbond.reselect_primary", {})]


@pytest.mark.parametrize("data", [
    None, [], "ubuntu1", {"data": link_up()}, {"id": "*", "data": link_up()}, {"id": "ubuntu3 ubuntu1", "data": link_up()},
    {"id": "-E", "data": link_up()}, {"id": "a/b", "data": link_up()}, {"id": "ubuntu3"}, {"id": "ubuntu3", "data": "x"},
    {"id": ["ubuntu3"], "data": link_up()},
])
def test_bad_envelopes_are_rejected(data):
    with pytest.raises(Rejected):
        decisions.decide_link("brine/net/link/up", data)


def test_job_metadata_of_event_send_is_not_payload():
    payload = link_up(__pub_fun="event.send", __pub_jid="20261122000000000000", __pub_tgt="ubuntu1")
    minion, record, _ = decisions.decide_link("brine/net/link/up", event(payload))
    assert minion == "ubuntu3" and not any(k.startswith("__pub") for k in record)


def test_payload_naming_the_sender_itself_is_fine():
    minion, _, _ = decisions.decide_link("brine/net/link/up", event(link_up(minion="ubuntu3")))
    assert minion == "ubuntu3"


@pytest.mark.parametrize("tag", ["brine/net/link/sideways", "brine/net/", "brine/netx", None, 5])
def test_unknown_link_tags_are_rejected(tag):
    with pytest.raises(Rejected):
        decisions.decide_link(tag, event(link_up()))


@pytest.mark.parametrize("members", [[], "eth2", ["eth2", "x/y"], ["eth2", "x y"], ["eth%d" % i for i in range(17)], None])
def test_bad_member_lists_are_rejected(members):
    with pytest.raises(Rejected):
        decisions.decide_link("brine/net/bond/down", event({"bond": "bond0", "members": members, "timestamp": T}))


NAMES = ["eth0", "a" * 15, "a" * 16, "x/y", "x:y", "x y", "x\ty", ".", "..", "...", "", "eth\u00e9", "eth\x00",
         "bond0.10", "-", "br-ex", None, 3]


@pytest.mark.parametrize("name", NAMES)
def test_runner_accepts_every_interface_name_the_inventory_accepts(name):
    # The inventory is stricter than the kernel (names reach shell lines); the runner checks what
    # the kernel reports, and must never reject an event about a device the inventory allows.
    if brine_inventory.interface_name_problem(name) is None:
        assert contract.interface_name_problem(name) is None
    if contract.interface_name_problem(name) is not None:
        assert brine_inventory.interface_name_problem(name) is not None


# --------------------------------------------------------------------------- nova.conf


def nova(**changes):
    payload = {"watch": "nova_conf", "path": "/etc/kolla/nova-compute/nova.conf", "sha256": "a" * 64,
               "previous": "b" * 64, "timestamp": T}
    payload.update(changes)
    return payload


def test_rewritten_nova_conf_reapplies_the_console_state_on_the_sender():
    minion, record, actions = decisions.decide_file_changed("brine/file/changed", event(nova(), minion="ubuntu1"))
    assert minion == "ubuntu1"
    assert actions == [("state.apply", {"mods": "compute.console", "queue": True})]
    assert record["watch"] == "nova_conf"


def test_a_restore_by_the_engine_is_recorded_and_the_state_still_runs():
    """The engine's word is recorded; the state run stays the authority (it finds nothing left)."""
    _, record, actions = decisions.decide_file_changed("brine/file/changed", event(nova(restored="patched")))
    assert record["restored"] == "patched"
    assert actions == [("state.apply", {"mods": "compute.console", "queue": True})]
    _, record, _ = decisions.decide_file_changed("brine/file/changed", event(nova()))
    assert "restored" not in record


def test_first_sighting_has_no_previous_digest():
    _, record, _ = decisions.decide_file_changed("brine/file/changed", event(nova(previous=None)))
    assert record["previous"] is None


HOSTILE_FILE = [
    ("unknown watch", nova(watch="shadow")),
    ("state in the watch", nova(watch="compute.console; cmd.run")),
    ("state key", nova(state="top")),
    ("mods key", nova(mods="evil")),
    ("relative path", nova(path="etc/nova.conf")),
    ("newline in path", nova(path="/etc/x\nid")),
    ("bad digest", nova(sha256="zz")),
    ("another minion", nova(minion="ubuntu2")),
    ("restored not text", nova(restored={"cmd": "id"})),
    ("restored empty", nova(restored="")),
    ("restored with a newline", nova(restored="patched\nrm -rf /")),
    ("restored too long", nova(restored="x" * 301)),
]


@pytest.mark.parametrize("why,payload", HOSTILE_FILE, ids=[w for w, _ in HOSTILE_FILE])
def test_hostile_file_events_are_rejected(why, payload):
    with pytest.raises(Rejected):
        decisions.decide_file_changed("brine/file/changed", event(payload))


# --------------------------------------------------------------------------- DHCP


def sighting(**changes):
    payload = {"mac": "52-54-00-AA-BB-CC", "ip": "10.10.0.201", "interface": "eth0",
               "first_seen": "2026-11-22T00:00:01", "last_seen": "2026-11-22T00:00:09", "count": 3}
    payload.update(changes)
    return payload


def test_unknown_mac_is_validated_and_canonical():
    minion, record, actions = decisions.decide_dhcp_unknown("brine/dhcp/unknown", event(sighting(), minion="bootstrap"))
    assert minion == "bootstrap" and actions == []
    assert record["mac"] == "52:54:00:aa:bb:cc" and record["ip"] == "10.10.0.201" and record["count"] == 3


HOSTILE_DHCP = [
    ("not a mac", sighting(mac="52:54:00:aa:bb")),
    ("shell mac", sighting(mac="$(id)")),
    ("multicast", sighting(mac="01:00:5e:00:00:01")),
    ("zero", sighting(mac="00:00:00:00:00:00")),
    ("eui64", sighting(mac="52:54:00:ff:fe:aa:bb:cc")),
    ("list mac", sighting(mac=["52:54:00:aa:bb:cc"])),
    ("bad ip", sighting(ip="10.10.0.300")),
    ("bad interface", sighting(interface="eth0/id")),
    ("negative count", sighting(count=-1)),
    ("newline time", sighting(first_seen="x\ny")),
    ("huge time", sighting(last_seen="9" * 300)),
    ("extra key", sighting(roles=["controller"])),
    ("another host", sighting(host="ubuntu1")),
]


@pytest.mark.parametrize("why,payload", HOSTILE_DHCP, ids=[w for w, _ in HOSTILE_DHCP])
def test_hostile_dhcp_events_are_rejected(why, payload):
    with pytest.raises(Rejected):
        decisions.decide_dhcp_unknown("brine/dhcp/unknown", event(payload))


@pytest.mark.parametrize("mac,why", [("$(reboot)", "is not a MAC address"), ("52:54:00:aa:bb", "is not a MAC address"),
                                     ("01:00:5e:00:00:01", "is not a unicast 48-bit MAC address"),
                                     ("00:00:00:00:00:00", "is not a unicast 48-bit MAC address")])
def test_a_rejected_mac_says_whether_it_is_no_mac_or_no_nics(mac, why):
    with pytest.raises(Rejected, match=why.replace(".", r"\.")):
        decisions.decide_dhcp_unknown("brine/dhcp/unknown", event(sighting(mac=mac)))


# --------------------------------------------------------------------------- minion start


def test_minion_start_applies_the_highstate_of_that_minion():
    minion, _, actions = decisions.decide_minion_start("salt/minion/ubuntu2/start", {"id": "ubuntu2", "data": "started"})
    assert minion == "ubuntu2" and actions == [("state.apply", {"queue": True})]


def test_minion_start_switched_off_only_records():
    _, record, actions = decisions.decide_minion_start("salt/minion/ubuntu2/start", {"id": "ubuntu2"}, enabled=False)
    assert actions == [] and record == {"highstate": False}


@pytest.mark.parametrize("tag,data", [
    ("salt/minion/ubuntu1/start", {"id": "ubuntu2"}),
    ("salt/minion/*/start", {"id": "*"}),
    ("salt/minion/ubuntu2/stop", {"id": "ubuntu2"}),
    ("salt/minion/ubuntu2/start", {}),
])
def test_forged_minion_starts_are_rejected(tag, data):
    with pytest.raises(Rejected):
        decisions.decide_minion_start(tag, data)


# --------------------------------------------------------------------------- stores


def test_event_log_filters_and_limits(tmp_path):
    log = stores.EventLog(str(tmp_path / "brine" / "events.jsonl"))
    for i in range(5):
        log.append({"received": T + i, "minion": f"ubuntu{i % 2}", "tag": f"brine/net/link/{'up' if i % 2 else 'down'}"})
    assert [e["received"] for e in log.query(limit=0)] == [T + i for i in range(5)]
    assert [e["received"] for e in log.query(limit=2)] == [T + 3, T + 4]
    assert [e["received"] for e in log.query(minion="ubuntu1", limit=0)] == [T + 1, T + 3]
    assert [e["received"] for e in log.query(since=T + 3, limit=0)] == [T + 3, T + 4]
    assert [e["received"] for e in log.query(tag="brine/net/link/down", limit=0)] == [T, T + 2, T + 4]
    assert len(log.query(tag="brine/net/*", limit=0)) == 5
    assert log.query(tag="brine/net", limit=0) == []


def test_event_log_stays_bounded_and_keeps_the_newest(tmp_path):
    log = stores.EventLog(str(tmp_path / "events.jsonl"), max_bytes=4000)
    for i in range(500):
        log.append({"received": T + i, "minion": "ubuntu1", "tag": "t", "pad": "x" * 20})
    size = (tmp_path / "events.jsonl").stat().st_size
    assert size <= 4000
    kept = log.query(limit=0)
    assert kept[-1]["received"] == T + 499 and len(kept) > 10
    assert [e["received"] for e in kept] == sorted(e["received"] for e in kept)


def test_event_log_survives_a_torn_line(tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_text('{"received": 1, "minion": "a", "tag": "t"}\n{"recei')
    assert [e["minion"] for e in stores.EventLog(str(path)).query()] == ["a"]


def test_missing_event_log_is_empty(tmp_path):
    assert stores.EventLog(str(tmp_path / "none.jsonl")).query() == []


@pytest.mark.parametrize("since,expected", [(T, T), (str(T), T), ("2023-11-14T22:13:20+00:00", T), ("2023-11-14T22:13:20", T)])
def test_since_accepts_epoch_and_iso(since, expected):
    assert stores.parse_since(since) == expected


def test_since_accepts_an_age():
    import time
    assert abs(stores.parse_since("2m") - (time.time() - 120)) < 5


def test_since_refuses_nonsense():
    with pytest.raises(ValueError):
        stores.parse_since("yesterday-ish")


def test_discovered_store_merges_sightings_and_forgets(tmp_path):
    store = stores.DiscoveredStore(str(tmp_path / "brine" / "discovered.json"))
    store.add("bootstrap", {"mac": "52:54:00:aa:bb:cc", "ip": "10.10.0.201", "count": 1, "interface": None}, T)
    store.add("bootstrap", {"mac": "52:54:00:aa:bb:cc", "ip": None, "count": 4, "interface": "eth0"}, T + 5)
    store.add("bootstrap", {"mac": "52:54:00:aa:bb:01", "count": 1}, T + 6)
    (first, second) = store.all()
    assert first["mac"] == "52:54:00:aa:bb:cc" and first["discovered"] == T and first["updated"] == T + 5
    assert first["ip"] == "10.10.0.201" and first["count"] == 4 and first["interface"] == "eth0"
    assert stores.inventory_stub(first) == {"roles": [], "nics": {"eth0": {"mac": "52:54:00:aa:bb:cc"}}}
    assert store.forget("52:54:00:aa:bb:cc") is True and store.forget("52:54:00:aa:bb:cc") is False
    assert [m["mac"] for m in store.all()] == ["52:54:00:aa:bb:01"]
    json.loads((tmp_path / "brine" / "discovered.json").read_text())


# --------------------------------------------------------------------------- reactor high data


def test_reaction_targets_only_the_sender_then_records(react):
    high = react("link", "brine/net/link/up", event(link_up()))
    assert list(high) == sorted(high)  # the order in which the reactor runs them
    assert high["brine-0-dualbond.reselect_primary"] == {
        "local.dualbond.reselect_primary": [{"tgt": ["ubuntu3"]}, {"tgt_type": "list"}]}
    (entry,) = high["brine-record"]["runner.brine.record"][0]["args"]
    assert entry["entry"]["minion"] == "ubuntu3" and entry["entry"]["received"] == T
    assert entry["entry"]["actions"] == [{"fun": "dualbond.reselect_primary", "kwargs": {}}]


def test_reaction_passes_fixed_arguments(react):
    high = react("file_changed", "brine/file/changed", event(nova(), minion="ubuntu1"))
    assert high["brine-0-state.apply"] == {"local.state.apply": [
        {"tgt": ["ubuntu1"]}, {"tgt_type": "list"}, {"args": [{"mods": "compute.console"}, {"queue": True}]}]}


@pytest.mark.parametrize("kind,tag,payload", [
    ("link", "brine/net/link/up", link_up(minion="ubuntu1")),
    ("file_changed", "brine/file/changed", nova(watch="x")),
    ("dhcp_unknown", "brine/dhcp/unknown", sighting(mac="x")),
    ("nonsense", "brine/net/link/up", link_up()),
])
def test_rejected_reaction_only_records(kind, tag, payload, react):
    high = react(kind, tag, event(payload))
    assert list(high) == ["brine-record"]
    (arg,) = high["brine-record"]["runner.brine.record"][0]["args"]
    assert arg["entry"]["rejected"] and arg["entry"]["minion"] == "ubuntu3"


@pytest.mark.parametrize("value,expected", [(True, True), (False, False), ("false", False), ("True", True), (None, False)])
def test_highstate_on_start_option(value, expected):
    assert options.highstate_on_start({"brine_highstate_on_start": value}) is expected
    assert options.highstate_on_start({}) is True


def test_minion_start_reaction_follows_the_option(react):
    data = {"id": "ubuntu2", "data": "started"}
    assert "brine-0-state.apply" in react("minion_start", "salt/minion/ubuntu2/start", data)
    assert list(react("minion_start", "salt/minion/ubuntu2/start", data,
                         {"brine_highstate_on_start": False})) == ["brine-record"]


# --------------------------------------------------------------------------- floods and crashes

HUGE = "x" * 900_000


@pytest.fixture
def master(tmp_path, monkeypatch):
    """The runner's thin layer on a temporary master cachedir."""
    monkeypatch.setattr(brine, "__opts__", {"cachedir": str(tmp_path)}, raising=False)
    return tmp_path / "brine"


def dhcp_entry(mac, minion="bootstrap", received=T, **extra):
    return {"received": received, "minion": minion, "tag": "brine/dhcp/unknown",
            "event": {"mac": mac, "ip": None, "interface": "eth0", "first_seen": None, "last_seen": None,
                      "count": 1, **extra}, "actions": []}


def test_a_huge_field_is_bounded_in_the_rejection_and_the_master_log(caplog, react):
    payload = {"mac": "52:54:00:aa:bb:cc", "first_seen": HUGE, "timestamp": T}
    with caplog.at_level("DEBUG"):
        high = react("dhcp_unknown", "brine/dhcp/unknown", event(payload))
    entry = high["brine-record"]["runner.brine.record"][0]["args"][0]["entry"]
    assert len(json.dumps(entry)) < 2000 and "more characters]" in entry["rejected"]
    assert len(caplog.text) < 4000 and "more characters]" in caplog.text


def test_huge_keys_and_tags_are_bounded_too(caplog, react):
    with caplog.at_level("DEBUG"):
        high = react("link", "brine/net/link/up", event({HUGE: 1, "timestamp": T}))
        high.update(react("link", HUGE, event({"timestamp": T})))
    assert len(json.dumps(high)) < 3000 and len(caplog.text) < 4000


def test_record_bounds_every_value_it_writes(master):
    brine.record({"received": T, "minion": "ubuntu1", "tag": "note", "event": {"text": HUGE, "list": list(range(1000))}})
    (entry,) = brine.events()
    assert len(entry["event"]["text"]) < 1100 and entry["event"]["text"].endswith("more characters]")
    assert len(entry["event"]["list"]) == 65 and (master / "events.jsonl").stat().st_size < 3000


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_numbers_are_rejected_and_never_recorded(master, value):
    with pytest.raises(Rejected, match="first_seen: .* is not a finite number"):
        decisions.decide_dhcp_unknown("brine/dhcp/unknown", event({"mac": "52:54:00:aa:bb:cc", "first_seen": value}))
    with pytest.raises(ValueError, match=r"entry\.event\.x: NaN and infinity are not recorded"):
        brine.record({"received": T, "minion": "ubuntu1", "tag": "note", "event": {"x": value}})
    assert brine.events() == []


def test_discovered_machines_are_capped_and_known_ones_still_update(master, monkeypatch, caplog):
    brine.__opts__["brine_discovered_max"] = 3
    for i in range(6):
        brine.record(dhcp_entry(f"52:54:00:00:00:0{i}", received=T + i))
    brine.record(dhcp_entry("52:54:00:00:00:01", received=T + 10, count=7))
    machines = brine.discovered()
    assert [m["mac"] for m in machines] == ["52:54:00:00:00:00", "52:54:00:00:00:01", "52:54:00:00:00:02"]
    assert machines[1]["count"] == 7
    assert len(brine.events(limit=0)) == 7  # every sighting is on record all the same
    assert "52:54:00:00:00:05 is not added" in caplog.text


def test_a_flooding_minion_pushes_out_only_its_own_history(tmp_path):
    log = stores.EventLog(str(tmp_path / "events.jsonl"), max_bytes=40_000)
    for i in range(20):
        log.append({"received": T + i, "minion": f"quiet{i % 4}", "tag": "brine/net/link/down"})
    for i in range(3000):
        log.append({"received": T + 100 + i, "minion": "flood", "tag": "brine/net/link/up", "pad": "y" * 50})
    assert (tmp_path / "events.jsonl").stat().st_size <= 40_000
    kept = log.query(limit=0)
    assert [e["received"] for e in kept if e["minion"] != "flood"] == [T + i for i in range(20)]
    flood = [e["received"] for e in kept if e["minion"] == "flood"]
    assert flood[-1] == T + 100 + 2999 and flood == sorted(flood) and len(flood) > 50


def test_a_cut_leaves_no_minion_more_than_its_quota():
    lines = [json.dumps({"minion": m, "n": i}).encode() + b"\n" for i in range(300) for m in ("a", "b", None)]
    kept = stores.fair_trim(lines, 100_000, 2_000)
    for minion in ("a", "b", None):
        mine = [line for line in kept if json.loads(line)["minion"] == minion]
        assert 1_900 < sum(map(len, mine)) <= 2_000 and json.loads(mine[-1])["n"] == 299


def test_fair_trim_keeps_everything_that_fits_and_drops_what_does_not_parse():
    lines = [b'{"minion": "a", "n": 1}\n', b"garbage\n", b'{"minion": "b", "n": 2}\n']
    assert stores.fair_trim(lines, 1000, 1000) == [lines[0], lines[2]]


def test_record_files_are_private(master):
    old = os.umask(0o022)
    try:
        brine.record(dhcp_entry("52:54:00:aa:bb:cc"))
    finally:
        os.umask(old)
    assert (master / "events.jsonl").stat().st_mode & 0o777 == 0o600
    assert (master / "discovered.json").stat().st_mode & 0o777 == 0o600
    (master / "events.jsonl").chmod(0o644)  # as an older version left it
    brine.record({"received": T, "minion": "ubuntu1", "tag": "note"})
    assert (master / "events.jsonl").stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("left", ['{"52:54:00:aa:bb:cc": {"mac": "52:54:00:aa:b', "", "\xff\xfe", "[1, 2]"])
def test_a_corrupt_discovered_store_is_moved_aside_and_recording_goes_on(master, left):
    master.mkdir()
    (master / "discovered.json").write_bytes(left.encode("latin-1"))
    assert brine.discovered() == []  # read: no exception
    brine.record(dhcp_entry("52:54:00:aa:bb:01", received=T + 1))
    assert [m["mac"] for m in brine.discovered()] == ["52:54:00:aa:bb:01"]
    (aside,) = [p for p in master.iterdir() if p.name.startswith("discovered.json.corrupt-")]
    assert aside.read_bytes() == left.encode("latin-1") and aside.stat().st_mode & 0o777 == 0o600
    (note,) = brine.events(tag="brine/store/corrupt")
    assert note["store"] == str(master / "discovered.json") and note["moved_to"] == str(aside)
    assert [e["event"]["mac"] for e in brine.events(tag="brine/dhcp/unknown")] == ["52:54:00:aa:bb:01"]


def test_a_write_that_fails_halfway_leaves_the_old_store(master):
    brine.record(dhcp_entry("52:54:00:aa:bb:01"))
    before = (master / "discovered.json").read_bytes()
    with pytest.raises(TypeError):
        brine._discovered().add("bootstrap", {"mac": "52:54:00:aa:bb:02", "first_seen": object()}, T)
    assert (master / "discovered.json").read_bytes() == before
    assert sorted(p.name for p in master.iterdir()) == ["discovered.json", "discovered.json.lock",
                                                        "events.jsonl", "events.jsonl.lock"]


def test_an_append_after_a_torn_line_is_not_lost(tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_text('{"received": 1, "minion": "a", "tag": "t"}\n{"recei')
    log = stores.EventLog(str(path))
    log.append({"received": 2, "minion": "b", "tag": "t"})
    assert [e["minion"] for e in log.query()] == ["a", "b"]


def test_bad_store_options_are_named(master):
    brine.__opts__["brine_events_max_bytes"] = "lots"
    with pytest.raises(ValueError, match="master option brine_events_max_bytes: 'lots' is not a positive integer"):
        brine.events()


# --------------------------------------------------------------------------- who sent it


LINK_UP = "brine/net/link/up"


def test_an_event_signed_by_its_sender_acts(react):
    assert "brine-0-dualbond.reselect_primary" in react("link", LINK_UP, event(link_up()))


def forged(tmp_path, tag, data, now=T, key=None):
    """What a hostile minion (ubuntu9) can send in another's name: the victim's id, signed
    with its own key or a made-up one, or not at all."""
    return signed(tmp_path, tag, data, now, key=key or minion_key(tmp_path, "ubuntu9"))


def unsigned(tmp_path, tag, data, now=T):
    return data


def replayed_elsewhere(tmp_path, tag, data, now=T):
    """A good signature of the victim's, made for another event, pasted onto this one."""
    sig = signed(tmp_path, "brine/other", event({}, minion=data["id"]), now)["data"]["brine_sig"]
    if tag.startswith("salt/minion/"):
        return dict(data, grains={"brine_start_sig": sig})
    return dict(data, data=dict(data["data"], brine_sig=sig))


@pytest.mark.parametrize("make", [forged, unsigned, replayed_elsewhere])
@pytest.mark.parametrize("kind,tag,data", [
    ("minion_start", "salt/minion/ubuntu3/start", {"id": "ubuntu3", "data": "started"}),
    ("link", LINK_UP, event(link_up())),
    ("link", "brine/net/bond/down", event({"bond": "bond0", "backend": "ovs", "members": ["eth2", "eth3"], "timestamp": T})),
    ("link", "brine/net/bond/reselected", event({"bond": "bond0", "backend": "ovs", "error": "x", "timestamp": T})),
    ("file_changed", "brine/file/changed", event({"watch": "nova_conf", "path": "/etc/nova/nova.conf",
                                                 "sha256": "0" * 64, "previous": None, "timestamp": T})),
    ("dhcp_unknown", "brine/dhcp/unknown", event({"mac": "52:54:00:aa:bb:cc", "timestamp": T})),
    ("echo", "brine/echo/request", event({})),
])
def test_events_in_another_minions_name_are_inert(tmp_path, make, kind, tag, data):
    opts = {"cachedir": str(tmp_path)}
    if kind == "minion_start":
        # The victim is a configured minion: it has signed an event before.
        decisions.reaction("echo", "brine/echo/request", signed(tmp_path, "brine/echo/request", event({}), T - 1), opts,
                       received=T - 1)
    high = decisions.reaction(kind, tag, make(tmp_path, tag, data), opts, received=T)
    assert list(high) == ["brine-record"]
    entry = high["brine-record"]["runner.brine.record"][0]["args"][0]["entry"]
    assert entry["rejected"].startswith(("bad signature", "unsigned", "brine_sig")), entry["rejected"]


def test_echo_answers_the_sender_only(react):
    high = react("echo", "brine/echo/request", event({}, minion="ubuntu2"))
    assert high["brine-0-event.send"] == {"local.event.send": [
        {"tgt": ["ubuntu2"]}, {"tgt_type": "list"}, {"args": [{"tag": "brine/echo/reply"}]}]}


def test_echo_to_a_glob_is_rejected(react):
    assert list(react("echo", "brine/echo/request", event({}, minion="*"))) == ["brine-record"]


def test_a_replayed_event_is_inert(tmp_path):
    opts = {"cachedir": str(tmp_path)}
    data = signed(tmp_path, LINK_UP, event(link_up()), T)
    assert "brine-0-dualbond.reselect_primary" in decisions.reaction("link", LINK_UP, data, opts, received=T)
    again = decisions.reaction("link", LINK_UP, data, opts, received=T + 1)
    assert "replayed" in again["brine-record"]["runner.brine.record"][0]["args"][0]["entry"]["rejected"]


def test_a_stale_signature_is_inert(tmp_path):
    data = signed(tmp_path, LINK_UP, event(link_up()), T - 301)
    high = decisions.reaction("link", LINK_UP, data, {"cachedir": str(tmp_path)}, received=T)
    assert "stale" in high["brine-record"]["runner.brine.record"][0]["args"][0]["entry"]["rejected"]


def test_reactions_are_rate_limited_per_minion(tmp_path):
    opts = {"cachedir": str(tmp_path), "brine_reactions_burst": 3, "brine_reactions_per_minute": 6}

    def start(minion, at):
        tag = f"salt/minion/{minion}/start"
        return list(decisions.reaction("minion_start", tag, signed(tmp_path, tag, {"id": minion}, at), opts, received=at))

    acted = [start("ubuntu3", T + i * 0.01) for i in range(20)]
    assert acted.count(["brine-0-state.apply", "brine-record"]) == 3
    assert acted[3:] == [["brine-record"]] * 17
    assert start("ubuntu1", T + 0.5) == ["brine-0-state.apply", "brine-record"]  # others unaffected
    assert start("ubuntu3", T + 10.5) == ["brine-0-state.apply", "brine-record"]  # one more after 10 s
    assert start("ubuntu3", T + 10.6) == ["brine-record"]


def test_events_that_start_nothing_are_not_rate_limited(react):
    down = [react("link", "brine/net/link/down", event(link_up(carrier=False)), received=T + i) for i in range(30)]
    assert all("rejected" not in h["brine-record"]["runner.brine.record"][0]["args"][0]["entry"] for h in down)


def test_the_minion_signs_as_the_master_checks(tmp_path, monkeypatch):
    brine_sign = load_extension("modules", "brine_sign")
    key = minion_key(tmp_path, "ubuntu3")
    monkeypatch.setattr(brine_sign, "__opts__", {"id": "ubuntu3", "brine_events_key": key}, raising=False)
    payload = brine_sign.sign(LINK_UP, link_up())
    high = decisions.reaction("link", LINK_UP, event(payload), {"cachedir": str(tmp_path)})
    assert "brine-0-dualbond.reselect_primary" in high


def test_the_start_grain_signs_as_the_master_checks(tmp_path, monkeypatch):
    grain = load_extension("grains", "brine_start")
    key = minion_key(tmp_path, "ubuntu3")
    monkeypatch.setattr(grain, "__opts__", {"id": "ubuntu3", "brine_events_key": key}, raising=False)
    data = {"id": "ubuntu3", "data": "started", "grains": grain.brine_start_sig()}
    high = decisions.reaction("minion_start", "salt/minion/ubuntu3/start", data, {"cachedir": str(tmp_path)})
    assert "brine-0-state.apply" in high


def test_the_secret_is_private_and_kept(tmp_path):
    first = signing.master_secret(str(tmp_path / "brine"))
    assert signing.master_secret(str(tmp_path / "brine")) == first
    assert (tmp_path / "brine" / "events.secret").stat().st_mode & 0o777 == 0o600
    assert minion_key(tmp_path, "a") != minion_key(tmp_path, "b")


# --------------------------------------------------------------------------- VIP state (keepalived notify)


def vip_state(**changes):
    payload = {"vip": "internal", "state": "MASTER", "priority": 150, "timestamp": T}
    payload.update(changes)
    return payload


@pytest.mark.parametrize("state", ["MASTER", "BACKUP", "FAULT", "STOP", "DELETED"])
def test_vip_state_changes_are_recorded_with_no_action(react, state):
    high = react("vip", "brine/vip/state", event(vip_state(state=state), minion="ubuntu1"))
    assert list(high) == ["brine-record"]
    entry = high["brine-record"]["runner.brine.record"][0]["args"][0]["entry"]
    assert entry["minion"] == "ubuntu1" and entry["tag"] == "brine/vip/state" and entry["actions"] == []
    assert entry["event"] == {"vip": "internal", "state": state, "priority": 150, "timestamp": T}


def test_vip_state_without_a_priority_is_fine():
    payload = vip_state()
    del payload["priority"]
    _, record, actions = decisions.decide_vip("brine/vip/state", event(payload))
    assert record["priority"] is None and actions == []


@pytest.mark.parametrize("why, payload", [
    ("unknown VIP", vip_state(vip="storage")),
    ("VIP name with shell", vip_state(vip="internal;reboot")),
    ("lower-case state", vip_state(state="master")),
    ("made-up state", vip_state(state="PRIMARY")),
    ("huge state", vip_state(state="M" * 100_000)),
    ("priority too high", vip_state(priority=256)),
    ("priority negative", vip_state(priority=-1)),
    ("priority as text", vip_state(priority="150")),
    ("priority as bool", vip_state(priority=True)),
    ("no timestamp", {"vip": "internal", "state": "MASTER"}),
    ("NaN timestamp", vip_state(timestamp=float("nan"))),
    ("smuggled key", vip_state(mods="controller")),
    ("names another minion", vip_state(minion="ubuntu2")),
])
def test_hostile_vip_events_are_rejected(why, payload):
    with pytest.raises(Rejected):
        decisions.decide_vip("brine/vip/state", event(payload))


def test_vip_events_under_another_tag_are_rejected():
    with pytest.raises(Rejected, match="unexpected tag"):
        decisions.decide_vip("brine/vip/other", event(vip_state()))


def test_unsigned_vip_events_are_inert(tmp_path):
    high = decisions.reaction("vip", "brine/vip/state", event(vip_state()), {"cachedir": str(tmp_path)}, received=T)
    entry = high["brine-record"]["runner.brine.record"][0]["args"][0]["entry"]
    assert list(high) == ["brine-record"] and entry["rejected"].startswith("unsigned")


def test_the_runner_knows_the_states_and_vips_keepalived_and_the_inventory_name():
    brine_lb = load_extension("modules", "brine_lb")
    assert decisions.VIP_STATES == brine_lb.VIP_STATES
    assert set(decisions.VIP_NAMES) == {"internal", "external"}  # brine_inventory.check_vips's names


def test_the_reactor_for_vip_state_is_wired():
    from brine_testlib import REPO

    master = (REPO / "etc" / "master").read_text()
    assert "'brine/vip/state':\n    - /srv/brine/reactor/vip.sls" in master
    assert 'reaction("vip", tag, data, __opts__)' in (REPO / "reactor" / "vip.sls").read_text()


# --------------------------------------------------------------------------- snapshots


def snapshot(*bonds):
    return {"bonds": list(bonds) or [{"bond": "bond0", "backend": "ovs", "members": ["eth2", "eth3"],
                                      "up": ["eth2", "eth3"], "active": "eth2"}], "timestamp": T}


def test_snapshot_of_healthy_bonds_reapplies_only_the_loop_guard():
    _, record, actions = decisions.decide_link("brine/net/snapshot", event(snapshot()))
    assert actions == [("dualbond.loop_guard", {})]
    assert record["bonds"][0] == {"bond": "bond0", "backend": "ovs", "members": ["eth2", "eth3"],
                                  "up": ["eth2", "eth3"], "active": "eth2"}


def test_snapshot_of_an_ovs_bond_left_on_its_backup_reselects_on_the_sender():
    left = {"bond": "bond0", "backend": "ovs", "members": ["eth2", "eth3"], "up": ["eth3", "eth2"], "active": "eth3"}
    minion, record, actions = decisions.decide_link("brine/net/snapshot", event(snapshot(left)))
    assert minion == "ubuntu3"
    assert actions == [("dualbond.loop_guard", {}), ("dualbond.reselect_primary", {})]
    assert record["bonds"][0]["up"] == ["eth2", "eth3"]  # in the bond's order


@pytest.mark.parametrize("bond", [
    {"bond": "bond0", "backend": "linux", "members": ["eth2", "eth3"], "up": ["eth3"], "active": "eth3"},
    {"bond": "bond0", "backend": "ovs", "members": ["eth2", "eth3"], "up": ["eth3"], "active": "eth3"},
    {"bond": "bond0", "backend": "ovs", "members": ["eth2", "eth3"], "up": [], "active": None},
])
def test_snapshot_reselects_only_where_a_missed_link_up_would_have(bond):
    _, _, actions = decisions.decide_link("brine/net/snapshot", event(snapshot(bond)))
    assert actions == [("dualbond.loop_guard", {})]


GOOD_BOND = {"bond": "bond0", "backend": "ovs", "members": ["eth2", "eth3"], "up": ["eth2"], "active": "eth2"}
HOSTILE_SNAPSHOT = [
    ("no bonds", {"bonds": [], "timestamp": T}),
    ("not a list", {"bonds": "bond0", "timestamp": T}),
    ("too many bonds", {"bonds": [GOOD_BOND] * 17, "timestamp": T}),
    ("bond not a mapping", {"bonds": ["bond0"], "timestamp": T}),
    ("extra key", {"bonds": [dict(GOOD_BOND, argv=["rm"])], "timestamp": T}),
    ("up not members", {"bonds": [dict(GOOD_BOND, up=["eth9"])], "timestamp": T}),
    ("active not a member", {"bonds": [dict(GOOD_BOND, active="eth9")], "timestamp": T}),
    ("unknown backend", {"bonds": [dict(GOOD_BOND, backend="sh")], "timestamp": T}),
    ("name too long", {"bonds": [dict(GOOD_BOND, bond="b" * 16)], "timestamp": T}),
    ("target another minion", {"bonds": [GOOD_BOND], "timestamp": T, "target": "ubuntu1"}),
    ("NaN time", {"bonds": [GOOD_BOND], "timestamp": float("nan")}),
]


@pytest.mark.parametrize("why,payload", HOSTILE_SNAPSHOT, ids=[h[0] for h in HOSTILE_SNAPSHOT])
def test_hostile_snapshots_are_rejected(why, payload):
    with pytest.raises(Rejected):
        decisions.decide_link("brine/net/snapshot", event(payload))


# --------------------------------------------------------------------------- sign-in of new minions


def test_an_unsigned_start_of_a_minion_never_seen_signing_starts_its_sign_in_only(tmp_path):
    opts = {"cachedir": str(tmp_path)}
    high = decisions.reaction("minion_start", "salt/minion/newbox/start", {"id": "newbox"}, opts, received=T)
    assert sorted(high) == ["brine-0-runner.state.orchestrate", "brine-record"]
    assert high["brine-0-runner.state.orchestrate"] == {"runner.state.orchestrate": [{"args": [
        {"mods": "orch.brine_signin"}, {"pillar": {"brine_signin_minion": "newbox"}}]}]}
    entry = high["brine-record"]["runner.brine.record"][0]["args"][0]["entry"]
    assert entry["event"] == {"highstate": False, "signin": True}


def test_sign_ins_of_one_minion_are_spaced(tmp_path):
    opts = {"cachedir": str(tmp_path), "brine_signin_every": 300}

    def start(at):
        return sorted(decisions.reaction("minion_start", "salt/minion/newbox/start", {"id": "newbox"}, opts, received=at))

    assert "brine-0-runner.state.orchestrate" in start(T)
    assert start(T + 10) == ["brine-record"]
    assert start(T + 200) == ["brine-record"]
    assert "brine-0-runner.state.orchestrate" in start(T + 320)


def test_an_unsigned_start_of_a_minion_that_signed_before_is_refused(tmp_path):
    opts = {"cachedir": str(tmp_path)}
    decisions.reaction("echo", "brine/echo/request", signed(tmp_path, "brine/echo/request", event({}, minion="ubuntu2"), T),
                   opts, received=T)
    high = decisions.reaction("minion_start", "salt/minion/ubuntu2/start", {"id": "ubuntu2"}, opts, received=T + 1)
    assert list(high) == ["brine-record"]
    assert high["brine-record"]["runner.brine.record"][0]["args"][0]["entry"]["rejected"].startswith("unsigned start")


@pytest.mark.parametrize("data,tag", [
    ({"id": "newbox"}, "salt/minion/other/start"),
    ({"id": "a b"}, "salt/minion/a b/start"),
    ({"id": ["x"]}, "salt/minion/x/start"),
])
def test_a_sign_in_needs_a_consistent_valid_id(tmp_path, data, tag):
    assert list(decisions.reaction("minion_start", tag, data, {"cachedir": str(tmp_path)}, received=T)) == ["brine-record"]


def test_no_sign_in_when_highstate_on_start_is_off(tmp_path):
    opts = {"cachedir": str(tmp_path), "brine_highstate_on_start": False}
    assert list(decisions.reaction("minion_start", "salt/minion/newbox/start", {"id": "newbox"}, opts, received=T)) == ["brine-record"]


def test_a_bad_start_signature_is_refused_not_signed_in(tmp_path):
    data = {"id": "newbox", "grains": {"brine_start_sig": {"ts": T, "nonce": "00", "mac": "ff"}}}
    high = decisions.reaction("minion_start", "salt/minion/newbox/start", data, {"cachedir": str(tmp_path)}, received=T)
    assert list(high) == ["brine-record"]
