"""
The controllers in the lab, real daemons on the three controller guests: keepalived holds each
VIP on one of them, HAProxy serves the VIP, MariaDB Galera is formed by the orchestration and
recovered from a full outage by the reactor with no manual step, and refuses to guess when a
node's position cannot be read. Figures (gaps, stalls) come from benchmarks/controllers.py;
these tests check behaviour.
"""

import shlex
import time

from brinelib.names import controllers
from lab.core import load_inventory
from lab_testlib import galera_whole, wait_until, wsrep

_, INVENTORY = load_inventory()
CONTROLLERS = controllers(INVENTORY)
MANAGEMENT = {n: INVENTORY["hosts"][n]["networks"]["management"]["address"] for n in CONTROLLERS}
VIPS = {name: vip["address"] for name, vip in INVENTORY["vips"].items()}
CLIENT = "bootstrap"


def holders(lab, address):
    return [h for h in CONTROLLERS if lab.exec(h, f"ip -o addr show to {address}/32").output.strip()]


def one_holder(lab, address, timeout=60):
    return wait_until(f"one holder of {address}", lambda: (h := holders(lab, address)) and len(h) == 1 and h[0],
                      timeout, detail=lambda: holders(lab, address))


def whole(lab):
    return galera_whole(lab, CONTROLLERS)


def http_status(lab, url, host=CLIENT):
    script = ("import sys, urllib.request, urllib.error\n"
              "try:\n    print(urllib.request.urlopen(sys.argv[1], timeout=3).status)\n"
              "except urllib.error.HTTPError as e:\n    print(e.code)\n"
              "except OSError as e:\n    print('down', e)\n")
    return lab.exec(host, f"python3 -c {shlex.quote(script)} {shlex.quote(url)}").output.strip()


def rows(lab, host):
    return lab.exec(host, "mariadb -N -B -e 'SELECT v FROM brine_test.t' 2>/dev/null").output.split()


def events(lab, tag, since):
    return [e for e in lab.salt_run("brine.events", f"tag={tag}", "limit=0") if e.get("received", 0) >= since]


def test_every_vip_has_exactly_one_holder(controllers_lab):
    for address in VIPS.values():
        assert len(one_holder(controllers_lab, address)) > 0, address


def test_haproxy_serves_the_stats_page_on_the_internal_vip_only_with_credentials(controllers_lab):
    assert http_status(controllers_lab, f"http://{VIPS['internal']}:1984/") == "401"


def test_galera_is_formed_with_every_controller_synced_and_healthy(controllers_lab):
    states = wait_until("a whole cluster", lambda: whole(controllers_lab), 120)
    for host, state in states.items():
        assert state["wsrep_cluster_status"] == "Primary" and state["wsrep_ready"] == "ON", host
        assert http_status(controllers_lab, f"http://{MANAGEMENT[host]}:9200/") == "200", host


def test_a_row_written_through_the_vip_is_on_every_node(controllers_lab):
    lab = controllers_lab
    marker = f"m{time.time_ns()}"
    lab.exec(CONTROLLERS[0], "mariadb -e 'CREATE DATABASE IF NOT EXISTS brine_test; CREATE TABLE IF NOT EXISTS "
                             "brine_test.t (v VARCHAR(40) PRIMARY KEY)'").check()
    # Through HAProxy on the internal VIP, from the bootstrap host, as a client would.
    lab.exec(CONTROLLERS[0], "mariadb -e \"CREATE USER IF NOT EXISTS 'brine_test'@'%' IDENTIFIED BY 'lab-only'; "
                             "GRANT ALL ON brine_test.* TO 'brine_test'@'%'\"").check()
    lab.exec(CLIENT, f"mariadb -h {VIPS['internal']} -u brine_test -plab-only "
                     f"-e \"INSERT INTO brine_test.t VALUES ('{marker}')\"").check()
    for host in CONTROLLERS:
        wait_until(f"the row on {host}", lambda h=host: marker in rows(lab, h), 30)


def test_haproxy_killed_on_the_holder_moves_the_vip_which_stays_where_it_went(controllers_lab):
    lab = controllers_lab
    vip = VIPS["internal"]
    holder = one_holder(lab, vip)
    since = time.time()
    lab.exec(holder, "pkill -KILL -x haproxy").check()
    new = wait_until("the VIP on another controller", lambda: (h := holders(lab, vip)) and h != [holder] and h, 30)
    assert len(new) == 1 and new[0] != holder
    # systemd starts HAProxy again on the old holder; with nopreempt the VIP stays where it went.
    wait_until(f"HAProxy back on {holder}", lambda: lab.exec(holder, "pgrep -x haproxy").ok, 30)
    time.sleep(5)
    assert holders(lab, vip) == new
    states = wait_until("keepalived's state changes recorded on the master", lambda: {
        (e["minion"], e["event"]["vip"], e["event"]["state"]) for e in events(lab, "brine/vip/state", since)
        if "event" in e} >= {(holder, "internal", "FAULT"), (new[0], "internal", "MASTER")} and True, 60,
        detail=lambda: events(lab, "brine/vip/state", since))
    assert states


def recovery_decisions(lab, since, decision=None):
    return [e["event"] for e in events(lab, "brine/galera/recovery", since)
            if e.get("event", {}).get("decision") and (decision is None or e["event"]["decision"] == decision)]


def highest(positions, among):
    seqnos = {n: positions[n].get("seqno") for n in among if isinstance(positions.get(n, {}).get("seqno"), int)}
    top = max(seqnos.values())
    return {n for n, q in seqnos.items() if q == top}


def test_full_outage_is_recovered_by_the_reactor_from_the_highest_position(controllers_lab):
    lab = controllers_lab
    wait_until("a whole cluster", lambda: whole(lab), 120)
    lab.exec(CONTROLLERS[0], "mariadb -e 'CREATE DATABASE IF NOT EXISTS brine_test; CREATE TABLE IF NOT EXISTS "
                             "brine_test.t (v VARCHAR(40) PRIMARY KEY)'").check()
    lab.exec(CONTROLLERS[0], "mariadb -e \"INSERT INTO brine_test.t VALUES ('before-the-outage')\"").check()
    since = time.time()
    for host in CONTROLLERS:
        lab.exec(host, "pkill -KILL -x mariadbd", timeout=30)
    wait_until("the cluster recovered by the reactor, no manual step", lambda: whole(lab), 600, interval=5)
    for host in CONTROLLERS:
        assert "before-the-outage" in rows(lab, host), host
    done = [d for d in recovery_decisions(lab, since, "bootstrap") if d.get("outcome") == "done"]
    assert len(done) == 1, recovery_decisions(lab, since)
    assert done[0]["bootstrap"] in highest(done[0]["positions"], CONTROLLERS), done


def test_recovery_refuses_when_a_position_cannot_be_read_and_force_then_works(controllers_lab):
    lab = controllers_lab
    wait_until("a whole cluster", lambda: whole(lab), 600, interval=5)
    blind = CONTROLLERS[2]
    # The node's grastate.dat garbled while mariadbd runs (it rewrites the file only on a clean
    # stop), then every node killed: the reactor must not guess; it records which node and why.
    lab.exec(blind, "cp /var/lib/mysql/grastate.dat /root/grastate.dat.good && "
                    "printf 'not a grastate\\n' > /var/lib/mysql/grastate.dat").check()
    since = time.time()
    for host in CONTROLLERS:
        lab.exec(host, "pkill -KILL -x mariadbd", timeout=30)
    refused = wait_until("a refused recovery naming the unreadable node", lambda: [
        d for d in recovery_decisions(lab, since, "refused") if blind in str(d)], 300, interval=5)
    time.sleep(10)
    assert not any(wsrep(lab, h).get("wsrep_local_state") for h in CONTROLLERS)  # nothing was started
    # The operator looked at the node (moved the garbled file aside: it rejoins by SST) and
    # forces the bootstrap of the node whose position is highest.
    lab.exec(blind, "mv /var/lib/mysql/grastate.dat /root/grastate.dat.garbled").check()
    chosen = sorted(highest(refused[-1]["positions"], [n for n in CONTROLLERS if n != blind]))[0]
    lab.salt_run("brine.galera_recover", f"force={chosen}", timeout=900)
    wait_until("the cluster whole after force=", lambda: whole(lab), 600, interval=5)
