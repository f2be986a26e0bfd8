"""brinelib.keystone: keystone.conf, the Apache site, the endpoints, the bootstrap command, the
catalog check, db_sync --check's verdicts and the database account's SQL (docs/keystone.md)."""

import urllib.parse

import pytest
import yaml
from brine_testlib import REPO
from brinelib import keystone, names
from brinelib.errors import InventoryProblem

import brine_inventory

PASSWORD = "p@ss:w/rd$x'%"
CONTROLLERS = ["ubuntu1", "ubuntu2", "ubuntu3"]


@pytest.fixture
def inv(inventory):
    return brine_inventory.normalise(inventory)


def test_formula_defaults_are_the_librarys_defaults():
    with open(REPO / "salt" / "keystone" / "defaults.yaml", encoding="utf-8") as fh:
        assert yaml.safe_load(fh)["keystone"] == keystone.DEFAULTS


def test_settings_merge_one_level_deep_and_lists_are_replaced():
    s = keystone.merged({"wsgi": {"threads": 8}, "packages": ["keystone"], "region": "Lab"})
    assert s["wsgi"] == {"processes": 1, "threads": 8}
    assert s["packages"] == ["keystone"] and s["region"] == "Lab"
    assert keystone.DEFAULTS["wsgi"]["threads"] == 4  # the defaults are not changed


def test_controllers_in_inventory_order(inv):
    assert names.controllers(inv) == CONTROLLERS
    assert keystone.first_controller(inv) == "ubuntu1"


def test_no_controller_is_named(inv):
    for host in inv["hosts"].values():
        host["roles"] = [r for r in host["roles"] if r != "controller"]
    with pytest.raises(InventoryProblem, match="no host has the controller role"):
        keystone.first_controller(inv)


def test_keystone_conf_holds_only_brines_keys(inv):
    values = keystone.parse_ini(keystone.render_config(inv, "pw"))
    assert values == {
        "DEFAULT": {"log_dir": "/var/log/keystone", "use_stderr": "false"},
        "database": {"connection": "mysql+pymysql://keystone:pw@internal.lab.home.arpa:3306/keystone?charset=utf8",
                     "connection_recycle_time": "600", "max_retries": "-1"},
        "cache": {"enabled": "true", "backend": "oslo_cache.memcache_pool",
                  "memcache_servers": "10.10.0.11:11211,10.10.0.12:11211,10.10.0.13:11211"},
        "token": {"provider": "fernet"},
        "fernet_tokens": {"key_repository": "/etc/keystone/fernet-keys", "max_active_keys": "3"},
        "credential": {"key_repository": "/etc/keystone/credential-keys"},
    }


def test_keystone_conf_is_the_same_on_every_controller_and_starts_with_a_notice(inv):
    text = keystone.render_config(inv, "pw")
    assert text.startswith("# Managed by Salt (Brine: salt/keystone)")
    assert text.endswith("\n") and not text.endswith("\n\n")


def test_the_memcached_port_comes_from_the_inventory(inv):
    inv["memcached"]["port"] = 11311
    assert keystone.memcache_servers(inv) == ["10.10.0.11:11311", "10.10.0.12:11311", "10.10.0.13:11311"]


def test_any_password_survives_the_url(inv):
    url = keystone.database_url(inv, PASSWORD)
    userinfo = url.split("://", 1)[1].rsplit("@", 1)[0]
    assert "$" not in url and "'" not in userinfo and userinfo.count(":") == 1
    assert urllib.parse.unquote(userinfo.split(":", 1)[1]) == PASSWORD


@pytest.mark.parametrize("password", ["", "two\nlines", None])
def test_an_unusable_password_is_refused_without_showing_it(inv, password):
    with pytest.raises(InventoryProblem, match="brine:secrets:keystone_db_password") as err:
        keystone.render_config(inv, password)
    assert "two" not in str(err.value)


def test_database_settings_change_the_url(inv):
    url = keystone.database_url(inv, "pw", {"database": {"name": "ks", "user": "ksuser", "port": 3307}})
    assert url == "mysql+pymysql://ksuser:pw@internal.lab.home.arpa:3307/ks?charset=utf8"


def test_a_missing_internal_fqdn_is_named(inv):
    del inv["vips"]["internal"]["fqdn"]
    with pytest.raises(InventoryProblem, match="brine:vips:internal:fqdn"):
        keystone.render_config(inv, "pw")


def test_a_bad_fqdn_is_named(inv):
    inv["vips"]["external"]["fqdn"] = "cloud lab"
    with pytest.raises(InventoryProblem, match="brine:vips:external:fqdn"):
        keystone.endpoints(inv)


def test_a_multiline_value_is_refused():
    with pytest.raises(InventoryProblem, match=r"\[x\] y"):
        keystone.render_ini({"x": {"y": "a\nb"}})


@pytest.mark.parametrize("change, words", [
    ({"port": 0}, "keystone:port"),
    ({"wsgi": {"processes": 0}}, "keystone:wsgi:processes"),
    ({"wsgi": {"threads": True}}, "keystone:wsgi:threads"),
    ({"max_active": 1}, "keystone:max_active"),
    ({"database": {"max_retries": -2}}, "keystone:database:max_retries"),
    ({"database": {"connection_recycle_time": 0}}, "keystone:database:connection_recycle_time"),
    ({"database": {"name": "key stone"}}, "keystone:database:name"),
    ({"region": "Region One"}, "keystone:region"),
    ({"user": "keystone\nx"}, "keystone:user"),
    ({"admin": {"project": "a'b"}}, "keystone:admin:project"),
    ({"wsgi_script": "/usr/bin/x y"}, "keystone:wsgi_script"),
    ({"repositories": {"fernet": "relative"}}, "keystone:repositories:fernet"),
    ({"password_hash_rounds": 3}, "keystone:password_hash_rounds"),
    ({"password_hash_rounds": 32}, "keystone:password_hash_rounds"),
    ({"password_hash_rounds": "4"}, "keystone:password_hash_rounds"),
])
def test_bad_settings_are_named(inv, change, words):
    with pytest.raises(InventoryProblem, match=words):
        keystone.render_config(inv, "pw", change)


def test_the_apache_site_listens_on_the_management_address_only(inv):
    address = keystone.management_address(inv, "ubuntu2")
    site = keystone.apache_site(address)
    assert address == "10.10.0.12"
    lines = [line.strip() for line in site.splitlines()]
    assert "Listen 10.10.0.12:5000" in lines and "<VirtualHost 10.10.0.12:5000>" in lines
    assert ("WSGIDaemonProcess keystone-public processes=1 threads=4 user=keystone group=keystone "
            "display-name=%{GROUP}") in lines
    assert "WSGIScriptAlias / /usr/bin/keystone-wsgi-public" in lines
    assert "WSGIProcessGroup keystone-public" in lines and "WSGIPassAuthorization On" in lines
    assert "<Directory /usr/bin>" in lines
    assert sum(line.startswith("Listen") for line in lines) == 1


def test_the_apache_site_follows_the_settings(inv):
    site = keystone.apache_site("10.10.0.11", {"port": 5001, "wsgi": {"processes": 2, "threads": 8}})
    assert "Listen 10.10.0.11:5001" in site and "processes=2 threads=8" in site


def test_the_apache_site_refuses_a_non_address():
    with pytest.raises(ValueError):
        keystone.apache_site("10.10.0.11 evil")


def test_only_controllers_with_a_management_address_have_one(inv):
    with pytest.raises(InventoryProblem, match="not a controller"):
        keystone.management_address(inv, "bootstrap")
    del inv["hosts"]["ubuntu3"]["networks"]["management"]
    with pytest.raises(InventoryProblem, match="brine:hosts:ubuntu3:networks:management:address"):
        keystone.memcache_servers(inv)


def test_the_preseed_keeps_the_package_off_the_database_and_keys():
    lines = keystone.preseed().splitlines()
    assert "keystone keystone/configure_db boolean false" in lines
    assert "keystone keystone/create-admin-tenant boolean false" in lines
    assert all(line.startswith("keystone keystone/") for line in lines)


def test_endpoints_public_external_internal_and_admin_internal(inv):
    assert keystone.endpoints(inv) == {
        "public": "https://cloud.lab.home.arpa:5000/v3",
        "internal": "http://internal.lab.home.arpa:5000/v3",
        "admin": "http://internal.lab.home.arpa:5000/v3",
    }
    inv["acme"] = {"enabled": False}  # HAProxy serves the external VIP without TLS
    assert keystone.endpoints(inv)["public"] == "http://cloud.lab.home.arpa:5000/v3"
    assert keystone.endpoints(inv)["internal"] == "http://internal.lab.home.arpa:5000/v3"


def test_password_hash_rounds_are_keystones_own_unless_set(inv):
    assert "identity" not in keystone.config_values(inv, "db-pass")
    assert keystone.config_values(inv, "db-pass", {"password_hash_rounds": 4})["identity"] == {"password_hash_rounds": "4"}


def test_bootstrap_passes_everything_in_the_environment(inv):
    argv, env = keystone.bootstrap_command(inv, "admin pw")
    assert argv == ["keystone-manage", "bootstrap"]
    assert "admin pw" not in " ".join(argv)
    assert env == {
        "OS_BOOTSTRAP_USERNAME": "admin", "OS_BOOTSTRAP_PASSWORD": "admin pw",
        "OS_BOOTSTRAP_PROJECT_NAME": "admin", "OS_BOOTSTRAP_ROLE_NAME": "admin",
        "OS_BOOTSTRAP_SERVICE_NAME": "keystone",
        "OS_BOOTSTRAP_ADMIN_URL": "http://internal.lab.home.arpa:5000/v3",
        "OS_BOOTSTRAP_INTERNAL_URL": "http://internal.lab.home.arpa:5000/v3",
        "OS_BOOTSTRAP_PUBLIC_URL": "https://cloud.lab.home.arpa:5000/v3",
        "OS_BOOTSTRAP_REGION_ID": "RegionOne",
    }


def test_bootstrap_needs_the_admin_password(inv):
    with pytest.raises(InventoryProblem, match="keystone_admin_password"):
        keystone.bootstrap_command(inv, "")


def test_the_token_request_scopes_the_admin_to_its_project():
    body = keystone.token_request("pw")
    assert body["auth"]["identity"]["password"]["user"] == {"name": "admin", "domain": {"id": "default"},
                                                            "password": "pw"}
    assert body["auth"]["scope"] == {"project": {"name": "admin", "domain": {"id": "default"}}}


def token(endpoints, service_type="identity"):
    return {"token": {"catalog": [
        {"type": "compute", "endpoints": []},
        {"type": service_type, "endpoints": [
            {"interface": i, "url": u, "region_id": r, "region": r} for i, u, r in endpoints]},
    ]}}


GOOD = [("public", "https://cloud.lab.home.arpa:5000/v3", "RegionOne"),
        ("internal", "http://internal.lab.home.arpa:5000/v3", "RegionOne"),
        ("admin", "http://internal.lab.home.arpa:5000/v3", "RegionOne")]


def test_a_bootstrapped_catalog_has_no_problems(inv):
    assert keystone.catalog_problems(token(GOOD), inv) == []
    # endpoints of another region are not Brine's business
    assert keystone.catalog_problems(token(GOOD + [("public", "http://x:5000/v3", "Other")]), inv) == []


@pytest.mark.parametrize("body, words", [
    (token(GOOD[1:]), "public endpoint in RegionOne: none, wanted https://cloud"),
    (token([("public", "http://old:5000/v3", "RegionOne")] + GOOD[1:]), "public endpoint in RegionOne: http://old"),
    (token(GOOD + [("admin", "http://x:5000/v3", "RegionOne")]), "admin endpoint in RegionOne: http://internal"),
    (token([(i, u, "Other") for i, u, _ in GOOD]), "internal endpoint in RegionOne: none"),
    (token(GOOD, "image"), "no identity service"),
    ({"token": {}}, "no catalog"),
    (None, "no catalog"),
])
def test_catalog_differences_are_named(inv, body, words):
    problems = keystone.catalog_problems(body, inv)
    assert any(words in p for p in problems), problems


@pytest.mark.parametrize("code, needed", [(0, False), (2, True), (4, True)])
def test_db_sync_check_exit_codes(code, needed):
    assert keystone.db_sync_needed(code) is needed


@pytest.mark.parametrize("code", [1, 3, 127, -9])
def test_other_db_sync_check_exit_codes_are_errors(code):
    with pytest.raises(ValueError, match=f"failed \\({code}\\)"):
        keystone.db_sync_needed(code)


def test_the_database_host_is_the_management_network(inv):
    assert keystone.database_host_pattern(inv) == "10.10.0.0/255.255.255.0"


def test_database_sql_makes_the_database_user_and_grant_idempotently():
    sql = keystone.database_sql("it's", "10.10.0.0/255.255.255.0")
    assert sql.splitlines() == [
        "CREATE DATABASE IF NOT EXISTS `keystone` CHARACTER SET utf8mb3;",
        "CREATE USER IF NOT EXISTS 'keystone'@'10.10.0.0/255.255.255.0' IDENTIFIED BY 'it\\'s';",
        "ALTER USER 'keystone'@'10.10.0.0/255.255.255.0' IDENTIFIED BY 'it\\'s';",
        "GRANT ALL PRIVILEGES ON `keystone`.* TO 'keystone'@'10.10.0.0/255.255.255.0';",
    ]
    assert "PASSWORD('a\\\\b')" in keystone.database_check_sql("a\\b", "10.10.0.0/255.255.255.0")


def test_database_sql_refuses_an_odd_host():
    with pytest.raises(InventoryProblem, match="database host"):
        keystone.database_sql("pw", "%' OR '1")


@pytest.mark.parametrize("output, missing", [
    ("1\t1\t1\n", []), ("0\t0\t0\n", ["database", "user", "grant"]), ("1\t0\t1", ["user"]),
])
def test_the_database_check_answer(output, missing):
    assert keystone.database_missing(output) == missing


@pytest.mark.parametrize("output", ["", "1\t1", "1\t2\t1", "ERROR"])
def test_an_odd_database_check_answer_raises(output):
    with pytest.raises(ValueError, match="unexpected answer"):
        keystone.database_missing(output)


def test_the_example_inventory_has_what_keystone_needs(inventory):
    assert keystone.check(inventory) == []


def test_keystone_needs_both_secrets_only_with_controllers(inventory):
    del inventory["secrets"]["keystone_admin_password"]
    assert [path for path, _ in keystone.check(inventory)] == ["secrets:keystone_admin_password"]
    for host in inventory["hosts"].values():
        host["roles"] = [r for r in host.get("roles", []) if r != "controller"]
    assert keystone.check(inventory) == []


def test_a_garbled_inventory_is_left_to_the_other_checks():
    assert keystone.check({"hosts": "x"}) == []
    assert [p for p, _ in keystone.check({"hosts": {"a": {"roles": ["controller"]}}, "secrets": 1})] == [
        "secrets:keystone_db_password", "secrets:keystone_admin_password"]


def test_the_labs_settings_file_passes_the_settings_check():
    with open(REPO / "pillar" / "brine" / "lab-settings.yaml", encoding="utf-8") as fh:
        lab = yaml.safe_load(fh)
    assert keystone.checked(lab["keystone"])["password_hash_rounds"] == 4
