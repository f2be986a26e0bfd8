"""
Brine's file watcher engine: notices when another tool rewrites a file Brine manages, and when
the bootstrap host's DHCP server sees a machine it has no reservation for.

.. code-block:: yaml

    engines:
      - brine_filewatch:
          watches:
            # brine/file/changed {"watch": "nova_conf", "path", "sha256", "previous", "timestamp"}
            nova_conf: /etc/kolla/nova-compute/nova.conf
            # brine/dhcp/unknown {"mac", "ip", "interface", "first_seen", "last_seen", "count"}
            dhcp_log: /var/log/dnsmasq.log

It watches each file's *directory* with inotify: configuration tools replace files by writing a
temporary file and renaming it over the old one, and a watch on the file itself would stay on
the old, unlinked inode. An event is published only when the content hash changes, so touching
a file or rewriting it with the same content stays silent. Without inotify (or with
``poll: true``) the engine hashes the files every ``poll_interval`` seconds instead.
"""

import ctypes
import ctypes.util
import errno
import hashlib
import logging
import os
import select
import struct
import time

log = logging.getLogger(__name__)

__virtualname__ = "brine_filewatch"

# Watch names the master's reactors know; anything else is published but nothing reacts to it.
FILE_WATCHES = ("nova_conf",)
DHCP_WATCHES = ("dhcp_log",)

IN_MODIFY = 0x00000002
IN_CLOSE_WRITE = 0x00000008
IN_MOVED_FROM = 0x00000040
IN_MOVED_TO = 0x00000080
IN_CREATE = 0x00000100
IN_DELETE = 0x00000200
IN_DELETE_SELF = 0x00000400
IN_MOVE_SELF = 0x00000800
IN_Q_OVERFLOW = 0x00004000
IN_IGNORED = 0x00008000
IN_NONBLOCK = 0o4000
IN_CLOEXEC = 0o2000000

# Only completed writes: a file rewritten in place is empty between its truncation and the
# writer's close, and hashing it then would report a change that is not one (and make the
# reactor rewrite the file again, forever). A rename lands a finished file in one step.
DIRECTORY_MASK = IN_CLOSE_WRITE | IN_MOVED_TO
EVENT_HEADER = struct.Struct("iIII")  # wd, mask, cookie, len


def __virtual__():
    return __virtualname__


# --------------------------------------------------------------------------- pure core


def parse_inotify_events(buffer):
    """``[(wd, mask, name), ...]`` from the bytes one read() of an inotify descriptor returned."""
    events = []
    offset = 0
    while offset + EVENT_HEADER.size <= len(buffer):
        wd, mask, _cookie, length = EVENT_HEADER.unpack_from(buffer, offset)
        offset += EVENT_HEADER.size
        raw = buffer[offset : offset + length]
        offset += length
        events.append((wd, mask, raw.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")))
    return events


def file_digest(path):
    """The SHA-256 of a file's content, or None when there is no readable regular file."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 16), b""):
                digest.update(chunk)
    except (FileNotFoundError, IsADirectoryError, PermissionError, NotADirectoryError):
        return None
    return digest.hexdigest()


class ContentWatch:
    """
    The last known content hash of each watched file. :meth:`check` says whether a file's
    content is new since the previous check; a file that disappears is not a change (the new
    one that follows is).
    """

    def __init__(self, watches):
        self.paths = {name: os.path.abspath(path) for name, path in watches.items()}
        self.digests = {name: file_digest(path) for name, path in self.paths.items()}

    def names_in(self, directory, filename):
        full = os.path.join(directory, filename)
        return [name for name, path in self.paths.items() if path == full]

    def directories(self):
        return sorted({os.path.dirname(path) for path in self.paths.values()})

    def check(self, name, now=None):
        """``(tag, payload)`` when the content of watch ``name`` changed, else None."""
        digest = file_digest(self.paths[name])
        previous = self.digests[name]
        if digest is None or digest == previous:
            return None
        self.digests[name] = digest
        return (
            "brine/file/changed",
            {
                "watch": name,
                "path": self.paths[name],
                "sha256": digest,
                "previous": previous,
                "timestamp": time.time() if now is None else now,
            },
        )


class DhcpLeases:
    """Which unknown MACs have been reported, and at what count, so each sighting goes out once."""

    def __init__(self):
        self.reported = {}

    def new_sightings(self, entries):
        fresh = []
        for entry in entries or []:
            if not isinstance(entry, dict) or "mac" not in entry:
                continue
            key = (entry.get("count"), entry.get("last_seen"))
            if self.reported.get(entry["mac"]) != key:
                self.reported[entry["mac"]] = key
                fresh.append(entry)
        return fresh


# --------------------------------------------------------------------------- inotify


class Inotify:
    """The inotify(7) calls through ctypes: no pyinotify needed on the minion."""

    def __init__(self):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        self._add_watch = libc.inotify_add_watch
        self._add_watch.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
        self.fd = libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        if self.fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1 failed")

    def add_watch(self, directory, mask=DIRECTORY_MASK):
        wd = self._add_watch(self.fd, os.fsencode(directory), mask)
        if wd < 0:
            err = ctypes.get_errno()
            raise OSError(err, f"inotify_add_watch {directory}: {os.strerror(err)}")
        return wd

    def read(self, timeout):
        """The events that arrive within ``timeout`` seconds (an empty list when none do)."""
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return []
        try:
            return parse_inotify_events(os.read(self.fd, 1 << 16))
        except OSError as exc:
            if exc.errno == errno.EAGAIN:
                return []
            raise

    def close(self):
        os.close(self.fd)


# --------------------------------------------------------------------------- the engine


def publish(tag, payload):
    """Send one event to the master through the minion, which stamps it with this minion's id."""
    log.info("brine_filewatch: %s %s", tag, payload)
    __salt__["event.send"](tag, payload)


def _changes(content, leases, names):
    for name in names:
        if name in DHCP_WATCHES:
            if content.check(name) is None:
                continue
            entries = __salt__["dhcp_reservations.discover"](log_path=content.paths[name])
            for entry in leases.new_sightings(entries):
                publish("brine/dhcp/unknown", entry)
        else:
            change = content.check(name)
            if change is not None:
                publish(*change)


def start(watches=None, poll=False, poll_interval=1.0):
    """
    Watch the configured files and publish ``brine/file/changed`` / ``brine/dhcp/unknown``.

    CLI Example (engines run from the minion configuration, not the command line):

    .. code-block:: bash

        salt-call config.get engines
    """
    content = ContentWatch(watches or {})
    leases = DhcpLeases()
    if not content.paths:
        log.warning("brine_filewatch: no watches configured; nothing to do")
        return
    inotify = None
    wd_dirs = {}
    if not poll:
        try:
            inotify = Inotify()
            for directory in content.directories():
                os.makedirs(directory, exist_ok=True)
                wd_dirs[inotify.add_watch(directory)] = directory
        except OSError as exc:
            log.warning("brine_filewatch: inotify unavailable (%s); polling every %s s", exc, poll_interval)
            inotify = None
    log.info("brine_filewatch: watching %s", content.paths)
    while True:
        if inotify is None:
            time.sleep(poll_interval)
            _changes(content, leases, list(content.paths))
            continue
        events = inotify.read(timeout=60)
        if any(mask & IN_Q_OVERFLOW for _wd, mask, _name in events):
            names = list(content.paths)  # events were lost: look at everything
        else:
            names = sorted({n for wd, _m, f in events if wd in wd_dirs for n in content.names_in(wd_dirs[wd], f)})
        _changes(content, leases, names)
