"""
The Linux backend's live side as data: ``ip -j`` output reduced to what the plan compares, and
the ``ip``/``tc``/``bridge`` commands (argument lists, in order) that take the kernel to the
plan or remove it. Pure.
"""

from brinelib.dualbond import change
from brinelib.dualbond.loopguard import guard_commands
from brinelib.errors import InventoryProblem


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


def diff_linux(the_plan, seen, guard=None, fdb=None):
    """
    The changes (in order) that take the kernel from ``seen`` (``observe_links``) to the plan.
    Each change is ``{"action", "name", "detail", "argv"}``: ``argv`` is the ``ip`` command.

    Devices whose kind is wrong are refused (InventoryProblem): the dual bond never deletes an interface
    it did not create under the plan's name.
    """
    changes = []
    devices = the_plan["devices"]

    for nic in the_plan["nics"]:
        if nic not in seen:
            raise InventoryProblem(f"NIC {nic!r} does not exist on this host (is the NIC named by its MAC renamed?)")
    for name, dev in devices.items():
        if name in seen and seen[name]["kind"] != dev["kind"]:
            raise InventoryProblem(
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
                raise InventoryProblem(f"veth {name!r} is missing but its peer {dev['peer']!r} exists; remove it first")
            argv = ["ip", "link", "add", name, "mtu", str(dev["mtu"]), "type", "veth", "peer", "name", dev["peer"], "mtu", str(dev["mtu"])]
            created.add(dev["peer"])
        elif kind == "vlan":
            continue  # after the bridges are up, below
        else:  # pragma: no cover - plan() only makes the kinds above
            raise InventoryProblem(f"unknown device kind {kind!r}")
        created.add(name)
        changes.append(change("create", name, f"create {kind} {name}", argv))

    def now(name, key, default=None):
        return seen.get(name, {}).get(key, default) if name not in created else default

    # 2. bond options that can change on a live bond
    for name, dev in devices.items():
        if dev["kind"] != "bond" or name in created:
            continue
        for key in ("mode", "miimon", "primary_reselect", "fail_over_mac"):
            if seen[name].get(key) != dev[key]:
                if key in ("mode", "fail_over_mac"):
                    raise InventoryProblem(
                        f"bond {name!r} has {key} {seen[name].get(key)!r}, the plan needs {dev[key]!r}: "
                        "remove the dual bond first (dualbond.absent), it cannot change on a live bond"
                    )
                changes.append(change("set", name, f"set {key} of {name} to {dev[key]}",
                                       ["ip", "link", "set", name, "type", "bond", key, str(dev[key])]))

    # 3. MTU and MAC (bridges get their NIC's MAC so DHCP reservations by NIC MAC keep working)
    for name, dev in list(the_plan["nics"].items()) + [(n, d) for n, d in devices.items() if d["kind"] != "vlan"]:
        if now(name, "mtu") != dev["mtu"] and not (name in created and dev.get("kind") in ("bridge", "bond", "veth")):
            changes.append(change("set", name, f"set mtu of {name} to {dev['mtu']}", ["ip", "link", "set", name, "mtu", str(dev["mtu"])]))
        if dev.get("kind") == "bridge" and name not in created and seen[name]["mac"] != dev["mac"]:
            changes.append(change("set", name, f"set MAC of {name} to {dev['mac']}", ["ip", "link", "set", name, "address", dev["mac"]]))
        if dev.get("kind") == "bridge" and name not in created and seen[name].get("stp"):
            changes.append(change("set", name, f"turn STP off on {name}", ["ip", "link", "set", name, "type", "bridge", "stp_state", "0"]))

    # 4. memberships: NIC first, so the bond takes the NIC's MAC
    for nic, spec in the_plan["nics"].items():
        if seen[nic].get("master") != spec["master"]:
            changes.append(change("set", nic, f"take {nic} down to enslave it", ["ip", "link", "set", nic, "down"]))
            changes.append(change("enslave", nic, f"make {nic} a member of {spec['master']}", ["ip", "link", "set", nic, "master", spec["master"]]))
    for name, dev in devices.items():
        if dev["kind"] == "veth" and now(name, "master") != dev["master"]:
            if devices.get(dev["master"], {}).get("kind") == "bond":
                changes.append(change("set", name, f"take {name} down to enslave it", ["ip", "link", "set", name, "down"]))
            changes.append(change("enslave", name, f"make {name} a member of {dev['master']}", ["ip", "link", "set", name, "master", dev["master"]]))
    for name, dev in devices.items():
        if dev["kind"] == "bond":
            if now(name, "primary") != dev["primary"]:
                changes.append(change("set", name, f"make {dev['primary']} the primary of {name}",
                                       ["ip", "link", "set", name, "type", "bond", "primary", dev["primary"]]))
            if now(name, "master") != dev["master"]:
                changes.append(change("enslave", name, f"make {name} a port of {dev['master']}", ["ip", "link", "set", name, "master", dev["master"]]))

    # 5. the loop guard before anything is up, so no ring can form even for a moment
    for name in [leg[k] for leg in the_plan["legs"] for k in ("crossing", "backup")]:
        if name in created or not (guard or {}).get(name):
            changes.append(change("guard", name, f"add clsact qdisc to {name}", ["tc", "qdisc", "replace", "dev", name, "clsact"]))
    changes.extend(guard_commands(the_plan, {k: v for k, v in (guard or {}).items() if k not in created}))

    # 6. admin state: everything up
    order = list(the_plan["nics"]) + [n for n, d in devices.items() if d["kind"] != "vlan"]
    for name in order:
        if not now(name, "up", False):
            changes.append(change("set", name, f"set {name} up", ["ip", "link", "set", name, "up"]))

    # 7. VLANs on the bridges
    for name, dev in devices.items():
        if dev["kind"] != "vlan":
            continue
        if name not in seen:
            changes.append(change("create", name, f"create vlan {name} (id {dev['id']} on {dev['link']})",
                                   ["ip", "link", "add", "link", dev["link"], "name", name, "mtu", str(dev["mtu"]), "type", "vlan", "id", str(dev["id"])]))
            changes.append(change("set", name, f"set {name} up", ["ip", "link", "set", name, "up"]))
            continue
        if seen[name].get("id") != dev["id"] or seen[name].get("link") != dev["link"]:
            raise InventoryProblem(f"VLAN {name!r} exists with id {seen[name].get('id')} on {seen[name].get('link')!r}; "
                            f"the plan needs id {dev['id']} on {dev['link']!r}: remove it first")
        if seen[name]["mtu"] != dev["mtu"]:
            changes.append(change("set", name, f"set mtu of {name} to {dev['mtu']}", ["ip", "link", "set", name, "mtu", str(dev["mtu"])]))
        if not seen[name]["up"]:
            changes.append(change("set", name, f"set {name} up", ["ip", "link", "set", name, "up"]))

    for entry in the_plan.get("fdb", []):
        if entry["port"] in created or (entry["port"], entry["mac"]) not in (fdb or set()):
            changes.append(change("fdb", entry["port"], f"pin {entry['mac']} to {entry['port']} in {entry['bridge']}",
                                   ["bridge", "fdb", "replace", entry["mac"], "dev", entry["port"], "master", "static"]))

    changes.extend(address_changes(the_plan, seen))
    return changes


def static_fdb(bridge_fdb_json):
    """``{(port, mac)}`` of the static entries in ``bridge -j fdb show`` output."""
    return {(e.get("ifname"), (e.get("mac") or "").lower()) for e in bridge_fdb_json or [] if e.get("state") == "static"}


def address_changes(the_plan, seen):
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
            changes.append(change("address", iface, f"remove address {cidr} from {iface}", ["ip", "address", "del", cidr, "dev", iface]))
        for cidr in wanted:
            if cidr not in have:
                changes.append(change("address", iface, f"add address {cidr} to {iface}", ["ip", "address", "add", cidr, "dev", iface]))
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
                raise InventoryProblem(f"{name!r} is a {seen[name]['kind']}, not the plan's {kind}; refusing to delete it")
            changes.append(change("delete", name, f"delete {kind} {name}", ["ip", "link", "delete", name]))
            gone.add(name)
            if kind == "veth":
                gone.add(dev["peer"])
    for nic, spec in the_plan["nics"].items():
        if nic in seen and seen[nic].get("master") in devices and "bond" not in gone:
            changes.append(change("release", nic, f"release {nic} from {seen[nic]['master']}", ["ip", "link", "set", nic, "nomaster"]))
    return changes
