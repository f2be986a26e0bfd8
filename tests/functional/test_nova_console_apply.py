"""
compute.console through salt-call --local, in a private mount namespace (tmpfs over /etc/nova,
/etc/brine and /etc/init.d): the real state, the real execution module, Salt's real service
module. nova-compute itself cannot run here: /etc/init.d/nova-compute is a stand-in init
script that only logs each restart Salt asks of it, so the tests can count restarts.
"""

import hashlib
import json

from brine_testlib import REPO

DATA = REPO / "tests" / "data" / "nova"
JUJU = DATA / "juju-icehouse-nova-compute.conf"
STATE_KEY = "nova_console_|-brine-nova-console_|-/etc/nova/nova.conf_|-configured"
SANDBOX = ["/etc/nova", "/etc/brine", "/etc/init.d"]


def stand_in_init_script(workdir):
    script = workdir / "nova-compute.init"
    script.write_text('#!/bin/sh\n# stand-in for nova-compute: log what was asked\necho "$1" >> /etc/nova/restarts.log\n')
    return [
        ["file.copy", str(script), "/etc/init.d/nova-compute"],
        ["file.set_mode", "/etc/init.d/nova-compute", "0755"],
    ]


def test_console_apply_restart_only_on_change_and_repair_after_rewrite(salt_call, tmp_path):
    calls = stand_in_init_script(tmp_path) + [
        ["file.copy", str(JUJU), "/etc/nova/nova.conf"],
        ["state.apply", "compute.console", "test=True"],
        ["file.get_hash", "/etc/nova/nova.conf", "sha256"],
        ["state.apply", "compute.console"],
        ["state.apply", "compute.console"],
        # another tool rewrites the file: renders a new one aside and renames it over
        ["file.copy", str(JUJU), "/etc/nova/nova.conf.new"],
        ["file.rename", "/etc/nova/nova.conf.new", "/etc/nova/nova.conf"],
        ["state.apply", "compute.console"],
        ["state.apply", "compute.console", "test=True"],
        ["file.read", "/etc/nova/nova.conf"],
        ["file.read", "/etc/nova/restarts.log"],
    ]
    outs = salt_call.in_sandbox(SANDBOX, calls, minion_id="ubuntu1")
    dry, digest, first, second, _, _, repaired, dry_again, final, restarts = outs[3:]

    assert dry[STATE_KEY]["result"] is None
    assert "+server_listen = 10.10.0.11" in dry[STATE_KEY]["changes"]["diff"]
    assert digest == hashlib.sha256(JUJU.read_bytes()).hexdigest()  # test=True wrote nothing

    assert first[STATE_KEY]["result"] is True, first[STATE_KEY]
    assert first[STATE_KEY]["changes"]["restart"] == "service nova-compute"
    assert all(r["result"] is True for r in second.values()), second
    assert [r["__id__"] for r in second.values() if r["changes"]] == []

    assert repaired[STATE_KEY]["result"] is True and "diff" in repaired[STATE_KEY]["changes"]
    assert repaired[STATE_KEY]["changes"]["restart"] == "service nova-compute"
    assert dry_again[STATE_KEY]["result"] is True and dry_again[STATE_KEY]["changes"] == {}

    assert restarts.split() == ["restart", "restart"]  # the first apply and the repair, no more
    assert "[vnc]\nenabled = true\nserver_listen = 10.10.0.11\n" in final
    assert "rabbit_host=10.10.0.20\n" in final and "vnc_enabled" not in final
    backups = [f for f in salt_call.files_left_in("/etc/nova") if ".brine-" in f]
    assert len(backups) == 2


def test_malformed_nova_conf_fails_the_state_and_is_untouched(salt_call, tmp_path):
    bad = tmp_path / "nova.conf"
    bad.write_text("[DEFAULT]\nmy_ip = 10.10.0.11\n<html>proxy error page</html>\n")
    calls = stand_in_init_script(tmp_path) + [
        ["file.copy", str(bad), "/etc/nova/nova.conf"],
        ["state.apply", "compute.console"],
        ["file.read", "/etc/nova/nova.conf"],
    ]
    outs = salt_call.in_sandbox(SANDBOX, calls, minion_id="ubuntu2")
    applied, content = outs[3], outs[4]
    ret = applied[STATE_KEY]
    assert ret["result"] is False and ret["changes"] == {}
    assert "line 3: not an INI line" in ret["comment"] and "was not changed" in ret["comment"]
    assert content == bad.read_text()
    assert salt_call.files_left_in("/etc/nova") == ["/etc/nova/nova.conf"]


def test_execution_module_functions_from_the_cli(salt_call):
    out, _ = salt_call("nova_console.settings", minion_id="ubuntu3")
    assert out["options"]["server_proxyclient_address"] == "10.10.0.13"
    findings, _ = salt_call("nova_console.check_file", str(JUJU), minion_id="ubuntu3")
    assert {f["kind"] for f in findings} == {"missing", "legacy"}
    plan, _ = salt_call("nova_console.plan", str(DATA / "kolla-2024.1-nova-compute.conf"), "role=proxy", minion_id="ubuntu1")
    assert plan["findings"] == [] and json.dumps(plan["settings"]["options"]) == '{"novncproxy_host": "10.10.0.11", "novncproxy_port": 6080}'


def test_instances_without_console_through_real_virsh(tmp_path, monkeypatch):
    """
    The live call with the real virsh (libvirt-clients), against libvirt's own test driver
    loaded with the domain XML of three nova instances: no libvirtd or QEMU needed.
    """
    import nova_console as nc

    node = tmp_path / "node.xml"
    domains = [
        (DATA / "libvirt" / name).read_text().replace("type='kvm' id='3'", "type='test'")
        for name in ("instance-with-vnc.xml", "instance-headless.xml", "instance-spice-only.xml")
    ]
    node.write_text("<node>\n" + "".join(domains) + "</node>\n")
    missing = nc.instances_without_console(f"test://{node}")
    assert [(m["domain"], m["instance"]) for m in missing] == [("instance-00000003", "db-1"), ("instance-00000007", "desktop-1")]
    monkeypatch.setenv("PATH", str(tmp_path))  # a host without virsh: nothing to report
    assert nc.instances_without_console() is None


def kolla_pillar(salt_call, inventory):
    inventory["openstack"]["console"] = {"deployment": "kolla", "tls": True}
    return salt_call.pillar_root_with(inventory)


def test_kolla_compute_host_patches_the_generated_file(salt_call, inventory):
    out, _ = salt_call("state.show_sls", "compute.console", minion_id="ubuntu2", pillar_root=kolla_pillar(salt_call, inventory))
    args = {k: v for item in out["brine-nova-console"]["nova_console"] if isinstance(item, dict) for k, v in item.items()}
    assert args["name"] == "/etc/kolla/nova-compute/nova.conf" and args["service"] == "nova_compute"


def test_kolla_overrides_on_the_deployer(salt_call, inventory):
    pillar_root = kolla_pillar(salt_call, inventory)
    first, second, override = salt_call.in_sandbox(
        ["/etc/kolla", "/etc/brine"],
        [["state.apply", "nova_console.kolla_overrides"], ["state.apply", "nova_console.kolla_overrides"],
         ["file.read", "/etc/kolla/config/nova/ubuntu2/nova.conf"]],
        minion_id="bootstrap", pillar_root=pillar_root,
    )
    made = sorted(r["__id__"] for r in first.values() if r["changes"])
    assert made == [f"brine-nova-console-kolla-override-ubuntu{i}" for i in (1, 2, 3)]
    assert all("restart" not in r["changes"] for r in first.values())
    assert [r["__id__"] for r in second.values() if r["changes"]] == []
    assert override == (
        "[vnc]\nenabled = true\nserver_listen = 10.10.0.12\nserver_proxyclient_address = 10.10.0.12\n"
        "novncproxy_base_url = https://cloud.lab.home.arpa:6080/vnc_lite.html\n"
    )
    assert sorted(salt_call.files_left_in("/etc/kolla")) == [
        f"/etc/kolla/config/nova/ubuntu{i}/nova.conf" for i in (1, 2, 3)]
