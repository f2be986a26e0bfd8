"""
The master's records, in its cachedir (``<cachedir>/brine/``, files mode 0600): the event log
``events.jsonl`` (:class:`EventLog`) and the machines the DHCP server saw without a reservation,
``discovered.json`` (:class:`DiscoveredStore`), with the crash-safe writes both rely on
(:func:`replace_file`, :func:`load_store`, :class:`Lock`).

The event log is appended line by line and bounded (past its size it is cut to half, each minion
keeping its newest entries up to a common level: :func:`fair_trim`); the discovered machines are
capped. A store is rewritten through a temporary file, fsync and rename; a corrupt store is
moved aside (``.corrupt-<UTC time>``) and recording goes on.
"""

import fcntl
import json
import logging
import os
import re
import tempfile
import time
from datetime import datetime, timezone

from brinelib.events import bounded, non_finite, shown

log = logging.getLogger(__name__)

DEFAULT_EVENTS_MAX_BYTES = 8 * 1024 * 1024
# Machines kept in discovered.json: any host on the LAN can make up MACs.
DEFAULT_DISCOVERED_MAX = 1024


def store_dir(opts):
    """Where the master whose options are ``opts`` keeps Brine's records and keys."""
    return os.path.join(opts["cachedir"], "brine")


def parse_since(since):
    """Seconds since the epoch from a number, an ISO 8601 time, or an age such as ``30m``."""
    if since is None:
        return None
    if isinstance(since, (int, float)) and not isinstance(since, bool):
        return float(since)
    text = str(since).strip()
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([smhd])", text)
    if match:
        factor = {"s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)]
        return time.time() - float(match.group(1)) * factor
    try:
        return float(text)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"since={shown(since)}: expected epoch seconds, an ISO 8601 time or an age like 30m") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.timestamp()


def fsync_directory(directory):
    """Make a rename or removal in ``directory`` durable (fsync of the directory itself)."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def private_file(directory, prefix, data):
    """
    A new file in ``directory`` (mode 0600, owned by root when run as root) holding ``data``
    (bytes), written and fsynced; returns its path. Removed again when writing fails.
    """
    fd, path = tempfile.mkstemp(prefix=prefix, dir=directory)
    try:
        with os.fdopen(fd, "wb") as fh:
            if os.geteuid() == 0:
                os.fchown(fh.fileno(), 0, 0)
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        os.unlink(path)
        raise
    return path


def replace_file(path, data, mode=None, check=None):
    """
    Put ``data`` (bytes) at ``path`` so that a crash leaves either the old file or the new one,
    never a mix: a temporary file in the same directory (:func:`private_file`; ``mode`` when
    given, else 0600), ``check(temporary path)`` when given (whatever it raises leaves ``path``
    as it was), rename over ``path``, fsync of the directory.
    """
    directory = os.path.dirname(path) or "."
    tmp = private_file(directory, "." + os.path.basename(path) + ".", data)
    try:
        if mode is not None:
            os.chmod(tmp, mode)
        if check is not None:
            check(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    fsync_directory(directory)


def move_aside(path, now=None):
    """Rename a corrupt store to ``<path>.corrupt-<UTC time>`` and return that name."""
    when = datetime.fromtimestamp(time.time() if now is None else now, timezone.utc)
    aside = f"{path}.corrupt-{when.strftime('%Y%m%dT%H%M%S%fZ')}"
    os.replace(path, aside)
    os.chmod(aside, 0o600)
    fsync_directory(os.path.dirname(path) or ".")
    return aside


def load_store(path, check=None):
    """
    ``(mapping, corrupt)``: the JSON mapping stored at ``path`` (``{}`` when there is none) and
    None; or, when the file does not parse, is not a mapping or ``check(mapping)`` raises
    ValueError, ``{}`` and ``(aside, reason)`` after the file was moved aside (:func:`move_aside`)
    and the error logged. Called with the store's lock held.
    """
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except FileNotFoundError:
        return {}, None
    try:
        value = json.loads(data.decode("utf-8"))  # UnicodeDecodeError, JSONDecodeError: ValueError
        if not isinstance(value, dict):
            raise ValueError("not a mapping")
        if check is not None:
            check(value)
        return value, None
    except ValueError as exc:
        reason = "empty" if not data else f"unreadable ({bounded(str(exc), 200)})"
        aside = move_aside(path)
        log.error("brine: %s was %s; moved aside to %s, starting an empty store", path, reason, aside)
        return {}, (aside, reason)


class Lock:
    """An exclusive or shared flock on ``<path>.lock``: the stores are replaced by rename, so
    the lock cannot live on the file itself."""

    def __init__(self, path, exclusive=True):
        self.path = path + ".lock"
        self.exclusive = exclusive
        self.fd = None

    def __enter__(self):
        os.makedirs(os.path.dirname(self.path) or ".", mode=0o700, exist_ok=True)
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self.fd, fcntl.LOCK_EX if self.exclusive else fcntl.LOCK_SH)
        return self

    def __exit__(self, *exc):
        os.close(self.fd)


def _private(fd):
    """Records are the master's own: mode 0600, whatever an older version created."""
    if os.fstat(fd).st_mode & 0o077:
        os.fchmod(fd, 0o600)


def _minion_key(line):
    try:
        entry = json.loads(line)
    except ValueError:
        return None, False
    return (entry.get("minion") if isinstance(entry, dict) else None), True


def fair_trim(lines, target, minion_max):
    """
    The lines (bytes, oldest first) to keep so that they add up to at most ``target`` bytes:
    each minion keeps its newest lines up to a common level (no more than ``minion_max``),
    chosen as high as the target allows. A minion that floods the log loses its own history;
    the others keep theirs. Lines that are not JSON go.
    """
    per_minion = {}
    keyed = []
    for line in lines:
        minion, valid = _minion_key(line)
        if not valid:
            continue
        key = json.dumps(minion)
        keyed.append((key, line))
        per_minion[key] = per_minion.get(key, 0) + len(line)

    def total(level):
        return sum(min(size, level) for size in per_minion.values())

    low, high = 0, min(max(per_minion.values(), default=0), minion_max)
    while low < high:  # the highest level whose kept total fits the target
        mid = (low + high + 1) // 2
        if total(mid) <= target:
            low = mid
        else:
            high = mid - 1
    budget = dict.fromkeys(per_minion, low)
    keep = []
    for key, line in reversed(keyed):
        if len(line) <= budget[key]:
            budget[key] -= len(line)
            keep.append(line)
        else:
            budget[key] = 0  # an older line never jumps over a newer one that did not fit
    keep.reverse()
    return keep


class EventLog:
    """
    An append-only JSON-lines file (mode 0600). Each entry is one line appended and fsynced
    under a lock; a line torn by a crash is closed before the next one, and readers skip what
    does not parse. Past ``max_bytes`` it is cut to half of that with :func:`fair_trim` (no
    minion keeps more than ``minion_max_bytes``) and replaced by rename (:func:`replace_file`).
    """

    def __init__(self, path, max_bytes=DEFAULT_EVENTS_MAX_BYTES, minion_max_bytes=None):
        self.path = path
        self.max_bytes = max_bytes
        self.minion_max_bytes = minion_max_bytes or max(1, max_bytes // 8)

    def append(self, entry):
        problem = non_finite(entry)
        if problem:
            raise ValueError(f"{problem}: NaN and infinity are not recorded (JSON has no such numbers)")
        line = (json.dumps(entry, sort_keys=True, default=str, allow_nan=False) + "\n").encode("utf-8")
        with Lock(self.path):
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                _private(fd)
                size = os.fstat(fd).st_size
                if size and os.pread(fd, 1, size - 1) != b"\n":
                    line = b"\n" + line  # the last line was torn by a crash: close it
                os.write(fd, line)
                os.fsync(fd)
                size += len(line)
            finally:
                os.close(fd)
            if size > self.max_bytes:
                with open(self.path, "rb") as fh:
                    lines = fh.readlines()
                keep = fair_trim(lines, self.max_bytes // 2, self.minion_max_bytes)
                replace_file(self.path, b"".join(keep))
        return entry

    def query(self, minion=None, since=None, tag=None, limit=50):
        """The newest ``limit`` entries (oldest first) matching every given filter; ``tag``
        may end in ``*`` to match a prefix."""
        since = parse_since(since)
        if not os.path.exists(self.path):
            return []
        with Lock(self.path, exclusive=False):
            try:
                with open(self.path, "rb") as fh:
                    lines = fh.readlines()
            except FileNotFoundError:
                return []
        found = []
        for line in lines:
            try:
                entry = json.loads(line.decode("utf-8", "replace"))
            except ValueError:
                continue
            if not isinstance(entry, dict):
                continue
            if minion is not None and entry.get("minion") != minion:
                continue
            if since is not None and not (isinstance(entry.get("received"), (int, float))
                                          and entry["received"] >= since):
                continue
            if tag is not None:
                event_tag = str(entry.get("tag"))
                if tag.endswith("*") and not event_tag.startswith(tag[:-1]):
                    continue
                if not tag.endswith("*") and event_tag != tag:
                    continue
            found.append(entry)
        limit = int(limit) if limit is not None else None
        return found[-limit:] if limit else found


class StoreFull(Exception):
    """The discovered machines are at their cap: a new MAC is not added."""


class DiscoveredStore:
    """
    The MACs seen by the bootstrap host's DHCP server without a reservation, by MAC: one JSON
    file (mode 0600) replaced whole by rename on each change (:func:`replace_file`), at most
    ``max_entries`` machines. A file that does not parse (a crash of an older version, a disk
    error) is moved aside by :func:`move_aside` and ``on_corrupt(path, aside, reason)`` is
    called; the store then starts empty.
    """

    def __init__(self, path, max_entries=DEFAULT_DISCOVERED_MAX, on_corrupt=None):
        self.path = path
        self.max_entries = max_entries
        self.on_corrupt = on_corrupt

    @staticmethod
    def _check(machines):
        if not all(isinstance(m, dict) and m.get("mac") == mac for mac, m in machines.items()):
            raise ValueError("not a mapping of MAC to machine")

    def _load(self):
        """The machines; called with the lock held."""
        machines, corrupt = load_store(self.path, self._check)
        if corrupt is not None and self.on_corrupt is not None:
            self.on_corrupt(self.path, *corrupt)
        return machines

    def _update(self, change):
        with Lock(self.path):
            machines = self._load()
            result = change(machines)
            replace_file(self.path, json.dumps(machines, sort_keys=True, indent=1).encode("utf-8"))
        return result

    def add(self, reporter, sighting, received):
        """The machine's entry after this sighting; :class:`StoreFull` for a new MAC at the cap."""
        def change(machines):
            if sighting["mac"] not in machines and len(machines) >= self.max_entries:
                raise StoreFull(f"{self.path} holds {len(machines)} machines (brine_discovered_max); "
                                f"{sighting['mac']} is not added: forget some with salt-run brine.forget")
            entry = machines.get(sighting["mac"], {"mac": sighting["mac"], "discovered": received})
            entry.update({k: v for k, v in sighting.items() if v is not None})
            entry.update(reported_by=reporter, updated=received)
            machines[sighting["mac"]] = entry
            return entry

        return self._update(change)

    def forget(self, mac):
        return self._update(lambda machines: machines.pop(mac, None) is not None)

    def all(self):
        if not os.path.exists(self.path):
            return []
        with Lock(self.path):  # exclusive: a corrupt file is moved aside here too
            machines = self._load()
        return sorted(machines.values(), key=lambda m: (m.get("discovered", 0), m["mac"]))


def inventory_stub(machine):
    """A starting point for the machine's entry under ``brine:hosts`` (the operator names it)."""
    nic = machine.get("interface") or "eth0"
    return {"roles": [], "nics": {nic: {"mac": machine["mac"]}}}

