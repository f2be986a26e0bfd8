"""
``salt-run brine.*``: the event log, the discovered machines and the Galera recovery of the
master, and ``brine.record``, which the reactors call with what they decided.

The rules live in Brine's library (docs/architecture.md): ``brinelib.events`` (the event
contract), ``brinelib.signing`` (keys, signatures, the replay and rate guard),
``brinelib.decisions`` (what each event makes the master do; the reactors reach it through
``_utils/brine_reactor.py``), ``brinelib.stores`` (the records in ``<cachedir>/brine/``) and
``brinelib.galera`` (the recovery and formation plan). This module is their salt-run face.
"""

import fcntl
import logging
import os
import shutil
import subprocess
import time

import brinelib

brinelib.forget_if_changed()  # a library synced since it was imported replaces the old one
from brinelib import decisions, galera, names, stores, topology as topology_core
from brinelib.events import MINION_ID, Rejected, bounded, canonical_mac, shown
from brinelib.options import size_option

try:
    import netaddr  # noqa: F401 - brinelib.names checks MACs with it

    HAS_NETADDR = True
except ImportError:  # pragma: no cover - exercised only on a master without netaddr
    HAS_NETADDR = False

log = logging.getLogger(__name__)

__virtualname__ = "brine"

# What salt-run offers.
__load__ = ["record", "events", "discovered", "forget", "galera_recover", "galera_form", "topology", "status"]

GALERA_LOCK_WAIT = 900
# How long the runner waits for a controller's answer: a start waits for its SST (Type=notify),
# a position may run mariadbd --wsrep-recover over a large redo log; slow in a lab guest.
GALERA_CALL_TIMEOUTS = {"brine_galera.position": 300, "brine_galera.bootstrap": 900, "brine_galera.start": 900,
                        "brine_galera.new_cluster": 900}


def __virtual__():
    if not HAS_NETADDR:
        return (False, "the brine runner needs the netaddr Python library")
    return __virtualname__


def _event_log():
    max_bytes = size_option(__opts__, "brine_events_max_bytes", stores.DEFAULT_EVENTS_MAX_BYTES)
    return stores.EventLog(os.path.join(stores.store_dir(__opts__), "events.jsonl"), max_bytes,
                           size_option(__opts__, "brine_events_minion_max_bytes", max(1, max_bytes // 8)))


def _store_trouble(path, aside, reason):
    """The event-log line that says a store was found corrupt and moved aside."""
    _event_log().append({"received": time.time(), "minion": None, "tag": "brine/store/corrupt",
                         "store": path, "moved_to": aside, "reason": reason})


def _discovered():
    return stores.DiscoveredStore(os.path.join(stores.store_dir(__opts__), "discovered.json"),
                                  size_option(__opts__, "brine_discovered_max", stores.DEFAULT_DISCOVERED_MAX),
                                  on_corrupt=_store_trouble)


def record(entry, **_reactor):
    """
    Append one decided event to the event log (and a discovered MAC to the discovered
    machines). Called by the reactors with what ``brinelib.decisions.reaction`` decided.

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
        except stores.StoreFull as exc:
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
    return [dict(machine, inventory=stores.inventory_stub(machine)) for machine in _discovered().all()]


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


# --------------------------------------------------------------------------- the picture (docs/topology.md)

# What each host is asked, in one job: its bonds, the addresses it holds (the VIPs), its Galera
# and RabbitMQ view. A host without a dual bond, Galera or RabbitMQ answers those with an error,
# which the picture ignores (brinelib.topology reads bonds only of dual-bond hosts and the
# clustered services only of controllers).
TOPOLOGY_CALLS = ("dualbond.status", "network.ip_addrs", "brine_galera.status", "brine_rabbitmq.partitions")


def _live(inventory, timeout):
    """What brinelib.topology.model lays over the inventory, from one job on every host and
    the master's event log."""
    hosts = [h for h in (inventory.get("hosts") or {}) if isinstance(h, str)]
    answers = {}
    if hosts:
        answers = __salt__["salt.execute"](hosts, list(TOPOLOGY_CALLS), arg=[[] for _ in TOPOLOGY_CALLS],
                                           tgt_type="list", timeout=int(timeout)) or {}
    answers = {h: a for h, a in answers.items() if isinstance(a, dict)}

    def each(fun, shape=dict):
        return {h: a[fun] for h, a in answers.items() if isinstance(a.get(fun), shape)}

    bonds = {h: st["bonds"] for h, st in each("dualbond.status").items() if isinstance(st.get("bonds"), dict)}
    controllers = names.controllers(inventory)
    rabbit = {h: answers[h]["brine_rabbitmq.partitions"] if isinstance(answers[h].get("brine_rabbitmq.partitions"), dict)
              else {"running": [], "partitions": []} for h in controllers if h in answers}
    recent = {}
    for host in hosts:
        recent[host] = [f"{time.strftime('%H:%M:%S', time.gmtime(e.get('received') or 0))} {e.get('tag')}"
                        for e in events(minion=host, limit=topology_core.EVENTS_SHOWN)]
    return {"bonds": bonds, "vips": topology_core.vip_holders(inventory, each("network.ip_addrs", list)),
            "galera": topology_core.galera_view(inventory, each("brine_galera.status")),
            "rabbitmq": rabbit, "events": recent}


def _picture(timeout):
    inventory = (__salt__["pillar.show_pillar"]() or {}).get("brine") or {}
    return topology_core.model(inventory, _live(inventory, timeout))


def topology(path=None, timeout=30):
    """
    The lab's picture from the inventory and what every host reports now (docs/topology.md):
    Graphviz DOT text, or, with ``path``, a file on the master: SVG (``.svg``, drawn by
    Graphviz's ``dot``) or the DOT text (``.dot``).

    path
        Where to write it; its suffix says what.
    timeout
        Seconds to wait for the hosts' answers; a host that does not answer is drawn as unknown.

    CLI Example:

    .. code-block:: bash

        salt-run brine.topology path=/srv/brine/topology.svg
    """
    if path is not None and not str(path).endswith((".svg", ".dot")):
        raise ValueError(f"path={shown(path)}: name a .svg or a .dot file")
    text = topology_core.dot(_picture(timeout))
    if path is None:
        return text
    if str(path).endswith(".svg"):
        dot = shutil.which("dot")
        if not dot:
            raise ValueError("Graphviz's dot is not installed on the master (Debian: apt install graphviz)")
        proc = subprocess.run([dot, "-Tsvg"], input=text, capture_output=True, text=True, timeout=120, check=False)
        if proc.returncode:
            raise ValueError(f"dot -Tsvg failed: {bounded(proc.stderr, 500)}")
        text = proc.stdout
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)
    return {"written": str(path)}


def status(timeout=30):
    """
    The same as :func:`topology` as aligned text for a terminal: a line per host (roles, bonds
    and their active members), then one per VIP and per clustered service on each controller.

    CLI Example:

    .. code-block:: bash

        salt-run brine.status
    """
    return "\n".join(topology_core.status_lines(_picture(timeout)))


# --------------------------------------------------------------------------- Galera (docs/galera.md)


def _galera_call(targets, fun, args):
    """``{minion: return}`` of ``fun`` on the controllers ``targets`` (missing: no answer)."""
    return __salt__["salt.execute"](list(targets), fun, arg=list(args), tgt_type="list",
                                    timeout=GALERA_CALL_TIMEOUTS.get(fun, 60)) or {}


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
        if value is not None and (not isinstance(value, str) or not MINION_ID.match(value)):
            raise ValueError(f"{name}={shown(value)} is not a minion id")
    inventory = (__salt__["pillar.show_pillar"]() or {}).get("brine") or {}
    nodes = names.controllers(inventory)

    def call(targets, fun, args):
        return _galera_call(targets, fun, args)

    def note(result):
        record({"received": time.time(), "minion": trigger, "tag": decisions.GALERA_RECOVERY_TAG,
                "event": dict(galera.summary(result), trigger=trigger, force=force)})

    with _GaleraLock(os.path.join(stores.store_dir(__opts__), "galera.lock")):
        result = galera.run_recovery(nodes, call, force=force, trigger=trigger, timeout=int(timeout), on_decision=note)
    note(result)
    if result["decision"] == "refused":
        log.warning("brine: Galera recovery refused: %s", bounded(result["plan"].get("reason", ""), 500))
    return galera.summary(result)


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
    nodes = names.controllers((__salt__["pillar.show_pillar"]() or {}).get("brine") or {})

    def call(targets, fun, args):
        return _galera_call(targets, fun, args)

    with _GaleraLock(os.path.join(stores.store_dir(__opts__), "galera.lock")):
        result = galera.run_formation(nodes, call, timeout=int(timeout))
    record({"received": time.time(), "minion": None, "tag": "brine/galera/formation",
            "event": {"plan": result["plan"], "steps": result["steps"], "outcome": result["outcome"]}})
    if result["outcome"] != "done" and result["outcome"] != "nothing to do":
        __context__["retcode"] = 1
    return result
