"""
Runs in a lab guest (benchmarks/rabbitmq_failover.py sends it with tests/amqp_client.py beside
it): declares the quorum queue QUEUE once, then for DURATION s a publisher (publisher confirms,
persistent messages, RATE messages/s, each body its sequence number 1, 2, ...) and a consumer
(manual acks, each message acked after it is recorded), each on its own connection to the first
of ADDRESSES. Either one, on losing its connection (or, the publisher, when no confirm came for
CONFIRM_TIMEOUT s while some were due, or only nacks for NACK_TIMEOUT s), connects to the next
address in turn; the publisher then publishes every message not yet confirmed again (the consumer
may see those twice). A nacked message is published again after NACK_BACKOFF s. After
DURATION the publisher waits at most SETTLE s for its last confirms, and the consumer stops once
nothing came for IDLE s after that. Prints one JSON line: every confirm ``[seq, time]``, every
sequence number consumed (repeats included), the connects and the errors.
Credentials come from the file CREDENTIALS (user and password, one per line), never the
command line.

usage: python3 rabbitmq_client.py ADDRESSES CREDENTIALS VHOST QUEUE DURATION [RATE]
       ADDRESSES: host:port,host:port,...
"""

import json
import sys
import threading
import time

from amqp_client import AmqpError, Connection, settled

CONFIRM_TIMEOUT = 15.0
# A channel whose quorum queue client still points at the killed leader can nack every publish
# for as long as it lives (RabbitMQ 3.10, seen on loopback: 125,000 nacks in 60 s, no ack); a
# new connection gets the new leader.
NACK_TIMEOUT = 2.0
NACK_BACKOFF = 0.1
SETTLE = 60.0
IDLE = 5.0
RETRY = 0.2
PREFETCH = 100
CATCH_UP = 1.0  # after a stall the publisher makes up at most this many seconds of messages at once


def next_address(addresses, current):
    """The address after ``current`` in ``addresses``, round robin: where to reconnect."""
    return addresses[(addresses.index(current) + 1) % len(addresses)]


def count_error(errors, exc):
    kind = type(exc).__name__
    errors[kind] = errors.get(kind, 0) + 1


def close_quietly(conn):
    try:
        conn.close()
    except (OSError, AmqpError):
        pass


class Client:
    """What the publisher and the consumer share: where to connect, and the connect log."""

    def __init__(self, addresses, user, password, vhost, queue):
        self.addresses, self.user, self.password, self.vhost, self.queue = addresses, user, password, vhost, queue
        self.connects = []  # [time, "publisher" | "consumer", address]
        self.errors = {"publisher": {}, "consumer": {}}
        self.lock = threading.Lock()

    def connect(self, who, address, deadline):
        """A connection to ``address`` or, when it does not answer, to the following addresses
        in turn until ``deadline``: (connection, address); (None, address) after the deadline."""
        while time.time() < deadline:
            host, port = address.rsplit(":", 1)
            try:
                conn = Connection(host, int(port), self.user, self.password, self.vhost, timeout=5)
            except (OSError, AmqpError) as exc:
                self.error(who, exc)
                address = next_address(self.addresses, address)
                time.sleep(RETRY)
                continue
            with self.lock:
                self.connects.append([round(time.time(), 4), who, address])
            return conn, address
        return None, address

    def error(self, who, exc):
        with self.lock:
            count_error(self.errors[who], exc)


class Publisher:
    def __init__(self, client, rate, end):
        self.client, self.interval, self.end = client, 1.0 / rate, end
        self.seq = 0
        self.unconfirmed = set()  # published (maybe more than once) and not confirmed yet
        self.confirmed = []  # [seq, time]
        self.republished = self.nacked = 0
        self.done_at = None

    def run(self):
        address = self.client.addresses[0]
        settle_end = self.end + SETTLE
        try:
            while time.time() < settle_end and (time.time() < self.end or self.unconfirmed):
                conn, address = self.client.connect("publisher", address, settle_end)
                if conn is None:
                    return
                try:
                    self.session(conn, settle_end)
                    close_quietly(conn)
                    return
                except (OSError, AmqpError) as exc:
                    self.client.error("publisher", exc)
                    close_quietly(conn)
                    address = next_address(self.client.addresses, address)
                    time.sleep(RETRY)
        finally:
            self.done_at = time.time()

    def send(self, conn, tags, seq):
        tags[conn.publish(self.client.queue, str(seq).encode())] = seq

    def session(self, conn, settle_end):
        """Publish on one connection until the end (and every message is confirmed)."""
        conn.confirm_select()
        tags = {}  # delivery tag on this connection -> sequence number
        for seq in sorted(self.unconfirmed):
            self.send(conn, tags, seq)
            self.republished += 1
        due = last_confirm = last_ack = time.time()
        nacked = []  # [(publish again at, seq)]
        while True:
            now = time.time()
            if now < self.end:
                due = max(due, now - CATCH_UP)
                while due <= now:
                    self.seq += 1
                    self.unconfirmed.add(self.seq)
                    self.send(conn, tags, self.seq)
                    due += self.interval
            elif not tags and not nacked or now >= settle_end:
                return
            while nacked and nacked[0][0] <= now:
                self.send(conn, tags, nacked.pop(0)[1])
                self.republished += 1
            if not tags and not nacked:
                last_confirm = last_ack = now
            elif now - last_confirm > CONFIRM_TIMEOUT:
                raise AmqpError(f"no confirm for {CONFIRM_TIMEOUT} s with {len(tags)} outstanding")
            elif self.nacked and now - last_ack > NACK_TIMEOUT:
                raise AmqpError(f"only nacks for {NACK_TIMEOUT} s")
            wait = min(max(due - now, 0.001), 0.1) if now < self.end else 0.1
            for kind, tag, multiple in conn.wait_confirms(wait):
                last_confirm = time.time()
                for seq in [tags.pop(t) for t in settled(tags, tag, multiple)]:
                    if kind == "nack":
                        self.nacked += 1
                        nacked.append((last_confirm + NACK_BACKOFF, seq))
                    else:
                        last_ack = last_confirm
                        if seq in self.unconfirmed:
                            self.unconfirmed.discard(seq)
                            self.confirmed.append([seq, round(last_confirm, 4)])


class Consumer:
    def __init__(self, client, publisher):
        self.client, self.publisher = client, publisher
        self.seen = []
        self.redelivered = 0

    def finished(self, last_delivery):
        done_at = self.publisher.done_at
        return done_at is not None and time.time() - max(done_at, last_delivery) > IDLE

    def run(self):
        address = self.client.addresses[0]
        last = time.time()
        while not self.finished(last):
            conn, address = self.client.connect("consumer", address, self.publisher.end + SETTLE + IDLE)
            if conn is None:
                return
            try:
                conn.qos(PREFETCH)
                conn.consume(self.client.queue)
                while not self.finished(last):
                    delivery = conn.next_delivery(0.5)
                    if delivery is None:
                        continue
                    last = time.time()
                    self.seen.append(int(delivery.body))
                    self.redelivered += delivery.redelivered
                    conn.ack(delivery.tag)
                close_quietly(conn)
            except (OSError, AmqpError) as exc:
                self.client.error("consumer", exc)
                close_quietly(conn)
                address = next_address(self.client.addresses, address)
                time.sleep(RETRY)


def declare(client):
    """The quorum queue, declared once through the first address that answers."""
    conn, address = client.connect("declare", client.addresses[0], time.time() + 60)
    if conn is None:
        raise SystemExit("no address answered: " + ",".join(client.addresses))
    with conn:
        conn.declare_queue(client.queue, arguments={"x-queue-type": "quorum"})
    return address


def main():
    addresses = sys.argv[1].split(",")
    creds, vhost, queue, duration = sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5])
    rate = float(sys.argv[6]) if len(sys.argv) > 6 else 250.0
    user, password = open(creds, encoding="utf-8").read().split("\n")[:2]
    client = Client(addresses, user, password, vhost, queue)
    client.errors["declare"] = {}
    declared_on = declare(client)
    began = time.time()
    publisher = Publisher(client, rate, began + duration)
    consumer = Consumer(client, publisher)
    threads = [threading.Thread(target=publisher.run), threading.Thread(target=consumer.run)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print("JSON:" + json.dumps({
        "began": round(began, 4), "duration": duration, "rate": rate, "declared_on": declared_on,
        "published": publisher.seq, "confirmed": publisher.confirmed, "unconfirmed": sorted(publisher.unconfirmed),
        "republished": publisher.republished, "nacked": publisher.nacked, "seen": consumer.seen,
        "redelivered": consumer.redelivered, "connects": client.connects, "errors": client.errors,
    }), flush=True)


if __name__ == "__main__":
    main()
