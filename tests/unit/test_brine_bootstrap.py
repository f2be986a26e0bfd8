"""The bootstrap services' settings: brinelib.bootstrap and the brine_bootstrap module."""

import pytest
from inventory_mistakes import mutate

import brine_bootstrap
from brinelib import bootstrap
from brinelib.dhcp.plan import plan


def test_settings_of_the_example_lab(inventory):
    settings = bootstrap.settings(inventory, plan(inventory))
    assert (settings["host"], settings["address"], settings["interface"]) == ("bootstrap", "10.10.0.5", "eth0.10")
    assert (settings["cidr"], settings["gateway"], settings["mtu"]) == ("10.10.0.0/24", "10.10.0.1", 9000)
    assert [(r["host"], r["ip"]) for r in settings["reservations"]][:2] == [("bootstrap", "10.10.0.5"), ("ubuntu1", "10.10.0.11")]
    assert settings["proxy"] == {"port": 3128, "url": "http://10.10.0.5:3128/"}
    assert settings["install"]["user"] == "brine" and settings["install"]["nopasswd"] is True
    assert settings["install"]["ssh_keys"][0].startswith("ssh-ed25519 ")


def test_settings_fill_the_services_defaults(inventory):
    def edit(i):
        for key in ("ntp", "dns", "proxy", "install"):
            i["services"].pop(key)
    bare = mutate(inventory, edit)
    settings = bootstrap.settings(bare, plan(bare))
    assert settings["ntp"] == {"upstreams": ["0.debian.pool.ntp.org", "1.debian.pool.ntp.org"]}
    assert settings["dns"] == {"forwarders": []}
    assert settings["proxy"]["port"] == 3128
    assert (settings["install"]["mirror"], settings["install"]["suite"]) == ("deb.debian.org", "bookworm")


def test_the_bootstrap_host_is_the_first_with_the_role(inventory):
    assert bootstrap.bootstrap_host(inventory) == "bootstrap"
    assert bootstrap.bootstrap_host({"hosts": {"a": {"roles": ["compute"]}}}) is None


def test_the_module_refuses_an_invalid_inventory_naming_the_field(inventory):
    broken = mutate(inventory, lambda i: i["services"]["proxy"].update(port=70000))
    with pytest.raises(brine_bootstrap.CommandExecutionError, match="brine:services:proxy:port"):
        brine_bootstrap.bootstrap_settings(broken)
    assert brine_bootstrap.bootstrap_settings(inventory) == bootstrap.settings(inventory, plan(inventory))
