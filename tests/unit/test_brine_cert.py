"""brine_cert (the adapter) and certbot's deploy hook script: what reaches brinelib.certdeploy,
and the salt-call the hook runs for certbot (RENEWED_LINEAGE) and by hand (two paths)."""

import json
import shlex
import subprocess
import sys

import pytest
from brine_testlib import REPO, example_inventory, load_extension, render_file

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


# --------------------------------------------------------------------------- distribution (docs/acme.md)

FQDN = "ext.lab.home.arpa"


@pytest.fixture(scope="module")
def ca():
    from cert_factory import Authority

    return Authority()


def combined_pem(ca):
    from brinelib import certs

    chain, key, leaf = ca.leaf(names=(FQDN,))
    return certs.combined_pem(chain, key), format(leaf.serial_number, "X")


@pytest.fixture
def publisher(tmp_path, ca):
    mod = load_extension("modules", "brine_cert")
    pem, serial = combined_pem(ca)
    crt = tmp_path / "external.pem"
    crt.write_text(pem)
    sent = []
    mod.__salt__ = {"cp.push": lambda path: sent.append(("push", path)) or True,
                    "brine_sign.send": lambda tag, data: sent.append((tag, data)) or True}
    return mod, str(crt), serial, sent


def test_publish_pushes_the_installed_pem_then_sends_the_signed_event_without_the_key(publisher):
    mod, crt, serial, sent = publisher
    payload = mod.publish(FQDN, crt)
    assert payload["serial"] == serial and payload["fqdn"] == FQDN and len(payload["fingerprint"]) == 64
    assert sent == [("push", crt), ("brine/cert/renewed", payload)]
    assert "PRIVATE KEY" not in repr(sent[1]) + repr(payload)


@pytest.mark.parametrize("refused, words", [("cp.push", "the master refused"), ("brine_sign.send", "did not reach")])
def test_publish_fails_when_the_push_or_the_event_does_not_go_out(publisher, refused, words):
    mod, crt, _, sent = publisher
    mod.__salt__[refused] = lambda *args: False
    with pytest.raises(CommandExecutionError, match=words):
        mod.publish(FQDN, crt)
    if refused == "cp.push":
        assert sent == []  # no event for a certificate the master does not hold


def test_publish_of_a_missing_or_bad_file_sends_nothing(publisher, tmp_path):
    mod, _, _, sent = publisher
    with pytest.raises(CommandExecutionError, match="No such file"):
        mod.publish(FQDN, str(tmp_path / "none.pem"))
    (tmp_path / "bad.pem").write_text("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    with pytest.raises(CommandExecutionError, match="no PEM CERTIFICATE") as exc:
        mod.publish(FQDN, str(tmp_path / "bad.pem"))
    assert "AAAA" not in str(exc.value)
    assert sent == []


def test_sync_installs_the_pillars_pem_with_the_settings(monkeypatch, inventory):
    mod = load_extension("modules", "brine_cert")
    inventory["acme"] = {"enabled": True}
    mod.__salt__ = {"brine_lb.defaults": lambda: LB_DEFAULTS, "brine_inventory.get": lambda: inventory}
    mod.__pillar__ = {}
    calls = []
    monkeypatch.setattr(mod.certdeploy, "sync", lambda *args, **kw: calls.append((args, kw)) or {"install": False})
    assert mod.sync() == {} and calls == []
    mod.__pillar__ = {"brine_cert": {"pem": "PEM"}}
    assert mod.sync(test=True) == {"install": False}
    assert calls == [(("PEM", "cloud.lab.home.arpa", "/etc/haproxy/certs/external.pem"),
                      {"config": "/etc/haproxy/haproxy.cfg", "stats_socket": "/run/haproxy/admin.sock",
                       "haproxy": "/usr/sbin/haproxy", "test": True})]
    mod.sync(crt="/c.pem", config="/h.cfg", stats_socket="/s", haproxy="/hp")
    assert calls[-1] == (("PEM", "cloud.lab.home.arpa", "/c.pem"),
                         {"config": "/h.cfg", "stats_socket": "/s", "haproxy": "/hp", "test": False})


@pytest.fixture
def synced_state():
    st = load_extension("states", "brine_cert")
    plans = []

    def sync(test=False, **where):
        assert where == {"crt": st.name, "config": None, "stats_socket": None, "haproxy": None}
        plans.append(test)
        return dict(st.plan, **({} if test else {"method": "runtime-api"})) if st.plan else {}

    st.__salt__ = {"brine_cert.sync": sync}
    st.__opts__ = {"test": False}
    st.name = "/etc/haproxy/certs/external.pem"
    return st, plans


def test_the_state_installs_another_serial_and_says_only_serials(synced_state):
    st, plans = synced_state
    st.plan = {"install": True, "serial": "BEEF", "previous": "CAFE"}
    ret = st.synced("/etc/haproxy/certs/external.pem")
    assert ret["result"] is True and ret["changes"] == {"serial": {"old": "CAFE", "new": "BEEF"}}
    assert "installed serial BEEF" in ret["comment"] and plans == [True, False]


def test_the_state_in_test_mode_says_the_same_changes_and_does_nothing(synced_state):
    st, plans = synced_state
    st.plan = {"install": True, "serial": "BEEF", "previous": None}
    st.__opts__["test"] = True
    ret = st.synced("/etc/haproxy/certs/external.pem")
    assert ret["result"] is None and ret["changes"] == {"serial": {"old": None, "new": "BEEF"}}
    assert "would install serial BEEF" in ret["comment"] and plans == [True]


@pytest.mark.parametrize("plan, words", [({}, "no certificate in this minion's pillar"),
                                         ({"install": False, "serial": "BEEF", "previous": "BEEF"}, "holds serial BEEF")])
def test_the_state_has_nothing_to_do(synced_state, plan, words):
    st, plans = synced_state
    st.plan = plan
    ret = st.synced(st.name)
    assert ret["result"] is True and ret["changes"] == {} and words in ret["comment"] and plans == [True]


def test_a_refused_certificate_fails_the_state(synced_state):
    st, _ = synced_state

    def refuse(test=False, **where):
        raise CommandExecutionError("refused: private key: does not match the leaf certificate")

    st.__salt__["brine_cert.sync"] = refuse
    ret = st.synced("/c.pem")
    assert ret["result"] is False and ret["changes"] == {} and "does not match" in ret["comment"]


def test_on_the_runner_the_hook_publishes_after_a_successful_deploy(tmp_path):
    log = tmp_path / "calls"
    salt_call = tmp_path / "salt-call"
    salt_call.write_text(f"#!/bin/sh\nprintf '%s\\n' \"$*\" >> {shlex.quote(str(log))}\n"
                         "case \"$*\" in *brine_cert.deploy*lineage=/bad*) exit 1;; esac\n")
    salt_call.chmod(0o755)
    script = tmp_path / "hook"
    script.write_text(render_file(HOOK_TEMPLATE, salt_call=str(salt_call), fqdn=FQDN, crt="/etc/haproxy/certs/ext.pem",
                                  config="/etc/haproxy/haproxy.cfg", stats_socket="/run/haproxy/admin.sock",
                                  publish=True))
    script.chmod(0o755)

    def run(lineage):
        return subprocess.run([str(script)], env={"PATH": "/usr/bin:/bin", "RENEWED_LINEAGE": lineage},
                              capture_output=True, text=True, timeout=30)

    assert run("/etc/letsencrypt/live/ext").returncode == 0
    calls = log.read_text().splitlines()
    assert calls == [" ".join(SALT_ARGS[:4] + [f"fqdn={FQDN}", "crt=/etc/haproxy/certs/ext.pem",
                                               "config=/etc/haproxy/haproxy.cfg", "stats_socket=/run/haproxy/admin.sock",
                                               "lineage=/etc/letsencrypt/live/ext"]),
                     f"--log-level=quiet --retcode-passthrough brine_cert.publish fqdn={FQDN} crt=/etc/haproxy/certs/ext.pem"]
    log.unlink()
    assert run("/bad").returncode == 1
    assert len(log.read_text().splitlines()) == 1  # a refused certificate is not published


def test_pebble_published_compares_the_mine_with_the_certificate_on_disk(monkeypatch):
    mod = load_extension("modules", "brine_cert")
    mine = {}
    mod.__grains__ = {"id": "bootstrap"}
    mod.__salt__ = {"mine.get": lambda tgt, fun: {tgt: mine[fun]} if fun in mine else {}}
    monkeypatch.setattr(mod, "pebble", lambda action: "CERT A" if action == "certificate" else None)
    assert mod.pebble_published() is False  # nothing in the mine yet
    mine["brine_pebble_certificate"] = "CERT OLD"
    assert mod.pebble_published() is False  # a certificate of an earlier pebble
    mine["brine_pebble_certificate"] = "CERT A"
    assert mod.pebble_published() is True


def test_pebble_published_is_false_while_no_certificate_is_written(monkeypatch, tmp_path):
    mod = load_extension("modules", "brine_cert")
    mod.__grains__ = {"id": "bootstrap"}
    mod.__salt__ = {"mine.get": lambda tgt, fun: {tgt: "CERT A"},
                    "brine_inventory.get": lambda: example_inventory()}
    missing = tmp_path / "cert.pem"
    monkeypatch.setattr(mod.acme, "pebble_files", lambda: {"certificate": str(missing)})
    with pytest.raises(CommandExecutionError, match="cert.pem is not written yet"):
        mod.pebble("certificate")
    assert mod.pebble_published() is False
    missing.write_text("CERT A")
    assert mod.pebble_published() is True
