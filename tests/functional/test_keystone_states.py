"""
The keystone states as a controller renders them: salt-call --local inside a network namespace
whose NIC carries a controller's inventory MAC (so brine_inventory.this_machine() is True there)
shows what the feature would do; on this host (no inventory MAC) the same states render nothing
that changes the host; the orchestration's order. Nothing is applied: no keystone package is
installed here, so keystone-manage, Apache and the database steps run only in the lab.
"""

import functools
import json

import brine_testlib
from brine_testlib import requisites, state_args
from brinelib import keystone

SECRETS = {"brine_secrets": {"keystone_db_password": "ks-db-pw", "keystone_admin_password": "ks-admin-pw"}}


show_sls = functools.partial(brine_testlib.show_sls, pillar=SECRETS)


def test_a_controller_renders_config_site_and_a_gated_service(salt_call, controller_netns):
    out = show_sls(salt_call, "keystone", minion_id="ubuntu2", netns=controller_netns("ubuntu2"))
    config = state_args(out["keystone-config"])
    assert (config["mode"], config["user"], config["group"], config["show_changes"]) == ("0640", "root", "keystone",
                                                                                         False)
    values = keystone.parse_ini(config["contents"])
    assert values["database"]["connection"].startswith("mysql+pymysql://keystone:ks-db-pw@internal.lab.home.arpa:3306/")
    assert values["token"] == {"provider": "fernet"}
    site = state_args(out["keystone-site"])["contents"]
    assert "Listen 10.10.0.12:5000" in site and "processes=1 threads=4" in site
    assert state_args(out["keystone-site-enabled"])["target"] == "../sites-available/brine-keystone.conf"
    ports = state_args(out["keystone-apache-ports"])["contents"].splitlines()
    assert all(line.startswith("#") for line in ports)  # no Listen: only the sites bind
    # the debconf answers before the package; Debian's own uwsgi service off after it
    assert requisites(out["keystone-packages"]) == [("cmd", "keystone-debconf")]
    assert state_args(out["keystone-package-service-off"])["enable"] is False
    running, stopped = state_args(out["keystone-apache-running"]), state_args(out["keystone-apache-stopped-without-keys"])
    gate = [{"fun": "brine_keystone.has_keys", "kind": "fernet", "path": "/etc/keystone/fernet-keys"},
            {"fun": "brine_keystone.has_keys", "kind": "credential", "path": "/etc/keystone/credential-keys"}]
    assert running["onlyif"] == gate and stopped["unless"] == gate
    assert ("file", "keystone-config") in requisites(out["keystone-apache-running"], "watch")
    # the key repositories (directories only: the runner alone moves keys), after the package
    for kind, path in (("fernet", "/etc/keystone/fernet-keys"), ("credential", "/etc/keystone/credential-keys")):
        repo = out[f"keystone-{kind}-key-repository"]
        assert "directory" in repo["file"] and requisites(repo) == [("pkg", "keystone-packages")]
        assert {k: v for k, v in state_args(repo).items() if k in ("name", "user", "group", "mode")} == {
            "name": path, "user": "keystone", "group": "keystone", "mode": "0700"}
    assert "ks-admin-pw" not in json.dumps(out)
    # the database and bootstrap are the orchestration's, on the first controller only
    assert not [sid for sid in out if sid in ("keystone-database", "keystone-schema", "keystone-bootstrap")]
    netns = controller_netns("ubuntu1")
    first = show_sls(salt_call, "keystone.database", minion_id="ubuntu1", netns=netns)
    assert requisites(first["keystone-schema"])[0] == ("brine_keystone_service", "keystone-database")
    assert "keystone-bootstrap" in show_sls(salt_call, "keystone.bootstrap", minion_id="ubuntu1", netns=netns)


def test_another_controller_renders_no_database_or_bootstrap(salt_call, controller_netns):
    netns = controller_netns("ubuntu2")
    assert "keystone-schema" not in show_sls(salt_call, "keystone.database", minion_id="ubuntu2", netns=netns)
    assert "keystone-bootstrap" not in show_sls(salt_call, "keystone.bootstrap", minion_id="ubuntu2", netns=netns)


def test_this_host_renders_no_keystone_change(salt_call):
    for sls in ("keystone", "keystone.database", "keystone.bootstrap"):
        out = show_sls(salt_call, sls, minion_id="ubuntu1")
        assert [sid for sid in out if sid.startswith("keystone-")] == [], sls


def test_orchestration_order(salt_call):
    out = brine_testlib.show_sls(salt_call, "orch.keystone", minion_id="bootstrap")
    assert state_args(out["keystone-configured"])["tgt"] == ["ubuntu1", "ubuntu2", "ubuntu3"]
    assert state_args(out["keystone-database"])["tgt"] == "ubuntu1"
    assert state_args(out["keystone-keys"])["name"] == "brine_keystone.sync_keys"
    assert state_args(out["keystone-bootstrap"])["sls"] == ["keystone.bootstrap"]
    chain = ["keystone-configured", "keystone-database", "keystone-keys", "keystone-serving", "keystone-bootstrap"]
    for before, after in zip(chain, chain[1:]):
        assert requisites(out[after])[0][1] == before
