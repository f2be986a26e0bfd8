"""brinelib.certdeploy's runtime API client against a stand-in stats socket: the commands in
order, and a refused transaction aborted (the real HAProxy: tests/functional/test_cert_deploy.py)."""

import socket
import threading

import pytest

from brinelib import certdeploy

COMBINED = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"


@pytest.fixture
def stats_socket(tmp_path):
    """(path, the commands it received, the replies to give in order): one command a connection,
    like HAProxy's non-interactive stats socket."""
    path = str(tmp_path / "admin.sock")
    received, replies = [], []
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen()
    server.settimeout(0.05)
    done = threading.Event()

    def serve():
        while not done.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(5)
            with conn:
                data = b""
                while not (data.endswith(b"\n\n") if data.startswith(b"set ") else data.endswith(b"\n")):
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                received.append(data.decode())
                conn.sendall((replies.pop(0) if replies else "").encode())

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield path, received, replies
    done.set()
    server.close()
    thread.join(timeout=5)


def test_a_committed_transaction(stats_socket):
    path, received, replies = stats_socket
    replies += ["Transaction created for certificate /c.pem!\n", "Committing /c.pem\nSuccess!\n"]
    assert certdeploy.swap_runtime(path, "/c.pem", COMBINED) is None
    assert received == ["set ssl cert /c.pem <<\n" + COMBINED + "\n", "commit ssl cert /c.pem\n"]


def test_a_refused_set_is_aborted_and_said(stats_socket):
    path, received, replies = stats_socket
    replies += ["unable to load the content\nof the certificate\n", ""]
    assert certdeploy.swap_runtime(path, "/c.pem", COMBINED) == "set ssl cert: unable to load the content of the certificate"
    assert received[1:] == ["abort ssl cert /c.pem\n"]


def test_a_failed_commit_is_aborted_and_said(stats_socket):
    path, received, replies = stats_socket
    replies += ["Transaction updated for certificate /c.pem!\n", "Committing /c.pem\nFailed!\n", "Transaction aborted\n"]
    assert certdeploy.swap_runtime(path, "/c.pem", COMBINED) == "commit ssl cert: Committing /c.pem Failed!"
    assert received[1:] == ["commit ssl cert /c.pem\n", "abort ssl cert /c.pem\n"]


def test_no_socket_is_said(tmp_path):
    missing = str(tmp_path / "none.sock")
    assert certdeploy.swap_runtime(missing, "/c.pem", COMBINED) == f"stats socket {missing}: No such file or directory"


def test_lineage_files():
    assert certdeploy.lineage_files("/etc/letsencrypt/live/x") == (
        "/etc/letsencrypt/live/x/fullchain.pem", "/etc/letsencrypt/live/x/privkey.pem")
