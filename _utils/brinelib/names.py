"""
Names and words every part of Brine agrees on: interface names, host names, MACs, the dual
bond's backends and link-detect modes, the roles and the hosts that have them. Loader modules,
the runner, the lab and the tests import them from here; nothing else defines them.
"""

import re

try:
    import netaddr
except ImportError:  # pragma: no cover - the loader modules' __virtual__() say what is missing
    netaddr = None

# What each host runs: features, each a state directory of salt/ (defaults.yaml, map.jinja,
# states split by task). salt/top.sls applies a host's features each once (features()): the
# common ones, then those of its roles in the order of ROLE_FEATURES.
COMMON_FEATURES = ("brine", "baseline", "network")
# The roles a host can have in the inventory (``brine:hosts:<host>:roles``), each with its features.
ROLE_FEATURES = {
    "bootstrap": ("bootstrap",),
    "registry": ("registry",),
    "controller": ("nova_console", "galera", "haproxy", "keepalived", "rabbitmq", "memcached", "keystone"),
    "storage": ("storage",),
    "compute": ("nova_console",),
    "deployer": ("nova_console",),
    "network": (),  # every host has it (IMPLICIT_ROLES): its feature is a common one
}
KNOWN_ROLES = tuple(ROLE_FEATURES)
# Every host gets the network role: its NICs, bonds, VLANs and MTUs come from the inventory.
IMPLICIT_ROLES = ("network",)
# The role whose hosts run the clustered services (Galera, RabbitMQ, Keystone) behind the VIPs.
CONTROLLER_ROLE = "controller"


def hosts_with_role(inventory, role):
    """
    The minion ids (as strings) of the inventory's hosts whose ``roles`` list holds ``role``, in
    inventory order (the key order of ``brine:hosts``). A malformed inventory yields what it
    can: no ``hosts`` mapping means no hosts; a host that is no mapping, or whose ``roles`` is no
    list, is skipped (the inventory check names it).
    """
    hosts = inventory.get("hosts") if isinstance(inventory, dict) else None
    if not isinstance(hosts, dict):
        return []
    return [str(name) for name, host in hosts.items()
            if isinstance(host, dict) and isinstance(host.get("roles"), (list, tuple)) and role in host["roles"]]


def network_address(inventory, host, network):
    """
    Host ``host``'s address on inventory network ``network`` as the inventory writes it, or
    None when the host, its attachment to that network or the address is missing (the callers
    say what they needed it for).
    """
    entry = (inventory.get("hosts") or {}).get(host)
    attachment = ((entry.get("networks") or {}).get(network) or {}) if isinstance(entry, dict) else {}
    return attachment.get("address") if isinstance(attachment, dict) else None


def controllers(inventory):
    """
    The minion ids of the inventory's hosts with the controller role, in inventory order: the
    first is HAProxy's active writer, the node a new Galera cluster bootstraps on, RabbitMQ's
    seed and the node that runs Keystone's db_sync and bootstrap. Malformed hosts are skipped
    as :func:`hosts_with_role` says.
    """
    return hosts_with_role(inventory, CONTROLLER_ROLE)


def features(roles):
    """
    The features a host with ``roles`` (its inventory list, unchecked) runs, each once: the
    common ones, then each known role's in the order of ROLE_FEATURES. Unknown roles, or roles
    that are no list, add nothing: the inventory check reports them.
    """
    found = list(COMMON_FEATURES)
    if isinstance(roles, (list, tuple)):
        for role, role_features in ROLE_FEATURES.items():
            if role in roles:
                found.extend(feature for feature in role_features if feature not in found)
    return found


# The dual bond's backends, and how an OVS bond learns that a member's link went down:
# "carrier" (OVS's default) acts on the kernel's carrier notification at once; "miimon" polls
# every ``miimon`` ms, for drivers that report carrier wrongly. Linux bonds always poll.
DUALBOND_BACKENDS = ("linux", "ovs")
LINK_DETECT_MODES = ("carrier", "miimon")
# Backends that do not bring the primary member back by themselves when its link returns: the
# Linux bond does (primary_reselect), an OVS active-backup bond stays on the backup.
RESELECT_BACKENDS = ("ovs",)

# The kernel's limit (IFNAMSIZ - 1). The kernel itself accepts any byte but '/', ':' and white
# space; Brine accepts far less for the names it configures, because interface names are written
# into ifupdown lines that sh runs, files that init scripts source, systemd units and daemon
# configs: letters, digits, '_', '.', '-', never first '-' (ip would read an option) or '.'.
IFNAME_MAX = 15
_IFNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$")
_IFNAME_FORBIDDEN_BY_KERNEL = re.compile(r"[/:\s]")


class NotAMac(ValueError):
    """A value that is no MAC address at all (not one that no NIC can own)."""


_CANONICAL_MAC = re.compile(r"^[0-9a-f]{2}(?::[0-9a-f]{2}){5}$")


def canonical_mac(value):
    """
    Return ``value`` as a canonical MAC (``52:54:00:0a:01:02``) or raise ValueError.

    Accepts the usual spellings (colons, dashes, Cisco dots, bare hex), refuses anything that
    is not a 48-bit unicast address: a NIC cannot own a multicast or all-zero MAC. A value
    already in the canonical spelling (a normalised inventory's) skips netaddr: the DHCP
    plan of 10,000 hosts renders in well under a second.
    """
    if isinstance(value, str) and _CANONICAL_MAC.match(value):
        if not int(value[:2], 16) & 0x01 and value != "00:00:00:00:00:00":
            return value
    return parse_mac(value)


def parse_mac(value):
    """:func:`canonical_mac` through netaddr, for every spelling."""
    if netaddr is None:
        raise ValueError("MACs are checked with the netaddr Python library, which is not installed")
    if not isinstance(value, str):
        raise NotAMac(f"MAC must be a string, got {type(value).__name__} {value!r}")
    try:
        eui = netaddr.EUI(value.strip())
    except (netaddr.AddrFormatError, TypeError, ValueError):
        raise NotAMac(f"{value!r} is not a MAC address") from None
    if eui.version != 48:
        raise ValueError(f"{value!r} is a {eui.version}-bit EUI, not a 48-bit MAC address")
    if int(eui) == 0:
        raise ValueError(f"{value!r} is the all-zero MAC address")
    if eui.words[0] & 0x01:
        raise ValueError(f"{value!r} is a multicast MAC address, not a NIC's")
    eui.dialect = netaddr.mac_unix_expanded
    return str(eui).lower()


# A host name is one RFC 1123 label: DHCP hands it out, /etc/hosts and the preseed write it.
HOST_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$", re.IGNORECASE)

# A DNS name (a domain, an NTP server's name): labels of at most 63, at most 253 in all.
DNS_NAME = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$", re.IGNORECASE)


def hostname_problem(name):
    """Why ``name`` cannot be a host name (RFC 1123 label), or None when it can."""
    if not isinstance(name, str) or not HOST_LABEL.match(name):
        return f"{name!r} is not a valid host name (letters, digits and '-', 1-63 characters)"
    return None


def interface_name_problem(name):
    """Why ``name`` cannot be a Brine interface name (one Brine configures), or None when it can."""
    if not isinstance(name, str) or not name:
        return "interface name must be a non-empty string"
    if len(name) > IFNAME_MAX:
        return f"interface name {name!r} is longer than the kernel's {IFNAME_MAX} characters"
    if not _IFNAME.match(name):
        return (
            f"interface name {name!r} may only hold letters, digits, '_', '.' and '-', "
            "and must start with a letter or digit"
        )
    return None


def kernel_interface_name_problem(name, shown=repr):
    """Why the kernel would refuse ``name`` (its dev_valid_name() rules), or None: what a
    reported interface (an event's, not the inventory's) may be called. ``shown`` renders the
    name in the message (the runner bounds what it quotes)."""
    if not isinstance(name, str) or not name:
        return "interface name must be a non-empty string"
    if len(name) > IFNAME_MAX:
        return f"interface name {shown(name)} is longer than the kernel's {IFNAME_MAX} characters"
    if name in (".", ".."):
        return f"interface name {shown(name)} is reserved"
    if _IFNAME_FORBIDDEN_BY_KERNEL.search(name):
        return f"interface name {shown(name)} contains '/', ':' or white space"
    if not name.isascii() or not name.isprintable():
        return f"interface name {shown(name)} contains non-printable or non-ASCII characters"
    return None
