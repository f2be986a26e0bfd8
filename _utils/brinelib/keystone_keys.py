"""
Keystone's Fernet and credential key repositories as data, their rotation, and the plan that
makes a follower controller's repository equal to the rotator's (docs/keystone-keys.md).

A repository is ``{index: value}``: the value is the key file's bytes, or the key's digest
(``"sha256:<hex>"``, :func:`key_digest`) where only a comparison is needed (the master compares
digests and never holds the keys). Keystone's rules (``keystone/common/fernet_utils.py``,
``FernetUtils._get_key_files``, ``rotate_keys`` and ``load_keys``):

* a key file is a regular, non-empty file whose name ``int()`` parses; every other file is
  ignored (``0.tmp`` included);
* every key decrypts; the highest index is the primary (it encrypts); index 0 is the staged key,
  the next primary, already known to every node before it encrypts anything;
* ``keystone-manage fernet_rotate`` renames 0 to ``max + 1``, writes a new 0, then deletes the
  lowest indexes until ``max_active_keys - 1`` keys besides the new 0 remain
  (:func:`rotation_plan`). ``[fernet_tokens] max_active_keys`` defaults to 3; the credential
  repository's is fixed at 3 (``keystone.credential.providers.fernet.core.MAX_ACTIVE_KEYS``).

Nothing here reads the disk or logs; no message carries a key's bytes.
"""

import base64
import binascii
import hashlib
from collections import Counter

STAGED = 0
FERNET_MAX_ACTIVE_KEYS = 3
CREDENTIAL_MAX_ACTIVE_KEYS = 3
DIGEST_PREFIX = "sha256:"
FERNET_KEY_BYTES = 32


class KeySyncRefused(ValueError):
    """A sync or rotation that would lose keys or install unusable ones; the message says why."""


def key_index(name):
    """
    The index of a key file named ``name``, or None when Keystone ignores the file. A name
    Keystone reads as a number but that is not written plainly (``01``, ``+1``) is refused: two
    such files would give Keystone one index twice.
    """
    try:
        index = int(name)
    except ValueError:
        return None
    if name != str(index) or index < 0:
        raise KeySyncRefused(f"key file {name!r}: Keystone reads it as key {index}; rename or remove it")
    return index


def key_problem(content):
    """Why ``content`` (a key file's bytes) is not a key Keystone can load, or None."""
    try:
        raw = base64.urlsafe_b64decode(bytes(content).strip())
    except (binascii.Error, ValueError, TypeError):
        return "is not URL-safe base64"
    if len(raw) != FERNET_KEY_BYTES:
        return f"decodes to {len(raw)} bytes, a Fernet key has {FERNET_KEY_BYTES}"
    return None


def key_digest(value):
    """``sha256:<hex>`` of a key's bytes; a digest is returned as it is."""
    if isinstance(value, (bytes, bytearray)):
        return DIGEST_PREFIX + hashlib.sha256(bytes(value)).hexdigest()
    if isinstance(value, str) and value.startswith(DIGEST_PREFIX) and len(value) == len(DIGEST_PREFIX) + 64:
        return value
    raise TypeError("a key is its bytes or its sha256: digest")


def digests(repo):
    """``{index: digest}``: the repository with every key replaced by its digest."""
    return {index: key_digest(value) for index, value in repo.items()}


def digest(repo):
    """One digest of the whole repository (indexes and contents, in no particular order)."""
    lines = "".join(f"{index}={key_digest(repo[index])}\n" for index in sorted(repo))
    return DIGEST_PREFIX + hashlib.sha256(lines.encode("ascii")).hexdigest()


EMPTY_DIGEST = digest({})


def primary(repo):
    """The primary key's index (the highest), or None for an empty repository."""
    return max(repo) if repo else None


def roles(repo):
    """``{index: "primary" | "staged" | "secondary"}``. A lone key 0 is the primary."""
    top = primary(repo)
    return {index: "primary" if index == top else "staged" if index == STAGED else "secondary" for index in repo}


def rotation_plan(repo, max_active_keys):
    """
    What ``keystone-manage fernet_rotate`` does to ``repo``: ``{"promote": (0, new_primary),
    "purge": [indexes deleted, lowest first], "keys_after": [indexes left, the new 0 included]}``.
    """
    if isinstance(max_active_keys, bool) or not isinstance(max_active_keys, int) or max_active_keys < 1:
        raise KeySyncRefused(f"max_active_keys {max_active_keys!r} is not a whole number >= 1")
    if STAGED not in repo:
        raise KeySyncRefused("the repository has no staged key 0 to promote (keystone-manage fernet_setup first)")
    new_primary = primary(repo) + 1
    kept = sorted((set(repo) - {STAGED}) | {new_primary}, reverse=True)
    purge = sorted(kept[max_active_keys - 1:])
    return {
        "promote": (STAGED, new_primary),
        "purge": purge,
        "keys_after": sorted({STAGED} | set(kept) - set(purge)),
    }


def rotated(repo, max_active_keys, new_staged):
    """``repo`` after :func:`rotation_plan`, with ``new_staged`` as the new key 0."""
    plan = rotation_plan(repo, max_active_keys)
    after = {index: value for index, value in repo.items() if index != STAGED}
    after[plan["promote"][1]] = repo[STAGED]
    for index in plan["purge"]:
        del after[index]
    after[STAGED] = new_staged
    return after


def initial_set(max_active_keys, first, staged):
    """
    What ``keystone-manage fernet_setup`` (and ``credential_setup``) makes in an empty
    repository: ``first`` written as key 0, then one rotation with ``staged`` as the new key 0.
    """
    return rotated({STAGED: first}, max_active_keys, staged)


def sync_plan(source, target, rewrite=()):
    """
    The steps that make ``target`` (a follower's repository) equal to ``source`` (the
    rotator's): ``[("write", index), ...]`` then ``[("remove", index), ...]``.

    Writes come first, the highest index first, so the follower encrypts with the rotator's
    primary from the first step on and every key it shares with the rotator stays; removals come
    last and only touch keys the rotator no longer has. ``rewrite`` names target keys to write
    again although their content is right (a wrong owner or mode). Refused: an empty source (a
    follower is never wiped), a source key Keystone cannot load, and a follower whose primary is
    newer than the source's (it rotated on its own, or the source is older than what the
    follower already got: nothing is guessed, nothing deleted).
    """
    if not source:
        raise KeySyncRefused("the source repository has no keys; a follower is never emptied")
    for index in sorted(source):
        if isinstance(source[index], (bytes, bytearray)):
            problem = key_problem(source[index])
            if problem:
                raise KeySyncRefused(f"source key {index} {problem}")
    if target and primary(target) > primary(source):
        raise KeySyncRefused(
            f"the follower's primary key {primary(target)} is newer than the source's {primary(source)}: "
            "it rotated on its own or the source is stale; compare the digests and resolve by hand")
    wanted, present = digests(source), digests(target)
    writes = [i for i in sorted(source, reverse=True) if present.get(i) != wanted[i] or i in rewrite]
    removes = [i for i in sorted(target) if i not in source]
    return [("write", i) for i in writes] + [("remove", i) for i in removes]


def changes(plan):
    """``{"added": [indexes written], "removed": [indexes removed]}`` of a :func:`sync_plan`."""
    return {
        "added": sorted(i for op, i in plan if op == "write"),
        "removed": sorted(i for op, i in plan if op == "remove"),
    }


def applied(target, source, step):
    """``target`` after one step of a :func:`sync_plan` (the values taken from ``source``)."""
    op, index = step
    after = dict(target)
    if op == "write":
        after[index] = source[index]
    else:
        del after[index]
    return after


def ready_to_rotate(digests_by_node, rotator=None):
    """
    ``{"ready": bool, "differ": [nodes]}``: a rotation is allowed only when every node reported
    the same digest of a non-empty repository. ``differ`` names the nodes whose digest is not the
    rotator's (when given) or the majority's; with no strict majority every node differs. A node
    with no digest (None) or an empty repository always differs.
    """
    usable = {node: d for node, d in digests_by_node.items() if d and d != EMPTY_DIGEST}
    if rotator is not None:
        reference = usable.get(rotator)
    else:
        top = Counter(usable.values()).most_common(1)
        reference = top[0][0] if top and top[0][1] * 2 > len(digests_by_node) else None
    differ = sorted(node for node in digests_by_node if reference is None or usable.get(node) != reference)
    return {"ready": bool(digests_by_node) and not differ, "differ": differ}


def _usable_report(report):
    """A node's ``key_digest`` answer with a digest and a primary index Brine can compare, or None."""
    if not isinstance(report, dict):
        return None
    digest_, top, keys = report.get("digest"), report.get("primary"), report.get("keys")
    if not isinstance(digest_, str) or not digest_.startswith(DIGEST_PREFIX) or not isinstance(keys, dict):
        return None
    if top is not None and (isinstance(top, bool) or not isinstance(top, int)):
        return None
    if (top is None) != (digest_ == EMPTY_DIGEST):
        return None
    return report


def _conflicting(reference, other):
    """
    Indexes other than 0 that both reports hold with different contents. Keystone never rewrites
    such a key (a rotation renames 0 to a new, higher index), so two sets that differ there were
    made apart from each other, and one of them would invalidate the other's tokens.
    """
    ref, oth = reference["keys"], other["keys"]
    return sorted(int(i) for i in set(ref) & set(oth) if str(i) != str(STAGED) and ref[i] != oth[i])


def relay_decision(reports, rotator):
    """
    What makes every controller hold the rotator's key set, from each node's ``key_digest``
    answer (``reports``: ``{node: answer}``, in inventory order; a missing or unusable answer is
    None or anything but that mapping). ``{"action", "source", "targets", "nodes", "reason"}``:

    * ``in sync``: every node holds the same non-empty set; nothing to do;
    * ``relay``: the rotator's keys go to ``targets`` (the nodes whose digest differs);
    * ``setup``: no node holds a key: the rotator makes the first set, then relays it;
    * ``copy back``: the rotator is empty (rebuilt) and every node holding keys holds the same
      set: that set (from ``source``, the first of them) goes to ``targets``, the rotator
      included. A rebuilt rotator never makes a new set while another node holds one: every
      token would become invalid;
    * ``refuse``: nothing is written; ``nodes`` names the nodes at fault and ``reason`` says
      why: a node that did not answer (it may hold keys), nodes holding different sets while the
      rotator is empty, or a follower whose set is newer than the rotator's or was made apart
      from it (same index, other key).
    """
    nodes = list(reports)

    def refuse(at_fault, reason):
        return {"action": "refuse", "source": None, "targets": [], "nodes": at_fault, "reason": reason}

    if rotator not in reports:
        return refuse([rotator], f"the rotator {rotator!r} is not among the controllers asked")
    silent = [node for node in nodes if _usable_report(reports[node]) is None]
    if silent:
        return refuse(silent, "no usable key digest from " + ", ".join(silent) + ": a node that did not answer may "
                      "hold keys; bring it back or remove it from the inventory")
    holders = [node for node in nodes if reports[node]["digest"] != EMPTY_DIGEST]
    if not holders:
        return {"action": "setup", "source": rotator, "targets": [n for n in nodes if n != rotator], "nodes": [],
                "reason": None}
    if rotator in holders:
        ref = reports[rotator]
        newer = [n for n in holders if reports[n]["primary"] > ref["primary"]]
        apart = [n for n in holders if n != rotator and _conflicting(ref, reports[n])]
        if newer or apart:
            return refuse(sorted(set(newer) | set(apart), key=nodes.index),
                          f"these followers hold keys the rotator {rotator} never had (a newer primary key, or "
                          "another key at the same index): their tokens would become invalid; compare "
                          "`salt-run brine_keystone.status` and resolve by hand")
        source = rotator
    else:
        sets = {reports[n]["digest"] for n in holders}
        if len(sets) > 1:
            return refuse(holders, f"the rotator {rotator} has no keys and the nodes holding keys disagree "
                          "(different digests): choose the set to keep by hand")
        source = holders[0]
    targets = [n for n in nodes if reports[n]["digest"] != reports[source]["digest"]]
    if not targets:
        return {"action": "in sync", "source": source, "targets": [], "nodes": [], "reason": None}
    action = "relay" if source == rotator else "copy back"
    return {"action": action, "source": source, "targets": targets, "nodes": [], "reason": None}
