"""salt-run brine.topology / brine.status: the runner's one job on every host and the event log
laid over the inventory (a fake loader stands in for the master's: the lab runs the real one)."""

import pytest
from brine_testlib import example_inventory, load_extension
from brinelib.dualbond.plan import build_plan

import brine_inventory

brine = load_extension("runners", "brine")


def answers(inventory, silent=()):
    """What each host's job returns when all is well: bonds on their primaries, the internal
    VIP on ubuntu1 and the external one on ubuntu2, Galera Synced, RabbitMQ whole."""
    out = {}
    nodes = [f"rabbit@{n}" for n in ("ubuntu1", "ubuntu2", "ubuntu3")]
    for name, host in inventory["hosts"].items():
        if name in silent:
            continue
        bonds = {}
        if host.get("dualbond"):
            plan = build_plan(host, inventory["networks"], name)
            bonds = {leg["bond"]: {"exists": True, "primary": leg["nic"], "active": leg["nic"],
                                   "members": {leg["nic"]: {"carrier": True}, leg["backup"]: {"carrier": True}}}
                     for leg in plan["legs"]}
        addresses = [host["networks"]["management"]["address"]]
        addresses += [inventory["vips"][v]["address"] for v, holder in (("internal", "ubuntu1"), ("external", "ubuntu2"))
                      if holder == name]
        out[name] = {"dualbond.status": {"bonds": bonds} if bonds else "'dualbond' is not available",
                     "network.ip_addrs": addresses,
                     "brine_galera.status": {"running": True, "synced": True, "health": "Synced",
                                                     "wsrep_local_state": "4", "wsrep_cluster_status": "Primary"}
                     if "controller" in host["roles"] else "no mariadb here",
                     "brine_rabbitmq.partitions": {"running": nodes, "partitions": []}
                     if "controller" in host["roles"] else "no rabbitmq here"}
    return out


@pytest.fixture
def runner(monkeypatch):
    inventory = brine_inventory.normalise(example_inventory())
    calls = []

    def execute(tgt, fun, arg=None, tgt_type=None, timeout=None):
        calls.append((tgt, fun, tgt_type))
        return answers(inventory, silent=runner.silent)

    runner.silent = ()
    monkeypatch.setattr(brine, "__salt__", {"salt.execute": execute,
                                            "pillar.show_pillar": lambda: {"brine": example_inventory()}}, raising=False)
    monkeypatch.setattr(brine, "events", lambda minion=None, limit=None: [
        {"received": 0, "tag": f"brine/vip/state from {minion}"}] if minion == "ubuntu1" else [])
    runner.calls = calls
    return runner


def test_status_asks_every_host_once_and_shows_what_they_report(runner):
    text = brine.status()
    assert len(runner.calls) == 1
    tgt, fun, tgt_type = runner.calls[0]
    assert sorted(tgt) == ["bootstrap", "ubuntu1", "ubuntu2", "ubuntu3"] and tgt_type == "list"
    assert list(fun) == list(brine.TOPOLOGY_CALLS)
    assert "unknown" not in text.lower() and "degraded" not in text
    assert sum(1 for line in text.splitlines() if line.startswith("galera") and " ok " in line) == 3, text
    lines = text.splitlines()
    assert any("internal" in line and "ubuntu1" in line for line in lines), text
    assert any("external" in line and "ubuntu2" in line for line in lines), text


def test_a_host_that_does_not_answer_is_unknown_not_healthy(runner):
    runner.silent = ("ubuntu3",)
    text = brine.status()
    assert any("ubuntu3" in line and "unknown" in line.lower() for line in text.splitlines()), text


def test_topology_writes_dot_or_svg_and_refuses_other_names(runner, tmp_path):
    dot = brine.topology()
    assert dot.startswith("digraph") or dot.startswith("graph")
    assert brine.topology(path=str(tmp_path / "lab.dot")) == {"written": str(tmp_path / "lab.dot")}
    assert (tmp_path / "lab.dot").read_text() == dot
    with pytest.raises(ValueError, match="name a .svg or a .dot file"):
        brine.topology(path=str(tmp_path / "lab.png"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lab.dot"]


def test_topology_draws_an_svg_with_graphviz(runner, tmp_path):
    brine.topology(path=str(tmp_path / "lab.svg"))
    svg = (tmp_path / "lab.svg").read_text()
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg and "ubuntu1" in svg
