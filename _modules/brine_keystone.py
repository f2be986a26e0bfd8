"""
Keystone's Fernet and credential key repositories on a controller: their digest, the rotator's
keys for the master to relay, a follower's sync, and the rotator's first key set and rotation
(docs/keystone-keys.md; ``salt-run brine_keystone.*`` decides which node runs what).

The rules and the plan are ``brinelib.keystone_keys``; this module reads and writes the files.
A sync never shows Keystone a half-written or unreadable key: each key is written in a staging
directory next to the repository (``.fernet-keys.staging``, which Keystone never lists), owned by
the Keystone user, mode 0600, fsynced, then renamed into place; keys the rotator no longer has
are removed only after every new key is in place. Key bytes are never logged nor put in a
message.
"""

import base64
import binascii
import configparser
import contextlib
import fcntl
import grp
import logging
import os
import pwd
import stat

import brinelib

brinelib.forget_if_changed()  # a library synced since it was imported replaces the old one
from brinelib import keystone_keys
from brinelib.errors import CommandExecutionError
from brinelib.stores import fsync_directory

log = logging.getLogger(__name__)

__virtualname__ = "brine_keystone"
__load__ = ["key_digest", "has_keys", "read_keys", "apply_keys", "setup_keys", "rotate"]

# Debian 12's keystone package: [fernet_tokens] and [credential] key_repository.
DEFAULT_PATHS = {"fernet": "/etc/keystone/fernet-keys", "credential": "/etc/keystone/credential-keys"}
# Where keystone-manage reads [fernet_tokens] max_active_keys.
DEFAULT_CONFIG = "/etc/keystone/keystone.conf"
KEY_MODE = 0o600
DIRECTORY_MODE = 0o700


def __virtual__():
    if not hasattr(os, "fchown"):
        return (False, "brine_keystone needs a POSIX system (file owners)")
    return __virtualname__


def _repository_path(kind, path):
    if kind not in DEFAULT_PATHS:
        raise CommandExecutionError(f"kind {kind!r}: expected one of {', '.join(DEFAULT_PATHS)}")
    return path or DEFAULT_PATHS[kind]


def _staging_path(path):
    """The staging directory: beside the repository, so a rename into it stays on one filesystem."""
    parent, name = os.path.split(os.path.normpath(path))
    return os.path.join(parent, f".{name}.staging")


def _key_files(path):
    """``{index: file path}`` of the key files Keystone loads from ``path`` (none when it is missing)."""
    try:
        names = os.listdir(path)
    except FileNotFoundError:
        return {}
    found = {}
    for name in names:
        try:
            index = keystone_keys.key_index(name)
        except keystone_keys.KeySyncRefused as exc:
            raise CommandExecutionError(f"{path}: {exc}") from None
        full = os.path.join(path, name)
        if index is not None and os.path.isfile(full) and os.path.getsize(full) > 0:
            found[index] = full
    return found


def _read_repository(path, files=None):
    repo = {}
    for index, full in (_key_files(path) if files is None else files).items():
        with open(full, "rb") as fh:
            repo[index] = fh.read()
    return repo


def key_digest(kind="fernet", path=None):
    """
    The digest of this node's key repository (indexes and contents; no key bytes):
    ``{"path", "digest", "primary", "keys": {index: digest}}``. A missing or empty repository
    has ``primary`` None and ``brinelib.keystone_keys.EMPTY_DIGEST``.

    CLI Example:

    .. code-block:: bash

        salt -G 'roles:controller' brine_keystone.key_digest
        salt-call brine_keystone.key_digest kind=credential
    """
    path = _repository_path(kind, path)
    repo = _read_repository(path)
    return {
        "path": path,
        "digest": keystone_keys.digest(repo),
        "primary": keystone_keys.primary(repo),
        "keys": {str(index): value for index, value in sorted(keystone_keys.digests(repo).items())},
    }


def has_keys(kind="fernet", path=None):
    """
    Whether this node's key repository holds a key Keystone would load: the gate of Keystone's
    service (salt/keystone/service.sls), so a fresh or rebuilt node never serves without keys.
    A repository Brine refuses to read (a name Keystone reads as another number) counts as
    none: the key sync names the problem.

    CLI Example:

    .. code-block:: bash

        salt-call brine_keystone.has_keys
        salt-call brine_keystone.has_keys kind=credential
    """
    path = _repository_path(kind, path)
    try:
        return bool(_key_files(path))
    except CommandExecutionError as exc:
        log.warning("brine_keystone.has_keys: %s", exc)
        return False


def read_keys(kind="fernet", path=None):
    """
    The rotator's keys, ``{"index": base64 of the file}``, for the master to hand to
    :func:`apply_keys` on the other controllers.

    SENSITIVE: the return value is the key material itself. Call it only from an orchestration
    or runner that passes it straight to the follower's ``apply_keys`` (as pillar sent to that
    one minion, never on a shell command line where ``ps`` shows it); Salt's job cache keeps
    arguments and returns, so it must stay readable by root only. Never print it, log it or
    put it in an event.

    CLI Example:

    .. code-block:: bash

        salt ctl1 brine_keystone.read_keys --out=quiet
    """
    repo = _read_repository(_repository_path(kind, path))
    return {str(index): base64.b64encode(value).decode("ascii") for index, value in sorted(repo.items())}


def _sync_plan(path, source, uid, gid):
    """``(plan, key files)`` for this node's repository at ``path``; a refusal as Salt's error."""
    files = _key_files(path)
    try:
        plan = keystone_keys.sync_plan(source, _read_repository(path, files), rewrite=_misowned(files, uid, gid))
    except keystone_keys.KeySyncRefused as exc:
        raise CommandExecutionError(f"{path}: {exc}") from None
    return plan, files


def _decode(keys):
    if not isinstance(keys, dict):
        raise CommandExecutionError("keys must be a mapping of index to base64 key file")
    source = {}
    for name, encoded in keys.items():
        try:
            index = keystone_keys.key_index(str(name))
            value = base64.b64decode(str(encoded), validate=True)
        except keystone_keys.KeySyncRefused as exc:
            raise CommandExecutionError(str(exc)) from None
        except (binascii.Error, ValueError):
            raise CommandExecutionError(f"key {name!r} is not base64") from None
        if index is None:
            raise CommandExecutionError(f"key {name!r}: an index is a whole number")
        source[index] = value
    return source


def _owner(user, group):
    try:
        uid = pwd.getpwnam(user).pw_uid
    except KeyError:
        raise CommandExecutionError(f"user {user!r} does not exist (is keystone installed?)") from None
    try:
        gid = grp.getgrnam(group).gr_gid
    except KeyError:
        raise CommandExecutionError(f"group {group!r} does not exist (is keystone installed?)") from None
    return uid, gid


def _misowned(files, uid, gid):
    """Indexes of key files Keystone may not read as intended: another owner or another mode."""
    wrong = []
    for index, full in files.items():
        st = os.stat(full)
        if (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) != (uid, gid, KEY_MODE):
            wrong.append(index)
    return wrong


def _ensure_directory(path, mode, uid, gid):
    if not os.path.isdir(path):
        os.makedirs(os.path.dirname(os.path.normpath(path)) or ".", exist_ok=True)
        os.mkdir(path, mode)
        os.chown(path, uid, gid)
        os.chmod(path, mode)
        fsync_directory(os.path.dirname(os.path.normpath(path)) or ".")


def _stage(staging, index, content, uid, gid):
    """Write one key in the staging directory, owned and 0600 before a byte is written."""
    staged = os.path.join(staging, str(index))
    fd = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, KEY_MODE)
    try:
        os.fchown(fd, uid, gid)
        os.fchmod(fd, KEY_MODE)
        os.write(fd, content)
        os.fsync(fd)
    finally:
        os.close(fd)
    return staged


def _clear(staging):
    """Remove what an interrupted sync left in the staging directory."""
    for name in os.listdir(staging):
        os.unlink(os.path.join(staging, name))


@contextlib.contextmanager
def _repository_lock(path, uid, gid):
    """
    The repository (owned by the Keystone user, 0700) and its staging directory (root's, 0700),
    with the staging directory locked: one writer at a time; the caller plans again inside.
    """
    staging = _staging_path(path)
    _ensure_directory(path, DIRECTORY_MODE, uid, gid)
    _ensure_directory(staging, DIRECTORY_MODE, os.geteuid(), os.getegid())
    lock = os.open(staging, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        _clear(staging)
        yield staging
    finally:
        os.close(lock)


def _write_keys(path, staging, plan, files, source, uid, gid):
    """Run a ``sync_plan``: every write staged then renamed into place, then the removals."""
    writes = [index for op, index in plan if op == "write"]
    staged = {index: _stage(staging, index, source[index], uid, gid) for index in writes}
    fsync_directory(staging)
    for index in writes:
        os.replace(staged[index], os.path.join(path, str(index)))
    fsync_directory(path)
    for op, index in plan:
        if op == "remove":
            os.unlink(files[index])
    fsync_directory(path)


def apply_keys(keys, kind="fernet", path=None, user="keystone", group="keystone", test=False):
    """
    Make this node's key repository equal to ``keys`` (``{"index": base64}``, as
    :func:`read_keys` returns them on the rotator): new and changed keys first (staged, owned by
    ``user``:``group``, 0600, renamed into place), then the keys the rotator no longer has.
    Returns ``{"added": [indexes written], "removed": [indexes removed]}``, the same with
    ``test=True`` (nothing written). Refused: no keys, a key that is not a Fernet key, and a node
    whose primary key is newer than the given set (see ``brinelib.keystone_keys.sync_plan``).

    CLI Example:

    .. code-block:: bash

        # by hand in a lab only: the keys on a command line show in ps
        salt ctl2 brine_keystone.apply_keys "$KEYS" kind=fernet test=True
    """
    path = _repository_path(kind, path)
    source = _decode(keys)
    uid, gid = _owner(user, group)
    plan, _ = _sync_plan(path, source, uid, gid)
    if test or not plan:
        return keystone_keys.changes(plan)
    with _repository_lock(path, uid, gid) as staging:
        plan, files = _sync_plan(path, source, uid, gid)  # a sync that waited for the lock plans again
        _write_keys(path, staging, plan, files, source, uid, gid)
    result = keystone_keys.changes(plan)
    log.info("%s: keys written %s, removed %s", path, result["added"], result["removed"])
    return result


def _new_key():
    """A new Fernet key, as ``cryptography.fernet.Fernet.generate_key`` makes it for Keystone."""
    return base64.urlsafe_b64encode(os.urandom(keystone_keys.FERNET_KEY_BYTES))


def _max_active_keys(kind, given, config):
    """
    How many keys a rotation keeps: the credential repository always 3 (Keystone's fixed
    number); the Fernet one ``given``, else ``[fernet_tokens] max_active_keys`` of ``config``
    (keystone.conf, which ``keystone-manage fernet_rotate`` reads), else Keystone's default 3.
    """
    if kind == "credential":
        if given is not None and given != keystone_keys.CREDENTIAL_MAX_ACTIVE_KEYS:
            raise CommandExecutionError("the credential repository always keeps "
                                        f"{keystone_keys.CREDENTIAL_MAX_ACTIVE_KEYS} keys (Keystone's rule)")
        return keystone_keys.CREDENTIAL_MAX_ACTIVE_KEYS
    if given is None:
        parser = configparser.ConfigParser(strict=False, interpolation=None)
        try:
            parser.read(config, encoding="utf-8")
        except (configparser.Error, UnicodeDecodeError) as exc:
            raise CommandExecutionError(f"{config}: cannot read [fernet_tokens] max_active_keys: {exc}") from None
        given = parser.get("fernet_tokens", "max_active_keys", fallback=str(keystone_keys.FERNET_MAX_ACTIVE_KEYS))
    try:
        number = int(str(given).strip())
    except ValueError:
        raise CommandExecutionError(f"max_active_keys {given!r} is not a whole number") from None
    if number < 1:
        raise CommandExecutionError(f"max_active_keys {number} must be at least 1")
    return number


def setup_keys(kind="fernet", path=None, user="keystone", group="keystone", max_active_keys=None,
               config=DEFAULT_CONFIG, test=False):
    """
    Make the first key set in an empty repository, as ``keystone-manage fernet_setup`` (or
    ``credential_setup``) does: a key 0, rotated once (keys 0 and 1), owned by
    ``user``:``group``, 0600, each staged and renamed into place. A repository holding any key
    is left as it is: a second set would invalidate every token of the first. Returns
    ``{"added": [indexes written], "removed": []}`` (nothing added when keys exist), the same
    with ``test=True`` (nothing written). Only the rotator makes a set; ``salt-run
    brine_keystone.sync_keys`` decides when.

    CLI Example:

    .. code-block:: bash

        salt ctl1 brine_keystone.setup_keys test=True
        salt ctl1 brine_keystone.setup_keys kind=credential
    """
    path = _repository_path(kind, path)
    uid, gid = _owner(user, group)
    number = _max_active_keys(kind, max_active_keys, config)
    if _key_files(path):
        return keystone_keys.changes([])
    source = keystone_keys.initial_set(number, _new_key(), _new_key())
    plan = keystone_keys.sync_plan(source, {})
    if test:
        return keystone_keys.changes(plan)
    with _repository_lock(path, uid, gid) as staging:
        if _key_files(path):  # another setup or a sync came first: keep its set
            return keystone_keys.changes([])
        _write_keys(path, staging, plan, {}, source, uid, gid)
    log.info("%s: first key set written, keys %s", path, sorted(source))
    return keystone_keys.changes(plan)


def rotate(kind="fernet", path=None, user="keystone", group="keystone", max_active_keys=None,
           config=DEFAULT_CONFIG, test=False):
    """
    Rotate this node's repository as ``keystone-manage fernet_rotate`` (or
    ``credential_rotate``) does: a new key staged (owned by ``user``:``group``, 0600), key 0
    renamed to the next primary index, the new key renamed to 0, then the lowest indexes removed
    until ``max_active_keys - 1`` keys besides 0 remain (``brinelib.keystone_keys.rotation_plan``).
    Returns ``{"added": [0, new primary], "removed": [indexes purged]}``, the same with
    ``test=True`` (nothing written). Run it on the rotator only, through ``salt-run
    brine_keystone.rotate``, which checks every controller holds the same set first and relays
    the result. The credential repository is refused: its keys encrypt rows of Keystone's
    database, which ``keystone-manage credential_rotate`` checks and ``credential_migrate``
    re-encrypts; a rotation without them could purge a key a credential still needs.

    CLI Example:

    .. code-block:: bash

        salt ctl1 brine_keystone.rotate test=True
    """
    if kind == "credential":
        raise CommandExecutionError("credential keys: run keystone-manage credential_rotate and credential_migrate on "
                                    "the rotator (they check Keystone's database), then salt-run "
                                    "brine_keystone.sync_keys")
    path = _repository_path(kind, path)
    uid, gid = _owner(user, group)
    number = _max_active_keys(kind, max_active_keys, config)

    def plan_for(files):
        try:
            return keystone_keys.rotation_plan(files, number)
        except keystone_keys.KeySyncRefused as exc:
            raise CommandExecutionError(f"{path}: {exc}") from None

    plan = plan_for(_key_files(path))
    if not test:
        with _repository_lock(path, uid, gid) as staging:
            files = _key_files(path)
            plan = plan_for(files)  # a rotation that waited for the lock rotates what it finds
            new_primary = plan["promote"][1]
            staged = _stage(staging, keystone_keys.STAGED, _new_key(), uid, gid)
            fsync_directory(staging)
            os.replace(files[keystone_keys.STAGED], os.path.join(path, str(new_primary)))
            os.replace(staged, os.path.join(path, str(keystone_keys.STAGED)))
            fsync_directory(path)
            for index in plan["purge"]:
                os.unlink(files[index])
            fsync_directory(path)
        log.info("%s: rotated, primary key %s, removed %s", path, plan["promote"][1], plan["purge"])
    return {"added": sorted({keystone_keys.STAGED, plan["promote"][1]}), "removed": plan["purge"]}
