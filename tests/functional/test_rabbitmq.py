"""
Three real RabbitMQ 3.10 nodes on loopback (tests/rabbitmq_testbed.py), configured with
brinelib.rabbitmq's files, clustered by brine_rabbitmq's join step one node at a time with the
first as the seed. Then: all three in cluster_status; a second run changes nothing; a queue an
OpenStack service declares without arguments on the OpenStack vhost is a quorum queue; messages
published with confirms to a quorum queue are all consumed with manual acks; a member is never
reset; a stand-alone node holding a queue of its own is refused, its queue kept.
Timings are printed.
"""

import ipaddress
import json
import subprocess
import sys

import pytest

import brine_rabbitmq as r
from amqp_client import Connection, settled
from brine_testlib import REPO, Clock
from rabbitmq_testbed import ADDRESS, RabbitBed

# Root and rabbitmq-server (scripts/setup-env.sh installs it) are required: without them these
# tests fail, they are never skipped.

NAMES = ["rmq1", "rmq2", "rmq3"]
PASSWORD = "rabbit-pass'word\"x"
PARTITIONS = REPO / "salt/rabbitmq/files/brine-rabbitmq-partitions.py"


def publish_and_consume(publish_port, consume_port, queue, count):
    """``count`` persistent messages published with confirms through one node and consumed with
    manual acks through another: (the sequence numbers confirmed, those received), sorted."""
    with Connection(ADDRESS, publish_port, "openstack", PASSWORD, "openstack") as amqp:
        amqp.declare_queue(queue, arguments={"x-queue-type": "quorum"})
        amqp.confirm_select()
        tags = {amqp.publish(queue, str(seq).encode()): seq for seq in range(count)}
        confirmed = []
        while tags and (confirms := amqp.wait_confirms(10)):
            for kind, tag, multiple in confirms:
                assert kind == "ack", (kind, tag)
                confirmed += [tags.pop(t) for t in settled(tags, tag, multiple)]
    received = []
    with Connection(ADDRESS, consume_port, "openstack", PASSWORD, "openstack") as amqp:
        amqp.qos(50)
        amqp.consume(queue)
        while len(received) < count and (delivery := amqp.next_delivery(10)):
            received.append(int(delivery.body))
            amqp.ack(delivery.tag)
    return sorted(confirmed), sorted(received)


def test_cluster_formation_quorum_default_and_refusals(tmp_path):
    clock = Clock("rabbitmq functional timings")
    with RabbitBed(str(tmp_path), NAMES) as bed:
        n1, n2, n3 = (bed.nodes[n] for n in NAMES)
        seed = n1.name
        clock.lap("three nodes started")
        # Network rule: every listener of the bed is on loopback.
        listeners = bed.listeners()
        assert listeners and all(ipaddress.ip_address(address).is_loopback for address, _ in listeners), listeners
        assert r.status(n2.name)["members"] == [n2.name]

        # The seed makes the OpenStack account (the vhost quorum by default from its creation).
        assert r.ensure_account("openstack", "openstack", node=seed, password=PASSWORD)["changed"] == [
            "vhost openstack", "user openstack", "permissions of openstack on openstack"]
        # Formation: one node at a time, each waited for by the join step itself.
        for node in (n1, n2, n3):
            assert r.join(seed, node.name)["changed"] == (node is not n1)
        clock.lap("account and two joins")
        status = r.status(n3.name)
        assert status["members"] == sorted(n.name for n in (n1, n2, n3))
        assert status["running"] == status["members"] and status["partitions"] == []

        # A second run changes nothing.
        for node in (n1, n2, n3):
            again = r.join(seed, node.name)
            assert (again["changed"], again["action"]) == (False, "none"), again
        assert r.ensure_account("openstack", "openstack", node=n2.name, password=PASSWORD)["changed"] == []
        assert r.ensure_account("openstack", "openstack", node=seed, password="changed", test=True)["changed"] == [
            "password of openstack"]

        # A queue declared with no arguments on the OpenStack vhost is a quorum queue, and
        # declaring it again the same way is no PRECONDITION_FAILED.
        for node in (n3, n2):
            with Connection(ADDRESS, node.port, "openstack", PASSWORD, "openstack") as amqp:
                assert amqp.declare_queue("brine-test") == "brine-test"
        assert n1.queues("openstack") == {"brine-test": "quorum"}
        clock.lap("second run, quorum queue")

        # A member is never reset, even holding queues (cluster-wide ones, here).
        assert r.join(seed, n2.name)["action"] == "none"
        assert n2.queues("openstack") == {"brine-test": "quorum"}

        # Publisher confirms and manual acks on an explicitly quorum queue (as the lab's
        # failover benchmark drives them): every confirmed message is consumed.
        confirmed, received = publish_and_consume(n1.port, n2.port, "brine-confirms", 500)
        assert confirmed == received == list(range(500))
        assert n3.queues("openstack")["brine-confirms"] == "quorum"
        clock.lap("500 confirmed messages through a quorum queue")

        # The partition check reads the real cluster_status (rabbitmqctl when there is no erl_call)
        # and, with nothing changed, sends nothing.
        check = subprocess.run([sys.executable, str(PARTITIONS), "--node", n1.name, "--state",
                                str(tmp_path / "partitions.json"), "--salt-call", "/bin/false",
                                "--rabbitmqctl", r.COMMAND["ctl"], "--erl-call", str(tmp_path / "no-erl-call")],
                               env=bed.env, capture_output=True, text=True, timeout=120)
        assert check.returncode == 0, check.stderr
        assert r.partitions(n1.name) == {"partitions": [], "running": status["members"]}
        # Through erl_call (and no rabbitmqctl at all), with the cookie of the node's user's home:
        # a heal after a remembered partition is sent, naming every running node.
        (tmp_path / "partitions.json").write_text('{"partitions": ["rabbit@gone"]}')
        recorder = tmp_path / "salt-call"
        recorder.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > {tmp_path}/sent\n')
        recorder.chmod(0o755)
        check = subprocess.run([sys.executable, str(PARTITIONS), "--node", n1.name, "--state",
                                str(tmp_path / "partitions.json"), "--salt-call", str(recorder),
                                "--rabbitmqctl", "/bin/false", "--cookie-home", bed.env["HOME"]],
                               env=bed.env, capture_output=True, text=True, timeout=120)
        assert check.returncode == 0, check.stderr
        sent = (tmp_path / "sent").read_text().splitlines()
        assert json.loads(sent[3].removeprefix("data=")) == {"partitions": [], "running": status["members"]}

        # rmq3 leaves (reset, as after a rebuild) and gets a queue of its own: refused by name,
        # its queue kept.
        n3.ctl("stop_app")
        n3.ctl("reset")
        n3.ctl("start_app")
        assert r.status(n3.name)["members"] == [n3.name]
        with Connection(ADDRESS, n3.port, "guest", "guest", "/") as amqp:
            amqp.declare_queue("local-work")
        with pytest.raises(r.CommandExecutionError, match=f"{n3.name} is stand-alone but holds 1 queue in vhost /"):
            r.join(seed, n3.name)
        assert n3.queues("/") == {"local-work": "classic"}
        assert r.status(n3.name)["members"] == [n3.name]
        assert r.status(n1.name)["members"] == sorted([n1.name, n2.name])
        clock.lap("refusals")
    clock.report()
