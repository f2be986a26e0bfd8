"""The Keystone key repository core: Keystone's rotation (checked against its own algorithm
replayed on files), digests, the follower sync plan with its token-validation property, and the
rotation gate."""

import base64
import itertools
import os

import pytest

from brinelib import keystone_keys as kk


def key(n):
    """A valid Fernet key, distinct for every ``n``."""
    return base64.urlsafe_b64encode(n.to_bytes(4, "big") * 8)


class KeystoneRepository:
    """
    ``keystone-manage fernet_setup`` / ``fernet_rotate`` as keystone/common/fernet_utils.py
    (FernetUtils) does them on disk, step for step: the oracle for ``rotation_plan``.
    (No ``keystone`` package in the venv nor in /usr/lib/python3/dist-packages to import.)
    """

    def __init__(self, directory, max_active_keys, new_keys):
        self.dir, self.max_active_keys, self.new_keys = str(directory), max_active_keys, new_keys

    def _key_files(self):
        files = {}
        for name in os.listdir(self.dir):
            path = os.path.join(self.dir, name)
            if os.path.isfile(path):
                try:
                    index = int(name)
                except ValueError:
                    continue
                if os.path.getsize(path):
                    files[index] = path
        return files

    def _create_tmp_new_key(self):
        with open(os.path.join(self.dir, "0.tmp"), "wb") as fh:
            fh.write(next(self.new_keys))

    def _become_valid_new_key(self):
        os.rename(os.path.join(self.dir, "0.tmp"), os.path.join(self.dir, "0"))

    def setup(self):
        self._create_tmp_new_key()
        self._become_valid_new_key()
        self.rotate()

    def rotate(self):
        key_files = self._key_files()
        self._create_tmp_new_key()
        new_primary = max(key_files) + 1
        os.rename(os.path.join(self.dir, "0"), os.path.join(self.dir, str(new_primary)))
        key_files.pop(0)
        key_files[new_primary] = os.path.join(self.dir, str(new_primary))
        self._become_valid_new_key()
        keys = sorted(key_files, reverse=True)
        while len(keys) > self.max_active_keys - 1:
            os.remove(key_files[keys.pop()])

    def repo(self):
        out = {}
        for index, path in self._key_files().items():
            with open(path, "rb") as fh:
                out[index] = fh.read()
        return out


@pytest.mark.parametrize("max_active_keys", range(1, 8))
def test_rotation_matches_keystone_for_twelve_rotations(tmp_path, max_active_keys):
    oracle_keys, our_keys = (key(n) for n in itertools.count(1)), (key(n) for n in itertools.count(1))
    oracle = KeystoneRepository(tmp_path, max_active_keys, oracle_keys)
    oracle.setup()
    ours = {0: next(our_keys)}
    ours = kk.rotated(ours, max_active_keys, next(our_keys))
    assert ours == oracle.repo()
    for _ in range(12):
        before = dict(ours)
        plan = kk.rotation_plan(before, max_active_keys)
        oracle.rotate()
        ours = kk.rotated(before, max_active_keys, next(our_keys))
        assert ours == oracle.repo()
        assert sorted(ours) == plan["keys_after"]
        assert plan["promote"] == (0, max(before) + 1)
        assert set(plan["purge"]) == (set(before) | {max(before) + 1}) - set(ours) - {0}
        assert len(ours) == min(max_active_keys, len(before) + 1)



@pytest.mark.parametrize("max_active_keys", range(1, 6))
def test_initial_set_is_keystones_setup(tmp_path, max_active_keys):
    oracle = KeystoneRepository(tmp_path, max_active_keys, (key(n) for n in itertools.count(1)))
    oracle.setup()
    assert kk.initial_set(max_active_keys, key(1), key(2)) == oracle.repo()

def test_rotation_promotes_the_staged_key_and_keeps_the_old_primary_as_secondary():
    repo = {0: key(3), 1: key(1), 2: key(2)}
    after = kk.rotated(repo, 4, key(9))
    assert after == {0: key(9), 1: key(1), 2: key(2), 3: key(3)}
    assert kk.roles(after) == {0: "staged", 1: "secondary", 2: "secondary", 3: "primary"}
    assert kk.rotation_plan(after, 3) == {"promote": (0, 4), "purge": [1, 2], "keys_after": [0, 3, 4]}


def test_rotation_refuses_what_keystone_cannot_rotate():
    with pytest.raises(kk.KeySyncRefused, match="no staged key 0"):
        kk.rotation_plan({1: key(1)}, 3)
    with pytest.raises(kk.KeySyncRefused, match="no staged key 0"):
        kk.rotation_plan({}, 3)
    for bad in (0, -1, True, "3", 2.0):
        with pytest.raises(kk.KeySyncRefused, match="max_active_keys"):
            kk.rotation_plan({0: key(1)}, bad)


def test_roles_and_primary():
    assert kk.primary({}) is None
    assert kk.roles({0: key(1)}) == {0: "primary"}
    assert kk.roles({0: key(1), 5: key(2), 7: key(3)}) == {0: "staged", 5: "secondary", 7: "primary"}


@pytest.mark.parametrize("name, index", [("0", 0), ("1", 1), ("42", 42), ("0.tmp", None), (".x", None),
                                         ("abc", None), ("", None)])
def test_key_index_follows_keystones_names(name, index):
    assert kk.key_index(name) == index


@pytest.mark.parametrize("name", ["01", "+1", " 1", "1_0", "-1", "00"])
def test_key_index_refuses_names_keystone_reads_as_another_number(name):
    with pytest.raises(kk.KeySyncRefused, match="reads it as key"):
        kk.key_index(name)


def test_key_problem():
    assert kk.key_problem(key(1)) is None
    assert kk.key_problem(key(1) + b"\n") is None
    assert "base64" in kk.key_problem(b"not base64 !!")
    assert "bytes" in kk.key_problem(base64.urlsafe_b64encode(b"short"))
    assert "bytes" in kk.key_problem(b"")


def test_digest_is_order_independent_and_hides_the_keys():
    a = {0: key(1), 1: key(2), 2: key(3)}
    b = dict(reversed(list(a.items())))
    assert kk.digest(a) == kk.digest(b) == kk.digest(kk.digests(a))
    assert kk.digest(a).startswith("sha256:")
    for value in a.values():
        assert value.decode() not in kk.digest(a) and value.decode() not in str(kk.digests(a))


def test_digest_tells_index_and_content_apart():
    base = {0: key(1), 1: key(2)}
    variants = [{0: key(1), 2: key(2)}, {0: key(2), 1: key(1)}, {0: key(1), 1: key(3)}, {0: key(1)}, {}]
    seen = {kk.digest(v) for v in variants + [base]}
    assert len(seen) == len(variants) + 1
    assert kk.digest({}) == kk.EMPTY_DIGEST


def test_key_digest_refuses_anything_but_bytes_or_a_digest():
    with pytest.raises(TypeError):
        kk.key_digest("plain text key")
    with pytest.raises(TypeError):
        kk.key_digest(None)


def repositories(max_active_keys=3, rotations=6):
    """The rotator's repository after setup and each rotation."""
    counter = itertools.count(100)
    repo = kk.rotated({0: key(next(counter))}, max_active_keys, key(next(counter)))
    states = [repo]
    for _ in range(rotations):
        repo = kk.rotated(repo, max_active_keys, key(next(counter)))
        states.append(repo)
    return states


def check_sync(source, target):
    """Run the plan step by step; assert the token-validation property after every step."""
    plan = kk.sync_plan(source, target)
    shared = {i for i in target if i in source and target[i] == source[i]}
    state = dict(target)
    ops = [op for op, _ in plan]
    assert ops == sorted(ops, key=lambda op: op != "write"), "every write before any removal"
    for step in plan:
        state = kk.applied(state, source, step)
        # keys the follower shared with the rotator are never lost nor changed
        assert all(state.get(i) == source[i] for i in shared)
        # the follower encrypts with a key the rotator holds from the first step on
        assert state[kk.primary(state)] in source.values()
        if step[0] == "remove":
            # removals start only once every rotator key is in place
            assert all(state.get(i) == source[i] for i in source)
            assert step[1] not in source
    assert state == source
    assert kk.sync_plan(source, state) == []
    return plan


@pytest.mark.parametrize("max_active_keys", [2, 3, 5])
def test_sync_from_every_older_state_to_every_newer_state(max_active_keys):
    states = repositories(max_active_keys)
    for older, newer in itertools.combinations(range(len(states)), 2):
        plan = check_sync(states[newer], states[older])
        assert plan[0] == ("write", kk.primary(states[newer]))


def test_sync_to_a_reinstalled_node():
    """A node rebuilt from nothing: an empty or missing repository, or the package's own setup."""
    source = repositories()[-1]
    plan = check_sync(source, {})
    assert kk.changes(plan) == {"added": sorted(source), "removed": []}
    package_setup = {0: key(1), 1: key(2)}
    plan = check_sync(source, package_setup)
    assert sorted(source) == [0, 6, 7]
    assert kk.changes(plan) == {"added": [0, 6, 7], "removed": [1]}


def test_sync_replaces_a_diverged_key_with_the_same_index():
    source = {0: key(1), 1: key(2)}
    plan = check_sync(source, {0: key(3), 1: key(4)})
    assert plan == [("write", 1), ("write", 0)]


def test_sync_rewrites_keys_named_in_rewrite_only():
    source = repositories()[-1]
    assert kk.sync_plan(source, dict(source)) == []
    assert kk.sync_plan(source, dict(source), rewrite=[max(source), 999]) == [("write", max(source))]


def test_sync_refuses_a_follower_with_a_newer_primary():
    states = repositories()
    for older, newer in itertools.combinations(range(len(states)), 2):
        with pytest.raises(kk.KeySyncRefused, match="newer than the source"):
            kk.sync_plan(states[older], states[newer])


def test_a_stale_sync_racing_a_rotation_is_refused_not_destructive():
    """The rotator rotates while an old snapshot is on its way: the newer one lands first, the
    stale one is refused, and the follower keeps the newer set."""
    old, new = repositories()[-2:]
    follower = dict(old)
    for step in kk.sync_plan(new, follower):
        follower = kk.applied(follower, new, step)
    with pytest.raises(kk.KeySyncRefused):
        kk.sync_plan(old, follower)
    assert follower == new


def test_sync_refuses_an_empty_source_and_unusable_keys():
    with pytest.raises(kk.KeySyncRefused, match="never emptied"):
        kk.sync_plan({}, {0: key(1), 1: key(2)})
    with pytest.raises(kk.KeySyncRefused, match="source key 1 decodes to"):
        kk.sync_plan({0: key(1), 1: b"c2hvcnQ="}, {})
    with pytest.raises(kk.KeySyncRefused) as excinfo:
        kk.sync_plan({0: key(1), 1: b"secret-but-not-a-key!"}, {})
    assert "secret-but-not-a-key" not in str(excinfo.value)


def test_sync_plan_works_on_digests():
    source, target = repositories()[-1], repositories()[-3]
    assert kk.sync_plan(kk.digests(source), kk.digests(target)) == kk.sync_plan(source, target)


def test_changes():
    assert kk.changes([("write", 5), ("write", 0), ("remove", 1), ("remove", 2)]) == {"added": [0, 5], "removed": [1, 2]}
    assert kk.changes([]) == {"added": [], "removed": []}


A, B = kk.digest({0: key(1), 1: key(2)}), kk.digest({0: key(3), 1: key(2)})


@pytest.mark.parametrize("digests, rotator, ready, differ", [
    ({"c1": A, "c2": A, "c3": A}, None, True, []),
    ({"c1": A, "c2": A, "c3": A}, "c1", True, []),
    ({"c1": A, "c2": A, "c3": B}, None, False, ["c3"]),
    ({"c1": B, "c2": A, "c3": A}, "c1", False, ["c2", "c3"]),
    ({"c1": A, "c2": B}, None, False, ["c1", "c2"]),
    ({"c1": A, "c2": A, "c3": None}, None, False, ["c3"]),
    ({"c1": A, "c2": A, "c3": kk.EMPTY_DIGEST}, None, False, ["c3"]),
    ({"c1": kk.EMPTY_DIGEST, "c2": kk.EMPTY_DIGEST}, None, False, ["c1", "c2"]),
    ({"c1": None, "c2": A, "c3": A}, "c1", False, ["c1", "c2", "c3"]),
    ({"c1": A, "c2": A, "c3": A}, "c9", False, ["c1", "c2", "c3"]),
    ({"c1": A, "c2": None, "c3": None}, None, False, ["c1", "c2", "c3"]),
    ({}, None, False, []),
])
def test_ready_to_rotate(digests, rotator, ready, differ):
    assert kk.ready_to_rotate(digests, rotator=rotator) == {"ready": ready, "differ": differ}
