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
* ``salt/minion/<id>/start``: ``state.apply`` (the highstate) on that minion, unless the master
  option ``brine_highstate_on_start`` is False.

Untrusted input: any minion can send any event. The target of every action is the minion id of
the event's envelope (set by the master from the authenticated connection), never a payload
field; every payload field is checked; a payload that names another minion, has unknown keys or
an invalid value is rejected: nothing runs, and the rejection is logged and recorded.

Records live in the master's cachedir (``<cachedir>/brine/``): ``events.jsonl``, bounded by
``brine_events_max_bytes`` (default 8 MiB; the oldest half goes when it is exceeded), and
``discovered.json``.
"""

import fcntl
import ipaddress
import json
import logging
import math
import os
import re
import time
from datetime import datetime, timezone

try:
    import netaddr

    HAS_NETADDR = True
except ImportError:  # pragma: no cover - exercised only on a master without netaddr
    HAS_NETADDR = False

log = logging.getLogger(__name__)

__virtualname__ = "brine"

# What salt-run offers; the pure core below is for the reactors (which import this file) and
# the tests.
__load__ = ["record", "events", "discovered", "forget"]

DEFAULT_EVENTS_MAX_BYTES = 8 * 1024 * 1024

# Minion ids: what Salt accepts as a key name that is also a sane host name (no globs, no
# slashes, no white space), so an id is safe as an exact list target and a file name.
_MINION_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$")
IFNAME_MAX = 15
_IFNAME_FORBIDDEN = re.compile(r"[/:\s]")
OPERSTATES = ("UNKNOWN", "NOTPRESENT", "DOWN", "LOWERLAYERDOWN", "TESTING", "DORMANT", "UP")
BACKENDS = ("linux", "ovs")
# Backends that do not bring the primary member back by themselves when its link returns:
# the Linux bond does (primary_reselect), an OVS active-backup bond stays on the backup.
# The same tuple as _modules/brine_linkwatch.py's (which the engine acts on): a runner loaded
# from runner_dirs cannot import minion modules; tests/unit/test_events_runner.py keeps them equal.
RESELECT_BACKENDS = ("ovs",)
# Who re-selected the primary of a mended bond member already (the link/up "reselect" value).
RESELECT_BY = ("engine",)
# Bounds of the engine's bond/reselected report (what _modules/brine_linkwatch.py sends).
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


# --------------------------------------------------------------------------- field checks


def interface_name_problem(name):
    """The kernel's dev_valid_name() rules (same as brine_inventory.interface_name_problem)."""
    if not isinstance(name, str) or not name:
        return "interface name must be a non-empty string"
    if len(name) > IFNAME_MAX:
        return f"interface name {name!r} is longer than the kernel's {IFNAME_MAX} characters"
    if name in (".", ".."):
        return f"interface name {name!r} is reserved"
    if _IFNAME_FORBIDDEN.search(name):
        return f"interface name {name!r} contains '/', ':' or white space"
    if not name.isascii() or not name.isprintable():
        return f"interface name {name!r} contains non-printable or non-ASCII characters"
    return None


def canonical_mac(value):
    """A unicast 48-bit MAC in canonical form (as brine_inventory.canonical_mac), or Rejected."""
    if not isinstance(value, str) or len(value) > 32:
        raise Rejected(f"mac: {value!r} is not a MAC address")
    try:
        eui = netaddr.EUI(value.strip())
    except (netaddr.AddrFormatError, TypeError, ValueError):
        raise Rejected(f"mac: {value!r} is not a MAC address") from None
    if eui.version != 48 or int(eui) == 0 or eui.words[0] & 0x01:
        raise Rejected(f"mac: {value!r} is not a unicast 48-bit MAC address")
    eui.dialect = netaddr.mac_unix_expanded
    return str(eui).lower()


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
        raise Rejected(f"{key}: {value!r} is not a number")
    return value


def _choice(payload, key, choices, optional=False):
    value = payload.get(key)
    if value is None and optional:
        return None
    if value not in choices:
        raise Rejected(f"{key}: {value!r} is not one of {', '.join(choices)}")
    return value


def _text(payload, key, optional=True):
    value = payload.get(key)
    if value is None and optional:
        return None
    if isinstance(value, bool) or isinstance(value, (int, float)):
        return value
    if not isinstance(value, str) or len(value) > MAX_TEXT or not value.isprintable():
        raise Rejected(f"{key}: {value!r} is not a short printable text or number")
    return value


def _short_string(payload, key):
    value = payload.get(key)
    if not isinstance(value, str) or not value or len(value) > MAX_TEXT or not value.isprintable():
        raise Rejected(f"{key}: {value!r:.100} is not a short printable text")
    return value


def _only_keys(payload, allowed):
    unknown = sorted(str(k) for k in payload if k not in allowed)
    if unknown:
        raise Rejected(f"unexpected payload keys {unknown}")


def envelope(data):
    """``(minion_id, payload)`` of a minion event as the master received it, or Rejected."""
    if not isinstance(data, dict):
        raise Rejected("event data is not a mapping")
    minion = data.get("id")
    if not isinstance(minion, str) or not _MINION_ID.match(minion):
        raise Rejected(f"envelope id {minion!r} is not a valid minion id")
    payload = data.get("data")
    if not isinstance(payload, dict):
        raise Rejected("the event carries no payload mapping (was it sent with event.send?)")
    # event.send run as a job (salt-call, salt '*') adds the job's own __pub_* metadata.
    payload = {k: v for k, v in payload.items() if not (isinstance(k, str) and k.startswith("__pub_"))}
    for key in CLAIM_KEYS:
        if key in payload and payload[key] != minion:
            raise Rejected(f"payload {key}={payload[key]!r} claims to be about another minion than {minion!r}")
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
            raise Rejected(f"carrier: {payload.get('carrier')!r} is not true or false")
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
                raise Rejected(f"done: {done!r:.100} is not a list of at most {RESELECT_DONE_MAX} texts")
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
            raise Rejected(f"members: {members!r} is not a list of 1-16 interfaces")
        record = dict(common, bond=_interface(payload, "bond"), active=_interface(payload, "active", optional=True),
                      members=[_interface({"members": m}, "members") for m in members])
        # Both members down is the double failure; the guard decides on both edges.
        actions = [("dualbond.loop_guard", {})]
    else:
        raise Rejected(f"unknown link event tag {tag!r}")
    return minion, record, actions


def decide_file_changed(tag, data):
    """Validate ``brine/file/changed``; ``(minion, record, actions)`` or Rejected."""
    if tag != "brine/file/changed":
        raise Rejected(f"unexpected tag {tag!r}")
    minion, payload = envelope(data)
    _only_keys(payload, ("watch", "path", "sha256", "previous", "timestamp", "restored") + CLAIM_KEYS)
    watch = _choice(payload, "watch", tuple(WATCH_STATES))
    path = payload.get("path")
    if not isinstance(path, str) or not path.startswith("/") or len(path) > 4096 or not path.isprintable():
        raise Rejected(f"path: {path!r} is not an absolute path")
    digests = {}
    for key in ("sha256", "previous"):
        value = payload.get(key)
        if value is not None and not (isinstance(value, str) and re.fullmatch(r"[0-9a-f]{64}", value)):
            raise Rejected(f"{key}: {value!r} is not a SHA-256 digest")
        digests[key] = value
    restored = payload.get("restored")
    if restored is not None and not (isinstance(restored, str) and 0 < len(restored) <= 300 and restored.isprintable()):
        raise Rejected(f"restored: {str(restored)[:100]!r} is not a short line of text")
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
        raise Rejected(f"unexpected tag {tag!r}")
    minion, payload = envelope(data)
    _only_keys(payload, ("mac", "ip", "interface", "first_seen", "last_seen", "count", "timestamp") + CLAIM_KEYS)
    record = {"mac": canonical_mac(payload.get("mac"))}
    ip = payload.get("ip")
    if ip is not None:
        try:
            ip = str(ipaddress.ip_address(ip if isinstance(ip, str) else ""))
        except ValueError:
            raise Rejected(f"ip: {ip!r} is not an IP address") from None
    record["ip"] = ip
    record["interface"] = _interface(payload, "interface", optional=True)
    record["first_seen"] = _text(payload, "first_seen")
    record["last_seen"] = _text(payload, "last_seen")
    count = payload.get("count", 1)
    if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count < 2**31:
        raise Rejected(f"count: {count!r} is not a count")
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
        raise Rejected(f"envelope id {minion!r} is not a valid minion id")
    if tag != f"salt/minion/{minion}/start":
        raise Rejected(f"tag {tag!r} is not the start event of {minion!r}")
    actions = [("state.apply", {"queue": True})] if enabled else []
    return minion, {"highstate": bool(enabled)}, actions


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
        raise ValueError(f"since={since!r}: expected epoch seconds, an ISO 8601 time or an age like 30m") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.timestamp()


class EventLog:
    """An append-only JSON-lines file, locked for each write, trimmed to its newest half when
    it grows past ``max_bytes``."""

    def __init__(self, path, max_bytes=DEFAULT_EVENTS_MAX_BYTES):
        self.path = path
        self.max_bytes = max_bytes

    def append(self, entry):
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        line = json.dumps(entry, sort_keys=True, default=str) + "\n"
        with open(self.path, "a+", encoding="utf-8") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            fh.write(line)
            fh.flush()
            if fh.tell() > self.max_bytes:
                fh.seek(0)
                lines = fh.readlines()
                keep, size = [], 0
                for kept in reversed(lines):
                    size += len(kept.encode("utf-8"))
                    if size > self.max_bytes // 2:
                        break
                    keep.append(kept)
                fh.seek(0)
                fh.truncate()
                fh.writelines(reversed(keep))
        return entry

    def query(self, minion=None, since=None, tag=None, limit=50):
        """The newest ``limit`` entries (oldest first) matching every given filter; ``tag``
        may end in ``*`` to match a prefix."""
        since = _parse_since(since)
        try:
            with open(self.path, encoding="utf-8") as fh:
                fcntl.flock(fh, fcntl.LOCK_SH)
                lines = fh.readlines()
        except FileNotFoundError:
            return []
        found = []
        for line in lines:
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if minion is not None and entry.get("minion") != minion:
                continue
            if since is not None and entry.get("received", 0) < since:
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


class DiscoveredStore:
    """The MACs seen by the bootstrap host's DHCP server without a reservation, by MAC."""

    def __init__(self, path):
        self.path = path

    def _load(self, fh):
        fh.seek(0)
        text = fh.read()
        return json.loads(text) if text.strip() else {}

    def _update(self, change):
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        with open(self.path, "a+", encoding="utf-8") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            machines = self._load(fh)
            result = change(machines)
            fh.seek(0)
            fh.truncate()
            json.dump(machines, fh, sort_keys=True, indent=1)
        return result

    def add(self, reporter, sighting, received):
        def change(machines):
            entry = machines.get(sighting["mac"], {"mac": sighting["mac"], "discovered": received})
            entry.update({k: v for k, v in sighting.items() if v is not None})
            entry.update(reported_by=reporter, updated=received)
            machines[sighting["mac"]] = entry
            return entry

        return self._update(change)

    def forget(self, mac):
        return self._update(lambda machines: machines.pop(mac, None) is not None)

    def all(self):
        try:
            with open(self.path, encoding="utf-8") as fh:
                fcntl.flock(fh, fcntl.LOCK_SH)
                machines = self._load(fh)
        except FileNotFoundError:
            return []
        return sorted(machines.values(), key=lambda m: (m.get("discovered", 0), m["mac"]))


def inventory_stub(machine):
    """A starting point for the machine's entry under ``brine:hosts`` (the operator names it)."""
    nic = machine.get("interface") or "eth0"
    return {"roles": [], "nics": {nic: {"mac": machine["mac"]}}}


# --------------------------------------------------------------------------- thin layer


def _store_dir():
    return os.path.join(__opts__["cachedir"], "brine")


def _event_log():
    return EventLog(os.path.join(_store_dir(), "events.jsonl"),
                    int(__opts__.get("brine_events_max_bytes", DEFAULT_EVENTS_MAX_BYTES)))


def _discovered():
    return DiscoveredStore(os.path.join(_store_dir(), "discovered.json"))


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
    raise Rejected(f"no reaction of kind {kind!r}")


def highstate_on_start(opts):
    """The master option ``brine_highstate_on_start`` (default True) as a bool."""
    value = opts.get("brine_highstate_on_start", True)
    return value is True or str(value).strip().lower() in ("true", "yes", "on", "1")


def reaction(kind, tag, data, opts=None, received=None):
    """
    The reactor's high data for one event: the validated actions as ``local.<fun>`` calls on
    the sending minion (an exact list target), then ``runner.brine.record`` of what was decided.
    A rejected event yields only the record of its rejection.

    The reactor SLS files (``#!py``) call this while rendering, so validation is Python and
    the actions go out through the reactor's own, already connected client.
    """
    received = time.time() if received is None else received
    try:
        minion, record_, actions = decide(kind, tag, data, enabled=highstate_on_start(opts or {}))
    except Rejected as exc:
        sender = data.get("id") if isinstance(data, dict) else None
        log.warning("brine: rejected event %.200r from %.100r: %s", tag, sender, exc)
        entry = {"received": received, "minion": sender if isinstance(sender, str) else repr(sender)[:100],
                 "tag": str(tag)[:200], "rejected": str(exc)[:500]}
        return {"brine-record": {"runner.brine.record": [{"args": [{"entry": entry}]}]}}
    high = {}
    for number, (fun, kwargs) in enumerate(actions):
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
    if entry.get("tag") == "brine/dhcp/unknown" and isinstance(entry.get("event"), dict):
        _discovered().add(entry["minion"], entry["event"], entry["received"])
    return _event_log().append(entry)


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
