"""salt/brine/events.sls: the event watchers each host gets, rendered from the inventory."""

import json

import pytest

import dhcp_reservations

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
def test_a_compute_host_with_a_dual_bond_gets_both_watchers(salt_call, host, backend):
    conf = watcher_config(salt_call, host)
    assert conf == {
        "engines": [
            # The bond written out: the engine needs no pillar when the minion starts.
            {"brine_linkwatch": {"bonds": {"dualbond": {"members": ["eth2", "eth3"], "backend": backend}},
                                 "interfaces": ["eth2", "eth3"]}},
            # packages deployment of the example inventory: nova_console's own path.
            {"brine_filewatch": {"watches": {"nova_conf": "/etc/nova/nova.conf"}}},
        ]
    }


def test_the_bootstrap_host_watches_its_dhcp_servers_log(salt_call):
    conf = watcher_config(salt_call, "bootstrap")
    assert conf == {"engines": [{"brine_filewatch": {"watches": {"dhcp_log": dhcp_reservations.DEFAULT_LOGS["isc-dhcp"]}}}]}


def test_beacon_mode_replaces_the_link_engine(salt_call):
    conf = watcher_config(salt_call, "ubuntu3", pillar=BEACON)
    assert conf["loop_interval"] == 1
    assert conf["beacons"] == {"brine_linkwatch": [
        {"interval": 1}, {"bonds": {"dualbond": {"members": ["eth2", "eth3"], "backend": "ovs"}}},
        {"interfaces": ["eth2", "eth3"]}]}
    assert conf["engines"] == [{"brine_filewatch": {"watches": {"nova_conf": "/etc/nova/nova.conf"}}}]


def test_masterless_runs_leave_the_minion_config_alone(salt_call):
    out, _ = salt_call("state.show_sls", "brine.events", minion_id="ubuntu1")
    assert list(out) == ["brine-inventory-valid"]
