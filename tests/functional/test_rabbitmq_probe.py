"""
The lab benchmark's RabbitMQ probe (benchmarks/probes/rabbitmq_client.py) against three real
RabbitMQ nodes on loopback (tests/rabbitmq_testbed.py): publisher confirms and manual acks on a
quorum queue while the queue's leader has its Erlang VM killed (SIGKILL): no confirmed message
is lost, and both the publisher and the consumer move to the next node. Timings are printed.
"""

import subprocess
import sys
import time

import brine_rabbitmq as r
import ha_metrics
from brine_testlib import PYTHONPATH, REPO, Clock, wait_for
from brinelib import rabbitmq
from rabbitmq_testbed import ADDRESS, RabbitBed

# Root and rabbitmq-server (scripts/setup-env.sh installs it) are required: without them these
# tests fail, they are never skipped.

NAMES = ["rmq1", "rmq2", "rmq3"]
PROBE = REPO / "benchmarks" / "probes" / "rabbitmq_client.py"
QUEUE = "brine-failover"


def leader(node, vhost, queue):
    out = node.ctl("list_queues", "-p", vhost, "name", "leader", "--formatter", "json", "--quiet").stdout
    return next((q["leader"] for q in rabbitmq.parse_json(out) if q["name"] == queue), None)


def test_no_confirmed_message_is_lost_when_the_queue_leader_is_killed(tmp_path):
    clock = Clock("rabbitmq failover probe timings")
    with RabbitBed(str(tmp_path), NAMES) as bed:
        nodes = [bed.nodes[n] for n in NAMES]
        seed = nodes[0].name
        r.ensure_account("openstack", "openstack", node=seed, password="probe-pass")
        for node in nodes:
            r.join(seed, node.name)
        clock.lap("three nodes clustered")
        credentials = tmp_path / "credentials"
        credentials.write_text("openstack\nprobe-pass\n")
        addresses = ",".join(f"{ADDRESS}:{n.port}" for n in nodes)
        probe = subprocess.Popen([sys.executable, str(PROBE), addresses, str(credentials), "openstack", QUEUE, "12", "200"],
                                 env={"PYTHONPATH": PYTHONPATH, "PATH": "/usr/bin:/bin"}, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)
        try:
            # The probe declares through the first node, which leads the queue (client-local).
            first_leader = wait_for(lambda: leader(nodes[1], "openstack", QUEUE), 30, 0.5)
            assert first_leader == nodes[0].name
            time.sleep(4)
            killed_at = time.time()
            nodes[0].kill()
            clock.lap("publishing, then the leader killed")
            out, err = probe.communicate(timeout=150)
        finally:
            probe.kill()
        clock.lap("the probe's end (the last confirms, the queue drained)")
        assert probe.returncode == 0, err[-2000:]
        result = rabbitmq.parse_json(out.split("JSON:", 1)[1])
        figures = ha_metrics.message_figures(result, killed_at)
        assert figures["lost"] == [] and figures["unconfirmed"] == 0, figures
        assert figures["confirmed"] == result["published"] >= 1500, figures
        assert sorted(set(result["seen"])) == list(range(1, result["published"] + 1))
        # Both lost their connection to the killed node and went on through the next one.
        moved = [c[1:] for c in result["connects"] if c[0] >= killed_at]
        assert ["publisher", addresses.split(",")[1]] in moved and ["consumer", addresses.split(",")[1]] in moved, result["connects"]
        assert leader(nodes[1], "openstack", QUEUE) in (nodes[1].name, nodes[2].name)
        print(f"\nleader killed: {figures['confirmed']} confirmed, {len(figures['lost'])} lost, "
              f"{figures['duplicates']} consumed twice, longest publish gap {figures['longest_gap']} s "
              f"({figures['gap_after_kill']} s after the kill), {figures['rate']} confirmed/s")
    clock.report()
