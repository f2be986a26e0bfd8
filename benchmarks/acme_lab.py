"""
The external VIP's ACME certificate in the virtual lab, for tests/lab/test_lab_acme.py and
benchmarks/acme_renewal.py: the serial each controller's HAProxy serves (its runtime API), the
ACME runner's lineage serial, a forced renewal on the runner (certbot as its timer runs it, the
deploy hook included), and the wait until every controller serves a serial.
"""

import shlex
import time

from brinelib import acme
from brinelib.names import controllers

# HAProxy's runtime API on a controller (salt/haproxy/defaults.yaml: stats_socket).
STATS_SOCKET = "/run/haproxy/admin.sock"


def settings(inventory):
    """The inventory's resolved ACME settings (runner, FQDN, crt, CA bundle, ...)."""
    return acme.resolve(inventory)


def served_serial(lab, host, crt):
    """The serial (int) of the certificate ``host``'s HAProxy serves as ``crt``, or None."""
    code = ("import socket\n"
            "s = socket.socket(socket.AF_UNIX)\n"
            f"s.connect({STATS_SOCKET!r})\n"
            f"s.sendall(b'show ssl cert {crt}\\n')\n"
            "out = b''\n"
            "while True:\n"
            "    part = s.recv(65536)\n"
            "    if not part:\n"
            "        break\n"
            "    out += part\n"
            "print(out.decode(errors='replace'))\n")
    result = lab.exec(host, f"/usr/bin/python3 -c {shlex.quote(code)}", timeout=30)
    for line in result.output.splitlines():
        if line.startswith("Serial:"):
            return int(line.split(":", 1)[1].strip(), 16)
    return None


def lineage_serial(lab, inventory):
    """The serial (int) of the certificate in the ACME runner's certbot lineage."""
    s = settings(inventory)
    cert = f"{s['config_dir']}/live/{s['fqdn']}/cert.pem"
    out = lab.exec(s["runner"], f"openssl x509 -noout -serial -in {shlex.quote(cert)}", timeout=30).check().output
    return int(out.strip().split("=", 1)[1], 16)


def force_renewal(lab, inventory):
    """``certbot renew --force-renewal`` on the ACME runner (its deploy hook installs the new
    certificate there and hands it on); returns the new lineage serial."""
    s = settings(inventory)
    env = " ".join(f"{k}={shlex.quote(v)}" for k, v in acme.certbot_env(s, {}).items())
    argv = " ".join(shlex.quote(a) for a in acme.certbot_renew(s, force=True))
    lab.exec(s["runner"], f"{env} {argv}", timeout=300).check()
    return lineage_serial(lab, inventory)


def wait_served(lab, inventory, serial, timeout=180):
    """Seconds until every controller's HAProxy serves ``serial``; ``(seconds, {host: serial})``
    (the last look) after ``timeout`` without it."""
    crt = settings(inventory)["crt"]
    hosts = controllers(inventory)
    started = time.monotonic()
    while True:
        seen = {host: served_serial(lab, host, crt) for host in hosts}
        if all(value == serial for value in seen.values()):
            return time.monotonic() - started, seen
        if time.monotonic() - started > timeout:
            return None, seen
        time.sleep(1)
