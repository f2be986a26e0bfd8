"""salt/brine/events.sls: the event watchers each host gets, rendered from the inventory."""

import json
import os
import shlex
import shutil
import subprocess

import pytest
from brine_testlib import REPO, example_inventory

from brinelib.dhcp import logs as dhcp_logs
from brinelib.dhcp.plan import reserved_macs

FORCED = "pillar=" + json.dumps({"brine_settings": {"events": {"enabled": True}}})
BEACON = "pillar=" + json.dumps({"brine_settings": {"events": {"enabled": True, "linkwatch": "beacon"}}})


def watcher_config(salt_call, host, pillar=FORCED):
    out, proc = salt_call("state.show_sls", "brine.events", pillar, minion_id=host)
    assert isinstance(out, dict), out
    args = {k: v for item in out["brine-events-config"]["file"] if isinstance(item, dict) for k, v in item.items()}
    assert args["name"].endswith("/minion.d/brine-events.conf")
    restart = out["brine-events-restart-minion"]["cmd"]
    assert {"onchanges": [{"file": "brine-events-config"}]} in restart
    return args["dataset"]


@pytest.mark.parametrize("host, backend", [("ubuntu1", "linux"), ("ubuntu3", "ovs")])
def test_a_controller_with_a_dual_bond_gets_every_watcher(salt_call, host, backend):
    conf = watcher_config(salt_call, host)
    assert conf == {
        "engines": [
            # The bond written out: the engine needs no pillar when the minion starts.
            {"brine_linkwatch": {"bonds": {"dualbond": {"members": ["eth2", "eth3"], "backend": backend}},
                                 "interfaces": ["eth2", "eth3"]}},
            # packages deployment of the example inventory: nova_console's own path, restored
            # by the engine with what compute.console gives its state, the settings written out.
            {"brine_filewatch": {"watches": {"nova_conf": "/etc/nova/nova.conf"},
                                 "restore": {"nova_conf": {
                                     "role": "compute", "service": "nova-compute",
                                     "marker_dir": "/etc/brine/restart-pending",
                                     "wanted": salt_call("nova_console.settings", minion_id=host)[0]}}}},
            # a controller: what keepalived's notify script and mariadb's stop hook leave in
            # the outbox, the only tags the engine sends from there.
            {"brine_outbox": {"directory": "/run/brine/outbox",
                              "tags": ["brine/galera/stopped", "brine/vip/state"]}},
        ]
    }
    own = conf["engines"][1]["brine_filewatch"]["restore"]["nova_conf"]["wanted"]["options"]["server_listen"]
    assert own == {"ubuntu1": "10.10.0.11", "ubuntu3": "10.10.0.13"}[host]


def test_restoring_nova_conf_in_the_engine_can_be_turned_off(salt_call):
    pillar = "pillar=" + json.dumps({"brine_settings": {"events": {"enabled": True, "restore_nova_conf": False}}})
    conf = watcher_config(salt_call, "ubuntu2", pillar)
    assert conf["engines"][1] == {"brine_filewatch": {"watches": {"nova_conf": "/etc/nova/nova.conf"}}}


def dhcp_watch(salt_call, setup, pillar_root=None):
    """
    The bootstrap host's ``dhcp_log`` watch as brine.events renders it in a private mount
    namespace where ``setup`` (shell) first shapes what the host has: /var/log under an empty
    tmpfs (no syslog daemon's log), and whatever ``setup`` adds or hides. The host's own
    /var/log and journalctl stay as they are.
    """
    out_file = salt_call.workdir / "events.json"
    command = salt_call.command("state.show_sls", "brine.events", FORCED, minion_id="bootstrap",
                                pillar_root=pillar_root, out_file=out_file)
    script = f"mount -t tmpfs brine-test /var/log\n{setup}\n{shlex.join(command)}"
    proc = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-ec", script],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(out_file.read_text())["local"]
    args = {k: v for item in out["brine-events-config"]["file"] if isinstance(item, dict) for k, v in item.items()}
    assert args["dataset"]["engines"][0]["brine_filewatch"]["watches"].keys() == {"dhcp_log"}, args["dataset"]
    return args["dataset"]["engines"][0]["brine_filewatch"]["watches"]["dhcp_log"]


def test_the_bootstrap_host_watches_its_dhcp_servers_log(salt_call):
    conf = watcher_config(salt_call, "bootstrap")
    source = dhcp_logs.choose_log_source(
        "isc-dhcp", default_exists=os.path.exists("/var/log/syslog"), has_journalctl=bool(shutil.which("journalctl")))
    macs = sorted(reserved_macs(example_inventory()))
    assert "52:54:00:10:01:02" in macs
    # The inventory's MACs written out: the engine has no pillar to tell known from unknown.
    assert conf == {"engines": [{"brine_filewatch": {"watches": {"dhcp_log": source}, "known_macs": macs}}]}


def test_without_a_syslog_file_the_bootstrap_host_follows_dhcpds_journal(salt_call):
    # Stock Debian 12: no rsyslog, so no /var/log/syslog; dhcpd logs to the journal only.
    assert shutil.which("journalctl"), "this test needs journalctl on the host (it is not run, only found)"
    assert dhcp_watch(salt_call, "") == "journal:dhcpd"


def test_with_a_syslog_file_the_bootstrap_host_watches_it(salt_call):
    assert dhcp_watch(salt_call, "touch /var/log/syslog") == "/var/log/syslog"


def test_without_journalctl_the_bootstrap_host_watches_the_default_log(salt_call):
    # /dev/null over journalctl: there, but not executable, so shutil.which finds none.
    journalctl = shutil.which("journalctl") or "/usr/bin/journalctl"
    hide = f"[ -e {journalctl} ] && mount --bind /dev/null {journalctl}; true"
    assert dhcp_watch(salt_call, hide) == dhcp_logs.DEFAULT_LOGS["isc-dhcp"]


def test_the_inventorys_log_setting_wins_over_the_journal(salt_call, inventory):
    inventory["services"].setdefault("dhcp", {})["log"] = "/var/log/dhcpd.log"
    root = salt_call.pillar_root_with(inventory)
    assert dhcp_watch(salt_call, "", pillar_root=root) == "/var/log/dhcpd.log"


def test_kea_and_dnsmasq_watch_their_own_log_files(salt_call, inventory):
    inventory["services"].setdefault("dhcp", {})["server"] = "dnsmasq"
    root = salt_call.pillar_root_with(inventory)
    assert dhcp_watch(salt_call, "", pillar_root=root) == dhcp_logs.DEFAULT_LOGS["dnsmasq"]


def test_beacon_mode_replaces_the_link_engine(salt_call):
    conf = watcher_config(salt_call, "ubuntu3", pillar=BEACON)
    assert conf["loop_interval"] == 1
    assert conf["beacons"] == {"brine_linkwatch": [
        {"interval": 1}, {"bonds": {"dualbond": {"members": ["eth2", "eth3"], "backend": "ovs"}}},
        {"interfaces": ["eth2", "eth3"]}]}
    assert [list(engine) for engine in conf["engines"]] == [["brine_filewatch"], ["brine_outbox"]]
    assert conf["engines"][0]["brine_filewatch"]["watches"] == {"nova_conf": "/etc/nova/nova.conf"}


def test_masterless_runs_leave_the_minion_config_alone(salt_call):
    out, _ = salt_call("state.show_sls", "brine.events", minion_id="ubuntu1")
    assert list(out) == ["brine-inventory-valid"]
