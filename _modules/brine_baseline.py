"""
The host baseline of every Brine host (docs/baseline.md): its host name and FQDN, /etc/hosts
naming every inventory host and VIP (RabbitMQ and Galera find their peers by name), the time
zone, and the deployment user's SSH keys and sudo rule.

Pure core (data in, text out; unit-tested directly), on a *normalised* inventory
(brine_inventory.normalise / brine_inventory.get):

- :func:`host_fqdn`: ``<hostname>.<domain>``, the domain of the hosts network (else the lab's).
- :func:`hosts_entries` / :func:`render_hosts`: the /etc/hosts lines and file.
- :func:`sudoers_rule` / :func:`render_sudoers`: the deployment user's drop-in (no ``Defaults``:
  nobody else's sudo settings change).
- :func:`render_authorized_keys`, :func:`plan`: everything salt/baseline renders from.

Salt functions: :func:`settings` (the plan of this minion), :func:`hosts_file`, :func:`fqdn`.
"""

import ipaddress

try:  # unit tests import _modules/ directly; inside Salt's loader we go through __salt__
    import brine_inventory as _inventory_lib
except ImportError:  # pragma: no cover - inside Salt
    _inventory_lib = None

import brinelib

brinelib.forget_if_changed()  # a library synced since it was imported replaces the old one
from brinelib.errors import CommandExecutionError

__virtualname__ = "brine_baseline"

HEADER = "Managed by Salt (Brine, salt/baseline): rendered from the lab inventory; local edits are overwritten."

# Debian's own loopback lines, kept as Debian writes them. No 127.0.1.1 line for the host when it
# has an address on the hosts network: a name that resolves to loopback breaks RabbitMQ and
# Galera clustering (a peer would be told to reach 127.0.1.1).
LOCALHOST_LINES = (
    ("127.0.0.1", ("localhost",)),
    ("::1", ("localhost", "ip6-localhost", "ip6-loopback")),
    ("ff02::1", ("ip6-allnodes",)),
    ("ff02::2", ("ip6-allrouters",)),
)
# Debian's convention for a host without a static address: its names on 127.0.1.1.
OWN_FALLBACK_ADDRESS = "127.0.1.1"
SUDOERS_FILE = "/etc/sudoers.d/brine-deploy"
DEFAULT_SHELL = "/bin/bash"
HOME_BASE = "/home"


def __virtual__():
    if _inventory_lib is None and "brine_inventory.get" not in __salt__:
        return (False, "brine_baseline needs the brine_inventory execution module")
    return __virtualname__


# --------------------------------------------------------------------------- pure core


def _baseline(inventory):
    if _inventory_lib is not None:
        return _inventory_lib.baseline_settings(inventory)
    return __salt__["brine_inventory.baseline_settings"](inventory)  # pragma: no cover - inside Salt


def host_fqdn(inventory, minion_id):
    """
    The FQDN of inventory host ``minion_id``: its host name and the domain of the hosts network
    (``networks:<hosts_network>:domain``, the one DHCP hands out), else the lab's ``domain``.
    """
    host = inventory["hosts"][minion_id]
    return f"{host['hostname']}.{_baseline(inventory)['domain']}"


def _sort_key(address):
    ip = ipaddress.ip_address(address)
    return (ip.version, int(ip))


def hosts_entries(inventory, minion_id):
    """
    The lines of /etc/hosts for ``minion_id`` as ``[(address, [names])]``: Debian's loopback
    lines; every inventory host with an address on the hosts network as ``address fqdn
    hostname``, by address; every VIP with an FQDN as ``address fqdn``, by address. When
    ``minion_id`` itself has no address there, its names go on 127.0.1.1 (Debian's convention),
    so ``hostname -f`` still answers.
    """
    network = _baseline(inventory)["hosts_network"]
    entries = [(address, list(names)) for address, names in LOCALHOST_LINES]
    hosts = []
    for other_id, host in inventory["hosts"].items():
        att = (host.get("networks") or {}).get(network) or {}
        if att.get("address") is not None:
            hostname = host["hostname"]
            hosts.append((str(ipaddress.ip_address(str(att["address"]))), [host_fqdn(inventory, other_id), hostname]))
    hosts.sort(key=lambda e: _sort_key(e[0]))
    me = inventory["hosts"].get(minion_id)
    if me is not None and ((me.get("networks") or {}).get(network) or {}).get("address") is None:
        entries.append((OWN_FALLBACK_ADDRESS, [host_fqdn(inventory, minion_id), me["hostname"]]))
    vips = []
    for _name, vip in (inventory.get("vips") or {}).items():
        if vip.get("fqdn") and vip.get("address") is not None:
            vips.append((str(ipaddress.ip_address(str(vip["address"]))), [str(vip["fqdn"])]))
    vips.sort(key=lambda e: (_sort_key(e[0]), e[1]))
    return entries + hosts + vips


def render_hosts(inventory, minion_id):
    """The whole /etc/hosts of ``minion_id`` (see :func:`hosts_entries`), one line per address."""
    lines = [f"# {HEADER}"]
    for address, names in hosts_entries(inventory, minion_id):
        lines.append(f"{address}\t{' '.join(names)}")
    return "\n".join(lines) + "\n"


def sudoers_rule(user, nopasswd=True):
    """
    The deployment user's one sudoers rule: every command as any user and group, without a
    password when ``nopasswd``. ``user`` must be a checked user name
    (brine_inventory.deploy_user_problem): it is written into sudoers as it is.

    CLI Example:

    .. code-block:: bash

        salt-call brine_baseline.sudoers_rule brine nopasswd=False
    """
    if _inventory_lib is not None and _inventory_lib.deploy_user_problem(user):
        raise ValueError(_inventory_lib.deploy_user_problem(user))
    return f"{user} ALL=(ALL:ALL) {'NOPASSWD: ' if nopasswd else ''}ALL"


def render_sudoers(deploy):
    """The drop-in /etc/sudoers.d/brine-deploy for ``deploy`` ({user, sudo: {nopasswd}})."""
    return "\n".join(
        [
            f"# {HEADER}",
            "# The deployment user's rule only: no Defaults here, so every other user's sudo",
            "# settings stay as /etc/sudoers has them.",
            sudoers_rule(deploy["user"], deploy["sudo"]["nopasswd"]),
            "",
        ]
    )


def render_authorized_keys(deploy):
    """The deployment user's ~/.ssh/authorized_keys: exactly the inventory's keys, in order."""
    return "\n".join([f"# {HEADER}"] + list(deploy["ssh_keys"]) + [""])


def plan(inventory, minion_id):
    """
    Everything salt/baseline applies on ``minion_id``, as plain data::

        {"minion_id", "hostname", "fqdn", "timezone", "hosts_network", "hosts": text,
         "deploy": {"user", "home", "shell", "ssh_keys", "authorized_keys": text,
                    "sudoers": text, "sudoers_file"} or None}

    ``deploy`` is None when the inventory names no deployment user.
    """
    if minion_id not in inventory["hosts"]:
        raise ValueError(f"{minion_id!r} is not an inventory host ({', '.join(sorted(inventory['hosts']))})")
    settings = _baseline(inventory)
    deploy = settings["deploy"]
    out = {
        "minion_id": minion_id,
        "hostname": inventory["hosts"][minion_id]["hostname"],
        "fqdn": host_fqdn(inventory, minion_id),
        "timezone": settings["timezone"],
        "hosts_network": settings["hosts_network"],
        "hosts": render_hosts(inventory, minion_id),
        "deploy": None,
    }
    if deploy is not None:
        out["deploy"] = {
            "user": deploy["user"],
            "home": f"{HOME_BASE}/{deploy['user']}",
            "shell": DEFAULT_SHELL,
            "ssh_keys": list(deploy["ssh_keys"]),
            "nopasswd": deploy["sudo"]["nopasswd"],
            "authorized_keys": render_authorized_keys(deploy),
            "sudoers": render_sudoers(deploy),
            "sudoers_file": SUDOERS_FILE,
        }
    return out


# --------------------------------------------------------------------------- Salt functions


def _inventory(inventory=None):
    try:
        if _inventory_lib is not None and inventory is not None:
            return _inventory_lib.normalise(inventory)
        return __salt__["brine_inventory.get"](inventory)
    except ValueError as exc:
        raise CommandExecutionError(str(exc)) from None


def settings(minion_id=None, inventory=None):
    """
    The host baseline of this minion (or ``minion_id``): host name, FQDN, time zone, the
    /etc/hosts text and the deployment user with its authorized_keys and sudoers texts.

    CLI Example:

    .. code-block:: bash

        salt-call brine_baseline.settings
        salt-call brine_baseline.settings ubuntu2
    """
    minion_id = minion_id or __grains__["id"]
    try:
        return plan(_inventory(inventory), minion_id)
    except ValueError as exc:
        raise CommandExecutionError(str(exc)) from None


def hosts_file(minion_id=None, inventory=None):
    """
    The /etc/hosts this minion (or ``minion_id``) gets from the inventory.

    CLI Example:

    .. code-block:: bash

        salt-call brine_baseline.hosts_file
    """
    return settings(minion_id, inventory)["hosts"]


def fqdn(minion_id=None, inventory=None):
    """
    The FQDN of this minion (or ``minion_id``) in the inventory.

    CLI Example:

    .. code-block:: bash

        salt-call brine_baseline.fqdn ubuntu1
    """
    return settings(minion_id, inventory)["fqdn"]
