"""
What the master does about an event: each ``decide_*`` validates one kind of event (raising
:class:`~brinelib.events.Rejected`) and returns ``(minion, record, actions)``, the actions as
``(function, kwargs)`` to run on the sender only; :func:`reaction` and :func:`galera_reaction`
turn a signed, admitted event into the reactor's high data.

* ``brine/net/...`` (link watcher): recorded; a mended link of an OVS bond re-selects the primary
  (``dualbond.reselect_primary``) unless the engine did it on the minion (``reselect: engine``;
  its ``bond/reselected`` is recorded, and on an ``error`` the reselect runs from here as the
  fallback); a bond losing or regaining both members runs the double-failure loop guard
  (``dualbond.loop_guard``).
* ``brine/file/changed`` with watch ``nova_conf``: ``state.apply compute.console`` on that minion.
* ``brine/dhcp/unknown``: the MAC is added to the discovered machines.
* ``brine/vip/state`` (keepalived's notify script): recorded.
* ``brine/echo/request``: a ``brine/echo/reply`` event to the sender (the reactor's liveness probe).
* ``salt/minion/<id>/start``: ``state.apply`` (the highstate) on that minion, unless the master
  option ``brine_highstate_on_start`` is False; an unsigned start of a minion never seen signing
  gets the sign-in orchestration instead (:func:`decide_signin`).
* ``brine/galera/stopped``: a stop that was not clean runs ``salt-run brine.galera_recover``.
* ``brine/rabbitmq/partition`` (a controller's partition check): recorded.
* ``brine/cert/renewed`` (the ACME runner's deploy hook): ``state.apply haproxy.cert_sync`` on
  every other controller (:func:`cert_reaction`; the one reaction that targets other minions,
  and only the inventory's controllers, for an event only the inventory's runner may send).

The target of every action is the sender (for ``brine/cert/renewed`` the inventory's other
controllers), never a payload field; every payload field is checked;
a payload that names another minion, has unknown keys or an invalid value is rejected: nothing
runs, and the rejection is logged and recorded (docs/events.md).
"""

import ipaddress
import logging
import re
import time

from brinelib import certsync, names, rabbitmq
from brinelib.events import (
    CLAIM_KEYS,
    RESELECT_DONE_MAX,
    SNAPSHOT_BONDS_MAX,
    Rejected,
    Unsigned,
    bounded,
    canonical_mac,
    choice,
    envelope,
    interface,
    number,
    only_keys,
    sender,
    short_text,
    shown,
    text,
)
from brinelib.options import highstate_on_start
from brinelib.signing import authenticate, guard, signin_guard

log = logging.getLogger(__name__)

OPERSTATES = ("UNKNOWN", "NOTPRESENT", "DOWN", "LOWERLAYERDOWN", "TESTING", "DORMANT", "UP")
BACKENDS = names.DUALBOND_BACKENDS
RESELECT_BACKENDS = names.RESELECT_BACKENDS
# Who re-selected the primary of a mended bond member already (the link/up "reselect" value).
RESELECT_BY = ("engine",)
# File watches the master reacts to, and the state each one re-applies. The state comes from
# this table, never from the event.
WATCH_STATES = {"nova_conf": "compute.console"}
# What an unsigned start of a new minion gets (decide_signin).
SIGNIN_ORCHESTRATION = "orch.brine_signin"


def decide_link(tag, data):
    """
    Validate a ``brine/net/...`` event; return ``(minion, record, actions)`` where ``actions``
    is a list of ``(function, kwargs)`` to run on that minion. Raises Rejected.
    """
    minion, payload = envelope(data)
    kind = tag[len("brine/net/"):] if isinstance(tag, str) and tag.startswith("brine/net/") else None
    common = {"timestamp": number(payload, "timestamp"), "backend": choice(payload, "backend", BACKENDS, optional=True)}
    if kind in ("link/down", "link/up"):
        only_keys(payload, ("interface", "bond", "backend", "carrier", "operstate", "active", "timestamp", "reselect")
                   + CLAIM_KEYS)
        if not isinstance(payload.get("carrier"), bool):
            raise Rejected(f"carrier: {shown(payload.get('carrier'))} is not true or false")
        if kind == "link/down" and "reselect" in payload:
            raise Rejected("reselect: only a link/up can say who re-selected the primary")
        record = dict(
            common,
            interface=interface(payload, "interface"),
            bond=interface(payload, "bond", optional=True),
            active=interface(payload, "active", optional=True),
            carrier=payload["carrier"],
            operstate=choice(payload, "operstate", OPERSTATES, optional=True),
        )
        if "reselect" in payload:
            record["reselect"] = choice(payload, "reselect", RESELECT_BY)
        actions = []
        # "reselect: engine": the engine re-selects on the minion itself and reports it with
        # bond/reselected (an error there brings the reselect back here). A hostile minion can
        # only suppress the action on itself: every action targets the sender, never another.
        if (kind == "link/up" and record["bond"] is not None and record["backend"] in RESELECT_BACKENDS
                and "reselect" not in record):
            actions.append(("dualbond.reselect_primary", {}))
    elif kind == "bond/reselected":
        only_keys(payload, ("bond", "backend", "done", "error", "timestamp") + CLAIM_KEYS)
        if ("done" in payload) == ("error" in payload):
            raise Rejected("a reselect report carries either done or error")
        record = dict(common, bond=interface(payload, "bond"), backend=choice(payload, "backend", BACKENDS))
        if "error" in payload:
            record["error"] = short_text(payload, "error")
            # The engine's reselect failed: the fallback is the reactor's job, a fixed call with
            # nothing from the event (every bond of the dual bond; a no-op where it is right).
            # A hostile minion can trigger it only on itself, as it could with a link/up.
            actions = [("dualbond.reselect_primary", {})]
        else:
            done = payload["done"]
            if not isinstance(done, list) or len(done) > RESELECT_DONE_MAX:
                raise Rejected(f"done: {shown(done)} is not a list of at most {RESELECT_DONE_MAX} texts")
            record["done"] = [short_text({"done": item}, "done") for item in done]
            actions = []
    elif kind == "bond/failover":
        only_keys(payload, ("bond", "backend", "previous", "active", "timestamp") + CLAIM_KEYS)
        record = dict(common, bond=interface(payload, "bond"), previous=interface(payload, "previous"),
                      active=interface(payload, "active"))
        actions = []
    elif kind in ("bond/down", "bond/restored"):
        only_keys(payload, ("bond", "backend", "members", "active", "timestamp") + CLAIM_KEYS)
        members = payload.get("members")
        if not isinstance(members, list) or not 1 <= len(members) <= 16:
            raise Rejected(f"members: {shown(members)} is not a list of 1-16 interfaces")
        record = dict(common, bond=interface(payload, "bond"), active=interface(payload, "active", optional=True),
                      members=[interface({"members": m}, "members") for m in members])
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
    only_keys(payload, ("bonds", "timestamp") + CLAIM_KEYS)
    bonds = payload.get("bonds")
    if not isinstance(bonds, list) or not 1 <= len(bonds) <= SNAPSHOT_BONDS_MAX:
        raise Rejected(f"bonds: {shown(bonds)} is not a list of 1-{SNAPSHOT_BONDS_MAX} bonds")
    seen, reselect = [], False
    for item in bonds:
        if not isinstance(item, dict):
            raise Rejected(f"bonds: {shown(item)} is not a bond")
        only_keys(item, ("bond", "backend", "members", "up", "active"))
        members, up = item.get("members"), item.get("up")
        if not isinstance(members, list) or not 1 <= len(members) <= 16:
            raise Rejected(f"members: {shown(members)} is not a list of 1-16 interfaces")
        members = [interface({"members": m}, "members") for m in members]
        if not isinstance(up, list) or not set(up) <= set(members):
            raise Rejected(f"up: {shown(up)} is not a list of the bond's members")
        bond = dict(bond=interface(item, "bond"), backend=choice(item, "backend", BACKENDS), members=members,
                    up=[m for m in members if m in up], active=interface(item, "active", optional=True))
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
    only_keys(payload, ("watch", "path", "sha256", "previous", "timestamp", "restored") + CLAIM_KEYS)
    watch = choice(payload, "watch", tuple(WATCH_STATES))
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
    record = dict(digests, watch=watch, path=path, timestamp=number(payload, "timestamp"))
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
    only_keys(payload, ("mac", "ip", "interface", "first_seen", "last_seen", "count", "timestamp") + CLAIM_KEYS)
    record = {"mac": canonical_mac(payload.get("mac"))}
    ip = payload.get("ip")
    if ip is not None:
        try:
            ip = str(ipaddress.ip_address(ip if isinstance(ip, str) else ""))
        except ValueError:
            raise Rejected(f"ip: {shown(ip)} is not an IP address") from None
    record["ip"] = ip
    record["interface"] = interface(payload, "interface", optional=True)
    record["first_seen"] = text(payload, "first_seen")
    record["last_seen"] = text(payload, "last_seen")
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
    minion = sender(data)
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
    only_keys(payload, ("vip", "state", "priority", "timestamp") + CLAIM_KEYS)
    record = {"vip": choice(payload, "vip", VIP_NAMES), "state": choice(payload, "state", VIP_STATES),
              "timestamp": number(payload, "timestamp")}
    priority = payload.get("priority")
    if priority is not None and (isinstance(priority, bool) or not isinstance(priority, int) or not 0 <= priority <= 255):
        raise Rejected(f"priority: {shown(priority)} is not a VRRP priority 0-255")
    record["priority"] = priority
    return minion, record, []


def decide_rabbitmq_partition(tag, data):
    """Validate ``brine/rabbitmq/partition`` (the sender's RabbitMQ partitions list changed;
    salt/rabbitmq's partition check): ``(minion, record, [])``, recorded only, or Rejected."""
    if tag != rabbitmq.PARTITION_TAG:
        raise Rejected(f"unexpected tag {shown(tag)}")
    minion, payload = envelope(data)
    only_keys(payload, ("partitions", "running") + CLAIM_KEYS)
    try:
        record = rabbitmq.check_partition_payload(payload)
    except ValueError as exc:
        raise Rejected(str(exc)) from None
    return minion, record, []


def decide_echo(tag, data):
    """Validate ``brine/echo/request`` (the reactor's liveness probe): ``(minion, record,
    [event.send brine/echo/reply])`` to the sender only, or Rejected."""
    if tag != "brine/echo/request":
        raise Rejected(f"unexpected tag {shown(tag)}")
    minion, payload = envelope(data)
    only_keys(payload, CLAIM_KEYS)
    return minion, {}, [("event.send", {"tag": "brine/echo/reply"})]


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
    if kind == "rabbitmq_partition":
        return decide_rabbitmq_partition(tag, data)
    raise Rejected(f"no reaction of kind {shown(kind)}")


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


def _local_call(targets, fun, kwargs):
    """The reactor's ``local.<fun>`` call on exactly the minions ``targets``."""
    spec = [{"tgt": list(targets)}, {"tgt_type": "list"}]
    if kwargs:
        spec.append({"args": [{key: value} for key, value in kwargs.items()]})
    return {f"local.{fun}": spec}


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
    for step, (fun, kwargs) in enumerate(actions):
        if fun.startswith("runner."):
            # A master-side step (the sign-in orchestration): its target is in its pillar.
            high[f"brine-{step}-{fun}"] = {fun: [{"args": [{key: value} for key, value in kwargs.items()]}]}
            continue
        # Named so that they sort (and run) before the record.
        high[f"brine-{step}-{fun}"] = _local_call([minion], fun, kwargs)
    entry = {"received": received, "minion": minion, "tag": tag, "event": record_,
             "actions": [{"fun": fun, "kwargs": kwargs} for fun, kwargs in actions]}
    high["brine-record"] = {"runner.brine.record": [{"args": [{"entry": entry}]}]}
    return high


# --------------------------------------------------------------------------- Galera (docs/galera.md)
#
# mariadb.service's ExecStopPost on every controller sends a signed brine/galera/stopped
# (salt/galera/files/brine-galera-stopped); reactor/galera.sls hands it to galera_reaction().
# A stop that systemd calls a success (an operator's systemctl stop) is only recorded; any other
# runs salt-run brine.galera_recover, which records its decision as brine/galera/recovery.

GALERA_STOPPED_TAG = "brine/galera/stopped"
GALERA_RECOVERY_TAG = "brine/galera/recovery"
# systemd's $SERVICE_RESULT values (systemd.exec(5)).
SERVICE_RESULTS = ("success", "protocol", "timeout", "exit-code", "signal", "core-dump", "watchdog",
                   "start-limit-hit", "resources", "oom-kill", "exec-condition")
EXIT_CODES = ("", "exited", "killed", "dumped")
_EXIT_STATUS = re.compile(r"^[A-Za-z0-9]{0,16}$")


def decide_galera_stopped(tag, data):
    """Validate ``brine/galera/stopped``: ``(minion, record, recover)``; ``recover`` is False for a
    clean stop (systemd's result ``success``), or Rejected."""
    if tag != GALERA_STOPPED_TAG:
        raise Rejected(f"unexpected tag {shown(tag)}")
    minion, payload = envelope(data)
    only_keys(payload, ("result", "exit_code", "exit_status") + CLAIM_KEYS)
    result = choice(payload, "result", SERVICE_RESULTS)
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


# --------------------------------------------------------------------------- ACME (docs/acme.md)
#
# The ACME runner's deploy hook pushes the installed certificate to the master and sends a signed
# brine/cert/renewed; reactor/cert.sls hands it to cert_reaction() with the inventory.

_CERT_SERIAL = re.compile(r"^[0-9A-F]{1,40}$")  # at most 20 octets (RFC 5280), as HAProxy shows it
_SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")


def decide_cert_renewed(tag, data, inventory):
    """
    Validate ``brine/cert/renewed``: ``(minion, record, targets)``, ``targets`` the controllers
    that install the runner's certificate (every controller but the runner), or Rejected. Only
    the inventory's ACME runner may send it, for the external VIP's FQDN; the serial is
    upper-case hex, the fingerprint 64 lower-case hex digits.
    """
    if tag != certsync.RENEWED_TAG:
        raise Rejected(f"unexpected tag {shown(tag)}")
    minion, payload = envelope(data)
    only_keys(payload, ("fqdn", "serial", "fingerprint") + CLAIM_KEYS)
    settings = certsync.resolved(inventory)
    if settings is None:
        raise Rejected("the inventory has no ACME certificate (acme:enabled, a controller, the external VIP's fqdn)")
    if minion != settings["runner"]:
        raise Rejected(f"{shown(minion)} is not the ACME runner ({settings['runner']})")
    if payload.get("fqdn") != settings["fqdn"]:
        raise Rejected(f"fqdn: {shown(payload.get('fqdn'))} is not the external VIP's ({settings['fqdn']})")
    serial, fingerprint = payload.get("serial"), payload.get("fingerprint")
    if not isinstance(serial, str) or not _CERT_SERIAL.match(serial):
        raise Rejected(f"serial: {shown(serial)} is not 1-40 upper-case hex digits")
    if not isinstance(fingerprint, str) or not _SHA256_HEX.match(fingerprint):
        raise Rejected(f"fingerprint: {shown(fingerprint)} is not a SHA-256 fingerprint (64 hex digits)")
    record = {"fqdn": settings["fqdn"], "serial": serial, "fingerprint": fingerprint}
    return minion, record, certsync.recipients(inventory)


def cert_reaction(tag, data, inventory, opts=None, received=None):
    """
    The reactor's high data for ``brine/cert/renewed``: ``state.apply haproxy.cert_sync`` on the
    other controllers (their pillar brings the certificate), then the record. Signed and
    rate-limited like every reaction (:func:`reaction`); a refusal is recorded.
    """
    opts = opts or {}
    received = time.time() if received is None else received
    try:
        checked, nonce = authenticate("cert_renewed", tag, data, opts, received)
        minion, record_, targets = decide_cert_renewed(tag, checked, inventory)
        guard(opts).admit(minion, nonce, received, bool(targets))
    except (Rejected, ValueError) as exc:
        return rejection(tag, data, received, exc)
    high, actions = {}, []
    if targets:
        kwargs = {"mods": certsync.SYNC_STATE, "queue": True}
        high["brine-0-state.apply"] = _local_call(targets, "state.apply", kwargs)
        actions.append({"fun": "state.apply", "kwargs": kwargs, "targets": targets})
    entry = {"received": received, "minion": minion, "tag": tag, "event": record_, "actions": actions}
    high["brine-record"] = {"runner.brine.record": [{"args": [{"entry": entry}]}]}
    return high
