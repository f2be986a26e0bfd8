"""The Galera pure core: grastate.dat, wsrep-recover logs, the config, health, and the recovery
planner in every failure mode the anchors' trackers report."""

import itertools
import os
import socket
import struct
import subprocess
import sys
import time

import pytest

import brine_galera as g
from brine_testlib import REPO, free_port
from brinelib import galera

U1 = "9acf4d34-acdb-11e6-bcc3-d3e36276629f"
U2 = "1b2c3d4e-0000-11e6-bcc3-d3e36276629f"
Z = galera.ZERO_UUID

GRASTATE = f"""# GALERA saved state
version: 2.1
uuid:    {U1}
seqno:   1234
safe_to_bootstrap: 0
"""


def down(seqno, uuid=U1, safe=0, source=None):
    return {"state": "down", "uuid": uuid, "seqno": seqno, "safe_to_bootstrap": safe,
            "source": source or ("wsrep-recover" if seqno == -1 else "grastate")}


def bad(reason="cannot read /var/lib/mysql/grastate.dat: Permission denied"):
    return {"state": "unreadable", "reason": reason}


def running(cluster="Primary", local_state="4"):
    return {"state": "running", "wsrep_cluster_status": cluster, "wsrep_local_state": local_state}


NODES3 = ["ubuntu1", "ubuntu2", "ubuntu3"]
NODES5 = ["c1", "c2", "c3", "c4", "c5"]


# --------------------------------------------------------------------------- grastate.dat


def test_grastate_parsed():
    assert g.parse_grastate(GRASTATE) == {"state": "down", "uuid": U1, "seqno": 1234, "safe_to_bootstrap": 0,
                                          "source": "grastate"}


def test_grastate_without_safe_to_bootstrap_reads_as_zero():
    text = GRASTATE.replace("safe_to_bootstrap: 0\n", "")
    assert g.parse_grastate(text)["safe_to_bootstrap"] == 0


def test_grastate_uppercase_uuid_normalised():
    assert g.parse_grastate(GRASTATE.replace(U1, U1.upper()))["uuid"] == U1


@pytest.mark.parametrize("text, words", [
    ("", "no uuid line"),
    ("garbage\x00\x01", "not 'key: value'"),
    (GRASTATE.replace(U1, "not-a-uuid"), "is not a UUID"),
    (GRASTATE.replace("seqno:   1234\n", ""), "no seqno line"),
    (GRASTATE.replace("1234", "12x"), "not a number"),
    (GRASTATE.replace("1234", "-2"), "not a number >= -1"),
    (GRASTATE.replace("1234", "99999999999999999999"), "not a number"),
    (GRASTATE.replace("safe_to_bootstrap: 0", "safe_to_bootstrap: yes"), "not 0 or 1"),
    (GRASTATE + "seqno: 5\n", "seqno twice"),
    (None, "not text"),
])
def test_grastate_garbled_is_unreadable_with_reason(text, words):
    parsed = g.parse_grastate(text)
    assert parsed["state"] == "unreadable" and words in parsed["reason"]


def test_set_safe_to_bootstrap_edits_only_that_line():
    edited = g.set_safe_to_bootstrap(GRASTATE)
    assert edited == GRASTATE.replace("safe_to_bootstrap: 0", "safe_to_bootstrap: 1")
    assert g.set_safe_to_bootstrap(edited) == edited


def test_set_safe_to_bootstrap_adds_the_line_to_an_old_file():
    text = GRASTATE.replace("safe_to_bootstrap: 0\n", "")
    edited = g.set_safe_to_bootstrap(text)
    assert g.parse_grastate(edited)["safe_to_bootstrap"] == 1
    assert edited.replace("safe_to_bootstrap: 1\n", "") == text


def test_set_safe_to_bootstrap_refuses_a_garbled_file():
    with pytest.raises(ValueError):
        g.set_safe_to_bootstrap("uuid: nope\n")


# --------------------------------------------------------------------------- wsrep-recover


RECOVER_LOG = f"""2026-12-06  4:00:00 0 [Note] Starting MariaDB 10.11.19 as process 123
2026-12-06  4:00:01 0 [Note] InnoDB: Starting crash recovery from checkpoint LSN=46846
2026-12-06  4:00:01 0 [Note] WSREP: Recovered position: {U1}:1240
"""


def test_recover_log_parsed():
    assert g.parse_recover_log(RECOVER_LOG) == (U1, 1240)


def test_recover_log_last_position_wins():
    assert g.parse_recover_log(RECOVER_LOG + f"[Note] WSREP: Recovered position: {U1}:1250\n") == (U1, 1250)


def test_recover_log_without_position_says_why():
    uuid, why = g.parse_recover_log("0 [ERROR] InnoDB: Invalid log header checksum\n"
                                    "0 [ERROR] InnoDB: Plugin initialization aborted\n0 [ERROR] Aborting\n")
    assert uuid is None and why.endswith("found no position: InnoDB: Invalid log header checksum")
    assert g.parse_recover_log("")[0] is None
    uuid, why = g.parse_recover_log("[Note] WSREP: wsrep_on is off, skipping position recovery")
    assert uuid is None and "skipped" in why


def test_combine_uses_recovered_seqno_only_for_minus_one():
    minus = g.parse_grastate(GRASTATE.replace("1234", "-1"))
    assert g.combine_position(minus, (U1, 1240)) == down(1240, source="wsrep-recover")
    assert g.combine_position(g.parse_grastate(GRASTATE), (U1, 1)) == down(1234)
    assert g.combine_position(minus, None)["state"] == "unreadable"
    assert "boom" in g.combine_position(minus, (None, "boom"))["reason"]
    assert "recovered" in g.combine_position(minus, (U2, 5))["reason"]
    # a zero UUID from InnoDB (nothing committed since) keeps grastate's cluster
    assert g.combine_position(minus, (Z, -1))["uuid"] == U1


def test_read_position_runs_recover_only_for_minus_one(tmp_path):
    path = tmp_path / "grastate.dat"
    calls = []
    path.write_text(GRASTATE)
    assert g.read_position(str(path), lambda: calls.append(1) or "")["seqno"] == 1234
    assert calls == []
    path.write_text(GRASTATE.replace("1234", "-1"))
    assert g.read_position(str(path), lambda: RECOVER_LOG)["seqno"] == 1240
    assert "no " in g.read_position(str(tmp_path / "missing"), lambda: "")["reason"]
    assert g.read_position(str(path), lambda: "", running=True)["state"] == "unreadable"

    def fails():
        raise OSError("no mariadbd")
    assert "did not run" in g.read_position(str(path), fails)["reason"]


def test_read_position_of_a_file_that_cannot_be_read(tmp_path):
    # Not by permissions: root (the tests' user) reads any file; a directory in its place
    # cannot be read as a file by anyone.
    path = tmp_path / "grastate.dat"
    path.mkdir()
    position = g.read_position(str(path), lambda: "")
    assert position["state"] == "unreadable" and "cannot read" in position["reason"]


def test_mark_safe_to_bootstrap_checks_the_position_and_keeps_the_file(tmp_path):
    path = tmp_path / "grastate.dat"
    path.write_text(GRASTATE)
    path.chmod(0o660)
    with pytest.raises(g.CommandExecutionError, match="moved"):
        g.mark_safe_to_bootstrap(str(path), U1, 1200)
    assert path.read_text() == GRASTATE
    assert g.mark_safe_to_bootstrap(str(path), U1, 1234) is True
    assert path.read_text() == GRASTATE.replace("safe_to_bootstrap: 0", "safe_to_bootstrap: 1")
    assert oct(path.stat().st_mode & 0o777) == "0o660"
    assert g.mark_safe_to_bootstrap(str(path), U1, 1234) is False
    assert sorted(os.listdir(tmp_path)) == ["grastate.dat"]


def test_recover_command_never_starts_a_normal_server():
    argv = g.recover_command("/x.cnf", "/d", "mysql", "/tmp/log")
    assert "--wsrep-recover" in argv and "--skip-networking" in argv
    assert argv[1] == "--defaults-file=/x.cnf"


# --------------------------------------------------------------------------- health


def status_text(state="4", cluster="Primary", ready="ON"):
    return f"wsrep_local_state\t{state}\nwsrep_cluster_status\t{cluster}\nwsrep_ready\t{ready}\n"


def test_health_200_only_when_synced_primary_ready():
    assert g.health(g.parse_status(status_text()))[0] == 200


@pytest.mark.parametrize("state, cluster, ready, words", [
    ("2", "Primary", "ON", "Donor"),
    ("1", "Primary", "ON", "Joining"),
    ("3", "Primary", "ON", "Joined"),
    ("4", "non-Primary", "ON", "non-Primary"),
    ("4", "Primary", "OFF", "wsrep_ready OFF"),
    ("0", "Disconnected", "OFF", "unknown"),
])
def test_health_503_otherwise(state, cluster, ready, words):
    code, why = g.health(g.parse_status(status_text(state, cluster, ready)))
    assert code == 503 and words in why


def test_health_503_when_nothing_answers():
    assert g.health({})[0] == 503
    assert g.health(g.parse_status("wsrep_ready\tON\n"))[0] == 503


def test_health_daemon_agrees_with_the_core():
    from brine_testlib import REPO, load_module
    daemon = load_module(REPO / "salt/galera/files/brine-galera-health.py", "brine_galera_health")
    for state, cluster, ready in itertools.product(("1", "2", "3", "4", ""), ("Primary", "non-Primary", ""), ("ON", "OFF")):
        text = status_text(state, cluster, ready)
        assert daemon.verdict(daemon.parse_status(text))[0] == g.health(g.parse_status(text))[0]
    assert daemon.verdict({})[0] == 503


# --------------------------------------------------------------------------- config


def test_render_config():
    text = g.render_config("ubuntu1", "10.10.0.11", ["10.10.0.11", "10.10.0.12", "10.10.0.13"],
                           cluster_name="lab", buffer_pool_size="64M")
    for line in ("bind-address = 10.10.0.11", "wsrep_on = ON",
                 "wsrep_provider = /usr/lib/galera/libgalera_smm.so",
                 "wsrep_cluster_address = gcomm://10.10.0.11,10.10.0.12,10.10.0.13",
                 "wsrep_node_address = 10.10.0.11", "wsrep_node_name = ubuntu1", "wsrep_cluster_name = lab",
                 "wsrep_sst_method = mariabackup", "binlog_format = ROW", "innodb_autoinc_lock_mode = 2",
                 "innodb_buffer_pool_size = 64M"):
        assert line in text.splitlines()
    assert "password" not in text and "sst_auth" not in text


def test_sst_auth_and_client_options():
    assert "wsrep_sst_auth = brine_sst:s3cr" in g.render_sst_auth("brine_sst", "s3cr")
    with pytest.raises(ValueError):
        g.render_sst_auth("brine_sst", "a:b")
    assert 'password = "a\\"b"' in g.render_client_options("m", 'a"b', "/s")
    with pytest.raises(ValueError):
        g.render_client_options("m", "a\nb", "/s")


def test_account_sql_quotes_and_refuses_odd_names():
    sql = g.account_sql("brine_sst", "it's", ["RELOAD", "PROCESS"])
    assert "IDENTIFIED BY 'it\\'s'" in sql and "GRANT RELOAD, PROCESS ON *.* TO 'brine_sst'@'localhost'" in sql
    assert "GRANT USAGE ON" in g.account_sql("m", "x", [])
    with pytest.raises(ValueError):
        g.account_sql("x'; DROP", "p", [])
    with pytest.raises(ValueError):
        g.account_sql("x", "p", ["ALL; DROP"])
    assert "unix_socket OR mysql_native_password" in g.root_sql("p")


# --------------------------------------------------------------------------- planner


def plan(positions, nodes=NODES3, force=None):
    return galera.plan_recovery(nodes, positions, force=force)


def test_highest_seqno_wins():
    p = plan({"ubuntu1": down(10), "ubuntu2": down(12), "ubuntu3": down(11)})
    assert not p["refused"]
    assert (p["bootstrap"], p["edit_grastate"], p["start"]) == ("ubuntu2", "ubuntu2", ["ubuntu1", "ubuntu3"])
    assert p["expect"] == {"uuid": U1, "seqno": 12}
    assert "highest seqno (12)" in p["reason"] and p["forced"] is False


def test_highest_seqno_beats_safe_to_bootstrap_elsewhere():
    p = plan({"ubuntu1": down(10, safe=1), "ubuntu2": down(12), "ubuntu3": down(11)})
    assert p["bootstrap"] == "ubuntu2"


def test_tie_goes_to_safe_to_bootstrap():
    p = plan({"ubuntu1": down(12), "ubuntu2": down(10), "ubuntu3": down(12, safe=1)})
    assert p["bootstrap"] == "ubuntu3" and "safe_to_bootstrap: 1" in p["reason"]
    assert p["start"] == ["ubuntu1", "ubuntu2"]


def test_tie_without_flag_goes_to_inventory_order():
    p = plan({"ubuntu1": down(10), "ubuntu2": down(12), "ubuntu3": down(12)})
    assert p["bootstrap"] == "ubuntu2" and "first in inventory order" in p["reason"]
    p = plan({"ubuntu3": down(12), "ubuntu2": down(12), "ubuntu1": down(12)})
    assert p["bootstrap"] == "ubuntu1"


def test_clean_shutdown_last_node_has_the_flag():
    p = plan({"ubuntu1": down(50), "ubuntu2": down(50), "ubuntu3": down(50, safe=1)})
    assert p["bootstrap"] == "ubuntu3"


def test_all_minus_one_with_recovered_positions():
    p = plan({"ubuntu1": down(1300, source="wsrep-recover"), "ubuntu2": down(1302, source="wsrep-recover"),
              "ubuntu3": down(1301, source="wsrep-recover")})
    assert p["bootstrap"] == "ubuntu2"


def test_all_minus_one_without_recovery_is_refused():
    """The tracker's 'all nodes at seqno -1 after an unclean stop': never pick by grastate alone."""
    p = plan({n: down(-1, source="grastate") for n in NODES3})
    assert p["refused"] and p["node"] == "ubuntu1" and "seqno -1" in p["reason"]


def test_one_unreadable_refuses_naming_that_node():
    p = plan({"ubuntu1": down(10), "ubuntu2": bad("no grastate.dat"), "ubuntu3": down(11)})
    assert p["refused"] and p["node"] == "ubuntu2" and "no grastate.dat" in p["reason"]
    assert p["unknown"] == ["ubuntu2"] and "force=" in p["reason"]


def test_missing_or_malformed_answers_are_unreadable():
    p = plan({"ubuntu1": down(10), "ubuntu3": down(11)})
    assert p["refused"] and p["node"] == "ubuntu2" and "no answer" in p["reason"]
    for junk in ("text", {"state": "down", "uuid": "x", "seqno": 1}, {"state": "down", "uuid": U1, "seqno": "1"},
                 {"state": "down", "uuid": U1, "seqno": True}, {"state": "down", "uuid": U1, "seqno": -5},
                 {"state": "down", "uuid": U1, "seqno": 1, "safe_to_bootstrap": 2}, {"state": "weird"},
                 {"state": "unreadable"}):
        p = plan({"ubuntu1": down(10), "ubuntu2": junk, "ubuntu3": down(11)})
        assert p["refused"] and p["node"] == "ubuntu2", junk


def test_force_overrides_only_unreadable():
    positions = {"ubuntu1": down(10), "ubuntu2": bad(), "ubuntu3": down(11)}
    p = plan(positions, force="ubuntu3")
    assert not p["refused"] and p["bootstrap"] == "ubuntu3" and p["forced"]
    assert p["start"] == ["ubuntu1", "ubuntu2"] and "ubuntu2 is unknown" in p["reason"]


def test_force_of_a_node_behind_is_refused():
    p = plan({"ubuntu1": down(10), "ubuntu2": bad(), "ubuntu3": down(11)}, force="ubuntu1")
    assert p["refused"] and p["node"] == "ubuntu1" and "lose transactions" in p["reason"]


def test_force_must_name_a_controller_with_a_known_position():
    positions = {"ubuntu1": down(10), "ubuntu2": bad(), "ubuntu3": down(11)}
    p = plan(positions, force="bootstrap")
    assert p["refused"] and "not one of the inventory's controllers" in p["reason"]
    p = plan(positions, force="ubuntu2")
    assert p["refused"] and p["node"] == "ubuntu2" and "its own position is unknown" in p["reason"]


def test_force_does_not_override_different_clusters_or_zero():
    p = plan({"ubuntu1": down(10, uuid=U2), "ubuntu2": bad(), "ubuntu3": down(11)}, force="ubuntu3")
    assert p["refused"] and "different clusters" in p["reason"]
    p = plan({"ubuntu1": down(-1, uuid=Z), "ubuntu2": bad(), "ubuntu3": down(-1, uuid=Z)}, force="ubuntu3")
    assert p["refused"] and "zero UUID" in p["reason"] and p["node"] == "ubuntu3"


def test_force_when_nothing_is_unknown_is_the_same_plan_if_it_is_the_top():
    p = plan({"ubuntu1": down(10), "ubuntu2": down(12), "ubuntu3": down(11)}, force="ubuntu2")
    assert p["bootstrap"] == "ubuntu2" and p["forced"]


def test_different_clusters_refused():
    p = plan({"ubuntu1": down(10), "ubuntu2": down(12, uuid=U2), "ubuntu3": down(11)})
    assert p["refused"] and "different clusters" in p["reason"] and U1 in p["reason"] and U2 in p["reason"]


def test_zero_uuid_never_bootstraps():
    p = plan({n: down(-1, uuid=Z) for n in NODES3})
    assert p["refused"] and "zero UUID" in p["reason"] and "empty cluster" in p["reason"]


def test_zero_uuid_node_joins_by_sst():
    p = plan({"ubuntu1": down(-1, uuid=Z), "ubuntu2": down(5), "ubuntu3": down(7)})
    assert p["bootstrap"] == "ubuntu3" and "ubuntu1 (no state) will join by SST" in p["reason"]


def test_zero_uuid_with_a_seqno_is_inconsistent():
    p = plan({"ubuntu1": down(9, uuid=Z), "ubuntu2": down(5), "ubuntu3": down(7)})
    assert p["refused"] and p["node"] == "ubuntu1"


def test_running_primary_is_not_a_full_outage():
    p = plan({"ubuntu1": down(10), "ubuntu2": running(), "ubuntu3": bad()})
    assert p["refused"] and p["full_outage"] is False and p["node"] == "ubuntu2"
    assert p["down"] == ["ubuntu1", "ubuntu3"]
    p = plan({"ubuntu1": down(10), "ubuntu2": running(), "ubuntu3": down(12)}, force="ubuntu3")
    assert p["refused"] and p["full_outage"] is False


def test_running_non_primary_is_unknown():
    p = plan({"ubuntu1": down(10), "ubuntu2": running("non-Primary", "0"), "ubuntu3": down(12)})
    assert p["refused"] and p["node"] == "ubuntu2" and "not in a Primary component" in p["reason"]
    p = plan({"ubuntu1": down(10), "ubuntu2": running("non-Primary", "0"), "ubuntu3": down(12)}, force="ubuntu3")
    assert p["bootstrap"] == "ubuntu3"
    p = plan({"ubuntu1": down(10), "ubuntu2": running("non-Primary", "0"), "ubuntu3": down(12)}, force="ubuntu2")
    assert p["refused"] and "running there" in p["reason"]


def test_single_node():
    p = plan({"c1": down(-1, source="wsrep-recover")}, nodes=["c1"])
    assert p["bootstrap"] == "c1" and p["start"] == []
    p = plan({"c1": down(7)}, nodes=["c1"])
    assert p["bootstrap"] == "c1" and p["start"] == []


def test_five_nodes():
    positions = {"c1": down(5), "c2": down(9), "c3": down(9, safe=1), "c4": down(8), "c5": down(9)}
    p = plan(positions, nodes=NODES5)
    assert p["bootstrap"] == "c3" and p["start"] == ["c1", "c2", "c4", "c5"]
    positions["c4"] = bad()
    assert plan(positions, nodes=NODES5)["node"] == "c4"
    assert plan(positions, nodes=NODES5, force="c3")["bootstrap"] == "c3"


def test_no_controllers_or_duplicates():
    assert plan({}, nodes=[])["refused"]
    assert plan({}, nodes=["a", "a"])["refused"]


@pytest.mark.parametrize("seqnos", list(itertools.product((-1, 0, 3, 7), repeat=3)))
def test_exhaustive_three_nodes_choose_a_top_seqno(seqnos):
    """Every combination: the chosen node has the highest seqno; -1 means a recovered -1."""
    positions = {n: down(s, source="wsrep-recover" if s == -1 else "grastate") for n, s in zip(NODES3, seqnos)}
    for safe_node in [None] + NODES3:
        if safe_node:
            positions[safe_node] = dict(positions[safe_node], safe_to_bootstrap=1)
        p = plan(positions)
        assert not p["refused"]
        assert p["expect"]["seqno"] == max(seqnos)
        assert positions[p["bootstrap"]]["seqno"] == max(seqnos)
        assert sorted(p["start"] + [p["bootstrap"]]) == NODES3 and p["bootstrap"] == p["edit_grastate"]
        tops = [n for n in NODES3 if positions[n]["seqno"] == max(seqnos)]
        flagged = [n for n in tops if positions[n]["safe_to_bootstrap"] == 1]
        assert p["bootstrap"] == (flagged or tops)[0]


@pytest.mark.parametrize("which", range(3))
@pytest.mark.parametrize("kind", ["unreadable", "missing", "other-cluster", "non-primary"])
def test_exhaustive_any_node_spoils_the_plan(which, kind):
    positions = {n: down(10 + i) for i, n in enumerate(NODES3)}
    node = NODES3[which]
    if kind == "unreadable":
        positions[node] = bad()
    elif kind == "missing":
        del positions[node]
    elif kind == "other-cluster":
        positions[node] = down(10, uuid=U2)
    else:
        positions[node] = running("non-Primary", "0")
    p = plan(positions)
    assert p["refused"]
    if kind != "other-cluster":
        assert p["node"] == node


# --------------------------------------------------------------------------- formation


def test_formation_first_bootstraps_only_on_a_clean_slate():
    fresh = {n: {"running": False, "has_state": False} for n in NODES3}
    assert galera.plan_formation(NODES3, fresh) == {"bootstrap": "ubuntu1", "join": ["ubuntu2", "ubuntu3"]}


def test_formation_joins_an_existing_cluster():
    statuses = {"ubuntu1": {"running": True, "synced": True, "wsrep_cluster_status": "Primary", "has_state": True},
                "ubuntu2": {"running": False, "has_state": False}, "ubuntu3": {"running": False, "has_state": True}}
    assert galera.plan_formation(NODES3, statuses) == {"bootstrap": None, "join": ["ubuntu2", "ubuntu3"]}


def test_formation_refuses_what_is_a_recovery():
    statuses = {"ubuntu1": {"running": False, "has_state": True}, "ubuntu2": {"running": False, "has_state": False},
                "ubuntu3": {"running": False, "has_state": False}}
    assert "recovery" in galera.plan_formation(NODES3, statuses)["refused"]
    statuses["ubuntu1"] = None  # no answer: fail closed
    assert "refused" in galera.plan_formation(NODES3, statuses)
    statuses["ubuntu1"] = {"running": True, "wsrep_cluster_status": "non-Primary", "has_state": True}
    assert "refused" in galera.plan_formation(NODES3, statuses)


# --------------------------------------------------------------------------- the recovery driver


class FakeCluster:
    """Answers the runner's calls like three minions would; records every call in order."""

    def __init__(self, positions, sync_after=1, fail=None):
        self.positions = positions
        self.calls = []
        self.started = {}
        self.sync_after = sync_after
        self.fail = fail or {}

    def __call__(self, targets, fun, args):
        out = {}
        for node in targets:
            self.calls.append((node, fun, tuple(args)))
            if fun == "brine_galera.position":
                if node in self.positions:
                    out[node] = self.positions[node]
            elif fun in ("brine_galera.bootstrap", "brine_galera.start"):
                if self.fail.get(node) == fun:
                    out[node] = "ERROR: galera_new_cluster failed"
                else:
                    self.started[node] = 0
                    out[node] = {"started": True}
            elif fun == "brine_galera.status":
                if node in self.started:
                    self.started[node] += 1
                    out[node] = {"synced": self.started[node] >= self.sync_after, "health": "x"}
                else:
                    out[node] = {"synced": False, "health": "down"}
        return out

    def actions(self):
        return [(n, f) for n, f, _ in self.calls if f in ("brine_galera.bootstrap", "brine_galera.start")]


def test_driver_bootstraps_the_top_then_starts_the_others_one_at_a_time():
    cluster = FakeCluster({"ubuntu1": down(10), "ubuntu2": down(12), "ubuntu3": down(11)}, sync_after=2)
    decisions = []
    out = galera.run_recovery(NODES3, cluster, sleep=lambda s: None, on_decision=decisions.append)
    assert out["outcome"] == "done" and out["decision"] == "bootstrap"
    assert cluster.actions() == [("ubuntu2", "brine_galera.bootstrap"), ("ubuntu1", "brine_galera.start"),
                                 ("ubuntu3", "brine_galera.start")]
    assert ("ubuntu2", "brine_galera.bootstrap", (U1, 12)) in cluster.calls
    # each start comes after the previous node was seen Synced
    order = [(n, f) for n, f, _ in cluster.calls if f != "brine_galera.position"]
    assert order.index(("ubuntu1", "brine_galera.start")) > order.index(("ubuntu2", "brine_galera.status"))
    assert decisions and decisions[0]["decision"] == "bootstrap" and decisions[0]["targets"][0] == "ubuntu2"


def test_driver_refusal_does_nothing():
    cluster = FakeCluster({"ubuntu1": down(10), "ubuntu3": down(11)})
    out = galera.run_recovery(NODES3, cluster, sleep=lambda s: None)
    assert out["decision"] == "refused" and out["plan"]["node"] == "ubuntu2" and cluster.actions() == []
    out = galera.run_recovery(NODES3, cluster, force="ubuntu3", sleep=lambda s: None)
    assert out["outcome"] == "done" and cluster.actions()[0] == ("ubuntu3", "brine_galera.bootstrap")


def test_driver_minion_error_is_unreadable():
    cluster = FakeCluster({"ubuntu1": down(10), "ubuntu2": "Traceback: boom", "ubuntu3": down(11)})
    out = galera.run_recovery(NODES3, cluster, sleep=lambda s: None)
    assert out["decision"] == "refused" and "boom" in out["plan"]["reason"]


def test_driver_rejoins_only_the_trigger_when_a_primary_runs():
    positions = {"ubuntu1": running(), "ubuntu2": down(5), "ubuntu3": down(5)}
    cluster = FakeCluster(positions)
    out = galera.run_recovery(NODES3, cluster, trigger="ubuntu3", sleep=lambda s: None)
    assert out["decision"] == "rejoin" and cluster.actions() == [("ubuntu3", "brine_galera.start")]
    cluster = FakeCluster(positions)
    out = galera.run_recovery(NODES3, cluster, trigger="ubuntu1", sleep=lambda s: None)
    assert out["decision"] == "nothing" and cluster.actions() == []
    cluster = FakeCluster(positions)
    galera.run_recovery(NODES3, cluster, sleep=lambda s: None)
    assert cluster.actions() == [("ubuntu2", "brine_galera.start"), ("ubuntu3", "brine_galera.start")]


def test_driver_stops_at_the_first_failure():
    cluster = FakeCluster({"ubuntu1": down(10), "ubuntu2": down(12), "ubuntu3": down(11)},
                          fail={"ubuntu1": "brine_galera.start"})
    out = galera.run_recovery(NODES3, cluster, sleep=lambda s: None)
    assert out["outcome"].startswith("failed") and cluster.actions()[-1] == ("ubuntu1", "brine_galera.start")
    assert ("ubuntu3", "brine_galera.start") not in cluster.actions()


def test_driver_times_out_waiting_for_synced():
    cluster = FakeCluster({"ubuntu1": down(10), "ubuntu2": down(12), "ubuntu3": down(11)}, sync_after=10**6)
    out = galera.run_recovery(NODES3, cluster, sleep=lambda s: None, timeout=10)
    assert "not Synced" in out["outcome"] and cluster.actions() == [("ubuntu2", "brine_galera.bootstrap")]


class FakeFormation(FakeCluster):
    def __init__(self, statuses, **kw):
        super().__init__({}, **kw)
        self.statuses = statuses

    def __call__(self, targets, fun, args):
        if fun == "brine_galera.formation_status":
            self.calls.extend((n, fun, ()) for n in targets)
            return {n: self.statuses[n] for n in targets if n in self.statuses}
        if fun == "brine_galera.ensure_users":
            self.calls.extend((n, fun, ()) for n in targets)
            return {n: {"changed": ["brine_sst@localhost"]} for n in targets}
        if fun == "brine_galera.new_cluster":
            fun = "brine_galera.bootstrap"
        return super().__call__(targets, fun, args)


def test_formation_driver_bootstraps_first_makes_accounts_then_joins():
    fresh = {n: {"running": False, "has_state": False} for n in NODES3}
    cluster = FakeFormation(fresh)
    out = galera.run_formation(NODES3, cluster, sleep=lambda s: None)
    assert out["outcome"] == "done"
    order = [(n, f) for n, f, _ in cluster.calls if f not in ("brine_galera.status", "brine_galera.formation_status")]
    assert order == [("ubuntu1", "brine_galera.bootstrap"), ("ubuntu1", "brine_galera.ensure_users"),
                     ("ubuntu2", "brine_galera.start"), ("ubuntu3", "brine_galera.start")]


def test_formation_driver_refuses_when_state_exists_or_a_node_is_silent():
    statuses = {n: {"running": False, "has_state": False} for n in NODES3}
    del statuses["ubuntu3"]
    cluster = FakeFormation(statuses)
    assert galera.run_formation(NODES3, cluster, sleep=lambda s: None)["outcome"] == "refused"
    assert cluster.actions() == []


def test_formation_driver_joins_a_running_cluster_without_bootstrap():
    statuses = {"ubuntu1": {"running": True, "synced": True, "wsrep_cluster_status": "Primary"},
                "ubuntu2": {"running": True, "synced": True, "wsrep_cluster_status": "Primary"},
                "ubuntu3": {"running": False, "has_state": True}}
    cluster = FakeFormation(statuses)
    out = galera.run_formation(NODES3, cluster, sleep=lambda s: None)
    assert out["outcome"] == "done" and cluster.actions() == [("ubuntu3", "brine_galera.start")]
    statuses["ubuntu3"] = statuses["ubuntu1"]
    cluster = FakeFormation(statuses)
    assert galera.run_formation(NODES3, cluster, sleep=lambda s: None)["outcome"] == "nothing to do"


def test_has_state(tmp_path):
    assert g.has_state(str(tmp_path)) is False
    (tmp_path / "grastate.dat").write_text(GRASTATE.replace(U1, Z).replace("1234", "-1"))
    assert g.has_state(str(tmp_path)) is False
    (tmp_path / "grastate.dat").write_text(GRASTATE)
    assert g.has_state(str(tmp_path)) is True
    (tmp_path / "grastate.dat").write_text("garbage")
    assert g.has_state(str(tmp_path)) is True  # fail closed: unknown state is state


def test_health_daemon_stays_quiet_and_answering_when_checks_reset_their_connections(tmp_path):
    # HAProxy closes each check with a reset once it has the status line; the daemon must not
    # print a traceback per check (the journal) and must go on answering.
    client = tmp_path / "mariadb"
    client.write_text("#!/bin/sh\nprintf 'wsrep_local_state\\t4\\nwsrep_cluster_status\\tPrimary\\nwsrep_ready\\tON\\n'\n")
    client.chmod(0o755)
    port = free_port()
    proc = subprocess.Popen([sys.executable, str(REPO / "salt/galera/files/brine-galera-health.py"), "--listen",
                             "127.0.0.1", "--port", str(port), "--defaults-file", "/dev/null", "--client", str(client)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        def get(reset):
            with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
                sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
                if reset:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    return None
                return sock.makefile("rb").readline()
        deadline = time.monotonic() + 20
        while True:
            try:
                get(False)
                break
            except OSError:
                assert time.monotonic() < deadline, "the health daemon never listened"
                time.sleep(0.1)
        for _ in range(20):
            get(True)
        assert get(False).startswith(b"HTTP/1.0 200")
    finally:
        proc.terminate()
        _, stderr = proc.communicate(timeout=10)
    assert "Traceback" not in stderr and "Exception" not in stderr, stderr
