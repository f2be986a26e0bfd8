"""brine_keystone's live layer on temporary directories: digests, the rotator's keys, and a
follower's sync (owner and mode, test mode, refusals, a crash between staging and rename, and
Keystone's view of the directory after every file operation)."""

import base64
import fcntl
import itertools
import os
import stat
import threading
import time

import pytest

import brine_keystone as bk
from brinelib import keystone_keys as kk
from brinelib.errors import CommandExecutionError

USER, GROUP = "nobody", "nogroup"
UID, GID = 65534, 65534

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="owners can only be set as root")


def key(n):
    return base64.urlsafe_b64encode(n.to_bytes(4, "big") * 8)


def rotator_states(rotations=5):
    counter = itertools.count(100)
    repo = kk.rotated({0: key(next(counter))}, 3, key(next(counter)))
    states = [repo]
    for _ in range(rotations):
        repo = kk.rotated(repo, 3, key(next(counter)))
        states.append(repo)
    return states


def write_repo(path, repo, uid=UID, gid=GID, mode=0o600):
    os.makedirs(path, exist_ok=True)
    for index, value in repo.items():
        full = os.path.join(path, str(index))
        with open(full, "wb") as fh:
            fh.write(value)
        os.chown(full, uid, gid)
        os.chmod(full, mode)


def keystone_view(path):
    """What Keystone's FernetUtils._get_key_files loads: every file opened, int names kept."""
    keys = {}
    for name in os.listdir(path):
        full = os.path.join(path, name)
        if os.path.isfile(full):
            with open(full, "rb") as fh:
                content = fh.read()
            try:
                index = int(name)
            except ValueError:
                continue
            if content:
                keys[index] = content
    return keys


def apply(repo, path, **kwargs):
    encoded = {str(i): base64.b64encode(v).decode() for i, v in repo.items()}
    return bk.apply_keys(encoded, kind="fernet", path=str(path), user=USER, group=GROUP, **kwargs)


def test_virtual():
    assert bk.__virtual__() == "brine_keystone"


def test_default_paths_and_kinds():
    assert bk._repository_path("fernet", None) == "/etc/keystone/fernet-keys"
    assert bk._repository_path("credential", None) == "/etc/keystone/credential-keys"
    assert bk._repository_path("credential", "/x") == "/x"
    with pytest.raises(CommandExecutionError, match="kind"):
        bk._repository_path("jwt", None)


def test_read_keys_and_digest_round_trip(tmp_path):
    repo = rotator_states()[-1]
    write_repo(tmp_path / "keys", repo)
    (tmp_path / "keys" / "0.tmp").write_bytes(b"half written")
    (tmp_path / "keys" / "7.empty").write_bytes(b"")
    (tmp_path / "keys" / "9").write_bytes(b"")  # empty: Keystone ignores it
    read = bk.read_keys(path=str(tmp_path / "keys"))
    assert {int(i): base64.b64decode(v) for i, v in read.items()} == repo
    result = bk.key_digest(path=str(tmp_path / "keys"))
    assert result["digest"] == kk.digest(repo)
    assert result["primary"] == max(repo)
    assert result["keys"] == {str(i): d for i, d in kk.digests(repo).items()}
    for value in repo.values():
        assert value.decode() not in str(result)


def test_missing_repository_is_empty(tmp_path):
    assert bk.key_digest(path=str(tmp_path / "none")) == {
        "path": str(tmp_path / "none"), "digest": kk.EMPTY_DIGEST, "primary": None, "keys": {}}
    assert bk.read_keys(path=str(tmp_path / "none")) == {}


def test_a_name_keystone_reads_as_another_number_is_refused(tmp_path):
    write_repo(tmp_path / "keys", {1: key(1)})
    (tmp_path / "keys" / "01").write_bytes(key(2))
    with pytest.raises(CommandExecutionError, match="reads it as key 1"):
        bk.key_digest(path=str(tmp_path / "keys"))


def test_sync_to_a_node_with_nothing_creates_the_repository_owned_and_private(tmp_path):
    source = rotator_states()[-1]
    path = tmp_path / "keystone" / "fernet-keys"
    assert apply(source, path, test=True) == {"added": sorted(source), "removed": []}
    assert not path.exists()
    assert apply(source, path) == {"added": sorted(source), "removed": []}
    assert keystone_view(path) == source
    st = os.stat(path)
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (UID, GID, 0o700)
    for index in source:
        st = os.stat(path / str(index))
        assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (UID, GID, 0o600)
    assert os.listdir(bk._staging_path(str(path))) == []
    assert apply(source, path) == {"added": [], "removed": []}


def test_test_mode_reports_the_same_changes_and_writes_nothing(tmp_path):
    states = rotator_states()
    write_repo(tmp_path / "k", states[1])
    expected = apply(states[-1], tmp_path / "k", test=True)
    assert keystone_view(tmp_path / "k") == states[1]
    assert apply(states[-1], tmp_path / "k") == expected
    assert expected["removed"] and expected["added"]
    assert keystone_view(tmp_path / "k") == states[-1]


def test_wrong_owner_or_mode_is_rewritten(tmp_path):
    source = rotator_states()[-1]
    write_repo(tmp_path / "k", source)
    top = max(source)
    os.chown(tmp_path / "k" / str(top), 0, 0)
    os.chmod(tmp_path / "k" / "0", 0o644)
    assert apply(source, tmp_path / "k") == {"added": [0, top], "removed": []}
    for index in source:
        st = os.stat(tmp_path / "k" / str(index))
        assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (UID, GID, 0o600)


def test_refusals_leave_the_follower_untouched(tmp_path):
    states = rotator_states()
    write_repo(tmp_path / "k", states[-1])
    with pytest.raises(CommandExecutionError, match="newer than the source"):
        apply(states[1], tmp_path / "k")
    with pytest.raises(CommandExecutionError, match="never emptied"):
        apply({}, tmp_path / "k")
    with pytest.raises(CommandExecutionError, match="source key 1"):
        apply({0: key(1), 1: b"not a key"}, tmp_path / "k")
    with pytest.raises(CommandExecutionError, match="not base64"):
        bk.apply_keys({"0": "%%%"}, path=str(tmp_path / "k"), user=USER, group=GROUP)
    with pytest.raises(CommandExecutionError, match="whole number"):
        bk.apply_keys({"x": base64.b64encode(key(1)).decode()}, path=str(tmp_path / "k"), user=USER, group=GROUP)
    with pytest.raises(CommandExecutionError, match="does not exist"):
        bk.apply_keys({"0": base64.b64encode(key(1)).decode()}, path=str(tmp_path / "k"), user="no-such-user-x")
    assert keystone_view(tmp_path / "k") == states[-1]


class Crash(BaseException):
    """The process dying at this point (not an error the module could handle)."""


def test_a_crash_between_staging_and_rename_keeps_the_old_set_and_a_rerun_converges(tmp_path, monkeypatch):
    states = rotator_states()
    write_repo(tmp_path / "k", states[1])

    def crash(*args):
        raise Crash()

    monkeypatch.setattr(bk.os, "replace", crash)
    with pytest.raises(Crash):
        apply(states[-1], tmp_path / "k")
    assert keystone_view(tmp_path / "k") == states[1]
    assert sorted(os.listdir(tmp_path / "k")) == sorted(str(i) for i in states[1])
    assert os.listdir(bk._staging_path(str(tmp_path / "k")))  # the staged keys, out of Keystone's sight
    monkeypatch.undo()
    assert apply(states[-1], tmp_path / "k") == kk.changes(kk.sync_plan(states[-1], states[1]))
    assert keystone_view(tmp_path / "k") == states[-1]
    assert os.listdir(bk._staging_path(str(tmp_path / "k"))) == []


def test_a_crash_halfway_through_the_renames_still_validates_and_converges(tmp_path, monkeypatch):
    states = rotator_states()
    write_repo(tmp_path / "k", states[2])
    real_replace, done = os.replace, []

    def replace_once(src, dst):
        if done:
            raise Crash()
        done.append(dst)
        real_replace(src, dst)

    monkeypatch.setattr(bk.os, "replace", replace_once)
    with pytest.raises(Crash):
        apply(states[-1], tmp_path / "k")
    view = keystone_view(tmp_path / "k")
    assert view[max(view)] == states[-1][max(states[-1])]  # already encrypting with the rotator's primary
    assert all(view[i] == states[2][i] for i in states[2] if i in states[-1] and states[-1][i] == states[2][i])
    monkeypatch.undo()
    apply(states[-1], tmp_path / "k")
    assert keystone_view(tmp_path / "k") == states[-1]


def test_keystone_can_read_every_key_after_every_file_operation(tmp_path, monkeypatch):
    """Keystone (another user) lists and opens every file of the directory on each token: after
    each rename and removal it must read the keys it is meant to, each owned by its user and
    0600, and hold every key the rotator's primary and secondaries need once the writes are done."""
    states = rotator_states()
    start, source = {0: key(1), 1: key(2)}, states[-1]  # the package's own setup, then the cluster's keys
    write_repo(tmp_path / "k", start)
    seen = []
    real_replace, real_unlink = os.replace, os.unlink

    def observe():
        view = keystone_view(tmp_path / "k")
        for name in os.listdir(tmp_path / "k"):
            st = os.stat(tmp_path / "k" / name)
            assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (UID, GID, 0o600), name
        seen.append(view)

    def replace(src, dst):
        real_replace(src, dst)
        observe()

    def unlink(path):
        real_unlink(path)
        if os.path.dirname(path) == str(tmp_path / "k"):
            observe()

    monkeypatch.setattr(bk.os, "replace", replace)
    monkeypatch.setattr(bk.os, "unlink", unlink)
    apply(source, tmp_path / "k")
    assert seen and seen[-1] == source
    writes = len(kk.changes(kk.sync_plan(source, start))["added"])
    for n, view in enumerate(seen, 1):
        assert view[max(view)] in source.values()
        if n >= writes:
            assert {i: source[i] for i in source} == {i: view[i] for i in source}


def test_a_stale_sync_waiting_for_a_running_one_is_refused_after_it(tmp_path):
    """Two syncs on one node: the second waits for the first's lock, then plans again and, its
    keys now older than the node's, is refused instead of undoing the newer set."""
    states = rotator_states()
    path = tmp_path / "k"
    write_repo(path, states[1])
    apply(states[2], path)  # creates the staging directory
    lock = os.open(bk._staging_path(str(path)), os.O_RDONLY | os.O_DIRECTORY)
    fcntl.flock(lock, fcntl.LOCK_EX)
    outcome = []

    def stale():
        try:
            outcome.append(apply(states[3], path))
        except CommandExecutionError as exc:
            outcome.append(exc)

    thread = threading.Thread(target=stale)
    thread.start()
    time.sleep(0.3)
    assert not outcome, "the second sync must wait for the lock"
    write_repo(path, states[-1])  # the running sync lands the newest set
    for index in set(states[2]) - set(states[-1]):
        os.unlink(path / str(index))
    os.close(lock)
    thread.join(10)
    assert isinstance(outcome[0], CommandExecutionError) and "newer than the source" in str(outcome[0])
    assert keystone_view(path) == states[-1]


def owned_private(path):
    st = os.stat(path)
    return (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode))


@pytest.mark.parametrize("kind", ["fernet", "credential"])
def test_setup_makes_keystones_first_set_once(tmp_path, kind):
    path = tmp_path / "keystone" / f"{kind}-keys"
    args = dict(kind=kind, path=str(path), user=USER, group=GROUP, config=str(tmp_path / "none.conf"))
    assert bk.setup_keys(test=True, **args) == {"added": [0, 1], "removed": []}
    assert not path.exists()
    assert bk.setup_keys(**args) == {"added": [0, 1], "removed": []}
    repo = keystone_view(path)
    assert sorted(repo) == [0, 1] and repo[0] != repo[1]
    assert all(kk.key_problem(value) is None for value in repo.values())
    assert owned_private(path) == (UID, GID, 0o700)
    assert all(owned_private(path / name) == (UID, GID, 0o600) for name in ("0", "1"))
    assert os.listdir(bk._staging_path(str(path))) == []
    assert bk.setup_keys(**args) == bk.setup_keys(test=True, **args) == {"added": [], "removed": []}
    assert keystone_view(path) == repo


def test_setup_never_adds_to_a_repository_holding_a_key(tmp_path):
    write_repo(tmp_path / "k", {5: key(5)})
    assert bk.setup_keys(path=str(tmp_path / "k"), user=USER, group=GROUP) == {"added": [], "removed": []}
    assert keystone_view(tmp_path / "k") == {5: key(5)}


def test_rotate_is_keystones_rotation(tmp_path):
    path = tmp_path / "k"
    repo = rotator_states(2)[-1]
    write_repo(path, repo)
    args = dict(path=str(path), user=USER, group=GROUP, config=str(tmp_path / "none.conf"))
    expected = {"added": [0, max(repo) + 1], "removed": kk.rotation_plan(repo, 3)["purge"]}
    assert bk.rotate(test=True, **args) == expected and keystone_view(path) == repo
    for _ in range(4):
        before = keystone_view(path)
        changes = bk.rotate(**args)
        after = keystone_view(path)
        assert after == kk.rotated(before, 3, after[0]) and after[0] not in before.values()
        assert changes == {"added": [0, max(before) + 1], "removed": kk.rotation_plan(before, 3)["purge"]}
        assert all(owned_private(path / str(i)) == (UID, GID, 0o600) for i in after)
        assert kk.key_problem(after[0]) is None
    assert os.listdir(bk._staging_path(str(path))) == []


def test_rotate_keeps_what_keystone_conf_says(tmp_path):
    path = tmp_path / "k"
    write_repo(path, rotator_states(4)[-1])
    conf = tmp_path / "keystone.conf"
    conf.write_text("[DEFAULT]\ndebug = false\n[fernet_tokens]\nmax_active_keys = 5\n")
    args = dict(path=str(path), user=USER, group=GROUP, config=str(conf))
    for _ in range(3):
        bk.rotate(**args)
    assert len(keystone_view(path)) == 5
    bk.rotate(max_active_keys=2, **args)
    assert len(keystone_view(path)) == 2
    conf.write_text("[fernet_tokens]\nmax_active_keys = many\n")
    with pytest.raises(CommandExecutionError, match="whole number"):
        bk.rotate(**args)
    with pytest.raises(CommandExecutionError, match="always keeps 3"):
        bk.setup_keys(kind="credential", max_active_keys=5, path=str(tmp_path / "c"), user=USER, group=GROUP)


def test_credential_keys_are_not_rotated_without_keystones_database_checks(tmp_path):
    write_repo(tmp_path / "c", rotator_states(1)[-1])
    with pytest.raises(CommandExecutionError, match="credential_migrate"):
        bk.rotate(kind="credential", path=str(tmp_path / "c"), user=USER, group=GROUP, test=True)
    assert keystone_view(tmp_path / "c") == rotator_states(1)[-1]


def test_rotate_refuses_a_repository_without_a_staged_key(tmp_path):
    with pytest.raises(CommandExecutionError, match="no staged key 0"):
        bk.rotate(path=str(tmp_path / "none"), user=USER, group=GROUP, test=True)
    write_repo(tmp_path / "k", {3: key(3)})
    with pytest.raises(CommandExecutionError, match="no staged key 0"):
        bk.rotate(path=str(tmp_path / "k"), user=USER, group=GROUP)
    assert keystone_view(tmp_path / "k") == {3: key(3)}
def test_has_keys_is_true_only_for_a_repository_keystone_would_load(tmp_path):
    path = str(tmp_path / "fernet-keys")
    assert bk.has_keys(path=path) is False  # missing
    os.makedirs(path)
    assert bk.has_keys(path=path) is False  # empty
    (tmp_path / "fernet-keys" / "0.tmp").write_bytes(key(1))
    (tmp_path / "fernet-keys" / "1").write_bytes(b"")
    assert bk.has_keys(path=path) is False  # only files Keystone skips
    write_repo(path, {0: key(2)})
    assert bk.has_keys(path=path) is True
    (tmp_path / "fernet-keys" / "01").write_bytes(key(3))
    assert bk.has_keys(path=path) is False  # refused, not served
    with pytest.raises(CommandExecutionError, match="kind"):
        bk.has_keys(kind="ssl")
