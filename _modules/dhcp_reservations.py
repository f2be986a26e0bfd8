"""
DHCP reservations for the Brine lab: from the inventory to ISC dhcpd, Kea or dnsmasq, and back
from the DHCP server's log to the MACs that asked but are not in the inventory.

Pure core (no Salt, no system access; unit-tested directly):

- :func:`plan` validates what the DHCP server will hand out (MAC syntax, every reserved address
  inside its subnet and outside the dynamic pool, no duplicate MAC, IP or host name, every host's
  NIC and address on the served network) and returns the subnet, its options and the
  reservations. Every problem is reported with the host and the field, as a pillar path.
- :func:`render_isc`, :func:`render_kea`, :func:`render_dnsmasq` turn a plan into the daemon's
  configuration text (:func:`render_config` picks by server name).
- :func:`parse_log` turns dhcpd, dnsmasq or Kea log text into one record per DHCP message;
  :func:`unknown_macs` folds records into the list :func:`discover` returns.
- :func:`choose_log_source` says where the bootstrap host's watcher reads the server's
  messages: a log file, or ``journal:<syslog identifier>`` (the systemd journal).

Thin Salt layer: :func:`validate`, :func:`reservations`, :func:`render`, :func:`check_config`
(the daemon's own checker), :func:`parse_log`, :func:`discover` (reads the server's live log),
:func:`discover_text` (the same for log text the caller read), :func:`log_path`,
:func:`log_source` (what the events engine watches).
"""

import calendar
import datetime
import ipaddress
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile

try:  # unit tests import _modules/ directly; inside Salt's loader we go through __salt__
    import brine_inventory as _inventory_lib
except ImportError:  # pragma: no cover - inside Salt
    _inventory_lib = None

try:
    from salt.exceptions import CommandExecutionError
except ImportError:  # pragma: no cover - the pure core is importable without Salt
    CommandExecutionError = ValueError

__virtualname__ = "dhcp_reservations"

SERVERS = ("isc-dhcp", "kea", "dnsmasq")
DEFAULT_SERVER = "isc-dhcp"

# What each server needs to check a candidate configuration; the argument is the file's path.
CHECKERS = {
    "isc-dhcp": ("dhcpd", lambda path: ["dhcpd", "-4", "-t", "-q", "-cf", path]),
    "kea": ("kea-dhcp4", lambda path: ["kea-dhcp4", "-t", path]),
    "dnsmasq": ("dnsmasq", lambda path: ["dnsmasq", "--test", f"--conf-file={path}"]),
}

# Where each server's messages end up when the bootstrap states configured it.
DEFAULT_LOGS = {
    "isc-dhcp": "/var/log/syslog",
    "kea": "/var/log/kea/kea-dhcp4.log",
    "dnsmasq": "/var/log/brine-dnsmasq.log",
}
# Servers whose messages go to the systemd journal when their log file does not exist (Debian
# 12 has no rsyslog by default), by syslog identifier (journalctl -t).
JOURNAL_IDENTIFIERS = {"isc-dhcp": "dhcpd"}
JOURNAL_PREFIX = "journal:"
DEFAULT_LEASE_TIME = 86400
SERVICE_KEYS = ("server", "network", "interface", "lease_time", "log")
PXE_KEYS = ("filename", "efi_filename", "serial_console")

HEADER = "Managed by Salt (Brine): rendered from the lab inventory; local edits are overwritten."


def __virtual__():
    if _inventory_lib is None and "brine_inventory.canonical_mac" not in __salt__:
        return (False, "dhcp_reservations needs the brine_inventory execution module")
    return __virtualname__


class ReservationError(ValueError):
    """The inventory cannot be rendered; ``errors`` lists (pillar path, message) pairs."""

    def __init__(self, errors):
        self.errors = list(errors)
        count = len(self.errors)
        lines = [f"The DHCP reservations have {count} problem{'s' if count != 1 else ''}:"]
        lines += [f"  - {path}: {message}" for path, message in self.errors]
        super().__init__("\n".join(lines))


_CANONICAL_MAC = re.compile(r"^[0-9a-f]{2}(?::[0-9a-f]{2}){5}$")
_DOTTED_QUAD = re.compile(r"^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$")


def _canonical_mac(value):
    # Fast path for the spelling a normalised inventory already has (10,000 hosts render in
    # well under a second); every other spelling goes through brine_inventory's parser.
    if isinstance(value, str) and _CANONICAL_MAC.match(value):
        first = int(value[:2], 16)
        if not first & 0x01 and value != "00:00:00:00:00:00":
            return value
    if _inventory_lib is not None:
        return _inventory_lib.canonical_mac(value)
    return __salt__["brine_inventory.canonical_mac"](value)  # pragma: no cover - inside Salt


def _hostname_problem(name):
    if _inventory_lib is not None:
        return _inventory_lib.hostname_problem(name)
    return __salt__["brine_inventory.hostname_problem"](name)  # pragma: no cover - inside Salt


def _interface_problem(name):
    if _inventory_lib is not None:
        return _inventory_lib.interface_name_problem(name)
    return __salt__["brine_inventory.interface_name_problem"](name)  # pragma: no cover - inside Salt


# --------------------------------------------------------------------------- the plan


def _services(inventory):
    services = inventory.get("services") or {}
    return services if isinstance(services, dict) else {}


def bootstrap_host(inventory):
    """The minion id of the lab's bootstrap host (the first host with role ``bootstrap``)."""
    for minion_id, host in (inventory.get("hosts") or {}).items():
        if isinstance(host, dict) and "bootstrap" in (host.get("roles") or []):
            return str(minion_id)
    return None


def plan(inventory, server=None, interface=None):
    """
    Validate ``inventory`` for DHCP and return what the server hands out::

        {"server": "isc-dhcp", "network": "management", "interface": "eth0.10",
         "subnet": IPv4Network, "range": (first, last) or None, "lease_time": 86400,
         "domain": ..., "gateway": ip or None, "mtu": 9000, "bootstrap": ip,
         "dns": [ip], "ntp": [ip], "pxe": {"filename": .., "efi_filename": .., "next_server": ip},
         "reservations": [{"host", "hostname", "nic", "mac", "ip"}, ...]}   # sorted by IP

    Works on a raw or a normalised inventory. Raises :class:`ReservationError` naming the host
    and the field of every problem.
    """
    errors = []
    err = lambda path, message: errors.append((path, message))  # noqa: E731
    if not isinstance(inventory, dict):
        raise ReservationError([("brine", "the inventory must be a mapping")])
    services = _services(inventory)
    dhcp = services.get("dhcp") or {}
    if not isinstance(dhcp, dict):
        err("brine:services:dhcp", "must be a mapping")
        dhcp = {}
    for key in dhcp:
        if key not in SERVICE_KEYS:
            err(f"brine:services:dhcp:{key}", f"unknown key; expected one of {', '.join(SERVICE_KEYS)}")
    server = server or dhcp.get("server", DEFAULT_SERVER)
    if server not in SERVERS:
        err("brine:services:dhcp:server", f"unknown DHCP server {server!r}; expected one of {', '.join(SERVERS)}")
    lease_time = dhcp.get("lease_time", DEFAULT_LEASE_TIME)
    if isinstance(lease_time, bool) or not isinstance(lease_time, int) or lease_time < 60:
        err("brine:services:dhcp:lease_time", f"lease time {lease_time!r} must be a whole number of seconds >= 60")

    net_name = dhcp.get("network", "management")
    networks = inventory.get("networks") or {}
    net = networks.get(net_name)
    if not isinstance(net, dict):
        err("brine:services:dhcp:network", f"the DHCP network {net_name!r} is not one of the inventory's networks")
        raise ReservationError(errors)
    try:
        subnet = ipaddress.ip_network(str(net.get("cidr")), strict=True)
        if subnet.version != 4:
            raise ValueError("DHCPv4 serves IPv4 networks only")
    except ValueError as exc:
        err(f"brine:networks:{net_name}:cidr", f"{net.get('cidr')!r} is not an IPv4 network ({exc})")
        raise ReservationError(errors) from None

    def address_in_subnet(value, path):
        try:
            text = str(value).strip()
            # inet_aton of a strict dotted quad is exact and an order of magnitude faster.
            addr = ipaddress.IPv4Address(socket.inet_aton(text)) if _DOTTED_QUAD.match(text) else ipaddress.ip_address(text)
        except ValueError:
            err(path, f"{value!r} is not an IP address")
            return None
        if addr.version != 4 or addr not in subnet:
            err(path, f"{addr} is outside the DHCP subnet {subnet} of network {net_name!r}")
            return None
        if subnet.num_addresses > 2 and addr in (subnet.network_address, subnet.broadcast_address):
            err(path, f"{addr} is the network or broadcast address of {subnet}")
            return None
        return addr

    gateway = None
    if net.get("gateway") is not None:
        gateway = address_in_subnet(net["gateway"], f"brine:networks:{net_name}:gateway")
    dyn = None
    if net.get("dhcp_range") is not None:
        rng = net["dhcp_range"]
        if not isinstance(rng, (list, tuple)) or len(rng) != 2:
            err(f"brine:networks:{net_name}:dhcp_range", "must be a list of two addresses [first, last]")
        else:
            ends = [address_in_subnet(v, f"brine:networks:{net_name}:dhcp_range:{i}") for i, v in enumerate(rng)]
            if None not in ends:
                if ends[0] > ends[1]:
                    err(f"brine:networks:{net_name}:dhcp_range", f"first address {ends[0]} is after last address {ends[1]}")
                else:
                    dyn = tuple(ends)

    used_ips = {}
    if gateway is not None:
        used_ips[gateway] = f"brine:networks:{net_name}:gateway"
    used_macs, used_names, found = {}, {}, []
    hosts = inventory.get("hosts") or {}
    if not isinstance(hosts, dict):
        err("brine:hosts", "must be a mapping of hosts")
        hosts = {}
    for minion_id, host in hosts.items():
        hpath = f"brine:hosts:{minion_id}"
        if not isinstance(host, dict):
            err(hpath, "must be a mapping")
            continue
        attachments = host.get("networks") or {}
        if not isinstance(attachments, dict):
            err(f"{hpath}:networks", "must be a mapping of network attachments")
            continue
        for other in attachments:
            if other not in networks:
                err(f"{hpath}:networks:{other}", f"unknown network {other!r}: the host cannot have an address on it")
        att = attachments.get(net_name)
        if att is None:
            continue  # not on the DHCP network: nothing to reserve
        apath = f"{hpath}:networks:{net_name}"
        if not isinstance(att, dict):
            err(apath, "must be a mapping with address and nic")
            continue
        hostname = host.get("hostname", str(minion_id).split(".")[0])
        name_path = f"{hpath}:hostname" if "hostname" in host else hpath
        problem = _hostname_problem(hostname)
        if problem:
            err(name_path, problem)
        elif hostname.lower() in used_names:
            err(name_path, f"duplicate host name {hostname!r}, already used at {used_names[hostname.lower()]}")
        else:
            used_names[hostname.lower()] = name_path

        addr = None
        if att.get("address") is None:
            err(f"{apath}:address", f"missing: the host has no address on the DHCP network {net_name!r}")
        else:
            addr = address_in_subnet(att["address"], f"{apath}:address")
        if addr is not None:
            if dyn and dyn[0] <= addr <= dyn[1]:
                err(f"{apath}:address", f"{addr} is inside the DHCP dynamic range {dyn[0]}-{dyn[1]} of network {net_name!r}")
            elif addr in used_ips:
                err(f"{apath}:address", f"duplicate IP address {addr}, already used at {used_ips[addr]}")
            else:
                used_ips[addr] = f"{apath}:address"

        nics = host.get("nics") or {}
        nic = att.get("nic")
        mac = None
        if nic is None:
            err(f"{apath}:nic", f"missing: which NIC carries the DHCP network {net_name!r}")
        elif not isinstance(nics, dict) or not isinstance(nics.get(nic), dict):
            known = ", ".join(sorted(nics)) if isinstance(nics, dict) and nics else "none"
            err(f"{apath}:nic", f"{nic!r} is not one of this host's NICs ({known})")
        else:
            mpath = f"{hpath}:nics:{nic}:mac"
            if "mac" not in nics[nic]:
                err(mpath, "missing: a reservation needs the NIC's MAC")
            else:
                try:
                    mac = _canonical_mac(nics[nic]["mac"])
                except ValueError as exc:
                    err(mpath, str(exc))
                else:
                    if mac in used_macs:
                        err(mpath, f"duplicate MAC {mac}, already used at {used_macs[mac]}")
                        mac = None
                    else:
                        used_macs[mac] = mpath
        if addr is not None and mac is not None and not problem:
            found.append({"host": str(minion_id), "hostname": hostname, "nic": nic, "mac": mac, "ip": addr})

    boot_id = bootstrap_host(inventory)
    boot_ip = None
    if boot_id is None:
        err("brine:hosts", "no host has the bootstrap role: nobody serves DHCP, TFTP, NTP and DNS")
    else:
        boot_ip = next((r["ip"] for r in found if r["host"] == boot_id), None)
        if boot_ip is None and not any(p.startswith(f"brine:hosts:{boot_id}:") for p, _ in errors):
            err(f"brine:hosts:{boot_id}:networks:{net_name}", f"the bootstrap host needs an address on the DHCP network {net_name!r}")

    iface = interface or dhcp.get("interface")
    if iface is None and boot_id is not None:
        att = ((hosts.get(boot_id) or {}).get("networks") or {}).get(net_name) or {}
        if att.get("nic"):
            vlan = net.get("vlan")
            iface = f"{att['nic']}.{vlan}" if vlan else att["nic"]
    if iface is not None:
        problem = _interface_problem(iface)
        if problem:
            err("brine:services:dhcp:interface", problem)

    pxe_in = services.get("pxe") or {}
    for key in pxe_in:
        if key not in PXE_KEYS:
            err(f"brine:services:pxe:{key}", f"unknown key; expected one of {', '.join(PXE_KEYS)}")
    dns = net.get("dns")
    if dns is None:
        dns = [boot_ip] if boot_ip else []
    else:
        dns_list = dns if isinstance(dns, list) else [dns]
        dns = []
        for idx, value in enumerate(dns_list):
            try:
                dns.append(ipaddress.ip_address(str(value)))
            except ValueError:
                err(f"brine:networks:{net_name}:dns:{idx}", f"{value!r} is not an IP address")
    mtu = net.get("mtu", 1500)
    if isinstance(mtu, bool) or not isinstance(mtu, int) or not 68 <= mtu <= 9216:
        err(f"brine:networks:{net_name}:mtu", f"MTU {mtu!r} is out of range 68-9216 (DHCP option 26)")
    log = dhcp.get("log")
    if log is not None and (not isinstance(log, str) or not log.startswith("/")):
        err("brine:services:dhcp:log", f"{log!r} is not an absolute path")
    domain = net.get("domain") or inventory.get("domain", "lab.home.arpa")
    if not isinstance(domain, str) or not _DNS_NAME.match(domain):
        err("brine:domain", f"{domain!r} is not a DNS domain")
    _check_services(services, err)
    _check_deploy_user(inventory, err)
    if errors:
        raise ReservationError(errors)
    found.sort(key=lambda r: r["ip"])
    return {
        "server": server,
        "network": net_name,
        "interface": iface,
        "subnet": subnet,
        "range": dyn,
        "lease_time": lease_time,
        "domain": domain,
        "gateway": gateway,
        "mtu": mtu,
        "bootstrap": boot_ip,
        "dns": dns,
        "ntp": [boot_ip],
        "pxe": {
            "filename": pxe_in.get("filename", "pxelinux.0"),
            "efi_filename": pxe_in.get("efi_filename", "bootx64.efi"),
            "next_server": boot_ip,
        },
        "reservations": found,
    }


_SERIAL_CONSOLE = re.compile(r"^ttyS\d+,\d+(n8)?$")
_DNS_NAME = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$", re.IGNORECASE)


def _check_services(services, err):
    """The bootstrap services' settings (PXE, NTP, DNS, proxy, install) in ``brine:services``."""
    known = ("dhcp", "pxe", "ntp", "dns", "proxy", "install")
    for key in services:
        if key not in known:
            err(f"brine:services:{key}", f"unknown key; expected one of {', '.join(known)}")
    pxe = services.get("pxe") or {}
    for key in ("filename", "efi_filename"):
        value = pxe.get(key)
        if value is not None and (not isinstance(value, str) or not re.match(r"^[A-Za-z0-9._/-]{1,128}$", value)):
            err(f"brine:services:pxe:{key}", f"{value!r} is not a boot file name (letters, digits, '._/-')")
    console = pxe.get("serial_console")
    if console is not None and (not isinstance(console, str) or not _SERIAL_CONSOLE.match(console)):
        err("brine:services:pxe:serial_console", f"{console!r} is not a serial console like ttyS0,115200n8")
    for idx, upstream in enumerate((services.get("ntp") or {}).get("upstreams", [])):
        if not isinstance(upstream, str) or not _DNS_NAME.match(upstream):
            err(f"brine:services:ntp:upstreams:{idx}", f"{upstream!r} is not a host name or address")
    for idx, address in enumerate((services.get("dns") or {}).get("forwarders", [])):
        try:
            ipaddress.ip_address(str(address))
        except ValueError:
            err(f"brine:services:dns:forwarders:{idx}", f"{address!r} is not an IP address")
    port = (services.get("proxy") or {}).get("port", 3128)
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        err("brine:services:proxy:port", f"port {port!r} is out of range 1-65535")


def _check_deploy_user(inventory, err):
    """
    The installed hosts' user (the preseed): the inventory's deployment user,
    brine:baseline:deploy, checked by brine_inventory.deploy_problems; the preseed needs one.
    """
    for path, message in _deploy_lib("deploy_problems", inventory):
        err(path, message)
    baseline = inventory.get("baseline")
    if not isinstance(baseline, dict) or baseline.get("deploy") is None:
        err("brine:baseline:deploy", "missing: the installed hosts need the deployment user and its SSH keys (no password login)")


def _deploy_lib(name, inventory):
    if _inventory_lib is not None:
        return getattr(_inventory_lib, name)(inventory)
    return __salt__[f"brine_inventory.{name}"](inventory)  # pragma: no cover - inside Salt


# --------------------------------------------------------------------------- renderers


def _csv(addresses):
    return ", ".join(str(a) for a in addresses)


def render_isc(p):
    """ISC dhcpd.conf for a :func:`plan`: one subnet with its options, one host block per NIC."""
    s = p["subnet"]
    lines = [
        f"# {HEADER}",
        "authoritative;",
        "ddns-update-style none;",
        f"default-lease-time {p['lease_time']};",
        f"max-lease-time {p['lease_time']};",
        "log-facility daemon;",
        # RFC 4578 client architecture: UEFI firmware needs an EFI loader, BIOS gets pxelinux.
        "option pxe-client-arch code 93 = unsigned integer 16;",
        "",
        f"subnet {s.network_address} netmask {s.netmask} {{",
        f"  option subnet-mask {s.netmask};",
        f"  option broadcast-address {s.broadcast_address};",
    ]
    if p["gateway"]:
        lines.append(f"  option routers {p['gateway']};")
    lines.append(f'  option domain-name "{p["domain"]}";')
    if p["dns"]:
        lines.append(f"  option domain-name-servers {_csv(p['dns'])};")
    lines += [
        f"  option ntp-servers {_csv(p['ntp'])};",
        f"  option interface-mtu {p['mtu']};",
        f"  next-server {p['pxe']['next_server']};",
        "  if option pxe-client-arch = 7 or option pxe-client-arch = 9 {",
        f'    filename "{p["pxe"]["efi_filename"]}";',
        "  } else {",
        f'    filename "{p["pxe"]["filename"]}";',
        "  }",
    ]
    if p["range"]:
        lines.append(f"  range {p['range'][0]} {p['range'][1]};")
    lines += ["}", ""]
    for r in p["reservations"]:
        lines += [
            f"host {r['hostname']} {{",
            f"  hardware ethernet {r['mac']};",
            f"  fixed-address {r['ip']};",
            f'  option host-name "{r["hostname"]}";',
            "}",
        ]
    return "\n".join(lines) + "\n"


def render_kea(p, lease_file="/var/lib/kea/kea-leases4.csv", log_file=DEFAULT_LOGS["kea"]):
    """kea-dhcp4.conf (JSON text) for a :func:`plan`: one subnet4 with its reservations."""
    options = []
    if p["gateway"]:
        options.append({"name": "routers", "data": str(p["gateway"])})
    options.append({"name": "domain-name", "data": p["domain"]})
    if p["dns"]:
        options.append({"name": "domain-name-servers", "data": _csv(p["dns"])})
    options += [
        {"name": "ntp-servers", "data": _csv(p["ntp"])},
        {"name": "interface-mtu", "data": str(p["mtu"])},
    ]
    subnet = {
        "id": 1,
        "subnet": str(p["subnet"]),
        "next-server": str(p["pxe"]["next_server"]),
        "boot-file-name": p["pxe"]["filename"],
        "option-data": options,
        "pools": [{"pool": f"{p['range'][0]} - {p['range'][1]}"}] if p["range"] else [],
        "reservations": [
            {"hw-address": r["mac"], "ip-address": str(r["ip"]), "hostname": r["hostname"]}
            for r in p["reservations"]
        ],
    }
    config = {
        "Dhcp4": {
            "interfaces-config": {"interfaces": [p["interface"]] if p["interface"] else []},
            "lease-database": {"type": "memfile", "persist": True, "name": lease_file},
            "valid-lifetime": p["lease_time"],
            "authoritative": True,
            "reservations-out-of-pool": True,
            "client-classes": [
                {"name": "uefi", "test": "option[93].hex == 0x0007 or option[93].hex == 0x0009",
                 "boot-file-name": p["pxe"]["efi_filename"]},
            ],
            "subnet4": [subnet],
            "loggers": [{"name": "kea-dhcp4", "severity": "INFO", "output_options": [{"output": log_file}]}],
        }
    }
    return f"// {HEADER}\n" + json.dumps(config, indent=2) + "\n"


def render_dnsmasq(p, lease_file="/var/lib/misc/dnsmasq.leases", log_file=DEFAULT_LOGS["dnsmasq"]):
    """dnsmasq.conf for a :func:`plan`: DHCP only (port=0: Unbound answers DNS), dhcp-host lines."""
    s = p["subnet"]
    lines = [f"# {HEADER}", "port=0"]
    if p["interface"]:
        lines += [f"interface={p['interface']}", "bind-interfaces"]
    lines += [
        "dhcp-authoritative",
        f"dhcp-leasefile={lease_file}",
        "log-dhcp",
        f"log-facility={log_file}",
    ]
    if p["range"]:
        lines.append(f"dhcp-range={p['range'][0]},{p['range'][1]},{s.netmask},{p['lease_time']}")
    else:
        lines.append(f"dhcp-range={s.network_address},static,{s.netmask},{p['lease_time']}")
    if p["gateway"]:
        lines.append(f"dhcp-option=option:router,{p['gateway']}")
    if p["dns"]:
        lines.append(f"dhcp-option=option:dns-server,{','.join(str(a) for a in p['dns'])}")
    lines += [
        f"dhcp-option=option:domain-name,{p['domain']}",
        f"dhcp-option=option:ntp-server,{','.join(str(a) for a in p['ntp'])}",
        f"dhcp-option=option:mtu,{p['mtu']}",
        "dhcp-match=set:efi,option:client-arch,7",
        "dhcp-match=set:efi,option:client-arch,9",
        f"dhcp-boot=tag:efi,{p['pxe']['efi_filename']},,{p['pxe']['next_server']}",
        f"dhcp-boot=tag:!efi,{p['pxe']['filename']},,{p['pxe']['next_server']}",
    ]
    lines += [f"dhcp-host={r['mac']},{r['ip']},{r['hostname']}" for r in p["reservations"]]
    return "\n".join(lines) + "\n"


RENDERERS = {"isc-dhcp": render_isc, "kea": render_kea, "dnsmasq": render_dnsmasq}


def render_config(inventory, server=None, interface=None):
    """Validate ``inventory`` and return ``(server, config text)``; raises ReservationError."""
    p = plan(inventory, server=server, interface=interface)
    return p["server"], RENDERERS[p["server"]](p)


def reserved_macs(inventory):
    """Every MAC the inventory knows (canonical): reserved NICs and their bond partners alike."""
    macs = set()
    for host in (inventory.get("hosts") or {}).values():
        for spec in ((host or {}).get("nics") or {}).values():
            try:
                macs.add(_canonical_mac((spec or {}).get("mac")))
            except ValueError:
                continue
    return macs


# --------------------------------------------------------------------------- log parsing

_MONTHS = {name: idx for idx, name in enumerate(calendar.month_abbr) if name}
_SYSLOG_TIME = re.compile(r"^(?P<mon>[A-Z][a-z]{2}) +(?P<day>\d{1,2}) (?P<time>\d\d:\d\d:\d\d) +")
_ISO_TIME = re.compile(r"^(?P<iso>\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?) +")
_MAC_LOOSE = r"(?P<mac>[0-9a-fA-F]{1,2}(?::[0-9a-fA-F]{1,2}){5})"
_IPV4 = r"(?P<ip>\d{1,3}(?:\.\d{1,3}){3})"
_ISC = [
    re.compile(rf"\b(?P<type>DHCPDISCOVER) from {_MAC_LOOSE}(?: \([^)]*\))? via (?P<iface>\S+?)(?::|$| )"),
    re.compile(rf"\b(?P<type>DHCPREQUEST) for {_IPV4}(?: \([^)]*\))? from {_MAC_LOOSE}(?: \([^)]*\))? via (?P<iface>\S+?)(?::|$| )"),
    re.compile(rf"\b(?P<type>DHCPOFFER|DHCPACK|DHCPNAK) on {_IPV4} to {_MAC_LOOSE}(?: \([^)]*\))? via (?P<iface>\S+?)(?::|$| )"),
    re.compile(rf"\b(?P<type>DHCPDECLINE|DHCPRELEASE|DHCPINFORM) (?:of|from) {_IPV4} from {_MAC_LOOSE}(?: \([^)]*\))? via (?P<iface>\S+?)(?::|$| )"),
]
_DNSMASQ = re.compile(
    rf"dnsmasq-dhcp\[\d+\]: (?:\d+ )?(?P<type>DHCP[A-Z]+)\((?P<iface>[^)]+)\)(?: {_IPV4})? {_MAC_LOOSE}\b"
)
_KEA = re.compile(rf"\b(?P<type>DHCP4_[A-Z_]+) \[hwtype=1 {_MAC_LOOSE}\].*?(?:lease {_IPV4}|$)")


def _pad_mac(value):
    # dhcpd prints octets with %x, so 00:22:99:ec:00:00 appears as 0:22:99:ec:0:0.
    return ":".join(f"{int(octet, 16):02x}" for octet in value.split(":"))


def _line_time(line, tz):
    """(kind, value, rest): kind 'iso' with an aware datetime, 'syslog' with (mon, day, hh:mm:ss), or None."""
    m = _ISO_TIME.match(line)
    if m:
        text = m.group("iso").replace(",", ".").replace(" ", "T")
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        if re.search(r"[+-]\d{4}$", text):
            text = text[:-2] + ":" + text[-2:]
        when = datetime.datetime.fromisoformat(text)
        if when.tzinfo is None:
            when = when.replace(tzinfo=tz)
        return "iso", when
    m = _SYSLOG_TIME.match(line)
    if m:
        return "syslog", (_MONTHS[m.group("mon")], int(m.group("day")), m.group("time"))
    return None, None


def _detect(line):
    if "dnsmasq-dhcp" in line:
        return "dnsmasq"
    if "[hwtype=1 " in line:
        return "kea"
    if "DHCP" in line:
        return "isc-dhcp"
    return None


def parse_log(text, server=None, now=None, tz=None):
    """
    Parse DHCP server log text into one record per DHCP message, in log order::

        {"time": "2026-11-21T23:55:01+00:00" or None, "server": "isc-dhcp", "type": "DHCPDISCOVER",
         "mac": "52:54:00:aa:bb:cc", "ip": "10.10.0.200" or None, "interface": "eth0" or None}

    server
        ``isc-dhcp``, ``kea`` or ``dnsmasq``; None recognises each line by its format.

    Lines may start with an ISO-8601 time (journalctl -o short-iso, rsyslog's default), a
    classic syslog time without a year, or nothing (``dhcpd -d``: time None). A syslog year is
    inferred: the last dated line is in ``now``'s year unless that would put it in the future,
    and each turn of the year going backwards (a month earlier than the one before it, e.g.
    ``Dec`` before ``Jan``) moves earlier lines back one year. ``tz`` is the zone of undated
    offsets (default: this machine's).

    CLI Example:

    .. code-block:: bash

        salt-call dhcp_reservations.parse_log "$(tail -n 100 /var/log/syslog)"
    """
    if server is not None and server not in SERVERS:
        raise ValueError(f"unknown DHCP server {server!r}; expected one of {', '.join(SERVERS)}")
    now = now or datetime.datetime.now(datetime.timezone.utc)
    tz = tz or datetime.datetime.now().astimezone().tzinfo
    records, stamps = [], []
    for line in str(text).splitlines():
        kind = server or _detect(line)
        if kind is None:
            continue
        if kind == "isc-dhcp":
            m = next((m for m in (rx.search(line) for rx in _ISC) if m), None)
        elif kind == "dnsmasq":
            m = _DNSMASQ.search(line)
        else:
            m = _KEA.search(line)
        if not m:
            continue
        groups = m.groupdict()
        records.append({
            "time": None,
            "server": kind,
            "type": groups["type"],
            "mac": _pad_mac(groups["mac"]),
            "ip": groups.get("ip"),
            "interface": groups.get("iface"),
        })
        stamps.append(_line_time(line, tz))
    # Syslog times have no year: walk backwards from the newest line.
    year, later_month = None, None
    for record, (kind, value) in zip(reversed(records), reversed(stamps)):
        if kind == "iso":
            record["time"] = value.isoformat()
            year, later_month = value.year, value.month
        elif kind == "syslog":
            month, day, hms = value
            if year is None:
                year = now.astimezone(tz).year
                if _syslog_dt(year, month, day, hms, tz) > now + datetime.timedelta(days=1):
                    year -= 1
            elif later_month is not None and month > later_month:
                year -= 1
            later_month = month
            record["time"] = _syslog_dt(year, month, day, hms, tz).isoformat()
    return records


def _syslog_dt(year, month, day, hms, tz):
    hour, minute, second = (int(x) for x in hms.split(":"))
    if month == 2 and day == 29 and not calendar.isleap(year):
        day = 28  # a Feb 29 line from a leap year read back in a later year
    return datetime.datetime(year, month, day, hour, minute, second, tzinfo=tz)


def unknown_macs(records, known_macs, default_time=None):
    """
    Fold :func:`parse_log` records into the MACs that asked and are not in ``known_macs``:
    ``[{"mac", "first_seen", "last_seen", "count", "ip", "interface"}]`` sorted by first_seen.
    ``count`` is the number of messages from or to the MAC, ``ip`` the last address offered or
    acknowledged, ``default_time`` stands in for undated records.
    """
    seen = {}
    for record in records:
        mac = record["mac"]
        if mac in known_macs:
            continue
        when = record["time"] or default_time
        entry = seen.setdefault(mac, {"mac": mac, "first_seen": when, "last_seen": when, "count": 0, "ip": None, "interface": None})
        entry["count"] += 1
        if when is not None:
            if entry["first_seen"] is None or _ts(when) < _ts(entry["first_seen"]):
                entry["first_seen"] = when
            if entry["last_seen"] is None or _ts(when) >= _ts(entry["last_seen"]):
                entry["last_seen"] = when
        if record["ip"] and record["type"] in ("DHCPOFFER", "DHCPACK", "DHCP4_LEASE_ALLOC", "DHCP4_LEASE_ADVERT"):
            entry["ip"] = record["ip"]
        if record["interface"]:
            entry["interface"] = record["interface"]
    return sorted(seen.values(), key=lambda e: (_ts(e["first_seen"]) if e["first_seen"] else 0.0, e["mac"]))


def _ts(iso):
    return datetime.datetime.fromisoformat(iso).timestamp()


# --------------------------------------------------------------------------- Salt functions


def _inventory(inventory=None):
    """The inventory to render: ``inventory`` as given (validated by :func:`plan`), or pillar's."""
    if inventory is not None:
        return inventory
    return __salt__["brine_inventory.get"]()


def _server(server, inventory):
    return server or (_services(inventory).get("dhcp") or {}).get("server", DEFAULT_SERVER)


def log_path(inventory=None):
    """
    Where the DHCP server's messages go: the inventory's ``services:dhcp:log``, else the
    server's log as the bootstrap states configure it (``DEFAULT_LOGS``).

    CLI Example:

    .. code-block:: bash

        salt-call dhcp_reservations.log_path
    """
    inventory = _inventory(inventory)
    return (_services(inventory).get("dhcp") or {}).get("log") or DEFAULT_LOGS[_server(None, inventory)]


def choose_log_source(server, configured_log=None, default_exists=False, has_journalctl=False):
    """
    Where the DHCP server's messages can be read as they come (pure; :func:`log_source` asks
    the system): ``configured_log`` when the inventory sets ``services:dhcp:log``; else the
    server's default log (``DEFAULT_LOGS``) when ``default_exists``; else, for a server that
    logs to syslog (isc-dhcp) on a host with ``journalctl``, ``"journal:<identifier>"`` (the
    systemd journal, ``journalctl -t <identifier>``); else the default log, which the server
    creates (Kea, dnsmasq) or a syslog daemon installed later writes.
    """
    if server not in SERVERS:
        raise ValueError(f"unknown DHCP server {server!r}; expected one of {', '.join(SERVERS)}")
    if configured_log:
        return configured_log
    if not default_exists and has_journalctl and server in JOURNAL_IDENTIFIERS:
        return JOURNAL_PREFIX + JOURNAL_IDENTIFIERS[server]
    return DEFAULT_LOGS[server]


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
    server = _server(None, inventory)
    return choose_log_source(
        server,
        configured_log=(_services(inventory).get("dhcp") or {}).get("log"),
        default_exists=os.path.exists(DEFAULT_LOGS.get(server, "")),
        has_journalctl=shutil.which("journalctl") is not None,
    )


def configured_server(inventory=None):
    """
    The DHCP server the inventory asks for (``services:dhcp:server``, default isc-dhcp).

    CLI Example:

    .. code-block:: bash

        salt-call dhcp_reservations.configured_server
    """
    return _server(None, _inventory(inventory))


def bootstrap_settings(inventory=None, interface=None):
    """
    Everything the bootstrap services render from, as plain data: the DHCP network, the
    bootstrap host's address and interface, the hosts' reservations and the ``services``
    settings with their defaults (NTP upstreams, DNS forwarders, proxy port, install user).

    CLI Example:

    .. code-block:: bash

        salt-call dhcp_reservations.bootstrap_settings
    """
    inventory = _inventory(inventory)
    try:
        p = plan(inventory, interface=interface)
    except ReservationError as exc:
        raise CommandExecutionError(str(exc)) from None
    services = _services(inventory)
    ntp = services.get("ntp") or {}
    dns = services.get("dns") or {}
    proxy = services.get("proxy") or {}
    install = services.get("install") or {}
    baseline = _deploy_lib("baseline_settings", inventory)
    pxe = services.get("pxe") or {}
    return {
        "server": p["server"],
        "network": p["network"],
        "cidr": str(p["subnet"]),
        "interface": p["interface"],
        "address": str(p["bootstrap"]),
        "host": bootstrap_host(inventory),
        "domain": p["domain"],
        "gateway": str(p["gateway"]) if p["gateway"] else None,
        "mtu": p["mtu"],
        "reservations": [{**r, "ip": str(r["ip"])} for r in p["reservations"]],
        "ntp": {"upstreams": list(ntp.get("upstreams", ["0.debian.pool.ntp.org", "1.debian.pool.ntp.org"]))},
        "dns": {"forwarders": list(dns.get("forwarders", []))},
        "proxy": {"port": int(proxy.get("port", 3128)), "url": f"http://{p['bootstrap']}:{int(proxy.get('port', 3128))}/"},
        "pxe": {
            "filename": p["pxe"]["filename"],
            "efi_filename": p["pxe"]["efi_filename"],
            "serial_console": pxe.get("serial_console"),
        },
        "timezone": baseline["timezone"],
        "install": {
            # The deployment user (brine:baseline:deploy), as the salt/baseline states manage it.
            "user": baseline["deploy"]["user"],
            "ssh_keys": list(baseline["deploy"]["ssh_keys"]),
            "nopasswd": baseline["deploy"]["sudo"]["nopasswd"],
            "mirror": install.get("mirror", "deb.debian.org"),
            "suite": install.get("suite", "bookworm"),
        },
    }


def validate(inventory=None, server=None):
    """
    Check the inventory for DHCP: ``{"valid": bool, "errors": ["brine:hosts:..: ...", ...]}``.

    CLI Example:

    .. code-block:: bash

        salt-call dhcp_reservations.validate
    """
    try:
        plan(_inventory(inventory), server=server)
    except ReservationError as exc:
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
        p = plan(_inventory(inventory))
    except ReservationError as exc:
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
        return render_config(_inventory(inventory), server=server, interface=interface)[1]
    except ReservationError as exc:
        raise CommandExecutionError(str(exc)) from None


def check_config(path, server=DEFAULT_SERVER):
    """
    Run the server's own configuration check on ``path``: ``{"valid": bool, "output": str}``.

    CLI Example:

    .. code-block:: bash

        salt-call dhcp_reservations.check_config /etc/dhcp/dhcpd.conf
        salt-call dhcp_reservations.check_config /etc/kea/kea-dhcp4.conf server=kea
    """
    if server not in CHECKERS:
        raise CommandExecutionError(f"unknown DHCP server {server!r}; expected one of {', '.join(SERVERS)}")
    binary, argv = CHECKERS[server]
    if shutil.which(binary) is None:
        raise CommandExecutionError(f"{binary} is not installed: cannot check a {server} configuration")
    proc = subprocess.run(argv(str(path)), capture_output=True, text=True, timeout=120, check=False)
    return {"valid": proc.returncode == 0, "output": (proc.stdout + proc.stderr).strip()}


def check_text(text, server=DEFAULT_SERVER, directory=None):
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


def _read_log(server, log_path):
    if log_path is not None:
        with open(log_path, encoding="utf-8", errors="replace") as fh:
            return fh.read(), os.path.getmtime(log_path)
    default = DEFAULT_LOGS[server]
    if os.path.exists(default):
        with open(default, encoding="utf-8", errors="replace") as fh:
            return fh.read(), os.path.getmtime(default)
    if server in JOURNAL_IDENTIFIERS and shutil.which("journalctl"):
        # Debian 12 has no rsyslog by default: dhcpd's messages are in the journal.
        proc = subprocess.run(
            ["journalctl", "--no-pager", "-o", "short-iso", "-t", JOURNAL_IDENTIFIERS[server]],
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
        server = server or _detect_server(log_path)
        text, mtime = _read_log(server, log_path)
        inventory = None
    else:
        inventory = _inventory(inventory)
        server = _server(server, inventory)
        if server not in SERVERS:
            raise CommandExecutionError(f"unknown DHCP server {server!r}; expected one of {', '.join(SERVERS)}")
        text, mtime = _read_log(server, log_path or (_services(inventory).get("dhcp") or {}).get("log"))
    default_time = None
    if mtime is not None:
        default_time = datetime.datetime.fromtimestamp(mtime, datetime.timezone.utc).isoformat()
    return discover_text(text, server=server, default_time=default_time, inventory=inventory, known_macs=known_macs)


def _detect_server(log_path):
    """None (each line recognised by its format) unless the path is a server's default log."""
    return next((server for server, path in DEFAULT_LOGS.items() if path == log_path and server != "isc-dhcp"), None)


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
        known = {_canonical_mac(mac) for mac in known_macs}
    else:
        inventory = _inventory(inventory)
        server = _server(server, inventory)
        known = reserved_macs(inventory)
    if server is not None and server not in SERVERS:
        raise CommandExecutionError(f"unknown DHCP server {server!r}; expected one of {', '.join(SERVERS)}")
    return unknown_macs(parse_log(text, server=server), known, default_time=default_time)


def known_macs(inventory=None):
    """
    Every MAC the inventory knows, sorted (what :func:`discover` does not report): written into
    the bootstrap host's events engine configuration, which has no pillar to read them from.

    CLI Example:

    .. code-block:: bash

        salt-call dhcp_reservations.known_macs
    """
    return sorted(reserved_macs(_inventory(inventory)))
