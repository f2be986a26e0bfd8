"""brine_lb's pure core: keepalived.conf, haproxy.cfg and the haproxy.service drop-in from the
inventory (docs/loadbalancer.md)."""

import copy
import re

import pytest
import yaml
from brine_testlib import REPO, load_extension

import brine_inventory

lb = load_extension("modules", "brine_lb")
SECRETS = {"keepalived_auth": "vrrp-secret", "haproxy_stats_password": "stats-secret"}
CONTROLLERS = ["ubuntu1", "ubuntu2", "ubuntu3"]


@pytest.fixture
def inv(inventory):
    return brine_inventory.normalise(inventory)


def instance_blocks(text):
    return dict(re.findall(r"^vrrp_instance (\w+) \{\n(.*?)^\}", text, re.M | re.S))


# --------------------------------------------------------------------------- settings


def test_formula_defaults_are_the_modules_defaults():
    for name, defaults in (("keepalived", lb.KEEPALIVED_DEFAULTS), ("haproxy", lb.HAPROXY_DEFAULTS)):
        with open(REPO / "salt" / name / "defaults.yaml", encoding="utf-8") as fh:
            assert yaml.safe_load(fh)[name] == defaults, name


# --------------------------------------------------------------------------- VRRP instances


def test_each_controller_gets_one_instance_per_vip_on_its_vlan_device(inv):
    ubuntu1 = lb.vrrp_instances(inv, "ubuntu1")
    assert [(i["name"], i["vrid"], i["interface"], i["address"], i["prefix"]) for i in ubuntu1] == [
        ("external", 52, "br-eth2.100", "10.100.0.100", 32),
        ("internal", 51, "br-eth2.10", "10.10.0.100", 32),
    ]
    internal = {m: lb.vrrp_instances(inv, m)[1] for m in CONTROLLERS}
    assert {m: (i["source"], i["peers"]) for m, i in internal.items()} == {
        "ubuntu1": ("10.10.0.11", ["10.10.0.12", "10.10.0.13"]),
        "ubuntu2": ("10.10.0.12", ["10.10.0.11", "10.10.0.13"]),
        "ubuntu3": ("10.10.0.13", ["10.10.0.11", "10.10.0.12"]),
    }


def test_priorities_follow_the_controllers_order_unless_the_inventory_sets_them(inventory):
    inv = brine_inventory.normalise(inventory)
    assert [lb.vrrp_instances(inv, m)[1]["priority"] for m in CONTROLLERS] == [250, 230, 210]
    inventory["vips"]["internal"]["priorities"] = {"ubuntu3": 254}
    inv = brine_inventory.normalise(inventory)
    assert [lb.vrrp_instances(inv, m)[1]["priority"] for m in CONTROLLERS] == [250, 230, 254]
    assert [lb.vrrp_instances(inv, m)[0]["priority"] for m in CONTROLLERS] == [250, 230, 210]  # external
    assert [lb.vrrp_instances(inv, m, {"priority_base": 100, "priority_step": 1})[0]["priority"]
            for m in CONTROLLERS] == [100, 99, 98]


@pytest.mark.parametrize("base, step", [(40, 20), (255, 20), ("150", 20), (True, 20), (None, 20), (2, 1),
                                        (254, 127)])
def test_priority_base_must_leave_room_for_every_controller(inv, base, step):
    with pytest.raises(lb.InventoryProblem, match="keepalived:priority_base"):
        lb.vrrp_instances(inv, "ubuntu1", {"priority_base": base, "priority_step": step})


@pytest.mark.parametrize("step", [0, -1, 254, "20", True])
def test_priority_step_is_a_positive_number(inv, step):
    with pytest.raises(lb.InventoryProblem, match="keepalived:priority_step"):
        lb.vrrp_instances(inv, "ubuntu1", {"priority_step": step})


def test_the_lowest_default_priority_may_be_1(inv):
    assert [lb.vrrp_instances(inv, m, {"priority_base": 41})[1]["priority"] for m in CONTROLLERS] == [41, 21, 1]


def test_a_host_without_a_dual_bond_uses_its_nic_or_vlan_device(inventory):
    host = inventory["hosts"]["ubuntu2"]
    del host["dualbond"]
    inv = brine_inventory.normalise(inventory)
    assert [i["interface"] for i in lb.vrrp_instances(inv, "ubuntu2")] == ["eth2.100", "eth2.10"]
    inv["networks"]["management"]["vlan"] = None
    assert lb.network_interface(inv["hosts"]["ubuntu2"], inv["networks"], "management") == "eth2"


def test_an_untagged_network_on_a_dual_bond_is_the_bridge(inv):
    inv["networks"]["management"]["vlan"] = None
    assert lb.network_interface(inv["hosts"]["ubuntu1"], inv["networks"], "management") == "br-eth2"


def test_operator_bridge_names_are_followed(inventory):
    inventory["hosts"]["ubuntu1"]["dualbond"]["bridges"] = ["brA", "brB"]
    inv = brine_inventory.normalise(inventory)
    assert lb.vrrp_instances(inv, "ubuntu1")[1]["interface"] == "brA.10"


def test_a_non_controller_has_no_instances(inv):
    with pytest.raises(lb.InventoryProblem, match="'bootstrap' is not a controller"):
        lb.vrrp_instances(inv, "bootstrap")


# --------------------------------------------------------------------------- keepalived.conf


def test_every_instance_starts_backup_without_preemption_and_tracks_haproxy(inv):
    text = lb.keepalived_conf(inv, "ubuntu2", SECRETS)
    blocks = instance_blocks(text)
    assert sorted(blocks) == ["external", "internal"]
    for name, body in blocks.items():
        lines = [line.strip() for line in body.splitlines()]
        assert "state BACKUP" in lines and "nopreempt" in lines and "state MASTER" not in lines
        assert "haproxy_down weight 0" in lines and "haproxy_alive" in lines
        assert 'notify "/usr/libexec/brine/brine-vip-notify"' in lines
        assert "advert_int 1" in lines and "priority 230" in lines
    internal = [line.strip() for line in blocks["internal"].splitlines()]
    assert "virtual_router_id 51" in internal and "interface br-eth2.10" in internal
    assert "unicast_src_ip 10.10.0.12" in internal
    assert "10.10.0.100/32 dev br-eth2.10" in internal
    peers = blocks["internal"].split("unicast_peer {")[1].split("}")[0].split()
    assert peers == ["10.10.0.11", "10.10.0.13"]
    assert "track_file haproxy_down {" in text and 'file "/run/brine-lb/haproxy-down"' in text
    assert "init_file 1" in text  # unknown HAProxy state at start: FAULT until the unit says it is up
    assert 'script "/usr/bin/pgrep -x haproxy"' in text
    assert "vrrp_version 2" in text and "router_id ubuntu2" in text
    assert "enable_script_security" in text and "script_user root" in text


def test_the_same_inventory_renders_the_same_text(inv):
    assert lb.keepalived_conf(inv, "ubuntu1", SECRETS) == lb.keepalived_conf(copy.deepcopy(inv), "ubuntu1", dict(SECRETS))


def test_vrrp2_authenticates_with_a_hex_password_derived_from_the_secret(inv):
    text = lb.keepalived_conf(inv, "ubuntu1", SECRETS)
    passes = re.findall(r"auth_pass (\S+)", text)
    assert len(passes) == 2 and len(set(passes)) == 1 and re.fullmatch(r"[0-9a-f]{8}", passes[0])
    assert passes[0] == lb.auth_pass("vrrp-secret") != lb.auth_pass("other")
    assert "vrrp-secret" not in text
    # every controller derives the same password
    assert {lb.auth_pass(SECRETS["keepalived_auth"])} == set(
        re.findall(r"auth_pass (\S+)", lb.keepalived_conf(inv, "ubuntu3", SECRETS)))


def test_secrets_with_any_characters_are_safe_in_vrrp2(inv):
    text = lb.keepalived_conf(inv, "ubuntu1", {"keepalived_auth": 'a"b }\n!#$(reboot)'})
    assert "reboot" not in text and "!#" not in text


def test_vrrp3_subsecond_has_no_authentication(inv):
    text = lb.keepalived_conf(inv, "ubuntu1", {}, {"vrrp_version": 3, "advert_int": 0.3})
    assert "vrrp_version 3" in text and "authentication" not in text and "auth_pass" not in text
    assert text.count("advert_int 0.30") == 2


@pytest.mark.parametrize("version, value, shown", [(2, 1, "1"), (2, 3, "3"), (2, 1.0, "1"), (3, 1, "1"),
                                                   (3, 0.05, "0.05"), (3, 0.5, "0.50"), (3, 2.25, "2.25"),
                                                   (3, 40.95, "40.95"), (3, 0.01, "0.01")])
def test_advert_intervals(inv, version, value, shown):
    text = lb.keepalived_conf(inv, "ubuntu1", SECRETS, {"vrrp_version": version, "advert_int": value})
    assert f"advert_int {shown}\n" in text


@pytest.mark.parametrize("version, value, words", [
    (2, 0.5, "VRRPv2 needs whole seconds"), (2, 0, "VRRPv2 needs whole seconds"), (2, 256, "VRRPv2"),
    (3, 0.005, "steps of 0.01"), (3, 41, "0.01-40.95"), (3, 0, "0.01-40.95"), (3, "1", "not a number"),
    (3, True, "not a number"), (4, 1, "vrrp_version: 4 must be 2 or 3"),
])
def test_bad_advert_intervals_are_refused(inv, version, value, words):
    with pytest.raises(lb.InventoryProblem, match=words):
        lb.keepalived_conf(inv, "ubuntu1", SECRETS, {"vrrp_version": version, "advert_int": value})


def test_vrrp2_needs_the_secret(inv):
    with pytest.raises(lb.InventoryProblem, match="brine:secrets:keepalived_auth: no value given"):
        lb.keepalived_conf(inv, "ubuntu1", {})


@pytest.mark.parametrize("key, value", [("notify", 'x"; reboot'), ("check_script", "a\\b"), ("track_file", ""),
                                        ("notify", "a\nb")])
def test_unquotable_paths_are_refused(inv, key, value):
    with pytest.raises(lb.InventoryProblem, match=f"keepalived:{key}"):
        lb.keepalived_conf(inv, "ubuntu1", SECRETS, {key: value})


@pytest.mark.parametrize("key", ["garp_master_delay", "check_interval", "check_fall"])
@pytest.mark.parametrize("value", [-1, "2", 1.5, True, 99999])
def test_bad_numbers_are_refused(inv, key, value):
    with pytest.raises(lb.InventoryProblem, match=f"keepalived:{key}"):
        lb.keepalived_conf(inv, "ubuntu1", SECRETS, {key: value})


def test_realtime_can_be_switched_off(inv):
    assert "max_auto_priority" in lb.keepalived_conf(inv, "ubuntu1", SECRETS)
    assert "max_auto_priority" not in lb.keepalived_conf(inv, "ubuntu1", SECRETS, {"realtime": False})


def test_a_single_controller_holds_the_vips_with_no_peers(inventory):
    for name in ("ubuntu2", "ubuntu3"):
        inventory["hosts"][name]["roles"].remove("controller")
    inv = brine_inventory.normalise(inventory)
    text = lb.keepalived_conf(inv, "ubuntu1", SECRETS)
    assert "unicast_peer" not in text and text.count("state BACKUP") == 2
    assert "unicast_src_ip 10.10.0.11" in text


# --------------------------------------------------------------------------- haproxy.cfg


def servers(text, listen):
    body = text.split(f"\nlisten {listen}\n")[1].split("\n\n")[0]
    return [line.split()[1:] for line in body.splitlines() if line.strip().startswith("server ")]


def test_galera_has_one_active_writer_and_the_others_backup(inv):
    text = lb.haproxy_cfg(inv, "ubuntu2", SECRETS)
    assert servers(text, "mariadb") == [
        ["ubuntu1", "10.10.0.11:3306", "check", "port", "9200", "inter", "1s", "fall", "2", "rise", "2",
         "on-marked-down", "shutdown-sessions"],
        ["ubuntu2", "10.10.0.12:3306", "check", "port", "9200", "inter", "1s", "fall", "2", "rise", "2",
         "on-marked-down", "shutdown-sessions", "backup"],
        ["ubuntu3", "10.10.0.13:3306", "check", "port", "9200", "inter", "1s", "fall", "2", "rise", "2",
         "on-marked-down", "shutdown-sessions", "backup"],
    ]
    mariadb = text.split("\nlisten mariadb\n")[1]
    for line in ("bind 10.10.0.100:3306", "mode tcp", "option httpchk", "http-check expect status 200",
                 "timeout client 3600s", "timeout server 3600s"):
        assert f"    {line}\n" in mariadb


def test_every_controller_renders_the_same_listeners(inv):
    texts = {lb.haproxy_cfg(inv, m, SECRETS) for m in CONTROLLERS}
    assert len(texts) == 1


def test_stats_page_on_the_internal_vip_with_the_secret(inv):
    text = lb.haproxy_cfg(inv, "ubuntu1", SECRETS)
    stats = text.split("\nlisten stats\n")[1].split("\n\n")[0]
    assert "    bind 10.10.0.100:1984\n" in stats + "\n"
    assert "    stats auth 'brine:stats-secret'" in stats
    assert "stats socket /run/haproxy/admin.sock mode 660 group haproxy level admin" in text


def test_a_password_haproxy_cannot_quote_is_refused_without_showing_it(inv):
    with pytest.raises(lb.InventoryProblem) as err:
        lb.haproxy_cfg(inv, "ubuntu1", {"haproxy_stats_password": "it's"})
    assert "it's" not in str(err.value) and "brine:secrets:haproxy_stats_password" in str(err.value)
    with pytest.raises(lb.InventoryProblem, match="no value given"):
        lb.haproxy_cfg(inv, "ubuntu1", {})


def test_a_new_service_row_is_one_more_listen(inv):
    rows = copy.deepcopy(lb.HAPROXY_DEFAULTS["services"])
    rows["rabbitmq"] = {"vip": "internal", "port": 5672, "mode": "tcp", "role": "controller",
                        "network": "management", "check": {"type": "tcp"}, "server_options": "inter 2s"}
    rows["keystone"] = {"vip": "external", "port": 5000, "mode": "http", "role": "controller",
                        "network": "management", "check": {"type": "http", "port": 5000, "path": "/v3"}}
    text = lb.haproxy_cfg(inv, "ubuntu1", SECRETS, {"services": rows})
    assert [s[1] for s in servers(text, "rabbitmq")] == ["10.10.0.11:5672", "10.10.0.12:5672", "10.10.0.13:5672"]
    assert not any("backup" in s for s in servers(text, "rabbitmq"))
    assert servers(text, "rabbitmq")[0][2:] == ["check", "inter", "2s"]
    keystone = text.split("\nlisten keystone\n")[1]
    assert "bind 10.100.0.100:5000" in keystone and "http-check send meth GET uri /v3" in keystone
    assert "option tcpka" not in keystone.split("\n\n")[0]
    assert text.index("listen keystone") < text.index("listen mariadb") < text.index("listen rabbitmq")


@pytest.mark.parametrize("change, words", [
    ({"vip": "storage"}, "haproxy:services:mariadb:vip"),
    ({"mode": "udp"}, "haproxy:services:mariadb:mode"),
    ({"network": "storage"}, "haproxy:services:mariadb:network"),
    ({"port": 70000}, "haproxy:services:mariadb:port"),
    ({"backend_port": "3306"}, "haproxy:services:mariadb:backend_port"),
    ({"check": {"type": "http", "port": 0}}, "haproxy:services:mariadb:check:port"),
    ({"check": {"type": "smtp"}}, "haproxy:services:mariadb:check:type"),
    ({"check": {"type": "http", "port": 9200, "path": "/ x"}}, "haproxy:services:mariadb:check:path"),
    ({"server_options": "inter 1s\n  server evil 1.2.3.4:1"}, "haproxy:services:mariadb:server_options"),
    ({"server_options": "inter 1s; x"}, "haproxy:services:mariadb:server_options"),
    ({"timeouts": {"client": "1 h"}}, "haproxy:services:mariadb:timeouts:client"),
    ({"network": "tunnel", "role": "storage"}, None),
])
def test_bad_service_rows_are_named(inv, change, words):
    rows = copy.deepcopy(lb.HAPROXY_DEFAULTS["services"])
    rows["mariadb"].update(change)
    if words is None:  # a valid row: storage hosts on the tunnel network
        assert "10.200.0.11:3306" in lb.haproxy_cfg(inv, "ubuntu1", SECRETS, {"services": rows})
        return
    with pytest.raises(lb.InventoryProblem, match=words):
        lb.haproxy_cfg(inv, "ubuntu1", SECRETS, {"services": rows})


def test_a_member_without_an_address_on_the_service_network_is_named(inv):
    del inv["hosts"]["ubuntu3"]["networks"]["tunnel"]
    rows = {"x": {"vip": "internal", "port": 1, "network": "tunnel"}}
    with pytest.raises(lb.InventoryProblem, match="brine:hosts:ubuntu3:networks:tunnel:address"):
        lb.haproxy_cfg(inv, "ubuntu1", SECRETS, {"services": rows})


@pytest.mark.parametrize("key, value", [("stats_user", "brine user"), ("group", "ha proxy"),
                                        ("stats_socket", "/run/a b"), ("maxconn", 0), ("stats_port", 0)])
def test_bad_haproxy_settings_are_named(inv, key, value):
    with pytest.raises(lb.InventoryProblem, match=f"haproxy:{key}"):
        lb.haproxy_cfg(inv, "ubuntu1", SECRETS, {key: value})


def test_no_haproxy_cfg_for_a_non_controller(inv):
    with pytest.raises(lb.InventoryProblem, match="not a controller"):
        lb.haproxy_cfg(inv, "bootstrap", SECRETS)


# --------------------------------------------------------------------------- the drop-in


def test_the_dropin_writes_the_track_file_on_stop_and_clears_it_once_up():
    text = lb.haproxy_dropin("/run/brine-lb/haproxy-down", "/usr/libexec/brine/brine-track-file")
    assert "[Service]\n" in text
    assert "ExecStopPost=-/usr/libexec/brine/brine-track-file /run/brine-lb/haproxy-down 1\n" in text
    assert "ExecStartPost=-/usr/libexec/brine/brine-track-file /run/brine-lb/haproxy-down 0\n" in text
    assert "ExecReload" not in text


@pytest.mark.parametrize("track, writer", [("/run/a b", "/x"), ("relative", "/x"), ("/run/x", "/x;reboot"),
                                           ("/run/$x", "/x")])
def test_the_dropin_refuses_paths_systemd_would_split(track, writer):
    with pytest.raises(lb.InventoryProblem):
        lb.haproxy_dropin(track, writer)


def test_keystone_listens_on_both_vips_with_every_controller_checked_on_v3(inv):
    text = lb.haproxy_cfg(inv, "ubuntu1", SECRETS)
    keystone = text.split("\nlisten keystone\n")[1].split("\n\n")[0]
    # the external VIP's bind serves TLS (the example's acme:enabled), the internal one plain http
    assert keystone.splitlines()[:3] == ["    bind 10.10.0.100:5000",
                                         "    bind 10.100.0.100:5000 ssl crt /etc/haproxy/certs/external.pem",
                                         "    mode http"]
    for line in ("option httpchk", "http-check send meth GET uri /v3", "http-check expect status 200"):
        assert f"    {line}" in keystone.splitlines()
    # a dead controller costs one 1 s connect, then another server (redispatch on every retry)
    assert {"    timeout connect 1s", "    timeout check 5s"} <= set(keystone.splitlines())
    assert servers(text, "keystone") == [
        [name, f"10.10.0.1{n}:5000", "check", "port", "5000", "inter", "2s", "fall", "3", "rise", "2",
         "observe", "layer4", "error-limit", "1", "on-error", "mark-down"]
        for n, name in enumerate(CONTROLLERS, 1)]
    defaults = text.split("\ndefaults\n")[1].split("\n\n")[0].splitlines()
    assert "    option redispatch 1" in defaults and "    retries 3" in defaults


@pytest.mark.parametrize("vips, words", [
    ([], "an empty list"),
    (["internal", "storage"], "'storage' is not a VIP"),
    (["internal", "internal"], "'internal' is named twice"),
    ([["internal"]], "is not a VIP"),
])
def test_bad_vip_lists_are_named(inv, vips, words):
    rows = copy.deepcopy(lb.HAPROXY_DEFAULTS["services"])
    rows["keystone"]["vip"] = vips
    with pytest.raises(lb.InventoryProblem, match=f"haproxy:services:keystone:vip: .*{words}"):
        lb.haproxy_cfg(inv, "ubuntu1", SECRETS, {"services": rows})
