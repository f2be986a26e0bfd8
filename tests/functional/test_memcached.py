"""
memcached with brinelib.memcached's /etc/memcached.conf, started through Debian's own
systemd-memcached-wrapper (what memcached.service runs) on loopback: it listens on the one
address and port over TCP only, with the memory size and connection limit of the file.
"""

import socket
import subprocess
import time

import pytest
from brine_testlib import free_port, recv_until
from brinelib import memcached

WRAPPER = "/usr/share/memcached/scripts/systemd-memcached-wrapper"


def stats_settings(port):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"stats settings\r\n")
        data = recv_until(sock, b"END\r\n")
    return dict(line.split(" ", 2)[1:] for line in data.decode().splitlines() if line.startswith("STAT "))


@pytest.fixture
def served(tmp_path):
    port = free_port()
    conf = tmp_path / "memcached.conf"
    text = memcached.render_config("127.0.0.1", port=port, memory_mb=32, max_connections=128)
    conf.write_text(text.replace("/var/run/memcached/memcached.pid", str(tmp_path / "memcached.pid")))
    proc = subprocess.Popen([WRAPPER, str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read() if proc.stderr else ""
                time.sleep(0.1)
        yield proc, port
    finally:
        proc.kill()
        proc.wait(timeout=10)


def test_memcached_serves_the_rendered_settings_on_one_address(served):
    proc, port = served
    settings = stats_settings(port)
    assert settings["maxbytes"] == str(32 * 1024 * 1024) and settings["maxconns"] == "128"
    assert settings["udpport"] == "0" and settings["tcpport"] == str(port)
    listening = subprocess.run(["ss", "-Hltnup"], capture_output=True, text=True, check=True).stdout
    mine = [line.split()[4] for line in listening.splitlines() if f"pid={proc.pid}," in line]
    assert mine == [f"127.0.0.1:{port}"], listening
