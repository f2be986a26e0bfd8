"""The roles, their features and the hosts that have them: one place (brinelib.names), read by the
inventory check, top.sls, the maps, the runners and the lab."""

import brine_inventory
import pytest
from brine_testlib import REPO, example_inventory
from inventory_mistakes import mutate

from brinelib import names
from brinelib.errors import CommandExecutionError


def test_a_host_runs_the_common_features_then_its_roles_in_the_tables_order_each_once():
    assert names.features([]) == ["brine", "baseline", "network"]
    assert names.features(["deployer", "controller", "compute", "network"]) == [
        "brine", "baseline", "network", "nova_console", "galera", "haproxy", "keepalived", "rabbitmq", "memcached",
        "keystone"]
    assert names.features(["storage", "bootstrap"]) == ["brine", "baseline", "network", "bootstrap", "storage"]


def test_roles_the_check_refuses_add_no_feature_here():
    assert names.features(["controler"]) == names.features([])
    assert names.features("controller") == names.features([])
    assert names.features(None) == names.features([])
    assert names.features([{"controller": 1}, "registry"]) == ["brine", "baseline", "network", "registry"]


def test_every_known_role_has_features_and_every_feature_is_a_state_directory():
    assert set(names.IMPLICIT_ROLES) <= set(names.KNOWN_ROLES) == set(names.ROLE_FEATURES)
    for feature in names.COMMON_FEATURES + sum(names.ROLE_FEATURES.values(), ()):
        assert (REPO / "salt" / feature).is_dir(), feature


def test_the_inventory_check_knows_exactly_the_roles_of_the_table():
    inventory = example_inventory()
    for role in names.KNOWN_ROLES:
        with_role = mutate(inventory, lambda inv: inv["hosts"]["ubuntu1"].update(roles=[role]))
        assert not [e for e in brine_inventory.check(with_role) if "unknown role" in str(e)], role
    misspelt = mutate(inventory, lambda inv: inv["hosts"]["ubuntu1"].update(roles=["controler"]))
    assert [str(e) for e in brine_inventory.check(misspelt) if "unknown role" in str(e)] == [
        f"brine:hosts:ubuntu1:roles:0: unknown role 'controler'; known roles: {', '.join(names.ROLE_FEATURES)}"]


def test_the_execution_module_gives_top_sls_the_same_features():
    assert brine_inventory.features(["compute"]) == names.features(["compute"])
    assert brine_inventory.features() == list(names.COMMON_FEATURES)


def test_controllers_are_the_hosts_with_the_controller_role_in_inventory_order(inventory):
    assert names.controllers(inventory) == ["ubuntu1", "ubuntu2", "ubuntu3"]
    reordered = {"hosts": {"c": {"roles": ["controller"]}, "a": {"roles": ["compute"]},
                           "b": {"roles": ["storage", "controller"]}, "d": {"roles": []}, "e": {}}}
    assert names.controllers(reordered) == ["c", "b"]
    assert names.hosts_with_role(reordered, "compute") == ["a"]
    assert names.controllers({"hosts": {7: {"roles": ("controller",)}}}) == ["7"]


def test_a_malformed_inventory_has_the_controllers_it_can_show():
    for inventory in ({}, None, [], "hosts", {"hosts": None}, {"hosts": ["ubuntu1"]}, {"hosts": "controller"}):
        assert names.controllers(inventory) == [], inventory
    hosts = {"roles-string": {"roles": "controller"}, "roles-mapping": {"roles": {"controller": True}},
             "no-mapping": ["controller"], "none": None, "roles-none": {"roles": None},
             "ok": {"roles": ["controller"]}}
    assert names.controllers({"hosts": hosts}) == ["ok"]


def test_the_execution_module_gives_the_maps_the_same_controllers(inventory):
    assert brine_inventory.controllers(inventory) == names.controllers(inventory) == ["ubuntu1", "ubuntu2", "ubuntu3"]
    no_controller = mutate(inventory, lambda inv: [host.update(roles=["compute"]) for host in inv["hosts"].values()
                                                   if "controller" in host.get("roles", [])])
    assert brine_inventory.controllers(no_controller) == []
    broken = mutate(inventory, lambda inv: inv["hosts"]["ubuntu1"].update(roles=["controler"]))
    with pytest.raises(CommandExecutionError, match="unknown role 'controler'"):
        brine_inventory.controllers(broken)


def test_network_address_is_the_inventorys_or_none():
    inventory = {"hosts": {"a": {"networks": {"management": {"address": "10.0.0.1"}, "storage": {}}},
                           "b": "not a mapping"}}
    assert names.network_address(inventory, "a", "management") == "10.0.0.1"
    assert names.network_address(inventory, "a", "storage") is None
    assert names.network_address(inventory, "a", "external") is None
    assert names.network_address(inventory, "b", "management") is None
    assert names.network_address(inventory, "c", "management") is None
