"""
Dual active-backup bonds: two physical NICs, each the primary of its own active-backup bond and
the backup of the other one, through a veth pair (Linux) or a patch-port pair (Open vSwitch) that
crosses into the other NIC's bridge.

::

        br-eth2 (== eth2 for the operator)          br-eth3 (== eth3)
        |  .10 .100 VLANs, MAC of eth2               |  .200 VLAN, MAC of eth3
        +-- bond-eth2 ------------+                  +-- bond-eth3 ------------+
        |     eth2   (primary)    |                  |     eth3   (primary)    |
        |     vbk-eth2 (backup) ==|== veth ==> vx-eth2 is a port of br-eth3   |
        +-- vx-eth3 <== veth =====|==================|==== vbk-eth3 (backup)  |

The module has a **pure core** (inventory entry in -> plan: devices, names, memberships,
options, persistent file text; live snapshot in -> list of changes) that unit tests cover without
a kernel, and a thin **live layer** that reads the kernel (``ip -j``), OVS (``ovs-vsctl``) and
applies the difference with argument-list commands.

Only devices the plan names are ever touched; the physical NICs are only enslaved/released and
given their MTU.
"""

import hashlib
import ipaddress
import json
import logging
import math
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time

from brinelib import names

try:
    from salt.exceptions import CommandExecutionError
except ImportError:  # pragma: no cover - the pure core is importable without Salt
    CommandExecutionError = RuntimeError

log = logging.getLogger(__name__)

__virtualname__ = "dualbond"

IFNAME_MAX = names.IFNAME_MAX
BACKENDS = names.DUALBOND_BACKENDS
CONFIG_STYLES = ("networkd", "ifupdown")
DATAPATH_TYPES = ("system", "netdev")
LINK_DETECT_MODES = names.LINK_DETECT_MODES
DEFAULT_MIIMON = 100
DEFAULT_ROLLBACK_SECONDS = 30
SALT_MASTER_PORTS = (4506, 4505)

NETWORKD_DIR = "/etc/systemd/network"
SYSTEMD_DIR = "/etc/systemd/system"
GUARD_UNIT = "brine-dualbond-guard.service"
IFUPDOWN_DIR = "/etc/network/interfaces.d"
STATE_DIR = "/var/lib/brine/dualbond"
PENDING_FILE = "pending.json"
# The detached safety net (like `netplan try`): a systemd timer that undoes a change whose apply
# never finished, because the minion died between the change and the end of its probe.
SAFETY_UNIT = "brine-dualbond-rollback"
SAFETY_MARGIN_SECONDS = 10
# Every persistent file this module writes starts with this, so removal finds exactly its own.
FILE_PREFIX = "60-brine-dualbond"
IFUPDOWN_FILE = "brine-dualbond"

# Prefixes of the generated device names; see device_names().
PREFIX_BRIDGE = "br-"
PREFIX_BOND = "bond-"
PREFIX_BACKUP = "vbk-"  # bond member: the backup path of this NIC's bond
PREFIX_CROSSING = "vx-"  # its veth/patch peer: a port in the *other* NIC's bridge


class PlanError(ValueError):
    """The inventory entry cannot be turned into a dual-bond plan; the message says why."""


def __virtual__():
    if not shutil.which("ip"):
        return (False, "dualbond needs the ip command (iproute2)")
    return __virtualname__


# =========================================================================== pure core: names


def _short_hash(text):
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:4]


def fit_name(prefix, base, suffix=""):
    """
    ``prefix + base + suffix`` when that fits the kernel's 15 characters; otherwise ``base`` is
    cut and a 4-hex-digit hash of the whole base is appended. The hash alone can collide (two
    consecutive ``enx<MAC>`` names do): :func:`device_names` tells such a pair apart.

    CLI Example:

    .. code-block:: bash

        salt-call dualbond.fit_name bond- enp3s0f0np0
    """
    name = f"{prefix}{base}{suffix}"
    if len(name) <= IFNAME_MAX:
        return name
    room = IFNAME_MAX - len(prefix) - len(suffix) - 4
    if room < 1:
        raise PlanError(f"cannot fit {prefix!r}+{base!r}+{suffix!r} into {IFNAME_MAX} characters")
    return f"{prefix}{base[:room]}{_short_hash(base)}{suffix}"


def _fit_pair(prefix, bases):
    """
    The names ``fit_name(prefix, base)`` of two different bases, different by construction.
    When the fitted names are equal (their 4-hex-digit hashes collided and the cut bases are
    equal, or a short name equals the other's cut-and-hashed one), both names take their
    cut-and-hash form with 3 hash digits and a last character that differs: ``0`` for the base
    that sorts first, ``1`` for the other. Pairs without a collision keep their names.
    """
    names = [fit_name(prefix, base) for base in bases]
    if names[0] != names[1]:
        return names
    room = IFNAME_MAX - len(prefix) - 4
    if room < 1:
        raise PlanError(f"cannot fit {prefix!r}+{bases!r} into {IFNAME_MAX} characters")
    order = sorted(bases)
    return [f"{prefix}{base[:room]}{_short_hash(base)[:3]}{order.index(base)}" for base in bases]


def device_names(nics, bridges=None):
    """
    The names of one dual bond's devices, one "leg" per NIC, derived only from the NIC names.
    The two legs' names of each kind always differ (see ``fit_name``), even when the hashes of
    two long NIC names collide.

    nics
        The two NIC names, ``[first, second]``.
    bridges
        Optional operator-chosen bridge names (``[br0, br1]``); default ``br-<nic>``.

    Returns ``[{"nic", "bridge", "bond", "backup", "crossing"}, ...]``: ``backup`` is the bond
    member that leads to the other bridge, ``crossing`` its peer, a port of the other bridge.

    CLI Example:

    .. code-block:: bash

        salt-call dualbond.device_names '[eth2, eth3]'
    """
    if not isinstance(nics, (list, tuple)) or len(nics) != 2 or nics[0] == nics[1]:
        raise PlanError(f"a dual bond needs exactly two different NICs, got {nics!r}")
    kinds = {
        "bridge": list(bridges) if bridges else _fit_pair(PREFIX_BRIDGE, nics),
        "bond": _fit_pair(PREFIX_BOND, nics),
        "backup": _fit_pair(PREFIX_BACKUP, nics),
        "crossing": _fit_pair(PREFIX_CROSSING, nics),
    }
    return [{"nic": nic, **{kind: names[idx] for kind, names in kinds.items()}} for idx, nic in enumerate(nics)]


def name_clashes(legs, vlans=(), host_nics=()):
    """
    Every device name two things of one host would share, as messages naming both owners
    (empty when all names are distinct). Pure.

    legs
        ``device_names()`` output.
    vlans
        ``[{"name", "vlan", "network"}, ...]``: the VLAN interfaces on the bridges.
    host_nics
        Every NIC name of the host (a NIC outside the bond may not share a generated name).

    CLI Example:

    .. code-block:: bash

        salt-call dualbond.name_clashes '[{nic: eth2, bridge: eth3, bond: bond-eth2, backup: vbk-eth2, crossing: vx-eth2}]' host_nics='[eth3]'
    """
    items = [(nic, f"NIC {nic}") for nic in host_nics]
    items += [(leg["nic"], f"NIC {leg['nic']}") for leg in legs if leg["nic"] not in host_nics]
    for leg in legs:
        nic = leg["nic"]
        items += [
            (leg["bridge"], f"bridge of NIC {nic}"),
            (leg["bond"], f"bond of NIC {nic}"),
            (leg["backup"], f"bond backup of NIC {nic}"),
            (leg["crossing"], f"crossing of NIC {nic}"),
        ]
    items += [(v["name"], f"VLAN {v['vlan']} interface of network {v['network']}") for v in vlans]
    owners, clashes = {}, []
    for name, owner in items:
        if name in owners:
            clashes.append(f"device name {name!r} would be both the {owners[name]} and the {owner}")
        else:
            owners[name] = owner
    return clashes


def vlan_name(bridge, vid):
    """The VLAN sub-interface of ``bridge`` for VLAN ``vid``: ``br-eth2.10`` (fitted to 15)."""
    return fit_name("", bridge, f".{vid}")


# =========================================================================== pure core: plan


def _check_probe(probe, path):
    """Return the probe as {"host", "port"} (port None = ICMP echo) or raise PlanError."""
    if probe is None:
        return None
    if isinstance(probe, dict):
        host, port = probe.get("host"), probe.get("port")
    else:
        text = str(probe).strip()
        host, _, port = text.rpartition(":") if text.count(":") == 1 else (text, "", None)
        port = port or None
    try:
        ipaddress.ip_address(str(host))
    except ValueError:
        raise PlanError(f"{path}: probe {probe!r} must be an IP address, optionally with :port") from None
    if port is not None:
        try:
            port = int(port)
        except (TypeError, ValueError):
            raise PlanError(f"{path}: probe port {port!r} is not a number") from None
        if not 1 <= port <= 65535:
            raise PlanError(f"{path}: probe port {port} is out of range 1-65535")
    return {"host": str(host), "port": port}


def build_plan(host, networks, minion_id="host"):
    """
    Turn one normalised inventory host entry (``brine_inventory.host``) and the normalised
    networks into the complete plan of its dual bond. Pure: no system access.

    CLI: ``salt-call dualbond.plan`` is the loader-facing wrapper of this function.

    Returns a dict with ``backend``, ``legs`` (names per NIC), ``devices`` (every device the
    module manages, in creation order, with kind and options), ``vlans``, ``addresses``
    (interface -> [CIDR]), ``mtu``, ``config_style``, ``probe`` and ``rollback_seconds``.
    Raises PlanError naming what is wrong.

    CLI Example:

    .. code-block:: bash

        salt-call dualbond.plan
    """
    path = f"brine:hosts:{minion_id}:dualbond"
    spec = host.get("dualbond")
    if not isinstance(spec, dict):
        raise PlanError(f"{path}: missing; this host has no dual bond")
    nics = spec.get("nics")
    inv_nics = host.get("nics", {})
    if not isinstance(nics, list) or len(nics) != 2 or nics[0] == nics[1]:
        raise PlanError(f"{path}:nics: must list exactly two different NICs, got {nics!r}")
    for nic in nics:
        if nic not in inv_nics:
            raise PlanError(f"{path}:nics: {nic!r} is not one of this host's NICs")
        if len(nic) > IFNAME_MAX:
            raise PlanError(f"{path}:nics: {nic!r} is longer than {IFNAME_MAX} characters")
    backend = spec.get("backend", "linux")
    if backend not in BACKENDS:
        raise PlanError(f"{path}:backend: unknown backend {backend!r}; expected linux or ovs")
    miimon = spec.get("miimon", DEFAULT_MIIMON)
    if isinstance(miimon, bool) or not isinstance(miimon, int) or not 10 <= miimon <= 10000:
        raise PlanError(f"{path}:miimon: {miimon!r} must be 10-10000 ms")
    datapath = spec.get("datapath_type", "system")
    if datapath not in DATAPATH_TYPES:
        raise PlanError(f"{path}:datapath_type: {datapath!r}; expected system or netdev")
    link_detect = spec.get("link_detect", "carrier" if backend == "ovs" else "miimon")
    if link_detect not in LINK_DETECT_MODES:
        raise PlanError(f"{path}:link_detect: {link_detect!r}; expected carrier or miimon")
    if backend == "linux" and link_detect != "miimon":
        raise PlanError(f"{path}:link_detect: Linux bonds detect links by miimon only; carrier is for the ovs backend")
    rollback = spec.get("rollback_seconds", DEFAULT_ROLLBACK_SECONDS)
    if isinstance(rollback, bool) or not isinstance(rollback, (int, float)) or not 1 <= rollback <= 600:
        raise PlanError(f"{path}:rollback_seconds: {rollback!r} must be 1-600 seconds")
    style = host.get("network_config", "networkd")
    if style not in CONFIG_STYLES:
        raise PlanError(f"brine:hosts:{minion_id}:network_config: unknown style {style!r}")
    bridges = spec.get("bridges")
    if bridges is not None and (not isinstance(bridges, list) or len(bridges) != 2 or bridges[0] == bridges[1]):
        raise PlanError(f"{path}:bridges: must list two different bridge names, got {bridges!r}")

    legs = device_names(nics, bridges)
    for idx, leg in enumerate(legs):
        other = legs[1 - idx]
        leg["peer_nic"] = other["nic"]
        leg["crossing_bridge"] = other["bridge"]
        leg["mac"] = inv_nics[leg["nic"]]["mac"].lower()

    # Networks ride on the bridge of the NIC the inventory names; everything in the topology
    # gets the largest MTU, because after a failover one port carries both bridges' traffic.
    vlans, addresses = [], {}
    mtu = 1500
    by_nic = {leg["nic"]: leg for leg in legs}
    for net_name, att in host.get("networks", {}).items():
        nic = att.get("nic")
        if nic not in by_nic:
            continue  # not on the dual bond: another module's business
        net = networks.get(net_name)
        if net is None:
            raise PlanError(f"brine:hosts:{minion_id}:networks:{net_name}: unknown network")
        leg = by_nic[nic]
        net_mtu = int(net.get("mtu") or 1500)
        mtu = max(mtu, net_mtu)
        cidr = ipaddress.ip_network(net["cidr"])
        address = f"{att['address']}/{cidr.prefixlen}" if att.get("address") else None
        if net.get("vlan"):
            name = vlan_name(leg["bridge"], net["vlan"])
            vlans.append(
                {"name": name, "bridge": leg["bridge"], "vlan": int(net["vlan"]), "mtu": net_mtu, "network": net_name}
            )
            iface = name
        else:
            iface = leg["bridge"]
        if address:
            addresses.setdefault(iface, []).append(address)
        else:
            addresses.setdefault(iface, [])

    # Checked before the devices are keyed by name: two things with one name would merge into one.
    clashes = name_clashes(legs, vlans, list(inv_nics))
    if clashes:
        raise PlanError(f"{path}: {clashes[0]}")

    devices = {}
    for leg in legs:
        devices[leg["bridge"]] = {"kind": "bridge", "mac": leg["mac"], "mtu": mtu, "stp": False}
    for leg in legs:
        devices[leg["bond"]] = {
            "kind": "bond",
            "mode": "active-backup",
            "miimon": miimon,
            "primary": leg["nic"],
            "primary_reselect": "always",
            "fail_over_mac": "none",
            "members": [leg["nic"], leg["backup"]],
            "master": leg["bridge"],
            "mtu": mtu,
        }
    for leg in legs:
        devices[leg["backup"]] = {"kind": "veth", "peer": leg["crossing"], "master": leg["bond"], "mtu": mtu}
        devices[leg["crossing"]] = {
            "kind": "veth",
            "peer": leg["backup"],
            "master": leg["crossing_bridge"],
            "mtu": mtu,
            "guarded_by": leg["peer_nic"],
        }
    for vlan in vlans:
        devices[vlan["name"]] = {"kind": "vlan", "link": vlan["bridge"], "id": vlan["vlan"], "mtu": vlan["mtu"]}

    # Each bridge knows for good that the other bridge's MAC lives behind its crossing. Without
    # it, a bridge that saw that MAC arrive from the switch (flooded frames) keeps sending it
    # back to the switch port after a failover, until the entry ages out or is relearned.
    fdb = [{"bridge": leg["crossing_bridge"], "port": leg["crossing"], "mac": leg["mac"]} for leg in legs]

    for name in list(devices) + list(inv_nics):
        if len(name) > IFNAME_MAX:
            raise PlanError(f"{path}: device name {name!r} is longer than {IFNAME_MAX} characters")

    return {
        "minion_id": minion_id,
        "backend": backend,
        "miimon": miimon,
        "link_detect": link_detect,
        "datapath_type": datapath,
        "config_style": style,
        "mtu": mtu,
        "legs": legs,
        "nics": {leg["nic"]: {"mac": leg["mac"], "mtu": mtu, "master": leg["bond"]} for leg in legs},
        "devices": devices,
        "vlans": vlans,
        "fdb": fdb,
        "addresses": addresses,
        "probe": _check_probe(spec.get("probe"), f"{path}:probe"),
        "rollback_seconds": rollback,
    }


def managed_names(the_plan):
    """Every interface name the plan manages (never the NICs themselves)."""
    return list(the_plan["devices"])


# =========================================================================== pure core: loop guard

# With both NICs down each bond fails over to its crossing, and
#   br0 -> bond0 -> vbk0 => vx0 -> br1 -> bond1 -> vbk1 => vx1 -> br0 -> ...
# is a ring that circulates every broadcast forever. The guard is in the kernel, so it needs no
# daemon and has no reaction time: a frame that arrives over either end of a crossing veth gets
# a mark (tc ingress), and a marked frame may never leave over either end of a crossing (tc
# egress). A frame therefore crosses at most once, in either direction of the ring. Legitimate
# traffic crosses exactly once: out through the other NIC, or in from it.
LOOP_MARK = 0x10000000
GUARD_PREF = 49152  # tc filter priority that identifies the guard's own filters


def guard_commands(the_plan, present=None):
    """
    The ``tc`` commands that install the loop guard on both ends of every crossing, skipping
    the devices where ``present`` (``{device: True}``) says it is already in place.
    """
    present = present or {}
    mark = f"{LOOP_MARK:#x}"
    todo = []
    for leg in the_plan["legs"]:
        for name in (leg["crossing"], leg["backup"]):
            if present.get(name):
                continue
            todo.append(_change("guard", name, f"loop guard: mark frames arriving over {name}", [
                "tc", "filter", "replace", "dev", name, "ingress", "pref", str(GUARD_PREF), "protocol", "all",
                "matchall", "action", "skbedit", "mark", f"{mark}/{mark}"]))
            todo.append(_change("guard", name, f"loop guard: drop marked frames leaving over {name}", [
                "tc", "filter", "replace", "dev", name, "egress", "pref", str(GUARD_PREF), "protocol", "all",
                "handle", f"{mark}/{mark}", "fw", "action", "drop"]))
    return todo


def guard_present(tc_output, hook):
    """
    True when ``tc filter show dev X <hook>`` (plain text: tc's JSON for fw filters is not
    valid JSON in iproute2 6.1) lists the guard's filter for that hook.
    """
    kind = "matchall" if hook == "ingress" else "fw"
    return any(f"pref {GUARD_PREF} " in line and f" {kind} " in line + " " for line in (tc_output or "").splitlines())


# Open vSwitch resolves a ring of patch ports inside one flow translation and stops it at its
# translation depth (64), so it is no storm, but each frame would still go round 64 times and be
# delivered to the host as often. The same rule as Linux's, in OpenFlow: a frame arriving over a
# crossing's patch port gets the mark (pkt_mark survives the patch ports), and a marked frame
# arriving over one again is dropped. Flows are not kept by OVSDB: the guard unit puts them
# back when ovs-vswitchd (re)starts.
OVS_GUARD_COOKIE = "0xb41e0001"


def ovs_guard_flows(the_plan):
    """
    ``[{"bridge", "port", "kind", "flow"}]``: the OpenFlow rules of the loop guard, for
    ``ovs-ofctl add-flow BRIDGE FLOW`` (the NORMAL action keeps the bridge a learning switch).
    """
    mark = f"{LOOP_MARK:#x}"
    flows = []
    for leg in the_plan["legs"]:
        for bridge, port in ((leg["bridge"], leg["backup"]), (leg["crossing_bridge"], leg["crossing"])):
            flows.append({"bridge": bridge, "port": port, "kind": "drop",
                          "flow": f"cookie={OVS_GUARD_COOKIE},priority=100,in_port={port},pkt_mark={mark}/{mark},actions=drop"})
            flows.append({"bridge": bridge, "port": port, "kind": "mark",
                          "flow": f"cookie={OVS_GUARD_COOKIE},priority=90,in_port={port},actions=set_field:{mark}/{mark}->pkt_mark,NORMAL"})
    return flows


def ovs_guard_observed(bridge, dump):
    """
    The guard flows ``ovs-ofctl --names --no-stats dump-flows BRIDGE cookie=C/-1`` listed:
    ``[{"bridge", "port", "kind", "match"}]``; ``kind`` is None for a flow with the guard's
    cookie that is neither guard rule (left behind, to be deleted).
    """
    mark = f"{LOOP_MARK:#x}"
    found = []
    for line in (dump or "").splitlines():
        line = line.strip()
        if not line.startswith("cookie=") or " actions=" not in line:
            continue
        match, actions = line.split(" actions=", 1)
        match = match.split(",", 1)[1].strip() if "," in match else ""
        fields = dict(f.split("=", 1) for f in match.split(",") if "=" in f)
        port = fields.get("in_port", "").strip('"')
        kind = None
        if fields.get("pkt_mark") == f"{mark}/{mark}" and fields.get("priority") == "100" and actions == "drop":
            kind = "drop"
        elif "pkt_mark" not in fields and fields.get("priority") == "90" and actions.endswith("NORMAL") \
                and ("PKT_MARK[28]" in actions or "pkt_mark" in actions):
            kind = "mark"
        found.append({"bridge": bridge, "port": port, "kind": kind, "match": match})
    return found


def ovs_guard_changes(the_plan, observed):
    """Add the guard flows ``observed`` (``ovs_guard_observed`` over the bridges) lacks, and
    delete flows with the guard's cookie that are not guard rules of this plan."""
    want = ovs_guard_flows(the_plan)
    have = {(f["bridge"], f["port"], f["kind"]) for f in observed}
    wanted = {(f["bridge"], f["port"], f["kind"]) for f in want}
    todo = []
    for flow in want:
        if (flow["bridge"], flow["port"], flow["kind"]) not in have:
            what = "mark frames arriving over" if flow["kind"] == "mark" else "drop marked frames arriving over"
            todo.append(_change("guard", flow["port"], f"loop guard: {what} {flow['port']} on {flow['bridge']}",
                                ["ovs-ofctl", "add-flow", flow["bridge"], flow["flow"]]))
    for flow in observed:
        if (flow["bridge"], flow["port"], flow["kind"]) not in wanted:
            todo.append(_change("guard", flow["bridge"], f"delete stale loop-guard flow {flow['match']} on {flow['bridge']}",
                                ["ovs-ofctl", "--strict", "del-flows", flow["bridge"], flow["match"]]))
    return todo


# =========================================================================== pure core: live snapshot


def observe_links(ip_json):
    """
    Reduce ``ip -j -d addr show`` output (a list) to what the plan compares: per interface its
    kind, master, MTU, MAC, admin/carrier state, kind-specific options and addresses.
    """
    seen = {}
    for link in ip_json:
        info = link.get("linkinfo", {})
        data = info.get("info_data", {}) or {}
        flags = link.get("flags", [])
        item = {
            "kind": info.get("info_kind") or "nic",
            "master": link.get("master"),
            "mtu": link.get("mtu"),
            "mac": (link.get("address") or "").lower(),
            "up": "UP" in flags,
            "carrier": "LOWER_UP" in flags,
            "addresses": sorted(
                f"{a['local']}/{a['prefixlen']}"
                for a in link.get("addr_info", [])
                if a.get("family") in ("inet", "inet6") and a.get("scope") != "link"
            ),
        }
        if item["kind"] == "bond":
            item.update(
                {
                    "mode": data.get("mode"),
                    "miimon": data.get("miimon"),
                    "primary": data.get("primary"),
                    "primary_reselect": data.get("primary_reselect"),
                    "fail_over_mac": data.get("fail_over_mac"),
                    "active": data.get("active_slave"),
                }
            )
        elif item["kind"] == "vlan":
            item.update({"id": data.get("id"), "link": link.get("link")})
        elif item["kind"] == "veth":
            item["peer"] = link.get("link")
        elif item["kind"] == "bridge":
            item["stp"] = bool(data.get("stp_state"))
        slave = info.get("info_slave_data") or {}
        if info.get("info_slave_kind") == "bond":
            item["bond_state"] = slave.get("state")
            item["mii_status"] = slave.get("mii_status")
            item["link_failure_count"] = slave.get("link_failure_count")
            item["perm_mac"] = (slave.get("perm_hwaddr") or "").lower() or None
        if link.get("permaddr"):
            item["perm_mac"] = link["permaddr"].lower()
        seen[link["ifname"]] = item
    return seen


# =========================================================================== pure core: diff (linux)


def _change(action, name, detail, argv):
    return {"action": action, "name": name, "detail": detail, "argv": argv}


def diff_linux(the_plan, seen, guard=None, fdb=None):
    """
    The changes (in order) that take the kernel from ``seen`` (``observe_links``) to the plan.
    Each change is ``{"action", "name", "detail", "argv"}``: ``argv`` is the ``ip`` command.

    Devices whose kind is wrong are refused (PlanError): the module never deletes an interface
    it did not create under the plan's name.
    """
    changes = []
    devices = the_plan["devices"]

    for nic in the_plan["nics"]:
        if nic not in seen:
            raise PlanError(f"NIC {nic!r} does not exist on this host (is the NIC named by its MAC renamed?)")
    for name, dev in devices.items():
        if name in seen and seen[name]["kind"] != dev["kind"]:
            raise PlanError(
                f"{name!r} exists as a {seen[name]['kind']} but the plan needs a {dev['kind']}; refusing to touch it"
            )

    # 1. create what is missing
    created = set()
    for name, dev in devices.items():
        if name in seen or name in created:
            continue
        kind = dev["kind"]
        if kind == "bridge":
            argv = ["ip", "link", "add", name, "address", dev["mac"], "mtu", str(dev["mtu"]), "type", "bridge", "stp_state", "0"]
        elif kind == "bond":
            argv = ["ip", "link", "add", name, "mtu", str(dev["mtu"]), "type", "bond", "mode", dev["mode"],
                    "miimon", str(dev["miimon"]), "primary_reselect", dev["primary_reselect"],
                    "fail_over_mac", dev["fail_over_mac"]]
        elif kind == "veth":
            if dev["peer"] in seen:
                raise PlanError(f"veth {name!r} is missing but its peer {dev['peer']!r} exists; remove it first")
            argv = ["ip", "link", "add", name, "mtu", str(dev["mtu"]), "type", "veth", "peer", "name", dev["peer"], "mtu", str(dev["mtu"])]
            created.add(dev["peer"])
        elif kind == "vlan":
            continue  # after the bridges are up, below
        else:  # pragma: no cover - plan() only makes the kinds above
            raise PlanError(f"unknown device kind {kind!r}")
        created.add(name)
        changes.append(_change("create", name, f"create {kind} {name}", argv))

    def now(name, key, default=None):
        return seen.get(name, {}).get(key, default) if name not in created else default

    # 2. bond options that can change on a live bond
    for name, dev in devices.items():
        if dev["kind"] != "bond" or name in created:
            continue
        for key in ("mode", "miimon", "primary_reselect", "fail_over_mac"):
            if seen[name].get(key) != dev[key]:
                if key in ("mode", "fail_over_mac"):
                    raise PlanError(
                        f"bond {name!r} has {key} {seen[name].get(key)!r}, the plan needs {dev[key]!r}: "
                        "remove the dual bond first (dualbond.absent), it cannot change on a live bond"
                    )
                changes.append(_change("set", name, f"set {key} of {name} to {dev[key]}",
                                       ["ip", "link", "set", name, "type", "bond", key, str(dev[key])]))

    # 3. MTU and MAC (bridges get their NIC's MAC so DHCP reservations by NIC MAC keep working)
    for name, dev in list(the_plan["nics"].items()) + [(n, d) for n, d in devices.items() if d["kind"] != "vlan"]:
        if now(name, "mtu") != dev["mtu"] and not (name in created and dev.get("kind") in ("bridge", "bond", "veth")):
            changes.append(_change("set", name, f"set mtu of {name} to {dev['mtu']}", ["ip", "link", "set", name, "mtu", str(dev["mtu"])]))
        if dev.get("kind") == "bridge" and name not in created and seen[name]["mac"] != dev["mac"]:
            changes.append(_change("set", name, f"set MAC of {name} to {dev['mac']}", ["ip", "link", "set", name, "address", dev["mac"]]))
        if dev.get("kind") == "bridge" and name not in created and seen[name].get("stp"):
            changes.append(_change("set", name, f"turn STP off on {name}", ["ip", "link", "set", name, "type", "bridge", "stp_state", "0"]))

    # 4. memberships: NIC first, so the bond takes the NIC's MAC
    for nic, spec in the_plan["nics"].items():
        if seen[nic].get("master") != spec["master"]:
            changes.append(_change("set", nic, f"take {nic} down to enslave it", ["ip", "link", "set", nic, "down"]))
            changes.append(_change("enslave", nic, f"make {nic} a member of {spec['master']}", ["ip", "link", "set", nic, "master", spec["master"]]))
    for name, dev in devices.items():
        if dev["kind"] == "veth" and now(name, "master") != dev["master"]:
            if devices.get(dev["master"], {}).get("kind") == "bond":
                changes.append(_change("set", name, f"take {name} down to enslave it", ["ip", "link", "set", name, "down"]))
            changes.append(_change("enslave", name, f"make {name} a member of {dev['master']}", ["ip", "link", "set", name, "master", dev["master"]]))
    for name, dev in devices.items():
        if dev["kind"] == "bond":
            if now(name, "primary") != dev["primary"]:
                changes.append(_change("set", name, f"make {dev['primary']} the primary of {name}",
                                       ["ip", "link", "set", name, "type", "bond", "primary", dev["primary"]]))
            if now(name, "master") != dev["master"]:
                changes.append(_change("enslave", name, f"make {name} a port of {dev['master']}", ["ip", "link", "set", name, "master", dev["master"]]))

    # 5. the loop guard before anything is up, so no ring can form even for a moment
    for name in [leg[k] for leg in the_plan["legs"] for k in ("crossing", "backup")]:
        if name in created or not (guard or {}).get(name):
            changes.append(_change("guard", name, f"add clsact qdisc to {name}", ["tc", "qdisc", "replace", "dev", name, "clsact"]))
    changes.extend(guard_commands(the_plan, {k: v for k, v in (guard or {}).items() if k not in created}))

    # 6. admin state: everything up
    order = list(the_plan["nics"]) + [n for n, d in devices.items() if d["kind"] != "vlan"]
    for name in order:
        if not now(name, "up", False):
            changes.append(_change("set", name, f"set {name} up", ["ip", "link", "set", name, "up"]))

    # 7. VLANs on the bridges
    for name, dev in devices.items():
        if dev["kind"] != "vlan":
            continue
        if name not in seen:
            changes.append(_change("create", name, f"create vlan {name} (id {dev['id']} on {dev['link']})",
                                   ["ip", "link", "add", "link", dev["link"], "name", name, "mtu", str(dev["mtu"]), "type", "vlan", "id", str(dev["id"])]))
            changes.append(_change("set", name, f"set {name} up", ["ip", "link", "set", name, "up"]))
            continue
        if seen[name].get("id") != dev["id"] or seen[name].get("link") != dev["link"]:
            raise PlanError(f"VLAN {name!r} exists with id {seen[name].get('id')} on {seen[name].get('link')!r}; "
                            f"the plan needs id {dev['id']} on {dev['link']!r}: remove it first")
        if seen[name]["mtu"] != dev["mtu"]:
            changes.append(_change("set", name, f"set mtu of {name} to {dev['mtu']}", ["ip", "link", "set", name, "mtu", str(dev["mtu"])]))
        if not seen[name]["up"]:
            changes.append(_change("set", name, f"set {name} up", ["ip", "link", "set", name, "up"]))

    for entry in the_plan.get("fdb", []):
        if entry["port"] in created or (entry["port"], entry["mac"]) not in (fdb or set()):
            changes.append(_change("fdb", entry["port"], f"pin {entry['mac']} to {entry['port']} in {entry['bridge']}",
                                   ["bridge", "fdb", "replace", entry["mac"], "dev", entry["port"], "master", "static"]))

    changes.extend(_address_changes(the_plan, seen))
    return changes


def static_fdb(bridge_fdb_json):
    """``{(port, mac)}`` of the static entries in ``bridge -j fdb show`` output."""
    return {(e.get("ifname"), (e.get("mac") or "").lower()) for e in bridge_fdb_json or [] if e.get("state") == "static"}


def _address_changes(the_plan, seen):
    """
    Add the plan's addresses; remove only addresses the plan could have put there (the same
    prefix length as a planned address of that interface: an inventory address that changed).
    Others belong to someone else and stay: keepalived's VIPs (/32 on the controllers' VLAN
    interfaces), an operator's extra address.
    """
    changes = []
    for iface, wanted in the_plan["addresses"].items():
        have = set(seen.get(iface, {}).get("addresses", []))
        ours = {cidr.rsplit("/", 1)[1] for cidr in wanted}
        for cidr in sorted(have - set(wanted)):
            if cidr.rsplit("/", 1)[-1] not in ours:
                continue
            changes.append(_change("address", iface, f"remove address {cidr} from {iface}", ["ip", "address", "del", cidr, "dev", iface]))
        for cidr in wanted:
            if cidr not in have:
                changes.append(_change("address", iface, f"add address {cidr} to {iface}", ["ip", "address", "add", cidr, "dev", iface]))
    return changes


def removal_linux(the_plan, seen):
    """The changes that remove the plan's devices (VLANs first) and release the NICs."""
    changes = []
    devices = the_plan["devices"]
    gone = set()
    for kind in ("vlan", "bridge", "bond", "veth"):
        for name, dev in devices.items():
            if dev["kind"] != kind or name not in seen or name in gone:
                continue
            if seen[name]["kind"] != kind:
                raise PlanError(f"{name!r} is a {seen[name]['kind']}, not the plan's {kind}; refusing to delete it")
            changes.append(_change("delete", name, f"delete {kind} {name}", ["ip", "link", "delete", name]))
            gone.add(name)
            if kind == "veth":
                gone.add(dev["peer"])
    for nic, spec in the_plan["nics"].items():
        if nic in seen and seen[nic].get("master") in devices and "bond" not in gone:
            changes.append(_change("release", nic, f"release {nic} from {seen[nic]['master']}", ["ip", "link", "set", nic, "nomaster"]))
    return changes


# =========================================================================== pure core: OVS


def observe_ovs(bridges, ports, interfaces):
    """
    Reduce ``ovs-vsctl --format=json list Bridge/Port/Interface`` tables (each already turned
    into a list of row dicts by ``_ovs_rows``) to ``{bridge: {...}}`` with ports and interfaces.
    """
    iface_by_uuid = {i["_uuid"]: i for i in interfaces}
    port_by_uuid = {p["_uuid"]: p for p in ports}
    seen = {}
    for br in bridges:
        item = {
            "datapath_type": br.get("datapath_type") or "system",
            "hwaddr": (br.get("other_config", {}).get("hwaddr") or "").lower(),
            "ports": {},
        }
        for puuid in br.get("ports", []):
            port = port_by_uuid.get(puuid)
            if port is None:
                continue
            ifaces = {}
            for iuuid in port.get("interfaces", []):
                iface = iface_by_uuid.get(iuuid, {})
                ifaces[iface.get("name")] = {
                    "type": iface.get("type") or "",
                    "peer": (iface.get("options") or {}).get("peer"),
                    "mtu_request": iface.get("mtu_request"),
                    "link_state": iface.get("link_state"),
                }
            item["ports"][port["name"]] = {
                "interfaces": ifaces,
                "bond_mode": port.get("bond_mode"),
                "tag": port.get("tag"),
                "other_config": dict(port.get("other_config") or {}),
            }
        seen[br["name"]] = item
    return seen


def ovs_desired(the_plan, supports_bond_primary=True):
    """
    What the OVS database should hold: ``{bridge: {"datapath_type", "hwaddr", "ports": {...}}}``.
    Patch ports replace the veths; VLANs become internal ports tagged with their VLAN.
    """
    mtu = the_plan["mtu"]
    want = {}
    for leg in the_plan["legs"]:
        want[leg["bridge"]] = {"datapath_type": the_plan["datapath_type"], "hwaddr": leg["mac"], "ports": {}}
    for leg in the_plan["legs"]:
        other_config = {
            # a plan saved by an earlier version (rollback) has no link_detect: it polled
            "bond-detect-mode": the_plan.get("link_detect", "miimon"),
            "bond-miimon-interval": str(the_plan["miimon"]),
        }
        if supports_bond_primary:
            other_config["bond-primary"] = leg["nic"]
        want[leg["bridge"]]["ports"][leg["bond"]] = {
            "interfaces": {
                leg["nic"]: {"type": "", "peer": None, "mtu_request": mtu},
                leg["backup"]: {"type": "patch", "peer": leg["crossing"], "mtu_request": None},
            },
            "bond_mode": "active-backup",
            "tag": None,
            "other_config": other_config,
        }
        want[leg["crossing_bridge"]]["ports"][leg["crossing"]] = {
            "interfaces": {leg["crossing"]: {"type": "patch", "peer": leg["backup"], "mtu_request": None}},
            "bond_mode": None,
            "tag": None,
            "other_config": {},
        }
    for vlan in the_plan["vlans"]:
        want[vlan["bridge"]]["ports"][vlan["name"]] = {
            "interfaces": {vlan["name"]: {"type": "internal", "peer": None, "mtu_request": vlan["mtu"]}},
            "bond_mode": None,
            "tag": vlan["vlan"],
            "other_config": {},
        }
    return want


def _port_argv(bridge, port, spec):
    """ovs-vsctl arguments (one transaction) that create ``port`` on ``bridge``."""
    ifaces = list(spec["interfaces"])
    if len(ifaces) > 1:
        argv = ["--", "add-bond", bridge, port, *ifaces, f"bond_mode={spec['bond_mode']}"]
    else:
        argv = ["--", "add-port", bridge, port]
        if spec["tag"] is not None:
            argv.append(f"tag={spec['tag']}")
    for key, value in spec["other_config"].items():
        argv += ["--", "set", "port", port, f"other_config:{key}={value}"]
    for name, iface in spec["interfaces"].items():
        if iface["type"]:
            argv += ["--", "set", "interface", name, f"type={iface['type']}"]
        if iface["peer"]:
            argv += ["--", "set", "interface", name, f"options:peer={iface['peer']}"]
        if iface["mtu_request"]:
            argv += ["--", "set", "interface", name, f"mtu_request={iface['mtu_request']}"]
    return argv


def diff_ovs(the_plan, seen, supports_bond_primary=True):
    """
    The changes that take the OVS database from ``seen`` (``observe_ovs``) to the plan; each
    change's ``argv`` is a complete ``ovs-vsctl`` command. Ports of the plan's bridges that the
    plan does not name are left alone.
    """
    want = ovs_desired(the_plan, supports_bond_primary)
    changes = []
    for nic in the_plan["nics"]:
        for br_name, br in seen.items():
            for port_name, port in br["ports"].items():
                if nic in port["interfaces"] and (br_name not in want or port_name not in want[br_name]["ports"]):
                    raise PlanError(f"NIC {nic!r} is already in OVS port {port_name!r} of bridge {br_name!r}; refusing to move it")
    for br_name, br in want.items():
        have = seen.get(br_name)
        if have is None:
            changes.append(_change("create", br_name, f"create OVS bridge {br_name} (datapath {br['datapath_type']})",
                                   ["ovs-vsctl", "add-br", br_name, "--", "set", "bridge", br_name,
                                    f"datapath_type={br['datapath_type']}", f"other_config:hwaddr=\"{br['hwaddr']}\"",
                                    "--", "set", "interface", br_name, f"mtu_request={the_plan['mtu']}"]))
            have = {"datapath_type": br["datapath_type"], "hwaddr": br["hwaddr"], "ports": {}}
        else:
            local = have["ports"].get(br_name, {}).get("interfaces", {}).get(br_name, {})
            if local.get("mtu_request") != the_plan["mtu"]:
                changes.append(_change("set", br_name, f"set mtu of {br_name} to {the_plan['mtu']}",
                                       ["ovs-vsctl", "set", "interface", br_name, f"mtu_request={the_plan['mtu']}"]))
        if have["datapath_type"] != br["datapath_type"]:
            changes.append(_change("set", br_name, f"set datapath_type of {br_name} to {br['datapath_type']}",
                                   ["ovs-vsctl", "set", "bridge", br_name, f"datapath_type={br['datapath_type']}"]))
        if have["hwaddr"] != br["hwaddr"]:
            changes.append(_change("set", br_name, f"set MAC of {br_name} to {br['hwaddr']}",
                                   ["ovs-vsctl", "set", "bridge", br_name, f"other_config:hwaddr=\"{br['hwaddr']}\""]))
    for br_name, br in want.items():
        have_ports = seen.get(br_name, {}).get("ports", {})
        for port_name, spec in br["ports"].items():
            have = have_ports.get(port_name)
            if have is None:
                changes.append(_change("create", port_name, f"create OVS port {port_name} on {br_name}",
                                       ["ovs-vsctl", *_port_argv(br_name, port_name, spec)]))
                continue
            if set(have["interfaces"]) != set(spec["interfaces"]) or have["bond_mode"] != spec["bond_mode"] \
                    or have["tag"] != spec["tag"]:
                changes.append(_change("replace", port_name, f"rebuild OVS port {port_name} on {br_name}",
                                       ["ovs-vsctl", "--", "del-port", br_name, port_name, *_port_argv(br_name, port_name, spec)]))
                continue
            for key, value in spec["other_config"].items():
                if have["other_config"].get(key) != value:
                    changes.append(_change("set", port_name, f"set {key} of {port_name} to {value}",
                                           ["ovs-vsctl", "set", "port", port_name, f"other_config:{key}={value}"]))
            for name, iface in spec["interfaces"].items():
                got = have["interfaces"][name]
                if iface["type"] != got["type"] or iface["peer"] != got["peer"]:
                    changes.append(_change("set", name, f"set {name} to {iface['type'] or 'system'} peer {iface['peer']}",
                                           ["ovs-vsctl", "set", "interface", name, f"type={iface['type']}"]
                                           + ([f"options:peer={iface['peer']}"] if iface["peer"] else [])))
                if iface["mtu_request"] and got["mtu_request"] != iface["mtu_request"]:
                    changes.append(_change("set", name, f"set mtu of {name} to {iface['mtu_request']}",
                                           ["ovs-vsctl", "set", "interface", name, f"mtu_request={iface['mtu_request']}"]))
    return changes


def removal_ovs(the_plan, seen):
    """Delete the plan's OVS bridges (and with them their ports)."""
    return [
        _change("delete", leg["bridge"], f"delete OVS bridge {leg['bridge']}", ["ovs-vsctl", "--if-exists", "del-br", leg["bridge"]])
        for leg in the_plan["legs"]
        if leg["bridge"] in seen
    ]


# =========================================================================== pure core: persistent files


def _ini(sections):
    out = []
    for title, items in sections:
        out.append(f"[{title}]")
        out.extend(f"{k}={v}" for k, v in items)
        out.append("")
    return "\n".join(out)


HEADER = "# Managed by Brine (dualbond); changes are overwritten by state.apply.\n"


def networkd_files(the_plan):
    """
    systemd-networkd ``.netdev``/``.network`` files that rebuild the plan at boot: ``{file
    name: text}`` for ``/etc/systemd/network``. NICs are matched by their permanent MAC, so a
    renamed NIC is still found. The OVS backend keeps its topology in the OVS database itself;
    networkd then only brings the NICs up and gives the internal ports their addresses. A
    ``.link`` file per NIC makes udev give the NIC its inventory name by permanent MAC.
    """
    files = {}
    mtu = the_plan["mtu"]
    devices = the_plan["devices"]
    linux = the_plan["backend"] == "linux"

    def name(n, suffix):
        return f"{FILE_PREFIX}-{n}.{suffix}"

    for leg in the_plan["legs"]:
        # udev names the NIC after the inventory by its permanent MAC; everything else matches names.
        files[name(leg["nic"], "link")] = HEADER + _ini([
            ("Match", [("PermanentMACAddress", leg["mac"])]),
            ("Link", [("Name", leg["nic"]), ("MTUBytes", mtu)]),
        ])
        nic_network = [("Match", [("Name", leg["nic"])]), ("Link", [("MTUBytes", mtu)])]
        if linux:
            nic_network.append(("Network", [("Bond", leg["bond"]), ("PrimarySlave", "yes"), ("LinkLocalAddressing", "no")]))
        else:
            nic_network.append(("Network", [("LinkLocalAddressing", "no"), ("ConfigureWithoutCarrier", "yes")]))
        files[name(leg["nic"], "network")] = HEADER + _ini(nic_network)
    if linux:
        for dev_name, dev in devices.items():
            if dev["kind"] == "bridge":
                files[name(dev_name, "netdev")] = HEADER + _ini([
                    ("NetDev", [("Name", dev_name), ("Kind", "bridge"), ("MACAddress", dev["mac"]), ("MTUBytes", dev["mtu"])]),
                    ("Bridge", [("STP", "no")]),
                ])
            elif dev["kind"] == "bond":
                files[name(dev_name, "netdev")] = HEADER + _ini([
                    # The NIC's MAC, as when the NIC is enslaved first live: same MACs after a reboot.
                    ("NetDev", [("Name", dev_name), ("Kind", "bond"), ("MACAddress", the_plan["nics"][dev["primary"]]["mac"]),
                                ("MTUBytes", dev["mtu"])]),
                    ("Bond", [("Mode", dev["mode"]), ("PrimaryReselectPolicy", dev["primary_reselect"]),
                              ("MIIMonitorSec", f"{dev['miimon']}ms"), ("FailOverMACPolicy", dev["fail_over_mac"])]),
                ])
                files[name(dev_name, "network")] = HEADER + _ini([
                    ("Match", [("Name", dev_name)]),
                    ("Network", [("Bridge", dev["master"]), ("LinkLocalAddressing", "no"), ("ConfigureWithoutCarrier", "yes")]),
                ])
            elif dev["kind"] == "veth" and "guarded_by" not in dev:
                # One .netdev creates both ends; the name is the bond side.
                files[name(dev_name, "netdev")] = HEADER + _ini([
                    ("NetDev", [("Name", dev_name), ("Kind", "veth"), ("MTUBytes", dev["mtu"])]),
                    ("Peer", [("Name", dev["peer"])]),  # networkd 252 has no MTUBytes here: see the .network
                ])
                files[name(dev_name, "network")] = HEADER + _ini([
                    ("Match", [("Name", dev_name)]),
                    ("Link", [("MTUBytes", dev["mtu"])]),
                    ("Network", [("Bond", dev["master"]), ("LinkLocalAddressing", "no")]),
                ])
            elif dev["kind"] == "veth":
                files[name(dev_name, "network")] = HEADER + _ini([
                    ("Match", [("Name", dev_name)]),
                    ("Link", [("MTUBytes", dev["mtu"])]),
                    ("Network", [("Bridge", dev["master"]), ("LinkLocalAddressing", "no"), ("ConfigureWithoutCarrier", "yes")]),
                ])
            elif dev["kind"] == "vlan":
                files[name(dev_name, "netdev")] = HEADER + _ini([
                    ("NetDev", [("Name", dev_name), ("Kind", "vlan"), ("MTUBytes", dev["mtu"])]),
                    ("VLAN", [("Id", dev["id"])]),
                ])
        for leg in the_plan["legs"]:
            br = leg["bridge"]
            net = [("Network", [("LinkLocalAddressing", "no"), ("ConfigureWithoutCarrier", "yes")]
                    + [("VLAN", v["name"]) for v in the_plan["vlans"] if v["bridge"] == br]
                    + [("Address", a) for a in the_plan["addresses"].get(br, [])])]
            files[name(br, "network")] = HEADER + _ini([("Match", [("Name", br)])] + net)
    for vlan in the_plan["vlans"]:
        files[name(vlan["name"], "network")] = HEADER + _ini([
            ("Match", [("Name", vlan["name"])]),
            ("Link", [("MTUBytes", vlan["mtu"])]),
            ("Network", [("LinkLocalAddressing", "no"), ("ConfigureWithoutCarrier", "yes")]
             + [("Address", a) for a in the_plan["addresses"].get(vlan["name"], [])]),
        ])
    if not linux:
        # OVS recreates the bridge's internal port at boot, down: networkd brings it up (and
        # gives it its addresses, if any), as the live apply does.
        for leg in the_plan["legs"]:
            files[name(leg["bridge"], "network")] = HEADER + _ini([
                ("Match", [("Name", leg["bridge"])]),
                ("Network", [("LinkLocalAddressing", "no"), ("ConfigureWithoutCarrier", "yes")]
                 + [("Address", a) for a in the_plan["addresses"].get(leg["bridge"], [])]),
            ])
    return files


def _shell_quote(value):
    return shlex.quote(str(value))


def ifupdown_files(the_plan):
    """
    One ``/etc/network/interfaces.d`` file for hosts that use ifupdown. It relies only on
    ``ip`` (no ifenslave or bridge-utils): each stanza creates its device in ``pre-up``, in
    dependency order, and ``auto`` lists them in that order. ifupdown hands each command line to
    ``sh -c``: every value in one is shell-quoted.
    """
    q = _shell_quote
    lines = [HEADER.rstrip(), f"# Dual active-backup bond of {the_plan['minion_id']} ({the_plan['backend']} backend)", ""]
    mtu = the_plan["mtu"]
    devices = the_plan["devices"]
    if the_plan["backend"] == "linux":
        for leg in the_plan["legs"]:
            br, bond = devices[leg["bridge"]], devices[leg["bond"]]
            lines += [
                f"auto {leg['bridge']}",
                f"iface {leg['bridge']} inet manual",
                f"    pre-up ip link add {q(leg['bridge'])} address {q(br['mac'])} mtu {q(mtu)} type bridge stp_state 0 || true",
                f"    up ip link set {q(leg['bridge'])} up",
                f"    post-down ip link delete {q(leg['bridge'])}",
                "",
                f"auto {leg['bond']}",
                f"iface {leg['bond']} inet manual",
                f"    pre-up ip link add {q(leg['bond'])} mtu {q(mtu)} type bond mode {q(bond['mode'])} miimon {q(bond['miimon'])} "
                f"primary_reselect {q(bond['primary_reselect'])} fail_over_mac {q(bond['fail_over_mac'])} || true",
                f"    pre-up ip link set {q(leg['bond'])} master {q(leg['bridge'])}",
                f"    up ip link set {q(leg['bond'])} up",
                f"    post-down ip link delete {q(leg['bond'])}",
                "",
            ]
        for leg in the_plan["legs"]:
            lines += [
                f"auto {leg['nic']}",
                f"iface {leg['nic']} inet manual",
                f"    pre-up ip link set {q(leg['nic'])} down",
                f"    pre-up ip link set {q(leg['nic'])} mtu {q(mtu)} master {q(leg['bond'])}",
                f"    up ip link set {q(leg['nic'])} up",
                f"    post-up ip link set {q(leg['bond'])} type bond primary {q(leg['nic'])}",
                "",
                f"auto {leg['backup']}",
                f"iface {leg['backup']} inet manual",
                f"    pre-up ip link add {q(leg['backup'])} mtu {q(mtu)} type veth peer name {q(leg['crossing'])} mtu {q(mtu)} || true",
                f"    pre-up ip link set {q(leg['backup'])} master {q(leg['bond'])}",
                f"    pre-up ip link set {q(leg['crossing'])} master {q(leg['crossing_bridge'])}",
                f"    up ip link set {q(leg['backup'])} up",
                f"    pre-up tc qdisc replace dev {q(leg['crossing'])} clsact",
                f"    pre-up tc qdisc replace dev {q(leg['backup'])} clsact",
            ]
            lines += ["    pre-up " + shlex.join(c["argv"]) for c in guard_commands(the_plan) if c["name"] in (leg["crossing"], leg["backup"])]
            lines += [f"    up bridge fdb replace {q(e['mac'])} dev {q(e['port'])} master static"
                      for e in the_plan.get("fdb", []) if e["port"] == leg["crossing"]]
            lines += [
                f"    up ip link set {q(leg['crossing'])} up",
                f"    post-down ip link delete {q(leg['backup'])}",
                "",
            ]
        for vlan in the_plan["vlans"]:
            lines += [
                f"auto {vlan['name']}",
                f"iface {vlan['name']} inet manual",
                # ifupdown creates dotted VLAN names itself, with the parent's MTU: set ours after.
                f"    pre-up ip link add link {q(vlan['bridge'])} name {q(vlan['name'])} type vlan id {q(vlan['vlan'])} || true",
                f"    pre-up ip link set {q(vlan['name'])} mtu {q(vlan['mtu'])}",
                f"    up ip link set {q(vlan['name'])} up",
            ]
            lines += [f"    up ip address add {q(a)} dev {q(vlan['name'])}" for a in the_plan["addresses"].get(vlan["name"], [])]
            lines += [f"    post-down ip link delete {q(vlan['name'])}", ""]
    else:
        for leg in the_plan["legs"]:
            lines += [f"auto {leg['nic']}", f"iface {leg['nic']} inet manual", f"    mtu {mtu}",
                      f"    up ip link set {q(leg['nic'])} up", ""]
        for leg in the_plan["legs"]:
            # OVS recreates the bridge's internal port at boot, down.
            lines += [f"auto {leg['bridge']}", f"iface {leg['bridge']} inet manual", f"    up ip link set {q(leg['bridge'])} up"]
            lines += [f"    up ovs-ofctl add-flow {q(f['bridge'])} {q(f['flow'])}" for f in ovs_guard_flows(the_plan)
                      if f["bridge"] == leg["bridge"]]
            lines.append("")
        for vlan in the_plan["vlans"]:
            lines += [f"auto {vlan['name']}", f"iface {vlan['name']} inet manual", f"    up ip link set {q(vlan['name'])} mtu {q(vlan['mtu'])} up"]
            lines += [f"    up ip address add {q(a)} dev {q(vlan['name'])}" for a in the_plan["addresses"].get(vlan["name"], [])]
            lines.append("")
    for leg in the_plan["legs"]:
        for addr in the_plan["addresses"].get(leg["bridge"], []):
            lines += [f"# untagged network on {leg['bridge']}", f"iface {leg['bridge']} inet manual", f"    up ip address add {q(addr)} dev {q(leg['bridge'])}", ""]
    return {IFUPDOWN_FILE: "\n".join(lines).rstrip() + "\n"}


def _systemd_escape_dev(name):
    return "sys-subsystem-net-devices-" + "".join(c if c.isalnum() or c in "_." else f"\\x{ord(c):02x}" for c in name) + ".device"


def _oneshot_unit(description, unit_deps, commands, wanted_by):
    """A oneshot systemd unit that runs ``commands`` (argument lists, absolute paths) once."""
    lines = [HEADER.rstrip(), "[Unit]", f"Description={description}", *unit_deps, "",
             "[Service]", "Type=oneshot", "RemainAfterExit=yes"]
    lines += ["ExecStart=" + " ".join(argv) for argv in commands]
    lines += ["", "[Install]", f"WantedBy={wanted_by}", ""]
    return "\n".join(lines)


def guard_unit(the_plan):
    """
    A systemd unit that installs the loop guard at boot: on Linux once networkd has created the
    veths (networkd can make qdiscs but not tc filters); on OVS whenever ovs-vswitchd starts
    (OpenFlow rules are not kept in OVSDB).
    """
    if the_plan["backend"] == "ovs":
        return _oneshot_unit(
            "Brine dual bond: loop guard flows on the patch-port crossings",
            ["After=ovs-vswitchd.service openvswitch-switch.service", "PartOf=ovs-vswitchd.service"],
            [["/usr/bin/ovs-ofctl", "add-flow", f["bridge"], f["flow"]] for f in ovs_guard_flows(the_plan)],
            "ovs-vswitchd.service")
    devs = [leg[k] for leg in the_plan["legs"] for k in ("crossing", "backup")]
    units = " ".join(_systemd_escape_dev(d) for d in devs)
    cmds = [["tc", "qdisc", "replace", "dev", d, "clsact"] for d in devs]
    cmds += [c["argv"] for c in guard_commands(the_plan)]
    # networkd's [BridgeFDB] makes "permanent" entries, which a bridge treats as its own MAC
    # (delivered locally, never forwarded): the pins must be "static", so they live here too.
    cmds += [["bridge", "fdb", "replace", e["mac"], "dev", e["port"], "master", "static"] for e in the_plan.get("fdb", [])]
    return _oneshot_unit(
        "Brine dual bond: loop guard and FDB pins on the veth crossings",
        [f"BindsTo={units}", f"After={units} systemd-networkd.service"],
        [[f"/usr/sbin/{c[0]}", *c[1:]] for c in cmds],
        units)


def persistent_files(the_plan):
    """``{absolute path: text}`` of the persistent configuration for the plan's style."""
    return _files_for(the_plan)


# =========================================================================== live layer


def _run(argv, check=True, timeout=60):
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise CommandExecutionError(f"{' '.join(argv)} failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc


def _ip_links():
    return observe_links(json.loads(_run(["ip", "-j", "-d", "address", "show"]).stdout or "[]"))


def _ovs_rows(table):
    out = json.loads(_run(["ovs-vsctl", "--format=json", "--data=json", "list", table]).stdout)
    rows = []
    for data in out["data"]:
        row = {}
        for head, value in zip(out["headings"], data):
            row[head] = _ovs_value(value)
        rows.append(row)
    return rows


def _ovs_value(value):
    if isinstance(value, list) and len(value) == 2 and isinstance(value[0], str):
        kind, inner = value
        if kind == "uuid":
            return inner
        if kind == "set":
            items = [_ovs_value(v) for v in inner]
            return items if len(items) != 1 or isinstance(items[0], str) and len(items[0]) == 36 else items[0]
        if kind == "map":
            return {_ovs_value(k): _ovs_value(v) for k, v in inner}
    return value


def _as_list(value):
    return value if isinstance(value, list) else [value]


def _ovs_seen():
    bridges, ports = _ovs_rows("Bridge"), _ovs_rows("Port")
    # OVSDB prints a one-element set as the bare element.
    for row in bridges:
        row["ports"] = _as_list(row.get("ports", []))
    for row in ports:
        row["interfaces"] = _as_list(row.get("interfaces", []))
    seen = observe_ovs(bridges, ports, _ovs_rows("Interface"))
    for br in seen.values():
        for port in br["ports"].values():
            if port["tag"] == []:
                port["tag"] = None
            if port["bond_mode"] == []:
                port["bond_mode"] = None
            for iface in port["interfaces"].values():
                if iface["mtu_request"] == []:
                    iface["mtu_request"] = None
    return seen


def _ovs_guard_seen(the_plan, seen):
    """The guard flows on the plan's bridges that exist in ``seen`` (``_ovs_seen``)."""
    observed = []
    for bridge in dict.fromkeys(leg["bridge"] for leg in the_plan["legs"]):
        if bridge in seen:
            dump = _run(["ovs-ofctl", "--names", "--no-stats", "dump-flows", bridge, f"cookie={OVS_GUARD_COOKIE}/-1"]).stdout
            observed.extend(ovs_guard_observed(bridge, dump))
    return observed


def ovs_version():
    """
    The installed Open vSwitch version as a tuple, or None without OVS.

    CLI Example:

    .. code-block:: bash

        salt-call dualbond.ovs_version
    """
    if not shutil.which("ovs-vsctl"):
        return None
    out = _run(["ovs-vsctl", "--version"], check=False).stdout
    match = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", out)
    return tuple(int(x or 0) for x in match.groups()) if match else None


def _supports_bond_primary():
    version = ovs_version()
    return version is not None and version >= (2, 14)


def _load_plan(host=None, networks=None, minion_id=None):
    if host is None:
        minion_id = minion_id or __grains__["id"]  # noqa: F821 - Salt loader dunder
        host = __salt__["brine_inventory.host"](minion_id)  # noqa: F821
        networks = __salt__["brine_inventory.get"]()["networks"]  # noqa: F821
    try:
        return build_plan(host, networks or {}, minion_id or "host")
    except PlanError as exc:
        raise CommandExecutionError(str(exc)) from None


def plan(host=None, networks=None, minion_id=None):
    """
    Return this minion's dual-bond plan (names of every device, memberships, options, addresses).
    Other modules call this to learn the names of bonds, bridges and crossings.

    CLI Example:

    .. code-block:: bash

        salt-call dualbond.plan
    """
    return _load_plan(host, networks, minion_id)


def _resolve_renamed_nics(the_plan, seen):
    """
    NICs are named by MAC in the inventory: when the kernel calls a NIC something else, say so
    clearly instead of creating a bond without it.
    """
    for nic, spec in the_plan["nics"].items():
        if nic in seen:
            continue
        for name, item in seen.items():
            if spec["mac"] in (item.get("perm_mac"), item["mac"]) and item["kind"] == "nic":
                raise CommandExecutionError(
                    f"NIC {nic!r} (MAC {spec['mac']}) is called {name!r} on this host; rename it "
                    f"(systemd .link file) or name it {name!r} in the inventory"
                )


def _fdb_seen(the_plan, seen):
    found = set()
    for bridge in {e["bridge"] for e in the_plan.get("fdb", [])}:
        if bridge in seen:
            found |= static_fdb(json.loads(_run(["bridge", "-j", "fdb", "show", "br", bridge]).stdout or "[]"))
    return found


def _guard_seen(the_plan, seen):
    found = {}
    for leg in the_plan["legs"]:
        for name in (leg["crossing"], leg["backup"]):
            if name not in seen:
                continue
            found[name] = True
            for hook in ("ingress", "egress"):
                proc = _run(["tc", "filter", "show", "dev", name, hook], check=False)
                found[name] = found[name] and proc.returncode == 0 and guard_present(proc.stdout, hook)
    return found


def nics_found(host=None, networks=None, minion_id=None):
    """
    Which of the plan's NICs this machine has (by name or MAC): ``{"all", "none", "found",
    "missing"}``. The network role uses it to tell "this is not the inventory's machine" (no
    NIC at all: nothing is touched) from "a NIC is missing" (the state fails and says which).

    CLI Example:

    .. code-block:: bash

        salt-call dualbond.nics_found
    """
    the_plan = _load_plan(host, networks, minion_id)
    seen = _ip_links()
    macs = {item["mac"] for item in seen.values()} | {item.get("perm_mac") for item in seen.values()}
    found, missing = [], []
    for nic, spec in the_plan["nics"].items():
        (found if nic in seen or spec["mac"] in macs else missing).append(nic)
    return {"all": not missing, "none": not found, "found": found, "missing": missing}


def changes(host=None, networks=None, minion_id=None, the_plan=None):
    """
    The changes ``apply`` would make now, in order, each ``{"action", "name", "detail", "argv"}``,
    followed by the persistent files that would be written.

    CLI Example:

    .. code-block:: bash

        salt-call dualbond.changes
    """
    the_plan = the_plan or _load_plan(host, networks, minion_id)
    try:
        if the_plan["backend"] == "linux":
            seen = _ip_links()
            _resolve_renamed_nics(the_plan, seen)
            todo = diff_linux(the_plan, seen, _guard_seen(the_plan, seen), _fdb_seen(the_plan, seen))
        else:
            seen_links = _ip_links()
            _resolve_renamed_nics(the_plan, seen_links)
            seen_ovs = _ovs_seen()
            todo = diff_ovs(the_plan, seen_ovs, _supports_bond_primary())
            todo += _ovs_link_changes(the_plan, seen_links)
            todo += ovs_guard_changes(the_plan, _ovs_guard_seen(the_plan, seen_ovs))
    except PlanError as exc:
        raise CommandExecutionError(str(exc)) from None
    return todo + _file_changes(the_plan)


def _ovs_link_changes(the_plan, seen, after_ports=False):
    """Kernel-side work of the OVS backend: NICs and internal ports up, addresses."""
    todo = []
    for nic in the_plan["nics"]:
        if nic in seen and not seen[nic]["up"]:
            todo.append(_change("set", nic, f"set {nic} up", ["ip", "link", "set", nic, "up"]))
    for leg in the_plan["legs"]:
        for name in [leg["bridge"]] + [v["name"] for v in the_plan["vlans"] if v["bridge"] == leg["bridge"]]:
            if name not in seen or not seen[name]["up"]:
                todo.append(_change("set", name, f"set {name} up", ["ip", "link", "set", name, "up"]))
    todo.extend(_address_changes(the_plan, seen))
    return todo


def _file_changes(the_plan, config_dirs=None):
    todo = []
    files = _files_for(the_plan, config_dirs)
    for path, text in files.items():
        try:
            with open(path, encoding="utf-8") as fh:
                current = fh.read()
        except FileNotFoundError:
            current = None
        if current != text:
            todo.append({"action": "file", "name": path, "detail": f"{'write' if current is None else 'update'} {path}", "text": text})
    for path in _stale_files(files, config_dirs):
        todo.append({"action": "file-remove", "name": path, "detail": f"remove stale {path}"})
    return todo


def _config_dirs(config_dirs=None):
    return {"networkd": NETWORKD_DIR, "ifupdown": IFUPDOWN_DIR, "systemd": SYSTEMD_DIR, **(config_dirs or {})}


def _files_for(the_plan, config_dirs=None):
    dirs = _config_dirs(config_dirs)
    if the_plan["config_style"] == "networkd":
        files = {os.path.join(dirs["networkd"], n): t for n, t in networkd_files(the_plan).items()}
        files[os.path.join(dirs["systemd"], GUARD_UNIT)] = guard_unit(the_plan)
        return files
    return {os.path.join(dirs["ifupdown"], n): t for n, t in ifupdown_files(the_plan).items()}


def _own_files(config_dirs=None):
    dirs = _config_dirs(config_dirs)
    found = []
    for style, directory in dirs.items():
        if not os.path.isdir(directory):
            continue
        for entry in sorted(os.listdir(directory)):
            if entry.startswith(FILE_PREFIX) or entry in (IFUPDOWN_FILE, GUARD_UNIT):
                found.append(os.path.join(directory, entry))
    return found


def _stale_files(files, config_dirs=None):
    return [p for p in _own_files(config_dirs) if p not in files]


def _execute(todo):
    done = []
    for item in todo:
        if item["action"] == "file":
            os.makedirs(os.path.dirname(item["name"]), exist_ok=True)
            tmp = item["name"] + ".brine-tmp"
            with open(tmp, "w", encoding="utf-8") as fh:
                fh.write(item["text"])
            os.replace(tmp, item["name"])
        elif item["action"] == "file-remove":
            os.unlink(item["name"])
        else:
            _run(item["argv"])
        done.append(item["detail"])
    return done


def _snapshot_files(config_dirs=None):
    out = {}
    for path in _own_files(config_dirs):
        with open(path, encoding="utf-8") as fh:
            out[path] = fh.read()
    return out


def _restore_files(snapshot, config_dirs=None):
    for path in _own_files(config_dirs):
        if path not in snapshot:
            os.unlink(path)
    for path, text in snapshot.items():
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(text)


def _state_dir(state_dir=None):
    return state_dir or STATE_DIR


def _saved_plan(state_dir=None):
    try:
        with open(os.path.join(_state_dir(state_dir), "applied.json"), encoding="utf-8") as fh:
            return json.load(fh)
    except FileNotFoundError:
        return None


def _save_plan(the_plan, state_dir=None):
    directory = _state_dir(state_dir)
    os.makedirs(directory, exist_ok=True)
    tmp = os.path.join(directory, "applied.json.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(the_plan, fh, indent=1, sort_keys=True)
    os.replace(tmp, os.path.join(directory, "applied.json"))


def probe_target(the_plan, master=None):
    """Where the safe-apply probe goes: the plan's probe, else the salt-master's ports."""
    if the_plan.get("probe"):
        return the_plan["probe"]
    if master:
        return {"host": master, "port": None, "ports": list(SALT_MASTER_PORTS)}
    return None


def safety_net_argv(seconds, python, script, state_dir, library_dir):
    """
    The ``systemd-run`` command that arms the safety net: a transient timer that, ``seconds``
    from now, runs this module as a script to roll back the pending change. It runs outside the
    minion, so it still fires when the minion is killed or restarted mid-change; ``library_dir``
    (where Salt synced brinelib) is its PYTHONPATH.
    """
    return ["systemd-run", f"--unit={SAFETY_UNIT}", f"--on-active={math.ceil(seconds)}s",
            "--timer-property=AccuracySec=1s", "--description=Brine dual bond: roll back an unconfirmed change",
            f"--setenv=PYTHONPATH={library_dir}", python, script, "--rollback-pending", state_dir]


def probe(target, deadline_seconds):
    """
    True as soon as ``target`` answers within ``deadline_seconds``: a TCP connect when it has a
    port (or one of the salt-master's ports), else one ICMP echo per try (``ping``).

    CLI Example:

    .. code-block:: bash

        salt-call dualbond.probe '{"host": "10.10.0.5", "port": 4506}' 10
    """
    end = time.monotonic() + float(deadline_seconds)
    ports = target.get("ports") or ([target["port"]] if target.get("port") else [])
    while time.monotonic() < end:
        left = max(0.2, min(1.0, end - time.monotonic()))
        if ports:
            for port in ports:
                try:
                    with socket.create_connection((target["host"], port), timeout=left):
                        return True
                except OSError:
                    pass
        else:
            proc = subprocess.run(["ping", "-n", "-c", "1", "-W", str(max(1, int(left))), target["host"]],
                                  capture_output=True, timeout=left + 5)
            if proc.returncode == 0:
                return True
        time.sleep(0.1)
    return False


def apply(host=None, networks=None, minion_id=None, test=False, config_dirs=None, state_dir=None,
          probe_override=None, rollback=True):
    """
    Bring the dual bond to the plan and write its persistent files; with ``test=True`` only
    list what would change. A change that loses the probe (the plan's ``probe`` or the
    salt-master) is rolled back to the previous configuration, live and on disk, within
    ``rollback_seconds``.

    Returns ``{"changes": [...], "rolled_back": bool, "comment": str}``.

    CLI Example:

    .. code-block:: bash

        salt-call dualbond.apply
        salt-call dualbond.apply test=True
    """
    the_plan = _load_plan(host, networks, minion_id)
    if probe_override is not None:
        the_plan["probe"] = _check_probe(probe_override, "probe")
    todo = _changes_with_dirs(the_plan, config_dirs)
    if test or not todo:
        return {"changes": [t["detail"] for t in todo], "rolled_back": False,
                "comment": "would change" if todo else "already as planned"}

    previous_plan = _saved_plan(state_dir)
    previous_files = _snapshot_files(config_dirs)
    target = probe_target(the_plan, _master_address()) if rollback else None
    if target is not None:
        _write_pending(the_plan, previous_plan, previous_files, config_dirs, state_dir)
    done = []
    failure = None
    net = None
    try:
        done = _execute(todo)
        loop_guard(the_plan=the_plan)
        if the_plan["backend"] == "ovs":
            reselect_primary(the_plan=the_plan)
    except (CommandExecutionError, OSError, subprocess.SubprocessError) as exc:
        failure = f"applying failed: {exc}"
    if failure is None and target is not None:
        net = _arm_safety_net(the_plan["rollback_seconds"] + SAFETY_MARGIN_SECONDS, state_dir)
        if not probe(target, the_plan["rollback_seconds"]):
            failure = f"{target['host']} did not answer within {the_plan['rollback_seconds']} s after the change"
    if failure is None:
        _save_plan(the_plan, state_dir)
        _disarm_safety_net(state_dir)
        return {"changes": done, "rolled_back": False, "comment": "applied", "safety_net": net}
    if not rollback:
        raise CommandExecutionError(failure + f"; done so far: {done}")
    restored = _roll_back(the_plan, previous_plan, previous_files, config_dirs)
    _disarm_safety_net(state_dir)
    return {"changes": [], "rolled_back": True, "comment": f"{failure}; rolled back: {restored}", "attempted": done,
            "safety_net": net}


def _pending_path(state_dir=None):
    return os.path.join(_state_dir(state_dir), PENDING_FILE)


def _write_pending(the_plan, previous_plan, previous_files, config_dirs, state_dir):
    """What the safety net needs to undo the change without Salt and without the inventory."""
    directory = _state_dir(state_dir)
    os.makedirs(directory, exist_ok=True)
    tmp = _pending_path(state_dir) + ".tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump({"plan": the_plan, "previous_plan": previous_plan, "previous_files": previous_files,
                   "config_dirs": config_dirs, "written": time.time()}, fh)
    os.replace(tmp, _pending_path(state_dir))


def _systemd_is_init():
    return os.path.isdir("/run/systemd/system") and shutil.which("systemd-run") is not None


def _arm_safety_net(seconds, state_dir=None):
    """Start the rollback timer; returns a description, or None where there is no systemd."""
    if not _systemd_is_init():
        return None
    _run(["systemctl", "stop", f"{SAFETY_UNIT}.timer", f"{SAFETY_UNIT}.service"], check=False)
    _run(["systemctl", "reset-failed", f"{SAFETY_UNIT}.service"], check=False)
    script = os.path.abspath(__file__)
    library_dir = os.path.dirname(os.path.dirname(os.path.abspath(names.__file__)))
    argv = safety_net_argv(seconds, sys.executable, script, os.path.abspath(_state_dir(state_dir)), library_dir)
    proc = _run(argv, check=False)
    if proc.returncode != 0:
        log.warning("dualbond: could not arm the rollback timer: %s", proc.stderr.strip())
        return None
    return f"{SAFETY_UNIT}.timer in {math.ceil(seconds)} s"


def _disarm_safety_net(state_dir=None):
    if os.path.exists(_pending_path(state_dir)):
        os.unlink(_pending_path(state_dir))
    if _systemd_is_init():
        _run(["systemctl", "stop", f"{SAFETY_UNIT}.timer"], check=False)


def rollback_pending(state_dir=None):
    """
    Undo a dual-bond change whose apply never confirmed its probe (the minion died between the
    change and the end of the probe): restore the previous persistent files and the previous
    live topology. The safety-net timer runs this by itself ``rollback_seconds`` + 10 s after a
    change; it is a no-op when nothing is pending.

    CLI Example:

    .. code-block:: bash

        salt-call dualbond.rollback_pending
    """
    path = _pending_path(state_dir)
    try:
        with open(path, encoding="utf-8") as fh:
            pending = json.load(fh)
    except FileNotFoundError:
        return "nothing pending"
    restored = _roll_back(pending["plan"], pending["previous_plan"], pending["previous_files"], pending["config_dirs"])
    os.unlink(path)
    return f"rolled back an unconfirmed change: {restored}"


def _changes_with_dirs(the_plan, config_dirs):
    todo = [t for t in changes(the_plan=the_plan) if not t["action"].startswith("file")]
    return todo + _file_changes(the_plan, config_dirs)


def _roll_back(the_plan, previous_plan, previous_files, config_dirs):
    _restore_files(previous_files, config_dirs)
    if previous_plan:
        todo = [t for t in changes(the_plan=previous_plan) if not t["action"].startswith("file")]
        _execute(todo)
        loop_guard(the_plan=previous_plan)
        return f"previous configuration re-applied ({len(todo)} changes)"
    _execute([t for t in _removal(the_plan) if not t["action"].startswith("file")])
    return "the new dual bond was removed (there was none before)"


def _master_address():
    try:
        master = __opts__.get("master")  # noqa: F821
        if __opts__.get("file_client") == "local" or not master:  # noqa: F821
            return None
        return socket.gethostbyname(master if isinstance(master, str) else master[0])
    except (NameError, OSError):
        return None


def _removal(the_plan, config_dirs=None):
    if the_plan["backend"] == "linux":
        todo = removal_linux(the_plan, _ip_links())
    else:
        todo = removal_ovs(the_plan, _ovs_seen()) if shutil.which("ovs-vsctl") else []
    for path in _own_files(config_dirs) + _guard_unit_links(config_dirs):
        todo.append({"action": "file-remove", "name": path, "detail": f"remove {path}"})
    return todo


def _guard_unit_links(config_dirs=None):
    """The ``*.wants/`` and ``*.requires/`` links ``systemctl enable`` made to the guard unit:
    removed with the unit, or they dangle (systemd then warns about them at every boot)."""
    directory = _config_dirs(config_dirs)["systemd"]
    if not os.path.isdir(directory):
        return []
    links = []
    for entry in sorted(os.listdir(directory)):
        link = os.path.join(directory, entry, GUARD_UNIT)
        if entry.endswith((".wants", ".requires")) and os.path.islink(link):
            links.append(link)
    return links


def remove(host=None, networks=None, minion_id=None, test=False, config_dirs=None, state_dir=None):
    """
    Remove the dual bond: the plan's devices (never the NICs, which are only released) and
    its persistent files.

    CLI Example:

    .. code-block:: bash

        salt-call dualbond.remove test=True
    """
    the_plan = _load_plan(host, networks, minion_id)
    try:
        todo = _removal(the_plan, config_dirs)
    except PlanError as exc:
        raise CommandExecutionError(str(exc)) from None
    if test or not todo:
        return {"changes": [t["detail"] for t in todo], "comment": "would change" if todo else "already absent"}
    done = _execute(todo)
    saved = os.path.join(_state_dir(state_dir), "applied.json")
    if os.path.exists(saved):
        os.unlink(saved)
    return {"changes": done, "comment": "removed"}


def loop_guard(host=None, networks=None, minion_id=None, the_plan=None):
    """
    Apply the double-failure protection now (idempotent; returns what it changed).

    Linux backend: the tc mark guard on every crossing (see ``LOOP_MARK``); it lives in the
    kernel, so it needs no reaction to link events. OVS backend: the same rule as OpenFlow
    flows on the patch ports (see ``OVS_GUARD_COOKIE``); they are lost when ovs-vswitchd
    restarts, which is what the guard unit and this function (run by the link reactor) undo.

    CLI Example:

    .. code-block:: bash

        salt-call dualbond.loop_guard
    """
    the_plan = the_plan or _load_plan(host, networks, minion_id)
    if the_plan["backend"] == "ovs":
        return _execute(ovs_guard_changes(the_plan, _ovs_guard_seen(the_plan, _ovs_seen())))
    seen = _ip_links()
    guard = _guard_seen(the_plan, seen)
    todo = []
    for name in [leg[k] for leg in the_plan["legs"] for k in ("crossing", "backup")]:
        if name in seen and not guard.get(name):
            todo.append(_change("guard", name, f"add clsact qdisc to {name}", ["tc", "qdisc", "replace", "dev", name, "clsact"]))
    todo.extend(guard_commands(the_plan, {n: g for n, g in guard.items()}))
    todo = [t for t in todo if t["name"] in seen]
    return _execute(todo)


def reselect_primary(bond=None, host=None, networks=None, minion_id=None, the_plan=None):
    """
    Make each bond's (or only ``bond``'s) own NIC its active member when that NIC has carrier.
    A no-op when it already is. Needed for OVS older than 2.14 (no ``bond-primary``) and as a
    reactor action.

    CLI Example:

    .. code-block:: bash

        salt-call dualbond.reselect_primary
        salt-call dualbond.reselect_primary bond=bond-eth2
    """
    the_plan = the_plan or _load_plan(host, networks, minion_id)
    seen = _ip_links()
    done = []
    for leg in the_plan["legs"]:
        if bond and leg["bond"] != bond:
            continue
        if not seen.get(leg["nic"], {}).get("carrier"):
            continue
        if the_plan["backend"] == "linux":
            if seen.get(leg["bond"], {}).get("active") != leg["nic"]:
                _run(["ip", "link", "set", leg["bond"], "type", "bond", "active_slave", leg["nic"]])
                done.append(f"{leg['bond']}: active member is now {leg['nic']}")
        else:
            active = _ovs_active(leg["bond"])
            if active is not None and active != leg["nic"]:
                _run(["ovs-appctl", "bond/set-active-member", leg["bond"], leg["nic"]])
                done.append(f"{leg['bond']}: active member is now {leg['nic']}")
    return done


def ovs_active_member(bond_show):
    """The active member named in ``ovs-appctl bond/show`` output, or None."""
    match = re.search(r"^active member mac: .*\((.+)\)$", bond_show or "", re.M)
    return match.group(1) if match else None


def _ovs_active(bond):
    return ovs_active_member(_run(["ovs-appctl", "bond/show", bond], check=False).stdout)


def status(host=None, networks=None, minion_id=None):
    """
    The live state of the dual bond: per bond its active member and per member carrier and link
    failure count; bridge ports, MTU, MAC and addresses of every managed interface.

    CLI Example:

    .. code-block:: bash

        salt-call dualbond.status
    """
    the_plan = _load_plan(host, networks, minion_id)
    seen = _ip_links()
    ovs = _ovs_seen() if the_plan["backend"] == "ovs" else {}
    ovs_ifaces = {i: spec for br in ovs.values() for port in br["ports"].values() for i, spec in port["interfaces"].items()}
    out = {"backend": the_plan["backend"], "bonds": {}, "bridges": {}, "interfaces": {}}
    for leg in the_plan["legs"]:
        members = {}
        for member in (leg["nic"], leg["backup"]):
            item = seen.get(member, {})
            carrier = item.get("carrier") if member in seen else ovs_ifaces.get(member, {}).get("link_state") == "up"
            members[member] = {
                "carrier": bool(carrier),
                "link_failure_count": item.get("link_failure_count"),
                "state": item.get("bond_state"),
            }
        if the_plan["backend"] == "linux":
            active = seen.get(leg["bond"], {}).get("active")
        else:
            active = _ovs_active(leg["bond"])
        out["bonds"][leg["bond"]] = {
            "exists": leg["bond"] in seen or leg["bond"] in ovs.get(leg["bridge"], {}).get("ports", {}),
            "primary": leg["nic"],
            "active": active,
            "on_primary": active == leg["nic"],
            "members": members,
        }
        out["bridges"][leg["bridge"]] = {
            "exists": leg["bridge"] in seen,
            "ports": sorted(n for n, i in seen.items() if i.get("master") == leg["bridge"])
            if not ovs else sorted(p for p in ovs.get(leg["bridge"], {}).get("ports", {}) if p != leg["bridge"]),
            "mtu": seen.get(leg["bridge"], {}).get("mtu"),
            "mac": seen.get(leg["bridge"], {}).get("mac"),
        }
    for name in list(the_plan["nics"]) + managed_names(the_plan):
        item = seen.get(name)
        out["interfaces"][name] = None if item is None else {
            k: item.get(k) for k in ("kind", "up", "carrier", "mtu", "mac", "master", "addresses")
        }
    return out


if __name__ == "__main__":
    # The safety net's timer: `python dualbond.py --rollback-pending STATE_DIR`, without Salt.
    if len(sys.argv) != 3 or sys.argv[1] != "--rollback-pending":
        sys.exit("usage: dualbond.py --rollback-pending STATE_DIR")
    logging.basicConfig(level=logging.INFO)
    print(rollback_pending(sys.argv[2]))
