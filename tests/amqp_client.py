"""
A minimal AMQP 0-9-1 client for the tests (no client library is installed): PLAIN login, one
channel, queue.declare with no arguments, as an OpenStack service declares its queues. A
broker refusal (connection.close or channel.close) raises AmqpError with its code and text.
"""

import socket
import struct

FRAME_METHOD, FRAME_END = 1, 0xCE


def _shortstr(value):
    data = value.encode()
    return struct.pack("B", len(data)) + data


def _longstr(value):
    data = value if isinstance(value, bytes) else value.encode()
    return struct.pack(">I", len(data)) + data


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
        self.buffer = b""
        self.sock.sendall(b"AMQP\x00\x00\x09\x01")
        self._expect(0, 10, 10)  # connection.start
        response = b"\x00" + user.encode() + b"\x00" + password.encode()
        self._send(0, 10, 11, struct.pack(">I", 0) + _shortstr("PLAIN") + _longstr(response) + _shortstr("en_US"))
        args = self._expect(0, 10, 30)  # connection.tune
        channel_max, frame_max, _heartbeat = struct.unpack(">HIH", args[:8])
        self._send(0, 10, 31, struct.pack(">HIH", channel_max, frame_max, 0))  # no heartbeats
        self._send(0, 10, 40, _shortstr(vhost) + _shortstr("") + b"\x00")
        self._expect(0, 10, 41)  # connection.open-ok
        self._send(1, 20, 10, _shortstr(""))
        self._expect(1, 20, 11)  # channel.open-ok

    def declare_queue(self, name, durable=True):
        """queue.declare with no arguments (an empty table); the declared queue's name."""
        flags = 0b10 if durable else 0
        self._send(1, 50, 10, struct.pack(">H", 0) + _shortstr(name) + struct.pack("B", flags) + struct.pack(">I", 0))
        args = self._expect(1, 50, 11)  # queue.declare-ok
        return args[1:1 + args[0]].decode()

    def close(self):
        try:
            self._send(0, 10, 50, struct.pack(">H", 200) + _shortstr("bye") + struct.pack(">HH", 0, 0))
        finally:
            self.sock.close()

    def _send(self, channel, class_id, method_id, args):
        payload = struct.pack(">HH", class_id, method_id) + args
        self.sock.sendall(struct.pack(">BHI", FRAME_METHOD, channel, len(payload)) + payload + bytes([FRAME_END]))

    def _frame(self):
        while True:
            if len(self.buffer) >= 7:
                kind, channel, size = struct.unpack(">BHI", self.buffer[:7])
                if len(self.buffer) >= 8 + size:
                    payload = self.buffer[7:7 + size]
                    self.buffer = self.buffer[8 + size:]
                    return kind, channel, payload
            data = self.sock.recv(65536)
            if not data:
                raise AmqpError("connection closed by the broker")
            self.buffer += data

    def _expect(self, channel, class_id, method_id):
        while True:
            kind, got_channel, payload = self._frame()
            if kind != FRAME_METHOD:
                continue
            cls, method = struct.unpack(">HH", payload[:4])
            if (cls, method) in ((10, 50), (20, 40)):  # connection.close, channel.close
                code = struct.unpack(">H", payload[4:6])[0]
                text = payload[7:7 + payload[6]].decode(errors="replace")
                raise AmqpError(f"{code} {text}")
            if (got_channel, cls, method) == (channel, class_id, method_id):
                return payload[4:]
