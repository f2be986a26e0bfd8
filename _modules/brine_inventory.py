"""
The Brine lab inventory: validation and normalisation.

One inventory (pillar key ``brine``) describes the whole lab: networks, VIPs, hosts with their
roles, NICs (by MAC), dual-bond pairs, addresses and disks, and references to secrets. This
module checks it before any state runs and hands every other module a normalised copy (MACs in
one canonical spelling, defaults filled in).

The pure core (:func:`check`, :func:`normalise`) takes a plain dict and never touches the
system; unit tests cover it directly. The Salt functions below read the inventory from pillar.

Error paths use Salt's colon-delimited pillar notation (``brine:hosts:ubuntu1:nics:eth2:mac``),
so an operator can paste them into ``pillar.get``.
"""

import hashlib
import ipaddress
import json
import logging
import pickle
import re
import subprocess

import yaml
import brinelib

brinelib.forget_if_changed()  # a library synced since it was imported replaces the old one
from brinelib import acme, baseline, keystone, kolla, memcached, names, rabbitmq
from brinelib.dualbond import names as dualbond_names
from brinelib.errors import CommandExecutionError

try:
    import netaddr

    HAS_NETADDR = True
except ImportError:  # pragma: no cover - exercised only on a minion without netaddr
    HAS_NETADDR = False

log = logging.getLogger(__name__)

__virtualname__ = "brine_inventory"

PILLAR_KEY = "brine"

# probe, rollback_seconds and datapath_type are checked in detail by brinelib.dualbond.plan.build_plan().
DUALBOND_KEYS = ("nics", "backend", "miimon", "link_detect", "bridges", "probe", "rollback_seconds", "datapath_type")
NETWORK_CONFIG_STYLES = ("networkd", "ifupdown")
DISK_ID_KEYS = ("by_id", "serial", "wwn")

_SECRET_REF = re.compile(r"^sdb://[A-Za-z0-9_.-]+/\S+$")
_WWN = re.compile(r"^(0x)?[0-9a-f]{16}([0-9a-f]{16})?$", re.IGNORECASE)
_SERIAL = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")

# A VIP's keys; vrid and priorities are keepalived's (check_load_balancer).
VIP_KEYS = ("address", "network", "fqdn", "vrid", "priorities")
# Secrets the controller role's load balancer reads (salt/keepalived, salt/haproxy).
LB_SECRETS = ("keepalived_auth", "haproxy_stats_password")

TOP_LEVEL_KEYS = ("domain", "networks", "vips", "hosts", "secrets", "openstack", "lab", "services", "baseline",
                  "galera", "rabbitmq", "memcached", "acme")


# MariaDB Galera (``brine:galera``, optional): the cluster's name and SST method; the secrets
# every host with the controller role needs.
GALERA_KEYS = ("cluster_name", "sst_method")
GALERA_DEFAULTS = {"cluster_name": "brine", "sst_method": "mariabackup"}
GALERA_SST_METHODS = ("mariabackup",)
GALERA_SECRETS = ("mariadb_root_password", "galera_sst_password", "galera_monitor_password")
_GALERA_CLUSTER_NAME = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


def __virtual__():
    if not HAS_NETADDR:
        return (False, "brine_inventory needs the netaddr Python library")
    return __virtualname__


class InventoryError:
    """One problem in the inventory: where (a pillar path) and what."""

    __slots__ = ("path", "message")

    def __init__(self, path, message):
        self.path = path
        self.message = message

    def __str__(self):
        return f"{self.path}: {self.message}"

    def __repr__(self):
        return f"InventoryError({self.path!r}, {self.message!r})"

    def __eq__(self, other):
        return (self.path, self.message) == (other.path, other.message)


# --------------------------------------------------------------------------- pure helpers


def canonical_mac(value):
    """
    Return ``value`` as a canonical MAC (``52:54:00:0a:01:02``) or raise ValueError.

    CLI Example:

    .. code-block:: bash

        salt-call brine_inventory.canonical_mac 52-54-00-0A-01-02
    """
    return names.canonical_mac(value)


def interface_name_problem(name):
    """Why ``name`` cannot be a Brine interface name, or None when it can.

    CLI Example:

    .. code-block:: bash

        salt-call brine_inventory.interface_name_problem 'e$(reboot)'
    """
    return names.interface_name_problem(name)


def hostname_problem(name):
    """Why ``name`` cannot be a host name (RFC 1123 label), or None when it can.

    CLI Example:

    .. code-block:: bash

        salt-call brine_inventory.hostname_problem ubuntu_2
    """
    return names.hostname_problem(name)


def _ip(value):
    return ipaddress.ip_address(str(value).strip())


def _net(value):
    return ipaddress.ip_network(str(value).strip(), strict=True)


def _in_net(address, network):
    return address.version == network.version and address in network


# --------------------------------------------------------------------------- the checker


class _Checker:
    def __init__(self, inventory):
        self.inv = inventory
        self.errors = []
        self.networks = {}  # name -> ip_network (only valid ones)
        self.ranges = {}  # name -> (start, end)
        self.used_ips = {}  # ip -> path of first use
        self.used_macs = {}  # canonical mac -> path of first use
        self.used_hostnames = {}  # lower-case name -> path

    def err(self, path, message):
        self.errors.append(InventoryError(path, message))

    def is_mapping(self, value, path, what="a mapping"):
        if not isinstance(value, dict):
            self.err(path, f"must be {what}, got {type(value).__name__}")
            return False
        return True

    def run(self):
        root = PILLAR_KEY
        if not self.is_mapping(self.inv, root, "a mapping (the lab inventory)"):
            return self.errors
        for key in self.inv:
            if key not in TOP_LEVEL_KEYS:
                self.err(f"{root}:{key}", f"unknown key; expected one of {', '.join(TOP_LEVEL_KEYS)}")
        domain = self.inv.get("domain")
        if domain is not None:
            labels = str(domain).split(".")
            if not all(names.HOST_LABEL.match(label) for label in labels):
                self.err(f"{root}:domain", f"{domain!r} is not a valid DNS domain")
        self.check_networks(self.inv.get("networks"), f"{root}:networks")
        self.check_hosts(self.inv.get("hosts"), f"{root}:hosts")
        self.check_vips(self.inv.get("vips", {}), f"{root}:vips")
        self.check_secrets(self.inv.get("secrets", {}), f"{root}:secrets")
        self.check_openstack(self.inv.get("openstack", {}), f"{root}:openstack")
        self.check_baseline(self.inv.get("baseline", {}), f"{root}:baseline")
        self.check_galera(self.inv.get("galera", {}), f"{root}:galera")
        # RabbitMQ and memcached on the controllers (docs/rabbitmq.md): brinelib's rules.
        for path, message in rabbitmq.check(self.inv) + memcached.check(self.inv.get("memcached", {})):
            self.err(f"{root}:{path}", message)
        # Keystone on the controllers (docs/keystone.md): its secrets.
        for path, message in keystone.check(self.inv):
            self.err(f"{root}:{path}", message)
        # The external endpoint's ACME certificate (docs/acme.md).
        for path, message in acme.check(self.inv):
            self.err(f"{root}:{path}", message)
        self.check_load_balancer(root)
        return self.errors

    # ---- networks

    def check_networks(self, networks, path):
        if networks is None:
            self.err(path, "missing: the inventory needs at least one network")
            return
        if not self.is_mapping(networks, path) or not networks:
            if isinstance(networks, dict):
                self.err(path, "must define at least one network")
            return
        for name, net in networks.items():
            npath = f"{path}:{name}"
            if not self.is_mapping(net, npath):
                continue
            allowed = ("cidr", "vlan", "mtu", "gateway", "dhcp_range", "domain", "dns")
            for key in net:
                if key not in allowed:
                    self.err(f"{npath}:{key}", f"unknown key; expected one of {', '.join(allowed)}")
            try:
                cidr = _net(net.get("cidr"))
            except ValueError as exc:
                self.err(f"{npath}:cidr", f"{net.get('cidr')!r} is not a network in CIDR form ({exc})")
                continue
            self.networks[name] = cidr
            vlan = net.get("vlan")
            if vlan is not None and (
                isinstance(vlan, bool) or not isinstance(vlan, int) or not 1 <= vlan <= 4094
            ):
                self.err(f"{npath}:vlan", f"VLAN id {vlan!r} is out of range 1-4094")
            mtu = net.get("mtu", 1500)
            if isinstance(mtu, bool) or not isinstance(mtu, int) or not 68 <= mtu <= 9216:
                self.err(f"{npath}:mtu", f"MTU {mtu!r} is out of range 68-9216")
            if "gateway" in net:
                self.check_address_in(net["gateway"], cidr, f"{npath}:gateway", register=True)
            if "dhcp_range" in net:
                self.check_dhcp_range(name, net["dhcp_range"], cidr, f"{npath}:dhcp_range")
        vlans = {}
        for name, net in networks.items():
            if isinstance(net, dict) and isinstance(net.get("vlan"), int):
                if net["vlan"] in vlans:
                    self.err(
                        f"{path}:{name}:vlan",
                        f"VLAN id {net['vlan']} is already used by network {vlans[net['vlan']]!r}",
                    )
                else:
                    vlans[net["vlan"]] = name
        names = list(self.networks.items())
        for i, (name_a, net_a) in enumerate(names):
            for name_b, net_b in names[i + 1 :]:
                if net_a.overlaps(net_b):
                    self.err(f"{path}:{name_b}:cidr", f"{net_b} overlaps network {name_a!r} ({net_a})")

    def check_dhcp_range(self, name, value, cidr, path):
        if not isinstance(value, (list, tuple)) or len(value) != 2:
            self.err(path, "must be a list of two addresses [first, last]")
            return
        ends = []
        for idx, item in enumerate(value):
            addr = self.check_address_in(item, cidr, f"{path}:{idx}")
            if addr is None:
                return
            ends.append(addr)
        if ends[0] > ends[1]:
            self.err(path, f"first address {ends[0]} is after last address {ends[1]}")
            return
        self.ranges[name] = tuple(ends)

    def check_address_in(self, value, cidr, path, register=False):
        try:
            addr = _ip(value)
        except ValueError:
            self.err(path, f"{value!r} is not an IP address")
            return None
        if not _in_net(addr, cidr):
            self.err(path, f"{addr} is outside its network {cidr}")
            return None
        if cidr.num_addresses > 2 and addr in (cidr.network_address, cidr.broadcast_address):
            self.err(path, f"{addr} is the network or broadcast address of {cidr}")
            return None
        if register:
            self.claim_ip(addr, path)
        return addr

    def claim_ip(self, addr, path):
        if addr in self.used_ips:
            self.err(path, f"duplicate IP address {addr}, already used at {self.used_ips[addr]}")
        else:
            self.used_ips[addr] = path

    # ---- hosts

    def check_hosts(self, hosts, path):
        if hosts is None:
            self.err(path, "missing: the inventory needs at least one host")
            return
        if not self.is_mapping(hosts, path) or not hosts:
            if isinstance(hosts, dict):
                self.err(path, "must define at least one host")
            return
        for minion_id, host in hosts.items():
            self.check_host(str(minion_id), host, f"{path}:{minion_id}")

    def check_host(self, minion_id, host, path):
        if not self.is_mapping(host, path):
            return
        allowed = ("hostname", "roles", "nics", "dualbond", "networks", "disks", "network_config", "lab")
        for key in host:
            if key not in allowed:
                self.err(f"{path}:{key}", f"unknown key; expected one of {', '.join(allowed)}")
        hostname = host.get("hostname", minion_id.split(".")[0])
        problem = hostname_problem(hostname)
        hpath = f"{path}:hostname" if "hostname" in host else path
        if problem:
            self.err(hpath, problem)
        else:
            key = hostname.lower()
            if key in self.used_hostnames:
                self.err(hpath, f"duplicate host name {hostname!r}, already used at {self.used_hostnames[key]}")
            else:
                self.used_hostnames[key] = hpath

        roles = host.get("roles", [])
        if not isinstance(roles, list):
            self.err(f"{path}:roles", "must be a list of roles")
        else:
            for idx, role in enumerate(roles):
                if role not in names.KNOWN_ROLES:
                    self.err(
                        f"{path}:roles:{idx}",
                        f"unknown role {role!r}; known roles: {', '.join(names.KNOWN_ROLES)}",
                    )
            dupes = sorted({r for r in roles if isinstance(r, str) and roles.count(r) > 1})
            if dupes:
                self.err(f"{path}:roles", f"role(s) listed twice: {', '.join(dupes)}")

        nics = host.get("nics", {})
        nic_names = set()
        if self.is_mapping(nics, f"{path}:nics"):
            for nic, spec in nics.items():
                npath = f"{path}:nics:{nic}"
                problem = interface_name_problem(nic)
                if problem:
                    self.err(npath, problem)
                nic_names.add(nic)
                if not self.is_mapping(spec, npath):
                    continue
                for key in spec:
                    if key not in ("mac", "speed", "lab"):
                        self.err(f"{npath}:{key}", "unknown key; expected mac, speed or lab")
                if "mac" not in spec:
                    self.err(f"{npath}:mac", "missing: every NIC is identified by its MAC")
                    continue
                try:
                    mac = canonical_mac(spec["mac"])
                except ValueError as exc:
                    self.err(f"{npath}:mac", str(exc))
                    continue
                if mac in self.used_macs:
                    self.err(f"{npath}:mac", f"duplicate MAC {mac}, already used at {self.used_macs[mac]}")
                else:
                    self.used_macs[mac] = f"{npath}:mac"
                speed = spec.get("speed")
                if speed is not None and (isinstance(speed, bool) or not isinstance(speed, int) or speed <= 0):
                    self.err(f"{npath}:speed", f"speed {speed!r} must be a positive number of Mbit/s")

        if "dualbond" in host:
            self.check_dualbond(host["dualbond"], nic_names, f"{path}:dualbond", host)

        style = host.get("network_config", "networkd")
        if style not in NETWORK_CONFIG_STYLES:
            self.err(
                f"{path}:network_config",
                f"unknown style {style!r}; expected one of {', '.join(NETWORK_CONFIG_STYLES)}",
            )

        self.check_host_networks(host.get("networks", {}), nic_names, f"{path}:networks")
        self.check_disks(host.get("disks", {}), f"{path}:disks")

    def check_dualbond(self, spec, nic_names, path, host):
        if not self.is_mapping(spec, path):
            return
        for key in spec:
            if key not in DUALBOND_KEYS:
                self.err(f"{path}:{key}", f"unknown key; expected one of {', '.join(DUALBOND_KEYS)}")
        members = spec.get("nics")
        if not isinstance(members, list) or len(members) != 2:
            self.err(f"{path}:nics", "must list exactly two NICs (each the primary of one bond)")
        else:
            for idx, nic in enumerate(members):
                if nic not in nic_names:
                    self.err(
                        f"{path}:nics:{idx}",
                        f"bond member {nic!r} is not one of this host's NICs ({', '.join(sorted(nic_names)) or 'none'})",
                    )
            if members[0] == members[1]:
                self.err(f"{path}:nics", f"both bond members are {members[0]!r}")
        backend = spec.get("backend", "linux")
        if backend not in names.DUALBOND_BACKENDS:
            self.err(f"{path}:backend", f"unknown backend {backend!r}; expected linux or ovs")
        miimon = spec.get("miimon", 100)
        if isinstance(miimon, bool) or not isinstance(miimon, int) or not 10 <= miimon <= 10000:
            self.err(f"{path}:miimon", f"miimon {miimon!r} must be 10-10000 ms")
        link_detect = spec.get("link_detect")
        if link_detect is not None and link_detect not in names.LINK_DETECT_MODES:
            self.err(f"{path}:link_detect", f"unknown link detection {link_detect!r}; expected carrier or miimon")
        elif link_detect == "carrier" and backend != "ovs":
            self.err(f"{path}:link_detect", "Linux bonds detect links by miimon only; carrier is for the ovs backend")
        bridges = spec.get("bridges")
        if bridges is not None:
            if not isinstance(bridges, list) or len(bridges) != 2:
                self.err(f"{path}:bridges", "must list exactly two bridge names")
            else:
                for idx, name in enumerate(bridges):
                    problem = interface_name_problem(name)
                    if problem:
                        self.err(f"{path}:bridges:{idx}", problem)
        self.check_dualbond_names(spec, nic_names, path, host)

    def check_dualbond_names(self, spec, nic_names, path, host):
        """The names dualbond.build_plan derives must be the host's alone: two things, one name
        would merge into one device."""
        members, bridges = spec.get("nics"), spec.get("bridges")
        if not isinstance(members, list) or len(members) != 2 or members[0] == members[1]:
            return
        if not all(isinstance(n, str) and not interface_name_problem(n) for n in members):
            return
        if bridges is not None and (
            not isinstance(bridges, list) or len(bridges) != 2 or any(interface_name_problem(b) for b in bridges)
        ):
            return
        try:
            legs = dualbond_names.device_names(members, bridges)
        except ValueError as exc:
            self.err(f"{path}:nics", str(exc))
            return
        bridge_of = {leg["nic"]: leg["bridge"] for leg in legs}
        networks = self.inv.get("networks") if isinstance(self.inv.get("networks"), dict) else {}
        vlans = []
        attachments = host.get("networks") if isinstance(host.get("networks"), dict) else {}
        for net_name, att in attachments.items():
            net = networks.get(net_name)
            if not isinstance(att, dict) or att.get("nic") not in bridge_of or not isinstance(net, dict):
                continue
            vid = net.get("vlan")
            if isinstance(vid, int) and not isinstance(vid, bool) and 1 <= vid <= 4094:
                try:
                    name = dualbond_names.vlan_name(bridge_of[att["nic"]], vid)
                except ValueError as exc:
                    self.err(f"{path}:bridges", str(exc))
                    continue
                vlans.append({"name": name, "vlan": vid, "network": net_name})
        for clash in dualbond_names.name_clashes(legs, vlans, [n for n in nic_names if isinstance(n, str)]):
            self.err(path, clash)

    def check_host_networks(self, attachments, nic_names, path):
        if not self.is_mapping(attachments, path):
            return
        for net_name, att in attachments.items():
            apath = f"{path}:{net_name}"
            if net_name not in (self.inv.get("networks") or {}):
                self.err(apath, f"unknown network {net_name!r}")
                continue
            if not self.is_mapping(att, apath):
                continue
            for key in att:
                if key not in ("address", "nic"):
                    self.err(f"{apath}:{key}", "unknown key; expected address or nic")
            nic = att.get("nic")
            if nic is None:
                self.err(f"{apath}:nic", "missing: which NIC (or dual-bond NIC) carries this network")
            elif nic not in nic_names:
                self.err(
                    f"{apath}:nic",
                    f"{nic!r} is not one of this host's NICs ({', '.join(sorted(nic_names)) or 'none'})",
                )
            cidr = self.networks.get(net_name)
            if cidr is None or "address" not in att:
                continue
            addr = self.check_address_in(att["address"], cidr, f"{apath}:address", register=True)
            dyn = self.ranges.get(net_name)
            if addr is not None and dyn and dyn[0] <= addr <= dyn[1]:
                self.err(
                    f"{apath}:address",
                    f"{addr} is inside the DHCP dynamic range {dyn[0]}-{dyn[1]} of network {net_name!r}",
                )

    def check_disks(self, disks, path):
        if not self.is_mapping(disks, path):
            return
        for name, disk in disks.items():
            dpath = f"{path}:{name}"
            if not self.is_mapping(disk, dpath):
                continue
            ids = [key for key in DISK_ID_KEYS if key in disk]
            if not ids:
                self.err(dpath, "disk must be identified by one of by_id, serial or wwn (never by sdX)")
            elif len(ids) > 1:
                self.err(dpath, f"disk is identified twice ({', '.join(ids)}); give exactly one")
            if "by_id" in disk:
                value = str(disk["by_id"])
                if not value.startswith("/dev/disk/by-id/") or len(value) <= len("/dev/disk/by-id/") or "/" in value[16:]:
                    self.err(f"{dpath}:by_id", f"{value!r} is not a /dev/disk/by-id/ path")
            if "serial" in disk and not _SERIAL.match(str(disk["serial"])):
                self.err(f"{dpath}:serial", f"{disk['serial']!r} is not a disk serial number")
            if "wwn" in disk and not _WWN.match(str(disk["wwn"])):
                self.err(f"{dpath}:wwn", f"{disk['wwn']!r} is not a WWN (16 or 32 hex digits)")
            if "journal" in disk and disk["journal"] not in disks:
                self.err(f"{dpath}:journal", f"{disk['journal']!r} is not one of this host's disks")

    # ---- VIPs, secrets, openstack

    def check_vips(self, vips, path):
        if not self.is_mapping(vips, path):
            return
        for name, vip in vips.items():
            vpath = f"{path}:{name}"
            if name not in ("internal", "external"):
                self.err(vpath, "unknown VIP; expected internal or external")
            if not self.is_mapping(vip, vpath):
                continue
            net_name = vip.get("network")
            cidr = self.networks.get(net_name)
            if net_name not in (self.inv.get("networks") or {}):
                self.err(f"{vpath}:network", f"unknown network {net_name!r}")
            elif cidr is not None:
                addr = self.check_address_in(vip.get("address"), cidr, f"{vpath}:address", register=True)
                dyn = self.ranges.get(net_name)
                if addr is not None and dyn and dyn[0] <= addr <= dyn[1]:
                    self.err(f"{vpath}:address", f"{addr} is inside the DHCP dynamic range of {net_name!r}")
            fqdn = vip.get("fqdn")
            if fqdn is not None and not all(names.HOST_LABEL.match(p) for p in str(fqdn).split(".")):
                self.err(f"{vpath}:fqdn", f"{fqdn!r} is not a valid DNS name")
            for key in vip:
                if key not in VIP_KEYS:
                    self.err(f"{vpath}:{key}", f"unknown key; expected one of {', '.join(VIP_KEYS)}")

    # ---- the controllers' VIPs (keepalived) and load balancer (HAProxy)

    def check_load_balancer(self, root):
        """
        What keepalived and HAProxy on the controllers need (docs/loadbalancer.md): an internal
        VIP; per VIP a VRRP id (1-255, unique), optional priorities of controllers (1-254), and
        an address of every controller on the VIP's network (its unicast source); the two
        secrets. One controller is allowed: it holds the VIPs alone, without failover.
        """
        hosts = self.inv.get("hosts") if isinstance(self.inv.get("hosts"), dict) else {}
        controllers = names.controllers(self.inv)
        if not controllers:
            return
        vips = self.inv.get("vips")
        vips = vips if isinstance(vips, dict) else {}
        if "internal" not in vips:
            self.err(f"{root}:vips:internal", "missing: the controllers' VIPs and HAProxy need an internal VIP")
        vrids = {}
        # By name: the VIP reported for a shared id does not depend on the pillar's key order.
        for name, vip in sorted(vips.items(), key=lambda item: str(item[0])):
            vpath = f"{root}:vips:{name}"
            if not isinstance(vip, dict):
                continue
            vrid = vip.get("vrid")
            if vrid is None:
                self.err(f"{vpath}:vrid", "missing: each VIP needs its own VRRP virtual router id (1-255)")
            elif isinstance(vrid, bool) or not isinstance(vrid, int) or not 1 <= vrid <= 255:
                self.err(f"{vpath}:vrid", f"VRRP virtual router id {vrid!r} is out of range 1-255")
            elif vrid in vrids:
                self.err(f"{vpath}:vrid", f"VRRP virtual router id {vrid} is already used by VIP {vrids[vrid]!r}")
            else:
                vrids[vrid] = name
            priorities = vip.get("priorities")
            if priorities is not None and self.is_mapping(priorities, f"{vpath}:priorities"):
                for mid, prio in priorities.items():
                    ppath = f"{vpath}:priorities:{mid}"
                    if str(mid) not in controllers:
                        self.err(ppath, f"{mid!r} is not a controller ({', '.join(controllers)})")
                    elif isinstance(prio, bool) or not isinstance(prio, int) or not 1 <= prio <= 254:
                        self.err(ppath, f"VRRP priority {prio!r} is out of range 1-254")
            net_name = vip.get("network")
            if net_name not in self.networks:
                continue  # check_vips named it
            for mid in controllers:
                att = (hosts[mid].get("networks") or {}) if isinstance(hosts[mid].get("networks"), dict) else {}
                att = att.get(net_name)
                apath = f"{root}:hosts:{mid}:networks:{net_name}"
                if any(e.path == apath or e.path.startswith(apath + ":") for e in self.errors):
                    continue  # one error per problem: another check named this attachment already
                if not isinstance(att, dict) or "address" not in att:
                    self.err(
                        f"{root}:hosts:{mid}:networks:{net_name}:address",
                        f"missing: controller {mid} needs an address on network {net_name!r}, "
                        f"the network of VIP {name!r} (keepalived's unicast source)",
                    )
        secrets = self.inv.get("secrets")
        secrets = secrets if isinstance(secrets, dict) else {}
        for secret in LB_SECRETS:
            if secret not in secrets:
                self.err(
                    f"{root}:secrets:{secret}",
                    f"missing: the controllers' load balancer needs it (e.g. sdb://brine_secrets/{secret})",
                )

    def check_secrets(self, secrets, path):
        if not self.is_mapping(secrets, path):
            return
        for name, ref in secrets.items():
            if not isinstance(ref, str) or not _SECRET_REF.match(ref):
                self.err(
                    f"{path}:{name}",
                    "must be a reference to a secret (sdb://PROFILE/KEY), never the secret itself",
                )

    def check_openstack(self, spec, path):
        if not self.is_mapping(spec, path):
            return
        mtu = spec.get("instance_mtu", 1500)
        if isinstance(mtu, bool) or not isinstance(mtu, int) or not 576 <= mtu <= 9000:
            self.err(f"{path}:instance_mtu", f"MTU {mtu!r} is out of range 576-9000")
        # The release (kolla-ansible's pin) and openstack:kolla (docs/kolla.md): brinelib.kolla's rules.
        for key, message in kolla.check(self.inv):
            self.err(f"{PILLAR_KEY}:{key}", message)

    # ---- host baseline (docs/baseline.md)

    def check_baseline(self, spec, path):
        if self.is_mapping(spec, path):
            for key in spec:
                if key not in baseline.BASELINE_KEYS:
                    self.err(f"{path}:{key}", f"unknown key; expected one of {', '.join(baseline.BASELINE_KEYS)}")
            if "timezone" in spec:
                problem = timezone_problem(spec["timezone"])
                if problem:
                    self.err(f"{path}:timezone", problem)
            if "hosts_network" in spec and spec["hosts_network"] not in (self.inv.get("networks") or {}):
                self.err(f"{path}:hosts_network", f"unknown network {spec['hosts_network']!r}")
        for ppath, message in deploy_problems(self.inv):
            self.err(ppath, message)
        # /etc/hosts would give one name two addresses: a VIP named like a host.
        domain = baseline.hosts_domain(self.inv)
        hosts = self.inv.get("hosts") if isinstance(self.inv.get("hosts"), dict) else {}
        fqdns = {}
        for minion_id, host in hosts.items():
            if isinstance(host, dict) and isinstance(host.get("hostname", str(minion_id)), str):
                fqdns[f"{host.get('hostname', str(minion_id).split('.')[0])}.{domain}".lower()] = minion_id
        vips = self.inv.get("vips") if isinstance(self.inv.get("vips"), dict) else {}
        for name, vip in vips.items():
            fqdn = vip.get("fqdn") if isinstance(vip, dict) else None
            if isinstance(fqdn, str) and fqdn.lower() in fqdns:
                self.err(f"{PILLAR_KEY}:vips:{name}:fqdn", f"{fqdn!r} is the FQDN of host {fqdns[fqdn.lower()]!r}: /etc/hosts would give it two addresses")

    # ---- MariaDB Galera on the controllers (salt/galera, docs/galera.md)

    def check_galera(self, spec, path):
        if not self.is_mapping(spec, path):
            return
        for key in spec:
            if key not in GALERA_KEYS:
                self.err(f"{path}:{key}", f"unknown key; expected one of {', '.join(GALERA_KEYS)}")
        name = spec.get("cluster_name", GALERA_DEFAULTS["cluster_name"])
        if not isinstance(name, str) or not _GALERA_CLUSTER_NAME.match(name):
            self.err(f"{path}:cluster_name", f"{name!r} must be 1-32 letters, digits, '_' or '-'")
        sst = spec.get("sst_method", GALERA_DEFAULTS["sst_method"])
        if sst not in GALERA_SST_METHODS:
            self.err(f"{path}:sst_method", f"unknown SST method {sst!r}; expected one of {', '.join(GALERA_SST_METHODS)}")
        hosts = self.inv.get("hosts")
        if not isinstance(hosts, dict):
            return
        controllers = names.controllers(self.inv)
        if not controllers:
            return
        if len(controllers) == 2:
            self.err(f"{PILLAR_KEY}:hosts:{controllers[1]}:roles",
                     f"two controllers ({', '.join(controllers)}): Galera keeps quorum only with 3 or more "
                     "(or runs alone on 1); add a third controller or remove one")
        for minion_id in controllers:
            networks = hosts[minion_id].get("networks")
            if not isinstance(networks, dict) or "management" not in networks:
                self.err(f"{PILLAR_KEY}:hosts:{minion_id}:networks:management",
                         "missing: a controller needs a management address (MariaDB Galera binds to it)")
        secrets = self.inv.get("secrets")
        secrets = secrets if isinstance(secrets, dict) else {}
        for name in GALERA_SECRETS:
            if name not in secrets:
                self.err(f"{PILLAR_KEY}:secrets:{name}",
                         f"missing: the controller role's MariaDB Galera needs it (e.g. sdb://brine_secrets/{name})")


# --------------------------------------------------------------------------- host baseline
# The rules live in brinelib.baseline (docs/baseline.md); these are their Salt functions.


def timezone_problem(name, zones=None):
    """
    Why ``name`` cannot be the hosts' time zone, or None when it can: an Olson name
    (``Europe/Berlin``, ``Etc/UTC``) that this machine's zoneinfo database has (``zones``: the
    names to check against; default the database's, the pattern alone when there is none).

    CLI Example:

    .. code-block:: bash

        salt-call brine_inventory.timezone_problem Europe/Berlim
    """
    return baseline.timezone_problem(name, zones=zones)


def deploy_user_problem(name):
    """
    Why ``name`` cannot be the deployment user, or None when it can: a POSIX user name, never
    root or a system account (``brinelib.baseline.SYSTEM_ACCOUNTS``).

    CLI Example:

    .. code-block:: bash

        salt-call brine_inventory.deploy_user_problem daemon
    """
    return baseline.deploy_user_problem(name)


def ssh_key_problem(line):
    """
    Why ``line`` is not one OpenSSH public key line, or None when it is (``TYPE BASE64
    [comment]``, no options, the blob a key of the type the line names; no DSA, RSA >= 2048 bits).

    CLI Example:

    .. code-block:: bash

        salt-call brine_inventory.ssh_key_problem 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI... me@laptop'
    """
    return baseline.ssh_key_problem(line)


def deploy_problems(inventory=None):
    """
    ``[(pillar path, message)]`` for the deployment user (``brine:baseline:deploy``) of
    ``inventory`` (default: pillar's).

    CLI Example:

    .. code-block:: bash

        salt-call brine_inventory.deploy_problems
    """
    return baseline.deploy_problems(_from_pillar(None) if inventory is None else inventory)


def baseline_settings(inventory=None):
    """
    The host baseline's settings of a *valid* inventory (default: pillar's), defaults filled in:
    ``{"timezone", "hosts_network", "domain", "deploy": {"user", "ssh_keys", "sudo"} or None}``.

    CLI Example:

    .. code-block:: bash

        salt-call brine_inventory.baseline_settings
    """
    return baseline.baseline_settings(get() if inventory is None else inventory)



def check(inventory):
    """
    Return the list of :class:`InventoryError` in ``inventory`` (empty when valid).

    Pure: no Salt, no system access.
    """
    return _Checker(inventory).run()


def normalise(inventory):
    """
    Return a normalised deep copy of a *valid* inventory: canonical MACs, implicit roles and
    defaults filled in. Raises ValueError listing every problem when it is not valid.
    """
    errors = check(inventory)
    if errors:
        raise ValueError(format_errors(errors))
    return _normalise_checked(inventory)


def _normalise_checked(inventory):
    """:func:`normalise` of an inventory already checked valid."""
    out = {
        "domain": inventory.get("domain", "lab.home.arpa"),
        "networks": {},
        "vips": dict(inventory.get("vips", {})),
        "hosts": {},
        "secrets": dict(inventory.get("secrets", {})),
        "openstack": {"release": kolla.DEFAULT_RELEASE, "instance_mtu": 1500, **inventory.get("openstack", {})},
        "lab": dict(inventory.get("lab", {})),
        # Settings of the bootstrap services (DHCP, PXE, NTP, DNS, proxy); brinelib.dhcp and .bootstrap check them.
        "services": dict(inventory.get("services", {})),
        # The host baseline (docs/baseline.md): time zone, /etc/hosts network, deployment user.
        "baseline": baseline_settings(inventory),
        # MariaDB Galera on the controllers (docs/galera.md).
        "galera": {**GALERA_DEFAULTS, **(inventory.get("galera") or {})},
        "rabbitmq": rabbitmq.settings(inventory),
        "memcached": memcached.settings(inventory),
        "acme": acme.settings(inventory),
    }
    for name, net in inventory["networks"].items():
        out["networks"][name] = {"mtu": 1500, "vlan": None, **net, "cidr": str(_net(net["cidr"]))}
    for minion_id, host in inventory["hosts"].items():
        roles = list(host.get("roles", []))
        for role in names.IMPLICIT_ROLES:
            if role not in roles:
                roles.append(role)
        nics = {
            name: {**spec, "mac": canonical_mac(spec["mac"])} for name, spec in host.get("nics", {}).items()
        }
        entry = {
            **host,
            "hostname": host.get("hostname", str(minion_id).split(".")[0]),
            "roles": roles,
            "nics": nics,
            "networks": {k: dict(v) for k, v in host.get("networks", {}).items()},
            "disks": {k: dict(v) for k, v in host.get("disks", {}).items()},
            "network_config": host.get("network_config", "networkd"),
        }
        if "dualbond" in host:
            entry["dualbond"] = {"backend": "linux", "miimon": 100, **host["dualbond"]}
        out["hosts"][str(minion_id)] = entry
    return out


def load_file(path):
    """
    Read an inventory YAML file. A file that is not valid YAML raises one line: the file, line
    and column, and what YAML found wrong (pillar/brine/init.sls words it the same way).

    CLI Example:

    .. code-block:: bash

        salt-call brine_inventory.load_file /srv/brine/pillar/brine/example-lab.yaml
    """
    try:
        with open(path, encoding="utf-8") as fh:
            return yaml.safe_load(fh)
    except yaml.YAMLError as exc:
        raise CommandExecutionError(_yaml_problem(path, exc)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CommandExecutionError(f"inventory file {path}: cannot be read ({exc})") from None


def _yaml_problem(path, exc):
    """One line for a YAML error in inventory file ``path`` (see load_file)."""
    def where(mark):
        return f"line {mark.line + 1}, column {mark.column + 1}"

    mark = getattr(exc, "problem_mark", None)
    if mark is None:
        return f"inventory file {path}: not valid YAML: {' '.join(str(exc).split())}"
    problem = " ".join(str(exc.problem or "syntax error").split())
    context = getattr(exc, "context", None)
    if context and getattr(exc, "context_mark", None) is not None and exc.context_mark.line != mark.line:
        problem += f" ({' '.join(context.split())} at {where(exc.context_mark)})"
    elif context:
        problem += f" ({' '.join(context.split())})"
    return f"inventory file {path}, {where(mark)}: YAML syntax error: {problem}"


def format_errors(errors):
    count = len(errors)
    head = f"The Brine inventory has {count} problem{'s' if count != 1 else ''}:"
    return "\n".join([head] + [f"  - {e}" for e in errors])


# --------------------------------------------------------------------------- Salt functions


def _plain(value):
    """
    A plain copy of pillar data. Salt 3008 wraps pillar in masking containers whose repr hides
    every value, and its pillar.get returns masked strings outside templates: error messages
    must show the operator's actual values.
    """
    if isinstance(value, dict):
        return {_plain(k): _plain(v) for k, v in dict.items(value)}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in list.__iter__(value)] if isinstance(value, list) else [_plain(v) for v in value]
    return value


def _from_pillar(inventory):
    if inventory is not None:
        return _plain(inventory)
    value = _plain(__pillar__.get(PILLAR_KEY))
    if value is None and __pillar__.get("_errors"):
        # The pillar did not render (pillar/brine/init.sls: a missing file or a YAML error, one
        # line each): say that, not that the key is empty.
        raise CommandExecutionError("; ".join(str(e) for e in _plain(__pillar__["_errors"])))
    if value is None:
        raise CommandExecutionError(
            f"No inventory: pillar key {PILLAR_KEY!r} is empty (is pillar/brine/ in your pillar roots?)"
        )
    return value


def _run_cache():
    """The loader's per-run dict (``__context__``); a fresh one when imported as a plain module."""
    try:
        return __context__.setdefault("brine_inventory.checked", {})
    except NameError:  # imported as a plain module (tests): no loader context
        return {}


def _checked(inventory=None):
    """
    ``(errors, model)`` of ``inventory`` (pillar ``brine`` when None), computed once per Salt
    run: every state render imports brine/map.jinja, and every planner asks for the model, so
    without this one highstate checked the same inventory dozens of times. Kept in
    ``__context__`` (the loader's per-run dict). The pillar's own object is remembered, so asking
    again for the same pillar costs nothing; any other inventory is keyed by its digest, and a
    changed one is checked again. ``model`` is a function that returns a fresh copy of the
    normalised inventory (None when invalid): callers may change what they get, and the
    copies come from a pickle, several times cheaper than a deep copy of a 64-host model.
    """
    cache = _run_cache()
    raw = __pillar__.get(PILLAR_KEY) if inventory is None else None
    if raw is None or cache.get("pillar") is not raw:
        plain = _from_pillar(inventory)
        digest = hashlib.sha256(json.dumps(plain, sort_keys=True, default=repr).encode("utf-8")).hexdigest()
        if cache.get("digest") != digest:
            errors = check(plain)
            log.debug("brine_inventory: checked the inventory (%d hosts): %d problems",
                      len(plain.get("hosts") or {}) if isinstance(plain, dict) else 0, len(errors))
            model = None if errors else _normalise_checked(plain)
            cache.clear()
            cache.update(digest=digest, errors=tuple(errors),
                         blob=None if model is None else pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL))
        # Only the pillar's object may be remembered: it lives as long as this run's pillar.
        cache["pillar"] = raw
    blob = cache["blob"]
    return list(cache["errors"]), (lambda: None if blob is None else pickle.loads(blob))


def validate(inventory=None):
    """
    Check the lab inventory and list every problem, each with its pillar path.

    inventory
        An inventory dict to check instead of pillar ``brine``.

    Returns ``{"valid": bool, "errors": ["brine:hosts:x:nics:eth2:mac: ...", ...]}``; salt-call
    exits 1 when the inventory is invalid.

    CLI Example:

    .. code-block:: bash

        salt-call brine_inventory.validate
    """
    errors, _ = _checked(inventory)
    if errors:
        _set_retcode(1)
    return {"valid": not errors, "errors": [str(e) for e in errors]}


def _set_retcode(code):
    """Salt's way for an execution module to make salt-call exit non-zero (``__context__``)."""
    try:
        __context__["retcode"] = code
    except NameError:  # imported as a plain module (tests): no loader context
        pass


def get(inventory=None):
    """
    Return the whole normalised inventory; raise an error listing every problem when invalid.

    CLI Example:

    .. code-block:: bash

        salt-call brine_inventory.get
    """
    errors, model = _checked(inventory)
    if errors:
        raise CommandExecutionError(format_errors(errors))
    return model()


def host(minion_id=None, inventory=None):
    """
    Return this minion's (or ``minion_id``'s) normalised inventory entry.

    CLI Example:

    .. code-block:: bash

        salt-call brine_inventory.host
        salt-call brine_inventory.host ubuntu2
    """
    minion_id = minion_id or __grains__["id"]
    hosts = get(inventory)["hosts"]
    if minion_id not in hosts:
        raise CommandExecutionError(
            f"Minion {minion_id!r} is not in the inventory (brine:hosts has {', '.join(sorted(hosts))})"
        )
    return hosts[minion_id]


def roles(minion_id=None, inventory=None):
    """
    Return the roles of this minion (or ``minion_id``), the implicit ``network`` role included.
    A minion that is not in the inventory has no roles.

    CLI Example:

    .. code-block:: bash

        salt-call brine_inventory.roles
    """
    minion_id = minion_id or __grains__["id"]
    hosts = get(inventory)["hosts"]
    return list(hosts.get(minion_id, {}).get("roles", []))


def controllers(inventory=None):
    """
    Return the minion ids of the inventory's controllers in inventory order (the first is
    HAProxy's active writer, Galera's bootstrap node, RabbitMQ's seed, Keystone's db_sync node);
    raise an error listing every problem when the inventory is invalid.

    inventory
        An inventory dict to use instead of pillar ``brine``.

    CLI Example:

    .. code-block:: bash

        salt-call brine_inventory.controllers
    """
    return names.controllers(get(inventory))


def features(roles=None):
    """
    The feature state directories a host with ``roles`` runs, each once: the common ones, then
    its roles' (``brinelib.names.ROLE_FEATURES``). salt/top.sls applies them; unknown roles add
    nothing (``validate`` reports them).

    CLI Example:

    .. code-block:: bash

        salt-call brine_inventory.features '[controller, storage]'
    """
    return names.features(roles)


def _macs_here():
    """Every MAC this machine's links have now or had from the factory (``permaddr``)."""
    proc = subprocess.run(["ip", "-j", "link", "show"], capture_output=True, text=True, check=False)
    if proc.returncode:
        raise CommandExecutionError(f"ip -j link show failed: {proc.stderr.strip()}")
    macs = set()
    for link in json.loads(proc.stdout or "[]"):
        for key in ("address", "permaddr"):
            try:
                macs.add(canonical_mac(link.get(key) or ""))
            except ValueError:  # loopback's all-zero MAC, tunnels without one
                pass
    return macs


def this_machine(minion_id=None, inventory=None):
    """
    True when this machine is the inventory's host ``minion_id``: one of the host's inventory
    NICs (by MAC, the factory MAC included) is here. Roles that change the host itself (its
    name, users, daemons) act only then, so a checkout applied on a workstation or a CI runner
    renders and checks everything and touches nothing.

    CLI Example:

    .. code-block:: bash

        salt-call brine_inventory.this_machine
    """
    entry = host(minion_id, inventory)
    wanted = {spec["mac"] for spec in entry.get("nics", {}).values()}
    return bool(wanted & _macs_here())
