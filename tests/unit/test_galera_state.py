"""The brine_galera.accounts_present state: only on a Synced node, truthful in test mode, no
password in any return."""

import pytest
from brine_testlib import load_extension

state = load_extension("states", "brine_galera")


@pytest.fixture
def salt(monkeypatch):
    calls = []
    box = {"synced": True, "missing": ["brine_sst@localhost"]}

    def ensure_users(test=False):
        calls.append(test)
        changed = list(box["missing"])
        if not test:
            box["missing"] = []
        return {"changed": changed, "test": test}

    monkeypatch.setattr(state, "__salt__", {"brine_galera.status": lambda: {"synced": box["synced"], "health": "h"},
                                            "brine_galera.ensure_users": ensure_users}, raising=False)
    monkeypatch.setattr(state, "__opts__", {"test": False}, raising=False)
    return box, calls


def test_not_synced_changes_nothing(salt):
    box, calls = salt
    box["synced"] = False
    ret = state.accounts_present("galera")
    assert ret["result"] is True and ret["changes"] == {} and "not Synced" in ret["comment"] and calls == []


def test_test_mode_says_what_would_change(salt, monkeypatch):
    box, calls = salt
    monkeypatch.setattr(state, "__opts__", {"test": True}, raising=False)
    ret = state.accounts_present("galera")
    assert ret["result"] is None and ret["changes"] == {"accounts": ["brine_sst@localhost"]} and calls == [True]


def test_apply_then_nothing(salt):
    box, calls = salt
    ret = state.accounts_present("galera")
    assert ret["result"] is True and ret["changes"] == {"accounts": ["brine_sst@localhost"]}
    ret = state.accounts_present("galera")
    assert ret["result"] is True and ret["changes"] == {}
    assert calls == [True, False, True]
