"""
Real MariaDB Galera (mariadbd 10.11 + galera-4 26.4, mariabackup SST): three nodes in three
network namespaces on a bridge (tests/galera_testbed.py), configured from
brine_galera.render_config(). The cluster forms (first node bootstraps, the others join by SST
one at a time), rows are written, and all three nodes are killed with SIGKILL, staggered so
their seqnos differ (ubuntu2 carries pc.weight=3, so it stays Primary alone and commits last).
Then the live layer's position logic (grastate.dat, mariadbd --wsrep-recover) reads every
datadir, the planner chooses, that node's grastate.dat alone is edited, it bootstraps and the
others start: every committed row is back and the chosen node had the highest seqno. The
negative case (one grastate.dat unreadable and its wsrep-recover failing) is refused naming that
node; force= then recovers. The health daemon answers 200 on synced nodes, 503 on a dead node
and on a node alone outside the Primary component. Timings are printed.
"""

import os
import threading
import time

import pytest

import brine_galera as g
from brinelib import galera
from brine_testlib import Clock, wait_for
from galera_testbed import MONITOR_PASSWORD, SST_PASSWORD, GaleraBed

# Root (network namespaces) and mariadb-server, galera-4 and mariadb-backup (scripts/setup-env.sh
# installs them) are required: without them these tests fail, they are never skipped.

NAMES = ["ubuntu1", "ubuntu2", "ubuntu3"]


def insert(node, first, count):
    values = ",".join(f"({i})" for i in range(first, first + count))
    node.sql(f"INSERT INTO brine.t (id) VALUES {values};")
    return list(range(first, first + count))


def test_formation_outage_recovery_and_health(tmp_path):
    clock = Clock("galera functional timings")
    extra = {"ubuntu2": {"wsrep_provider_options": "gcache.size=32M;pc.weight=3"}}
    with GaleraBed(str(tmp_path), NAMES, extra=extra) as bed:
        n1, n2, n3 = (bed.nodes[n] for n in NAMES)
        for node in (n1, n2, n3):
            node.install()
        clock.lap("mariadb-install-db x3")

        # Formation: the planner says the first controller bootstraps a clean slate.
        fresh = {n: {"running": False, "has_state": g.has_state(bed.nodes[n].datadir)} for n in NAMES}
        formation = galera.plan_formation(NAMES, fresh)
        assert formation == {"bootstrap": "ubuntu1", "join": ["ubuntu2", "ubuntu3"]}
        n1.start("--wsrep-new-cluster")
        n1.wait_synced()
        # The accounts as the live layer makes them (secrets from brine_secrets.get), idempotent.
        secrets = {"mariadb_root_password": "root-pw'x", "galera_sst_password": SST_PASSWORD,
                   "galera_monitor_password": MONITOR_PASSWORD}
        g.__salt__ = {"brine_secrets.get": secrets.__getitem__}
        assert g.ensure_users(socket=n1.socket)["changed"] == ["root@localhost", "brine_sst@localhost",
                                                              "brine_monitor@localhost"]
        assert g.ensure_users(socket=n1.socket)["changed"] == []
        assert g.ensure_users(test=True, socket=n1.socket)["changed"] == []
        n1.sql("CREATE DATABASE brine; CREATE TABLE brine.t (id INT PRIMARY KEY) ENGINE=InnoDB;")
        clock.lap("ubuntu1 bootstraps; accounts")
        # The health service runs from the start: 503 until a node is synced, and on the donor.
        for node in (n1, n2, n3):
            node.start_health()
        seen = []
        for name in formation["join"]:
            joined = bed.nodes[name]
            stop = threading.Event()

            def watch():
                while not stop.is_set():
                    for node in (n1, n2):
                        if node.status().get("running"):
                            seen.append((node.name, *node.health_from(joined)))
                    time.sleep(0.2)
            watcher = threading.Thread(target=watch, daemon=True)
            watcher.start()
            joined.start()
            joined.wait_synced(timeout=180)
            stop.set()
            watcher.join()
            clock.lap(f"{name} joins by SST (mariabackup)")
        donors = [(n, c, t) for n, c, t in seen if "Donor" in t]
        print(f"health during SST: {len(seen)} answers, {len(donors)} from a donor, e.g. {donors[:1]}")
        assert donors and all(c == 503 for _, c, _ in donors)
        assert n3.status()["wsrep_cluster_size"] == "3"
        assert n3.sql("SELECT User FROM mysql.user WHERE User='brine_monitor';").strip() == "brine_monitor"

        for node in (n1, n2, n3):
            assert wait_for(lambda: node.health_from(n1)[0] == 200, timeout=20), node.health_from(n1)
        clock.lap("health 200 on all three")

        # Rows, then kill -9 staggered: ubuntu1 first, ubuntu3 next, ubuntu2 (weight 3) last.
        committed = insert(n1, 0, 200)
        committed += insert(n3, 200, 100)
        n1.kill9()
        code, text = n1.health_from(n2)
        assert code == 503 and "not answering" in text
        committed += insert(n2, 300, 50)
        wait_for(lambda: n3.sql("SELECT COUNT(*) FROM brine.t;").strip() == "350", timeout=20)
        n3.kill9()
        assert wait_for(lambda: n2.status().get("wsrep_cluster_status") == "Primary", timeout=20)
        committed += insert(n2, 350, 25)
        n2.kill9()
        clock.lap("writes and three staggered SIGKILLs")

        positions = {name: bed.nodes[name].position() for name in NAMES}
        clock.lap("positions (grastate.dat + wsrep-recover)")
        print("positions:", positions)
        assert all(p["state"] == "down" and p["source"] == "wsrep-recover" for p in positions.values()), positions
        seqnos = {name: p["seqno"] for name, p in positions.items()}
        assert seqnos["ubuntu1"] < seqnos["ubuntu3"] < seqnos["ubuntu2"], seqnos
        plan = galera.plan_recovery(NAMES, positions)
        print("plan:", plan["reason"])
        assert not plan["refused"] and plan["bootstrap"] == "ubuntu2" and plan["start"] == ["ubuntu1", "ubuntu3"]

        # The negative cases. ubuntu3's seqno is -1 and its wsrep-recover fails (the redo log's
        # header made unreadable; put back afterwards): refused, naming ubuntu3 and the cause.
        redo = os.path.join(n3.datadir, "ib_logfile0")
        with open(redo, "r+b") as fh:
            header = fh.read(512)
            fh.seek(0)
            fh.write(b"\xff" * 512)
        broken = n3.position()
        with open(redo, "r+b") as fh:
            fh.write(header)
        assert broken["state"] == "unreadable" and "Invalid log header checksum" in broken["reason"], broken
        refused = galera.plan_recovery(NAMES, dict(positions, ubuntu3=broken))
        assert refused["refused"] and refused["node"] == "ubuntu3" and "wsrep-recover" in refused["reason"]
        print("refused:", refused["reason"])
        # ubuntu3's grastate.dat garbled (and so no wsrep-recover for it).
        saved = open(n3.grastate).read()
        with open(n3.grastate, "w") as fh:
            fh.write("\x00\x17garbage")
        positions["ubuntu3"] = n3.position()
        refused = galera.plan_recovery(NAMES, positions)
        assert refused["refused"] and refused["node"] == "ubuntu3", refused
        print("refused:", refused["reason"])
        forced = galera.plan_recovery(NAMES, positions, force="ubuntu2")
        assert not forced["refused"] and forced["bootstrap"] == "ubuntu2" and forced["forced"]
        assert galera.plan_recovery(NAMES, positions, force="ubuntu1")["refused"]  # behind ubuntu2
        clock.lap("refusal and force planned")

        # Carry out the forced plan: edit exactly one grastate.dat, bootstrap, start the others.
        before = {name: open(bed.nodes[name].grastate, "rb").read() for name in ("ubuntu1",)}
        # Galera itself may have set the flag on ubuntu2 (the last member of the Primary component).
        flagged = g.parse_grastate(open(n2.grastate).read())["safe_to_bootstrap"] == 1
        assert g.mark_safe_to_bootstrap(n2.grastate, forced["expect"]["uuid"], forced["expect"]["seqno"],
                                        recover=lambda: g.run_recover(n2.cnf, n2.datadir, user="root")) is not flagged
        print("ubuntu2's grastate.dat", "already had safe_to_bootstrap: 1" if flagged else "edited")
        assert g.parse_grastate(open(n2.grastate).read())["safe_to_bootstrap"] == 1
        assert open(n1.grastate, "rb").read() == before["ubuntu1"]
        assert g.parse_grastate(open(n1.grastate).read())["safe_to_bootstrap"] == 0
        # What Debian's unit does: galera_recovery's start position, then galera_new_cluster.
        n2.start("--wsrep-new-cluster", f"--wsrep-start-position={forced['expect']['uuid']}:{forced['expect']['seqno']}")
        n2.wait_synced()
        clock.lap("ubuntu2 bootstraps")
        # ubuntu3's unreadable state is moved aside by the operator: it joins by SST.
        os.rename(n3.grastate, n3.grastate + ".unreadable")
        for name in forced["start"]:
            node = bed.nodes[name]
            position = positions[name]
            more = []
            if position["state"] == "down":
                more.append(f"--wsrep-start-position={position['uuid']}:{position['seqno']}")
            node.start(*more)
            node.wait_synced(timeout=180)
            clock.lap(f"{name} rejoins")
        for node in (n1, n2, n3):
            rows = [int(x) for x in node.sql("SELECT id FROM brine.t ORDER BY id;").split()]
            assert rows == committed, (node.name, len(rows), len(committed))
        assert n1.status()["wsrep_cluster_size"] == "3"
        seqno_after = int(n2.status()["wsrep_last_committed"])
        assert seqno_after >= seqnos["ubuntu2"]

        # A second outage: all three killed at once, same seqno everywhere. The tie goes to a node
        # Galera flagged, else to the first in inventory order; its grastate.dat is edited.
        for node in (n1, n2, n3):
            node.kill9()
        clock.lap("second outage: three SIGKILLs at once")
        # This time the runner's driver (brine_galera.run_recovery) does it all, through calls
        # that reach these nodes the way salt.execute reaches controllers.
        decisions = []
        result = galera.run_recovery(NAMES, bed.call, on_decision=decisions.append, timeout=180)
        plan = result["plan"]
        positions = plan["positions"]
        print("second plan:", plan["reason"], "->", result["outcome"])
        assert result["outcome"] == "done", result
        assert len({p["seqno"] for p in positions.values()}) == 1, positions
        flagged = [n for n in NAMES if positions[n]["safe_to_bootstrap"] == 1]
        assert plan["bootstrap"] == (flagged or NAMES)[0]
        assert bed.edits == [[] if flagged else [plan["bootstrap"]]]  # at most that one grastate.dat
        assert decisions[0]["decision"] == "bootstrap"
        assert [s["node"] for s in result["steps"]] == [plan["bootstrap"]] + plan["start"]
        for node in (n1, n2, n3):
            assert [int(x) for x in node.sql("SELECT id FROM brine.t ORDER BY id;").split()] == committed
        clock.lap("second recovery (tie), every row back")

        # Health: 200 synced everywhere; ubuntu3 alone (off the bridge) is non-Primary: 503.
        for node in (n1, n2, n3):
            assert wait_for(lambda: node.health_from(n1)[0] == 200, timeout=20), node.health_from(n1)
        bed.isolate("ubuntu3")
        assert wait_for(lambda: n3.status().get("wsrep_cluster_status") == "non-Primary", timeout=60), n3.status()
        code, text = n3.health_from(n3)
        assert code == 503 and "non-Primary" in text, text
        assert n1.health_from(n2)[0] == 200
        clock.lap("health: 200 synced, 503 alone and non-Primary")
        assert saved  # the garbled file's original content was a valid grastate
        clock.report()
