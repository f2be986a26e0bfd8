"""
Latency of Brine's event-driven operations, on this host, with a real master and minions
(pytest-salt-factories, loopback only) and real carrier changes on veth pairs in network
namespaces created here.

    .venv/bin/python benchmarks/event_latency.py [TRIALS]     # default 20

Series (min / median / max over TRIALS each):

* engine, cut → recorded: peer link taken down → the master's runner records brine/net/link/down
* engine, mend → minion: peer link back up → dualbond.reselect_primary runs on the minion (OVS)
* beacon, cut → recorded / mend → minion: the same through the 1-second beacon
* nova.conf replaced → [vnc] back: rename over nova.conf → compute.console put the lines back

The dualbond module and the compute.console state are the stand-ins of tests/events_lab.py
(the real ones are being written in parallel); what is measured is the event path to them.
"""

import statistics
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from events_lab import (  # noqa: E402
    NOVA_CONF_WITH_VNC,
    NOVA_CONF_WITHOUT_VNC,
    build_tree,
    calls,
    master_overrides,
    minion_overrides,
    replace_file,
    wait_for,
)
from events_netns import VethLab  # noqa: E402

TRIALS = 20


class LoopbackOnly:
    """Network rule: the factories' log server listens on loopback only (as tests/conftest.py)."""

    @pytest.hookimpl(trylast=True)
    def pytest_configure(self, config):
        log_server = config.pluginmanager.get_plugin("saltfactories-log-server")
        if log_server is not None:
            log_server.log_host = "127.0.0.1"


@pytest.fixture(scope="session")
def event_listener():
    from saltfactories.plugins.event_listener import EventListener

    listener = EventListener()
    listener.host = "127.0.0.1"
    listener.address = f"tcp://127.0.0.1:{listener.port}"
    with listener:
        yield listener


def summary(name, samples):
    ms = [s * 1000 for s in samples]
    return (f"{name:<40} n={len(ms):>3}  min {min(ms):7.0f} ms  median {statistics.median(ms):7.0f} ms  "
            f"max {max(ms):7.0f} ms")


def record_time(master, minion, tag, interface, since):
    import salt.runner

    client = salt.runner.RunnerClient(dict(master.config))

    def found():
        entries = client.cmd("brine.events", kwarg={"minion": minion, "tag": tag, "since": since, "limit": 0},
                             print_event=False)
        return [e["received"] for e in entries if e.get("event", {}).get("interface") == interface]

    times = wait_for(found, timeout=30, interval=0.1)
    assert times, f"{tag} for {interface} was never recorded"
    return times[0]


def call_time(minion, since):
    made = wait_for(lambda: [c for c in calls(minion.config, since) if c["fun"] == "reselect_primary"], timeout=30,
                    interval=0.01)
    assert made, "dualbond.reselect_primary never ran"
    return made[0]["time"]


def cable_series(master, minion, lab, peer, watched, trials, settle):
    cut, mend = [], []
    for _ in range(trials):
        start = lab.cut(peer)
        cut.append(record_time(master, minion.id, "brine/net/link/down", watched, start) - start)
        time.sleep(settle)
        start = lab.mend(peer)
        mend.append(call_time(minion, start) - start)
        record_time(master, minion.id, "brine/net/link/up", watched, start)
        time.sleep(settle)
    return cut, mend


def test_event_latency(salt_factories, tmp_path_factory):
    trials = int(getattr(sys, "brine_trials", TRIALS))
    tree = build_tree(tmp_path_factory.mktemp("brine-bench"))
    results = []
    with VethLab("blb") as lab:
        lab.add_pair("lba", "lbap")
        lab.add_pair("lbb", "lbbp")
        lab.add_pair("lbc", "lbcp")
        lab.add_pair("lbd", "lbdp")
        master = salt_factories.salt_master_daemon("brine-bench-master", overrides=master_overrides(tree, False))
        with master.started(start_timeout=120):
            nova_conf = Path(tree) / "ubuntu3" / "nova" / "nova.conf"
            nova_conf.parent.mkdir(parents=True, exist_ok=True)
            nova_conf.write_text(NOVA_CONF_WITH_VNC)
            engines = [
                {"brine_linkwatch": {"netns": lab.watch_ns, "interfaces": ["lba", "lbb"],
                                     "bonds": {"bond0": {"members": ["lba", "lbb"], "backend": "ovs"}}}},
                {"brine_filewatch": {"watches": {"nova_conf": str(nova_conf)}}},
            ]
            beacons = {"brine_linkwatch": [{"interval": 1}, {"netns": lab.watch_ns}, {"interfaces": ["lbc", "lbd"]},
                                           {"bonds": {"bond1": {"members": ["lbc", "lbd"], "backend": "ovs"}}}]}
            engine_minion = master.salt_minion_daemon("ubuntu3", overrides=minion_overrides(tree, "ubuntu3", engines=engines))
            beacon_minion = master.salt_minion_daemon("ubuntu2", overrides=minion_overrides(tree, "ubuntu2", beacons=beacons))
            with engine_minion.started(start_timeout=120), beacon_minion.started(start_timeout=120):
                time.sleep(3)  # the beacon's first poll sets its baseline
                cut, mend = cable_series(master, engine_minion, lab, "lbbp", "lbb", trials, settle=0.2)
                results += [summary("engine: cut -> recorded at master", cut),
                            summary("engine: mend -> reselect_primary on minion", mend)]
                cut, mend = cable_series(master, beacon_minion, lab, "lbdp", "lbd", trials, settle=1.2)
                results += [summary("beacon: cut -> recorded at master", cut),
                            summary("beacon: mend -> reselect_primary on minion", mend)]
                restored = []
                proc = Path(engine_minion.config["cachedir"]) / "proc"  # one file per running job
                proc.mkdir(parents=True, exist_ok=True)
                for _ in range(trials):
                    start = time.time()
                    replace_file(nova_conf, NOVA_CONF_WITHOUT_VNC)
                    assert wait_for(lambda: "[vnc]" in nova_conf.read_text(), timeout=60, interval=0.01)
                    restored.append(time.time() - start)
                    # The fix-up is itself a change (one more event and state run): let the
                    # minion go idle, as between two real rewrites, before the next trial.
                    time.sleep(0.5)
                    assert wait_for(lambda: not any(proc.iterdir()), timeout=120, interval=0.05)
                    time.sleep(0.5)
                results.append(summary("nova.conf replaced -> [vnc] back", restored))
    print("\n\nBrine event latency (this host, loopback master, veth carrier changes)")
    for line in results:
        print("  " + line)


if __name__ == "__main__":
    sys.brine_trials = int(sys.argv[1]) if len(sys.argv) > 1 else TRIALS
    sys.exit(pytest.main([__file__, "-q", "-s", "-p", "no:cacheprovider", "-o", "addopts=", "-W", "ignore::DeprecationWarning"],
                         plugins=[LoopbackOnly()]))
