"""
Installing a renewed certificate into a running HAProxy (docs/loadbalancer.md), what certbot's
deploy hook runs: check the chain and key (:mod:`brinelib.certs`), stage the combined PEM beside
the live one (0600 root), have ``haproxy -c`` load a copy of the configuration that points at the
staged file, rename it over the live file, then swap it in the running HAProxy through the
runtime API (no reload, no connection touched); when that fails, a graceful reload. A refused
certificate changes nothing: the old one keeps serving. Nothing logged or raised holds key material.
"""

import logging
import os
import shutil
import socket
import tempfile

from brinelib import acme, certs, certsync
from brinelib.commands import run
from brinelib.errors import CommandExecutionError
from brinelib.stores import private_file

log = logging.getLogger(__name__)

RELOAD = ("systemctl", "reload", "haproxy")


def lineage_files(lineage):
    """certbot's ``RENEWED_LINEAGE`` directory -> (chain file, key file) it holds."""
    return os.path.join(lineage, "fullchain.pem"), os.path.join(lineage, "privkey.pem")


def _read(path, what):
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise CommandExecutionError(f"{what} {path}: {exc.strerror if isinstance(exc, OSError) else 'not text'}") from None


def runtime_command(sock_path, command, timeout=10):
    """Send one command to HAProxy's stats socket (non-interactive: one command, then HAProxy
    closes) and return its reply."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.settimeout(timeout)
        conn.connect(sock_path)
        conn.sendall(command.encode())
        chunks = []
        while True:
            chunk = conn.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks).decode(errors="replace")


def swap_runtime(sock_path, crt_path, combined):
    """Swap the certificate HAProxy loaded from ``crt_path`` for ``combined`` through the runtime
    API; returns None on success, else why it failed (the transaction is aborted)."""
    try:
        reply = runtime_command(sock_path, certs.set_command(crt_path, combined))
        failed = None if certs.set_succeeded(reply) else "set ssl cert"
        if not failed:
            reply = runtime_command(sock_path, certs.commit_command(crt_path))
            failed = None if certs.commit_succeeded(reply) else "commit ssl cert"
        if failed:
            runtime_command(sock_path, certs.abort_command(crt_path))
            return f"{failed}: {' '.join(reply.split())[:200] or 'no reply'}"
    except OSError as exc:
        return f"stats socket {sock_path}: {exc.strerror or exc}"
    return None


def check_staged(haproxy, config, crt_path, staged):
    """``haproxy -c`` on a copy of ``config`` whose ``crt crt_path`` is ``staged``; raises
    :class:`CommandExecutionError` with HAProxy's complaint when it refuses."""
    text = certs.staged_config(_read(config, "haproxy configuration"), crt_path, staged)
    copy = private_file(os.path.dirname(staged), ".brine-haproxy-check.", text.encode("utf-8"))
    try:
        proc = run([haproxy, "-c", "-q", "-f", copy], check=False)
    finally:
        os.unlink(copy)
    if proc.returncode != 0:
        said = " ".join((proc.stderr.strip() or proc.stdout.strip()).split())[:400]
        raise CommandExecutionError(f"haproxy -c refused the new certificate: {said}")


def deploy(chain_file, key_file, fqdn, crt_path, config, stats_socket, haproxy="haproxy", reload=RELOAD, now=None):
    """
    Install the certificate of ``chain_file`` (leaf first) and ``key_file`` for ``fqdn`` as
    ``crt_path`` (the file HAProxy's ``crt`` names in ``config``) and make the running HAProxy
    serve it. Returns ``{"serial", "fingerprint", "method"}``; ``method`` is ``runtime-api`` or
    ``reload`` (the runtime API failed; ``runtime_error`` says why). Raises
    :class:`CommandExecutionError` when the certificate is refused (the live file and the running
    HAProxy unchanged) or neither the runtime API nor the reload worked.
    """
    chain_pem, key_pem = _read(chain_file, "certificate chain"), _read(key_file, "private key")
    try:
        leaf = certs.check(chain_pem, key_pem, fqdn, now=now)
        combined = certs.combined_pem(chain_pem, key_pem)
    except certs.CertProblem as exc:
        raise CommandExecutionError(f"refused {chain_file}: {exc}") from None
    staged = private_file(os.path.dirname(os.path.abspath(crt_path)), "." + os.path.basename(crt_path) + ".",
                          combined.encode("utf-8"))
    try:
        try:
            check_staged(haproxy, config, crt_path, staged)
        except certs.CertProblem as exc:
            raise CommandExecutionError(str(exc)) from None
        os.replace(staged, crt_path)
    except BaseException:
        if os.path.exists(staged):
            os.unlink(staged)
        raise
    result = {"serial": leaf.serial, "fingerprint": leaf.fingerprint, "method": "runtime-api"}
    failed = swap_runtime(stats_socket, crt_path, combined)
    if failed:
        log.warning("brine cert deploy: runtime API failed (%s); reloading HAProxy", failed)
        run(list(reload))
        result.update(method="reload", runtime_error=failed)
    log.info("brine cert deploy: %s serves serial %s (%s) via %s", crt_path, leaf.serial, fqdn, result["method"])
    return result


def install_pem(combined, fqdn, crt_path, config, stats_socket, haproxy="haproxy", reload=RELOAD, now=None):
    """:func:`deploy` for a combined PEM text (leaf, chain, key; what the runner's hook installed
    and the master hands the other controllers): its chain and key are split into files of a
    0700 temporary directory beside ``crt_path`` for the same checks and install, then removed."""
    try:
        chain_pem, key_pem = certs.split_combined(combined)
    except certs.CertProblem as exc:
        raise CommandExecutionError(f"refused the certificate to install: {exc}") from None
    directory = tempfile.mkdtemp(prefix=".brine-cert-", dir=os.path.dirname(os.path.abspath(crt_path)))
    try:
        chain_file, key_file = os.path.join(directory, "fullchain.pem"), os.path.join(directory, "privkey.pem")
        for path, text in ((chain_file, chain_pem), (key_file, key_pem)):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
        return deploy(chain_file, key_file, fqdn, crt_path, config, stats_socket, haproxy=haproxy, reload=reload,
                      now=now)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def sync(combined, fqdn, crt_path, config, stats_socket, haproxy="haproxy", reload=RELOAD, test=False, now=None):
    """
    Make ``crt_path`` hold, and the running HAProxy serve, the combined PEM ``combined`` unless
    it holds that serial already (:func:`brinelib.certsync.plan`). Returns the plan
    (``install``, ``serial``, ``previous``), with ``test`` only what would be done, else with
    the :func:`install_pem` result's ``method`` when it installed. A refused certificate raises
    :class:`CommandExecutionError` and leaves the served one in place.
    """
    try:
        wanted = certsync.plan(combined, _current(crt_path))
    except certs.CertProblem as exc:
        raise CommandExecutionError(f"refused the certificate to install: {exc}") from None
    if not wanted["install"] or test:
        return wanted
    done = install_pem(combined, fqdn, crt_path, config, stats_socket, haproxy=haproxy, reload=reload, now=now)
    return dict(wanted, serial=done["serial"], method=done["method"])


def _current(crt_path):
    try:
        return _read(crt_path, "certificate")
    except CommandExecutionError:
        return None


def placeholder(crt_path, fqdn):
    """HAProxy's certificate before the first ACME one: when ``crt_path`` does not exist, a
    self-signed certificate for ``fqdn`` and its key, written 0600 root (the directory 0700),
    so that ``haproxy -c`` passes and HAProxy starts. Never replaces a file. Returns whether it
    wrote one."""
    if os.path.exists(crt_path):
        return False
    directory = os.path.dirname(os.path.abspath(crt_path))
    os.makedirs(directory, mode=0o700, exist_ok=True)
    staged = private_file(directory, "." + os.path.basename(crt_path) + ".", "".join(acme.self_signed([fqdn])).encode())
    try:
        os.link(staged, crt_path)  # fails when a certificate arrived meanwhile: keep that one
    except FileExistsError:
        return False
    finally:
        os.unlink(staged)
    log.info("brine cert: placeholder for %s in %s", fqdn, crt_path)
    return True


def pebble_tls(files, names, addresses):
    """pebble's own TLS certificate (0644, the lab's CA bundle) and key (0600 root), self-signed
    for DNS ``names`` and IP ``addresses``, written once (both files, or neither, exist after);
    returns whether it wrote them."""
    if os.path.exists(files["certificate"]) and os.path.exists(files["key"]):
        return False
    directory = os.path.dirname(files["key"])
    os.makedirs(directory, mode=0o755, exist_ok=True)
    cert_pem, key_pem = acme.self_signed(list(names), addresses=list(addresses))
    key = private_file(directory, ".key.", key_pem.encode())
    cert = private_file(directory, ".cert.", cert_pem.encode())
    os.chmod(cert, 0o644)
    os.replace(key, files["key"])
    os.replace(cert, files["certificate"])
    return True
