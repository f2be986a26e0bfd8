"""
The persistent configuration that rebuilds a plan at boot, as text: systemd-networkd files, one
ifupdown file, and the systemd unit that puts the loop guard (and the FDB pins) back. Pure.
"""

import os
import shlex

from brinelib.dualbond.loopguard import guard_commands, ovs_guard_flows

NETWORKD_DIR = "/etc/systemd/network"
SYSTEMD_DIR = "/etc/systemd/system"
IFUPDOWN_DIR = "/etc/network/interfaces.d"
GUARD_UNIT = "brine-dualbond-guard.service"
# Every persistent file Brine writes for the dual bond starts with this, so removal finds
# exactly its own.
FILE_PREFIX = "60-brine-dualbond"
IFUPDOWN_FILE = "brine-dualbond"


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


def config_dirs(overrides=None):
    """Where each style's files go: ``{"networkd", "ifupdown", "systemd"}``, ``overrides`` applied."""
    return {"networkd": NETWORKD_DIR, "ifupdown": IFUPDOWN_DIR, "systemd": SYSTEMD_DIR, **(overrides or {})}


def persistent_files(the_plan, overrides=None):
    """``{absolute path: text}`` of the persistent configuration for the plan's style, in
    ``config_dirs(overrides)``."""
    dirs = config_dirs(overrides)
    if the_plan["config_style"] == "networkd":
        files = {os.path.join(dirs["networkd"], n): t for n, t in networkd_files(the_plan).items()}
        files[os.path.join(dirs["systemd"], GUARD_UNIT)] = guard_unit(the_plan)
        return files
    return {os.path.join(dirs["ifupdown"], n): t for n, t in ifupdown_files(the_plan).items()}
