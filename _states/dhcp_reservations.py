"""
The DHCP server's configuration, rendered from the lab inventory and checked by the daemon.

``dhcp_reservations.managed`` renders the configuration (ISC dhcpd, Kea or dnsmasq), and only
when it differs from the file on disk writes it to a temporary file next to it, runs the
daemon's own check on that file (``dhcpd -t -cf``, ``kea-dhcp4 -t``, ``dnsmasq --test``) and
renames it over the old one, after copying the old one to ``.<file>.brine-<UTC time>.bak``
beside it (the newest five are kept). An inventory the renderer refuses, or a configuration the daemon
refuses, leaves the running configuration untouched. Restart the daemon with ``watch`` (see
``salt/bootstrap/service.sls``): it then restarts only when the file changed.
"""

import datetime
import difflib
import os
import shutil
import tempfile

import brinelib

brinelib.forget_if_changed()  # a library synced since it was imported replaces the old one
from brinelib.state_returns import changed, failed, new_return, unchanged, would_change

__virtualname__ = "dhcp_reservations"

# Salt's output of a 10,000-host diff is useless; past this many lines we report counts.
MAX_DIFF_LINES = 400


def __virtual__():
    if "dhcp_reservations.render" not in __salt__:
        return (False, "the dhcp_reservations execution module is not available")
    return __virtualname__


# The previous files kept beside the configuration, newest first (as nova_console keeps nova.conf's).
BACKUPS_KEPT = 5


def _backup(name):
    """
    Copy ``name`` to ``.<file>.brine-<UTC time>.bak`` beside it (hidden: dnsmasq's conf-dir
    skips dot files, so a backup is never read as configuration) and keep the newest
    ``BACKUPS_KEPT``. Returns the backup's path.
    """
    directory, base = os.path.split(os.path.abspath(name))
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    backup = os.path.join(directory, f".{base}.brine-{stamp}.bak")
    shutil.copy2(name, backup)
    prefix = f".{base}.brine-"
    kept = sorted(n for n in os.listdir(directory) if n.startswith(prefix) and n.endswith(".bak"))
    for old in kept[:-BACKUPS_KEPT]:
        os.unlink(os.path.join(directory, old))
    return backup


def _diff(old, new, name):
    lines = list(difflib.unified_diff(old.splitlines(True), new.splitlines(True), f"{name} (current)", f"{name} (rendered)"))
    if len(lines) <= MAX_DIFF_LINES:
        return "".join(lines)
    added = sum(1 for line in lines if line.startswith("+") and not line.startswith("+++"))
    removed = sum(1 for line in lines if line.startswith("-") and not line.startswith("---"))
    return f"{added} lines added, {removed} lines removed (diff too long to show)"


def managed(name, server=None, inventory=None, interface=None, mode="0644"):
    """
    Keep the DHCP server configuration ``name`` rendered from the inventory.

    name
        The configuration file (``/etc/dhcp/dhcpd.conf``, ``/etc/kea/kea-dhcp4.conf``,
        ``/etc/dnsmasq.d/brine.conf``).

    server
        ``isc-dhcp``, ``kea`` or ``dnsmasq``; default: the inventory's ``services:dhcp:server``.

    inventory
        An inventory dict to render instead of pillar ``brine`` (validated all the same).

    interface
        The interface to serve; default: the inventory's ``services:dhcp:interface``, else the
        bootstrap host's NIC on the DHCP network (``eth0.10`` for VLAN 10).

    mode
        The file's mode.

    CLI Example:

    .. code-block:: yaml

        dhcpd-config:
          dhcp_reservations.managed:
            - name: /etc/dhcp/dhcpd.conf
            - server: isc-dhcp
    """
    ret = new_return(name)
    try:
        server = server or __salt__["dhcp_reservations.configured_server"](inventory=inventory)
        text = __salt__["dhcp_reservations.render"](server=server, inventory=inventory, interface=interface)
    except Exception as exc:  # noqa: BLE001 - any render failure leaves the file alone
        return failed(ret, f"Not rendered, {name} left untouched:\n{exc}")

    current = None
    if os.path.exists(name):
        with open(name, encoding="utf-8", errors="replace") as fh:
            current = fh.read()
    if current == text:
        return unchanged(ret, f"{name} is up to date ({server})")
    diff = _diff(current or "", text, name) if current is not None else "new file"

    if __opts__.get("test"):
        return would_change(ret, {"diff": diff}, f"{name} would be rendered for {server} and checked before it is written")

    directory = os.path.dirname(os.path.abspath(name))
    if not os.path.isdir(directory):
        return failed(ret, f"{directory} does not exist (is the {server} package installed?)")
    fd, candidate = tempfile.mkstemp(prefix=f".{os.path.basename(name)}.", suffix=".brine-new", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(candidate, int(str(mode), 8))
        verdict = __salt__["dhcp_reservations.check_config"](candidate, server=server)
        if not verdict["valid"]:
            return failed(ret, f"The {server} check refused the rendered configuration; {name} left untouched:\n"
                               f"{verdict['output']}")
        backup = _backup(name) if current is not None else None
        os.replace(candidate, name)
        candidate = None
    finally:
        if candidate is not None and os.path.exists(candidate):
            os.unlink(candidate)
    changes = {"diff": diff}
    if backup:
        changes["backup"] = backup
    return changed(ret, changes, f"{name} rendered for {server}, checked and written")
