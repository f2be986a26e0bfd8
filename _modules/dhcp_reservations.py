"""
DHCP reservations for the Brine lab, the Salt side: the inventory from pillar, the DHCP server's
live log and its own configuration checker. The rules are in ``brinelib.dhcp`` (``plan``:
validation and reservations; ``render``: ISC dhcpd, Kea and dnsmasq; ``logs``: log parsing,
unknown MACs, log source); the bootstrap-wide settings are ``brine_bootstrap``'s.

Functions: :func:`validate`, :func:`reservations`, :func:`render`, :func:`check_config` and
:func:`check_text` (the daemon's own checker), :func:`parse_log`, :func:`discover` (reads the
server's live log), :func:`discover_text` (the same for log text the caller read),
:func:`known_macs`, :func:`log_path`, :func:`log_source` (what the events engine watches),
:func:`configured_server`.
"""

import datetime
import os
import shutil
import subprocess
import tempfile

import brinelib

brinelib.forget_if_changed()  # a library synced since it was imported replaces the old one
from brinelib import dhcp, names
from brinelib.dhcp import logs as dhcp_logs
from brinelib.dhcp import plan as dhcp_plan
from brinelib.dhcp import render as dhcp_render
from brinelib.errors import CommandExecutionError, InventoryProblem

__virtualname__ = "dhcp_reservations"


def __virtual__():
    if "brine_inventory.get" not in __salt__:
        return (False, "dhcp_reservations needs the brine_inventory execution module")
    return __virtualname__


def _inventory(inventory=None):
    """The inventory to render: ``inventory`` as given (validated by ``brinelib.dhcp.plan``), or pillar's."""
    if inventory is not None:
        return inventory
    return __salt__["brine_inventory.get"]()


def log_path(inventory=None):
    """
    Where the DHCP server's messages go: the inventory's ``services:dhcp:log``, else the
    server's log as the bootstrap states configure it (``brinelib.dhcp.logs.DEFAULT_LOGS``).

    CLI Example:

    .. code-block:: bash

        salt-call dhcp_reservations.log_path
    """
    inventory = _inventory(inventory)
    return dhcp_plan.dhcp_settings(inventory).get("log") or dhcp_logs.DEFAULT_LOGS[dhcp_plan.configured_server(inventory)]


def log_source(inventory=None):
    """
    What the bootstrap host's event watcher (``brine_filewatch``'s ``dhcp_log`` watch) follows:
    the inventory's ``services:dhcp:log``, else the server's default log file if it exists,
    else ``journal:dhcpd`` for isc-dhcp on a host with journalctl (Debian 12 without rsyslog:
    dhcpd logs only to the journal), else the default log file.

    CLI Example:

    .. code-block:: bash

        salt-call dhcp_reservations.log_source
    """
    inventory = _inventory(inventory)
    server = dhcp_plan.configured_server(inventory)
    return dhcp_logs.choose_log_source(
        server,
        configured_log=dhcp_plan.dhcp_settings(inventory).get("log"),
        default_exists=os.path.exists(dhcp_logs.DEFAULT_LOGS.get(server, "")),
        has_journalctl=shutil.which("journalctl") is not None,
    )


def configured_server(inventory=None):
    """
    The DHCP server the inventory asks for (``services:dhcp:server``, default isc-dhcp).

    CLI Example:

    .. code-block:: bash

        salt-call dhcp_reservations.configured_server
    """
    return dhcp_plan.configured_server(_inventory(inventory))


def validate(inventory=None, server=None):
    """
    Check the inventory for DHCP: ``{"valid": bool, "errors": ["brine:hosts:..: ...", ...]}``.

    CLI Example:

    .. code-block:: bash

        salt-call dhcp_reservations.validate
    """
    try:
        dhcp_plan.plan(_inventory(inventory), server=server)
    except InventoryProblem as exc:
        return {"valid": False, "errors": [f"{path}: {message}" for path, message in exc.errors]}
    return {"valid": True, "errors": []}


def reservations(inventory=None):
    """
    The reservations of the DHCP network: ``[{"host", "hostname", "nic", "mac", "ip"}]``.

    CLI Example:

    .. code-block:: bash

        salt-call dhcp_reservations.reservations
    """
    try:
        p = dhcp_plan.plan(_inventory(inventory))
    except InventoryProblem as exc:
        raise CommandExecutionError(str(exc)) from None
    return [{**r, "ip": str(r["ip"])} for r in p["reservations"]]


def render(server=None, inventory=None, interface=None):
    """
    The configuration text for ``server`` (isc-dhcp, kea or dnsmasq; default: the inventory's
    ``services:dhcp:server``, else isc-dhcp).

    CLI Example:

    .. code-block:: bash

        salt-call dhcp_reservations.render
        salt-call dhcp_reservations.render server=kea
    """
    try:
        return dhcp_render.render_config(_inventory(inventory), server=server, interface=interface)[1]
    except InventoryProblem as exc:
        raise CommandExecutionError(str(exc)) from None


def check_config(path, server=dhcp.DEFAULT_SERVER):
    """
    Run the server's own configuration check on ``path``: ``{"valid": bool, "output": str}``.

    CLI Example:

    .. code-block:: bash

        salt-call dhcp_reservations.check_config /etc/dhcp/dhcpd.conf
        salt-call dhcp_reservations.check_config /etc/kea/kea-dhcp4.conf server=kea
    """
    if server not in dhcp_render.CHECKERS:
        raise CommandExecutionError(dhcp.unknown_server(server))
    binary, argv = dhcp_render.CHECKERS[server]
    if shutil.which(binary) is None:
        raise CommandExecutionError(f"{binary} is not installed: cannot check a {server} configuration")
    proc = subprocess.run(argv(str(path)), capture_output=True, text=True, timeout=120, check=False)
    return {"valid": proc.returncode == 0, "output": (proc.stdout + proc.stderr).strip()}


def check_text(text, server=dhcp.DEFAULT_SERVER, directory=None):
    """
    Check configuration ``text`` with the server's own checker, from a private temporary file.

    CLI Example:

    .. code-block:: bash

        salt-call dhcp_reservations.check_text "$(salt-call --out=newline_values_only dhcp_reservations.render)"
    """
    fd, path = tempfile.mkstemp(prefix=".brine-check-", suffix=".conf", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        return check_config(path, server=server)
    finally:
        os.unlink(path)


def parse_log(text, server=None):
    """
    DHCP server log text as one record per DHCP message, in log order: ``[{"time", "server",
    "type", "mac", "ip", "interface"}]`` (``brinelib.dhcp.logs.parse_log``; ``server`` None
    recognises each line by its format).

    CLI Example:

    .. code-block:: bash

        salt-call dhcp_reservations.parse_log "$(tail -n 100 /var/log/syslog)"
    """
    try:
        return dhcp_logs.parse_log(text, server=server)
    except ValueError as exc:
        raise CommandExecutionError(str(exc)) from None


def _read_log(server, log_path):
    if log_path is not None:
        with open(log_path, encoding="utf-8", errors="replace") as fh:
            return fh.read(), os.path.getmtime(log_path)
    default = dhcp_logs.DEFAULT_LOGS[server]
    if os.path.exists(default):
        with open(default, encoding="utf-8", errors="replace") as fh:
            return fh.read(), os.path.getmtime(default)
    if server in dhcp_logs.JOURNAL_IDENTIFIERS and shutil.which("journalctl"):
        # Debian 12 has no rsyslog by default: dhcpd's messages are in the journal.
        proc = subprocess.run(
            ["journalctl", "--no-pager", "-o", "short-iso", "-t", dhcp_logs.JOURNAL_IDENTIFIERS[server]],
            capture_output=True, text=True, timeout=120, check=False,
        )
        return proc.stdout, None
    raise CommandExecutionError(f"no {server} log: {default} does not exist (pass log_path)")


def discover(log_path=None, server=None, inventory=None, known_macs=None):
    """
    The MACs that asked the DHCP server and have no reservation (no NIC in the inventory),
    read from the server's log: ``[{"mac", "first_seen", "last_seen", "count", "ip",
    "interface"}]`` sorted by first_seen (ISO-8601). Lines without a time get the log file's
    modification time.

    log_path
        The log to read; default: the inventory's ``services:dhcp:log``, else the server's log
        as the bootstrap states configure it (isc-dhcp: /var/log/syslog, else the journal;
        kea: /var/log/kea/kea-dhcp4.log; dnsmasq: /var/log/brine-dnsmasq.log).

    server
        isc-dhcp, kea or dnsmasq; default: the inventory's ``services:dhcp:server``.

    known_macs
        With ``log_path``: the MACs that are known, instead of the inventory's (the events
        engine, which has no pillar, passes the list from its configuration).

    inventory
        The inventory whose MACs are known; default: pillar's (the events engine passes the
        one it fetched: its own ``__pillar__`` is empty).

    CLI Example:

    .. code-block:: bash

        salt-call dhcp_reservations.discover
        salt-call dhcp_reservations.discover log_path=/var/log/brine-dnsmasq.log server=dnsmasq
    """
    if known_macs is not None and log_path is not None:
        # The events engine: no pillar, its known MACs and its log file from its configuration.
        server = server or dhcp_logs.detect_server(log_path)
        text, mtime = _read_log(server, log_path)
        inventory = None
    else:
        inventory = _inventory(inventory)
        server = server or dhcp_plan.configured_server(inventory)
        if server not in dhcp.SERVERS:
            raise CommandExecutionError(dhcp.unknown_server(server))
        text, mtime = _read_log(server, log_path or dhcp_plan.dhcp_settings(inventory).get("log"))
    default_time = None
    if mtime is not None:
        default_time = datetime.datetime.fromtimestamp(mtime, datetime.timezone.utc).isoformat()
    return discover_text(text, server=server, default_time=default_time, inventory=inventory, known_macs=known_macs)


def discover_text(text, server=None, default_time=None, inventory=None, known_macs=None):
    """
    :func:`discover` for log text the caller already has (e.g. the new lines of a journal the
    events engine follows): the MACs in ``text`` that are not in the inventory, ``[{"mac",
    "first_seen", "last_seen", "count", "ip", "interface"}]``, counted over ``text`` only.
    ``default_time`` stands in for lines without a time. ``known_macs`` (a list of MACs) stands
    in for the inventory's: the events engine has no pillar and gets them in its configuration
    (:func:`known_macs`); then ``server`` None recognises each line by its format.

    CLI Example:

    .. code-block:: bash

        salt-call dhcp_reservations.discover_text "$(journalctl -o short-iso -t dhcpd --since -1h)"
    """
    if known_macs is not None:
        known = {names.canonical_mac(mac) for mac in known_macs}
    else:
        inventory = _inventory(inventory)
        server = server or dhcp_plan.configured_server(inventory)
        known = dhcp_plan.reserved_macs(inventory)
    if server is not None and server not in dhcp.SERVERS:
        raise CommandExecutionError(dhcp.unknown_server(server))
    return dhcp_logs.unknown_macs(dhcp_logs.parse_log(text, server=server), known, default_time=default_time)


def known_macs(inventory=None):
    """
    Every MAC the inventory knows, sorted (what :func:`discover` does not report): written into
    the bootstrap host's events engine configuration, which has no pillar to read them from.

    CLI Example:

    .. code-block:: bash

        salt-call dhcp_reservations.known_macs
    """
    return sorted(dhcp_plan.reserved_macs(_inventory(inventory)))
