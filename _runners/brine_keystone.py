"""
``salt-run brine_keystone.*``: Keystone's Fernet and credential keys across the controllers
(docs/keystone-keys.md). The first controller in inventory order is the rotator; the others get
an exact copy of its keys.

The decisions are ``brinelib.keystone_keys`` (``relay_decision``, ``ready_to_rotate``); the
files are ``_modules/brine_keystone.py`` on each controller. This module asks the controllers
for their digests, moves the keys from the source's ``read_keys`` to the targets' ``apply_keys``
as a function argument, and reports indexes and digests only: its return, its log lines and its
retcode never carry a key's bytes.
"""

import logging
import os

import brinelib

brinelib.forget_if_changed()  # a library synced since it was imported replaces the old one
from brinelib import keystone_keys, names, stores
from brinelib.events import bounded

log = logging.getLogger(__name__)

__virtualname__ = "brine_keystone"
__load__ = ["sync_keys", "rotate", "status"]

KINDS = ("fernet", "credential")
CALL_TIMEOUT = 60


def __virtual__():
    return __virtualname__


def _kinds(kinds):
    kinds = [kinds] if isinstance(kinds, str) else list(kinds)
    unknown = [kind for kind in kinds if kind not in KINDS]
    if unknown or not kinds:
        raise ValueError(f"kinds {unknown or kinds!r}: expected some of {', '.join(KINDS)}")
    return kinds


def _controllers():
    """The inventory's controllers in inventory order; the first is the rotator."""
    nodes = names.controllers((__salt__["pillar.show_pillar"]() or {}).get("brine") or {})
    if not nodes:
        raise ValueError("the inventory (pillar brine) has no controllers")
    return nodes


def _call(targets, fun, args=(), kwargs=None):
    """``{minion: return}`` of ``brine_keystone.<fun>`` on ``targets`` (missing: no answer)."""
    return __salt__["salt.execute"](list(targets), f"brine_keystone.{fun}", arg=list(args), tgt_type="list",
                                    kwarg=dict(kwargs or {}), timeout=CALL_TIMEOUT) or {}


def _digests(nodes, kind):
    """Each node's ``key_digest`` answer (None for no answer)."""
    answers = _call(nodes, "key_digest", kwargs={"kind": kind})
    return {node: answers.get(node) for node in nodes}


def _digest_of(report):
    return report.get("digest") if isinstance(report, dict) else None


def _failure(answer):
    """Why a minion's answer is not a ``{"added", "removed"}`` change report, or None."""
    if isinstance(answer, dict) and isinstance(answer.get("added"), list) and isinstance(answer.get("removed"), list):
        return None
    return bounded(str(answer) if answer is not None else "no answer", 300)


def _refused(result, decision, reports):
    return dict(result, action="refuse", reason=decision["reason"], refused=decision["nodes"], in_sync=False,
                digests={node: _digest_of(report) for node, report in reports.items()})


def _relay(source, targets, kind, result):
    """The source's keys straight into the targets' ``apply_keys``; each node's changes or error into ``result``."""
    keys = _call([source], "read_keys", kwargs={"kind": kind}).get(source)
    if not isinstance(keys, dict) or not keys:
        result["errors"][source] = "read_keys gave no keys"
        return
    answers = _call(targets, "apply_keys", args=[keys], kwargs={"kind": kind})
    for node in targets:
        problem = _failure(answers.get(node))
        if problem:
            result["errors"][node] = problem
        else:
            result["nodes"][node] = answers[node]


def _sync_kind(nodes, kind, test=False):
    """One repository kind: decide, set up or relay, compare the digests after."""
    rotator = nodes[0]
    reports = _digests(nodes, kind)
    decision = keystone_keys.relay_decision(reports, rotator)
    result = {"action": decision["action"], "source": decision["source"], "rotator": rotator,
              "nodes": {node: {"added": [], "removed": []} for node in nodes}, "errors": {}}
    if decision["action"] == "refuse":
        return _refused(result, decision, reports)
    if test:
        setup = [rotator] if decision["action"] == "setup" else []
        return dict(result, targets=setup + decision["targets"], in_sync=not setup + decision["targets"],
                    digests={node: _digest_of(report) for node, report in reports.items()})
    if decision["action"] == "setup":
        answer = _call([rotator], "setup_keys", kwargs={"kind": kind}).get(rotator)
        problem = _failure(answer)
        if problem:
            result["errors"][rotator] = problem
        else:
            result["nodes"][rotator] = answer
            reports = _digests(nodes, kind)
            decision = keystone_keys.relay_decision(reports, rotator)
            if decision["action"] == "refuse":
                return _refused(result, decision, reports)
    if decision["targets"] and not result["errors"]:
        _relay(decision["source"], decision["targets"], kind, result)
    after = _digests(nodes, kind)
    for node in nodes:
        result["nodes"][node]["digest"] = _digest_of(after[node])
    wanted = _digest_of(after.get(decision["source"]))
    result["in_sync"] = bool(wanted) and wanted != keystone_keys.EMPTY_DIGEST and all(
        _digest_of(after[node]) == wanted for node in nodes)
    return result


def _rotate_kind(nodes, kind):
    """Rotate one repository kind on the rotator once every controller holds its set, then relay."""
    rotator = nodes[0]
    reports = _digests(nodes, kind)
    gate = keystone_keys.ready_to_rotate({node: _digest_of(r) for node, r in reports.items()}, rotator)
    if not gate["ready"]:
        return {"action": "refuse", "rotator": rotator, "refused": gate["differ"], "in_sync": False,
                "reason": "the controllers do not all hold the rotator's key set: " + ", ".join(gate["differ"])
                          + " differ"}
    answer = _call([rotator], "rotate", kwargs={"kind": kind}).get(rotator)
    problem = _failure(answer)
    if problem:
        return {"action": "rotate", "rotator": rotator, "in_sync": False, "errors": {rotator: problem}}
    result = _sync_kind(nodes, kind)
    result["nodes"][rotator].update(added=answer["added"], removed=answer["removed"])
    return dict(result, action="rotate", relay=result["action"])


def _one_at_a_time():
    """This master's lock: a scheduled rotation and a sync never interleave their relays."""
    return stores.Lock(os.path.join(stores.store_dir(__opts__), "keystone-keys"))


def _finish(summary):
    """Set a failing retcode when any kind was refused, failed on a node, or ended out of sync."""
    for kind, result in summary.items():
        if not result.get("in_sync") or result.get("errors"):
            __context__["retcode"] = 1
            log.warning("brine_keystone: %s keys: %s %s", kind, result.get("action"),
                        bounded(str(result.get("reason") or result.get("errors") or "digests differ"), 500))
    return summary


def sync_keys(kinds=KINDS, test=False, **_orchestration):
    """
    Make every controller hold the rotator's key sets (the rotator is the first controller in
    inventory order). Per kind, from every controller's digest: nothing when all agree; the
    rotator's keys to the controllers that differ; on a clean slate the rotator makes the first
    set (``brine_keystone.setup_keys``) and relays it; a rebuilt (empty) rotator gets back the
    set every other key holder agrees on, never a new one. Refused, with nothing written and a
    retcode of 1: a controller that does not answer, holders that disagree while the rotator is
    empty, and a follower holding keys the rotator never had. Returns, per kind, the action,
    the source, and per node the indexes added and removed and its digest afterwards; never
    keys. ``test=True`` returns the decision and the nodes it would write (``targets``) after
    asking only for the digests.

    CLI Example:

    .. code-block:: bash

        salt-run brine_keystone.sync_keys
        salt-run brine_keystone.sync_keys kinds='[fernet]' test=True
    """
    kinds, nodes = _kinds(kinds), _controllers()
    with _one_at_a_time():
        summary = {kind: _sync_kind(nodes, kind, test=test) for kind in kinds}
    if test:
        if any(result["action"] == "refuse" for result in summary.values()):
            __context__["retcode"] = 1
        return summary
    return _finish(summary)


def status(kinds=KINDS):
    """
    Every controller's digest per kind (``None``: no answer), its primary key index, and
    whether a rotation is allowed (every controller holds the same non-empty set).

    CLI Example:

    .. code-block:: bash

        salt-run brine_keystone.status
    """
    nodes = _controllers()
    out = {}
    for kind in _kinds(kinds):
        reports = _digests(nodes, kind)
        gate = keystone_keys.ready_to_rotate({node: _digest_of(r) for node, r in reports.items()}, nodes[0])
        out[kind] = {"rotator": nodes[0], "ready_to_rotate": gate["ready"], "differ": gate["differ"],
                     "nodes": {node: {"digest": _digest_of(r),
                                      "primary": r.get("primary") if isinstance(r, dict) else None}
                               for node, r in reports.items()}}
    return out


def rotate(kinds=("fernet",), **_schedule):
    """
    Rotate the Fernet token keys on the rotator and relay them, only when every controller holds
    the same non-empty set now (``brinelib.keystone_keys.ready_to_rotate``), so every key
    a token was issued with is still on every controller afterwards; then ``sync_keys`` for
    that kind and the digests compared. A refusal names the controllers that differ and sets a
    retcode of 1 (``salt-run brine_keystone.sync_keys`` first, or resolve by hand). Credential
    keys are refused: their rotation needs Keystone's database (``keystone-manage
    credential_rotate``, ``credential_migrate``) and is followed by ``sync_keys``.

    CLI Example:

    .. code-block:: bash

        salt-run brine_keystone.rotate
    """
    kinds = _kinds(kinds)
    if "credential" in kinds:
        raise ValueError("credential keys are rotated with keystone-manage credential_rotate and credential_migrate "
                         "on the rotator (they check Keystone's database), then salt-run brine_keystone.sync_keys")
    nodes = _controllers()
    with _one_at_a_time():
        return _finish({kind: _rotate_kind(nodes, kind) for kind in kinds})
