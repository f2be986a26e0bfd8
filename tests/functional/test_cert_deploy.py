"""
The certificate deploy hook (brinelib.certdeploy, docs/loadbalancer.md) against a real HAProxy
serving TLS on 127.0.0.1 (loopback only): a new certificate is served by the same process
through the runtime API, an open connection survives the swap, a refused certificate changes
nothing, and without the runtime API a graceful reload (master-worker) serves it.
"""

import json
import os
import shlex
import shutil
import signal
import socket
import ssl
import subprocess
import threading
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

import cert_factory
from brine_testlib import REPO, SaltCall, free_port, recv_until, render_file
from brinelib import certdeploy
from brinelib.errors import CommandExecutionError
from cert_factory import HAPROXY_TLS_CONFIG as CONFIG, Authority

FQDN = "external.lab.home.arpa"
HAPROXY = shutil.which("haproxy")
HOOK_TEMPLATE = REPO / "salt" / "haproxy" / "files" / "brine-cert-deploy.jinja"

pytestmark = pytest.mark.skipif(not HAPROXY, reason="haproxy is installed by scripts/setup-env.sh")


class Served:
    """One HAProxy (``-db``, or master-worker with ``-W``) in its own process group, stopped
    with its whole group afterwards."""

    def __init__(self, directory, chain, key, master_worker=False):
        self.dir, self.port = directory, free_port()
        self.certs = directory / "certs"
        self.certs.mkdir()
        self.crt = str(self.certs / "external.pem")
        with open(self.crt, "w", encoding="utf-8") as fh:
            fh.write(chain + key)
        self.config = str(directory / "haproxy.cfg")
        with open(self.config, "w", encoding="utf-8") as fh:
            fh.write(CONFIG.format(dir=directory, port=self.port, crt=self.crt))
        self.socket = str(directory / "admin.sock")
        argv = [HAPROXY, "-W", "-db", "-f", self.config] if master_worker else [HAPROXY, "-db", "-f", self.config]
        self.log = open(directory / "haproxy.log", "wb")
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=self.log, start_new_session=True)
        deadline = time.time() + 10
        while True:
            try:
                self.serial()
                break
            except OSError:
                if self.proc.poll() is not None or time.time() > deadline:
                    raise RuntimeError((directory / "haproxy.log").read_text())
                time.sleep(0.05)

    def connect(self):
        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        raw = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        return context.wrap_socket(raw, server_hostname=FQDN)

    def serial(self, conn=None):
        """The serial (upper-case hex) of the certificate a connection (a new one by default) got."""
        own = conn is None
        conn = conn or self.connect()
        try:
            return format(x509.load_der_x509_certificate(conn.getpeercert(binary_form=True)).serial_number, "X")
        finally:
            if own:
                conn.close()

    def deploy(self, chain, key, **kw):
        chain_file, key_file = self.dir / "fullchain.pem", self.dir / "privkey.pem"
        chain_file.write_text(chain)
        key_file.write_text(key)
        kw = {"stats_socket": self.socket, "haproxy": HAPROXY, "reload": ("false",), **kw}
        return certdeploy.deploy(str(chain_file), str(key_file), FQDN, self.crt, self.config, **kw)

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)  # a worker left behind
        except ProcessLookupError:
            pass
        self.log.close()


@pytest.fixture(scope="module")
def ca():
    return Authority()


@pytest.fixture
def served(tmp_path, ca):
    started = []

    def start(master_worker=False):
        chain, key, leaf = ca.leaf()
        directory = tmp_path / f"h{len(started)}"
        directory.mkdir()
        started.append(Served(directory, chain, key, master_worker))
        return started[-1], leaf, key

    yield start
    for one in started:
        one.stop()


def request(conn):
    conn.sendall(f"GET / HTTP/1.1\r\nHost: {FQDN}\r\n\r\n".encode())
    return read_status(conn)


def read_status(conn):
    return recv_until(conn, b"ok").split(b"\r\n", 1)[0]


def served_files(one):
    return sorted(os.listdir(one.certs))


def test_the_runtime_api_swaps_the_certificate_in_the_same_process_without_dropping_a_connection(ca, served):
    one, leaf_a, key_a = served()
    assert one.serial() == format(leaf_a.serial_number, "X")
    pid = one.proc.pid
    open_conn = one.connect()
    assert request(open_conn) == b"HTTP/1.1 200 OK"

    for same_key in (False, True):
        key = serialization.load_pem_private_key(key_a.encode(), None) if same_key else None
        chain_b, key_b, leaf_b = ca.leaf(key=key)
        result = one.deploy(chain_b, key_b)
        assert result["method"] == "runtime-api", result
        assert result["serial"] == format(leaf_b.serial_number, "X")
        assert one.serial() == result["serial"]
        assert one.proc.poll() is None and one.proc.pid == pid
        with open(one.crt, encoding="utf-8") as fh:
            assert fh.read() == chain_b + key_b
        assert os.stat(one.crt).st_mode & 0o777 == 0o600
        assert served_files(one) == ["external.pem"]

    # The connection opened before both swaps still works, with the certificate it began with.
    assert request(open_conn) == b"HTTP/1.1 200 OK"
    assert one.serial(open_conn) == format(leaf_a.serial_number, "X")
    open_conn.close()


@pytest.mark.parametrize("bad", ["mismatched key", "corrupt", "other name", "expired"])
def test_a_refused_certificate_leaves_the_served_one(ca, served, bad):
    one, _, _ = served()
    chain_b, key_b, leaf_b = ca.leaf()
    one.deploy(chain_b, key_b)
    with open(one.crt, encoding="utf-8") as fh:
        live = fh.read()
    chain_c, key_c, _ = ca.leaf(**({"names": ("other.lab.home.arpa",)} if bad == "other name" else {}),
                                **({"not_after": cert_factory.NOW} if bad == "expired" else {}))
    if bad == "mismatched key":
        key_c = key_b
    if bad == "corrupt":
        chain_c = chain_c[:200] + "!!" + chain_c[202:]
    with pytest.raises(CommandExecutionError, match=r"^refused .*fullchain.pem: ") as exc:
        one.deploy(chain_c, key_c)
    assert "PRIVATE KEY" not in str(exc.value)
    assert one.serial() == format(leaf_b.serial_number, "X")
    with open(one.crt, encoding="utf-8") as fh:
        assert fh.read() == live
    assert served_files(one) == ["external.pem"]


def test_a_certificate_haproxy_c_refuses_is_not_installed(ca, served, tmp_path):
    one, leaf_a, _ = served()
    refusing = tmp_path / "haproxy-refuses"
    refusing.write_text("#!/bin/sh\necho '[ALERT] unable to load certificate' >&2\nexit 1\n")
    refusing.chmod(0o755)
    chain_b, key_b, _ = ca.leaf()
    with pytest.raises(CommandExecutionError, match="haproxy -c refused the new certificate: .*unable to load"):
        one.deploy(chain_b, key_b, haproxy=str(refusing))
    assert one.serial() == format(leaf_a.serial_number, "X")
    assert served_files(one) == ["external.pem"]


def test_without_the_runtime_api_a_graceful_reload_serves_it(ca, served):
    one, leaf_a, _ = served(master_worker=True)
    master = one.proc.pid
    open_conn = one.connect()
    assert request(open_conn) == b"HTTP/1.1 200 OK"
    open_conn.sendall(f"GET / HTTP/1.1\r\nHost: {FQDN}\r\n".encode())  # a request under way
    chain_b, key_b, leaf_b = ca.leaf()
    result = one.deploy(chain_b, key_b, stats_socket=str(one.dir / "no-such.sock"),
                        reload=("kill", "-USR2", str(master)))
    assert result["method"] == "reload" and "no-such.sock" in result["runtime_error"]
    want = format(leaf_b.serial_number, "X")
    deadline = time.time() + 10
    while one.serial() != want and time.time() < deadline:
        time.sleep(0.1)
    assert one.serial() == want
    assert one.proc.poll() is None and one.proc.pid == master
    # The old worker finishes the request under way (an idle keep-alive connection it closes).
    open_conn.sendall(b"\r\n")
    assert read_status(open_conn) == b"HTTP/1.1 200 OK"
    open_conn.close()


def test_a_failed_reload_fails_the_hook(ca, served):
    one, _, _ = served()
    chain_b, key_b, _ = ca.leaf()
    with pytest.raises(CommandExecutionError, match="false failed"):
        one.deploy(chain_b, key_b, stats_socket=str(one.dir / "no-such.sock"))


def test_clients_see_no_failure_across_repeated_swaps(ca, served):
    """A client opening a new connection and requesting every 20 ms while the certificate is
    swapped ten times: every request succeeds; the last swap's serial is served."""
    one, _, _ = served()
    failures, done, seen = [], threading.Event(), set()

    def client():
        while not done.is_set():
            try:
                conn = one.connect()
                seen.add(one.serial(conn))
                if request(conn) != b"HTTP/1.1 200 OK":
                    failures.append("bad reply")
                conn.close()
            except OSError as exc:
                failures.append(str(exc))
            time.sleep(0.02)

    thread = threading.Thread(target=client, daemon=True)
    thread.start()
    try:
        for _ in range(10):
            chain, key, leaf = ca.leaf()
            assert one.deploy(chain, key)["method"] == "runtime-api"
            time.sleep(0.1)
    finally:
        done.set()
        thread.join(timeout=10)
    assert failures == []
    assert one.serial() == format(leaf.serial_number, "X")
    assert len(seen) >= 5


def test_the_hook_script_runs_the_deploy_through_salt_call(ca, served, tmp_path):
    """certbot's way: the rendered hook with RENEWED_LINEAGE, salt-call (the venv's, masterless
    against the checkout) loading brine_cert and brinelib; then a refused certificate fails it."""
    one, _, _ = served()
    salt = SaltCall(tmp_path / "salt")
    wrapper = tmp_path / "salt-call"
    wrapper.write_text(f"#!/bin/sh\nexec {shlex.join(salt.command())} \"$@\"\n")
    wrapper.chmod(0o755)
    hook = tmp_path / "brine-cert-deploy"
    hook.write_text(render_file(HOOK_TEMPLATE, salt_call=str(wrapper), fqdn=FQDN, crt=one.crt, config=one.config,
                                stats_socket=one.socket))
    hook.chmod(0o755)
    lineage = tmp_path / "live"
    lineage.mkdir()

    def run_hook(chain, key):
        (lineage / "fullchain.pem").write_text(chain)
        (lineage / "privkey.pem").write_text(key)
        return subprocess.run([str(hook)], env={**os.environ, "RENEWED_LINEAGE": str(lineage)}, cwd=REPO,
                              capture_output=True, text=True, timeout=300)

    chain_b, key_b, leaf_b = ca.leaf()
    proc = run_hook(chain_b, key_b)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert json.loads(proc.stdout)["local"]["method"] == "runtime-api"
    assert one.serial() == format(leaf_b.serial_number, "X")

    chain_c, _, _ = ca.leaf()
    proc = run_hook(chain_c, key_b)
    assert proc.returncode != 0
    assert "private key: does not match the leaf certificate" in proc.stdout + proc.stderr
    assert "PRIVATE KEY-----" not in proc.stdout + proc.stderr
    assert one.serial() == format(leaf_b.serial_number, "X")


# ------------------------------------------------------------------ another controller (haproxy.cert_sync)


def combined(ca, **leaf):
    chain, key, cert = ca.leaf(**leaf)
    return chain + key, format(cert.serial_number, "X")


def test_cert_sync_installs_the_runners_pem_once_and_refuses_a_corrupt_one(ca, served):
    """certdeploy.sync, what brine_cert.synced runs: a combined PEM (the runner's pushed file)
    installed through the hook's checks and served; a second run has nothing to do; a corrupt
    PEM is refused and the served certificate stays; no staged file is left behind."""
    one, leaf_a, _ = served()
    where = {"config": one.config, "stats_socket": one.socket, "haproxy": HAPROXY, "reload": ("false",)}
    pem, serial = combined(ca)
    old = format(leaf_a.serial_number, "X")
    assert certdeploy.sync(pem, FQDN, one.crt, test=True, **where) == {"install": True, "serial": serial,
                                                                       "previous": old}
    assert one.serial() == old  # test mode changed nothing

    done = certdeploy.sync(pem, FQDN, one.crt, **where)
    assert done == {"install": True, "serial": serial, "previous": old, "method": "runtime-api"}
    assert one.serial() == serial
    assert certdeploy.sync(pem, FQDN, one.crt, **where) == {"install": False, "serial": serial, "previous": serial}
    assert served_files(one) == ["external.pem"] and os.stat(one.crt).st_mode & 0o777 == 0o600

    other_chain = combined(ca)[0].split("-----BEGIN PRIVATE KEY-----")[0]
    for corrupt in (pem[:200] + "!!" + pem[202:],  # the leaf does not parse
                    other_chain,  # no key
                    other_chain + pem.split("-----END CERTIFICATE-----")[-1].lstrip()):  # another certificate's key
        with pytest.raises(CommandExecutionError, match="refused") as exc:
            certdeploy.sync(corrupt, FQDN, one.crt, **where)
        assert "PRIVATE KEY" not in str(exc.value)
        assert one.serial() == serial
        assert served_files(one) == ["external.pem"]
    with open(one.crt, encoding="utf-8") as fh:
        assert certs_serial(fh.read()) == serial


def certs_serial(text):
    from brinelib import certs

    return certs.leaf_info(text).serial


def test_the_cert_sync_state_through_salt_call(ca, served, tmp_path):
    """brine_cert.synced as haproxy.cert_sync applies it (salt-call, the checkout's modules, the
    PEM in pillar): test=True says what it would install, the run installs it, the second run
    changes nothing, a corrupt PEM fails the state and the old serial keeps serving."""
    one, leaf_a, _ = served()
    salt = SaltCall(tmp_path / "salt")
    fqdn = "cloud.lab.home.arpa"  # the example inventory's external VIP
    pem, serial = combined(ca, names=(fqdn,))
    old = format(leaf_a.serial_number, "X")
    high = {"haproxy-cert-sync": {"brine_cert": [{"name": one.crt}, {"config": one.config},
                                                 {"stats_socket": one.socket}, {"haproxy": HAPROXY}, "synced"]}}
    args = ["state.high", json.dumps(high)]

    def apply(pem_text, *extra):
        pillar = {"brine": {"acme": {"enabled": True}}, "brine_cert": {"pem": pem_text}}
        out, proc = salt(*args, *extra, "pillar=" + json.dumps(pillar))
        assert "PRIVATE KEY" not in proc.stdout + proc.stderr
        (ret,) = out.values()
        return ret

    ret = apply(pem, "test=True")
    assert ret["result"] is None and ret["changes"] == {"serial": {"old": old, "new": serial}}, ret
    assert one.serial() == old
    ret = apply(pem)
    assert ret["result"] is True and ret["changes"] == {"serial": {"old": old, "new": serial}}, ret
    assert one.serial() == serial
    ret = apply(pem)
    assert ret["result"] is True and ret["changes"] == {}, ret
    corrupt, _ = combined(ca, names=(fqdn,))
    ret = apply(corrupt[:300] + "!!" + corrupt[302:])
    assert ret["result"] is False and ret["changes"] == {} and "refused" in ret["comment"], ret
    assert one.serial() == serial
