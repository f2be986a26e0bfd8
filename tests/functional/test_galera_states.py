"""
The galera states as a controller renders them: salt-call --local inside a network namespace
whose NIC carries ubuntu1's inventory MAC (so brine_inventory.this_machine() is True there) shows
what the role would do; on this host (no inventory MAC) the same states render nothing that
changes the host. Nothing is applied.
"""

import json
import os
import subprocess

import brine_testlib
import pytest
from brine_testlib import state_args


SECRETS = {"brine_secrets": {"mariadb_root_password": "root-pw", "galera_sst_password": "sst-pw",
                             "galera_monitor_password": "mon-pw"}}


def show_sls(salt_call, netns=None):
    return brine_testlib.show_sls(salt_call, "galera", SECRETS, netns=netns)


@pytest.fixture
def ubuntu1_netns():
    name = f"brgal{os.getpid() % 100000}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        subprocess.run(["ip", "-n", name, "link", "add", "eth2", "address", "52:54:00:10:01:02", "type", "veth",
                        "peer", "name", "gp0"], check=True)
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


def test_controller_renders_config_secrets_files_and_health(salt_call, ubuntu1_netns):
    out = show_sls(salt_call, ubuntu1_netns)
    config = state_args(out["galera-config"])
    assert "bind-address = 10.10.0.11" in config["contents"]
    assert "wsrep_cluster_address = gcomm://10.10.0.11,10.10.0.12,10.10.0.13" in config["contents"]
    assert config["check_cmd"] == "/usr/local/sbin/brine-galera-check-cnf"
    assert "sst-pw" not in config["contents"]
    sst = state_args(out["galera-sst-auth"])
    assert (sst["mode"], sst["group"], sst["show_changes"]) == ("0640", "mysql", False)
    assert "wsrep_sst_auth = brine_sst:sst-pw" in sst["contents"]
    health = state_args(out["galera-health-options"])
    assert (health["mode"], health["user"], health["show_changes"]) == ("0600", "root", False)
    assert "Restart=no" in state_args(out["galera-dropin"])["contents"]
    assert "ExecStopPost=-+/usr/local/sbin/brine-galera-stopped" in state_args(out["galera-dropin"])["contents"]
    # mariadb is enabled, never started or bootstrapped by the states
    assert "enabled" in out["galera-mariadb-enabled"]["service"]
    for sid, state in out.items():
        for fun, items in state.items():
            if fun.startswith("__"):
                continue
            text = json.dumps(items)
            assert "galera_new_cluster" not in text and "wsrep-new-cluster" not in text, sid
            assert not (fun == "service" and "running" in items and "mariadb" in text and sid != "galera-health-running"), sid
    assert "galera-accounts" in out


def test_this_host_renders_no_galera_change(salt_call):
    out = show_sls(salt_call)
    assert [sid for sid in out if sid.startswith("galera-")] == []


def test_the_check_script_refuses_an_unknown_option(tmp_path):
    import brine_galera as g
    good = tmp_path / "good.cnf"
    good.write_text(g.render_config("ubuntu1", "10.10.0.11", ["10.10.0.11", "10.10.0.12", "10.10.0.13"]))
    bad = tmp_path / "bad.cnf"
    bad.write_text(good.read_text() + "wsrep_bogus = 1\n")
    argv = ["/usr/sbin/mariadbd", "--user=mysql", "--help", "--verbose"]
    assert subprocess.run([argv[0], f"--defaults-file={good}", *argv[1:]], capture_output=True).returncode == 0
    assert subprocess.run([argv[0], f"--defaults-file={bad}", *argv[1:]], capture_output=True).returncode != 0


@pytest.mark.parametrize("env, expected", [
    ({"SERVICE_RESULT": "signal", "EXIT_CODE": "killed", "EXIT_STATUS": "KILL"},
     {"result": "signal", "exit_code": "killed", "exit_status": "KILL"}),
    ({"SERVICE_RESULT": "success", "EXIT_CODE": "exited", "EXIT_STATUS": "0"},
     {"result": "success", "exit_code": "exited", "exit_status": "0"}),
    ({}, {"result": "", "exit_code": "", "exit_status": ""}),
    ({"SERVICE_RESULT": 'a"; rm -rf / #', "EXIT_CODE": "$(reboot)", "EXIT_STATUS": "x" * 40 + "\n{"},
     {"result": "arm-rf", "exit_code": "reboot", "exit_status": "x" * 16}),
])
def test_stop_hook_leaves_a_clean_event_in_the_outbox(salt_call, ubuntu1_netns, tmp_path, env, expected):
    """mariadb.service's ExecStopPost: one message in the outbox (through the real
    brine-outbox-put, rendered into a temporary directory) with a payload the runner's checks
    accept, whatever systemd's variables hold."""
    from brinelib import decisions, outbox
    out = show_sls(salt_call, ubuntu1_netns)
    put = tmp_path / "brine-outbox-put"
    brine_testlib.write_outbox_put(put, tmp_path / "outbox")
    contents = state_args(out["galera-stopped-hook"])["contents"]
    assert "exec /usr/local/sbin/brine-outbox-put brine/galera/stopped" in contents
    hook = tmp_path / "brine-galera-stopped"
    hook.write_text(contents.replace("/usr/local/sbin/brine-outbox-put", str(put)))
    hook.chmod(0o755)
    proc = subprocess.run([str(hook)], env={"PATH": "/usr/bin:/bin", **env}, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    names = outbox.messages(os.listdir(tmp_path / "outbox"))
    assert len(names) == 1
    tag, payload = outbox.parse((tmp_path / "outbox" / names[0]).read_bytes(), {"brine/galera/stopped"})
    assert payload == expected
    event = {"id": "ubuntu1", "data": payload}
    if expected["result"] in decisions.SERVICE_RESULTS:
        decisions.decide_galera_stopped("brine/galera/stopped", event)
    else:
        with pytest.raises(decisions.Rejected):
            decisions.decide_galera_stopped("brine/galera/stopped", event)


def test_orchestration_renders_for_the_controllers_in_inventory_order(salt_call):
    out = brine_testlib.show_sls(salt_call, "orch.galera", minion_id="bootstrap")
    configured = state_args(out["galera-configured"])
    assert configured["tgt"] == ["ubuntu1", "ubuntu2", "ubuntu3"] and configured["tgt_type"] == "list"
    assert configured["sls"] == ["galera"]
    assert state_args(out["galera-formed"])["name"] == "brine.galera_form"
    assert state_args(out["galera-accounts"])["sls"] == ["galera.users"]
