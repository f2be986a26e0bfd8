#!/usr/bin/env python3
"""
RabbitMQ on the controllers in the virtual lab: a queue leader killed under load, and a
controller cut off from the others.

    ./main.sh                                   # the lab up and converged (RabbitMQ clustered)
    .venv/bin/python benchmarks/rabbitmq_failover.py [--trials 3] [--duration 60] [--kill-after 20]
        [--rate 250] [--only kill,partition]

kill: a probe on the bootstrap host (benchmarks/probes/rabbitmq_client.py with
tests/amqp_client.py) declares a quorum queue (a new one per trial) and runs a publisher
(publisher confirms, persistent messages, --rate messages/s, each carrying its sequence number)
and a consumer (manual acks), both connected to the first controller's AMQP listener; each
reconnects to the next controller when its connection is lost, the publisher publishing every
unconfirmed message again. About ``--kill-after`` s in (counted from when the queue has a
leader), the queue's leader (``rabbitmqctl list_queues name leader``) has its Erlang VM killed
(``kill -KILL`` of the rabbitmq-server unit's beam.smp). Debian's rabbitmq-server unit has
Restart=on-failure and RestartSec=10, so systemd starts the node again (the benchmark prints the
unit's settings and waits until the node runs in the cluster again). Printed per trial and as
min/median/max: confirmed messages, lost (confirmed but never consumed; the target is 0),
duplicates (consumed twice: republished after a lost connection, or redelivered), the longest
publish gap (time between two consecutive confirms), the confirmed rate, and the time until the
killed node was back.

partition: one controller is cut off the lab switch (``brine-lab partition``; not the leader of
the last kill trial's queue). Inside that guest the benchmark polls until its node stops serving
(pause_minority: the AMQP port refuses connections and ``rabbitmq-diagnostics check_running``
fails); RabbitMQ sees the partition only when Erlang distribution's net_ticktime (60 s by
default) runs out, so this takes 45-75 s (too long for a lab test). Then ``heal``, and the
benchmark polls until every controller's ``cluster_status`` shows all three running with an
empty partitions list, with no manual step. Printed: both times, and whether the other two
served AMQP during the partition.

Measured on the 2-core Xeon (AVX-512, AMX), UML 7.2um1, controllers at mem=1G, 3 trials of
60 s at 250 messages/s offered, the leader killed 20 s in:

    RabbitMQ leader killed       longest publish gap 0.51 / 0.62 / 0.76 s (min/median/max)
      confirmed rate 247.9 / 247.9 / 248.2 messages/s; confirmed messages lost: 0 of 44635;
      consumed twice: 44 (republished after the lost connection); never confirmed: 0;
      the killed node in the cluster again after 34.1 / 42.4 / 54.6 s (systemd restart)
    RabbitMQ partition (n=1)     the cut-off node stopped serving after 81.2 s (the other two
      served throughout); the cluster whole again 24.6 s after heal, with no manual step

The benchmark makes its own RabbitMQ account (a generated password, given to rabbitmqctl on
stdin and to the probe in a 0600 file) and deletes its queues and the account at the end. All
traffic stays inside the lab.
"""

import argparse
import json
import secrets
import shlex
import sys
import time

from import_path import REPO

import ha_metrics
from brine_testlib import wait_for
from brinelib import rabbitmq
from controllers import CLIENT, collect_probe, lab_and_controllers, report, run_holding_secret, send_probe, start_probe

PROBE = "rabbitmq_client.py"
BENCH_USER = "brine-bench"
BENCH_CREDENTIALS = "/root/brine-bench-rabbitmq"
CTL_TIMEOUT = 30  # a rabbitmqctl in a guest: a paused or cut-off node may not answer at all
# The server's Erlang VM, not a rabbitmqctl's (also a beam.smp): the unit's main process (the
# server script execs erl under systemd), or its beam.smp child otherwise.
KILL_VM = ('pid=$(systemctl show -p MainPID --value rabbitmq-server); '
           '[ "$(cat /proc/$pid/comm 2>/dev/null)" = beam.smp ] || pid=$(pgrep -P "$pid" -x beam.smp); '
           '[ -n "$pid" ] || { echo "no beam.smp of rabbitmq-server"; exit 3; }; '
           'date +%s.%N; kill -KILL $pid')


def management_addresses(inventory, ctl, port):
    return [f"{inventory['hosts'][n]['networks']['management']['address']}:{port}" for n in ctl]


def host_of(node, ctl):
    """The controller running RabbitMQ node ``node`` (``rabbit@<short host name>``), or None."""
    return next((name for name in ctl if rabbitmq.node_name(name) == node), None)


def leader_of(rows, queue):
    """The leader node of ``queue`` from ``list_queues name leader --formatter json``, or None."""
    return next((row.get("leader") for row in rows if row.get("name") == queue and row.get("leader")), None)


def ctl_json(lab, host, *args):
    """A rabbitmqctl query in ``host`` with ``--formatter json``: the parsed value, or None when
    the node does not answer."""
    command = shlex.join(["timeout", str(CTL_TIMEOUT), "rabbitmqctl", *args, "--formatter", "json", "--quiet"])
    result = lab.exec(host, command + " 2>/dev/null", timeout=CTL_TIMEOUT + 30)
    if not result.ok:
        return None
    try:
        return rabbitmq.parse_json(result.output)
    except ValueError:
        return None


def queue_leader(lab, ctl, vhost, queue):
    """The controller leading ``queue``, asked of the first controller that answers."""
    for host in ctl:
        if lab.is_running(host):
            rows = ctl_json(lab, host, "list_queues", "-p", vhost, "name", "leader")
            if isinstance(rows, list):
                return host_of(leader_of(rows, queue), ctl)
    return None


def cluster_view(lab, host):
    """``{"members", "running", "partitions"}`` as ``host``'s node sees it, or None."""
    data = ctl_json(lab, host, "cluster_status")
    try:
        return rabbitmq.parse_cluster_status(json.dumps(data)) if data is not None else None
    except ValueError:
        return None


def whole(lab, ctl):
    """Every controller sees all of them running and no partition."""
    nodes = sorted(rabbitmq.node_name(n) for n in ctl)
    views = [cluster_view(lab, host) for host in ctl]
    return all(v is not None and v["running"] == nodes and v["partitions"] == [] for v in views)


def serves_amqp(lab, host, address):
    """A TCP connection to ``address`` (host:port) from inside ``host`` is accepted."""
    ip, port = address.rsplit(":", 1)
    script = f"import socket; socket.create_connection(({ip!r}, {int(port)}), timeout=3).close()"
    return lab.exec(host, f"python3 -c {shlex.quote(script)}", timeout=30).ok


def app_running(lab, host):
    return lab.exec(host, f"timeout {CTL_TIMEOUT} rabbitmq-diagnostics -q check_running >/dev/null 2>&1",
                    timeout=CTL_TIMEOUT + 30).ok


def bench_account(lab, seed, vhost):
    """The benchmark's account on ``vhost`` (made again with a new password: rabbitmqctl reads it
    on stdin), its credentials in a 0600 file on the client."""
    password = secrets.token_urlsafe(18)
    run_holding_secret(lab, seed, f"rabbitmqctl delete_user {BENCH_USER} >/dev/null 2>&1; "
                                  f"printf '%s\\n' {shlex.quote(password)} | rabbitmqctl add_user {BENCH_USER} >/dev/null && "
                                  f"rabbitmqctl set_permissions -p {shlex.quote(vhost)} {BENCH_USER} '.*' '.*' '.*' >/dev/null",
                       "making the benchmark's RabbitMQ account")
    run_holding_secret(lab, CLIENT, f"umask 077; printf '%s\\n%s\\n' {BENCH_USER} {shlex.quote(password)} > {BENCH_CREDENTIALS}",
                       "writing the benchmark's credentials file")


def answering(lab, ctl):
    return next((h for h in ctl if lab.is_running(h) and app_running(lab, h)), None)


def delete_queues(lab, host, vhost, queues):
    for queue in queues:
        lab.exec(host, shlex.join(["rabbitmqctl", "delete_queue", "-p", vhost, queue]) + " >/dev/null 2>&1")


def cleanup(lab, ctl, vhost, queues):
    host = answering(lab, ctl)
    if host is None:
        print("cleanup: no controller answers; the benchmark's queues and account are left", file=sys.stderr)
        return
    delete_queues(lab, host, vhost, queues)
    lab.exec(host, f"rabbitmqctl delete_user {BENCH_USER} >/dev/null 2>&1")
    lab.exec(CLIENT, f"rm -f {BENCH_CREDENTIALS}")


def restart_policy(lab, host):
    return lab.exec(host, "systemctl show -p Restart -p RestartUSec rabbitmq-server").output.split()


def kill_trial(lab, ctl, addresses, vhost, queue, args):
    start_probe(lab, CLIENT, PROBE, ",".join(addresses), BENCH_CREDENTIALS, vhost, queue, args.duration, args.rate)
    leader = wait_for(lambda: queue_leader(lab, ctl, vhost, queue), 60, 1)
    if not leader:
        raise RuntimeError(f"no leader found for {queue}: {lab.exec(CLIENT, f'cat /root/{PROBE}.out').output[-500:]}")
    time.sleep(args.kill_after)
    out = lab.exec(leader, KILL_VM).check().output.split()
    killed_at = float(out[0])
    # Polled every 2 s: each rabbitmqctl costs a guest about 0.5 s of CPU while the probe runs.
    back = wait_for(lambda: app_running(lab, leader), 300, 2)
    back_after = time.time() - killed_at
    whole_again = wait_for(lambda: whole(lab, ctl), 120, 2)
    result = collect_probe(lab, CLIENT, PROBE, timeout=args.duration + 300)
    figures = ha_metrics.message_figures(result, killed_at)
    return {**figures, "lost": len(figures["lost"]), "lost_first": figures["lost"][:10], "leader": leader,
            "new_leader": queue_leader(lab, ctl, vhost, queue),
            "node_back_after": round(back_after, 1) if back else None, "cluster_whole_again": bool(whole_again),
            "republished": result["republished"], "nacked": result["nacked"], "redelivered": result["redelivered"],
            "reconnects": {who: sum(1 for c in result["connects"] if c[1] == who) - 1 for who in ("publisher", "consumer")},
            "errors": result["errors"]}


def partition_trial(lab, ctl, addresses, victim):
    others = [n for n in ctl if n != victim]
    address = dict(zip(ctl, addresses))
    if not (serves_amqp(lab, victim, address[victim]) and whole(lab, ctl)):
        raise RuntimeError("the cluster is not whole before the partition")
    started = time.monotonic()
    lab.partition([victim])
    try:
        stopped = wait_for(lambda: not serves_amqp(lab, victim, address[victim]) and not app_running(lab, victim),
                           240, 1)
        stopped_after = time.monotonic() - started
        majority_served = all(serves_amqp(lab, n, address[n]) for n in others)
    finally:
        lab.heal()
    healed = time.monotonic()
    reformed = wait_for(lambda: whole(lab, ctl) and serves_amqp(lab, victim, address[victim]), 300, 2)
    return {"victim": victim, "stopped_serving_after": round(stopped_after, 1) if stopped else None,
            "majority_served": majority_served,
            "reformed_after_heal": round(time.monotonic() - healed, 1) if reformed else None}


def kill_benchmarks(lab, ctl, addresses, vhost, args, queues):
    print(f"rabbitmq-server unit on {ctl[0]}: {' '.join(restart_policy(lab, ctl[0]))}", flush=True)
    trials = []
    for _ in range(args.trials):
        # Only the last trial's queue is kept (until the end): the partition spares its leader.
        if queues and (host := answering(lab, ctl)):
            delete_queues(lab, host, vhost, queues)
            queues.clear()
        queue = f"brine-bench-{time.time_ns()}"
        queues.append(queue)
        trial = kill_trial(lab, ctl, addresses, vhost, queue, args)
        print(f"  leader-kill: {json.dumps(trial)}", flush=True)
        trials.append(trial)
    report("RabbitMQ leader killed: longest publish gap (between consecutive confirms)", trials, "longest_gap")
    report("RabbitMQ leader killed: confirmed rate", trials, "rate", f"messages/s ({args.rate:g}/s offered)")
    report("RabbitMQ leader killed: killed node running in the cluster again after", trials, "node_back_after")
    print(f"  confirmed messages lost: {sum(t['lost'] for t in trials)} (of {sum(t['confirmed'] for t in trials)} "
          f"confirmed); consumed twice: {sum(t['duplicates'] for t in trials)}; never confirmed: "
          f"{sum(t['unconfirmed'] for t in trials)}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    option = parser.add_argument
    option("--trials", type=int, default=3, help="leader kills")
    option("--duration", type=float, default=60.0, help="seconds of publishing per trial")
    option("--kill-after", type=float, default=20.0, help="seconds into a trial the leader is killed")
    option("--rate", type=float, default=250.0, help="messages/s offered by the publisher")
    option("--only", default="kill,partition", help="kill, partition or both")
    args = parser.parse_args()
    wanted = set(args.only.split(","))
    lab, inventory, ctl = lab_and_controllers()
    settings = rabbitmq.settings(inventory)
    vhost = settings["vhost"]
    addresses = management_addresses(inventory, ctl, settings["port"])
    send_probe(lab, CLIENT, PROBE)
    send_probe(lab, CLIENT, "amqp_client.py", source=REPO / "tests" / "amqp_client.py")
    bench_account(lab, ctl[0], vhost)
    queues = []
    try:
        if "kill" in wanted:
            kill_benchmarks(lab, ctl, addresses, vhost, args, queues)
        if "partition" in wanted:
            leaders = {queue_leader(lab, ctl, vhost, q) for q in queues}
            victim = next(n for n in reversed(ctl) if n not in leaders)
            trial = partition_trial(lab, ctl, addresses, victim)
            print(f"  partition: {json.dumps(trial)}", flush=True)
            print(f"RabbitMQ partition: {victim} cut off stopped serving after {trial['stopped_serving_after']} s "
                  f"(the other two served: {trial['majority_served']}); cluster whole again "
                  f"{trial['reformed_after_heal']} s after heal, no manual step")
    finally:
        cleanup(lab, ctl, vhost, queues)
    return 0


if __name__ == "__main__":
    sys.exit(main())
