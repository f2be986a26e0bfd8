"""
The Open vSwitch backend's live side as data: the OVS database reduced to what the plan
compares, the ``ovs-vsctl`` commands that take it to the plan or remove it, and the kernel-side
work that remains (NICs and internal ports up, addresses). Pure.
"""

import re

from brinelib.dualbond import change
from brinelib.dualbond.linux import address_changes
from brinelib.errors import InventoryProblem


def observe_ovs(bridges, ports, interfaces):
    """
    Reduce ``ovs-vsctl --format=json list Bridge/Port/Interface`` tables (each already turned
    into a list of row dicts by ``live.ovs_rows``) to ``{bridge: {...}}`` with ports and interfaces.
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
                    raise InventoryProblem(f"NIC {nic!r} is already in OVS port {port_name!r} of bridge {br_name!r}; refusing to move it")
    for br_name, br in want.items():
        have = seen.get(br_name)
        if have is None:
            changes.append(change("create", br_name, f"create OVS bridge {br_name} (datapath {br['datapath_type']})",
                                   ["ovs-vsctl", "add-br", br_name, "--", "set", "bridge", br_name,
                                    f"datapath_type={br['datapath_type']}", f"other_config:hwaddr=\"{br['hwaddr']}\"",
                                    "--", "set", "interface", br_name, f"mtu_request={the_plan['mtu']}"]))
            have = {"datapath_type": br["datapath_type"], "hwaddr": br["hwaddr"], "ports": {}}
        else:
            local = have["ports"].get(br_name, {}).get("interfaces", {}).get(br_name, {})
            if local.get("mtu_request") != the_plan["mtu"]:
                changes.append(change("set", br_name, f"set mtu of {br_name} to {the_plan['mtu']}",
                                       ["ovs-vsctl", "set", "interface", br_name, f"mtu_request={the_plan['mtu']}"]))
        if have["datapath_type"] != br["datapath_type"]:
            changes.append(change("set", br_name, f"set datapath_type of {br_name} to {br['datapath_type']}",
                                   ["ovs-vsctl", "set", "bridge", br_name, f"datapath_type={br['datapath_type']}"]))
        if have["hwaddr"] != br["hwaddr"]:
            changes.append(change("set", br_name, f"set MAC of {br_name} to {br['hwaddr']}",
                                   ["ovs-vsctl", "set", "bridge", br_name, f"other_config:hwaddr=\"{br['hwaddr']}\""]))
    for br_name, br in want.items():
        have_ports = seen.get(br_name, {}).get("ports", {})
        for port_name, spec in br["ports"].items():
            have = have_ports.get(port_name)
            if have is None:
                changes.append(change("create", port_name, f"create OVS port {port_name} on {br_name}",
                                       ["ovs-vsctl", *_port_argv(br_name, port_name, spec)]))
                continue
            if set(have["interfaces"]) != set(spec["interfaces"]) or have["bond_mode"] != spec["bond_mode"] \
                    or have["tag"] != spec["tag"]:
                changes.append(change("replace", port_name, f"rebuild OVS port {port_name} on {br_name}",
                                       ["ovs-vsctl", "--", "del-port", br_name, port_name, *_port_argv(br_name, port_name, spec)]))
                continue
            for key, value in spec["other_config"].items():
                if have["other_config"].get(key) != value:
                    changes.append(change("set", port_name, f"set {key} of {port_name} to {value}",
                                           ["ovs-vsctl", "set", "port", port_name, f"other_config:{key}={value}"]))
            for name, iface in spec["interfaces"].items():
                got = have["interfaces"][name]
                if iface["type"] != got["type"] or iface["peer"] != got["peer"]:
                    changes.append(change("set", name, f"set {name} to {iface['type'] or 'system'} peer {iface['peer']}",
                                           ["ovs-vsctl", "set", "interface", name, f"type={iface['type']}"]
                                           + ([f"options:peer={iface['peer']}"] if iface["peer"] else [])))
                if iface["mtu_request"] and got["mtu_request"] != iface["mtu_request"]:
                    changes.append(change("set", name, f"set mtu of {name} to {iface['mtu_request']}",
                                           ["ovs-vsctl", "set", "interface", name, f"mtu_request={iface['mtu_request']}"]))
    return changes


def removal_ovs(the_plan, seen):
    """Delete the plan's OVS bridges (and with them their ports)."""
    return [
        change("delete", leg["bridge"], f"delete OVS bridge {leg['bridge']}", ["ovs-vsctl", "--if-exists", "del-br", leg["bridge"]])
        for leg in the_plan["legs"]
        if leg["bridge"] in seen
    ]


def ovs_link_changes(the_plan, seen):
    """Kernel-side work of the OVS backend: NICs and internal ports up, addresses."""
    todo = []
    for nic in the_plan["nics"]:
        if nic in seen and not seen[nic]["up"]:
            todo.append(change("set", nic, f"set {nic} up", ["ip", "link", "set", nic, "up"]))
    for leg in the_plan["legs"]:
        for name in [leg["bridge"]] + [v["name"] for v in the_plan["vlans"] if v["bridge"] == leg["bridge"]]:
            if name not in seen or not seen[name]["up"]:
                todo.append(change("set", name, f"set {name} up", ["ip", "link", "set", name, "up"]))
    todo.extend(address_changes(the_plan, seen))
    return todo



def ovs_active_member(bond_show):
    """The active member named in ``ovs-appctl bond/show`` output, or None."""
    match = re.search(r"^active member mac: .*\((.+)\)$", bond_show or "", re.M)
    return match.group(1) if match else None
