"""brinelib.kolla: the kolla-ansible release table, the interfaces as the dual-bond plan names
them, globals.yml and the multinode inventory (docs/kolla.md)."""

import pytest
from brine_testlib import example_inventory

import brine_inventory
from brinelib import kolla
from brinelib.errors import InventoryProblem

# The table as the docs state it: release -> (pin, Kolla deploys Ceph, Debian host suites, Python).
EXPECTED_RELEASES = {
    "train": ("9.3.2", True, ("buster",), ((3, 6), (3, 7))),
    "ussuri": ("10.4.0", False, ("buster",), ((3, 6), (3, 7))),
    "victoria": ("11.4.0", False, ("buster",), ((3, 6), (3, 8))),
    "wallaby": ("12.8.0", False, ("buster", "bullseye"), ((3, 6), (3, 8))),
    "xena": ("13.9.0", False, ("bullseye",), ((3, 6), (3, 8))),
    "yoga": ("14.11.0", False, ("bullseye",), ((3, 6), (3, 9))),
    "zed": ("15.6.0", False, ("bullseye",), ((3, 6), (3, 9))),
    "2023.1": ("16.7.0", False, ("bullseye", "bookworm"), ((3, 6), (3, 9))),
    "2023.2": ("17.9.0", False, ("bullseye", "bookworm"), ((3, 8), (3, 10))),
    "2024.1": ("18.8.0", False, ("bullseye", "bookworm"), ((3, 8), (3, 11))),
    "2024.2": ("19.8.0", False, ("bookworm",), ((3, 10), (3, 11))),
    "2025.1": ("20.5.0", False, ("bookworm",), ((3, 10), (3, 12))),
    "2025.2": ("21.2.0", False, ("bookworm",), ((3, 11), (3, 12))),
    "2026.1": ("22.1.0", False, ("bookworm", "trixie"), ((3, 11), (3, 12))),
}

REFERENCE = {
    "network_interface": "br-eth2.10",
    "api_interface": "br-eth2.10",
    "tunnel_interface": "br-eth3.200",
    "neutron_external_interface": "br-eth2.100",
    "kolla_external_vip_interface": "br-eth2.100",
}

HOST_VARS = "ansible_user=brine ansible_become=true"


def inventory_with(release=None, suite=None, **openstack):
    raw = example_inventory()
    if release is not None:
        raw["openstack"]["release"] = release
    if suite is not None:
        raw["services"]["install"]["suite"] = suite
    raw["openstack"].update(openstack)
    return raw


def normalised(raw):
    return brine_inventory.normalise(raw)


def for_release(release):
    """A checked inventory of ``release`` whose hosts run a Debian suite the release supports."""
    return normalised(inventory_with(release, suite=kolla.RELEASES[release]["debian"][-1]))


def sections(text):
    """The multinode INI as {section: [lines]} in file order."""
    out, current = {}, None
    for line in text.splitlines():
        if line.startswith("["):
            current = line.strip("[]")
            out[current] = []
        elif line:
            out[current].append(line)
    return out


def rename_bond_nics(raw, host, first, second):
    """Give ``host``'s dual bond NICs other names (and so other interface names)."""
    entry = raw["hosts"][host]
    old = entry["dualbond"]["nics"]
    renames = dict(zip(old, (first, second)))
    entry["nics"] = {renames.get(name, name): nic for name, nic in entry["nics"].items()}
    entry["dualbond"]["nics"] = [first, second]
    for attachment in entry["networks"].values():
        attachment["nic"] = renames.get(attachment["nic"], attachment["nic"])


# --------------------------------------------------------------------------- the release table


@pytest.mark.parametrize("name", sorted(EXPECTED_RELEASES))
def test_every_release_row_pins_its_series_and_states_its_facts(name):
    pin, kolla_ceph, debian, python = EXPECTED_RELEASES[name]
    row = kolla.release({"openstack": {"release": name}})
    assert row == {"pin": pin, "kolla_ceph": kolla_ceph, "debian": debian, "python": python,
                   "release": name, "major": int(pin.split(".")[0])}
    assert kolla.pip_requirement({"openstack": {"release": name}}) == f"kolla-ansible=={pin}"


def test_the_table_holds_exactly_the_documented_releases():
    assert list(kolla.RELEASES) == list(EXPECTED_RELEASES)


def test_the_default_release_is_the_normalised_inventorys():
    assert kolla.release({})["release"] == kolla.DEFAULT_RELEASE == "2024.1"
    assert normalised(example_inventory())["openstack"]["release"] == kolla.DEFAULT_RELEASE


@pytest.mark.parametrize(
    "spelling, canonical",
    [
        ("2024.1", "2024.1"),
        (2024.1, "2024.1"),  # YAML reads an unquoted 2024.1 as a float
        (2023.2, "2023.2"),
        ("Caracal", "2024.1"),
        ("antelope", "2023.1"),
        ("BOBCAT", "2023.2"),
        ("gazpacho", "2026.1"),
        (" zed ", "zed"),
        ("Train", "train"),
        ("yoga", "yoga"),
    ],
)
def test_release_spellings_become_kollas_own(spelling, canonical):
    assert kolla.canonical_release(spelling) == canonical
    assert kolla.release({"openstack": {"release": spelling}})["release"] == canonical


@pytest.mark.parametrize("value", ["2019.3", "2022.2", "stein", "", "2024.3", 2024, True, None, ["2024.1"]])
def test_unknown_releases_are_refused_naming_the_key_and_the_known_ones(value):
    assert kolla.canonical_release(value) is None
    with pytest.raises(InventoryProblem) as exc:
        kolla.release({"openstack": {"release": value}})
    assert str(exc.value) == (f"brine:openstack:release: {value!r} is not a release Brine knows "
                              f"(known: {', '.join(EXPECTED_RELEASES)})")


def test_check_accepts_the_example_and_every_known_spelling():
    assert kolla.check(example_inventory()) == []
    assert kolla.check(kolla_deployed(inventory_with("Caracal"))) == []
    assert kolla.check({"openstack": "not a mapping"}) == []  # the inventory check names that one


def kolla_deployed(raw):
    raw["openstack"]["console"]["deployment"] = "kolla"
    return raw


def test_check_refuses_a_release_without_a_pin_only_where_kolla_deploys():
    assert kolla.deployed_by_kolla(example_inventory()) is False
    assert kolla.deployed_by_kolla(kolla_deployed(example_inventory())) is True
    assert kolla.deployed_by_kolla({"openstack": {"console": "kolla"}}) is False
    assert kolla.check(inventory_with("icehouse")) == []  # packages: nova_console's business
    assert kolla.check(kolla_deployed(inventory_with("icehouse"))) == [
        ("openstack:release", f"'icehouse' is not a release Brine knows (known: {', '.join(EXPECTED_RELEASES)})")]


def test_check_refuses_unknown_releases_and_kolla_keys():
    raw = kolla_deployed(inventory_with("2019.3", kolla={"tunnel_network": "tunnel", "bridge": "br-ex",
                                                         "neutron_external_network": "provider"}))
    assert kolla.check(raw) == [
        ("openstack:release", f"'2019.3' is not a release Brine knows (known: {', '.join(EXPECTED_RELEASES)})"),
        ("openstack:kolla:bridge", "unknown key; expected one of tunnel_network, neutron_external_network"),
        ("openstack:kolla:neutron_external_network", "'provider' is not one of the inventory's networks"),
    ]
    assert kolla.check(inventory_with(kolla=["tunnel"])) == [("openstack:kolla", "must be a mapping, got list")]


def test_the_inventory_check_names_a_non_mapping_openstack_kolla():
    errors = [str(e) for e in brine_inventory.check(inventory_with(kolla="tunnel"))]
    assert errors == ["brine:openstack:kolla: must be a mapping, got str"]


# --------------------------------------------------------------------------- interfaces


@pytest.mark.parametrize("host", ["ubuntu1", "ubuntu3"])  # ubuntu3's dual bond is OVS: the same names
def test_interfaces_are_the_dual_bond_plans_vlan_interfaces(host):
    assert kolla.interfaces_for(normalised(example_inventory()), host) == REFERENCE


def test_interfaces_work_on_the_raw_inventory_too():
    assert kolla.interfaces_for(example_inventory(), "ubuntu2") == REFERENCE


def test_an_untagged_network_is_the_bridge_itself():
    raw = example_inventory()
    del raw["networks"]["tunnel"]["vlan"]
    assert kolla.interfaces_for(normalised(raw), "ubuntu1")["tunnel_interface"] == "br-eth3"


def test_openstack_kolla_chooses_the_tunnel_and_neutron_external_networks():
    inv = normalised(inventory_with(kolla={"tunnel_network": "management", "neutron_external_network": "tunnel"}))
    assert kolla.interfaces_for(inv, "ubuntu1") == {
        **REFERENCE, "tunnel_interface": "br-eth2.10", "neutron_external_interface": "br-eth3.200"}


def test_without_an_external_vip_there_is_no_external_interface():
    raw = example_inventory()
    del raw["vips"]["external"]
    raw["acme"]["enabled"] = False
    assert kolla.interfaces_for(normalised(raw), "ubuntu1") == {
        "network_interface": "br-eth2.10", "api_interface": "br-eth2.10", "tunnel_interface": "br-eth3.200"}


def test_a_host_without_a_dual_bond_or_unknown_is_refused():
    inv = normalised(example_inventory())
    with pytest.raises(InventoryProblem, match=r"^brine:hosts:bootstrap:dualbond: missing; this host has no dual bond$"):
        kolla.interfaces_for(inv, "bootstrap")
    with pytest.raises(InventoryProblem, match=r"^brine:hosts:ubuntu9: no such host$"):
        kolla.interfaces_for(inv, "ubuntu9")


def test_no_internal_vip_is_refused():
    raw = example_inventory()
    del raw["vips"]["internal"]
    with pytest.raises(InventoryProblem, match=r"^brine:vips:internal: missing: kolla_internal_vip_address"):
        kolla.interfaces_for(raw, "ubuntu1")


def test_the_reference_host_is_the_first_controller():
    raw = example_inventory()
    assert kolla.reference_host(raw) == "ubuntu1"
    raw["hosts"] = {name: raw["hosts"][name] for name in ("bootstrap", "ubuntu3", "ubuntu1", "ubuntu2")}
    assert kolla.reference_host(raw) == "ubuntu3"
    for name in ("ubuntu1", "ubuntu2", "ubuntu3"):
        raw["hosts"][name]["roles"] = ["compute"]
    with pytest.raises(InventoryProblem, match=r"^brine:hosts: no host has the controller role"):
        kolla.reference_host(raw)


# --------------------------------------------------------------------------- globals.yml


def test_globals_of_the_example_lab():
    inv = normalised(example_inventory())
    assert kolla.globals_yml(inv, kolla.interfaces_for(inv, kolla.reference_host(inv))) == {
        "kolla_base_distro": "debian",
        "openstack_release": "2024.1",
        "kolla_internal_vip_address": "10.10.0.100",
        "kolla_external_vip_address": "10.100.0.100",
        "keepalived_virtual_router_id": "51",
        "kolla_internal_fqdn": "internal.lab.home.arpa",
        "kolla_external_fqdn": "cloud.lab.home.arpa",
        **REFERENCE,
        "neutron_plugin_agent": "openvswitch",
        "docker_registry": "10.10.0.5:5000",
        "kolla_enable_tls_external": "yes",
        "enable_cinder": "yes",
    }


def test_globals_carry_the_canonical_release():
    inv = normalised(inventory_with("Bobcat"))
    assert kolla.globals_yml(inv, REFERENCE)["openstack_release"] == "2023.2"


def test_enable_ceph_only_where_kolla_deploys_ceph():
    train = for_release("train")
    assert kolla.globals_yml(train, REFERENCE)["enable_ceph"] == "yes"
    raw = inventory_with("train", suite="buster")
    for name in ("ubuntu1", "ubuntu2", "ubuntu3"):
        del raw["hosts"][name]["disks"]
    assert kolla.globals_yml(normalised(raw), REFERENCE)["enable_ceph"] == "no"


@pytest.mark.parametrize("name", [name for name, row in EXPECTED_RELEASES.items() if not row[1]])
def test_enable_ceph_is_never_emitted_after_train(name):
    out = kolla.globals_yml(for_release(name), REFERENCE)
    assert out["openstack_release"] == name
    assert not [key for key in out if "ceph" in key]


def test_hosts_of_a_debian_suite_the_release_does_not_support_are_refused():
    with pytest.raises(InventoryProblem) as exc:
        kolla.globals_yml(normalised(inventory_with("train")), REFERENCE)
    assert str(exc.value) == ("brine:openstack:release: kolla-ansible 9.3.2 (train) supports Debian buster hosts, "
                              "not bookworm (brine:services:install:suite)")
    raw = inventory_with("2024.1")
    del raw["services"]["install"]["suite"]  # the default suite: bookworm
    assert kolla.globals_yml(normalised(raw), REFERENCE)["openstack_release"] == "2024.1"


def test_tls_external_follows_acme():
    raw = example_inventory()
    raw["acme"]["enabled"] = False
    assert kolla.globals_yml(normalised(raw), REFERENCE)["kolla_enable_tls_external"] == "no"


def test_no_storage_host_means_no_cinder():
    raw = example_inventory()
    for name in ("ubuntu1", "ubuntu2", "ubuntu3"):
        raw["hosts"][name]["roles"] = ["controller", "compute"]
    assert kolla.globals_yml(normalised(raw), REFERENCE)["enable_cinder"] == "no"


def test_the_registry_comes_from_the_registry_host_if_there_is_one():
    raw = example_inventory()
    raw["hosts"]["bootstrap"]["roles"] = ["bootstrap", "deployer"]
    assert "docker_registry" not in kolla.globals_yml(normalised(raw), REFERENCE)
    raw["hosts"]["ubuntu2"]["roles"].append("registry")
    assert kolla.globals_yml(normalised(raw), REFERENCE)["docker_registry"] == "10.10.0.12:5000"
    raw["hosts"]["bootstrap"]["roles"].append("registry")
    with pytest.raises(InventoryProblem, match=r"^brine:hosts:ubuntu2:roles: a second registry host \(bootstrap is one\)"):
        kolla.globals_yml(normalised(raw), REFERENCE)


def test_a_registry_host_without_an_address_on_the_api_network_is_refused():
    raw = example_inventory()
    del raw["hosts"]["bootstrap"]["networks"]["management"]
    with pytest.raises(InventoryProblem, match=r"^brine:hosts:bootstrap:networks:management:address: missing"):
        kolla.globals_yml(raw, REFERENCE)


def test_without_an_external_vip_the_internal_one_serves_both():
    raw = example_inventory()
    del raw["vips"]["external"]
    raw["acme"]["enabled"] = False
    inv = normalised(raw)
    out = kolla.globals_yml(inv, kolla.interfaces_for(inv, "ubuntu1"))
    assert (out["kolla_external_vip_address"], out["kolla_external_fqdn"]) == ("10.10.0.100", "internal.lab.home.arpa")
    assert "kolla_external_vip_interface" not in out and "neutron_external_interface" not in out
    assert out["kolla_enable_tls_external"] == "no"


def test_a_vip_without_fqdn_is_named_by_its_address():
    raw = example_inventory()
    del raw["vips"]["internal"]["fqdn"]
    assert kolla.globals_yml(normalised(raw), REFERENCE)["kolla_internal_fqdn"] == "10.10.0.100"


def test_a_vip_without_a_usable_address_is_refused():
    raw = example_inventory()
    raw["vips"]["external"]["address"] = "cloud"
    with pytest.raises(InventoryProblem, match=r"^brine:vips:external:address: 'cloud' is not an IP address$"):
        kolla.globals_yml(raw, REFERENCE)


@pytest.mark.parametrize(
    "option, key",
    [
        ("api_interface", "brine:vips:internal:network"),
        ("tunnel_interface", "brine:openstack:kolla:tunnel_network"),
        ("neutron_external_interface", "brine:openstack:kolla:neutron_external_network"),
        ("kolla_external_vip_interface", "brine:vips:external:network"),
    ],
)
def test_an_interface_kolla_needs_but_not_given_is_refused_naming_the_key(option, key):
    interfaces = {k: v for k, v in REFERENCE.items() if k != option}
    with pytest.raises(InventoryProblem) as exc:
        kolla.globals_yml(normalised(example_inventory()), interfaces)
    assert str(exc.value).startswith(f"{key}: kolla's {option} is on network ")


# --------------------------------------------------------------------------- multinode inventory

EXAMPLE_TOP = {
    group: [f"{host} ansible_host=10.10.0.1{host[-1]} {HOST_VARS}" for host in ("ubuntu1", "ubuntu2", "ubuntu3")]
    for group in ("control", "network", "compute", "storage", "monitoring")
}
EXAMPLE_TOP["deployment"] = [f"bootstrap ansible_host=10.10.0.5 {HOST_VARS} ansible_connection=local"]

EXAMPLE_CHILDREN_2024_1 = [
    ("baremetal", ["control", "network", "compute", "storage", "monitoring"]),
    ("common", ["control", "network", "compute", "storage", "monitoring"]),
    ("tls-backend", ["control", "network"]),
    ("loadbalancer", ["network"]),
    ("cron", ["common"]), ("fluentd", ["common"]), ("kolla-logs", ["common"]), ("kolla-toolbox", ["common"]),
    ("mariadb", ["control"]), ("rabbitmq", ["control"]), ("memcached", ["control"]), ("keystone", ["control"]),
    ("glance", ["control"]), ("glance-api", ["glance"]),
    ("nova", ["control"]), ("nova-api", ["nova"]), ("nova-conductor", ["nova"]), ("nova-super-conductor", ["nova"]),
    ("nova-novncproxy", ["nova"]), ("nova-scheduler", ["nova"]), ("nova-spicehtml5proxy", ["nova"]),
    ("nova-compute-ironic", ["nova"]), ("nova-serialproxy", ["nova"]),
    ("placement", ["control"]), ("placement-api", ["placement"]),
    ("neutron", ["network"]), ("neutron-server", ["control"]), ("neutron-dhcp-agent", ["neutron"]),
    ("neutron-l3-agent", ["neutron"]), ("neutron-metadata-agent", ["neutron"]), ("neutron-bgp-dragent", ["neutron"]),
    ("neutron-infoblox-ipam-agent", ["neutron"]), ("neutron-metering-agent", ["neutron"]),
    ("ironic-neutron-agent", ["neutron"]), ("openvswitch", ["network", "compute"]),
    ("horizon", ["control"]), ("heat", ["control"]), ("heat-api", ["heat"]), ("heat-api-cfn", ["heat"]),
    ("heat-engine", ["heat"]),
    ("cinder", ["control"]), ("cinder-api", ["cinder"]), ("cinder-backup", ["storage"]),
    ("cinder-scheduler", ["cinder"]), ("cinder-volume", ["storage"]), ("iscsid", ["compute", "storage"]),
    ("tgtd", ["storage"]),
]


def test_multinode_of_the_example_lab():
    text = kolla.multinode_inventory(normalised(example_inventory()), "brine")
    found = sections(text)
    assert {group: found[group] for group in kolla.TOP_GROUPS} == EXAMPLE_TOP
    assert list(found)[:6] == list(kolla.TOP_GROUPS)
    assert [(name[:-len(":children")], lines) for name, lines in found.items() if name.endswith(":children")] \
        == EXAMPLE_CHILDREN_2024_1
    assert text.startswith("[control]\nubuntu1 ansible_host=10.10.0.11 ansible_user=brine ansible_become=true\n")
    assert text.endswith("[tgtd:children]\nstorage\n")


def test_multinode_follows_the_inventory_order():
    raw = example_inventory()
    raw["hosts"] = {name: raw["hosts"][name] for name in ("ubuntu3", "bootstrap", "ubuntu1", "ubuntu2")}
    found = sections(kolla.multinode_inventory(normalised(raw), "brine"))
    assert [line.split()[0] for line in found["control"]] == ["ubuntu3", "ubuntu1", "ubuntu2"]


def test_multinode_of_train_has_kollas_ceph_and_haproxy_groups():
    found = sections(kolla.multinode_inventory(for_release("train"), "brine"))
    for group, children in [("ceph", ["control"]), ("ceph-osd", ["storage"]), ("ceph-mon", ["ceph"]),
                            ("haproxy", ["network"]), ("chrony-server", ["haproxy"]), ("outward-rabbitmq", ["control"])]:
        assert found[f"{group}:children"] == children
    for group in ("loadbalancer", "common", "cron", "tls-backend"):
        assert f"{group}:children" not in found


def test_multinode_of_2026_1_puts_cinder_volume_under_cinder():
    found = sections(kolla.multinode_inventory(for_release("2026.1"), "brine"))
    assert found["cinder-volume:children"] == found["cinder-backup:children"] == ["cinder"]
    assert "kolla-logs:children" not in found and "outward-rabbitmq:children" not in found
    assert not [name for name in found if name.startswith("ceph")]


def test_multinode_without_storage_has_no_cinder_groups():
    raw = example_inventory()
    for name in ("ubuntu1", "ubuntu2", "ubuntu3"):
        raw["hosts"][name]["roles"] = ["controller", "compute"]
    found = sections(kolla.multinode_inventory(normalised(raw), "brine"))
    assert found["storage"] == []
    assert not [name for name in found if name.startswith(("cinder", "iscsid", "tgtd"))]


def test_multinode_without_a_deployer_has_an_empty_deployment_group():
    raw = example_inventory()
    raw["hosts"]["bootstrap"]["roles"] = ["bootstrap", "registry"]
    assert sections(kolla.multinode_inventory(normalised(raw), "brine"))["deployment"] == []


def test_a_host_whose_interfaces_differ_gets_its_own():
    raw = example_inventory()
    rename_bond_nics(raw, "ubuntu2", "eth4", "eth5")
    found = sections(kolla.multinode_inventory(normalised(raw), "brine"))
    own = ("network_interface=br-eth4.10 api_interface=br-eth4.10 tunnel_interface=br-eth5.200 "
           "neutron_external_interface=br-eth4.100 kolla_external_vip_interface=br-eth4.100")
    for group in ("control", "network", "compute", "storage", "monitoring"):
        assert found[group][1] == f"ubuntu2 ansible_host=10.10.0.12 {HOST_VARS} {own}"
        assert found[group][0] == f"ubuntu1 ansible_host=10.10.0.11 {HOST_VARS}"


def compute_host(raw, networks):
    raw["hosts"]["compute4"] = {
        "roles": ["compute"],
        "nics": {"eth2": {"mac": "52:54:00:10:04:02"}, "eth3": {"mac": "52:54:00:10:04:03"}},
        "dualbond": {"nics": ["eth2", "eth3"]},
        "networks": {name: attachment for name, attachment in
                     {"management": {"address": "10.10.0.14", "nic": "eth2"},
                      "tunnel": {"address": "10.200.0.14", "nic": "eth3"}}.items() if name in networks},
    }
    return raw


def test_a_compute_host_needs_no_external_network():
    raw = compute_host(example_inventory(), ("management", "tunnel"))
    found = sections(kolla.multinode_inventory(normalised(raw), "brine"))
    assert found["compute"][-1] == f"compute4 ansible_host=10.10.0.14 {HOST_VARS}"
    assert "compute4" not in " ".join(found["network"])


def test_a_compute_host_without_the_tunnel_network_is_refused():
    raw = compute_host(example_inventory(), ("management",))
    with pytest.raises(InventoryProblem) as exc:
        kolla.multinode_inventory(normalised(raw), "brine")
    assert str(exc.value) == ("brine:hosts:compute4:networks:tunnel: missing on its dual bond: kolla's compute hosts "
                              "need tunnel_interface (network 'tunnel', brine:openstack:kolla:tunnel_network)")


def test_a_controller_without_the_external_network_is_refused():
    raw = example_inventory()
    del raw["hosts"]["ubuntu3"]["networks"]["external"]
    with pytest.raises(InventoryProblem, match=r"^brine:hosts:ubuntu3:networks:external: missing on its dual bond: "
                                               r"kolla's network hosts need neutron_external_interface"):
        kolla.multinode_inventory(raw, "brine")


def test_a_kolla_host_without_a_dual_bond_is_refused():
    raw = example_inventory()
    raw["hosts"]["bootstrap"]["roles"].append("compute")
    with pytest.raises(InventoryProblem, match=r"^brine:hosts:bootstrap:dualbond: missing"):
        kolla.multinode_inventory(normalised(raw), "brine")


@pytest.mark.parametrize("user", ["root", "two words", "", None])
def test_a_deploy_user_that_cannot_be_one_is_refused(user):
    with pytest.raises(InventoryProblem, match=r"^brine:baseline:deploy:user: "):
        kolla.multinode_inventory(normalised(example_inventory()), user)


def test_multinode_refuses_an_unknown_release():
    raw = inventory_with("2019.3")
    with pytest.raises(InventoryProblem, match=r"^brine:openstack:release: '2019.3' is not a release"):
        kolla.multinode_inventory(raw, "brine")
