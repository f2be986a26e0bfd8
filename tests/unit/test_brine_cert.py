"""brine_cert (the adapter) and certbot's deploy hook script: what reaches brinelib.certdeploy,
and the salt-call the hook runs for certbot (RENEWED_LINEAGE) and by hand (two paths)."""

import json
import shlex
import subprocess
import sys

import pytest
from brine_testlib import REPO, load_extension, render_file

from brinelib.errors import CommandExecutionError

HOOK_TEMPLATE = REPO / "salt" / "haproxy" / "files" / "brine-cert-deploy.jinja"
LB_DEFAULTS = {"haproxy": {"config": "/etc/haproxy/haproxy.cfg", "stats_socket": "/run/haproxy/admin.sock",
                           "binary": "/usr/sbin/haproxy"}}


@pytest.fixture
def module(monkeypatch):
    mod = load_extension("modules", "brine_cert")
    mod.__salt__ = {"brine_lb.defaults": lambda: LB_DEFAULTS}
    calls = []
    monkeypatch.setattr(mod.certdeploy, "deploy", lambda *args, **kw: calls.append((args, kw)) or {"method": "x"})
    return mod, calls


def test_a_lineage_names_certbots_files_and_the_settings_fill_the_rest(module):
    mod, calls = module
    assert mod.deploy("ext.example", "/etc/haproxy/certs/ext.pem", lineage="/etc/letsencrypt/live/ext") == {"method": "x"}
    assert calls == [(("/etc/letsencrypt/live/ext/fullchain.pem", "/etc/letsencrypt/live/ext/privkey.pem",
                       "ext.example", "/etc/haproxy/certs/ext.pem"),
                      {"config": "/etc/haproxy/haproxy.cfg", "stats_socket": "/run/haproxy/admin.sock",
                       "haproxy": "/usr/sbin/haproxy", "reload": ("systemctl", "reload", "haproxy")})]


def test_paths_and_settings_given_are_used(module):
    mod, calls = module
    mod.deploy("e", "/c.pem", chain="/a", key="/b", config="/h.cfg", stats_socket="/s", haproxy="/hp", reload=["kill", "-USR2", "1"])
    assert calls == [(("/a", "/b", "e", "/c.pem"),
                      {"config": "/h.cfg", "stats_socket": "/s", "haproxy": "/hp", "reload": ["kill", "-USR2", "1"]})]


def test_no_lineage_nor_paths_is_an_error(module):
    mod, calls = module
    with pytest.raises(CommandExecutionError, match="needs lineage, or chain and key"):
        mod.deploy("e", "/c.pem", chain="/a")
    assert calls == []


@pytest.fixture
def hook(tmp_path):
    """run(*args, env) -> (the completed process, the salt-call argv it ran or None)."""
    log = tmp_path / "salt-call.json"
    salt_call = tmp_path / "salt call"
    salt_call.write_text(f"#!/bin/sh\nexec {shlex.quote(sys.executable)} -c "
                         f"'import json, sys; open(sys.argv[1], \"w\").write(json.dumps(sys.argv[2:]))' "
                         f"{shlex.quote(str(log))} \"$@\"\n")
    salt_call.chmod(0o755)
    script = tmp_path / "brine-cert-deploy"
    script.write_text(render_file(
        HOOK_TEMPLATE, salt_call=str(salt_call), fqdn="ext.lab.home.arpa", crt="/etc/haproxy/certs/ext $(x).pem",
        config="/etc/haproxy/haproxy.cfg", stats_socket="/run/haproxy/admin.sock"))
    script.chmod(0o755)

    def run(*args, env=None):
        proc = subprocess.run([str(script), *args], env={"PATH": "/usr/bin:/bin", **(env or {})},
                              capture_output=True, text=True, timeout=30)
        return proc, json.loads(log.read_text()) if log.exists() else None

    return run


SALT_ARGS = ["--local", "--log-level=quiet", "--retcode-passthrough", "brine_cert.deploy",
             "fqdn=ext.lab.home.arpa", "crt=/etc/haproxy/certs/ext $(x).pem", "config=/etc/haproxy/haproxy.cfg",
             "stats_socket=/run/haproxy/admin.sock"]


def test_certbot_runs_the_hook_with_renewed_lineage(hook):
    proc, argv = hook(env={"RENEWED_LINEAGE": "/etc/letsencrypt/live/ext lab;x"})
    assert proc.returncode == 0, proc.stderr
    assert argv == SALT_ARGS + ["lineage=/etc/letsencrypt/live/ext lab;x"]


def test_by_hand_with_two_paths(hook):
    proc, argv = hook("/tmp/full chain.pem", "/tmp/key.pem")
    assert proc.returncode == 0, proc.stderr
    assert argv == SALT_ARGS + ["chain=/tmp/full chain.pem", "key=/tmp/key.pem"]


@pytest.mark.parametrize("args", [(), ("/only-one",), ("a", "b", "c")])
def test_anything_else_is_a_usage_error(hook, args):
    proc, argv = hook(*args)
    assert proc.returncode == 2 and "usage: brine-cert-deploy" in proc.stderr
    assert argv is None
