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
