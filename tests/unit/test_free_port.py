"""brine_testlib.free_port: a server's port no outgoing connection can take first."""

import socket

import brine_testlib
from brine_testlib import free_port


def test_free_port_is_below_the_ephemeral_range_bindable_and_never_repeated():
    with open("/proc/sys/net/ipv4/ip_local_port_range") as fh:
        ephemeral_low = int(fh.read().split()[0])
    ports = [free_port() for _ in range(50)]
    assert len(set(ports)) == 50
    assert all(10000 <= port < ephemeral_low for port in ports)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", ports[-1]))


def test_free_port_skips_a_port_in_use(monkeypatch):
    monkeypatch.setattr(brine_testlib.random, "shuffle", lambda ports: None)  # lowest candidate first
    first = brine_testlib.free_port()
    brine_testlib._PORTS_GIVEN.discard(first)
    with socket.socket() as held:
        held.bind(("127.0.0.1", first))
        held.listen()
        assert brine_testlib.free_port() > first
