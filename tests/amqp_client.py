"""
A minimal AMQP 0-9-1 client for the tests and the lab benchmarks (no client library is
installed; benchmarks/rabbitmq_failover.py copies this file into a guest, so it uses the
standard library only): PLAIN login, one channel; queue.declare with optional arguments (a
field table, e.g. ``{"x-queue-type": "quorum"}``); publisher confirms (confirm.select,
basic.publish with persistent delivery, the broker's basic.ack / basic.nack with their
multiple flag); basic.qos, basic.consume, basic.deliver and manual basic.ack. A broker refusal
(connection.close or channel.close) raises AmqpError with its code and text; a lost connection
raises AmqpError or OSError.
"""

import collections
import socket
import struct

FRAME_METHOD, FRAME_HEADER, FRAME_BODY, FRAME_HEARTBEAT, FRAME_END = 1, 2, 3, 8, 0xCE
BASIC = 60
PERSISTENT = 2
# Methods the broker sends on its own, not as a reply: kept until read.
BASIC_ACK, BASIC_NACK, BASIC_DELIVER = (BASIC, 80), (BASIC, 120), (BASIC, 60)

Delivery = collections.namedtuple("Delivery", "tag redelivered body")


def _shortstr(value):
    data = value.encode()
    return struct.pack("B", len(data)) + data


def _longstr(value):
    data = value if isinstance(value, bytes) else value.encode()
    return struct.pack(">I", len(data)) + data


def encode_table(table):
    """A field table (``{name: value}``): str as a long string, bool, int as a signed 64-bit
    integer, a dict as a nested table."""
    out = b""
    for name, value in (table or {}).items():
        out += _shortstr(name)
        if isinstance(value, bool):
            out += b"t" + struct.pack("B", value)
        elif isinstance(value, int):
            out += b"l" + struct.pack(">q", value)
        elif isinstance(value, (str, bytes)):
            out += b"S" + _longstr(value)
        elif isinstance(value, dict):
            out += b"F" + encode_table(value)
        else:
            raise TypeError(f"field {name!r}: {type(value).__name__} is not encoded")
    return struct.pack(">I", len(out)) + out


# The field types a broker sends in its tables (connection.start's server properties).
_FIXED = {"b": ">b", "B": ">B", "s": ">h", "u": ">H", "I": ">i", "i": ">I", "l": ">q", "L": ">Q",
          "f": ">f", "d": ">d", "T": ">Q"}


def decode_table(data, offset=0):
    """``(table, offset after it)`` of the field table at ``offset``."""
    size = struct.unpack_from(">I", data, offset)[0]
    offset += 4
    end, table = offset + size, {}
    while offset < end:
        name_size = data[offset]
        name = data[offset + 1:offset + 1 + name_size].decode()
        table[name], offset = _decode_value(data, offset + 1 + name_size)
    return table, end


def _decode_value(data, offset):
    kind, offset = chr(data[offset]), offset + 1
    if kind == "t":
        return bool(data[offset]), offset + 1
    if kind in _FIXED:
        fmt = _FIXED[kind]
        return struct.unpack_from(fmt, data, offset)[0], offset + struct.calcsize(fmt)
    if kind in "Sx":
        size = struct.unpack_from(">I", data, offset)[0]
        value = data[offset + 4:offset + 4 + size]
        return (value.decode(errors="replace") if kind == "S" else value), offset + 4 + size
    if kind == "F":
        return decode_table(data, offset)
    if kind == "A":
        size = struct.unpack_from(">I", data, offset)[0]
        offset += 4
        end, values = offset + size, []
        while offset < end:
            value, offset = _decode_value(data, offset)
            values.append(value)
        return values, end
    if kind == "D":
        return struct.unpack_from(">BI", data, offset)[1] / 10 ** data[offset], offset + 5
    if kind == "V":
        return None, offset
    raise ValueError(f"unknown field type {kind!r}")


def settled(outstanding, tag, multiple):
    """The delivery tags of ``outstanding`` that a basic.ack or basic.nack for ``tag`` settles:
    ``tag`` alone, or with ``multiple`` every tag up to and including it (sorted)."""
    if multiple:
        return sorted(t for t in outstanding if t <= tag)
    return [tag] if tag in outstanding else []


class AmqpError(Exception):
    pass


class Connection:
    """One connection with channel 1 open; ``close()`` it (or use ``with``)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __init__(self, host, port, user, password, vhost, timeout=10):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.timeout = timeout
        self.buffer = b""
        self.frame_max = 131072
        self.published = 0  # the delivery tag of the last publish after confirm.select
        self.confirms = collections.deque()  # ("ack" | "nack", tag, multiple)
        self.deliveries = collections.deque()
        self.sock.sendall(b"AMQP\x00\x00\x09\x01")
        self._expect(0, 10, 10)  # connection.start
        response = b"\x00" + user.encode() + b"\x00" + password.encode()
        self._send(0, 10, 11, struct.pack(">I", 0) + _shortstr("PLAIN") + _longstr(response) + _shortstr("en_US"))
        args = self._expect(0, 10, 30)  # connection.tune
        channel_max, frame_max, _heartbeat = struct.unpack(">HIH", args[:8])
        self.frame_max = frame_max or self.frame_max
        self._send(0, 10, 31, struct.pack(">HIH", channel_max, frame_max, 0))  # no heartbeats
        self._send(0, 10, 40, _shortstr(vhost) + _shortstr("") + b"\x00")
        self._expect(0, 10, 41)  # connection.open-ok
        self._send(1, 20, 10, _shortstr(""))
        self._expect(1, 20, 11)  # channel.open-ok

    def declare_queue(self, name, durable=True, arguments=None):
        """queue.declare (``arguments``: a field table, none by default); the declared queue's name."""
        flags = 0b10 if durable else 0
        self._send(1, 50, 10, struct.pack(">H", 0) + _shortstr(name) + struct.pack("B", flags) + encode_table(arguments))
        args = self._expect(1, 50, 11)  # queue.declare-ok
        return args[1:1 + args[0]].decode()

    def confirm_select(self):
        """Publisher confirms on: from now on every publish gets a delivery tag (1, 2, ...) that
        the broker settles with basic.ack or basic.nack (read them with :meth:`wait_confirms`)."""
        self._send(1, 85, 10, b"\x00")
        self._expect(1, 85, 11)  # confirm.select-ok
        self.published = 0

    def publish(self, routing_key, body, exchange="", persistent=True):
        """basic.publish of ``body`` (bytes); the delivery tag a confirm will name."""
        self._send(1, BASIC, 40, struct.pack(">H", 0) + _shortstr(exchange) + _shortstr(routing_key) + b"\x00")
        flags, properties = (0x1000, struct.pack("B", PERSISTENT)) if persistent else (0, b"")
        header = struct.pack(">HHQH", BASIC, 0, len(body), flags) + properties
        frames = [self._framed(FRAME_HEADER, 1, header)]
        step = self.frame_max - 8
        frames += [self._framed(FRAME_BODY, 1, body[i:i + step]) for i in range(0, len(body), step)]
        self.sock.sendall(b"".join(frames))
        self.published += 1
        return self.published

    def wait_confirms(self, timeout):
        """The confirms that arrived, waiting at most ``timeout`` s for the first:
        ``[("ack" | "nack", tag, multiple)]``."""
        if not self.confirms:
            self._read_one(timeout)
        for _ in range(1000):  # and those already here, without waiting
            if self._read_one(0) is None:
                break
        out = list(self.confirms)
        self.confirms.clear()
        return out

    def qos(self, prefetch_count):
        self._send(1, BASIC, 10, struct.pack(">IHB", 0, prefetch_count, 0))
        self._expect(1, BASIC, 11)  # basic.qos-ok

    def consume(self, queue, consumer_tag=""):
        """basic.consume with manual acks; the consumer tag."""
        self._send(1, BASIC, 20, struct.pack(">H", 0) + _shortstr(queue) + _shortstr(consumer_tag) + b"\x00"
                   + encode_table({}))
        args = self._expect(1, BASIC, 21)  # basic.consume-ok
        return args[1:1 + args[0]].decode()

    def next_delivery(self, timeout):
        """The next message delivered to a consumer (a Delivery), or None after ``timeout`` s."""
        if not self.deliveries:
            self._read_one(timeout)
        return self.deliveries.popleft() if self.deliveries else None

    def ack(self, tag, multiple=False):
        self._send(1, BASIC, 80, struct.pack(">QB", tag, 1 if multiple else 0))

    def close(self):
        try:
            self._send(0, 10, 50, struct.pack(">H", 200) + _shortstr("bye") + struct.pack(">HH", 0, 0))
        finally:
            self.sock.close()

    @staticmethod
    def _framed(kind, channel, payload):
        return struct.pack(">BHI", kind, channel, len(payload)) + payload + bytes([FRAME_END])

    def _send(self, channel, class_id, method_id, args):
        self.sock.sendall(self._framed(FRAME_METHOD, channel, struct.pack(">HH", class_id, method_id) + args))

    def _frame(self, timeout=None):
        """The next frame ``(kind, channel, payload)``; with ``timeout``, None when nothing
        complete arrived within it."""
        while True:
            if len(self.buffer) >= 7:
                kind, channel, size = struct.unpack(">BHI", self.buffer[:7])
                if len(self.buffer) >= 8 + size:
                    if self.buffer[7 + size] != FRAME_END:
                        raise AmqpError("frame without its end octet")
                    payload = self.buffer[7:7 + size]
                    self.buffer = self.buffer[8 + size:]
                    return kind, channel, payload
            try:
                if timeout is not None:
                    self.sock.settimeout(max(timeout, 0.001))
                data = self.sock.recv(65536)
            except socket.timeout:
                if timeout is None:
                    raise
                return None
            finally:
                if timeout is not None:
                    self.sock.settimeout(self.timeout)
            if not data:
                raise AmqpError("connection closed by the broker")
            self.buffer += data

    def _read_one(self, timeout):
        """Read one method frame (within ``timeout``) and keep it if the broker sent it on its
        own; ``(channel, class, method, args)`` of it, or None."""
        frame = self._frame(timeout)
        while frame is not None and frame[0] != FRAME_METHOD:
            frame = self._frame(timeout)
        if frame is None:
            return None
        _kind, channel, payload = frame
        cls, method = struct.unpack(">HH", payload[:4])
        args = payload[4:]
        if (cls, method) in ((10, 50), (20, 40)):  # connection.close, channel.close
            code = struct.unpack(">H", args[:2])[0]
            text = args[3:3 + args[2]].decode(errors="replace")
            raise AmqpError(f"{code} {text}")
        if (cls, method) in (BASIC_ACK, BASIC_NACK):
            tag, bits = struct.unpack(">QB", args[:9])
            self.confirms.append(("ack" if (cls, method) == BASIC_ACK else "nack", tag, bool(bits & 1)))
        elif (cls, method) == BASIC_DELIVER:
            self.deliveries.append(self._delivery(args))
        return channel, cls, method, args

    def _delivery(self, args):
        """basic.deliver's arguments, then its content header and body frames: a Delivery."""
        offset = 1 + args[0]  # consumer tag
        tag, bits = struct.unpack_from(">QB", args, offset)
        kind, _channel, header = self._frame()
        if kind != FRAME_HEADER:
            raise AmqpError(f"basic.deliver followed by frame type {kind}, not a content header")
        size = struct.unpack(">Q", header[4:12])[0]
        body = b""
        while len(body) < size:
            kind, _channel, chunk = self._frame()
            if kind != FRAME_BODY:
                raise AmqpError(f"content body expected, frame type {kind}")
            body += chunk
        return Delivery(tag, bool(bits & 1), body)

    def _expect(self, channel, class_id, method_id):
        while True:
            got = self._read_one(None)
            if got is not None and got[:3] == (channel, class_id, method_id):
                return got[3]
