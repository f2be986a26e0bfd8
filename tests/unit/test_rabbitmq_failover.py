"""
The RabbitMQ failover benchmark's pure parts: where its probe reconnects, how the publisher
settles confirms and publishes the unconfirmed messages again on a new connection, and how the
host side reads the queue leader. (Its figures: tests/unit/test_ha_metrics.py.)
"""

import time

import pytest

import rabbitmq_failover as bench
from amqp_client import AmqpError, Delivery
from brine_testlib import REPO, load_module

probe = load_module(REPO / "benchmarks" / "probes" / "rabbitmq_client.py", "brine_test_rabbitmq_probe")

ADDRESSES = ["10.10.0.11:5672", "10.10.0.12:5672", "10.10.0.13:5672"]


class FakeConn:
    """A connection whose confirms come from ``script`` (a list per wait_confirms call; an
    exception instance is raised instead); the bodies published, in order."""

    def __init__(self, script=()):
        self.script = list(script)
        self.bodies = []
        self.tag = 0

    def confirm_select(self):
        self.tag = 0

    def publish(self, _queue, body):
        self.bodies.append(int(body))
        self.tag += 1
        return self.tag

    def wait_confirms(self, _timeout):
        step = self.script.pop(0) if self.script else AmqpError("connection closed by the broker")
        if isinstance(step, Exception):
            raise step
        return step

    def close(self):
        pass


def client():
    return probe.Client(ADDRESSES, "u", "p", "openstack", "q")


@pytest.fixture(autouse=True)
def no_retry_pause(monkeypatch):
    monkeypatch.setattr(probe, "RETRY", 0)


def test_reconnects_go_round_the_controllers_in_order():
    assert probe.next_address(ADDRESSES, ADDRESSES[0]) == ADDRESSES[1]
    assert probe.next_address(ADDRESSES, ADDRESSES[2]) == ADDRESSES[0]
    assert probe.next_address(ADDRESSES[:1], ADDRESSES[0]) == ADDRESSES[0]


def test_connect_tries_the_next_address_when_one_does_not_answer(monkeypatch):
    tried = []

    def connection(host, port, *_args, **_kwargs):
        tried.append(f"{host}:{port}")
        if len(tried) < 3:
            raise ConnectionRefusedError("refused")
        return "conn"

    monkeypatch.setattr(probe, "Connection", connection)
    c = client()
    assert c.connect("consumer", ADDRESSES[1], deadline=float("inf")) == ("conn", ADDRESSES[0])
    assert tried == [ADDRESSES[1], ADDRESSES[2], ADDRESSES[0]]
    assert c.errors["consumer"] == {"ConnectionRefusedError": 2}
    assert [entry[1:] for entry in c.connects] == [["consumer", ADDRESSES[0]]]


def test_connect_gives_up_at_the_deadline(monkeypatch):
    monkeypatch.setattr(probe, "Connection", lambda *a, **k: (_ for _ in ()).throw(OSError("unreachable")))
    assert client().connect("publisher", ADDRESSES[0], deadline=0) == (None, ADDRESSES[0])


def test_a_session_republishes_the_unconfirmed_settles_multiple_and_republishes_a_nack():
    publisher = probe.Publisher(client(), rate=200, end=0)  # the publishing time is over
    publisher.unconfirmed = {8, 3, 5}
    conn = FakeConn([[("ack", 1, False)], [("nack", 2, False)], [("ack", 4, True)]])
    publisher.session(conn, settle_end=float("inf"))
    assert conn.bodies == [3, 5, 8, 5]  # in order, then the nacked one again (tag 4)
    assert [seq for seq, _ in publisher.confirmed] == [3, 8, 5]
    assert (publisher.unconfirmed, publisher.republished, publisher.nacked) == (set(), 4, 1)


def test_a_confirm_for_a_message_already_confirmed_is_not_counted_twice():
    publisher = probe.Publisher(client(), rate=200, end=0)
    publisher.unconfirmed = {1}
    conn = FakeConn([[("ack", 1, False), ("ack", 1, False)]])
    publisher.session(conn, settle_end=float("inf"))
    assert [seq for seq, _ in publisher.confirmed] == [1]


def test_a_lost_connection_moves_the_publisher_to_the_next_controller_which_gets_the_unconfirmed(monkeypatch):
    publisher = probe.Publisher(client(), rate=200, end=0)
    publisher.unconfirmed = {1, 2}
    conns = iter([FakeConn([[("ack", 1, False)], ConnectionResetError("reset")]), FakeConn([[("ack", 1, True)]])])
    seen = []

    def connect(who, address, deadline):
        seen.append(address)
        return next(conns), address

    monkeypatch.setattr(publisher.client, "connect", connect)
    monkeypatch.setattr(probe, "SETTLE", 3600)
    publisher.end = time.time() - 1
    publisher.run()
    assert seen == ADDRESSES[:2]
    assert sorted(seq for seq, _ in publisher.confirmed) == [1, 2]
    assert publisher.republished == 3  # 1 and 2 on the first connection, 2 again on the second
    assert publisher.client.errors["publisher"] == {"ConnectionResetError": 1}
    assert publisher.done_at is not None


def test_a_publisher_that_stops_getting_confirms_gives_up_the_connection(monkeypatch):
    monkeypatch.setattr(probe, "CONFIRM_TIMEOUT", -1)
    publisher = probe.Publisher(client(), rate=200, end=0)
    publisher.unconfirmed = {1}
    with pytest.raises(AmqpError, match="no confirm for -1 s with 1 outstanding"):
        publisher.session(FakeConn([[], []]), settle_end=float("inf"))


def test_the_leader_is_read_from_list_queues_and_mapped_to_its_controller():
    rows = [{"name": "other", "leader": "rabbit@ubuntu1"}, {"name": "q", "leader": "rabbit@ubuntu2"}]
    assert bench.leader_of(rows, "q") == "rabbit@ubuntu2"
    assert bench.leader_of(rows, "missing") is None
    assert bench.leader_of([{"name": "q", "leader": ""}], "q") is None
    assert bench.host_of("rabbit@ubuntu2", ["ubuntu1", "ubuntu2", "ubuntu3"]) == "ubuntu2"
    assert bench.host_of("rabbit@elsewhere", ["ubuntu1"]) is None


def test_the_probe_reaches_each_controller_on_its_management_address():
    inventory = {"hosts": {n: {"networks": {"management": {"address": f"10.10.0.{i}"}}}
                           for i, n in enumerate(["ubuntu1", "ubuntu2"], 11)}}
    assert bench.management_addresses(inventory, ["ubuntu1", "ubuntu2"], 5672) == ADDRESSES[:2]


class FakeConsumerConn:
    """Deliveries (or an exception to raise) from ``script``; None once it is used up."""

    def __init__(self, script):
        self.script = list(script)
        self.acked = []

    def qos(self, _count):
        pass

    def consume(self, _queue):
        return "ctag"

    def next_delivery(self, _timeout):
        step = self.script.pop(0) if self.script else None
        if isinstance(step, Exception):
            raise step
        return step

    def ack(self, tag):
        self.acked.append(tag)

    def close(self):
        pass


def test_the_consumer_records_acks_reconnects_to_the_next_controller_and_stops_when_idle(monkeypatch):
    monkeypatch.setattr(probe, "IDLE", 0.05)
    publisher = probe.Publisher(client(), rate=200, end=0)
    publisher.done_at = time.time() - 10
    consumer = probe.Consumer(publisher.client, publisher)
    first = FakeConsumerConn([Delivery(1, False, b"1"), Delivery(2, False, b"2"), ConnectionResetError("reset")])
    second = FakeConsumerConn([Delivery(1, True, b"2"), Delivery(2, False, b"3")])
    conns, seen = iter([first, second]), []

    def connect(who, address, deadline):
        seen.append((who, address))
        return next(conns), address

    monkeypatch.setattr(consumer.client, "connect", connect)
    consumer.run()
    assert seen == [("consumer", ADDRESSES[0]), ("consumer", ADDRESSES[1])]
    assert (consumer.seen, consumer.redelivered) == ([1, 2, 2, 3], 1)
    assert (first.acked, second.acked) == ([1, 2], [1, 2])
    assert consumer.client.errors["consumer"] == {"ConnectionResetError": 1}


def test_the_consumer_goes_on_while_the_publisher_runs():
    publisher = probe.Publisher(client(), rate=200, end=0)
    consumer = probe.Consumer(publisher.client, publisher)
    assert not consumer.finished(last_delivery=0)  # the publisher has not finished
    publisher.done_at = time.time()
    assert not consumer.finished(last_delivery=0)  # finished just now: IDLE s more
    publisher.done_at = time.time() - probe.IDLE - 1
    assert consumer.finished(last_delivery=0)
