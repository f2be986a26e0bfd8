"""The brine runner's Galera block: brine/galera/stopped validated and signed, the reaction, and
galera_recover's thin layer (inventory order, the event it records, the lock)."""

import json
import os

import pytest
from brine_testlib import load_extension
from brinelib import decisions
from brinelib.events import Rejected
from events_keys import signed

brine = load_extension("runners", "brine")
T = 1_700_000_000.0
TAG = "brine/galera/stopped"
U1 = "9acf4d34-acdb-11e6-bcc3-d3e36276629f"


def event(payload, minion="ubuntu2"):
    return {"id": minion, "cmd": "_minion_event", "tag": TAG, "data": payload, "_stamp": "2026-11-22T00:00:00"}


def test_abnormal_stop_asks_for_recovery():
    minion, record, recover = decisions.decide_galera_stopped(TAG, event({"result": "signal", "exit_code": "killed",
                                                                       "exit_status": "KILL"}))
    assert (minion, recover) == ("ubuntu2", True) and record["result"] == "signal"


def test_clean_stop_is_only_recorded():
    assert decisions.decide_galera_stopped(TAG, event({"result": "success", "exit_code": "exited",
                                                   "exit_status": "0"}))[2] is False


@pytest.mark.parametrize("payload", [
    {},
    {"result": "nuked"},
    {"result": "signal", "exit_code": "vanished"},
    {"result": "signal", "exit_status": "x" * 17},
    {"result": "signal", "exit_status": "a b"},
    {"result": "signal", "extra": 1},
    {"result": "signal", "minion": "ubuntu1"},
    {"result": ["signal"]},
])
def test_hostile_payloads_rejected(payload):
    with pytest.raises(Rejected):
        decisions.decide_galera_stopped(TAG, event(payload))


def test_wrong_tag_rejected():
    with pytest.raises(Rejected):
        decisions.decide_galera_stopped("brine/galera/other", event({"result": "signal"}))


def test_reaction_runs_the_runner_only_for_a_signed_abnormal_stop(tmp_path):
    opts = {"cachedir": str(tmp_path)}
    high = decisions.galera_reaction(TAG, signed(tmp_path, TAG, event({"result": "signal"}), T), opts, received=T)
    assert high["brine-0-galera-recover"] == {"runner.brine.galera_recover": [{"args": [{"trigger": "ubuntu2"}]}]}
    entry = high["brine-record"]["runner.brine.record"][0]["args"][0]["entry"]
    assert entry["tag"] == TAG and entry["actions"][0]["fun"] == "runner.brine.galera_recover"
    high = decisions.galera_reaction(TAG, signed(tmp_path, TAG, event({"result": "success"}), T + 1), opts,
                                 received=T + 1)
    assert list(high) == ["brine-record"]


def test_reaction_refuses_unsigned(tmp_path):
    high = decisions.galera_reaction(TAG, event({"result": "signal"}), {"cachedir": str(tmp_path)}, received=T)
    assert list(high) == ["brine-record"]
    assert "rejected" in high["brine-record"]["runner.brine.record"][0]["args"][0]["entry"]


def test_reactor_file_and_master_wiring():
    from brine_testlib import REPO
    import yaml
    text = (REPO / "reactor" / "galera.sls").read_text()
    assert text.startswith("#!py") and "galera_reaction(tag, data, __opts__)" in text
    master = yaml.safe_load((REPO / "etc" / "master").read_text())
    assert {TAG: ["/srv/brine/reactor/galera.sls"]} in master["reactor"]


def test_galera_recover_records_decision_and_outcome(tmp_path, monkeypatch, inventory):
    positions = {"ubuntu1": {"state": "down", "uuid": U1, "seqno": 7, "safe_to_bootstrap": 0, "source": "grastate"},
                 "ubuntu2": {"state": "unreadable", "reason": "no grastate.dat"},
                 "ubuntu3": {"state": "down", "uuid": U1, "seqno": 9, "safe_to_bootstrap": 0, "source": "grastate"}}
    calls = []

    def execute(tgt, fun, arg=(), tgt_type="glob", timeout=None):
        calls.append((tuple(tgt), fun, tuple(arg)))
        assert tgt_type == "list"
        if fun == "brine_galera.position":
            return {n: positions[n] for n in tgt}
        if fun == "brine_galera.status":
            return {n: {"synced": True, "health": "synced"} for n in tgt}
        return {n: {"started": True} for n in tgt}

    monkeypatch.setattr(brine, "__opts__", {"cachedir": str(tmp_path)}, raising=False)
    monkeypatch.setattr(brine, "__salt__", {"pillar.show_pillar": lambda: {"brine": inventory},
                                            "salt.execute": execute}, raising=False)
    out = brine.galera_recover(trigger="ubuntu2")
    assert out["decision"] == "refused" and out["node"] == "ubuntu2"
    assert [c for c in calls if c[1] != "brine_galera.position"] == []
    out = brine.galera_recover(force="ubuntu3")
    assert out["decision"] == "bootstrap" and out["bootstrap"] == "ubuntu3" and out["outcome"] == "done"
    assert ("ubuntu3",) == calls[[c[1] for c in calls].index("brine_galera.bootstrap")][0]
    with open(tmp_path / "brine" / "events.jsonl") as fh:
        records = [json.loads(line) for line in fh]
    assert [r["tag"] for r in records] == ["brine/galera/recovery"] * 4
    assert records[0]["event"]["decision"] == "refused" and "ubuntu2" in records[0]["event"]["reason"]
    assert records[-1]["event"]["outcome"] == "done" and records[-1]["event"]["force"] == "ubuntu3"
    assert oct(os.stat(tmp_path / "brine" / "galera.lock").st_mode & 0o777) == "0o600"
    with pytest.raises(ValueError):
        brine.galera_recover(force="ubuntu1; rm -rf /")


def test_galera_form_bootstraps_the_first_and_records(tmp_path, monkeypatch, inventory):
    calls = []

    def execute(tgt, fun, arg=(), tgt_type="glob", timeout=None):
        calls.append((tuple(tgt), fun))
        if fun == "brine_galera.formation_status":
            return {n: {"running": False, "has_state": False} for n in tgt}
        if fun == "brine_galera.status":
            return {n: {"synced": True, "health": "synced"} for n in tgt}
        if fun == "brine_galera.ensure_users":
            return {n: {"changed": []} for n in tgt}
        return {n: {"started": True} for n in tgt}

    context = {}
    monkeypatch.setattr(brine, "__opts__", {"cachedir": str(tmp_path)}, raising=False)
    monkeypatch.setattr(brine, "__context__", context, raising=False)
    monkeypatch.setattr(brine, "__salt__", {"pillar.show_pillar": lambda: {"brine": inventory},
                                            "salt.execute": execute}, raising=False)
    out = brine.galera_form()
    assert out["outcome"] == "done" and "retcode" not in context
    assert [c for c in calls if c[1] in ("brine_galera.new_cluster", "brine_galera.start")] == [
        (("ubuntu1",), "brine_galera.new_cluster"), (("ubuntu2",), "brine_galera.start"),
        (("ubuntu3",), "brine_galera.start")]
    with open(tmp_path / "brine" / "events.jsonl") as fh:
        assert json.loads(fh.readline())["tag"] == "brine/galera/formation"
