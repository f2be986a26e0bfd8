"""
The RabbitMQ failover benchmark's parts that need no lab: where its probe reconnects, how the
publisher settles confirms and publishes the unconfirmed messages again on a new connection, how
the consumer acks and stops; on the host side, how the queue leader is read, the benchmark's
account (its password never in an error) and the kill of the server's Erlang VM (on stand-in
processes). Its figures: tests/unit/test_ha_metrics.py.
"""

import os
import shutil
import subprocess
import time

import pytest

import rabbitmq_failover as bench
from amqp_client import AmqpError, Delivery
from brine_testlib import REPO, load_module, wait_for
from lab.core import ExecResult

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


def test_a_session_republishes_the_unconfirmed_settles_multiple_and_republishes_a_nack(monkeypatch):
    monkeypatch.setattr(probe, "NACK_BACKOFF", 0)
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


class NackingConn(FakeConn):
    """Nacks the newest publish once per wait_confirms until ``nacks`` were sent, then acks it."""

    def __init__(self, nacks):
        super().__init__()
        self.nacks, self.answered = nacks, 0

    def wait_confirms(self, timeout):
        if self.answered == self.tag:  # nothing outstanding: time passes
            time.sleep(min(timeout, 0.01))
            return []
        self.answered = self.tag
        if self.nacks:
            self.nacks -= 1
            return [("nack", self.tag, False)]
        return [("ack", self.tag, False)]


def test_a_nacked_message_waits_for_the_backoff_before_it_is_published_again(monkeypatch):
    monkeypatch.setattr(probe, "NACK_BACKOFF", 0.3)
    publisher = probe.Publisher(client(), rate=200, end=0)
    publisher.unconfirmed = {1}
    conn = NackingConn(nacks=1)
    started = time.time()
    publisher.session(conn, settle_end=float("inf"))
    assert conn.bodies == [1, 1] and time.time() - started >= 0.3
    assert [seq for seq, _ in publisher.confirmed] == [1] and publisher.nacked == 1


def test_a_publisher_that_gets_only_nacks_gives_up_the_connection(monkeypatch):
    # RabbitMQ 3.10 after a leader kill: a channel that nacks every publish for as long as it lives
    monkeypatch.setattr(probe, "NACK_BACKOFF", 0)
    monkeypatch.setattr(probe, "NACK_TIMEOUT", 0.2)
    publisher = probe.Publisher(client(), rate=200, end=0)
    publisher.unconfirmed = {1}
    with pytest.raises(AmqpError, match="only nacks for 0.2 s"):
        publisher.session(NackingConn(nacks=10 ** 9), settle_end=float("inf"))
    assert publisher.unconfirmed == {1} and publisher.confirmed == [] and publisher.nacked >= 2


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


class FakeLab:
    def __init__(self, returncode=0):
        self.commands, self.returncode = [], returncode

    def exec(self, host, command, timeout=120):
        self.commands.append((host, command))
        return ExecResult(host, command, self.returncode, "Error: boom\n")


def test_the_bench_account_password_goes_to_stdin_and_a_0600_file_never_into_an_error():
    lab = FakeLab()
    bench.bench_account(lab, "ubuntu1", "openstack")
    (seed, make), (client_host, write) = lab.commands
    password = write.split()[-3]
    assert (seed, client_host) == ("ubuntu1", "bootstrap") and len(password) >= 24
    assert f"printf '%s\\n' {password} | rabbitmqctl add_user brine-bench" in make
    assert write.startswith("umask 077; ") and write.endswith(f"> {bench.BENCH_CREDENTIALS}")
    failing = FakeLab(returncode=2)
    with pytest.raises(RuntimeError) as error:
        bench.bench_account(failing, "ubuntu1", "openstack")
    assert "making the benchmark's RabbitMQ account failed (rc=2): Error: boom" in str(error.value)
    assert failing.commands[0][1].split("printf '%s\\n' ")[1].split()[0] not in str(error.value)


@pytest.mark.parametrize("under_a_script", [False, True])
def test_the_kill_hits_the_units_beam_smp_whether_main_process_or_its_child(tmp_path, under_a_script):
    beam = tmp_path / "beam.smp"
    shutil.copy("/bin/sleep", beam)
    if under_a_script:
        main = subprocess.Popen(["/bin/sh", "-c", f"{beam} 60; true"])
        vm = wait_for(lambda: subprocess.run(["pgrep", "-P", str(main.pid), "-x", "beam.smp"], capture_output=True,
                                             text=True).stdout.strip(), 10, 0.05)
        vm = int(vm)
    else:
        main = subprocess.Popen([str(beam), "60"])
        vm = main.pid
    systemctl = tmp_path / "bin" / "systemctl"
    systemctl.parent.mkdir()
    systemctl.write_text(f"#!/bin/sh\necho {main.pid}\n")
    systemctl.chmod(0o755)
    try:
        proc = subprocess.run(["/bin/sh", "-c", bench.KILL_VM], env={"PATH": f"{systemctl.parent}:/usr/bin:/bin"},
                              capture_output=True, text=True, timeout=30)
        assert proc.returncode == 0, proc.stderr
        assert float(proc.stdout.split()[0]) == pytest.approx(time.time(), abs=30)
        assert wait_for(lambda: not os.path.exists(f"/proc/{vm}") or "Z" in open(f"/proc/{vm}/stat").read().split()[2], 10, 0.05)
    finally:
        main.kill()
        main.wait()


def test_no_beam_smp_of_the_unit_is_an_error(tmp_path):
    systemctl = tmp_path / "systemctl"
    systemctl.write_text("#!/bin/sh\necho 0\n")
    systemctl.chmod(0o755)
    proc = subprocess.run(["/bin/sh", "-c", bench.KILL_VM], env={"PATH": f"{tmp_path}:/usr/bin:/bin"},
                          capture_output=True, text=True, timeout=30)
    assert (proc.returncode, proc.stdout.strip()) == (3, "no beam.smp of rabbitmq-server")
