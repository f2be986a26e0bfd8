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

A file watch can also put the file right at once, on this minion, before the event goes out
(``restore``): for ``nova_conf`` the engine runs ``nova_console.enforce`` with the arguments
given (the ``brine.events`` state renders them from the inventory, the wanted VNC settings
included: an engine's pillar is not the minion's current one), so the VNC options are back in
a fraction of a second and nova-compute is restarted only when they changed. The event then
says ``"restored": "patched"`` (or ``"in place"``, or ``"failed: <why>"``), and the master's
reactor still re-applies the state, which finds nothing left to do. The engine's own rewrite is
taken as the new baseline, so it raises no second event.

.. code-block:: yaml

    engines:
      - brine_filewatch:
          watches:
            nova_conf: /etc/nova/nova.conf
          restore:
            nova_conf: {role: compute, service: nova-compute, marker_dir: /etc/brine/restart-pending,
                        wanted: {...}}   # nova_console.settings

A DHCP watch can follow the systemd journal instead of a file (Debian 12 has no rsyslog by
default, and dhcpd then logs only to the journal):

.. code-block:: yaml

    engines:
      - brine_filewatch:
          watches:
            dhcp_log: journal:dhcpd     # journal:<syslog identifier>, as journalctl -t takes it

For it the engine runs ``journalctl --follow --lines=0 --no-pager -o short-iso -t dhcpd``
(an argument list, no shell; the identifier must match ``[A-Za-z0-9_][A-Za-z0-9_.@-]{0,63}``)
and reads its output in the same ``select`` loop as inotify. The new lines go to
``dhcp_reservations.discover_text`` (the parser ``discover`` uses, on those lines only, with
the inventory's MACs as the known ones: ``known_macs``, a list ``brine.events`` writes into
this configuration from ``dhcp_reservations.known_macs``, as an engine has no usable pillar);
each unknown MAC's running totals since the engine
started (``count``, ``first_seen``, ``last_seen``, last ``ip`` and ``interface``) are
published as ``brine/dhcp/unknown``, the same payload as for a log file. A line seen before
(the same text, its time to the second included) is not counted again. If journalctl exits,
it is started again after 1 s, doubling up to 60 s (a warning in the minion's log each time;
the delay is back to 1 s once a journalctl ran for 60 s), from the second of the last line it
printed (``--lines=all --since=@<epoch>``) so the lines in between are not lost and the repeated ones are
dropped. Only DHCP watches (``dhcp_log``) can take a journal source; messages from before the
engine started are not read (``salt-call dhcp_reservations.discover`` reads them).
"""

import hashlib
import logging
import collections
import datetime
import os
import re
import select
import subprocess
import time

import brinelib

brinelib.forget_if_changed()  # a library synced since it was imported replaces the old one
# journalctl restarts take the engine's delays: first, longest (doubling).
from brinelib.supervise import RESTART_DELAY, keep_running
from brinelib.inotify import IN_Q_OVERFLOW, Inotify

log = logging.getLogger(__name__)

__virtualname__ = "brine_filewatch"

# Watch names the master's reactors know; anything else is published but nothing reacts to it.
FILE_WATCHES = ("nova_conf",)
DHCP_WATCHES = ("dhcp_log",)


JOURNAL_PREFIX = "journal:"
# A syslog identifier as journalctl -t takes it: no option look-alike, no space, no glob.
_IDENTIFIER = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.@-]{0,63}")
# The time that starts a journalctl -o short-iso line, e.g. 2026-11-22T06:16:46+0000.
_ISO_PREFIX = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?)([+-]\d\d:?\d\d|Z)? ")
MAX_PARTIAL = 1 << 16  # bytes of a line without its end kept waiting for it
REMEMBERED_LINES = 4096  # lines kept to drop repeats (a restart replays at most its first second)


def __virtual__():
    return __virtualname__


# --------------------------------------------------------------------------- pure core


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

    # A tool that rewrites a file in place (truncate, then write) can be caught half done: the
    # half-written content must not go out as a change of its own (seen: an empty nova.conf read
    # between the truncation and the write of the next state run, whose event made the reactor
    # apply the state again, and again). A new content counts once two reads SETTLE_SECONDS
    # apart agree.
    SETTLE_SECONDS = 0.1
    SETTLE_TRIES = 20

    def __init__(self, watches, sleep=time.sleep):
        self.paths = {name: os.path.abspath(path) for name, path in watches.items()}
        self.digests = {name: file_digest(path) for name, path in self.paths.items()}
        self.sleep = sleep

    def _settled_digest(self, path, digest):
        for _ in range(self.SETTLE_TRIES):
            self.sleep(self.SETTLE_SECONDS)
            again = file_digest(path)
            if again == digest:
                break
            digest = again
        return digest

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
        digest = self._settled_digest(self.paths[name], digest)
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


def journal_identifier(value):
    """
    The syslog identifier of a watch value ``journal:<identifier>``, or None for a file path.
    Raises ValueError for an identifier journalctl must not be given.
    """
    if not isinstance(value, str) or not value.startswith(JOURNAL_PREFIX):
        return None
    identifier = value[len(JOURNAL_PREFIX):]
    if not _IDENTIFIER.fullmatch(identifier):
        raise ValueError(f"{value!r}: the syslog identifier must match {_IDENTIFIER.pattern}")
    return identifier


def split_watches(watches):
    """
    ``(files, journals, problems)``: ``{name: path}`` of the watched files, ``{name:
    identifier}`` of the journal sources, and the messages of the watches left out (a journal
    source on a watch that is not a DHCP watch, a bad identifier, a value that is not a path).
    """
    files, journals, problems = {}, {}, []
    for name, value in (watches or {}).items():
        try:
            identifier = journal_identifier(value)
        except ValueError as exc:
            problems.append(f"watch {name}: {exc}")
            continue
        if identifier is not None:
            if name in DHCP_WATCHES:
                journals[name] = identifier
            else:
                problems.append(f"watch {name}: only {', '.join(DHCP_WATCHES)} can follow the journal")
        elif isinstance(value, str) and value:
            files[name] = value
        else:
            problems.append(f"watch {name}: {value!r} is neither a path nor journal:<identifier>")
    return files, journals, problems


def journal_argv(identifier, since=None):
    """
    The journalctl command that follows ``identifier``'s messages: from now on, or from the
    second of ``since`` (seconds since the epoch) after a restart.
    """
    if not isinstance(identifier, str) or not _IDENTIFIER.fullmatch(identifier):
        raise ValueError(f"{identifier!r} is not a syslog identifier")
    # --follow alone would start with the last 10 lines: --lines=0 from now, all since a time.
    lines = "--lines=0" if since is None else "--lines=all"
    argv = ["journalctl", "--follow", lines, "--no-pager", "-o", "short-iso", "-t", identifier]
    if since is not None:
        argv.append(f"--since=@{int(since)}")
    return argv


def line_time(line):
    """Seconds since the epoch of a short-iso line's time, or None when it starts with none."""
    m = _ISO_PREFIX.match(line)
    if not m:
        return None
    zone = m.group(2) or ""
    if zone == "Z":
        zone = "+00:00"
    elif zone and ":" not in zone:
        zone = zone[:3] + ":" + zone[3:]
    try:
        when = datetime.datetime.fromisoformat(m.group(1) + zone)
    except ValueError:
        return None
    return when.timestamp()  # no offset: this machine's time, as journalctl prints it


class JournalLines:
    """
    The complete new lines of a journalctl stream. A line without its end yet waits for it;
    journalctl's own notes (``-- No entries --``, ``-- Boot ... --``) and empty lines are
    skipped; a line seen before (the same text: the time to the second and the message) is
    dropped, so following again from the last line's second repeats nothing. ``last_time``
    is the time of the newest line (where a restarted journalctl starts).
    """

    def __init__(self, remembered=REMEMBERED_LINES):
        self.partial = b""
        self.last_time = None
        self.seen = collections.OrderedDict()
        self.remembered = remembered

    def feed(self, data):
        self.partial += data
        *complete, self.partial = self.partial.split(b"\n")
        if len(self.partial) > MAX_PARTIAL:
            self.partial = b""  # not a journal line; do not let it grow
        fresh = []
        for raw in complete:
            line = raw.decode("utf-8", "replace").rstrip("\r")
            if not line.strip() or line.startswith("-- "):
                continue
            if line in self.seen:
                continue
            self.seen[line] = None
            if len(self.seen) > self.remembered:
                self.seen.popitem(last=False)
            when = line_time(line)
            if when is not None and (self.last_time is None or when > self.last_time):
                self.last_time = when
            fresh.append(line)
        return fresh

    def broken(self):
        """The stream ended: a line without its end will never get it."""
        self.partial = b""


def _instant(iso):
    try:
        return datetime.datetime.fromisoformat(iso).timestamp()
    except (TypeError, ValueError):
        return 0.0


class SightingTotals:
    """
    The running totals of each unknown MAC over the batches of journal lines read so far:
    :meth:`add` takes ``discover_text``'s entries for one batch and returns the totals of the
    MACs in it, in the payload shape of ``brine/dhcp/unknown``.
    """

    def __init__(self):
        self.totals = {}

    def add(self, entries):
        changed = []
        for entry in entries or []:
            if not isinstance(entry, dict) or "mac" not in entry:
                continue
            total = self.totals.get(entry["mac"])
            if total is None:
                total = self.totals[entry["mac"]] = {
                    "mac": entry["mac"], "ip": None, "interface": None,
                    "first_seen": None, "last_seen": None, "count": 0,
                }
            total["count"] += int(entry.get("count") or 0)
            first, last = entry.get("first_seen"), entry.get("last_seen")
            if first is not None and (total["first_seen"] is None or _instant(first) < _instant(total["first_seen"])):
                total["first_seen"] = first
            if last is not None and (total["last_seen"] is None or _instant(last) >= _instant(total["last_seen"])):
                total["last_seen"] = last
            # The batch is later in the log than the totals: its address and interface win.
            total["ip"] = entry.get("ip") or total["ip"]
            total["interface"] = entry.get("interface") or total["interface"]
            changed.append(dict(total))
        return changed


# --------------------------------------------------------------------------- journalctl


class JournalFollower:
    """
    One ``journalctl --follow`` process for a syslog identifier, its output read without
    blocking. When it exits (or cannot start), :meth:`read` notes when to start it again: after
    ``delays[0]`` seconds, doubling up to ``delays[1]``, back to the first delay once a process
    ran for ``delays[1]`` seconds. ``argv`` (a function of ``since``, returning an argument
    list) stands in for :func:`journal_argv` in the tests of the follow loop only.
    """

    def __init__(self, name, identifier, argv=None, delays=RESTART_DELAY, clock=time.monotonic):
        self.name = name
        self.identifier = identifier
        self.argv = argv or (lambda since: journal_argv(identifier, since))
        self.delays = delays
        self.delay = delays[0]
        self.clock = clock
        self.proc = None
        self.started = None
        self.next_start = clock()
        self.lines = JournalLines()
        self.restarts = 0
        self.returncode = None
        self.following_since = None

    def fileno(self):
        return self.proc.stdout.fileno() if self.proc is not None else None

    def wait(self, now):
        """Seconds until a stopped journalctl is due to start again (0: now)."""
        return max(0.0, self.next_start - now) if self.proc is None else None

    def start(self):
        # From now on the first time; after that from the last line's second, or, if no line
        # came yet, from when the first journalctl started: nothing in between is missed.
        since = self.lines.last_time if self.lines.last_time is not None else self.following_since
        argv = self.argv(since)
        if not isinstance(argv, (list, tuple)) or not all(isinstance(a, str) for a in argv):
            raise TypeError(f"the journal command must be an argument list, not {argv!r}")
        self.started = self.clock()
        try:
            self.proc = subprocess.Popen(list(argv), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, close_fds=True)
        except OSError as exc:
            log.warning("brine_filewatch: cannot start %s for watch %s: %s; trying again in %.1f s",
                        argv[0], self.name, exc, self.delay)
            self._backoff()
            return
        os.set_blocking(self.proc.stdout.fileno(), False)
        if self.following_since is None:
            self.following_since = time.time()
        log.info("brine_filewatch: following the journal of %s for watch %s (pid %s)",
                 self.identifier, self.name, self.proc.pid)

    def read(self):
        """The new complete lines waiting in the pipe; notices the end of the process."""
        try:
            data = os.read(self.proc.stdout.fileno(), 1 << 16)
        except BlockingIOError:
            return []
        except OSError as exc:
            log.warning("brine_filewatch: reading journalctl for watch %s failed: %s", self.name, exc)
            data = b""
        if data:
            return self.lines.feed(data)
        # End of file: journalctl exited (or closed its output).
        self.stop()
        ran = self.clock() - self.started
        if ran >= self.delays[1]:
            self.delay = self.delays[0]
        self.restarts += 1
        log.warning("brine_filewatch: journalctl for watch %s ended after %.0f s (exit code %s); "
                    "starting it again in %.1f s", self.name, ran, self.returncode, self.delay)
        self._backoff()
        return []

    def _backoff(self):
        self.proc = None
        self.lines.broken()
        self.next_start = self.clock() + self.delay
        self.delay = min(self.delay * 2, self.delays[1])

    def stop(self):
        """End the journalctl process (if running) and collect it."""
        self.returncode = None
        if self.proc is None:
            return
        proc, self.proc = self.proc, None
        if proc.poll() is None:
            proc.terminate()
        try:
            self.returncode = proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            self.returncode = proc.wait()
        proc.stdout.close()


# --------------------------------------------------------------------------- the engine


def publish(tag, payload):
    """Send one event to the master through the minion, which stamps it with this minion's id."""
    log.info("brine_filewatch: %s %.1000s", tag, payload)  # bounded: a payload is never a flood in the log
    if "brine_sign.sign" in __salt__:  # signed with this minion's key: the master knows who sent it
        payload = __salt__["brine_sign.sign"](tag, payload)
    __salt__["event.send"](tag, payload)


# What a restore calls for each file watch (the only ones a restore may be configured for).
RESTORE_FUNCTIONS = {"nova_conf": "nova_console.enforce"}


def restore_outcome(done):
    """The ``restored`` word of an event from what ``nova_console.enforce`` returned (pure)."""
    word = "patched" if done.get("changed") else "in place"
    if done.get("restart_error"):
        word += f", restart failed: {done['restart_error']}"
    return word[:300]


def _restore(content, name, restores):
    """Put watch ``name``'s file right here and now; the ``restored`` word for its event."""
    kwargs = (restores or {}).get(name)
    if kwargs is None or name not in RESTORE_FUNCTIONS:
        return None
    try:
        done = __salt__[RESTORE_FUNCTIONS[name]](content.paths[name], **kwargs)
    except Exception as exc:  # pylint: disable=broad-except
        # Another rewrite in the middle, a file that no longer parses: the reactor's state run
        # (and the next rewrite's event) deal with it; the engine must go on.
        log.error("brine_filewatch: %s not restored: %s", content.paths[name], exc)
        return f"failed: {exc}"[:300]
    # The engine's own rewrite is the new baseline: no event (and no reaction) for it.
    content.check(name)
    return restore_outcome(done)


def _changes(content, leases, names, restores=None, known=None):
    """``known``: the keyword arguments that tell ``dhcp_reservations`` the known MACs."""
    for name in names:
        if name in DHCP_WATCHES:
            if content.check(name) is None:
                continue
            try:
                entries = __salt__["dhcp_reservations.discover"](log_path=content.paths[name], **(known or {}))
            except Exception as exc:  # pylint: disable=broad-except
                log.error("brine_filewatch: %s not looked at: %s", content.paths[name], exc)
                continue
            for entry in leases.new_sightings(entries):
                publish("brine/dhcp/unknown", entry)
        else:
            change = content.check(name)
            if change is not None:
                restored = _restore(content, name, restores)
                if restored is not None:
                    change[1]["restored"] = restored
                publish(*change)


class Watcher:
    """
    The engine's loop, one round at a time (:meth:`step`): inotify on the watched files'
    directories (or a poll every ``poll_interval`` seconds), and the journalctl processes of
    the journal sources, in one ``select``.
    """

    def __init__(self, watches, poll=False, poll_interval=1.0, journal_command=None, restore=None, known_macs=None):
        files, journals, problems = split_watches(watches)
        for problem in problems:
            log.error("brine_filewatch: %s; that watch is left out", problem)
        self.content = ContentWatch(files)
        self.restores = {}
        for name, kwargs in (restore or {}).items():
            if name not in RESTORE_FUNCTIONS or name not in self.content.paths or not isinstance(kwargs, dict):
                log.error("brine_filewatch: restore %r: not a file watch this engine can restore; left out", name)
            else:
                self.restores[name] = kwargs
        self.leases = DhcpLeases()
        # The inventory's MACs as brine.events wrote them here: an engine has no usable pillar.
        self.known = {"known_macs": list(known_macs)} if isinstance(known_macs, (list, tuple)) else {}
        if not self.known and (journals or any(n in DHCP_WATCHES for n in files)):
            log.warning("brine_filewatch: no known_macs configured; DHCP clients are told apart with the "
                        "engine's own pillar, which is empty in an engine: every MAC counts as unknown")
        self.totals = SightingTotals()
        self.followers = [JournalFollower(name, ident, argv=journal_command) for name, ident in sorted(journals.items())]
        self.poll_interval = poll_interval
        self.next_poll = None
        self.inotify = None
        self.wd_dirs = {}
        if self.content.paths and not poll:
            try:
                self.inotify = Inotify()
                for directory in self.content.directories():
                    os.makedirs(directory, exist_ok=True)
                    self.wd_dirs[self.inotify.add_watch(directory)] = directory
            except OSError as exc:
                log.warning("brine_filewatch: inotify unavailable (%s); polling every %s s", exc, poll_interval)
                if self.inotify is not None:
                    self.inotify.close()
                self.inotify = None
        if self.content.paths and self.inotify is None:
            self.next_poll = time.monotonic() + poll_interval

    @property
    def empty(self):
        return not self.content.paths and not self.followers

    def step(self, timeout=60.0):
        """Wait up to ``timeout`` seconds for something to happen and publish what it means."""
        now = time.monotonic()
        for follower in self.followers:
            if follower.proc is None and follower.wait(now) == 0:
                follower.start()
        readers = {follower.fileno(): follower for follower in self.followers if follower.proc is not None}
        waits = [timeout]
        if self.inotify is not None:
            readers[self.inotify.fd] = self.inotify
        if self.next_poll is not None:
            waits.append(self.next_poll - now)
        waits += [f.wait(now) for f in self.followers if f.proc is None]
        ready, _, _ = select.select(list(readers), [], [], max(0.0, min(waits)))
        for fd in ready:
            reader = readers[fd]
            if reader is self.inotify:
                self._inotify_events(self.inotify.read_ready())
            else:
                lines = reader.read()
                if lines:
                    self._journal_lines(reader, lines)
        if self.next_poll is not None and time.monotonic() >= self.next_poll:
            self.next_poll = time.monotonic() + self.poll_interval
            _changes(self.content, self.leases, list(self.content.paths), self.restores, self.known)

    def _inotify_events(self, events):
        if any(mask & IN_Q_OVERFLOW for _wd, mask, _name in events):
            names = list(self.content.paths)  # events were lost: look at everything
        else:
            wd_dirs, content = self.wd_dirs, self.content
            names = sorted({n for wd, _m, f in events if wd in wd_dirs for n in content.names_in(wd_dirs[wd], f)})
        _changes(self.content, self.leases, names, self.restores, self.known)

    def _journal_lines(self, follower, lines):
        try:
            entries = __salt__["dhcp_reservations.discover_text"]("\n".join(lines) + "\n", **self.known)
        except Exception as exc:  # pylint: disable=broad-except
            # An inventory that does not render (pillar being edited) must not end the engine.
            log.error("brine_filewatch: %d journal lines of watch %s not looked at: %s", len(lines), follower.name, exc)
            return
        for entry in self.leases.new_sightings(self.totals.add(entries)):
            publish("brine/dhcp/unknown", entry)

    def close(self):
        for follower in self.followers:
            follower.stop()
        if self.inotify is not None:
            self.inotify.close()
            self.inotify = None


def start(watches=None, poll=False, poll_interval=1.0, restore=None, known_macs=None):
    """
    Watch the configured files and journals and publish ``brine/file/changed`` /
    ``brine/dhcp/unknown``.

    CLI Example (engines run from the minion configuration, not the command line):

    .. code-block:: bash

        salt-call config.get engines
    """
    def run():
        watcher = Watcher(watches or {}, poll=poll, poll_interval=poll_interval, restore=restore, known_macs=known_macs)
        try:
            if watcher.empty:
                log.warning("brine_filewatch: no watches configured; nothing to do")
                while True:  # an engine that returns is started again at once by the minion
                    time.sleep(3600)
            log.info("brine_filewatch: watching %s and the journal of %s", watcher.content.paths,
                     {f.name: f.identifier for f in watcher.followers})
            while True:
                watcher.step(timeout=60)
        finally:
            watcher.close()

    keep_running(run, "brine_filewatch")
