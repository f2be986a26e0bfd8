"""
Brine's reactions, and the records an operator reads afterwards.

The reactors in ``reactor/`` (``#!py``) hand every event they match to :func:`reaction` here
while they render; it validates the event in Python and decides what, if anything, runs:

* ``brine/net/...`` (link watcher): recorded; a mended link of an OVS bond re-selects the primary
  (``dualbond.reselect_primary``) unless the engine did it on the minion (``reselect: engine``;
  its ``bond/reselected`` is recorded, and on an ``error`` the reselect runs from here as the
  fallback); a bond losing or regaining both members runs the double-failure loop guard
  (``dualbond.loop_guard``).
* ``brine/file/changed`` with watch ``nova_conf``: ``state.apply compute.console`` on that minion.
* ``brine/dhcp/unknown``: the MAC is added to the discovered machines.
* ``brine/vip/state`` (keepalived's notify script): recorded.
* ``salt/minion/<id>/start``: ``state.apply`` (the highstate) on that minion, unless the master
  option ``brine_highstate_on_start`` is False.

Untrusted input: any minion can send any event, in any minion's name (Salt fires a minion's
beacon-style event list with the data it wrote, ``id`` included). So an event is acted on only
when it is signed with the key of the minion its envelope names (:func:`authenticate`; a replay
or a stale signature is refused), and each minion's reactions are rate-limited (:class:`Guard`).
The target of every action is that minion, never a payload field; every payload field is checked; a payload that names another minion, has unknown keys or
an invalid value is rejected: nothing runs, and the rejection is logged and recorded.

Records live in the master's cachedir (``<cachedir>/brine/``, files mode 0600):
``events.jsonl``, appended line by line and bounded by ``brine_events_max_bytes`` (default
8 MiB; past it the log is cut to half, each minion keeping its newest entries up to a common
level and never more than ``brine_events_minion_max_bytes``, so a flooding minion loses only
its own history), and ``discovered.json`` (at most ``brine_discovered_max`` machines, default
1024). Every text a record or a log line holds is bounded (cut with a marker); NaN and infinity
are refused. A store is rewritten through a temporary file, fsync and rename; a corrupt
``discovered.json`` is moved aside (``.corrupt-<UTC time>``) with a ``brine/store/corrupt``
record, and recording goes on.
"""

import fcntl
import hashlib
import hmac
import ipaddress
import json
import logging
import math
import os
import re
import tempfile
import time
from datetime import datetime, timezone

from brinelib import names

try:
    import netaddr

    HAS_NETADDR = True
except ImportError:  # pragma: no cover - exercised only on a master without netaddr
    HAS_NETADDR = False

log = logging.getLogger(__name__)

__virtualname__ = "brine"

# What salt-run offers; the pure core below is for the reactors (which import this file) and
# the tests.
__load__ = ["record", "events", "discovered", "forget", "galera_recover", "galera_form"]

DEFAULT_EVENTS_MAX_BYTES = 8 * 1024 * 1024
# Machines kept in discovered.json: any host on the LAN can make up MACs.
DEFAULT_DISCOVERED_MAX = 1024

# Minion ids: what Salt accepts as a key name that is also a sane host name (no globs, no
# slashes, no white space), so an id is safe as an exact list target and a file name.
_MINION_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$")
OPERSTATES = ("UNKNOWN", "NOTPRESENT", "DOWN", "LOWERLAYERDOWN", "TESTING", "DORMANT", "UP")
BACKENDS = names.DUALBOND_BACKENDS
RESELECT_BACKENDS = names.RESELECT_BACKENDS
# Who re-selected the primary of a mended bond member already (the link/up "reselect" value).
RESELECT_BY = ("engine",)
# Bounds of the engine's bond/reselected report (what _modules/brine_linkwatch.py sends).
# At most this many bonds in one brine/net/snapshot (_modules/brine_linkwatch.py sends them).
SNAPSHOT_BONDS_MAX = 16
RESELECT_DONE_MAX = 16
# Payload keys that name a minion: when present they must be the sender itself.
CLAIM_KEYS = ("id", "minion", "minion_id", "host", "hostname", "target", "tgt")
# File watches the master reacts to, and the state each one re-applies. The state comes from
# this table, never from the event.
WATCH_STATES = {"nova_conf": "compute.console"}
MAX_TEXT = 256


def __virtual__():
    if not HAS_NETADDR:
        return (False, "the brine runner needs the netaddr Python library")
    return __virtualname__


class Rejected(ValueError):
    """An event that is not acted on, and why."""


class Unsigned(Rejected):
    """A start event with no Brine signature at all: a minion that was never configured."""


# What a message or log line quotes of a value (an event field can be megabytes long).
SHOWN_MAX = 120
# The longest text kept in a record; longer ones are cut with a marker.
FIELD_MAX = 1024


def shown(value, limit=SHOWN_MAX):
    """``repr(value)``, cut to ``limit`` characters with a marker saying how much was left out."""
    text = repr(value)
    if len(text) <= limit:
        return text
    return f"{text[:limit]}...[{len(text) - limit} more characters]"


def bounded(value, limit=FIELD_MAX, depth=0):
    """``value`` with every text cut to ``limit`` characters (with a marker), lists and mappings
    cut to 64 items and nesting to 8 levels: what a record may hold of anything."""
    if isinstance(value, str):
        return value if len(value) <= limit else f"{value[:limit]}...[{len(value) - limit} more characters]"
    if depth >= 8:
        return shown(value, limit)
    if isinstance(value, dict):
        items = list(value.items())
        out = {bounded(str(k), 200): bounded(v, limit, depth + 1) for k, v in items[:64]}
        if len(items) > 64:
            out["..."] = f"{len(items) - 64} more items"
        return out
    if isinstance(value, (list, tuple)):
        out = [bounded(v, limit, depth + 1) for v in value[:64]]
        if len(value) > 64:
            out.append(f"...[{len(value) - 64} more items]")
        return out
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return shown(value, limit)


def non_finite(value, where="entry"):
    """The path of the first NaN or infinity in ``value`` (JSON has neither), or None."""
    if isinstance(value, float) and not math.isfinite(value):
        return where
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, (list, tuple)):
        items = enumerate(value)
    else:
        return None
    for key, item in items:
        found = non_finite(item, f"{where}.{key}")
        if found:
            return found
    return None


# --------------------------------------------------------------------------- field checks


def interface_name_problem(name):
    """The kernel's dev_valid_name() rules: what a reported interface may be called."""
    return names.kernel_interface_name_problem(name, shown=shown)


def canonical_mac(value):
    """A unicast 48-bit MAC in canonical form, or Rejected."""
    if not isinstance(value, str) or len(value) > 32:
        raise Rejected(f"mac: {shown(value)} is not a MAC address")
    try:
        return names.canonical_mac(value)
    except ValueError:
        raise Rejected(f"mac: {shown(value)} is not a unicast 48-bit MAC address") from None


def _interface(payload, key, optional=False):
    value = payload.get(key)
    if value is None and optional:
        return None
    problem = interface_name_problem(value)
    if problem:
        raise Rejected(f"{key}: {problem}")
    return value


def _number(payload, key):
    value = payload.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise Rejected(f"{key}: {shown(value)} is not a number")
    return value


def _choice(payload, key, choices, optional=False):
    value = payload.get(key)
    if value is None and optional:
        return None
    if value not in choices:
        raise Rejected(f"{key}: {shown(value)} is not one of {', '.join(choices)}")
    return value


def _text(payload, key, optional=True):
    value = payload.get(key)
    if value is None and optional:
        return None
    if isinstance(value, bool) or isinstance(value, int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise Rejected(f"{key}: {shown(value)} is not a finite number")
        return value
    if not isinstance(value, str) or len(value) > MAX_TEXT or not value.isprintable():
        raise Rejected(f"{key}: {shown(value)} is not a short printable text or number")
    return value


def _short_string(payload, key):
    value = payload.get(key)
    if not isinstance(value, str) or not value or len(value) > MAX_TEXT or not value.isprintable():
        raise Rejected(f"{key}: {shown(value)} is not a short printable text")
    return value


def _only_keys(payload, allowed):
    unknown = sorted(str(k) for k in payload if k not in allowed)
    if unknown:
        raise Rejected(f"unexpected payload keys {shown(unknown)}")


def envelope(data):
    """``(minion_id, payload)`` of a minion event as the master received it, or Rejected."""
    if not isinstance(data, dict):
        raise Rejected("event data is not a mapping")
    minion = data.get("id")
    if not isinstance(minion, str) or not _MINION_ID.match(minion):
        raise Rejected(f"envelope id {shown(minion)} is not a valid minion id")
    payload = data.get("data")
    if not isinstance(payload, dict):
        raise Rejected("the event carries no payload mapping (was it sent with event.send?)")
    # event.send run as a job (salt-call, salt '*') adds the job's own __pub_* metadata.
    payload = {k: v for k, v in payload.items() if not (isinstance(k, str) and k.startswith("__pub_"))}
    for key in CLAIM_KEYS:
        if key in payload and payload[key] != minion:
            raise Rejected(f"payload {key}={shown(payload[key])} claims to be about another minion than {shown(minion)}")
    return minion, payload


# --------------------------------------------------------------------------- decisions


def decide_link(tag, data):
    """
    Validate a ``brine/net/...`` event; return ``(minion, record, actions)`` where ``actions``
    is a list of ``(function, kwargs)`` to run on that minion. Raises Rejected.
    """
    minion, payload = envelope(data)
    kind = tag[len("brine/net/"):] if isinstance(tag, str) and tag.startswith("brine/net/") else None
    common = {"timestamp": _number(payload, "timestamp"), "backend": _choice(payload, "backend", BACKENDS, optional=True)}
    if kind in ("link/down", "link/up"):
        _only_keys(payload, ("interface", "bond", "backend", "carrier", "operstate", "active", "timestamp", "reselect")
                   + CLAIM_KEYS)
        if not isinstance(payload.get("carrier"), bool):
            raise Rejected(f"carrier: {shown(payload.get('carrier'))} is not true or false")
        if kind == "link/down" and "reselect" in payload:
            raise Rejected("reselect: only a link/up can say who re-selected the primary")
        record = dict(
            common,
            interface=_interface(payload, "interface"),
            bond=_interface(payload, "bond", optional=True),
            active=_interface(payload, "active", optional=True),
            carrier=payload["carrier"],
            operstate=_choice(payload, "operstate", OPERSTATES, optional=True),
        )
        if "reselect" in payload:
            record["reselect"] = _choice(payload, "reselect", RESELECT_BY)
        actions = []
        # "reselect: engine": the engine re-selects on the minion itself and reports it with
        # bond/reselected (an error there brings the reselect back here). A hostile minion can
        # only suppress the action on itself: every action targets the sender, never another.
        if (kind == "link/up" and record["bond"] is not None and record["backend"] in RESELECT_BACKENDS
                and "reselect" not in record):
            actions.append(("dualbond.reselect_primary", {}))
    elif kind == "bond/reselected":
        _only_keys(payload, ("bond", "backend", "done", "error", "timestamp") + CLAIM_KEYS)
        if ("done" in payload) == ("error" in payload):
            raise Rejected("a reselect report carries either done or error")
        record = dict(common, bond=_interface(payload, "bond"), backend=_choice(payload, "backend", BACKENDS))
        if "error" in payload:
            record["error"] = _short_string(payload, "error")
            # The engine's reselect failed: the fallback is the reactor's job, a fixed call with
            # nothing from the event (every bond of the dual bond; a no-op where it is right).
            # A hostile minion can trigger it only on itself, as it could with a link/up.
            actions = [("dualbond.reselect_primary", {})]
        else:
            done = payload["done"]
            if not isinstance(done, list) or len(done) > RESELECT_DONE_MAX:
                raise Rejected(f"done: {shown(done)} is not a list of at most {RESELECT_DONE_MAX} texts")
            record["done"] = [_short_string({"done": item}, "done") for item in done]
            actions = []
    elif kind == "bond/failover":
        _only_keys(payload, ("bond", "backend", "previous", "active", "timestamp") + CLAIM_KEYS)
        record = dict(common, bond=_interface(payload, "bond"), previous=_interface(payload, "previous"),
                      active=_interface(payload, "active"))
        actions = []
    elif kind in ("bond/down", "bond/restored"):
        _only_keys(payload, ("bond", "backend", "members", "active", "timestamp") + CLAIM_KEYS)
        members = payload.get("members")
        if not isinstance(members, list) or not 1 <= len(members) <= 16:
            raise Rejected(f"members: {shown(members)} is not a list of 1-16 interfaces")
        record = dict(common, bond=_interface(payload, "bond"), active=_interface(payload, "active", optional=True),
                      members=[_interface({"members": m}, "members") for m in members])
        # Both members down is the double failure; the guard decides on both edges.
        actions = [("dualbond.loop_guard", {})]
    elif kind == "snapshot":
        record, actions = _decide_snapshot(payload, common)
    else:
        raise Rejected(f"unknown link event tag {shown(tag)}")
    return minion, record, actions


def _decide_snapshot(payload, common):
    """
    ``brine/net/snapshot``: how every bond of the sender is now (sent by the engine when it
    starts and when the master comes back, so what the master missed is caught up). The
    reactions are the ones the missed events would have had, as fixed calls on the sender: the
    loop guard (idempotent), and a reselect where an OVS bond has every member up but not its
    first one active.
    """
    _only_keys(payload, ("bonds", "timestamp") + CLAIM_KEYS)
    bonds = payload.get("bonds")
    if not isinstance(bonds, list) or not 1 <= len(bonds) <= SNAPSHOT_BONDS_MAX:
        raise Rejected(f"bonds: {shown(bonds)} is not a list of 1-{SNAPSHOT_BONDS_MAX} bonds")
    seen, reselect = [], False
    for item in bonds:
        if not isinstance(item, dict):
            raise Rejected(f"bonds: {shown(item)} is not a bond")
        _only_keys(item, ("bond", "backend", "members", "up", "active"))
        members, up = item.get("members"), item.get("up")
        if not isinstance(members, list) or not 1 <= len(members) <= 16:
            raise Rejected(f"members: {shown(members)} is not a list of 1-16 interfaces")
        members = [_interface({"members": m}, "members") for m in members]
        if not isinstance(up, list) or not set(up) <= set(members):
            raise Rejected(f"up: {shown(up)} is not a list of the bond's members")
        bond = dict(bond=_interface(item, "bond"), backend=_choice(item, "backend", BACKENDS), members=members,
                    up=[m for m in members if m in up], active=_interface(item, "active", optional=True))
        if bond["active"] is not None and bond["active"] not in members:
            raise Rejected(f"active: {shown(bond['active'])} is not one of the bond's members")
        reselect |= (bond["backend"] in RESELECT_BACKENDS and bond["up"] == members and bond["active"] != members[0])
        seen.append(bond)
    actions = [("dualbond.loop_guard", {})] + ([("dualbond.reselect_primary", {})] if reselect else [])
    return dict(common, bonds=seen), actions


def decide_file_changed(tag, data):
    """Validate ``brine/file/changed``; ``(minion, record, actions)`` or Rejected."""
    if tag != "brine/file/changed":
        raise Rejected(f"unexpected tag {shown(tag)}")
    minion, payload = envelope(data)
    _only_keys(payload, ("watch", "path", "sha256", "previous", "timestamp", "restored") + CLAIM_KEYS)
    watch = _choice(payload, "watch", tuple(WATCH_STATES))
    path = payload.get("path")
    if not isinstance(path, str) or not path.startswith("/") or len(path) > 4096 or not path.isprintable():
        raise Rejected(f"path: {shown(path)} is not an absolute path")
    digests = {}
    for key in ("sha256", "previous"):
        value = payload.get(key)
        if value is not None and not (isinstance(value, str) and re.fullmatch(r"[0-9a-f]{64}", value)):
            raise Rejected(f"{key}: {shown(value)} is not a SHA-256 digest")
        digests[key] = value
    restored = payload.get("restored")
    if restored is not None and not (isinstance(restored, str) and 0 < len(restored) <= 300 and restored.isprintable()):
        raise Rejected(f"restored: {shown(restored)} is not a short line of text")
    record = dict(digests, watch=watch, path=path, timestamp=_number(payload, "timestamp"))
    if restored is not None:
        # What the minion's engine says it did already; the state run below is the authority
        # either way (it finds nothing to do after a good restore, so nothing restarts twice).
        record["restored"] = restored
    # queue: a state run already in progress (the highstate, the previous rewrite) is waited
    # for instead of failing this one.
    return minion, record, [("state.apply", {"mods": WATCH_STATES[watch], "queue": True})]


def decide_dhcp_unknown(tag, data):
    """Validate ``brine/dhcp/unknown``; ``(minion, record, [])`` or Rejected."""
    if tag != "brine/dhcp/unknown":
        raise Rejected(f"unexpected tag {shown(tag)}")
    minion, payload = envelope(data)
    _only_keys(payload, ("mac", "ip", "interface", "first_seen", "last_seen", "count", "timestamp") + CLAIM_KEYS)
    record = {"mac": canonical_mac(payload.get("mac"))}
    ip = payload.get("ip")
    if ip is not None:
        try:
            ip = str(ipaddress.ip_address(ip if isinstance(ip, str) else ""))
        except ValueError:
            raise Rejected(f"ip: {shown(ip)} is not an IP address") from None
    record["ip"] = ip
    record["interface"] = _interface(payload, "interface", optional=True)
    record["first_seen"] = _text(payload, "first_seen")
    record["last_seen"] = _text(payload, "last_seen")
    count = payload.get("count", 1)
    if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count < 2**31:
        raise Rejected(f"count: {shown(count)} is not a count")
    record["count"] = count
    return minion, record, []


def decide_minion_start(tag, data, enabled=True):
    """
    Validate ``salt/minion/<id>/start``: ``(minion, record, actions)`` with the highstate when
    ``enabled``, or Rejected. The id in the tag must be the envelope's id.
    """
    if not isinstance(data, dict):
        raise Rejected("event data is not a mapping")
    minion = data.get("id")
    if not isinstance(minion, str) or not _MINION_ID.match(minion):
        raise Rejected(f"envelope id {shown(minion)} is not a valid minion id")
    if tag != f"salt/minion/{minion}/start":
        raise Rejected(f"tag {shown(tag)} is not the start event of {shown(minion)}")
    actions = [("state.apply", {"queue": True})] if enabled else []
    return minion, {"highstate": bool(enabled)}, actions


# VIP state changes from keepalived's notify script (salt/keepalived, docs/loadbalancer.md).
VIP_NAMES = ("internal", "external")
VIP_STATES = ("MASTER", "BACKUP", "FAULT", "STOP", "DELETED")


def decide_vip(tag, data):
    """Validate ``brine/vip/state`` (a VRRP instance of the sender changed state):
    ``(minion, record, [])``, recorded only, or Rejected."""
    if tag != "brine/vip/state":
        raise Rejected(f"unexpected tag {shown(tag)}")
    minion, payload = envelope(data)
    _only_keys(payload, ("vip", "state", "priority", "timestamp") + CLAIM_KEYS)
    record = {"vip": _choice(payload, "vip", VIP_NAMES), "state": _choice(payload, "state", VIP_STATES),
              "timestamp": _number(payload, "timestamp")}
    priority = payload.get("priority")
    if priority is not None and (isinstance(priority, bool) or not isinstance(priority, int) or not 0 <= priority <= 255):
        raise Rejected(f"priority: {shown(priority)} is not a VRRP priority 0-255")
    record["priority"] = priority
    return minion, record, []


def decide_echo(tag, data):
    """Validate ``brine/echo/request`` (the reactor's liveness probe): ``(minion, record,
    [event.send brine/echo/reply])`` to the sender only, or Rejected."""
    if tag != "brine/echo/request":
        raise Rejected(f"unexpected tag {shown(tag)}")
    minion, payload = envelope(data)
    _only_keys(payload, CLAIM_KEYS)
    return minion, {}, [("event.send", {"tag": "brine/echo/reply"})]


# --------------------------------------------------------------------------- stores


def _parse_since(since):
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


def _fsync_directory(directory):
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def replace_file(path, data):
    """
    Put ``data`` (bytes) at ``path`` so that a crash leaves either the old file or the new one,
    never a mix: a temporary file in the same directory (mode 0600), fsync, rename over
    ``path``, fsync of the directory.
    """
    directory = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", dir=directory)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    _fsync_directory(directory)


def move_aside(path, now=None):
    """Rename a corrupt store to ``<path>.corrupt-<UTC time>`` and return that name."""
    when = datetime.fromtimestamp(time.time() if now is None else now, timezone.utc)
    aside = f"{path}.corrupt-{when.strftime('%Y%m%dT%H%M%S%fZ')}"
    os.replace(path, aside)
    os.chmod(aside, 0o600)
    _fsync_directory(os.path.dirname(path) or ".")
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


class _Lock:
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
        with _Lock(self.path):
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
        since = _parse_since(since)
        if not os.path.exists(self.path):
            return []
        with _Lock(self.path, exclusive=False):
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
        with _Lock(self.path):
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
        with _Lock(self.path):  # exclusive: a corrupt file is moved aside here too
            machines = self._load()
        return sorted(machines.values(), key=lambda m: (m.get("discovered", 0), m["mac"]))


def inventory_stub(machine):
    """A starting point for the machine's entry under ``brine:hosts`` (the operator names it)."""
    nic = machine.get("interface") or "eth0"
    return {"roles": [], "nics": {nic: {"mac": machine["mac"]}}}


# --------------------------------------------------------------------------- who really sent it
#
# Salt does not bind an event to its sender: a minion request may carry a list of events
# (``events``, the beacon path) whose data, ``id`` included, the minion writes itself, and the
# master fires them as they are. So every event Brine reacts to carries ``brine_sig``: an
# HMAC-SHA256, under a key only the master and that minion hold, of the envelope id, the tag,
# the payload, a time and a nonce. The key is derived here from a master secret and the minion
# id (:func:`minion_key`) and reaches the minion through its own pillar (``brine_events_key``,
# pillar/brine/events_key.sls), which the highstate writes into its brine-events.conf.
# The minion side is _modules/brine_sign.py (and _grains/brine_start.py for the start event);
# tests/unit/test_events_runner.py keeps the two signing texts equal.

SIG_VERSION = "brine-events-v1"
SIG_KEY = "brine_sig"
START_SIG_GRAIN = "brine_start_sig"
DEFAULT_SIGNIN_EVERY = 300  # seconds between two sign-ins of one minion (unsigned starts)
SIGNIN_ORCHESTRATION = "orch.brine_signin"
DEFAULT_MAX_AGE = 300  # seconds a signature is good for (either side of the master's clock)
DEFAULT_BURST = 10  # reactions a minion may start at once
DEFAULT_PER_MINUTE = 12  # and the rate at which that allowance comes back
NONCES_MAX = 1024  # nonces remembered per minion (within the age window)
_NONCE = re.compile(r"^[0-9a-f]{16,64}$")
_HEX_MAC = re.compile(r"^[0-9a-f]{64}$")


def master_secret(store_dir):
    """The master's secret (hex text), created once (mode 0600) in the runner's store."""
    path = os.path.join(store_dir, "events.secret")
    try:
        with open(path, encoding="ascii") as fh:
            secret = fh.read().strip()
        if re.fullmatch(r"[0-9a-f]{64}", secret):
            return secret
        raise ValueError(f"{path} does not hold a 64-digit hex secret")
    except FileNotFoundError:
        pass
    os.makedirs(store_dir, mode=0o700, exist_ok=True)
    secret = os.urandom(32).hex()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another worker made it first
        return master_secret(store_dir)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(secret + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    return secret


def minion_key(secret, minion):
    """The signing key of one minion: HMAC-SHA256 of its id under the master's secret."""
    return hmac.new(secret.encode("ascii"), f"{SIG_VERSION}\0{minion}".encode("utf-8"), hashlib.sha256).hexdigest()


def signing_text(minion, tag, payload, ts, nonce):
    """What the HMAC covers (the same as brine_sign.signing_text on the minion)."""
    body = {k: v for k, v in payload.items()
            if k != SIG_KEY and not (isinstance(k, str) and k.startswith("__pub_"))}
    return json.dumps([SIG_VERSION, minion, tag, ts, nonce, body], sort_keys=True, separators=(",", ":"),
                      default=str).encode("utf-8")


def sign(key, minion, tag, payload, now=None, nonce=None):
    """``payload`` with its ``brine_sig`` (what a minion sends; for the tests and tools)."""
    ts = time.time() if now is None else now
    nonce = nonce or os.urandom(16).hex()
    mac = hmac.new(key.encode("ascii"), signing_text(minion, tag, payload, ts, nonce), hashlib.sha256).hexdigest()
    return dict(payload, **{SIG_KEY: {"ts": ts, "nonce": nonce, "mac": mac}})


def check_signature(key, minion, tag, payload, sig, now, max_age=DEFAULT_MAX_AGE):
    """``(ts, nonce)`` of a good signature, or Rejected."""
    if not isinstance(sig, dict) or set(sig) != {"ts", "nonce", "mac"}:
        raise Rejected("unsigned: no brine_sig (ts, nonce, mac) bound to the sender")
    ts, nonce, mac = sig["ts"], sig["nonce"], sig["mac"]
    if isinstance(ts, bool) or not isinstance(ts, (int, float)) or not math.isfinite(ts):
        raise Rejected(f"brine_sig.ts: {shown(ts)} is not a time")
    if not isinstance(nonce, str) or not _NONCE.match(nonce):
        raise Rejected(f"brine_sig.nonce: {shown(nonce)} is not 16-64 hex digits")
    if not isinstance(mac, str) or not _HEX_MAC.match(mac):
        raise Rejected(f"brine_sig.mac: {shown(mac)} is not an HMAC-SHA256")
    want = hmac.new(key.encode("ascii"), signing_text(minion, tag, payload, ts, nonce), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(want, mac):
        raise Rejected(f"bad signature: not signed with the key of {shown(minion)}")
    if abs(now - ts) > max_age:
        raise Rejected(f"stale signature: signed {now - ts:.0f} s from the master's time (limit {max_age} s)")
    return ts, nonce


class Guard:
    """
    Per minion, in one JSON file of the runner's store (replaced whole by rename, like
    discovered.json): the nonces of the signatures accepted within the age window (a replay is
    refused) and a token bucket of reactions (``burst`` at once, ``per_minute`` coming back).
    Only minions whose signature checked out get an entry.
    """

    def __init__(self, path, burst=DEFAULT_BURST, per_minute=DEFAULT_PER_MINUTE, max_age=DEFAULT_MAX_AGE):
        self.path = path
        self.burst = burst
        self.per_minute = per_minute
        self.max_age = max_age

    def _load(self):
        # The worst a lost guard costs: a replay inside the window.
        return load_store(self.path)[0]

    def knows(self, minion):
        """Whether ``minion`` ever sent an event whose signature checked out."""
        with _Lock(self.path):
            return isinstance(self._load().get(minion), dict)

    def admit(self, minion, nonce, now, acts):
        """Note the nonce; take a token when the event ``acts``. Rejected on a replay or when
        the minion's allowance is spent (then nothing is taken or noted)."""
        with _Lock(self.path):
            state = self._load()
            entry = state.get(minion)
            if not isinstance(entry, dict):
                entry = {"tokens": float(self.burst), "updated": now, "nonces": {}}
            nonces = {n: t for n, t in dict(entry.get("nonces") or {}).items()
                      if isinstance(t, (int, float)) and now - t <= 2 * self.max_age}
            if nonce in nonces:
                raise Rejected("replayed signature: this nonce was accepted before")
            tokens = min(float(self.burst), float(entry.get("tokens", self.burst))
                         + max(0.0, now - float(entry.get("updated", now))) * self.per_minute / 60.0)
            if acts:
                if tokens < 1.0:
                    entry.update(tokens=tokens, updated=now, nonces=nonces)
                    state[minion] = entry
                    replace_file(self.path, json.dumps(state, sort_keys=True).encode("utf-8"))
                    raise Rejected(f"rate limited: {minion} started more than {self.burst} reactions "
                                   f"at {self.per_minute} a minute")
                tokens -= 1.0
            nonces[nonce] = now
            if len(nonces) > NONCES_MAX:
                nonces = dict(sorted(nonces.items(), key=lambda item: item[1])[-NONCES_MAX:])
            entry.update(tokens=tokens, updated=now, nonces=nonces)
            state[minion] = entry
            replace_file(self.path, json.dumps(state, sort_keys=True).encode("utf-8"))


# --------------------------------------------------------------------------- thin layer


def _store_dir():
    return os.path.join(__opts__["cachedir"], "brine")


def size_option(opts, name, default):
    """A master option that must be a positive integer, or ValueError naming it."""
    value = opts.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"master option {name}: {shown(value)} is not a positive integer")
    return value


def _event_log():
    max_bytes = size_option(__opts__, "brine_events_max_bytes", DEFAULT_EVENTS_MAX_BYTES)
    return EventLog(os.path.join(_store_dir(), "events.jsonl"), max_bytes,
                    size_option(__opts__, "brine_events_minion_max_bytes", max(1, max_bytes // 8)))


def _store_trouble(path, aside, reason):
    """The event-log line that says a store was found corrupt and moved aside."""
    _event_log().append({"received": time.time(), "minion": None, "tag": "brine/store/corrupt",
                         "store": path, "moved_to": aside, "reason": reason})


def _discovered():
    return DiscoveredStore(os.path.join(_store_dir(), "discovered.json"),
                           size_option(__opts__, "brine_discovered_max", DEFAULT_DISCOVERED_MAX),
                           on_corrupt=_store_trouble)


def decide(kind, tag, data, enabled=True):
    """``(minion, record, actions)`` for one event of ``kind``, or Rejected."""
    if kind == "link":
        return decide_link(tag, data)
    if kind == "file_changed":
        return decide_file_changed(tag, data)
    if kind == "dhcp_unknown":
        return decide_dhcp_unknown(tag, data)
    if kind == "minion_start":
        return decide_minion_start(tag, data, enabled=enabled)
    if kind == "echo":
        return decide_echo(tag, data)
    if kind == "vip":
        return decide_vip(tag, data)
    raise Rejected(f"no reaction of kind {shown(kind)}")


def highstate_on_start(opts):
    """The master option ``brine_highstate_on_start`` (default True) as a bool."""
    value = opts.get("brine_highstate_on_start", True)
    return value is True or str(value).strip().lower() in ("true", "yes", "on", "1")


def authenticate(kind, tag, data, opts, now):
    """
    ``(data, nonce)``: the event with its signature taken out, when it is signed with the key of
    the minion its envelope names (``data['id']``); Rejected otherwise. The signature of a
    start event is the ``brine_start_sig`` grain the minion adds to it (``start_event_grains``).
    """
    if not isinstance(data, dict):
        raise Rejected("event data is not a mapping")
    minion = data.get("id")
    if not isinstance(minion, str) or not _MINION_ID.match(minion):
        raise Rejected(f"envelope id {shown(minion)} is not a valid minion id")
    if kind == "minion_start":
        grains = data.get("grains")
        sig = grains.get(START_SIG_GRAIN) if isinstance(grains, dict) else None
        payload = {}
        if sig is None:
            raise Unsigned("unsigned start: the minion has no Brine signing key yet (never configured)")
    else:
        payload = data.get("data")
        if not isinstance(payload, dict):
            raise Rejected("the event carries no payload mapping (was it sent with event.send?)")
        sig = payload.get(SIG_KEY)
        data = dict(data, data={k: v for k, v in payload.items() if k != SIG_KEY})
    cachedir = opts.get("cachedir")
    if not cachedir:
        raise Rejected("no master cachedir: no key to check the signature with")
    key = minion_key(master_secret(os.path.join(cachedir, "brine")), minion)
    max_age = size_option(opts, "brine_events_max_age", DEFAULT_MAX_AGE)
    _ts, nonce = check_signature(key, minion, tag, payload, sig, now, max_age)
    return data, nonce


def guard(opts):
    """The replay and rate guard of the master whose options are ``opts``."""
    return Guard(os.path.join(opts["cachedir"], "brine", "guard.json"),
                 burst=size_option(opts, "brine_reactions_burst", DEFAULT_BURST),
                 per_minute=size_option(opts, "brine_reactions_per_minute", DEFAULT_PER_MINUTE),
                 max_age=size_option(opts, "brine_events_max_age", DEFAULT_MAX_AGE))


def signin_guard(opts):
    """At most one sign-in per minion per ``brine_signin_every`` seconds (default 300)."""
    every = size_option(opts, "brine_signin_every", DEFAULT_SIGNIN_EVERY)
    return Guard(os.path.join(opts["cachedir"], "brine", "signin-guard.json"), burst=1, per_minute=60.0 / every)


def decide_signin(tag, data):
    """
    An unsigned start (:class:`Unsigned`) naming a minion that never signed an event: it may be
    new, with no signing key yet (one that has signed before has its key: an unsigned start in
    its name is refused by :func:`reaction`). Nothing the event says is trusted; the master itself sends that minion, and only it,
    the orchestration ``orch.brine_signin``: sync Brine's extensions, then ``brine.events``, which
    writes the minion's key from its own pillar and restarts it. Its next start is signed and
    gets the highstate. A forged start costs the named minion at most that, once per
    ``brine_signin_every``.
    """
    minion, _, _ = decide_minion_start(tag, data, enabled=False)
    action = ("runner.state.orchestrate", {"mods": SIGNIN_ORCHESTRATION, "pillar": {"brine_signin_minion": minion}})
    return minion, {"highstate": False, "signin": True}, [action]


def rejection(tag, data, received, exc):
    """The reactor's high data for a rejected event: logged, and only its record (bounded)."""
    sender = data.get("id") if isinstance(data, dict) else None
    log.warning("brine: rejected event %s from %s: %s", shown(tag, 200), shown(sender, 100), bounded(str(exc), 500))
    entry = {"received": received, "minion": bounded(sender, 100) if isinstance(sender, str) else shown(sender, 100),
             "tag": bounded(str(tag), 200), "rejected": bounded(str(exc), 500)}
    return {"brine-record": {"runner.brine.record": [{"args": [{"entry": entry}]}]}}


def reaction(kind, tag, data, opts=None, received=None):
    """
    The reactor's high data for one event: the validated actions as ``local.<fun>`` calls on
    the sending minion (an exact list target), then ``runner.brine.record`` of what was decided.
    A rejected event yields only the record of its rejection: one not signed with its sender's
    key (:func:`authenticate`), a replay, one whose payload does not check out, and one that
    would start a reaction past its minion's allowance (:class:`Guard`).

    The reactor SLS files (``#!py``) call this while rendering, so validation is Python and
    the actions go out through the reactor's own, already connected client.
    """
    opts = opts or {}
    received = time.time() if received is None else received
    try:
        try:
            checked, nonce = authenticate(kind, tag, data, opts, received)
        except Unsigned:
            if not highstate_on_start(opts):
                raise
            minion, record_, actions = decide_signin(tag, data)
            if guard(opts).knows(minion):
                # It has signed before: it has its key, so this start is not its own.
                raise
            signin_guard(opts).admit(minion, f"signin-{received}", received, True)
        else:
            minion, record_, actions = decide(kind, tag, checked, enabled=highstate_on_start(opts))
            guard(opts).admit(minion, nonce, received, bool(actions))
    except (Rejected, ValueError) as exc:
        return rejection(tag, data, received, exc)
    high = {}
    for number, (fun, kwargs) in enumerate(actions):
        if fun.startswith("runner."):
            # A master-side step (the sign-in orchestration): its target is in its pillar.
            high[f"brine-{number}-{fun}"] = {fun: [{"args": [{key: value} for key, value in kwargs.items()]}]}
            continue
        spec = [{"tgt": [minion]}, {"tgt_type": "list"}]
        if kwargs:
            spec.append({"args": [{key: value} for key, value in kwargs.items()]})
        # Named so that they sort (and run) before the record.
        high[f"brine-{number}-{fun}"] = {f"local.{fun}": spec}
    entry = {"received": received, "minion": minion, "tag": tag, "event": record_,
             "actions": [{"fun": fun, "kwargs": kwargs} for fun, kwargs in actions]}
    high["brine-record"] = {"runner.brine.record": [{"args": [{"entry": entry}]}]}
    return high


def record(entry, **_reactor):
    """
    Append one decided event to the event log (and a discovered MAC to the discovered
    machines). Called by the reactors with what :func:`reaction` decided.

    CLI Example:

    .. code-block:: bash

        salt-run brine.record entry='{"received": 1700000000, "minion": "ubuntu1", "tag": "note"}'
    """
    if not isinstance(entry, dict):
        raise ValueError("entry must be a mapping")
    entry = bounded(entry)
    # The log first: whatever becomes of the discovered store, the event is on record.
    written = _event_log().append(entry)
    if entry.get("tag") == "brine/dhcp/unknown" and isinstance(entry.get("event"), dict):
        try:
            _discovered().add(entry["minion"], entry["event"], entry["received"])
        except StoreFull as exc:
            log.warning("brine: %s", exc)
        except (OSError, KeyError, TypeError) as exc:
            log.error("brine: the discovered machines were not updated: %s", bounded(str(exc), 300))
    return written


def events(minion=None, since=None, tag=None, limit=50):
    """
    The recorded events, oldest first: each with the master's receipt time (``received``),
    the sender (``minion``), ``tag``, the validated payload (``event``) and the jobs it started
    (``actions``), or ``rejected`` with the reason.

    minion
        Only this minion's events.
    since
        Only events received after this: epoch seconds, an ISO 8601 time, or an age (``30m``).
    tag
        Only this tag; a trailing ``*`` matches a prefix (``brine/net/*``).
    limit
        At most this many (the newest); 0 for all.

    CLI Example:

    .. code-block:: bash

        salt-run brine.events
        salt-run brine.events minion=ubuntu1 since=1h tag='brine/net/*'
    """
    return _event_log().query(minion=minion, since=since, tag=tag, limit=limit)


def discovered():
    """
    The machines the bootstrap host's DHCP server saw without a reservation, oldest first,
    each with a starting point for its inventory entry (``inventory``).

    CLI Example:

    .. code-block:: bash

        salt-run brine.discovered
    """
    return [dict(machine, inventory=inventory_stub(machine)) for machine in _discovered().all()]


def forget(mac):
    """
    Remove a MAC from the discovered machines (once it is in the inventory, or to ignore it).

    CLI Example:

    .. code-block:: bash

        salt-run brine.forget 52:54:00:aa:bb:cc
    """
    try:
        return _discovered().forget(canonical_mac(mac))
    except Rejected as exc:
        raise ValueError(str(exc)) from None


# --------------------------------------------------------------------------- Galera (docs/galera.md)
#
# mariadb.service's ExecStopPost on every controller sends a signed brine/galera/stopped
# (salt/galera/files/brine-galera-stopped); reactor/galera.sls hands it to galera_reaction().
# A stop that systemd calls a success (an operator's systemctl stop) is only recorded; any other
# runs galera_recover, which asks every controller, plans with the pure core in
# _modules/brine_galera.py (loaded by path) and records its decision as brine/galera/recovery.

GALERA_STOPPED_TAG = "brine/galera/stopped"
GALERA_RECOVERY_TAG = "brine/galera/recovery"
# systemd's $SERVICE_RESULT values (systemd.exec(5)).
SERVICE_RESULTS = ("success", "protocol", "timeout", "exit-code", "signal", "core-dump", "watchdog",
                   "start-limit-hit", "resources", "oom-kill", "exec-condition")
EXIT_CODES = ("", "exited", "killed", "dumped")
_EXIT_STATUS = re.compile(r"^[A-Za-z0-9]{0,16}$")
GALERA_LOCK_WAIT = 900
# How long the runner waits for a controller's answer: a start waits for its SST (Type=notify),
# a position may run mariadbd --wsrep-recover over a large redo log; slow in a lab guest.
GALERA_CALL_TIMEOUTS = {"brine_galera.position": 300, "brine_galera.bootstrap": 900, "brine_galera.start": 900,
                        "brine_galera.new_cluster": 900}


def _galera_call(targets, fun, args):
    """``{minion: return}`` of ``fun`` on the controllers ``targets`` (missing: no answer)."""
    return __salt__["salt.execute"](list(targets), fun, arg=list(args), tgt_type="list",
                                    timeout=GALERA_CALL_TIMEOUTS.get(fun, 60)) or {}


def _galera_core():
    """brine_galera.py (the pure core) next to this runner's checkout or synced modules."""
    import importlib.util

    here = os.path.dirname(os.path.abspath(__file__))
    candidates = [os.path.join(here, "..", "_modules", "brine_galera.py"), os.path.join(here, "..", "modules", "brine_galera.py")]
    try:
        candidates.append(os.path.join(__opts__["extension_modules"], "modules", "brine_galera.py"))
    except (NameError, KeyError, TypeError):
        pass
    path = next((c for c in candidates if os.path.isfile(c)), None)
    if path is None:
        raise ValueError("brine_galera.py not found next to the brine runner (_modules/ or modules/)")
    spec = importlib.util.spec_from_file_location("brine_runner_galera", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def decide_galera_stopped(tag, data):
    """Validate ``brine/galera/stopped``: ``(minion, record, recover)``; ``recover`` is False for a
    clean stop (systemd's result ``success``), or Rejected."""
    if tag != GALERA_STOPPED_TAG:
        raise Rejected(f"unexpected tag {shown(tag)}")
    minion, payload = envelope(data)
    _only_keys(payload, ("result", "exit_code", "exit_status") + CLAIM_KEYS)
    result = _choice(payload, "result", SERVICE_RESULTS)
    exit_code = payload.get("exit_code", "")
    if exit_code not in EXIT_CODES:
        raise Rejected(f"exit_code {shown(exit_code)} is not one of {', '.join(repr(c) for c in EXIT_CODES)}")
    exit_status = payload.get("exit_status", "")
    if not isinstance(exit_status, str) or not _EXIT_STATUS.match(exit_status):
        raise Rejected(f"exit_status {shown(exit_status)} is not a short word")
    return minion, {"result": result, "exit_code": exit_code, "exit_status": exit_status}, result != "success"


def galera_reaction(tag, data, opts=None, received=None):
    """
    The reactor's high data for ``brine/galera/stopped``: when the stop was not clean,
    ``runner.brine.galera_recover trigger=<minion>`` (it decides whether that is a full outage),
    then the record. Signed and rate-limited like every reaction (:func:`reaction`).
    """
    opts = opts or {}
    received = time.time() if received is None else received
    try:
        checked, nonce = authenticate("galera_stopped", tag, data, opts, received)
        minion, record_, recover = decide_galera_stopped(tag, checked)
        guard(opts).admit(minion, nonce, received, recover)
    except (Rejected, ValueError) as exc:
        return rejection(tag, data, received, exc)
    high = {}
    actions = []
    if recover:
        high["brine-0-galera-recover"] = {"runner.brine.galera_recover": [{"args": [{"trigger": minion}]}]}
        actions.append({"fun": "runner.brine.galera_recover", "kwargs": {"trigger": minion}})
    entry = {"received": received, "minion": minion, "tag": tag, "event": record_, "actions": actions}
    high["brine-record"] = {"runner.brine.record": [{"args": [{"entry": entry}]}]}
    return high


def galera_controllers(inventory):
    """The inventory's controllers, in inventory order (the first is HAProxy's active writer)."""
    hosts = (inventory or {}).get("hosts") or {}
    return [str(name) for name, host in hosts.items()
            if isinstance(host, dict) and "controller" in (host.get("roles") or [])]


def galera_summary(result):
    """What brine/galera/recovery records: the decision, never a secret (positions are uuids and seqnos)."""
    plan = result.get("plan") or {}
    entry = {"decision": result.get("decision"), "reason": plan.get("reason"), "node": plan.get("node"),
             "bootstrap": plan.get("bootstrap"), "start": plan.get("start"), "forced": plan.get("forced"),
             "targets": result.get("targets"),
             "positions": {n: {k: v for k, v in (p or {}).items() if k in ("state", "uuid", "seqno", "safe_to_bootstrap",
                                                                           "source", "reason", "cluster_status")}
                           for n, p in (plan.get("positions") or {}).items()}}
    if "outcome" in result:
        entry.update(outcome=result["outcome"], steps=result.get("steps"))
    return {k: v for k, v in entry.items() if v is not None}


class _GaleraLock:
    """One recovery at a time on this master (the reactor may start several)."""

    def __init__(self, path, wait=GALERA_LOCK_WAIT):
        self.path, self.wait = path, wait

    def __enter__(self):
        os.makedirs(os.path.dirname(self.path), mode=0o700, exist_ok=True)
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        deadline = time.monotonic() + self.wait
        while True:
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return self
            except BlockingIOError:
                if time.monotonic() > deadline:
                    os.close(self.fd)
                    raise ValueError(f"another Galera recovery holds {self.path} for more than {self.wait} s")
                time.sleep(1)

    def __exit__(self, *exc):
        os.close(self.fd)


def galera_recover(force=None, trigger=None, timeout=300, **_reactor):
    """
    Bring MariaDB Galera back after a full outage, fail-closed: every controller's position
    (``brine_galera.position``: grastate.dat, ``mariadbd --wsrep-recover`` when its seqno is
    -1), then the node with the highest seqno bootstraps (only its grastate.dat is edited),
    waited for until Synced, and the others start one at a time. When any position is unknown,
    the controllers belong to different clusters, or the chosen node has the zero UUID, nothing
    runs and ``brine/galera/recovery`` records which node and why (``salt-run brine.events
    tag=brine/galera/recovery``). When a node still runs in a Primary component there is no
    outage: the stopped ``trigger`` (the reactor's) or every stopped node (by hand) rejoins it.

    force
        A controller to bootstrap although some positions are unknown (after checking them by
        hand). It must not be behind a node whose position is known.
    trigger
        The controller whose mariadb stopped (set by reactor/galera.sls).

    CLI Example:

    .. code-block:: bash

        salt-run brine.galera_recover
        salt-run brine.galera_recover force=ubuntu2
    """
    for name, value in (("force", force), ("trigger", trigger)):
        if value is not None and (not isinstance(value, str) or not _MINION_ID.match(value)):
            raise ValueError(f"{name}={shown(value)} is not a minion id")
    core = _galera_core()
    inventory = (__salt__["pillar.show_pillar"]() or {}).get("brine") or {}
    nodes = galera_controllers(inventory)

    def call(targets, fun, args):
        return _galera_call(targets, fun, args)

    def note(result):
        record({"received": time.time(), "minion": trigger, "tag": GALERA_RECOVERY_TAG,
                "event": dict(galera_summary(result), trigger=trigger, force=force)})

    with _GaleraLock(os.path.join(_store_dir(), "galera.lock")):
        result = core.run_recovery(nodes, call, force=force, trigger=trigger, timeout=int(timeout), on_decision=note)
    note(result)
    if result["decision"] == "refused":
        log.warning("brine: Galera recovery refused: %s", bounded(result["plan"].get("reason", ""), 500))
    return galera_summary(result)


def galera_form(timeout=300, **_kwargs):
    """
    Form the MariaDB Galera cluster of the inventory's controllers (salt/orch/galera.sls runs
    this after the galera states): on a clean slate (no controller runs mariadb or holds Galera
    state) the first controller in inventory order bootstraps and makes the accounts, then the
    others join one at a time, each waited for until Synced. When a cluster runs, the nodes
    that are not in it join. Anything else is a recovery (``brine.galera_recover``) and is
    refused. The result is recorded as ``brine/galera/formation``.

    CLI Example:

    .. code-block:: bash

        salt-run brine.galera_form
    """
    core = _galera_core()
    nodes = galera_controllers((__salt__["pillar.show_pillar"]() or {}).get("brine") or {})

    def call(targets, fun, args):
        return _galera_call(targets, fun, args)

    with _GaleraLock(os.path.join(_store_dir(), "galera.lock")):
        result = core.run_formation(nodes, call, timeout=int(timeout))
    record({"received": time.time(), "minion": None, "tag": "brine/galera/formation",
            "event": {"plan": result["plan"], "steps": result["steps"], "outcome": result["outcome"]}})
    if result["outcome"] != "done" and result["outcome"] != "nothing to do":
        __context__["retcode"] = 1
    return result
