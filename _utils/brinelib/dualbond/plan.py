"""
One host's dual bond as data: every device with its kind, options and master, the VLANs, the
addresses, the MTU, the probe. Pure: the inventory entry in, the plan (or InventoryProblem) out.
"""

import ipaddress

from brinelib.dualbond.names import device_names, name_clashes, vlan_name
from brinelib.errors import InventoryProblem
from brinelib.names import DUALBOND_BACKENDS, IFNAME_MAX, LINK_DETECT_MODES

CONFIG_STYLES = ("networkd", "ifupdown")
DATAPATH_TYPES = ("system", "netdev")
DEFAULT_MIIMON = 100
DEFAULT_ROLLBACK_SECONDS = 30


def check_probe(probe, path):
    """Return the probe as {"host", "port"} (port None = ICMP echo) or raise InventoryProblem."""
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
        raise InventoryProblem(f"{path}: probe {probe!r} must be an IP address, optionally with :port") from None
    if port is not None:
        try:
            port = int(port)
        except (TypeError, ValueError):
            raise InventoryProblem(f"{path}: probe port {port!r} is not a number") from None
        if not 1 <= port <= 65535:
            raise InventoryProblem(f"{path}: probe port {port} is out of range 1-65535")
    return {"host": str(host), "port": port}


def build_plan(host, networks, minion_id="host"):
    """
    Turn one normalised inventory host entry (``brine_inventory.host``) and the normalised
    networks into the complete plan of its dual bond. Pure: no system access.

    Returns a dict with ``backend``, ``legs`` (names per NIC), ``devices`` (every device the
    module manages, in creation order, with kind and options), ``vlans``, ``addresses``
    (interface -> [CIDR]), ``mtu``, ``config_style``, ``probe`` and ``rollback_seconds``.
    Raises InventoryProblem naming what is wrong.
    """
    path = f"brine:hosts:{minion_id}:dualbond"
    spec = host.get("dualbond")
    if not isinstance(spec, dict):
        raise InventoryProblem(f"{path}: missing; this host has no dual bond")
    nics = spec.get("nics")
    inv_nics = host.get("nics", {})
    if not isinstance(nics, list) or len(nics) != 2 or nics[0] == nics[1]:
        raise InventoryProblem(f"{path}:nics: must list exactly two different NICs, got {nics!r}")
    for nic in nics:
        if nic not in inv_nics:
            raise InventoryProblem(f"{path}:nics: {nic!r} is not one of this host's NICs")
        if len(nic) > IFNAME_MAX:
            raise InventoryProblem(f"{path}:nics: {nic!r} is longer than {IFNAME_MAX} characters")
    backend = spec.get("backend", "linux")
    if backend not in DUALBOND_BACKENDS:
        raise InventoryProblem(f"{path}:backend: unknown backend {backend!r}; expected linux or ovs")
    miimon = spec.get("miimon", DEFAULT_MIIMON)
    if isinstance(miimon, bool) or not isinstance(miimon, int) or not 10 <= miimon <= 10000:
        raise InventoryProblem(f"{path}:miimon: {miimon!r} must be 10-10000 ms")
    datapath = spec.get("datapath_type", "system")
    if datapath not in DATAPATH_TYPES:
        raise InventoryProblem(f"{path}:datapath_type: {datapath!r}; expected system or netdev")
    link_detect = spec.get("link_detect", "carrier" if backend == "ovs" else "miimon")
    if link_detect not in LINK_DETECT_MODES:
        raise InventoryProblem(f"{path}:link_detect: {link_detect!r}; expected carrier or miimon")
    if backend == "linux" and link_detect != "miimon":
        raise InventoryProblem(f"{path}:link_detect: Linux bonds detect links by miimon only; carrier is for the ovs backend")
    rollback = spec.get("rollback_seconds", DEFAULT_ROLLBACK_SECONDS)
    if isinstance(rollback, bool) or not isinstance(rollback, (int, float)) or not 1 <= rollback <= 600:
        raise InventoryProblem(f"{path}:rollback_seconds: {rollback!r} must be 1-600 seconds")
    style = host.get("network_config", "networkd")
    if style not in CONFIG_STYLES:
        raise InventoryProblem(f"brine:hosts:{minion_id}:network_config: unknown style {style!r}")
    bridges = spec.get("bridges")
    if bridges is not None and (not isinstance(bridges, list) or len(bridges) != 2 or bridges[0] == bridges[1]):
        raise InventoryProblem(f"{path}:bridges: must list two different bridge names, got {bridges!r}")

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
            raise InventoryProblem(f"brine:hosts:{minion_id}:networks:{net_name}: unknown network")
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
        raise InventoryProblem(f"{path}: {clashes[0]}")

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
            raise InventoryProblem(f"{path}: device name {name!r} is longer than {IFNAME_MAX} characters")

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
        "probe": check_probe(spec.get("probe"), f"{path}:probe"),
        "rollback_seconds": rollback,
    }


def managed_names(the_plan):
    """Every interface name the plan manages (never the NICs themselves)."""
    return list(the_plan["devices"])
