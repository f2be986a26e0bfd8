"""
The external endpoint's certificate from an ACME CA, end to end on 127.0.0.1 (loopback only;
docs/acme.md): Debian's pebble (the lab's CA, its DNS a pebble-challtestsrv stub that answers
127.0.0.1) validates http-01 for the FQDN through a real HAProxy, whose port-80 frontend
(brinelib.acme.haproxy_acme_lines) routes the challenge path to certbot's standalone server and
redirects everything else to https. HAProxy starts on the self-signed placeholder; certbot's
deploy hook (the rendered brine-cert-deploy, through the venv's salt-call) installs the ACME
certificate; then forced renewals while a client makes https requests at >= 20/s: no failed
request, each renewal's serial served at once; a corrupt certificate is refused by the hook and
the old one keeps serving.
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

from brine_testlib import REPO, SaltCall, free_port, recv_until, render_file
from brinelib import acme, certs
from cert_factory import HAPROXY_TLS_CONFIG

FQDN = "cloud.lab.home.arpa"
HAPROXY = shutil.which("haproxy")
RENEWALS = 10
CLIENTS = 4
HOOK_TEMPLATE = REPO / "salt" / "haproxy" / "files" / "brine-cert-deploy.jinja"

pytestmark = pytest.mark.skipif(not (HAPROXY and shutil.which("pebble") and shutil.which("certbot")),
                                reason="haproxy, pebble and certbot are installed by scripts/setup-env.sh")


class Daemons:
    """Processes in their own process groups, stopped with their groups afterwards."""

    def __init__(self, directory):
        self.dir, self.procs = directory, []

    def start(self, name, argv, env=None):
        log = open(self.dir / f"{name}.log", "wb")
        proc = subprocess.Popen(argv, stdout=log, stderr=log, env=env, start_new_session=True)
        self.procs.append((proc, log))
        return proc

    def stop(self):
        for proc, log in self.procs:
            for sig in (signal.SIGTERM, signal.SIGKILL):
                try:
                    os.killpg(proc.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    proc.wait(timeout=5)
                    break
                except subprocess.TimeoutExpired:
                    pass
            log.close()


def wait_listening(port, proc, log, timeout=15):
    deadline = time.time() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if proc.poll() is not None or time.time() > deadline:
                raise RuntimeError(log.read_text(errors="replace"))
            time.sleep(0.05)


def served_serial(port):
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with context.wrap_socket(raw, server_hostname=FQDN) as conn:
            serial = format(x509.load_der_x509_certificate(conn.getpeercert(binary_form=True)).serial_number, "X")
            conn.sendall(f"GET / HTTP/1.1\r\nHost: {FQDN}\r\nConnection: close\r\n\r\n".encode())
            status = recv_until(conn, b"ok").split(b"\r\n", 1)[0]
    return serial, status


def http_get(port, path):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(f"GET {path} HTTP/1.1\r\nHost: {FQDN}\r\nConnection: close\r\n\r\n".encode())
        return recv_until(conn, b"\r\n\r\n").decode(errors="replace")


@pytest.fixture
def lab(tmp_path):
    """pebble + its DNS stub + HAProxy (on the placeholder) + the rendered hook; yields a dict."""
    daemons = Daemons(tmp_path)
    ports = {name: free_port() for name in ("api", "mgmt", "dns", "dns_mgmt", "http", "https", "certbot")}
    pebble_crt, pebble_key = acme.self_signed(["localhost"])
    (tmp_path / "pebble.crt").write_text(pebble_crt)
    (tmp_path / "pebble.key").write_text(pebble_key)
    (tmp_path / "pebble.json").write_text(json.dumps(acme.pebble_config(
        f"127.0.0.1:{ports['api']}", f"127.0.0.1:{ports['mgmt']}", ports["http"],
        str(tmp_path / "pebble.crt"), str(tmp_path / "pebble.key"))))
    try:
        daemons.start("dns", ["pebble-challtestsrv", "-dns01", f"127.0.0.1:{ports['dns']}", "-http01", "",
                                    "-https01", "", "-tlsalpn01", "", "-defaultIPv6", "",
                                    "-management", f"127.0.0.1:{ports['dns_mgmt']}"])
        pebble = daemons.start("pebble", ["pebble", "-strict=false", "-config", str(tmp_path / "pebble.json"),
                                          "-dnsserver", f"127.0.0.1:{ports['dns']}"],
                               env={**os.environ, **acme.PEBBLE_ENV})
        crt_dir = tmp_path / "certs"
        crt_dir.mkdir(mode=0o700)
        crt = crt_dir / "external.pem"
        placeholder = "".join(acme.self_signed([FQDN]))
        crt.write_text(placeholder)
        crt.chmod(0o600)
        config = tmp_path / "haproxy.cfg"
        route = acme.haproxy_acme_lines("127.0.0.1", [("ctl1", "127.0.0.1", ports["certbot"])], ports["http"])
        config.write_text(HAPROXY_TLS_CONFIG.format(dir=tmp_path, port=ports["https"], crt=crt) + "\n".join(route) + "\n")
        check = subprocess.run([HAPROXY, "-c", "-q", "-f", str(config)], capture_output=True, text=True)
        assert check.returncode == 0, check.stdout + check.stderr
        haproxy = daemons.start("haproxy", [HAPROXY, "-db", "-f", str(config)])
        wait_listening(ports["https"], haproxy, tmp_path / "haproxy.log")
        wait_listening(ports["api"], pebble, tmp_path / "pebble.log")

        salt = SaltCall(tmp_path / "salt")
        salt_call = tmp_path / "salt-call"
        salt_call.write_text(f"#!/bin/sh\nexec {shlex.join(salt.command())} \"$@\"\n")
        salt_call.chmod(0o755)
        hook = tmp_path / "brine-cert-deploy"
        hook.write_text(render_file(HOOK_TEMPLATE, salt_call=str(salt_call), fqdn=FQDN, crt=str(crt),
                                    config=str(config), stats_socket=str(tmp_path / "admin.sock")))
        hook.chmod(0o755)
        settings = {**acme.DEFAULTS, "directory": f"https://localhost:{ports['api']}/dir",
                    "http_port": ports["certbot"], "ca_bundle": str(tmp_path / "pebble.crt"),
                    "hook": str(hook), "runner": "ctl1", "fqdn": FQDN}
        dirs = tuple(str(tmp_path / "letsencrypt" / sub) for sub in ("config", "work", "logs"))
        yield {"dir": tmp_path, "ports": ports, "crt": crt, "settings": settings, "dirs": dirs, "hook": hook,
               "placeholder": certs.leaf_info(placeholder).serial}
    finally:
        daemons.stop()


def certbot(lab, argv):
    proc = subprocess.run(argv, env=acme.certbot_env(lab["settings"], {**os.environ, "PYTHONPATH": ""}),
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    return proc


def lineage_serial(lab):
    chain = (lab["dir"] / "letsencrypt" / "config" / "live" / FQDN / "fullchain.pem").read_text()
    return certs.leaf_info(chain).serial


def test_the_acme_certificate_replaces_the_placeholder_and_renewals_never_fail_a_client(lab):
    https = lab["ports"]["https"]
    assert served_serial(https) == (lab["placeholder"], b"HTTP/1.1 200 OK")
    redirect = http_get(lab["ports"]["http"], "/v3/auth/tokens")
    assert redirect.startswith("HTTP/1.1 301") and f"location: https://{FQDN}/v3/auth/tokens" in redirect.lower()

    started = time.time()
    certbot(lab, acme.certbot_certonly(lab["settings"], "127.0.0.1", dirs=lab["dirs"]))
    first = lineage_serial(lab)
    assert served_serial(https)[0] == first != lab["placeholder"]
    assert os.stat(lab["crt"]).st_mode & 0o777 == 0o600
    print(f"\nfirst certificate: {time.time() - started:.1f} s")

    failures, done, requests = [], threading.Event(), []

    def client():
        while not done.is_set():
            began = time.time()
            try:
                serial, status = served_serial(https)
                requests.append(serial)
                if status != b"HTTP/1.1 200 OK":
                    failures.append(status)
            except OSError as exc:
                failures.append(str(exc))
            time.sleep(max(0.0, 0.05 - (time.time() - began)))

    # Several clients, each opening a new TLS connection per request (a handshake each: the
    # certificate served at that moment).
    threads = [threading.Thread(target=client, daemon=True) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    serials, lags, began = [first], [], time.time()
    try:
        for _ in range(RENEWALS):
            certbot(lab, acme.certbot_renew(lab["settings"], dirs=lab["dirs"], force=True))
            serials.append(lineage_serial(lab))
            renewed = time.time()
            while served_serial(https)[0] != serials[-1] and time.time() - renewed < 60:
                time.sleep(0.05)
            lags.append(time.time() - renewed)
            assert served_serial(https)[0] == serials[-1]
    finally:
        done.set()
        for thread in threads:
            thread.join(timeout=10)
    elapsed = time.time() - began
    print(f"{RENEWALS} renewals in {elapsed:.1f} s, {len(requests)} requests ({len(requests) / elapsed:.1f}/s), "
          f"longest wait for the new serial {max(lags):.2f} s")
    assert failures == []
    assert len(set(serials)) == RENEWALS + 1
    # The clients offer CLIENTS / 0.05 s requests a second; what they got is printed above (a
    # rate depends on the machine's load: a figure, not an assertion).

    # A corrupt certificate: the hook refuses it, the served one stays.
    broken = lab["dir"] / "broken"
    broken.mkdir()
    live = lab["dir"] / "letsencrypt" / "config" / "live" / FQDN
    chain = (live / "fullchain.pem").read_text()
    (broken / "fullchain.pem").write_text(chain[:200] + "!!" + chain[202:])
    shutil.copy(live / "privkey.pem", broken / "privkey.pem")
    proc = subprocess.run([str(lab["hook"])], env={**os.environ, "RENEWED_LINEAGE": str(broken)}, cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert "refused" in proc.stdout + proc.stderr and "PRIVATE KEY-----" not in proc.stdout + proc.stderr
    assert served_serial(https)[0] == serials[-1]
