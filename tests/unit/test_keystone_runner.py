"""salt-run brine_keystone.*: the runner's thin layer against a stub of the master's LocalClient
(``salt.execute``) whose controllers keep their key repositories in memory and answer as
_modules/brine_keystone.py does (the live module itself runs in
tests/functional/test_keystone_relay.py). What is called where, the retcode, and that no key
byte leaves in the return or the log."""

import base64
import itertools
import logging

import pytest
from brinelib import keystone_keys as kk
from keystone_master import runner, wire
NODES = ["ubuntu1", "ubuntu2", "ubuntu3"]


class StubMaster:
    """``salt.execute`` for the runner: each controller's repositories as ``{kind: {index: bytes}}``."""

    def __init__(self, nodes=NODES):
        self.repos = {node: {"fernet": {}, "credential": {}} for node in nodes}
        self.calls, self.silent, self.broken = [], set(), set()
        self.after = {}  # function name: what else happens on the controllers once it returned
        self.numbers = itertools.count(1)
        self.issued = []  # every key the stub ever made

    def new_key(self):
        value = base64.urlsafe_b64encode(next(self.numbers).to_bytes(4, "big") * 8)
        self.issued.append(value)
        return value

    def execute(self, tgt, fun, arg=(), tgt_type="glob", kwarg=None, timeout=None):
        assert tgt_type == "list" and fun.startswith("brine_keystone.")
        name = fun.split(".", 1)[1]
        self.calls.append((tuple(tgt), name, kwarg.get("kind")))
        out = {node: self.answer(node, name, list(arg), dict(kwarg)) for node in tgt if node not in self.silent}
        self.after.pop(name, lambda: None)()
        return out

    def answer(self, node, fun, arg, kwarg):
        kind = kwarg.pop("kind")
        assert not kwarg, "the runner passes only the kind; paths and owners are the node's"
        repo = self.repos[node][kind]
        if node in self.broken and fun != "key_digest":
            return "ERROR: brine_keystone.%s: the disk is full" % fun
        if fun == "key_digest":
            return {"path": "/etc/keystone/x", "digest": kk.digest(repo), "primary": kk.primary(repo),
                    "keys": {str(i): d for i, d in kk.digests(repo).items()}}
        if fun == "read_keys":
            return {str(i): base64.b64encode(v).decode() for i, v in repo.items()}
        if fun == "apply_keys":
            source = {int(i): base64.b64decode(v) for i, v in arg[0].items()}
            try:
                plan = kk.sync_plan(source, repo)
            except kk.KeySyncRefused as exc:
                return f"ERROR: {exc}"
            self.repos[node][kind] = dict(source)
            return kk.changes(plan)
        if fun == "setup_keys":
            if repo:
                return {"added": [], "removed": []}
            self.repos[node][kind] = kk.initial_set(3, self.new_key(), self.new_key())
            return {"added": sorted(self.repos[node][kind]), "removed": []}
        if fun == "rotate":
            plan = kk.rotation_plan(repo, 3)
            self.repos[node][kind] = kk.rotated(repo, 3, self.new_key())
            return {"added": sorted({0, plan["promote"][1]}), "removed": plan["purge"]}
        raise AssertionError(fun)

    def funs(self, name):
        return [call for call in self.calls if call[1] == name]


@pytest.fixture
def master(monkeypatch, inventory, tmp_path):
    stub = StubMaster()
    stub.context = wire(monkeypatch, inventory, stub.execute, tmp_path / "master")
    return stub


def no_key_in(text, stub):
    for value in stub.issued:
        assert value.decode() not in text and base64.b64encode(value).decode() not in text


def test_clean_slate_sets_up_on_the_rotator_only_and_relays(master, caplog):
    caplog.set_level(logging.DEBUG)
    out = runner.sync_keys()
    assert [c for c in master.funs("setup_keys")] == [(("ubuntu1",), "setup_keys", "fernet"),
                                                     (("ubuntu1",), "setup_keys", "credential")]
    assert master.funs("read_keys") == [(("ubuntu1",), "read_keys", "fernet"), (("ubuntu1",), "read_keys", "credential")]
    assert master.funs("apply_keys") == [(("ubuntu2", "ubuntu3"), "apply_keys", "fernet"),
                                         (("ubuntu2", "ubuntu3"), "apply_keys", "credential")]
    for kind in ("fernet", "credential"):
        assert out[kind]["action"] == "setup" and out[kind]["in_sync"] and out[kind]["source"] == "ubuntu1"
        digest = kk.digest(master.repos["ubuntu1"][kind])
        assert {n: r["digest"] for n, r in out[kind]["nodes"].items()} == dict.fromkeys(NODES, digest)
        assert all(out[kind]["nodes"][n]["added"] == [0, 1] for n in NODES)
    assert "retcode" not in master.context
    no_key_in(repr(out) + caplog.text, master)
    master.calls.clear()
    again = runner.sync_keys()
    assert [c[1] for c in master.calls] == ["key_digest"] * 4 and again["fernet"]["action"] == "in sync"


def test_a_rebuilt_rotator_gets_the_followers_set_back_never_a_new_one(master):
    runner.sync_keys()
    kept = dict(master.repos["ubuntu2"]["fernet"])
    master.repos["ubuntu1"] = {"fernet": {}, "credential": {}}
    out = runner.sync_keys(kinds=["fernet"])
    assert out["fernet"]["action"] == "copy back" and out["fernet"]["source"] == "ubuntu2" and out["fernet"]["in_sync"]
    assert master.funs("setup_keys")[2:] == [] and master.repos["ubuntu1"]["fernet"] == kept
    assert master.funs("read_keys")[-1] == (("ubuntu2",), "read_keys", "fernet")
    assert master.funs("apply_keys")[-1] == (("ubuntu1",), "apply_keys", "fernet")


def test_disagreeing_holders_with_an_empty_rotator_are_refused_untouched(master, caplog):
    runner.sync_keys(kinds="fernet")
    master.repos["ubuntu1"]["fernet"] = {}
    master.repos["ubuntu3"]["fernet"] = kk.initial_set(3, master.new_key(), master.new_key())
    before = {n: dict(r["fernet"]) for n, r in master.repos.items()}
    master.calls.clear()
    out = runner.sync_keys(kinds="fernet")
    assert out["fernet"]["action"] == "refuse" and out["fernet"]["refused"] == ["ubuntu2", "ubuntu3"]
    assert master.context["retcode"] == 1
    assert [c[1] for c in master.calls] == ["key_digest"]
    assert {n: r["fernet"] for n, r in master.repos.items()} == before
    no_key_in(repr(out) + caplog.text, master)


def test_a_silent_controller_stops_everything(master):
    master.silent.add("ubuntu3")
    out = runner.sync_keys()
    assert out["fernet"]["refused"] == ["ubuntu3"] and master.context["retcode"] == 1
    assert master.funs("setup_keys") == [] and master.repos["ubuntu1"]["fernet"] == {}


def test_a_follower_that_fails_is_named_and_fails_the_run(master):
    master.broken.add("ubuntu3")
    out = runner.sync_keys(kinds=["fernet"])
    assert out["fernet"]["errors"] == {"ubuntu3": "ERROR: brine_keystone.apply_keys: the disk is full"}
    assert not out["fernet"]["in_sync"] and master.context["retcode"] == 1
    assert out["fernet"]["nodes"]["ubuntu2"]["digest"] == out["fernet"]["nodes"]["ubuntu1"]["digest"]


def test_rotate_refuses_until_every_controller_holds_the_same_set(master):
    runner.sync_keys()
    master.repos["ubuntu2"]["fernet"] = {}
    out = runner.rotate()
    assert out["fernet"]["action"] == "refuse" and out["fernet"]["refused"] == ["ubuntu2"]
    assert master.funs("rotate") == [] and master.context["retcode"] == 1


def test_three_rotations_keep_every_key_a_token_may_carry(master, caplog):
    runner.sync_keys()
    for _ in range(3):
        before = master.repos["ubuntu1"]["fernet"]
        carried = {max(before): before[max(before)], 0: before[0]}  # the primary encrypts; 0 is the next one
        out = runner.rotate()
        assert out["fernet"]["action"] == "rotate" and out["fernet"]["in_sync"]
        assert out["fernet"]["nodes"]["ubuntu1"]["added"] == [0, max(before) + 1]
        for node in NODES:
            repo = master.repos[node]["fernet"]
            assert set(carried.values()) <= set(repo.values())
            assert repo == master.repos["ubuntu1"]["fernet"]
    assert [c[0] for c in master.funs("rotate")] == [("ubuntu1",)] * 3
    assert "retcode" not in master.context
    no_key_in(repr(out) + caplog.text, master)


def test_status(master):
    runner.sync_keys(kinds=["fernet"])
    master.silent.add("ubuntu2")
    out = runner.status()
    assert out["fernet"]["ready_to_rotate"] is False and out["fernet"]["differ"] == ["ubuntu2"]
    assert out["fernet"]["nodes"]["ubuntu2"] == {"digest": None, "primary": None}
    assert out["fernet"]["nodes"]["ubuntu3"]["primary"] == 1
    assert out["credential"]["nodes"]["ubuntu1"]["digest"] == kk.EMPTY_DIGEST


def test_bad_kinds_and_no_controllers(master, monkeypatch):
    with pytest.raises(ValueError, match="kinds"):
        runner.sync_keys(kinds=["jwt"])
    with pytest.raises(ValueError, match="credential_migrate"):
        runner.rotate(kinds=["fernet", "credential"])
    assert master.calls == []
    monkeypatch.setitem(runner.__salt__, "pillar.show_pillar", lambda: {"brine": {"hosts": {}}})
    with pytest.raises(ValueError, match="no controllers"):
        runner.status()


def test_the_masters_schedule_rotates_weekly_with_the_defaults():
    import inspect

    import yaml
    from brine_testlib import REPO

    master = yaml.safe_load((REPO / "etc" / "master").read_text())
    assert master["schedule"]["brine-keystone-rotate"] == {"function": "brine_keystone.rotate", "days": 7}
    assert inspect.signature(runner.rotate).parameters["kinds"].default == ("fernet",)


def test_one_relay_at_a_time_on_this_master(master, tmp_path):
    import fcntl
    import os
    import threading

    lock = tmp_path / "master" / "brine" / "keystone-keys.lock"
    runner.sync_keys(kinds=["fernet"])
    assert oct(os.stat(lock).st_mode & 0o777) == "0o600"
    held = os.open(lock, os.O_RDWR)
    fcntl.flock(held, fcntl.LOCK_EX)
    master.calls.clear()
    thread = threading.Thread(target=runner.rotate)
    thread.start()
    thread.join(0.3)
    assert thread.is_alive() and master.calls == []  # a rotation waits for the running sync
    os.close(held)
    thread.join(10)
    assert [c[1] for c in master.calls].count("rotate") == 1


def test_test_mode_only_asks_for_digests(master):
    out = runner.sync_keys(test=True)
    assert out["fernet"]["action"] == "setup" and out["fernet"]["targets"] == NODES
    assert {c[1] for c in master.calls} == {"key_digest"} and master.repos["ubuntu1"]["fernet"] == {}
    assert "retcode" not in master.context
    runner.sync_keys()
    master.repos["ubuntu2"]["credential"] = {}
    out = runner.sync_keys(test=True)
    assert out["fernet"]["targets"] == [] and out["fernet"]["in_sync"]
    assert out["credential"]["action"] == "relay" and out["credential"]["targets"] == ["ubuntu2"]
    assert master.repos["ubuntu2"]["credential"] == {}
    master.repos["ubuntu1"]["credential"] = {}
    master.repos["ubuntu2"]["credential"] = kk.initial_set(3, master.new_key(), master.new_key())
    assert runner.sync_keys(test=True)["credential"]["action"] == "refuse" and master.context["retcode"] == 1


def test_a_set_that_appears_on_a_follower_during_setup_is_refused_not_overwritten(master):
    def meanwhile():
        master.repos["ubuntu3"]["fernet"] = kk.initial_set(3, master.new_key(), master.new_key())

    master.after["setup_keys"] = meanwhile
    out = runner.sync_keys(kinds=["fernet"])
    assert out["fernet"]["action"] == "refuse" and out["fernet"]["refused"] == ["ubuntu3"]
    assert out["fernet"]["nodes"]["ubuntu1"]["added"] == [0, 1]
    assert master.funs("apply_keys") == [] and master.context["retcode"] == 1
