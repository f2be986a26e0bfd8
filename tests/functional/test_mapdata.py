"""salt/brine/mapdata.sls: `state.apply brine.mapdata` dumps every host's resolved settings, secrets masked."""

import json
import os
import stat

import pytest
import yaml
from brine_testlib import example_inventory

HOSTS = sorted(example_inventory()["hosts"])
# The features of each example host that have a map.jinja (network and registry have none).
EXPECTED_FEATURES = {
    "bootstrap": {"brine", "baseline", "bootstrap", "nova_console"},
    "ubuntu1": {"brine", "baseline", "nova_console", "galera", "haproxy", "keepalived", "rabbitmq", "memcached",
                "keystone", "storage"},
    "ubuntu2": {"brine", "baseline", "nova_console", "galera", "haproxy", "keepalived", "rabbitmq", "memcached",
                "keystone", "storage"},
    "ubuntu3": {"brine", "baseline", "nova_console", "galera", "haproxy", "keepalived", "rabbitmq", "memcached",
                "keystone", "storage"},
}
SECRET = "hunter2-not-for-logs"


def operator_settings(dump_file):
    """An operator's pillar: the dump's place, an override per kind of feature, and secrets."""
    return {"brine_settings": {
        "mapdata": str(dump_file),
        "storage": {"absent_disks": "fail"},
        "nova_console": {"libvirt_uri": f"qemu+tls://admin:{SECRET}@ubuntu1/system"},
        "haproxy": {"stats_password": SECRET, "timeouts": {"check": "3s"}},
        "bootstrap": {"proxy": {"api_token": SECRET}},
    }}


@pytest.mark.parametrize("host", HOSTS)
def test_the_dump_holds_every_feature_of_the_host_with_secrets_masked(salt_call, tmp_path, host):
    dump_file = tmp_path / "cache" / "brine" / "mapdata.yaml"
    pillar = "pillar=" + json.dumps(operator_settings(dump_file))
    out, proc = salt_call("state.apply", "brine.mapdata", pillar, minion_id=host)
    assert isinstance(out, dict) and proc.returncode == 0, (out, proc.stderr)
    (result,) = out.values()
    assert result["__id__"] == "brine-mapdata" and result["result"] is True, result
    text = dump_file.read_text()
    assert SECRET not in text and SECRET not in proc.stdout
    assert stat.S_IMODE(os.stat(dump_file).st_mode) == 0o600
    dump = yaml.safe_load(text)
    assert set(dump) == EXPECTED_FEATURES[host]
    # defaults, with the operator's pillar merged over them
    assert dump["brine"]["config_dir"] == "/etc/brine"
    assert dump["baseline"]["hosts_file"] == "/etc/hosts"
    assert dump["nova_console"]["packages"]["compute_service"] == "nova-compute"
    assert dump["nova_console"]["libvirt_uri"] == "qemu+tls://admin:****@ubuntu1/system"
    if "galera" in dump:
        assert dump["galera"]["port"] == 3306
        assert dump["haproxy"]["stats_password"] == "****"
        assert dump["haproxy"]["timeouts"] == {**dump["haproxy"]["timeouts"], "check": "3s", "connect": "5s"}
        assert dump["keepalived"]["vrrp_version"] == 2
        assert dump["storage"]["absent_disks"] == "fail"
    if "bootstrap" in dump:
        assert dump["bootstrap"]["proxy"]["api_token"] == "****"
        assert dump["bootstrap"]["proxy"]["package"] == "squid"


def test_the_dump_goes_to_var_cache_brine_by_default(salt_call):
    out, _ = salt_call("state.show_sls", "brine.mapdata", minion_id="ubuntu1")
    args = {k: v for item in out["brine-mapdata"]["file"] if isinstance(item, dict) for k, v in item.items()}
    assert args["name"] == "/var/cache/brine/mapdata.yaml"
    assert args["mode"] == "0600" and args["show_changes"] is False
