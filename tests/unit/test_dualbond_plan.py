"""The pure core of the dual bond (brinelib.dualbond, through _modules/dualbond.py): names, plan, diff, loop
guard, persistent files."""

import configparser
import copy
import itertools
import random
import string
from pathlib import Path

import brine_inventory
import brinelib
import dualbond
import pytest
from brine_testlib import example_inventory
from brinelib.dualbond import live, transaction


def host_and_networks(minion="ubuntu1", change=None):
    inv = example_inventory()
    if change:
        change(inv["hosts"][minion])
    norm = brine_inventory.normalise(inv)
    return norm["hosts"][minion], norm["networks"]


def make_plan(minion="ubuntu1", change=None):
    host, networks = host_and_networks(minion, change)
    return dualbond.build_plan(host, networks, minion)


# --------------------------------------------------------------------------- names


def test_names_for_short_nics_explain_themselves():
    legs = dualbond.device_names(["eth2", "eth3"])
    assert legs[0] == {"nic": "eth2", "bridge": "br-eth2", "bond": "bond-eth2", "backup": "vbk-eth2", "crossing": "vx-eth2"}
    assert legs[1]["bond"] == "bond-eth3"


def test_long_predictable_names_fit_and_stay_apart():
    legs = dualbond.device_names(["enp3s0f0np0", "enp3s0f1np1"])
    names = [n for leg in legs for k, n in leg.items() if k != "nic"]
    assert all(len(n) <= 15 for n in names), names
    assert len(set(names)) == len(names)
    assert legs[0]["bond"].startswith("bond-enp3s0") and legs[0]["bond"] != legs[1]["bond"]


def test_names_are_deterministic():
    assert dualbond.device_names(["enp3s0f0np0", "eno1"]) == dualbond.device_names(["enp3s0f0np0", "eno1"])


def test_random_nic_names_never_exceed_15_or_collide():
    rng = random.Random(4)
    alphabet = string.ascii_lowercase + string.digits + "-_."
    for _ in range(2000):
        a = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 15)))
        b = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 15)))
        if a == b:
            continue
        legs = dualbond.device_names([a, b])
        names = [n for leg in legs for k, n in leg.items() if k != "nic"] + [a, b]
        assert all(len(n) <= 15 for n in names)
        assert len(set(names)) == len(names), (a, b, names)


def test_vlan_names_fit_even_on_long_bridge_names():
    assert dualbond.vlan_name("br-eth2", 10) == "br-eth2.10"
    long = dualbond.vlan_name("br-enp3s0f0np0", 4094)
    assert len(long) == 15 and long.endswith(".4094")
    assert dualbond.vlan_name("br-enp3s0f0np0", 10) != dualbond.vlan_name("br-enp3s0f1np1", 10)


@pytest.mark.parametrize("nics", [["eth2"], ["eth2", "eth2"], "eth2", ["a", "b", "c"]])
def test_device_names_refuse_anything_but_two_different_nics(nics):
    with pytest.raises(dualbond.InventoryProblem, match="exactly two different NICs"):
        dualbond.device_names(nics)


# --------------------------------------------------------------------------- plan


def test_plan_of_the_example_linux_host():
    p = make_plan()
    assert p["backend"] == "linux" and p["config_style"] == "networkd"
    assert p["mtu"] == 9000
    assert list(p["devices"]) == [
        "br-eth2", "br-eth3", "bond-eth2", "bond-eth3",
        "vbk-eth2", "vx-eth2", "vbk-eth3", "vx-eth3",
        "br-eth2.10", "br-eth3.200", "br-eth2.100",
    ]
    bond = p["devices"]["bond-eth2"]
    assert bond == {
        "kind": "bond", "mode": "active-backup", "miimon": 100, "primary": "eth2", "primary_reselect": "always",
        "fail_over_mac": "none", "members": ["eth2", "vbk-eth2"], "master": "br-eth2", "mtu": 9000,
    }
    # each NIC's backup crosses into the *other* NIC's bridge
    assert p["devices"]["vbk-eth2"] == {"kind": "veth", "peer": "vx-eth2", "master": "bond-eth2", "mtu": 9000}
    assert p["devices"]["vx-eth2"]["master"] == "br-eth3"
    assert p["devices"]["vx-eth3"]["master"] == "br-eth2"
    # bridges carry their NIC's MAC, STP off
    assert p["devices"]["br-eth2"] == {"kind": "bridge", "mac": "52:54:00:10:01:02", "mtu": 9000, "stp": False}
    assert p["devices"]["br-eth2.100"] == {"kind": "vlan", "link": "br-eth2", "id": 100, "mtu": 1500}
    assert p["addresses"] == {
        "br-eth2.10": ["10.10.0.11/24"], "br-eth3.200": ["10.200.0.11/24"], "br-eth2.100": ["10.100.0.11/24"],
    }
    assert p["nics"] == {
        "eth2": {"mac": "52:54:00:10:01:02", "mtu": 9000, "master": "bond-eth2"},
        "eth3": {"mac": "52:54:00:10:01:03", "mtu": 9000, "master": "bond-eth3"},
    }


def test_plan_of_the_ovs_host_and_settings():
    p = make_plan("ubuntu3")
    assert p["backend"] == "ovs" and p["datapath_type"] == "system"
    p = make_plan("ubuntu3", lambda h: h["dualbond"].update(datapath_type="netdev", miimon=50, probe="10.10.0.5:4506"))
    assert p["datapath_type"] == "netdev" and p["miimon"] == 50
    assert p["probe"] == {"host": "10.10.0.5", "port": 4506}
    assert make_plan(change=lambda h: h["dualbond"].update(probe="10.10.0.5"))["probe"] == {"host": "10.10.0.5", "port": None}


def test_operator_bridge_names_are_used():
    p = make_plan(change=lambda h: h["dualbond"].update(bridges=["br0", "br1"]))
    assert p["legs"][0]["bridge"] == "br0" and p["devices"]["bond-eth2"]["master"] == "br0"
    assert "br0.10" in p["devices"] and p["devices"]["vx-eth2"]["master"] == "br1"


def test_untagged_network_is_addressed_on_the_bridge():
    inv = example_inventory()
    inv["networks"]["storage"] = {"cidr": "10.30.0.0/24", "mtu": 9000}
    inv["hosts"]["ubuntu1"]["networks"]["storage"] = {"address": "10.30.0.11", "nic": "eth3"}
    norm = brine_inventory.normalise(inv)
    p = dualbond.build_plan(norm["hosts"]["ubuntu1"], norm["networks"], "ubuntu1")
    assert p["addresses"]["br-eth3"] == ["10.30.0.11/24"]


def test_networks_on_other_nics_are_not_ours():
    inv = example_inventory()
    norm = brine_inventory.normalise(inv)
    host = norm["hosts"]["ubuntu1"]
    host["nics"]["eth0"] = {"mac": "52:54:00:99:00:01"}
    host["networks"]["external"]["nic"] = "eth0"
    p = dualbond.build_plan(host, norm["networks"], "ubuntu1")
    assert "br-eth2.100" not in p["devices"] and "eth0" not in p["nics"]


@pytest.mark.parametrize(
    "change, words",
    [
        (lambda h: h.pop("dualbond"), "this host has no dual bond"),
        (lambda h: h["dualbond"].update(nics=["eth2"]), "exactly two different NICs"),
        (lambda h: h["dualbond"].update(nics=["eth2", "eth9"]), "'eth9' is not one of this host's NICs"),
        (lambda h: h["dualbond"].update(backend="team"), "unknown backend 'team'"),
        (lambda h: h["dualbond"].update(miimon=5), "miimon: 5 must be 10-10000 ms"),
        (lambda h: h["dualbond"].update(datapath_type="dpdk"), "datapath_type: 'dpdk'"),
        (lambda h: h["dualbond"].update(rollback_seconds=0), "rollback_seconds: 0"),
        (lambda h: h["dualbond"].update(probe="master.lab"), "must be an IP address"),
        (lambda h: h["dualbond"].update(probe="10.10.0.5:99999"), "out of range"),
        (lambda h: h["dualbond"].update(bridges=["eth3", "br1"]), "'eth3' would be both the NIC eth3 and the bridge of NIC eth2"),
        (lambda h: h["dualbond"].update(bridges=["br0", "br0"]), "two different bridge names"),
        (lambda h: h.update(network_config="netplan"), "unknown style 'netplan'"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(change, words):
    host, networks = host_and_networks()
    change(host)
    with pytest.raises(dualbond.InventoryProblem) as err:
        dualbond.build_plan(host, networks, "ubuntu1")
    assert words in str(err.value)
    assert "brine:hosts:ubuntu1" in str(err.value)


def test_inventory_accepts_the_dualbond_settings():
    inv = example_inventory()
    inv["hosts"]["ubuntu1"]["dualbond"].update(probe="10.10.0.5:4506", rollback_seconds=20, datapath_type="netdev")
    assert brine_inventory.check(inv) == []


# --------------------------------------------------------------------------- live snapshot + diff


def nic(name, master=None, mtu=1500, mac="52:54:00:10:01:02", carrier=True, up=True):
    flags = ["BROADCAST", "MULTICAST"] + (["UP"] if up else []) + (["LOWER_UP"] if carrier else [])
    link = {"ifname": name, "mtu": mtu, "address": mac, "flags": flags, "addr_info": []}
    if master:
        link["master"] = master
    return link


def converged_ip_json(p):
    """What `ip -j -d addr show` prints once the plan is applied (shape taken from a UML guest)."""
    out = []
    for name, spec in p["nics"].items():
        link = nic(name, master=spec["master"], mtu=spec["mtu"], mac=spec["mac"])
        link["linkinfo"] = {"info_kind": "veth", "info_slave_kind": "bond", "info_slave_data": {"state": "ACTIVE", "mii_status": "UP", "link_failure_count": 0, "perm_hwaddr": spec["mac"]}}
        out.append(link)
    for name, dev in p["devices"].items():
        link = nic(name, master=dev.get("master"), mtu=dev["mtu"], mac=dev.get("mac", "02:00:00:00:00:01"))
        data = {}
        if dev["kind"] == "bond":
            data = {k: dev[k] for k in ("mode", "miimon", "primary", "primary_reselect", "fail_over_mac")}
            data["active_slave"] = dev["primary"]
        elif dev["kind"] == "vlan":
            data = {"protocol": "802.1Q", "id": dev["id"]}
            link["link"] = dev["link"]
        elif dev["kind"] == "veth":
            link["link"] = dev["peer"]
        elif dev["kind"] == "bridge":
            data = {"stp_state": 0}
        link["linkinfo"] = {"info_kind": dev["kind"], "info_data": data}
        link["addr_info"] = [
            {"family": "inet", "local": a.split("/")[0], "prefixlen": int(a.split("/")[1]), "scope": "global"}
            for a in p["addresses"].get(name, [])
        ] + [{"family": "inet6", "local": "fe80::1", "prefixlen": 64, "scope": "link"}]
        out.append(link)
    return out


ALL_GUARDED = {n: True for n in ("vx-eth2", "vx-eth3", "vbk-eth2", "vbk-eth3")}
PINNED = {("vx-eth2", "52:54:00:10:01:02"), ("vx-eth3", "52:54:00:10:01:03")}


def test_fresh_host_gets_everything_in_a_safe_order():
    p = make_plan()
    seen = dualbond.observe_links([nic("eth2", mtu=1500), nic("eth3", mac="52:54:00:10:01:03"), nic("eth0", mac="52:54:00:99:00:01")])
    changes = dualbond.diff_linux(p, seen, {})
    argvs = [c["argv"] for c in changes]
    details = [c["detail"] for c in changes]
    assert not any("eth0" in a for a in argvs), "must never touch a NIC outside the plan"
    idx = {d: i for i, d in enumerate(details)}
    # NIC enslaved before the veth so the bond takes the NIC's MAC; guard before anything is up
    assert idx["make eth2 a member of bond-eth2"] < idx["make vbk-eth2 a member of bond-eth2"]
    assert idx["take eth2 down to enslave it"] < idx["make eth2 a member of bond-eth2"]
    assert max(i for d, i in idx.items() if d.startswith("loop guard")) < min(i for d, i in idx.items() if d.endswith(" up"))
    assert ["ip", "link", "add", "bond-eth2", "mtu", "9000", "type", "bond", "mode", "active-backup", "miimon", "100",
            "primary_reselect", "always", "fail_over_mac", "none"] in argvs
    assert ["ip", "link", "set", "bond-eth2", "type", "bond", "primary", "eth2"] in argvs
    assert ["ip", "link", "add", "br-eth2", "address", "52:54:00:10:01:02", "mtu", "9000", "type", "bridge", "stp_state", "0"] in argvs
    assert ["ip", "link", "add", "vbk-eth2", "mtu", "9000", "type", "veth", "peer", "name", "vx-eth2", "mtu", "9000"] in argvs
    assert not any(a[:4] == ["ip", "link", "add", "vx-eth2"] for a in argvs), "the peer is created with its pair"
    assert ["ip", "link", "set", "eth2", "mtu", "9000"] in argvs
    assert ["ip", "address", "add", "10.10.0.11/24", "dev", "br-eth2.10"] in argvs
    assert ["ip", "link", "add", "link", "br-eth2", "name", "br-eth2.10", "mtu", "9000", "type", "vlan", "id", "10"] in argvs
    assert sum(1 for c in changes if c["action"] == "guard" and "filter" in c["argv"]) == 8
    assert ["bridge", "fdb", "replace", "52:54:00:10:01:02", "dev", "vx-eth2", "master", "static"] in argvs


def test_the_other_bridges_mac_is_pinned_behind_each_crossing():
    p = make_plan()
    assert p["fdb"] == [{"bridge": "br-eth3", "port": "vx-eth2", "mac": "52:54:00:10:01:02"},
                        {"bridge": "br-eth2", "port": "vx-eth3", "mac": "52:54:00:10:01:03"}]
    details = [c["detail"] for c in dualbond.diff_linux(p, dualbond.observe_links(converged_ip_json(p)), ALL_GUARDED, {("vx-eth3", "52:54:00:10:01:03")})]
    assert details == ["pin 52:54:00:10:01:02 to vx-eth2 in br-eth3"]
    fdb = [{"mac": "52:54:00:10:01:02", "ifname": "vx-eth2", "master": "br-eth3", "state": "static"},
           {"mac": "52:54:00:10:01:09", "ifname": "bond-eth3", "master": "br-eth3"}]
    assert dualbond.static_fdb(fdb) == {("vx-eth2", "52:54:00:10:01:02")}


def test_converged_host_has_no_changes():
    p = make_plan()
    seen = dualbond.observe_links(converged_ip_json(p))
    assert dualbond.diff_linux(p, seen, ALL_GUARDED, PINNED) == []


@pytest.mark.parametrize(
    "breakage, expected",
    [
        (lambda links: _find(links, "br-eth2.10")["addr_info"].__setitem__(0, {"family": "inet", "local": "10.10.0.99", "prefixlen": 24, "scope": "global"}),
         ["remove address 10.10.0.99/24 from br-eth2.10", "add address 10.10.0.11/24 to br-eth2.10"]),
        (lambda links: _find(links, "bond-eth3")["linkinfo"]["info_data"].update(miimon=500), ["set miimon of bond-eth3 to 100"]),
        (lambda links: _find(links, "bond-eth3")["linkinfo"]["info_data"].update(primary=None), ["make eth3 the primary of bond-eth3"]),
        (lambda links: _find(links, "br-eth3").update(address="02:00:00:00:00:09"), ["set MAC of br-eth3 to 52:54:00:10:01:03"]),
        (lambda links: _find(links, "eth3").update(mtu=1500), ["set mtu of eth3 to 9000"]),
        (lambda links: _find(links, "vx-eth3").pop("master"), ["make vx-eth3 a member of br-eth2"]),
        (lambda links: _find(links, "br-eth2.100")["flags"].remove("UP"), ["set br-eth2.100 up"]),
        (lambda links: _find(links, "eth2").pop("master"), ["take eth2 down to enslave it", "make eth2 a member of bond-eth2"]),
    ],
)
def test_drift_is_repaired_with_exactly_the_needed_changes(breakage, expected):
    p = make_plan()
    links = converged_ip_json(p)
    breakage(links)
    assert [c["detail"] for c in dualbond.diff_linux(p, dualbond.observe_links(links), ALL_GUARDED, PINNED)] == expected


def test_addresses_the_plan_did_not_make_are_left_alone():
    """A VIP keepalived holds (/32) and an operator's extra address of another prefix stay; an
    address with the planned prefix that is not the inventory's is an old one and goes."""
    p = make_plan()
    links = converged_ip_json(p)
    addr_info = _find(links, "br-eth2.10")["addr_info"]
    addr_info.append({"family": "inet", "local": "10.10.0.100", "prefixlen": 32, "scope": "global"})
    addr_info.append({"family": "inet", "local": "192.0.2.7", "prefixlen": 28, "scope": "global"})
    assert dualbond.diff_linux(p, dualbond.observe_links(links), ALL_GUARDED, PINNED) == []
    addr_info.append({"family": "inet", "local": "10.10.0.98", "prefixlen": 24, "scope": "global"})
    assert [c["detail"] for c in dualbond.diff_linux(p, dualbond.observe_links(links), ALL_GUARDED, PINNED)] == [
        "remove address 10.10.0.98/24 from br-eth2.10"]


def test_missing_guard_is_put_back():
    p = make_plan()
    guard = dict(ALL_GUARDED, **{"vbk-eth3": False})
    details = [c["detail"] for c in dualbond.diff_linux(p, dualbond.observe_links(converged_ip_json(p)), guard, PINNED)]
    assert details == ["add clsact qdisc to vbk-eth3", "loop guard: mark frames arriving over vbk-eth3",
                       "loop guard: drop marked frames leaving over vbk-eth3"]


def _find(links, name):
    return next(link for link in links if link["ifname"] == name)


def test_a_foreign_device_with_a_planned_name_is_refused():
    p = make_plan()
    links = converged_ip_json(p)
    _find(links, "br-eth2")["linkinfo"] = {"info_kind": "dummy"}
    with pytest.raises(dualbond.InventoryProblem, match="'br-eth2' exists as a dummy"):
        dualbond.diff_linux(p, dualbond.observe_links(links), ALL_GUARDED)


def test_missing_nic_and_unchangeable_bond_mode_are_refused():
    p = make_plan()
    with pytest.raises(dualbond.InventoryProblem, match="NIC 'eth3' does not exist"):
        dualbond.diff_linux(p, dualbond.observe_links([nic("eth2")]), {})
    links = converged_ip_json(p)
    _find(links, "bond-eth2")["linkinfo"]["info_data"]["mode"] = "balance-rr"
    with pytest.raises(dualbond.InventoryProblem, match="cannot change on a live bond"):
        dualbond.diff_linux(p, dualbond.observe_links(links), ALL_GUARDED)


def test_removal_deletes_only_planned_devices_vlans_first():
    p = make_plan()
    links = converged_ip_json(p) + [nic("eth0", mac="52:54:00:99:00:01")]
    changes = dualbond.removal_linux(p, dualbond.observe_links(links))
    deleted = [c["name"] for c in changes if c["action"] == "delete"]
    assert deleted[:3] == ["br-eth2.10", "br-eth3.200", "br-eth2.100"]
    assert set(deleted) == {"br-eth2.10", "br-eth3.200", "br-eth2.100", "br-eth2", "br-eth3", "bond-eth2", "bond-eth3", "vbk-eth2", "vbk-eth3"}
    assert "eth0" not in str(changes) and not any(c["name"] in ("eth2", "eth3") and c["action"] == "delete" for c in changes)
    assert dualbond.removal_linux(p, dualbond.observe_links([nic("eth2"), nic("eth3")])) == []


# --------------------------------------------------------------------------- loop guard


def test_guard_marks_and_drops_on_both_ends_of_both_crossings():
    cmds = [c["argv"] for c in dualbond.guard_commands(make_plan())]
    assert len(cmds) == 8
    for dev in ("vx-eth2", "vbk-eth2", "vx-eth3", "vbk-eth3"):
        assert ["tc", "filter", "replace", "dev", dev, "ingress", "pref", "49152", "protocol", "all", "matchall",
                "action", "skbedit", "mark", "0x10000000/0x10000000"] in cmds
        assert ["tc", "filter", "replace", "dev", dev, "egress", "pref", "49152", "protocol", "all",
                "handle", "0x10000000/0x10000000", "fw", "action", "drop"] in cmds
    assert dualbond.guard_commands(make_plan(), ALL_GUARDED) == []


def test_guard_presence_is_read_from_tc_text():
    ingress = "filter protocol all pref 49152 matchall chain 0 \nfilter protocol all pref 49152 matchall chain 0 handle 0x1 \n"
    egress = "filter protocol all pref 49152 fw chain 0 \nfilter protocol all pref 49152 fw chain 0 handle 0x10000000/0x10000000 \n"
    assert dualbond.guard_present(ingress, "ingress") and dualbond.guard_present(egress, "egress")
    assert not dualbond.guard_present(egress, "ingress") and not dualbond.guard_present("", "egress")
    assert not dualbond.guard_present("filter protocol all pref 49153 fw chain 0 \n", "egress")


# --------------------------------------------------------------------------- persistent files


def parse(text):
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str
    parser.read_string(text)
    return parser


def test_networkd_files_describe_the_whole_topology():
    p = make_plan()
    files = dualbond.networkd_files(p)
    assert all(name.startswith("60-brine-dualbond-") for name in files)
    link = parse(files["60-brine-dualbond-eth2.link"])
    assert dict(link["Match"]) == {"PermanentMACAddress": "52:54:00:10:01:02"}
    assert link["Link"]["Name"] == "eth2"
    nic2 = parse(files["60-brine-dualbond-eth2.network"])
    assert nic2["Match"]["Name"] == "eth2"
    assert nic2["Network"]["Bond"] == "bond-eth2" and nic2["Network"]["PrimarySlave"] == "yes"
    assert nic2["Link"]["MTUBytes"] == "9000"
    bond = parse(files["60-brine-dualbond-bond-eth2.netdev"])
    assert dict(bond["NetDev"]) == {"Name": "bond-eth2", "Kind": "bond", "MACAddress": "52:54:00:10:01:02", "MTUBytes": "9000"}
    assert dict(bond["Bond"]) == {"Mode": "active-backup", "PrimaryReselectPolicy": "always", "MIIMonitorSec": "100ms", "FailOverMACPolicy": "none"}
    assert parse(files["60-brine-dualbond-bond-eth2.network"])["Network"]["Bridge"] == "br-eth2"
    veth = parse(files["60-brine-dualbond-vbk-eth2.netdev"])
    assert veth["NetDev"]["Kind"] == "veth" and veth["Peer"]["Name"] == "vx-eth2"
    assert parse(files["60-brine-dualbond-vbk-eth2.network"])["Network"]["Bond"] == "bond-eth2"
    vx = parse(files["60-brine-dualbond-vx-eth2.network"])
    assert vx["Network"]["Bridge"] == "br-eth3"
    assert "BridgeFDB" not in vx, "networkd makes permanent (= local) entries; the pins are in the guard unit"
    br = parse(files["60-brine-dualbond-br-eth2.netdev"])
    assert br["NetDev"]["MACAddress"] == "52:54:00:10:01:02" and br["Bridge"]["STP"] == "no"
    br_net = files["60-brine-dualbond-br-eth2.network"]
    assert "VLAN=br-eth2.10\nVLAN=br-eth2.100\n" in br_net
    assert parse(files["60-brine-dualbond-br-eth2.10.netdev"])["VLAN"]["Id"] == "10"
    vlan_net = parse(files["60-brine-dualbond-br-eth2.100.network"])
    assert vlan_net["Network"]["Address"] == "10.100.0.11/24" and vlan_net["Link"]["MTUBytes"] == "1500"
    # every device the plan creates has a .netdev (veth peers come with their pair)
    netdevs = {parse(t)["NetDev"]["Name"] for n, t in files.items() if n.endswith(".netdev")}
    assert netdevs == {n for n, d in p["devices"].items() if not d.get("guarded_by")}
    assert all(t.startswith("# Managed by Brine") for t in files.values())


def test_guard_unit_installs_the_guard_after_networkd_made_the_veths():
    unit = dualbond.guard_unit(make_plan())
    assert "BindsTo=sys-subsystem-net-devices-vx\\x2deth2.device" in unit
    assert unit.count("ExecStart=/usr/sbin/tc ") == 12
    assert "ExecStart=/usr/sbin/bridge fdb replace 52:54:00:10:01:02 dev vx-eth2 master static" in unit
    assert "Type=oneshot" in unit and "WantedBy=" in unit


def test_ovs_networkd_files_only_address_the_internal_ports():
    files = dualbond.networkd_files(make_plan("ubuntu3"))
    assert not any(n.endswith(".netdev") for n in files)
    assert parse(files["60-brine-dualbond-br-eth2.10.network"])["Network"]["Address"] == "10.10.0.13/24"
    assert "Bond" not in parse(files["60-brine-dualbond-eth2.network"])["Network"]


def test_ifupdown_file_builds_devices_in_dependency_order():
    p = make_plan(change=lambda h: h.update(network_config="ifupdown"))
    (name, text), = dualbond.ifupdown_files(p).items()
    assert name == "brine-dualbond"
    autos = [line.split()[1] for line in text.splitlines() if line.startswith("auto ")]
    assert autos.index("br-eth2") < autos.index("bond-eth2") < autos.index("eth2") < autos.index("vbk-eth2") < autos.index("br-eth2.10")
    assert autos.index("br-eth3") < autos.index("vbk-eth2"), "a crossing needs the other bridge"
    assert "    pre-up ip link set eth2 mtu 9000 master bond-eth2" in text
    assert "    post-up ip link set bond-eth2 type bond primary eth2" in text
    assert "    up ip address add 10.10.0.11/24 dev br-eth2.10" in text
    assert text.count("fw action drop") == 4
    assert set(dualbond.persistent_files(p)) == {"/etc/network/interfaces.d/brine-dualbond"}


def test_persistent_paths_for_networkd():
    paths = dualbond.persistent_files(make_plan())
    assert "/etc/systemd/system/brine-dualbond-guard.service" in paths
    assert all(p.startswith(("/etc/systemd/network/60-brine-dualbond-", "/etc/systemd/system/")) for p in paths)


def test_removal_takes_the_guard_units_enable_links_with_it(tmp_path, monkeypatch):
    systemd, networkd = tmp_path / "system", tmp_path / "network"
    networkd.mkdir()
    (networkd / "60-brine-dualbond-br-eth2.netdev").write_text("[NetDev]\n")
    (networkd / "10-other.network").write_text("[Match]\n")
    systemd.mkdir()
    unit = systemd / dualbond.GUARD_UNIT
    unit.write_text("[Unit]\n")
    for wants in ("multi-user.target.wants", "ovs-vswitchd.service.wants", "network.target.requires"):
        (systemd / wants).mkdir()
        (systemd / wants / dualbond.GUARD_UNIT).symlink_to(unit)
    (systemd / "multi-user.target.wants" / "ssh.service").symlink_to("/lib/systemd/system/ssh.service")
    (systemd / "brine.conf.d").mkdir()
    (systemd / "brine.conf.d" / dualbond.GUARD_UNIT).write_text("not a link\n")
    dirs = {"networkd": str(networkd), "ifupdown": str(tmp_path / "none"), "systemd": str(systemd)}
    monkeypatch.setattr(live, "ip_links", lambda: [])  # no bond devices: only the files are planned

    removed = [t["name"] for t in transaction.removal(make_plan(), dirs) if t["action"] == "file-remove"]

    assert sorted(removed) == sorted([
        str(networkd / "60-brine-dualbond-br-eth2.netdev"),
        str(unit),
        str(systemd / "multi-user.target.wants" / dualbond.GUARD_UNIT),
        str(systemd / "network.target.requires" / dualbond.GUARD_UNIT),
        str(systemd / "ovs-vswitchd.service.wants" / dualbond.GUARD_UNIT),
    ])


# --------------------------------------------------------------------------- OVS


def ovs_converged(p):
    seen = copy.deepcopy(dualbond.ovs_desired(p))
    for name, bridge in seen.items():  # the bridge's own internal port, as OVS lists it
        bridge["ports"][name] = {"interfaces": {name: {"type": "internal", "peer": None, "mtu_request": p["mtu"]}},
                                 "bond_mode": None, "tag": None, "other_config": {}}
    return seen


def test_ovs_fresh_database_gets_bridges_bonds_and_patches():
    p = make_plan("ubuntu3", lambda h: h["dualbond"].update(datapath_type="netdev"))
    changes = dualbond.diff_ovs(p, {})
    argvs = [c["argv"] for c in changes]
    assert argvs[0][:3] == ["ovs-vsctl", "add-br", "br-eth2"] and "datapath_type=netdev" in argvs[0]
    bond = next(a for a in argvs if "add-bond" in a)
    assert bond[:7] == ["ovs-vsctl", "--", "add-bond", "br-eth2", "bond-eth2", "eth2", "vbk-eth2"]
    assert "other_config:bond-primary=eth2" in bond and "other_config:bond-miimon-interval=100" in bond
    assert "options:peer=vx-eth2" in bond and "type=patch" in bond
    crossing = next(a for a in argvs if "vx-eth2" in a and "add-port" in a)
    assert crossing[3] == "br-eth3" and "options:peer=vbk-eth2" in crossing
    vlan = next(a for a in argvs if "br-eth2.10" in a)
    assert "tag=10" in vlan and "type=internal" in vlan


def test_ovs_bonds_act_on_carrier_unless_told_to_poll():
    def bond_argv(plan):
        return next(c["argv"] for c in dualbond.diff_ovs(plan, {}) if "add-bond" in c["argv"])

    assert "other_config:bond-detect-mode=carrier" in bond_argv(make_plan("ubuntu3"))
    polled = make_plan("ubuntu3", lambda h: h["dualbond"].update(link_detect="miimon", miimon=50))
    assert "other_config:bond-detect-mode=miimon" in bond_argv(polled)
    assert "other_config:bond-miimon-interval=50" in bond_argv(polled)


def test_a_polling_ovs_bond_is_changed_to_carrier_detection():
    p = make_plan("ubuntu3")
    seen = ovs_converged(p)
    for port in seen["br-eth2"]["ports"].values():
        if port["bond_mode"]:
            port["other_config"]["bond-detect-mode"] = "miimon"  # as applied by the earlier version
    changes = [c["detail"] for c in dualbond.diff_ovs(p, seen)]
    assert len(changes) == 1 and "bond-eth2" in changes[0], changes
    assert dualbond.diff_ovs(p, ovs_converged(p)) == []


def test_a_plan_saved_before_link_detect_still_polls():
    saved = make_plan("ubuntu3")
    del saved["link_detect"]
    bond = dualbond.ovs_desired(saved)["br-eth2"]["ports"]["bond-eth2"]
    assert bond["other_config"]["bond-detect-mode"] == "miimon"


@pytest.mark.parametrize("backend, value, words", [
    ("linux", "carrier", "Linux bonds detect links by miimon only"),
    ("ovs", "mii", "'mii'; expected carrier or miimon"),
])
def test_link_detection_mistakes_are_refused(backend, value, words):
    minion = "ubuntu1" if backend == "linux" else "ubuntu3"
    host, networks = host_and_networks(minion)  # the inventory check refuses it too (inventory_mistakes)
    host["dualbond"]["link_detect"] = value
    with pytest.raises(dualbond.InventoryProblem, match=words) as err:
        dualbond.build_plan(host, networks, minion)
    assert f"hosts:{minion}:dualbond:link_detect" in str(err.value)


def test_ovs_before_2_14_has_no_bond_primary():
    p = make_plan("ubuntu3")
    argvs = [c["argv"] for c in dualbond.diff_ovs(p, {}, supports_bond_primary=False)]
    assert not any("bond-primary" in " ".join(a) for a in argvs)


def test_ovs_converged_database_has_no_changes_and_drift_is_fixed():
    p = make_plan("ubuntu3")
    seen = ovs_converged(p)
    assert dualbond.diff_ovs(p, seen) == []
    seen["br-eth2"]["ports"]["bond-eth2"]["other_config"]["bond-primary"] = "vbk-eth2"
    seen["br-eth3"]["ports"]["br-eth3.200"]["tag"] = 201
    seen["br-eth3"]["ports"]["br-eth3"]["interfaces"]["br-eth3"]["mtu_request"] = None
    details = [c["detail"] for c in dualbond.diff_ovs(p, seen)]
    assert details == ["set mtu of br-eth3 to 9000", "set bond-primary of bond-eth2 to eth2", "rebuild OVS port br-eth3.200 on br-eth3"]


# What ``ovs-ofctl --names --no-stats dump-flows BRIDGE cookie=C/-1`` prints for the guard, in
# both spellings of the mark action (OpenFlow 1.0 and 1.3 dumps).
OVS_GUARD_DUMP = """\
 cookie=0xb41e0001, priority=100,pkt_mark=0x10000000/0x10000000,in_port="vbk-eth2" actions=drop
 cookie=0xb41e0001, priority=100,pkt_mark=0x10000000/0x10000000,in_port=vx-eth3 actions=drop
 cookie=0xb41e0001, priority=90,in_port="vbk-eth2" actions=load:0x1->NXM_NX_PKT_MARK[28],NORMAL
 cookie=0xb41e0001, priority=90,in_port=vx-eth3 actions=set_field:0x10000000/0x10000000->pkt_mark,NORMAL
"""


def test_ovs_guard_marks_and_drops_on_every_patch_port_of_the_ring():
    flows = dualbond.ovs_guard_flows(make_plan("ubuntu3"))
    assert {(f["bridge"], f["port"]) for f in flows} == {
        ("br-eth2", "vbk-eth2"), ("br-eth2", "vx-eth3"), ("br-eth3", "vbk-eth3"), ("br-eth3", "vx-eth2")}
    for f in flows:
        assert f["flow"].startswith(f"cookie={dualbond.OVS_GUARD_COOKIE},") and f"in_port={f['port']}," in f["flow"]
        if f["kind"] == "drop":  # checked before the mark is set, so only a second crossing meets it
            assert "priority=100," in f["flow"] and f["flow"].endswith("pkt_mark=0x10000000/0x10000000,actions=drop")
        else:
            assert "priority=90," in f["flow"] and f["flow"].endswith("actions=set_field:0x10000000/0x10000000->pkt_mark,NORMAL")
    assert sorted(f["kind"] for f in flows) == ["drop"] * 4 + ["mark"] * 4


def test_ovs_guard_is_read_from_the_flow_dump():
    found = dualbond.ovs_guard_observed("br-eth2", OVS_GUARD_DUMP + "NXST_FLOW reply (xid=0x4):\n")
    assert [(f["port"], f["kind"]) for f in found] == [("vbk-eth2", "drop"), ("vx-eth3", "drop"), ("vbk-eth2", "mark"), ("vx-eth3", "mark")]
    assert found[1]["match"] == "priority=100,pkt_mark=0x10000000/0x10000000,in_port=vx-eth3"
    odd = dualbond.ovs_guard_observed("br-eth2", " cookie=0xb41e0001, priority=90,in_port=vx-eth3 actions=NORMAL\n")
    assert [f["kind"] for f in odd] == [None]  # a NORMAL without the mark is no guard


def test_ovs_guard_changes_add_what_is_missing_and_delete_what_is_stale():
    p = make_plan("ubuntu3")
    fresh = dualbond.ovs_guard_changes(p, [])
    assert [c["argv"][:3] for c in fresh] == [["ovs-ofctl", "add-flow", f["bridge"]] for f in dualbond.ovs_guard_flows(p)]
    assert [c["argv"][3] for c in fresh] == [f["flow"] for f in dualbond.ovs_guard_flows(p)]
    present = dualbond.ovs_guard_observed("br-eth2", OVS_GUARD_DUMP) + dualbond.ovs_guard_observed(
        "br-eth3", OVS_GUARD_DUMP.replace("vbk-eth2", "vbk-eth3").replace("vx-eth3", "vx-eth2"))
    assert dualbond.ovs_guard_changes(p, present) == []
    missing = [f for f in present if not (f["port"] == "vx-eth2" and f["kind"] == "drop")]
    (change,) = dualbond.ovs_guard_changes(p, missing)
    assert change["detail"] == "loop guard: drop marked frames arriving over vx-eth2 on br-eth3"
    stale = present + dualbond.ovs_guard_observed("br-eth2", " cookie=0xb41e0001, priority=100,pkt_mark=0x10000000/0x10000000,in_port=old-port actions=drop\n")
    (change,) = dualbond.ovs_guard_changes(p, stale)
    assert change["argv"] == ["ovs-ofctl", "--strict", "del-flows", "br-eth2", "priority=100,pkt_mark=0x10000000/0x10000000,in_port=old-port"]


def test_ovs_guard_unit_puts_the_flows_back_whenever_ovs_vswitchd_starts():
    p = make_plan("ubuntu3")
    unit = parse(dualbond.guard_unit(p))
    assert unit["Unit"]["PartOf"] == "ovs-vswitchd.service" and unit["Install"]["WantedBy"] == "ovs-vswitchd.service"
    execs = [line.split("=", 1)[1] for line in dualbond.guard_unit(p).splitlines() if line.startswith("ExecStart=")]
    assert execs == [f"/usr/bin/ovs-ofctl add-flow {f['bridge']} {f['flow']}" for f in dualbond.ovs_guard_flows(p)]
    assert "/etc/systemd/system/brine-dualbond-guard.service" in dualbond.persistent_files(p)


def test_ovs_ifupdown_bridges_carry_their_guard_flows():
    p = make_plan("ubuntu3", lambda h: h.update(network_config="ifupdown"))
    (text,) = dualbond.ifupdown_files(p).values()
    stanza = text.split("iface br-eth3 inet manual", 1)[1].split("\n\n", 1)[0]
    assert stanza.count("    up ovs-ofctl add-flow br-eth3 ") == 4 and "br-eth2 " not in stanza


def test_ovs_refuses_to_steal_a_nic_from_another_port():
    p = make_plan("ubuntu3")
    seen = {"br-ex": {"datapath_type": "system", "hwaddr": "", "ports": {"eth2": {"interfaces": {"eth2": {}}, "bond_mode": None, "tag": None, "other_config": {}}}}}
    with pytest.raises(dualbond.InventoryProblem, match="already in OVS port 'eth2' of bridge 'br-ex'"):
        dualbond.diff_ovs(p, seen)


def test_ovs_rows_are_reduced():
    bridges = [{"_uuid": "b1", "name": "br-eth2", "datapath_type": "netdev", "other_config": {"hwaddr": "52:54:00:10:03:02"}, "ports": ["p1"]}]
    ports = [{"_uuid": "p1", "name": "bond-eth2", "interfaces": ["i1", "i2"], "bond_mode": "active-backup", "tag": None, "other_config": {"bond-primary": "eth2"}}]
    ifaces = [{"_uuid": "i1", "name": "eth2", "type": "", "options": {}, "mtu_request": 9000},
              {"_uuid": "i2", "name": "vbk-eth2", "type": "patch", "options": {"peer": "vx-eth2"}, "mtu_request": None}]
    seen = dualbond.observe_ovs(bridges, ports, ifaces)
    assert seen["br-eth2"]["ports"]["bond-eth2"]["interfaces"]["vbk-eth2"]["peer"] == "vx-eth2"
    assert seen["br-eth2"]["datapath_type"] == "netdev"


def test_probe_target_prefers_the_plan_then_the_master():
    p = make_plan()
    assert dualbond.probe_target(p, None) is None
    assert dualbond.probe_target(p, "10.10.0.5") == {"host": "10.10.0.5", "port": None, "ports": [4506, 4505]}
    p["probe"] = {"host": "10.10.0.1", "port": None}
    assert dualbond.probe_target(p, "10.10.0.5") == {"host": "10.10.0.1", "port": None}


def test_probe_against_loopback():
    import socket

    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        assert dualbond.probe({"host": "127.0.0.1", "port": port}, 2) is True
    assert dualbond.probe({"host": "127.0.0.1", "port": port}, 0.5) is False


def test_the_safety_net_is_a_transient_timer_that_runs_the_module_as_a_script():
    argv = dualbond.safety_net_argv(30.2, "/usr/bin/python3", "/var/cache/salt/minion/extmods/modules/dualbond.py",
                                    "/var/lib/brine/dualbond", "/var/cache/salt/minion/extmods/utils")
    assert argv[:3] == ["systemd-run", "--unit=brine-dualbond-rollback", "--on-active=31s"]
    assert "--setenv=PYTHONPATH=/var/cache/salt/minion/extmods/utils" in argv
    assert argv[-4:] == ["/usr/bin/python3", "/var/cache/salt/minion/extmods/modules/dualbond.py",
                         "--rollback-pending", "/var/lib/brine/dualbond"]


def test_rollback_pending_without_a_pending_change_does_nothing(tmp_path):
    assert dualbond.rollback_pending(str(tmp_path)) == "nothing pending"
    assert list(tmp_path.iterdir()) == []


def test_the_module_as_a_script_refuses_other_arguments():
    import subprocess
    import sys

    # With the PYTHONPATH the safety net's timer sets (safety_net_argv).
    library_dir = str(Path(brinelib.__file__).parents[1])
    proc = subprocess.run([sys.executable, dualbond.__file__, "--remove-everything"], capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": library_dir})
    assert proc.returncode != 0
    assert "usage: dualbond.py --rollback-pending STATE_DIR" in proc.stderr


def test_ovs_active_member_is_read_from_bond_show():
    shown = """---- bond-eth2 ----
bond_mode: active-backup
bond may use recirculation: no, Recirc-ID : -1
active-backup primary: eth2
active member mac: 52:54:00:10:03:02(eth2)

member eth2: enabled
  active member
"""
    assert dualbond.ovs_active_member(shown) == "eth2"
    assert dualbond.ovs_active_member("no such bond") is None
