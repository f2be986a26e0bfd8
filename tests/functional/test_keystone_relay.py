"""
salt-run brine_keystone.sync_keys and rotate for real across three controllers on this host: each
"controller" is a pair of key directories, and the master's LocalClient (``salt.execute``) is
replaced by a call to the real execution module (_modules/brine_keystone.py) with that node's
paths, so every key is staged, owned, renamed and removed on disk as on a controller. Tokens are
Fernet tokens issued and validated the way Keystone does (MultiFernet over the repository's
keys, the highest index first): every token issued on any node before a rotation validates on
every node after it. A rebuilt rotator and a rebuilt follower get the set back.
"""

import base64
import os
import shutil
import stat

import pytest
from cryptography.fernet import Fernet, MultiFernet
from keystone_master import runner, wire

import brine_keystone as module
from brinelib import keystone_keys as kk
NODES = ["ubuntu1", "ubuntu2", "ubuntu3"]
USER, GROUP, UID, GID = "nobody", "nogroup", 65534, 65534

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="key owners can only be set as root")


class Controllers:
    """Three controllers' key repositories under ``root``; ``execute`` is the master's LocalClient."""

    def __init__(self, root):
        self.root = root
        self.calls = []

    def path(self, node, kind):
        return str(self.root / node / f"{kind}-keys")

    def execute(self, tgt, fun, arg=(), tgt_type="glob", kwarg=None, timeout=None):
        name = fun.split(".", 1)[1]
        self.calls.append((tuple(tgt), name))
        kwarg = dict(kwarg or {})
        out = {}
        for node in tgt:
            extra = {"path": self.path(node, kwarg["kind"])}
            if name in ("apply_keys", "setup_keys", "rotate"):
                extra.update(user=USER, group=GROUP)
            if name in ("setup_keys", "rotate"):
                extra.update(config=str(self.root / "keystone.conf"))
            out[node] = getattr(module, name)(*arg, **kwarg, **extra)
        return out

    def repo(self, node, kind="fernet"):
        return module._read_repository(self.path(node, kind))


def keystone_fernet(repo):
    """Keystone's token provider over a repository: the primary (highest index) encrypts."""
    return MultiFernet([Fernet(repo[i]) for i in sorted(repo, reverse=True)])


@pytest.fixture
def controllers(tmp_path, monkeypatch, inventory):
    nodes = Controllers(tmp_path)
    nodes.context = wire(monkeypatch, inventory, nodes.execute, tmp_path / "master")
    return nodes


def test_sync_then_three_rotations_keep_every_token_valid(controllers):
    out = runner.sync_keys()
    assert [out[k]["action"] for k in ("fernet", "credential")] == ["setup", "setup"]
    assert all(out[k]["in_sync"] for k in out) and "retcode" not in controllers.context
    for kind in ("fernet", "credential"):
        first = controllers.repo("ubuntu1", kind)
        assert sorted(first) == [0, 1]
        for node in NODES:
            path = controllers.path(node, kind)
            assert controllers.repo(node, kind) == first
            st = os.stat(path)
            assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (UID, GID, 0o700)
            for name in os.listdir(path):
                st = os.stat(os.path.join(path, name))
                assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (UID, GID, 0o600)
    texts = [repr(out)]
    for rotation in range(3):
        before = controllers.repo("ubuntu1")
        tokens = {node: keystone_fernet(controllers.repo(node)).encrypt(f"token {rotation} {node}".encode())
                  for node in NODES}
        out = runner.rotate()
        texts.append(repr(out))
        assert out["fernet"]["action"] == "rotate" and out["fernet"]["in_sync"] and "retcode" not in controllers.context
        after = controllers.repo("ubuntu1")
        assert after == kk.rotated(before, 3, after[0])
        digests = {out["fernet"]["nodes"][node]["digest"] for node in NODES}
        assert digests == {kk.digest(after)}
        for node in NODES:
            repo = controllers.repo(node)
            assert repo == after
            assert repo[max(before) + 1] == before[0]  # the staged key is the new primary everywhere
            assert repo[max(before)] == before[max(before)]  # the previous primary still decrypts
            for issuer, token in tokens.items():
                assert keystone_fernet(repo).decrypt(token) == f"token {rotation} {issuer}".encode()
    assert controllers.repo("ubuntu2", "credential") == controllers.repo("ubuntu1", "credential")
    everything = "".join(texts)
    for node in NODES:
        for kind in ("fernet", "credential"):
            for value in controllers.repo(node, kind).values():
                assert value.decode() not in everything and base64.b64encode(value).decode() not in everything


def test_rebuilt_nodes_get_the_set_back(controllers):
    runner.sync_keys()
    runner.rotate()
    kept = controllers.repo("ubuntu2")
    token = keystone_fernet(kept).encrypt(b"issued before the rebuild")
    shutil.rmtree(controllers.root / "ubuntu1")  # the rotator rebuilt from nothing
    assert runner.status()["fernet"]["ready_to_rotate"] is False
    out = runner.sync_keys()
    assert out["fernet"]["action"] == out["credential"]["action"] == "copy back"
    assert controllers.repo("ubuntu1") == kept
    assert keystone_fernet(controllers.repo("ubuntu1")).decrypt(token) == b"issued before the rebuild"
    shutil.rmtree(controllers.root / "ubuntu3")  # a follower rebuilt from nothing
    out = runner.sync_keys(kinds=["fernet"])
    assert out["fernet"]["action"] == "relay" and out["fernet"]["nodes"]["ubuntu3"]["added"] == sorted(kept)
    assert controllers.repo("ubuntu3") == kept and runner.status()["fernet"]["ready_to_rotate"] is True


def test_a_follower_set_up_on_its_own_is_refused_and_left_alone(controllers):
    runner.sync_keys(kinds=["fernet"])
    shutil.rmtree(controllers.root / "ubuntu2")
    module.setup_keys(path=controllers.path("ubuntu2", "fernet"), user=USER, group=GROUP)
    alone = controllers.repo("ubuntu2")
    controllers.calls.clear()
    out = runner.sync_keys(kinds=["fernet"])
    assert out["fernet"]["action"] == "refuse" and out["fernet"]["refused"] == ["ubuntu2"]
    assert controllers.context["retcode"] == 1 and {c[1] for c in controllers.calls} == {"key_digest"}
    assert controllers.repo("ubuntu2") == alone
    assert runner.rotate()["fernet"]["action"] == "refuse"
