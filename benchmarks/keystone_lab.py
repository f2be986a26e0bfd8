"""
Keystone in the virtual lab, for tests/lab/test_lab_keystone.py and benchmarks/keystone_failover.py:
the URLs, the benchmarks' own Keystone account, the probes (benchmarks/probes/keystone_*.py) run
in a guest, the controllers' key digests, and what a second orchestration changed.

The account (user and project ``brine-bench``, role ``member`` on the project) is made through a
controller's own Keystone with an admin token issued inside that guest: ``salt-call
brine_secrets.get keystone_admin_password`` pipes the admin password straight into the probe's
stdin, so it never leaves the guest nor reaches a command line. The account's password is
generated here and goes to a root-only file in the guests that need it, as the other benchmarks'
accounts do; ``delete_account`` removes the account and the files.
"""

import json
import secrets
import shlex

from brinelib import keystone
from brinelib.names import controllers
from controllers import CLIENT, run_holding_secret, send_probe

ACCOUNT_FILE = "/root/brine-bench-keystone"
BENCH_NAME = "brine-bench"  # the user and the project
BENCH_ROLE = "member"  # made by keystone-manage bootstrap
HTTP = "keystone_http.py"
# pebble's root (new at every pebble start) on the bootstrap host, for clients of the external VIP.
PEBBLE_ROOT = "/root/pebble-root.pem"
CLIENT_PROBE = "keystone_client.py"
ADMIN_PROBE = "keystone_admin.py"
SALT_CALL_ERRORS = "/root/keystone_admin.salt-call.err"


def base_urls(inventory):
    """``{"vip": internal VIP URL, controller: its management address URL, ...}`` (Keystone's port)."""
    port = keystone.checked()["port"]
    urls = {"vip": f"http://{inventory['vips']['internal']['address']}:{port}"}
    for name in controllers(inventory):
        urls[name] = f"http://{inventory['hosts'][name]['networks']['management']['address']}:{port}"
    return urls


def external_url(inventory):
    """Keystone's public URL base: the external VIP's FQDN over https (the inventory's acme:enabled)."""
    return f"https://{inventory['vips']['external']['fqdn']}:{keystone.checked()['port']}"


def fetch_pebble_root(lab, host=CLIENT):
    """Write pebble's current root certificate to :data:`PEBBLE_ROOT` on ``host``, the bootstrap
    host, where pebble's management API listens on loopback (its TLS certificate names the host,
    not 127.0.0.1: verified against the certificate, not the name). Returns the path."""
    code = ("import http.client, ssl\n"
            "ctx = ssl.create_default_context(cafile='/etc/brine/pebble/cert.pem')\n"
            "ctx.check_hostname = False\n"
            "conn = http.client.HTTPSConnection('127.0.0.1', 15000, context=ctx, timeout=10)\n"
            "conn.request('GET', '/roots/0')\n"
            "answer = conn.getresponse()\n"
            "assert answer.status == 200, answer.status\n"
            f"open({PEBBLE_ROOT!r}, 'wb').write(answer.read())\n")
    result = lab.exec(host, f"/usr/bin/python3 -c {shlex.quote(code)}", timeout=60)
    if not result.ok:
        raise RuntimeError(f"{host}: pebble's root could not be fetched: {result.output[-500:]}")
    return PEBBLE_ROOT


def send_probes(lab, host, *names):
    for name in (HTTP, *names):
        send_probe(lab, host, name)


def probe_json(output):
    """The JSON line a probe printed (``JSON:...``), or None."""
    for line in reversed(output.splitlines()):
        if line.startswith("JSON:"):
            return json.loads(line[5:])
    return None


def run_client(lab, *args, timeout=600, ca_file=None):
    """keystone_client.py run to its end on the bootstrap host: its JSON. (It prints only at
    the end, after up to 30 s per request a controller leaves unanswered.) ``ca_file``: the
    only CA it trusts for https."""
    argv = " ".join(shlex.quote(str(a)) for a in args)
    env = f"SSL_CERT_FILE={shlex.quote(ca_file)} " if ca_file else ""
    result = lab.exec(CLIENT, f"{env}/usr/bin/python3 /root/{CLIENT_PROBE} {argv}", timeout=timeout)
    answer = probe_json(result.output)
    if answer is None:
        raise RuntimeError(f"{CLIENT}: {CLIENT_PROBE} {args[0]} printed no result (rc={result.returncode}): "
                           f"{result.output[-500:]}")
    return answer


def _write_account(lab, host, password):
    run_holding_secret(lab, host, f"umask 077; printf '%s\\n%s\\n%s\\n' {BENCH_NAME} {shlex.quote(password)} "
                                  f"{BENCH_NAME} > {ACCOUNT_FILE}", "writing the benchmark's Keystone account file")


def _admin(lab, host, inventory, verb, password):
    """keystone_admin.py VERB on ``host`` with the admin password from salt-call on its stdin."""
    admin = keystone.checked()["admin"]
    send_probes(lab, host, ADMIN_PROBE)
    _write_account(lab, host, password)
    argv = shlex.join([verb, base_urls(inventory)[host], admin["user"], admin["project"], ACCOUNT_FILE, BENCH_ROLE])
    result = lab.exec(host, "salt-call --out=json brine_secrets.get keystone_admin_password "
                            f"2>{SALT_CALL_ERRORS} | /usr/bin/python3 /root/{ADMIN_PROBE} {argv}; "
                            f"rc=$?; rm -f {ACCOUNT_FILE}; exit $rc", timeout=180)
    answer = probe_json(result.output)
    said = lab.exec(host, f"tail -c 500 {SALT_CALL_ERRORS}; rm -f {SALT_CALL_ERRORS}").output
    if not result.ok or answer is None or "error" in answer:
        raise RuntimeError(f"{host}: the benchmark's Keystone account, {verb}: {answer or result.output[-500:]}; "
                           f"salt-call said: {said}")
    return answer


def make_account(lab, inventory, host):
    """The benchmarks' Keystone account, made (or its password set anew) through ``host``'s
    Keystone; its file on the bootstrap host. Returns its password (for ``delete_account``)."""
    password = secrets.token_urlsafe(18)
    _admin(lab, host, inventory, "create", password)
    _write_account(lab, CLIENT, password)
    return password


def delete_account(lab, inventory, host, password):
    """The account deleted through ``host``'s Keystone; its file on the bootstrap host removed."""
    try:
        return _admin(lab, host, inventory, "delete", password)
    finally:
        lab.exec(CLIENT, f"rm -f {ACCOUNT_FILE}")


def key_digests(lab):
    """``{kind: {controller: digest or None}}`` from ``salt-run brine_keystone.status``."""
    status = lab.salt_run("brine_keystone.status", timeout=300)
    return {kind: {node: report.get("digest") for node, report in entry["nodes"].items()}
            for kind, entry in status.items()}


def digests_equal(digests):
    """Every kind's digests are one and the same, and known, on every controller."""
    return all(None not in nodes.values() and len(set(nodes.values())) == 1 for nodes in digests.values())


def _runner_changed(changes):
    """A ``salt.runner`` step always reports the runner's return as its changes: for
    ``brine_keystone.sync_keys`` only an action other than ``in sync`` or a key added or removed
    is a change."""
    summary = changes.get("return")
    if not isinstance(summary, dict) or not summary:
        return bool(changes)
    for result in summary.values():
        if not isinstance(result, dict) or result.get("action") != "in sync":
            return True
        if any(node.get("added") or node.get("removed") for node in (result.get("nodes") or {}).values()):
            return True
    return False


def orchestration_steps(out):
    """``{state key: step}`` of ``salt-run state.orchestrate ... --out=json``, None when it
    returned no state results."""
    data = out.get("data", out) if isinstance(out, dict) else out
    steps = next(iter(data.values()), None) if isinstance(data, dict) and data else None
    return steps if isinstance(steps, dict) else None


def orchestration_changes(out):
    """The ids of the steps of ``salt-run state.orchestrate ... --out=json`` that changed
    something (or failed), in order; [] when nothing changed."""
    steps = orchestration_steps(out)
    if steps is None:
        return [f"no state results: {str(out)[:300]}"]
    changed = []
    ordered = sorted((s.get("__run_num__", 0), key, s) for key, s in steps.items() if isinstance(s, dict))
    for _, key, step in ordered:
        changes = step.get("changes") or {}
        # State keys are "<module>_|-<id>_|-<name>_|-<function>": salt.runner steps end in "runner".
        runner = key.startswith("salt_|-") and key.endswith("_|-runner")
        if step.get("result") is not True or (_runner_changed(changes) if runner else bool(changes)):
            changed.append(step.get("__id__") or key)
    return changed
