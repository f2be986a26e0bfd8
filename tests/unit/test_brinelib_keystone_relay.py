"""keystone_keys.relay_decision: which controller's key set goes where, from every controller's
digest report. A table of the cases, then every combination of six node states on three
controllers checked against the rules (never a second set, nothing while a node is silent, every
relay one that the follower's sync accepts)."""

import base64
import itertools

import pytest

from brinelib import keystone_keys as kk


def key(n):
    return base64.urlsafe_b64encode(n.to_bytes(4, "big") * 8)


def report(repo):
    """What brine_keystone.key_digest answers for ``repo``."""
    return {"path": "/etc/keystone/fernet-keys", "digest": kk.digest(repo), "primary": kk.primary(repo),
            "keys": {str(i): d for i, d in sorted(kk.digests(repo).items())}}


def rotations(first, count):
    numbers = itertools.count(first)
    repo = kk.initial_set(3, key(next(numbers)), key(next(numbers)))
    states = [repo]
    for _ in range(count):
        repo = kk.rotated(repo, 3, key(next(numbers)))
        states.append(repo)
    return states


S1, S2, S3, S4 = rotations(100, 3)
X1, _, _, X4 = rotations(900, 3)  # a set made apart from the S sets (another setup)
E = {}
STATES = {"silent": None, "E": E, "S1": S1, "S2": S2, "S3": S3, "X1": X1, "X4": X4}


def decide(*states):
    reports = {node: None if repo is None else report(repo) for node, repo in zip("abc", states)}
    return kk.relay_decision(reports, "a")


@pytest.mark.parametrize("a, b, c, action, source, targets, at_fault", [
    (E, E, E, "setup", "a", ["b", "c"], []),
    (S2, S2, S2, "in sync", "a", [], []),
    (S2, E, E, "relay", "a", ["b", "c"], []),
    (S2, S1, S2, "relay", "a", ["b"], []),
    (S3, S1, E, "relay", "a", ["b", "c"], []),  # b missed a rotation and shares no key: behind, not apart
    (S4, S1, S3, "relay", "a", ["b", "c"], []),
    (E, S2, S2, "copy back", "b", ["a"], []),
    (E, S2, E, "copy back", "b", ["a", "c"], []),
    (E, E, S2, "copy back", "c", ["a", "b"], []),
    (E, S2, S1, "refuse", None, [], ["b", "c"]),
    (E, S2, X1, "refuse", None, [], ["b", "c"]),
    (S1, S2, S2, "refuse", None, [], ["b", "c"]),  # the followers are newer than the rotator
    (X1, S1, S1, "refuse", None, [], ["b", "c"]),  # a rebuilt rotator set up anew beside older followers
    (S2, X1, S2, "refuse", None, [], ["b"]),
    (S2, S2, X4, "refuse", None, [], ["c"]),
    (None, S2, S2, "refuse", None, [], ["a"]),
    (S2, None, S2, "refuse", None, [], ["b"]),
    (E, None, E, "refuse", None, [], ["b"]),  # a silent node may hold keys: never a new set
    (E, None, None, "refuse", None, [], ["b", "c"]),
])
def test_decision_table(a, b, c, action, source, targets, at_fault):
    decision = decide(a, b, c)
    assert (decision["action"], decision["source"], decision["targets"], decision["nodes"]) == (
        action, source, targets, at_fault)
    assert (decision["reason"] is None) == (action != "refuse")


def test_a_lone_controller():
    assert kk.relay_decision({"a": report(E)}, "a")["action"] == "setup"
    assert kk.relay_decision({"a": report(S1)}, "a")["action"] == "in sync"


@pytest.mark.parametrize("answer", [
    "ERROR: brine_keystone.key_digest: /etc/keystone/fernet-keys: key file '01' ...",
    {},
    {"digest": "md5:x", "primary": 1, "keys": {}},
    {"digest": kk.EMPTY_DIGEST, "primary": 3, "keys": {}},  # an empty set with a primary key
    dict(report(S1), primary=None),
    dict(report(S1), primary=True),
    dict(report(S1), primary="1"),
    dict(report(S1), keys=None),
])
def test_an_unusable_answer_is_a_silent_node(answer):
    decision = kk.relay_decision({"a": report(S1), "b": answer}, "a")
    assert (decision["action"], decision["nodes"]) == ("refuse", ["b"])
    assert "b" in decision["reason"]


def test_a_rotator_not_among_the_controllers_is_refused():
    decision = kk.relay_decision({"b": report(S1)}, "a")
    assert (decision["action"], decision["nodes"]) == ("refuse", ["a"])


def test_refusals_name_no_key_and_no_digest():
    decision = decide(E, S2, X1)
    for repo in (S2, X1):
        for value in repo.values():
            assert value.decode() not in decision["reason"]
        assert kk.digest(repo) not in decision["reason"]


@pytest.mark.parametrize("states", list(itertools.product(STATES, repeat=3)))
def test_every_combination_follows_the_rules(states):
    repos = dict(zip("abc", (STATES[s] for s in states)))
    decision = decide(*repos.values())
    silent = [n for n, r in repos.items() if r is None]
    holders = [n for n, r in repos.items() if r]
    if silent:
        assert (decision["action"], decision["nodes"]) == ("refuse", silent)
        return
    assert (decision["action"] == "setup") == (not holders)  # never a second set
    if decision["action"] in ("refuse", "setup"):
        assert decision["action"] == "setup" or decision["nodes"]
        return
    source = repos[decision["source"]]
    assert source
    assert decision["action"] == ("copy back" if not repos["a"] else "relay" if decision["targets"] else "in sync")
    if repos["a"]:
        assert decision["source"] == "a"
    else:  # every holder agrees
        assert len({kk.digest(repos[n]) for n in holders}) == 1
    assert decision["targets"] == [n for n, r in repos.items() if kk.digest(r) != kk.digest(source)]
    for node in decision["targets"]:
        kk.sync_plan(source, repos[node])  # the follower's own check accepts every relay decided
        # and no key a token may carry is replaced by another at the same index
        assert all(repos[node][i] == source[i] for i in (set(source) & set(repos[node])) - {0})
