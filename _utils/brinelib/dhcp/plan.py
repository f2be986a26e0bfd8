"""
What the DHCP server hands out, from the inventory: :func:`plan` validates the DHCP network
and every host's reservation (MAC syntax, every reserved address inside its subnet and outside
the dynamic pool, no duplicate MAC, IP or host name, every host's NIC and address on the served
network), and with them the bootstrap services' settings (``brinelib.bootstrap``), reporting
every problem with the host and the field as a pillar path.
"""

import ipaddress
import re
import socket

from brinelib import bootstrap, names
from brinelib.dhcp import DEFAULT_SERVER, SERVERS, unknown_server
from brinelib.errors import InventoryProblem

DEFAULT_LEASE_TIME = 86400
SERVICE_KEYS = ("server", "network", "interface", "lease_time", "log")
PXE_KEYS = ("filename", "efi_filename", "serial_console")


def _refused(errors):
    """The :class:`InventoryProblem` for ``errors``, (pillar path, message) pairs, under one heading."""
    count = len(errors)
    return InventoryProblem(errors, heading=f"The DHCP reservations have {count} problem{'s' if count != 1 else ''}:")


_DOTTED_QUAD = re.compile(r"^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$")


def dhcp_settings(inventory):
    """``brine:services:dhcp`` of ``inventory``, or an empty mapping."""
    return bootstrap.services(inventory).get("dhcp") or {}


def configured_server(inventory):
    """The DHCP server ``inventory`` asks for (``services:dhcp:server``, default isc-dhcp)."""
    return dhcp_settings(inventory).get("server", DEFAULT_SERVER)


def plan(inventory, server=None, interface=None):
    """
    Validate ``inventory`` for DHCP and return what the server hands out::

        {"server": "isc-dhcp", "network": "management", "interface": "eth0.10",
         "subnet": IPv4Network, "range": (first, last) or None, "lease_time": 86400,
         "domain": ..., "gateway": ip or None, "mtu": 9000, "bootstrap": ip,
         "dns": [ip], "ntp": [ip], "pxe": {"filename": .., "efi_filename": .., "next_server": ip},
         "reservations": [{"host", "hostname", "nic", "mac", "ip"}, ...]}   # sorted by IP

    Works on a raw or a normalised inventory. Raises :class:`InventoryProblem` naming the host
    and the field of every problem.
    """
    errors = []
    err = lambda path, message: errors.append((path, message))  # noqa: E731
    if not isinstance(inventory, dict):
        raise _refused([("brine", "the inventory must be a mapping")])
    services = bootstrap.services(inventory)
    dhcp = services.get("dhcp") or {}
    if not isinstance(dhcp, dict):
        err("brine:services:dhcp", "must be a mapping")
        dhcp = {}
    for key in dhcp:
        if key not in SERVICE_KEYS:
            err(f"brine:services:dhcp:{key}", f"unknown key; expected one of {', '.join(SERVICE_KEYS)}")
    server = server or dhcp.get("server", DEFAULT_SERVER)
    if server not in SERVERS:
        err("brine:services:dhcp:server", unknown_server(server))
    lease_time = dhcp.get("lease_time", DEFAULT_LEASE_TIME)
    if isinstance(lease_time, bool) or not isinstance(lease_time, int) or lease_time < 60:
        err("brine:services:dhcp:lease_time", f"lease time {lease_time!r} must be a whole number of seconds >= 60")

    net_name = dhcp.get("network", "management")
    networks = inventory.get("networks") or {}
    net = networks.get(net_name)
    if not isinstance(net, dict):
        err("brine:services:dhcp:network", f"the DHCP network {net_name!r} is not one of the inventory's networks")
        raise _refused(errors)
    try:
        subnet = ipaddress.ip_network(str(net.get("cidr")), strict=True)
        if subnet.version != 4:
            raise ValueError("DHCPv4 serves IPv4 networks only")
    except ValueError as exc:
        err(f"brine:networks:{net_name}:cidr", f"{net.get('cidr')!r} is not an IPv4 network ({exc})")
        raise _refused(errors) from None

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
        problem = names.hostname_problem(hostname)
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
                    mac = names.canonical_mac(nics[nic]["mac"])
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

    boot_id = bootstrap.bootstrap_host(inventory)
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
        problem = names.interface_name_problem(iface)
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
    if not isinstance(domain, str) or not names.DNS_NAME.match(domain):
        err("brine:domain", f"{domain!r} is not a DNS domain")
    errors += bootstrap.services_problems(services)
    errors += bootstrap.deploy_problems(inventory)
    if errors:
        raise _refused(errors)
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



def reserved_macs(inventory):
    """Every MAC the inventory knows (canonical): reserved NICs and their bond partners alike."""
    macs = set()
    for host in (inventory.get("hosts") or {}).values():
        for spec in ((host or {}).get("nics") or {}).values():
            try:
                macs.add(names.canonical_mac((spec or {}).get("mac")))
            except ValueError:
                continue
    return macs

