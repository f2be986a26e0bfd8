"""
The framing of tests/amqp_client.py against a scripted broker (a fake socket): what the client
sends is decoded here with struct on its own, what the broker sends is built the same way, so a
mistake in the client's encoding does not cancel out in its decoding.
"""

import socket
import struct

import pytest

import amqp_client
from amqp_client import AmqpError, Connection, Delivery, decode_table, encode_table, settled


def frame(kind, channel, payload):
    return struct.pack(">BHI", kind, channel, len(payload)) + payload + b"\xce"


def method(channel, cls, meth, args=b""):
    return frame(1, channel, struct.pack(">HH", cls, meth) + args)


def shortstr(text):
    return bytes([len(text)]) + text.encode()


def handshake(frame_max=131072):
    server_properties = struct.pack(">I", 0)
    return [method(0, 10, 10, b"\x00\x09" + server_properties + struct.pack(">I", 5) + b"PLAIN"
                   + struct.pack(">I", 5) + b"en_US"),
            method(0, 10, 30, struct.pack(">HIH", 2047, frame_max, 60)),
            method(0, 10, 41, shortstr("")),
            method(1, 20, 11, struct.pack(">I", 0))]


class FakeSocket:
    """Answers recv() from ``script`` in order (b"": the broker closed; nothing left: a timeout)."""

    def __init__(self, script):
        self.script = list(script)
        self.sent = b""

    def sendall(self, data):
        self.sent += data

    def recv(self, _size):
        if not self.script:
            raise socket.timeout("timed out")
        return self.script.pop(0)

    def settimeout(self, _value):
        pass

    def close(self):
        pass


def connect(monkeypatch, *script, frame_max=131072):
    fake = FakeSocket(handshake(frame_max) + list(script))
    monkeypatch.setattr(amqp_client.socket, "create_connection", lambda address, timeout: fake)
    conn = Connection("192.0.2.1", 5672, "user", "pass", "vhost")
    fake.sent = b""  # the handshake is not what these tests check
    return conn, fake


def sent_frames(data):
    """``[(kind, channel, payload)]`` of the bytes the client sent."""
    frames = []
    while data:
        kind, channel, size = struct.unpack(">BHI", data[:7])
        assert data[7 + size] == 0xCE
        frames.append((kind, channel, data[7:7 + size]))
        data = data[8 + size:]
    return frames


def methods(data):
    return [struct.unpack(">HH", p[:4]) for kind, _c, p in sent_frames(data) if kind == 1]


def test_a_field_table_is_encoded_as_the_broker_reads_it():
    assert encode_table({"x-queue-type": "quorum"}) == (
        struct.pack(">I", 24) + b"\x0cx-queue-type" + b"S" + struct.pack(">I", 6) + b"quorum")
    assert encode_table({}) == encode_table(None) == b"\x00\x00\x00\x00"
    assert encode_table({"n": -3, "on": True}) == (
        struct.pack(">I", 16) + b"\x01nl" + struct.pack(">q", -3) + b"\x02ont\x01")
    with pytest.raises(TypeError, match="'f'"):
        encode_table({"f": 1.5})


def test_tables_decode_back_with_nesting_and_the_brokers_own_types():
    table = {"x-queue-type": "quorum", "x-max-length": 10, "flag": False, "nested": {"a": "b"}}
    data = b"junk" + encode_table(table) + b"after"
    assert decode_table(data, 4) == (table, len(data) - 5)
    capabilities = (b"\x09publisher" + b"A" + struct.pack(">I", 10) + b"s" + struct.pack(">h", -2)
                    + b"V" + b"x" + struct.pack(">I", 1) + b"\xff")
    assert decode_table(struct.pack(">I", len(capabilities)) + capabilities) == (
        {"publisher": [-2, None, b"\xff"]}, 4 + len(capabilities))
    with pytest.raises(ValueError, match="'Z'"):
        decode_table(struct.pack(">I", 3) + b"\x01aZ")


def test_declare_with_arguments_sends_the_table_and_returns_the_name(monkeypatch):
    conn, fake = connect(monkeypatch, method(1, 50, 11, shortstr("q1") + struct.pack(">II", 0, 0)))
    assert conn.declare_queue("q1", arguments={"x-queue-type": "quorum"}) == "q1"
    (kind, channel, payload), = sent_frames(fake.sent)
    assert (kind, channel, payload[:4]) == (1, 1, struct.pack(">HH", 50, 10))
    assert payload[4:] == struct.pack(">H", 0) + shortstr("q1") + b"\x02" + encode_table({"x-queue-type": "quorum"})


def test_declare_without_arguments_sends_an_empty_table(monkeypatch):
    conn, fake = connect(monkeypatch, method(1, 50, 11, shortstr("q") + struct.pack(">II", 0, 0)))
    conn.declare_queue("q", durable=False)
    assert sent_frames(fake.sent)[0][2][4:] == struct.pack(">H", 0) + shortstr("q") + b"\x00" + b"\x00" * 4


def test_confirmed_publish_is_persistent_split_to_the_frame_size_and_numbered(monkeypatch):
    conn, fake = connect(monkeypatch, method(1, 85, 11), frame_max=4096)
    conn.confirm_select()
    body = bytes(range(256)) * 40  # 10240 bytes: three body frames of at most 4088
    assert conn.publish("q1", body) == 1
    assert conn.publish("q1", b"2") == 2
    frames = sent_frames(fake.sent)
    assert frames[0] == (1, 1, struct.pack(">HHB", 85, 10, 0))
    publish, header, *bodies = frames[1:6]
    assert publish == (1, 1, struct.pack(">HHH", 60, 40, 0) + shortstr("") + shortstr("q1") + b"\x00")
    assert header == (2, 1, struct.pack(">HHQHB", 60, 0, len(body), 0x1000, 2))
    assert [(k, c, len(p)) for k, c, p in bodies] == [(3, 1, 4088), (3, 1, 4088), (3, 1, 2064)]
    assert b"".join(p for _k, _c, p in bodies) == body
    assert frames[7] == (2, 1, struct.pack(">HHQHB", 60, 0, 1, 0x1000, 2))


def test_a_transient_publish_has_no_properties(monkeypatch):
    conn, fake = connect(monkeypatch)
    conn.publish("q", b"x", persistent=False)
    assert sent_frames(fake.sent)[1] == (2, 1, struct.pack(">HHQH", 60, 0, 1, 0))


def test_confirms_are_read_with_their_multiple_flag_acks_and_nacks(monkeypatch):
    acks = (method(1, 60, 80, struct.pack(">QB", 3, 1)) + method(1, 60, 120, struct.pack(">QB", 4, 0b10))
            + method(1, 60, 80, struct.pack(">QB", 5, 0)))
    conn, _fake = connect(monkeypatch, acks[:30], acks[30:])
    assert conn.wait_confirms(1.0) == [("ack", 3, True), ("nack", 4, False), ("ack", 5, False)]
    assert conn.wait_confirms(0.01) == []  # nothing more: the wait times out


def test_confirms_that_arrive_while_waiting_for_a_reply_are_kept(monkeypatch):
    conn, _fake = connect(monkeypatch, method(1, 60, 80, struct.pack(">QB", 1, 0)), method(1, 60, 11))
    conn.qos(10)
    assert conn.wait_confirms(0.01) == [("ack", 1, False)]


def test_settled_tags_single_and_multiple():
    outstanding = {2, 3, 5, 9}
    assert settled(outstanding, 5, False) == [5]
    assert settled(outstanding, 4, False) == []
    assert settled(outstanding, 5, True) == [2, 3, 5]
    assert settled(outstanding, 1, True) == []
    assert settled(outstanding, 99, True) == [2, 3, 5, 9]


def test_consume_with_manual_acks_reads_deliveries_and_acks_them(monkeypatch):
    deliver = (method(1, 60, 60, shortstr("ctag") + struct.pack(">QB", 7, 1) + shortstr("") + shortstr("q1"))
               + frame(2, 1, struct.pack(">HHQHB", 60, 0, 5, 0x1000, 2)) + frame(3, 1, b"12") + frame(3, 1, b"345"))
    conn, fake = connect(monkeypatch, method(1, 60, 11), method(1, 60, 21, shortstr("ctag")),
                         deliver[:20], deliver[20:], frame(8, 0, b""))
    conn.qos(50)
    assert conn.consume("q1") == "ctag"
    assert conn.next_delivery(1.0) == Delivery(7, True, b"12345")
    assert conn.next_delivery(0.01) is None  # a heartbeat frame, then nothing
    conn.ack(7)
    conn.ack(9, multiple=True)
    frames = sent_frames(fake.sent)
    assert frames[0][2] == struct.pack(">HHIHB", 60, 10, 0, 50, 0)
    assert frames[1][2] == struct.pack(">HHH", 60, 20, 0) + shortstr("q1") + shortstr("") + b"\x00" + b"\x00" * 4
    assert frames[2][2] == struct.pack(">HHQB", 60, 80, 7, 0)
    assert frames[3][2] == struct.pack(">HHQB", 60, 80, 9, 1)


def test_a_channel_close_from_the_broker_raises_its_code_and_text(monkeypatch):
    refusal = struct.pack(">H", 406) + shortstr("PRECONDITION_FAILED - inequivalent arg") + struct.pack(">HH", 50, 10)
    conn, _fake = connect(monkeypatch, method(1, 20, 40, refusal))
    with pytest.raises(AmqpError, match="^406 PRECONDITION_FAILED - inequivalent arg$"):
        conn.declare_queue("q1", arguments={"x-queue-type": "classic"})


def test_a_lost_connection_raises_while_waiting_for_confirms(monkeypatch):
    conn, _fake = connect(monkeypatch, b"")
    with pytest.raises(AmqpError, match="closed by the broker"):
        conn.wait_confirms(1.0)


def test_a_frame_without_its_end_octet_is_refused(monkeypatch):
    conn, _fake = connect(monkeypatch, method(1, 60, 80, struct.pack(">QB", 1, 0))[:-1] + b"\x00")
    with pytest.raises(AmqpError, match="end octet"):
        conn.wait_confirms(1.0)
