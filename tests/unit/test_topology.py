"""brinelib.topology: the picture's model, its DOT text and the terminal view, from the example
inventory with and without what the minions report."""

import copy
import re

import pytest
from brine_testlib import example_inventory
from brinelib import topology
from brinelib.dualbond.plan import build_plan

EDGE = re.compile(r'^\s*"((?:[^"\\]|\\.)*)" -> "((?:[^"\\]|\\.)*)"')
NODE = re.compile(r'^\s*"((?:[^"\\]|\\.)*)" \[label="((?:[^"\\]|\\.)*)"')


def healthy_live(inventory):
    """Every bond on its primary, each VIP on one controller, Galera Synced, RabbitMQ whole."""
    bonds = {}
    for name, host in inventory["hosts"].items():
        if host.get("dualbond"):
            plan = build_plan(host, inventory["networks"], name)
            bonds[name] = {leg["bond"]: {"exists": True, "primary": leg["nic"], "active": leg["nic"],
                                         "members": {leg["nic"]: {"carrier": True}, leg["backup"]: {"carrier": True}}}
                           for leg in plan["legs"]}
    nodes = [f"rabbit@{n}" for n in ("ubuntu1", "ubuntu2", "ubuntu3")]
    return {"bonds": bonds, "vips": {"internal": ["ubuntu1"], "external": ["ubuntu2"]},
            "galera": {n: {"state": "Synced", "primary": True, "writer": n == "ubuntu1"} for n in ("ubuntu1", "ubuntu2", "ubuntu3")},
            "rabbitmq": {n: {"running": nodes, "partitions": []} for n in ("ubuntu1", "ubuntu2", "ubuntu3")},
            "events": {"ubuntu1": ["01:00:00 brine/net/ubuntu1/link"]}}


def nodes_of(text):
    return {m.group(1): m.group(2) for line in text.splitlines() if (m := NODE.match(line))}


def edges_of(text):
    return [(m.group(1), m.group(2), line) for line in text.splitlines() if (m := EDGE.match(line))]


def test_every_device_of_every_dual_bond_plan_and_every_vip_is_drawn():
    inventory = example_inventory()
    text = topology.dot(topology.model(inventory, healthy_live(inventory)))
    drawn = nodes_of(text)
    for name, host in inventory["hosts"].items():
        for nic, spec in host["nics"].items():
            assert spec["mac"] in drawn[f"{name}/nic:{nic}"]
        if host.get("dualbond"):
            plan = build_plan(host, inventory["networks"], name)
            for device in plan["devices"]:
                assert f"{name}/dev:{device}" in drawn, (name, device)
            for vlan in plan["vlans"]:
                assert plan["addresses"][vlan["name"]][0] in drawn[f"{name}/dev:{vlan['name']}"]
        for disk in host.get("disks") or {}:
            assert f"{name}/disk:{disk}" in drawn
    assert "10.10.0.100" in drawn["ubuntu1/vip:internal"] and "10.100.0.100" in drawn["ubuntu2/vip:external"]
    assert text.count("subgraph \"cluster_") == len(inventory["hosts"]) + 1  # and the legend


def test_only_the_switch_links_leave_a_host():
    inventory = example_inventory()
    text = topology.dot(topology.model(inventory, healthy_live(inventory)))
    leaving = [(a, b) for a, b, _ in edges_of(text) if a.split("/")[0] != b.split("/")[0]]
    assert leaving and all(b == "switch" and "/nic:" in a for a, b in leaving)
    assert sorted(a for a, _ in leaving) == sorted(f"{h}/nic:{n}" for h, spec in inventory["hosts"].items() for n in spec["nics"])


def test_each_link_is_drawn_once():
    inventory = example_inventory()
    pairs = [frozenset((a, b)) for a, b, _ in edges_of(topology.dot(topology.model(inventory, healthy_live(inventory))))]
    assert len(pairs) == len(set(pairs))
    assert frozenset(("ubuntu2/dev:vbk-eth2", "ubuntu2/dev:bond-eth2")) in pairs


def test_the_active_member_is_bold_and_a_bond_on_its_backup_is_degraded():
    inventory = example_inventory()
    live = healthy_live(inventory)
    text = topology.dot(topology.model(inventory, live))
    bold = {(a, b) for a, b, line in edges_of(text) if 'style="bold"' in line}
    assert ("ubuntu1/nic:eth2", "ubuntu1/dev:bond-eth2") in bold
    assert ("ubuntu1/dev:vbk-eth2", "ubuntu1/dev:bond-eth2") not in bold
    # eth2's cable pulled: the bond runs on its backup, the NIC has no carrier.
    bond = live["bonds"]["ubuntu1"]["bond-eth2"]
    bond["active"], bond["members"]["eth2"]["carrier"] = "vbk-eth2", False
    the_model = topology.model(inventory, live)
    text = topology.dot(the_model)
    bold = {(a, b) for a, b, line in edges_of(text) if 'style="bold"' in line}
    assert ("ubuntu1/dev:vbk-eth2", "ubuntu1/dev:bond-eth2") in bold
    assert ("ubuntu1/nic:eth2", "ubuntu1/dev:bond-eth2") not in bold
    host = the_model["hosts"]["ubuntu1"]
    assert host["nodes"]["dev:bond-eth2"]["state"] == "degraded" and host["nodes"]["nic:eth2"]["state"] == "failed"
    assert "active: vbk-eth2" in host["nodes"]["dev:bond-eth2"]["label"]
    assert "ubuntu1    controller,compute,storage   bond-eth2 degraded on vbk-eth2; bond-eth3 ok on eth3" in \
        topology.status_lines(the_model)


def test_what_nobody_reported_is_unknown_never_healthy():
    inventory = example_inventory()
    the_model = topology.model(inventory)
    states = {spec["state"] for host in the_model["hosts"].values() for spec in host["nodes"].values()}
    assert "ok" not in states and "unknown" in states
    assert {v["state"] for v in the_model["vips"].values()} == {"unknown"}
    lines = topology.status_lines(the_model)
    assert any(line.startswith("ubuntu2 ") and line.endswith("bonds unknown") for line in lines), lines
    assert any(line.startswith("vip internal  not reported  unknown") for line in lines), lines


@pytest.mark.parametrize("holders, state", [([], "failed"), (["ubuntu1", "ubuntu2"], "failed"), (["ubuntu3"], "ok")])
def test_a_vip_with_no_holder_or_two_holders_stands_out(holders, state):
    inventory = example_inventory()
    live = dict(healthy_live(inventory), vips={"internal": holders, "external": ["ubuntu2"]})
    the_model = topology.model(inventory, live)
    assert the_model["vips"]["internal"]["state"] == state
    drawn = nodes_of(topology.dot(the_model))
    if holders:
        assert all(f"{h}/vip:internal" in drawn for h in holders)
    else:
        assert "no holder" in drawn["vip/internal"]


def test_services_show_the_writer_an_unsynced_node_and_a_cut_off_rabbit():
    inventory = example_inventory()
    live = healthy_live(inventory)
    live["galera"]["ubuntu2"] = {"state": "Donor/Desynced", "primary": True}
    live["galera"]["ubuntu3"] = {"state": "down"}
    live["rabbitmq"]["ubuntu3"] = {"running": ["rabbit@ubuntu3"], "partitions": ["rabbit@ubuntu1", "rabbit@ubuntu2"]}
    rows = {(name, service): (state, words) for name, host in topology.model(inventory, live)["hosts"].items()
            for service, state, words in host["services"]}
    assert rows[("ubuntu1", "galera")] == ("ok", "Synced writer")
    assert rows[("ubuntu2", "galera")] == ("degraded", "Donor/Desynced")
    assert rows[("ubuntu3", "galera")] == ("failed", "down")
    assert rows[("ubuntu1", "rabbitmq")] == ("ok", "3 of 3 running")
    assert rows[("ubuntu3", "rabbitmq")] == ("failed", "1 of 3 running, cut off from rabbit@ubuntu1, rabbit@ubuntu2")
    assert ("bootstrap", "galera") not in rows


def test_hostile_event_text_stays_inside_its_label():
    inventory = example_inventory()
    live = healthy_live(inventory)
    live["events"]["ubuntu2"] = ['x"]; "evil" -> "switch" [label="\\', "two\nlines\r"]
    text = topology.dot(topology.model(inventory, live))
    label = nodes_of(text)["ubuntu2/events"]
    assert 'x\\"]; \\"evil\\" -> \\"switch\\" [label=\\"\\\\' in label and "two\\nlines" in label
    assert not any(a == "evil" or b == "evil" for a, b, _ in edges_of(text))
    assert all(line.count('"') % 2 == 0 or '\\"' in line for line in text.splitlines())


def test_a_64_host_inventory_gives_one_cluster_per_host():
    inventory = example_inventory()
    template = inventory["hosts"]["ubuntu1"]
    for number in range(4, 64):
        host = copy.deepcopy(template)
        host["roles"] = ["compute"]
        host["nics"] = {nic: dict(spec, mac=f"52:54:00:20:{number:02x}:{i:02x}") for i, (nic, spec) in enumerate(template["nics"].items())}
        inventory["hosts"][f"compute{number}"] = host
    text = topology.dot(topology.model(inventory, healthy_live(inventory)))
    assert text.count("subgraph \"cluster_") == 64 + 1
    assert all(b == "switch" for a, b, _ in edges_of(text) if a.split("/")[0] != b.split("/")[0])


def test_vip_holders_come_from_the_addresses_each_controller_holds():
    inventory = example_inventory()
    addresses = {"ubuntu1": ["10.10.0.11", "10.10.0.100"], "ubuntu2": ["10.10.0.12", "10.100.0.100"],
                 "ubuntu3": ["10.10.0.13", "10.10.0.100"], "broken": "not a list"}
    assert topology.vip_holders(inventory, addresses) == {"internal": ["ubuntu1", "ubuntu3"], "external": ["ubuntu2"]}


def test_the_galera_writer_is_the_first_synced_controller_in_inventory_order():
    inventory = example_inventory()
    synced = {"running": True, "synced": True, "wsrep_local_state": "4", "wsrep_cluster_status": "Primary"}
    statuses = {"ubuntu1": {"running": False, "synced": False},
                "ubuntu2": dict(synced, synced=False, wsrep_local_state="2"),
                "ubuntu3": synced}
    assert topology.galera_view(inventory, statuses) == {
        "ubuntu1": {"state": "down", "primary": False, "writer": False},
        "ubuntu2": {"state": "Donor/Desynced", "primary": True, "writer": False},
        "ubuntu3": {"state": "Synced", "primary": True, "writer": True}}
    assert "ubuntu1" not in topology.galera_view(inventory, {"ubuntu1": None, "ubuntu2": synced})
