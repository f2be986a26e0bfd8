"""The inventory checker: every kind of mistake gives one error naming its pillar path."""

import copy

import pytest

import brine_inventory as inv
from inventory_mistakes import MISTAKES, mutate
from brine_testlib import example_inventory


def errors_of(inventory):
    return [str(e) for e in inv.check(inventory)]


def test_example_lab_is_valid(inventory):
    assert inv.check(inventory) == []


@pytest.mark.parametrize(
    "spelling",
    ["52:54:00:0A:01:02", "52-54-00-0a-01-02", "5254.000a.0102", "5254000A0102", " 52:54:00:0a:01:02 "],
)
def test_mac_spellings_normalise_to_one_form(spelling):
    assert inv.canonical_mac(spelling) == "52:54:00:0a:01:02"


@pytest.mark.parametrize(
    "bad, why",
    [
        ("52:54:00:0a:01:02:03", "not a MAC"),  # seven octets
        ("52:54:00:0a:01", "not a MAC"),
        ("52:54:00:0a:01:zz", "not a MAC"),
        ("00:00:00:00:00:00", "all-zero"),
        ("01:00:5e:00:00:01", "multicast"),
        ("02:00:00:00:00:00:00:01", "64-bit"),
        (525400, "must be a string"),
    ],
)
def test_bad_macs_are_refused_with_a_reason(bad, why):
    with pytest.raises(ValueError, match=why):
        inv.canonical_mac(bad)


@pytest.mark.parametrize("kind", sorted(MISTAKES))
def test_each_mistake_gives_one_error_naming_its_path(inventory, kind):
    break_it, path, words = MISTAKES[kind]
    errors = errors_of(mutate(inventory, break_it))
    assert len(errors) == 1, errors
    assert errors[0].startswith(path + ": "), errors
    assert words in errors[0], errors


def test_all_mistakes_at_once_are_all_reported(inventory):
    broken = copy.deepcopy(inventory)
    for kind in ("bad MAC", "unknown role", "VLAN out of range", "bond member not a NIC"):
        MISTAKES[kind][0](broken)
    paths = [e.path for e in inv.check(broken)]
    assert paths == [
        "brine:networks:tunnel:vlan",
        "brine:hosts:ubuntu1:roles:3",
        "brine:hosts:ubuntu1:dualbond:nics:1",
        "brine:hosts:ubuntu2:nics:eth3:mac",
    ]


@pytest.mark.parametrize(
    "value, path",
    [
        ([], "brine"),
        ({"hosts": {"a": {}}}, "brine:networks"),
        ({"networks": {"m": {"cidr": "10.0.0.0/24"}}}, "brine:hosts"),
        ({"networks": {"m": {"cidr": "10.0.0.1/24"}}, "hosts": {"a": {}}}, "brine:networks:m:cidr"),
        ({"networks": {"m": {"cidr": "10.0.0.0/24"}}, "hosts": {"a": "x"}}, "brine:hosts:a"),
        ({"networks": {"m": {"cidr": "10.0.0.0/24"}}, "hosts": {"a": {"nics": {"e0": {}}}}}, "brine:hosts:a:nics:e0:mac"),
        ({"networks": {"m": {"cidr": "10.0.0.0/24"}}, "hosts": {"a": {}}, "colour": 1}, "brine:colour"),
    ],
)
def test_malformed_structure_is_named(value, path):
    errors = inv.check(value)
    assert [e.path for e in errors] == [path], errors


def test_normalise_canonicalises_and_fills_defaults(inventory):
    inventory["hosts"]["ubuntu1"]["nics"]["eth2"]["mac"] = "5254.0010.0102"
    del inventory["hosts"]["ubuntu1"]["dualbond"]["miimon"]
    norm = inv.normalise(inventory)
    host = norm["hosts"]["ubuntu1"]
    assert host["nics"]["eth2"]["mac"] == "52:54:00:10:01:02"
    assert host["roles"] == ["controller", "compute", "storage", "network"]
    assert host["dualbond"]["miimon"] == 100
    assert norm["hosts"]["bootstrap"]["roles"] == ["bootstrap", "registry", "deployer", "network"]
    assert norm["networks"]["external"]["mtu"] == 1500
    # the input is not modified
    assert inventory["hosts"]["ubuntu1"]["nics"]["eth2"]["mac"] == "5254.0010.0102"


def test_normalise_refuses_an_invalid_inventory(inventory):
    MISTAKES["bad MAC"][0](inventory)
    with pytest.raises(ValueError, match="brine:hosts:ubuntu2:nics:eth3:mac"):
        inv.normalise(inventory)


@pytest.mark.parametrize("name", ["eth0", "enp3s0f0np0", "br-mgmt.10", "a" * 15])
def test_valid_interface_names(name):
    assert inv.interface_name_problem(name) is None


@pytest.mark.parametrize("name", ["", "a" * 16, "eth/0", "eth 0", "eth0:1", ".", "..", "éth0", None])
def test_invalid_interface_names(name):
    assert inv.interface_name_problem(name)


@pytest.mark.parametrize(
    "name", ["e$(reboot)", "eth0;reboot", "eth0|x", "eth0&", "`reboot`", "eth(0)", "eth\\0", "-eth0", "...", ".eth0",
             "eth'0", 'eth"0', "eth*", "eth0>x", "eth#0", "eth~0"],
)
def test_interface_names_with_shell_characters_are_refused_with_their_path(inventory, name):
    """The kernel accepts these; the inventory does not: the names reach ifupdown lines sh runs."""
    inventory["hosts"]["bootstrap"]["nics"][name] = {"mac": "52:54:00:10:00:77"}
    assert errors_of(inventory) == [
        f"brine:hosts:bootstrap:nics:{name}: interface name {name!r} may only hold letters, digits, '_', '.' and '-', "
        "and must start with a letter or digit"
    ]


def test_load_balancer_keys_are_not_needed_without_controllers(inventory):
    """vrid, the VIP networks' addresses and the two secrets are the controllers' needs only."""
    for host in inventory["hosts"].values():
        host["roles"] = [r for r in host["roles"] if r != "controller"]
    for vip in inventory["vips"].values():
        vip.pop("vrid")
    inventory["secrets"].pop("keepalived_auth")
    inventory["hosts"]["ubuntu3"]["networks"].pop("external")
    assert errors_of(inventory) == []


def test_one_controller_is_allowed(inventory):
    """A single controller holds the VIPs alone (no failover): valid, documented."""
    for name in ("ubuntu2", "ubuntu3"):
        inventory["hosts"][name]["roles"].remove("controller")
    assert errors_of(inventory) == []


@pytest.mark.parametrize("vrid", [0, -1, 256, "51", True, 1.5])
def test_vrids_outside_1_to_255_are_refused(inventory, vrid):
    inventory["vips"]["internal"]["vrid"] = vrid
    assert errors_of(inventory) == [f"brine:vips:internal:vrid: VRRP virtual router id {vrid!r} is out of range 1-255"]


def test_vrids_1_and_255_and_explicit_priorities_are_valid(inventory):
    inventory["vips"]["internal"].update(vrid=1, priorities={"ubuntu1": 1, "ubuntu3": 254})
    inventory["vips"]["external"]["vrid"] = 255
    assert errors_of(inventory) == []


def test_a_controller_without_an_address_on_the_network_is_named(inventory):
    """Attached without an address (DHCP) is not enough: keepalived needs the unicast source."""
    del inventory["hosts"]["ubuntu2"]["networks"]["management"]["address"]
    assert errors_of(inventory) == [
        "brine:hosts:ubuntu2:networks:management:address: missing: controller ubuntu2 needs an address on network "
        "'management', the network of VIP 'internal' (keepalived's unicast source)"
    ]


def _controllers(inventory, count):
    names = ["ubuntu1", "ubuntu2", "ubuntu3"]
    for name in names[count:]:
        inventory["hosts"][name]["roles"] = ["compute", "storage"]
    return inventory


@pytest.mark.parametrize("count, ok", [(0, True), (1, True), (2, False), (3, True)])
def test_galera_controller_count(inventory, count, ok):
    """Galera: 1 controller runs alone, 2 cannot keep quorum (refused), 3 or more can."""
    errors = inv.check(_controllers(inventory, count))
    assert (errors == []) is ok, errors


def test_galera_secrets_only_needed_with_controllers(inventory):
    _controllers(inventory, 0)
    for name in ("mariadb_root_password", "galera_sst_password", "galera_monitor_password"):
        inventory["secrets"].pop(name)
    assert inv.check(inventory) == []


def test_galera_defaults_in_the_normalised_inventory(inventory):
    assert inv.normalise(inventory)["galera"] == {"cluster_name": "brine", "sst_method": "mariabackup"}
    inventory["galera"] = {"cluster_name": "lab-db"}
    assert inv.normalise(inventory)["galera"]["cluster_name"] == "lab-db"


# --------------------------------------------------------------------------- once per run


@pytest.fixture
def salt_run(monkeypatch):
    """brine_inventory as the loader runs it: one __context__ per Salt run; counts the checks."""
    import brine_inventory as module

    calls = []
    real = module.check
    monkeypatch.setattr(module, "__context__", {}, raising=False)
    monkeypatch.setattr(module, "check", lambda inv: calls.append(1) or real(inv))
    return module, calls


def test_one_run_checks_the_inventory_once_however_often_it_is_asked(salt_run):
    module, calls = salt_run
    inv = example_inventory()
    for _ in range(5):
        assert module.validate(inventory=inv)["valid"] is True
        assert "ubuntu1" in module.get(inventory=inv)["hosts"]
        module.host("ubuntu2", inventory=inv)
    assert calls == [1]


def test_a_changed_inventory_is_checked_again(salt_run):
    module, calls = salt_run
    inv = example_inventory()
    module.validate(inventory=inv)
    inv["hosts"]["ubuntu1"]["nics"]["eth2"]["mac"] = inv["hosts"]["ubuntu2"]["nics"]["eth2"]["mac"]
    assert module.validate(inventory=inv)["valid"] is False
    assert len(calls) == 2
    with pytest.raises(module.CommandExecutionError, match="eth2"):
        module.get(inventory=inv)
    assert len(calls) == 2


def test_callers_get_copies_of_the_memoised_model(salt_run):
    module, _ = salt_run
    inv = example_inventory()
    first = module.get(inventory=inv)
    first["hosts"]["ubuntu1"]["roles"].append("tampered")
    assert "tampered" not in module.get(inventory=inv)["hosts"]["ubuntu1"]["roles"]


def test_the_same_pillar_object_is_neither_copied_nor_hashed_again(salt_run, monkeypatch):
    module, calls = salt_run
    pillar = {"brine": example_inventory()}
    monkeypatch.setattr(module, "__pillar__", pillar, raising=False)
    plain_calls = []
    real_plain = module._plain
    monkeypatch.setattr(module, "_plain",
                        lambda value: (value is pillar["brine"] and plain_calls.append(1)) or real_plain(value))
    for _ in range(5):
        assert module.validate()["valid"] is True
        assert "ubuntu1" in module.get()["hosts"]
    assert calls == [1]
    assert len(plain_calls) == 1


def test_a_refreshed_pillar_is_checked_again_only_when_it_differs(salt_run, monkeypatch):
    module, calls = salt_run
    monkeypatch.setattr(module, "__pillar__", {"brine": example_inventory()}, raising=False)
    module.validate()
    monkeypatch.setattr(module, "__pillar__", {"brine": example_inventory()}, raising=False)
    assert module.validate()["valid"] is True
    assert calls == [1]
    changed = example_inventory()
    changed["hosts"]["ubuntu1"]["nics"]["eth2"]["mac"] = changed["hosts"]["ubuntu2"]["nics"]["eth2"]["mac"]
    monkeypatch.setattr(module, "__pillar__", {"brine": changed}, raising=False)
    assert module.validate()["valid"] is False
    assert calls == [1, 1]
