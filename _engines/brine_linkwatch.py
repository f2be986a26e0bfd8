"""
Brine's link watcher engine: publishes ``brine/net/...`` events the moment the kernel reports a
link change over netlink (no polling; see ``docs/events.md`` for the tags and payloads).

Configure it in the minion configuration:

.. code-block:: yaml

    engines:
      - brine_linkwatch:
          # Optional. Default: the dual bond's NICs from the inventory (group "dualbond").
          bonds:
            bond0: {members: [eth2, eth3], backend: ovs}
          # Optional allow-list; default: every interface except lo.
          interfaces: [eth2, eth3]
          # Optional: watch the links of this network namespace (ip netns) instead.
          netns: null
          # Optional. Re-select the primary of an OVS bond here when a member's link is back.
          reselect: true
          # Optional. Seconds a flapping interface or bond is held back after a change
          # (the latest state goes out when they are over).
          hold_down: 1.0
          # Optional. Seconds between checks of the connection to the master; when it comes
          # back, a brine/net/snapshot of every bond follows (changes during an outage are
          # lost by Salt). One goes out at every start of the engine too.
          master_check: 5.0

With ``reselect`` (the default) a mended member of a bond whose backend does not re-select by
itself (OVS) is acted on by the engine: it publishes the ``brine/net/link/up`` marked
``"reselect": "engine"`` first (the master records it and starts nothing), then runs
``dualbond.reselect_primary`` in this process and publishes ``brine/net/bond/reselected`` with
what it did or the error (on an error the master's reactor runs the reselect as a job). Why
here and not from the master: re-selecting the primary must not depend on reaching the master,
which may sit behind the very bond that just failed over, and a job from the master costs
Salt's per-job loader setup on the minion while this process has the modules loaded already.

Minions that cannot run engines use the ``brine_linkwatch`` beacon, which publishes the same
events from a 1-second poll and acts on nothing (the master's reactor re-selects for it).
"""

import errno
import logging
import math
import os
import queue
import threading
import time

import brinelib

brinelib.forget_if_changed()  # a library synced since it was imported replaces the old one
from brinelib.linkwatch import LinkTracker, local_reselect, reselected
from brinelib.supervise import keep_running

try:
    from pyroute2 import IPRoute
    from pyroute2.netlink.rtnl import RTMGRP_LINK

    HAS_PYROUTE2 = True
except ImportError:  # pragma: no cover - exercised only on a minion without pyroute2
    HAS_PYROUTE2 = False

log = logging.getLogger(__name__)

__virtualname__ = "brine_linkwatch"

# Seconds to wait before each new try of a failed local reselect. The engine hears of the
# carrier first; Open vSwitch enables the member only at its next miimon check (the dual bond's
# bond-miimon-interval, plus any updelay) and until then refuses to make it active ("cannot make
# disabled member active"). After the last try the error goes to the master, whose reactor
# runs the reselect as a job.
RESELECT_RETRIES = (0.3, 1.0, 2.0)
# Seconds during which further changes of one interface (or bond) are held back after one was
# published: a flapping link is published once at once, then at most once per window, with its
# latest state (and only if that differs from what was published), so a burst of flaps costs a
# bounded number of events and reselects.
HOLD_DOWN = 1.0
# Seconds between checks of the connection to the master, and from its return to the snapshot.
MASTER_CHECK = 5.0
MASTER_SETTLE = 5.0


def __virtual__():
    if not HAS_PYROUTE2:
        return (False, "the brine_linkwatch engine needs the pyroute2 Python library")
    return __virtualname__


def publish(tag, payload):
    """Send one event to the master through the minion, which stamps it with this minion's id.
    False when it could not be sent: the engine carries on (the next change is sent again)."""
    log.info("brine_linkwatch: %s %s", tag, payload)
    try:
        __salt__["event.send"](tag, signed(tag, payload))
    except Exception:  # pylint: disable=broad-except
        log.exception("brine_linkwatch: could not send %s", tag)
        return False
    return True


def signed(tag, payload):
    """The payload signed with this minion's key (brine_sign), so the master knows who sent it."""
    return __salt__["brine_sign.sign"](tag, payload) if "brine_sign.sign" in __salt__ else payload


def as_flag(value):
    """The ``reselect`` setting as a bool (YAML gives a bool; a string from a CLI is accepted)."""
    if isinstance(value, str):
        return value.strip().lower() in ("true", "yes", "on", "1")
    return bool(value)


def handle(tag, payload, bonds=None, legs=None, reselect=True):
    """
    Publish one event of the tracker and, when it calls for it, re-select the primary here.
    Never raises: one bad event must not stop the watcher.
    """
    try:
        kwargs = local_reselect(tag, payload, bonds=bonds, legs=legs) if reselect else None
        if kwargs is None:
            publish(tag, payload)
            return
        payload = dict(payload, reselect="engine")
        # The link/up first: its record at the master does not wait for the reselect.
        publish(tag, payload)
        # In this loop, not a thread: changes meanwhile wait in the netlink socket (an overrun is
        # re-read from a dump), and two reselects never run at once.
        result = None
        for attempt, wait in enumerate((0,) + tuple(RESELECT_RETRIES)):
            time.sleep(wait)
            try:
                done = __salt__["dualbond.reselect_primary"](**kwargs)
            except Exception as exc:  # pylint: disable=broad-except
                log.warning("brine_linkwatch: dualbond.reselect_primary failed (try %d): %s", attempt + 1, exc)
                result = reselected(payload, error=f"{type(exc).__name__}: {exc}")
                continue
            result = reselected(payload, done=done)
            break
        else:
            log.error("brine_linkwatch: dualbond.reselect_primary failed; the master's reactor takes over")
        publish(*result)
    except Exception:  # pylint: disable=broad-except
        log.exception("brine_linkwatch: handling %s %s failed", tag, payload)


def subject(tag, payload):
    """What a change is about: later changes of the same subject supersede earlier ones."""
    kind = tag.rsplit("/", 2)[-2:]
    if kind[0] == "link":
        return ("link", payload.get("interface"))
    if kind in (["bond", "down"], ["bond", "restored"]):
        return ("bond", payload.get("bond"))
    return (tag, payload.get("bond"))


def state_of(tag, payload):
    return (tag, payload.get("active") if tag.endswith("/failover") else None)


class HoldDown:
    """
    Coalesces bursts of changes per subject (:func:`subject`): the first change of a subject
    goes out at once and opens a window of ``window`` seconds; changes within it are held,
    only the latest kept; when the window ends the latest goes out if it differs from what went
    out last (and opens a new window). Times are the caller's monotonic clock.
    """

    def __init__(self, window=HOLD_DOWN):
        if isinstance(window, bool) or not isinstance(window, (int, float)) or not math.isfinite(window) or window < 0:
            raise ValueError(f"hold_down: {window!r} is not a number of seconds >= 0")
        self.window = window
        self.until = {}  # subject -> end of its window
        self.pending = {}  # subject -> (tag, payload) held back
        self.sent = {}  # subject -> state_of() the last one that went out

    def offer(self, tag, payload, now):
        """The changes to publish now for this one (none while its subject is held)."""
        key = subject(tag, payload)
        if now >= self.until.get(key, -math.inf):
            self.until[key] = now + self.window
            self.sent[key] = state_of(tag, payload)
            self.pending.pop(key, None)
            return [(tag, payload)]
        self.pending[key] = (tag, payload)
        return []

    def due(self, now):
        """The held changes whose window has ended and that still change something."""
        out = []
        for key in sorted(self.pending, key=lambda k: self.until[k]):
            if now < self.until[key]:
                continue
            tag, payload = self.pending.pop(key)
            if state_of(tag, payload) != self.sent.get(key):
                self.sent[key] = state_of(tag, payload)
                self.until[key] = now + self.window
                out.append((tag, payload))
        return out

    def next_due(self, now):
        """Seconds until the next held change is due, or None when nothing is held."""
        if not self.pending:
            return None
        return max(0.0, min(self.until[k] for k in self.pending) - now)


class NetlinkReader:
    """
    The engine's netlink socket, owned by a thread of its own: it opens the socket (in
    ``netns`` if given), subscribes, queues a dump of every link as the first batch, then queues
    what each blocking ``get()`` returns; :func:`watch` waits on the queue with its hold-down
    timeout. pyroute2 (0.9) reads several datagrams at once and keeps what ``get()`` did not
    return, so a ``select()`` on its descriptor can sleep while messages wait in that buffer
    (seen in the lab: after a boot in which ovs-vswitchd made its ports, an OVS host's engine
    heard no cable cut), and its objects belong to the thread that made them. After an overrun
    the thread queues a fresh dump instead. Any other error ends the thread; ``get()`` raises it.
    """

    def __init__(self, open_socket):
        self.open_socket = open_socket
        self.queue = queue.Queue()
        self.ready = []
        threading.Thread(target=self._read, name="brine_linkwatch-netlink", daemon=True).start()

    def _read(self):
        try:
            with self.open_socket() as ipr:
                # Subscribe before the dump: a change between the two is then seen, not lost.
                ipr.bind(groups=RTMGRP_LINK)
                self.queue.put((None, [dict_event(msg, "RTM_NEWLINK") for msg in ipr.get_links()]))
                while True:
                    try:
                        self.queue.put((None, ipr.get()))
                    except OSError as exc:
                        if exc.errno != errno.ENOBUFS:
                            raise
                        # The kernel dropped notifications (socket buffer full): a fresh dump
                        # compared with the last known states still yields every change.
                        log.warning("brine_linkwatch: netlink overrun; re-reading every link")
                        self.queue.put((None, [dict_event(msg, "RTM_NEWLINK") for msg in ipr.get_links()]))
        except Exception as exc:  # pylint: disable=broad-except
            self.queue.put((exc, None))

    def wait(self, timeout):
        """True when messages (or the reader's error) are there, within ``timeout`` seconds
        (None: no limit)."""
        if self.ready:
            return True
        try:
            self.ready.append(self.queue.get(timeout=timeout))
        except queue.Empty:
            return False
        return True

    def get(self):
        error, messages = self.ready.pop(0) if self.ready else self.queue.get()
        if error is not None:
            raise error
        return messages


def watch(reader, tracker, act, hold, clock=time.monotonic, readable=lambda reader, timeout: reader.wait(timeout),
          resync=None):
    """
    The engine's loop: take netlink messages as they come (``reader``: a
    :class:`NetlinkReader`), pass what the tracker makes of them through ``hold``
    (:class:`HoldDown`) and give what comes out to ``act(tag, payload)``. ``resync`` (a
    :class:`MasterResync`) is asked at least every ``resync.every`` seconds for snapshots.
    """
    while True:
        wait = hold.next_due(clock())
        if resync is not None:
            wait = resync.every if wait is None else min(wait, resync.every)
        messages = reader.get() if readable(reader, wait) else []
        for msg in messages:
            for tag, payload in tracker.observe_message(msg):
                for item in hold.offer(tag, payload, clock()):
                    act(*item)
        for item in hold.due(clock()):
            act(*item)
        if resync is not None:
            for item in resync.due(clock()):
                act(*item)


class MasterResync:
    """
    Catches the master up after it could not hear this minion: Salt gives up on the events a
    minion sends while its master is down or restarting (its retries bridge a short outage). Every ``every`` seconds ``connection()``
    names the minion's connection to the master's publish port (empty while there is none);
    when a new one appears (the master restarted, or the network to it came back), a snapshot
    of every bond (:meth:`LinkTracker.snapshot`) goes out ``settle`` seconds later, once the
    master has had time to start its reactor. The engine sends one at its own start, so the
    connection found at the first check needs none. Times are the caller's monotonic clock; the
    snapshot's timestamp is the wall clock.
    """

    def __init__(self, tracker, connection, every=MASTER_CHECK, settle=MASTER_SETTLE, wall=time.time):
        self.tracker, self.connection, self.every, self.settle, self.wall = tracker, connection, every, settle, wall
        self.known = None  # the last connection seen (None: not checked yet)
        self.next_check = None
        self.snapshot_at = None

    def due(self, now):
        if self.next_check is None or now >= self.next_check:
            self.next_check = now + self.every
            try:
                current = frozenset(self.connection())
            except Exception:  # pylint: disable=broad-except
                log.exception("brine_linkwatch: cannot read the connection to the master")
                current = None
            if current:
                if self.known is not None and current != self.known:
                    log.info("brine_linkwatch: the master is back; a snapshot of the bonds follows in %.0f s", self.settle)
                    self.snapshot_at = now + self.settle
                self.known = current
            elif current is not None and self.known is None:
                self.known = frozenset()  # not connected at the start: the first connection is new
        if self.snapshot_at is not None and now >= self.snapshot_at:
            self.snapshot_at = None
            snapshot = self.tracker.snapshot(self.wall())
            return [snapshot] if snapshot else []
        return []


def master_connection(opts, pid=None):
    """
    A function naming the minion's TCP connections to its master other than to the request
    port (the publish port's), as ``{(local, remote)}`` read from /proc: the sockets of the
    minion process that started this engine (``pid``, default the parent) matched with
    /proc/net/tcp{,6}. A restarted master gives new connections. Nothing is sent.
    """
    import salt.utils.network  # pylint: disable=import-outside-toplevel

    pid = os.getppid() if pid is None else pid
    masters = opts.get("master")
    masters = masters if isinstance(masters, list) else [masters]
    request_port = int(opts.get("master_port", 4506))

    def connection():
        fd_dir = f"/proc/{pid}/fd"
        inodes = set()
        for fd in os.listdir(fd_dir):
            try:
                target = os.readlink(os.path.join(fd_dir, fd))
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
        ips = set()
        for master in masters:
            ips.update(salt.utils.network.host_to_ips(master) or [])
        found = set()
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            try:
                with open(table, encoding="ascii") as fh:
                    lines = fh.readlines()[1:]
            except OSError:
                continue
            for line in lines:
                fields = line.split()
                if len(fields) < 10 or fields[3] != "01" or fields[9] not in inodes:  # 01: ESTABLISHED
                    continue
                remote_ip, remote_port = _proc_address(fields[2])
                if remote_port != request_port and (not ips or remote_ip in ips):
                    found.add((fields[1], fields[2]))
        return found

    return connection


def _proc_address(text):
    """``(ip, port)`` of a /proc/net/tcp{,6} address (little-endian hex words)."""
    import ipaddress  # pylint: disable=import-outside-toplevel
    import socket  # pylint: disable=import-outside-toplevel

    host, port = text.split(":")
    raw = bytes.fromhex(host)
    # The kernel prints each 32-bit word in host (little-endian) order.
    raw = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
    if len(raw) == 4:
        return socket.inet_ntop(socket.AF_INET, raw), int(port, 16)
    ip = ipaddress.IPv6Address(raw)
    return str(ip.ipv4_mapped or ip), int(port, 16)


def start(bonds=None, interfaces=None, netns=None, reselect=True, hold_down=HOLD_DOWN, master_check=MASTER_CHECK):
    """
    Watch the links and publish every change as a ``brine/net/...`` event until stopped.

    CLI Example (engines run from the minion configuration, not the command line):

    .. code-block:: bash

        salt-call config.get engines
    """
    if bonds is None:
        bonds = __salt__["brine_linkwatch.inventory_bonds"]()
    tracker = LinkTracker(bonds=bonds, interfaces=interfaces)
    hold = HoldDown(hold_down)
    reselect = as_flag(reselect)
    legs = None
    if reselect:
        # Loaded now, not at the first mended cable: the dual bond's names, and dualbond itself.
        legs = __salt__["brine_linkwatch.reselect_legs"](tracker.bonds)
        if "dualbond.reselect_primary" not in __salt__:
            log.warning("brine_linkwatch: no dualbond module; a mended OVS member is left to the master")

    def run():
        reader = NetlinkReader(lambda: IPRoute(**({"netns": netns} if netns else {})))
        # The first batch is the dump. After a restart it is compared with the last known
        # states: what changed meanwhile is published.
        for msg in reader.get():
            for tag, payload in tracker.observe_message(msg):
                handle(tag, payload, bonds=tracker.bonds, legs=legs, reselect=reselect)
        log.info("brine_linkwatch: watching %s", sorted(n for n in tracker.links if tracker.watched(n)))
        act = lambda tag, payload: handle(tag, payload, bonds=tracker.bonds, legs=legs, reselect=reselect)  # noqa: E731
        # The master may have missed changes while this engine was not running: tell it how
        # every bond is now, and again whenever the master comes back.
        snapshot = tracker.snapshot()
        if snapshot:
            act(*snapshot)
        watch(reader, tracker, act, hold, resync=MasterResync(tracker, master_connection(__opts__), every=master_check))

    keep_running(run, "brine_linkwatch")


def dict_event(msg, event):
    """A dump entry is a link's current state; treat it as a notification of that state."""
    msg["event"] = event
    return msg
