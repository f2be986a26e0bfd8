"""brinelib.acme: the ACME settings and their checks, certbot's arguments, HAProxy's ACME route
and TLS binds on the external VIP, the placeholder certificate, pebble's configuration
(docs/acme.md)."""

import copy
import datetime
import json
import os
import shutil
import subprocess

import pytest
from cryptography import x509
from brine_testlib import example_inventory, load_extension

import brine_inventory
from brinelib import acme, certs
from brinelib.errors import InventoryProblem

lb = load_extension("modules", "brine_lb")
SECRETS = {"keepalived_auth": "vrrp-secret", "haproxy_stats_password": "stats-secret"}


@pytest.fixture
def inv(inventory):
    inventory["acme"] = {"enabled": True}
    return brine_inventory.normalise(inventory)


def test_defaults_name_lets_encrypt_the_first_controller_and_the_external_fqdn(inv):
    resolved = acme.resolve(inv)
    assert resolved["directory"] == "https://acme-v02.api.letsencrypt.org/directory"
    assert resolved["runner"] == "ubuntu1" and resolved["fqdn"] == "cloud.lab.home.arpa"
    assert resolved["http_port"] == 8402 and resolved["crt"] == "/etc/haproxy/certs/external.pem"


def test_a_named_runner_is_kept(inventory):
    inventory["acme"] = {"enabled": True, "runner": "ubuntu2", "directory": "https://10.10.0.2:14000/dir", "email": "ops@lab.home.arpa"}
    resolved = acme.resolve(brine_inventory.normalise(inventory))
    assert resolved["runner"] == "ubuntu2" and resolved["directory"] == "https://10.10.0.2:14000/dir"


@pytest.mark.parametrize("spec, path, words", [
    ({"directory": "http://ca/dir"}, "brine:acme:directory", "not an https:// URL"),
    ({"directory": "https://ca/dir; reboot"}, "brine:acme:directory", "not an https:// URL"),
    ({"email": "not-an-address"}, "brine:acme:email", "not an e-mail address"),
    ({"runner": "compute1"}, "brine:acme:runner", "is not a controller"),
    ({"http_port": 0}, "brine:acme:http_port", "not a TCP port"),
    ({"http_port": True}, "brine:acme:http_port", "not a TCP port"),
    ({"crt": "relative.pem"}, "brine:acme:crt", "absolute path"),
    ({"crt": "/etc/haproxy/a b.pem"}, "brine:acme:crt", "absolute path"),
    ({"crt": "/etc/haproxy/../../tmp/x.pem"}, "brine:acme:crt", "without . or .."),
    ({"crt": "/etc/./haproxy/x.pem"}, "brine:acme:crt", "without . or .."),
    ({"hook": "/usr/bin/x;y"}, "brine:acme:hook", "absolute path"),
    ({"ca_bundle": "$HOME/ca.pem"}, "brine:acme:ca_bundle", "absolute path"),
    ({"colour": "blue"}, "brine:acme:colour", "unknown key"),
])
def test_the_inventory_check_names_each_bad_setting(inventory, spec, path, words):
    inventory["acme"] = spec
    errors = brine_inventory.validate(inventory)["errors"]
    assert any(e.startswith(f"{path}: ") and words in e for e in errors), errors


def test_a_bad_external_fqdn_is_named(inventory):
    inventory["vips"]["external"]["fqdn"] = "Cloud Lab"
    errors = brine_inventory.validate(inventory)["errors"]
    assert any(e.startswith("brine:vips:external:fqdn: ") for e in errors), errors


def test_acme_must_be_a_mapping(inventory):
    inventory["acme"] = ["x"]
    assert "brine:acme: ['x'] is not a mapping" in brine_inventory.validate(inventory)["errors"]


def test_no_controller_no_acme_problem():
    assert acme.check({"hosts": {}, "acme": {"directory": "nonsense"}}) == []


def test_enabled_only_when_asked_and_with_an_external_fqdn(inv):
    inventory = example_inventory()
    assert acme.enabled(inv)
    without = copy.deepcopy(inv)
    del without["vips"]["external"]["fqdn"]
    assert not acme.enabled(without)
    with pytest.raises(InventoryProblem, match="external VIP needs an fqdn"):
        acme.resolve(without)
    del inventory["acme"]
    off = brine_inventory.normalise(inventory)
    assert off["acme"]["enabled"] is False and not acme.enabled(off)
    inventory["acme"] = {"enabled": "yes"}
    assert "brine:acme:enabled: 'yes' must be true or false" in brine_inventory.validate(inventory)["errors"]


def test_certbot_certonly_standalone_on_the_routed_port_with_the_hook():
    s = {**acme.DEFAULTS, "runner": "ubuntu1", "fqdn": "cloud.lab.home.arpa", "email": "ops@lab.home.arpa",
         "directory": acme.LETS_ENCRYPT}
    argv = acme.certbot_certonly(s)
    assert argv[:2] == ["certbot", "certonly"] and "--non-interactive" in argv and "--standalone" in argv
    pairs = dict(zip(argv, argv[1:]))
    assert pairs["--http-01-port"] == "8402" and pairs["--server"] == acme.LETS_ENCRYPT
    assert pairs["-d"] == pairs["--cert-name"] == "cloud.lab.home.arpa"
    assert pairs["--deploy-hook"] == "/usr/libexec/brine/brine-cert-deploy"
    assert pairs["--email"] == "ops@lab.home.arpa" and pairs["--config-dir"] == "/etc/letsencrypt"
    assert "--http-01-address" not in argv
    nomail = acme.certbot_certonly({**s, "email": ""}, "127.0.0.1", dirs=("/c", "/w", "/l"))
    assert "--register-unsafely-without-email" in nomail and "--email" not in nomail
    assert dict(zip(nomail, nomail[1:]))["--http-01-address"] == "127.0.0.1"
    assert dict(zip(nomail, nomail[1:]))["--work-dir"] == "/w"


def test_certbot_renew_forced_skips_the_random_wait():
    s = {**acme.DEFAULTS}
    assert acme.certbot_renew(s)[:2] == ["certbot", "renew"] and "--force-renewal" not in acme.certbot_renew(s)
    forced = acme.certbot_renew(s, force=True)
    assert "--force-renewal" in forced and "--no-random-sleep-on-renew" in forced


def test_certbot_env_trusts_the_ca_bundle_only_when_given():
    assert acme.certbot_env({**acme.DEFAULTS}, {"PATH": "/bin"}) == {"PATH": "/bin"}
    assert acme.certbot_env({**acme.DEFAULTS, "ca_bundle": "/etc/brine/pebble-ca.pem"}, {}) == {
        "REQUESTS_CA_BUNDLE": "/etc/brine/pebble-ca.pem"}


def test_haproxy_tls_on_the_external_vip_and_the_acme_route(inv):
    text = lb.haproxy_cfg(inv, "ubuntu2", SECRETS, tls=True)
    keystone = text.split("\nlisten keystone\n")[1].split("\n\n")[0]
    assert keystone.splitlines()[:2] == ["    bind 10.10.0.100:5000",
                                         "    bind 10.100.0.100:5000 ssl crt /etc/haproxy/certs/external.pem"]
    route = text.split("\nfrontend acme\n")[1]
    assert route.splitlines() == [
        "    bind 10.100.0.100:80",
        "    mode http",
        "    acl acme_challenge path_beg /.well-known/acme-challenge/",
        "    http-request redirect scheme https code 301 unless acme_challenge",
        "    default_backend certbot",
        "",
        "backend certbot",
        "    mode http",
        "    server ubuntu1 10.100.0.11:8402",
    ]
    assert "ssl" not in text.split("\nlisten stats\n")[1].split("\n\n")[0]


def test_haproxy_without_tls_is_unchanged(inv):
    inventory = example_inventory()
    assert "ssl crt" in lb.haproxy_cfg(inv, "ubuntu1", SECRETS)  # the inventory's acme:enabled
    inventory["acme"]["enabled"] = False
    text = lb.haproxy_cfg(brine_inventory.normalise(inventory), "ubuntu1", SECRETS)
    assert "ssl crt" not in text and "frontend acme" not in text


def test_haproxy_route_follows_the_runner_and_port(inventory):
    inventory["acme"] = {"enabled": True, "runner": "ubuntu3", "http_port": 8888, "crt": "/etc/haproxy/x.pem"}
    text = lb.haproxy_cfg(brine_inventory.normalise(inventory), "ubuntu1", SECRETS, tls=True)
    assert text.rstrip().splitlines()[-1] == "    server ubuntu3 10.100.0.13:8888"
    assert "bind 10.100.0.100:5000 ssl crt /etc/haproxy/x.pem" in text


@pytest.mark.skipif(not shutil.which("haproxy"), reason="haproxy is installed by scripts/setup-env.sh")
def test_haproxy_c_accepts_the_tls_config_with_the_placeholder(inv, tmp_path):
    pem = tmp_path / "external.pem"
    pem.write_text("".join(acme.self_signed(["cloud.lab.home.arpa"])))
    inv["acme"]["crt"] = str(pem)
    text = lb.haproxy_cfg(inv, "ubuntu1", SECRETS, tls=True)
    text = text.replace("    chroot /var/lib/haproxy\n", "").replace("/run/haproxy/admin.sock", str(tmp_path / "s"))
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text(text)
    proc = subprocess.run(["haproxy", "-c", "-q", "-f", str(cfg)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_the_placeholder_is_a_self_signed_certificate_for_the_names():
    cert_pem, key_pem = acme.self_signed(["cloud.lab.home.arpa"], days=30)
    info = certs.check(cert_pem, key_pem, "cloud.lab.home.arpa")
    assert info.subject == "CN=cloud.lab.home.arpa"
    cert = x509.load_pem_x509_certificate(cert_pem.encode())
    assert cert.issuer == cert.subject
    assert cert.not_valid_after_utc - cert.not_valid_before_utc < datetime.timedelta(days=31)
    assert acme.self_signed(["a.example"])[1] != acme.self_signed(["a.example"])[1]


def test_pebble_config_and_repeatable_env():
    conf = acme.pebble_config("10.10.0.2:14000", "127.0.0.1:15000", 80, "/etc/pebble/cert.pem", "/etc/pebble/key.pem")
    assert conf["pebble"]["listenAddress"] == "10.10.0.2:14000" and conf["pebble"]["httpPort"] == 80
    assert conf["pebble"]["certificate"] == "/etc/pebble/cert.pem"
    assert acme.PEBBLE_ENV == {"PEBBLE_VA_NOSLEEP": "1", "PEBBLE_WFE_NONCEREJECT": "0"}
    with pytest.raises(InventoryProblem):
        acme.pebble_config("a:1", "b:2", 70000, "/c", "/k")


def test_the_placeholder_is_written_once_0600_and_never_replaces_a_certificate(tmp_path):
    from brinelib import certdeploy

    crt = tmp_path / "certs" / "external.pem"
    assert certdeploy.placeholder(str(crt), "cloud.lab.home.arpa") is True
    assert crt.stat().st_mode & 0o777 == 0o600 and crt.parent.stat().st_mode & 0o777 == 0o700
    first = crt.read_text()
    assert certs.leaf_info(first).subject == "CN=cloud.lab.home.arpa" and "PRIVATE KEY" in first
    assert certdeploy.placeholder(str(crt), "cloud.lab.home.arpa") is False
    assert crt.read_text() == first and sorted(p.name for p in crt.parent.iterdir()) == ["external.pem"]


def test_the_adapter_resolves_the_inventory(inv):
    mod = load_extension("modules", "brine_cert")
    mod.__salt__ = {"brine_inventory.get": lambda: inv}
    assert mod.settings()["runner"] == "ubuntu1"
    assert mod.certbot_argv()[:2] == ["certbot", "certonly"]
    assert "--force-renewal" in mod.certbot_argv("renew", force=True)
    with pytest.raises(Exception, match="not certonly or renew"):
        mod.certbot_argv("revoke")


def test_pebble_on_the_bootstrap_host_sets_the_directory_and_ca_bundle(inventory):
    inventory["acme"] = {"enabled": True, "pebble": True}
    resolved = acme.resolve(brine_inventory.normalise(inventory))
    assert resolved["directory"] == "https://10.10.0.5:14000/dir" and resolved["ca_bundle"] == acme.PEBBLE_CA
    assert acme.pebble_host(inventory) == ("bootstrap", "10.10.0.5")


def test_pebble_needs_a_bootstrap_host(inventory):
    inventory["acme"] = {"pebble": "yes"}
    assert "brine:acme:pebble: 'yes' must be true or false" in brine_inventory.validate(inventory)["errors"]
    inventory["acme"] = {"pebble": True}
    del inventory["hosts"]["bootstrap"]
    errors = brine_inventory.validate(inventory)["errors"]
    assert any(e.startswith("brine:acme:pebble: no host with the bootstrap role") for e in errors), errors


def test_pebble_unit_runs_repeatable_and_refuses_odd_paths():
    unit = acme.pebble_unit("/etc/brine/pebble/pebble.json", "10.10.0.5:53")
    assert "ExecStart=/usr/bin/pebble -strict=false -config /etc/brine/pebble/pebble.json -dnsserver 10.10.0.5:53\n" in unit
    assert "Environment=PEBBLE_VA_NOSLEEP=1 PEBBLE_WFE_NONCEREJECT=0\n" in unit
    with pytest.raises(InventoryProblem):
        acme.pebble_unit("/etc/x y.json", "10.10.0.5:53")
    with pytest.raises(ValueError):
        acme.pebble_unit("/etc/x.json", "example.com:53")


def test_pebble_tls_is_written_once_key_private_cert_public(tmp_path):
    from brinelib import certdeploy

    files = acme.pebble_files(str(tmp_path / "pebble"))
    assert certdeploy.pebble_tls(files, ["bootstrap"], ["10.10.0.5"]) is True
    assert os.stat(files["key"]).st_mode & 0o777 == 0o600 and os.stat(files["certificate"]).st_mode & 0o777 == 0o644
    cert = x509.load_pem_x509_certificate(open(files["certificate"], "rb").read())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(a) for a in san.get_values_for_type(x509.IPAddress)] == ["10.10.0.5"]
    before = open(files["key"]).read()
    assert certdeploy.pebble_tls(files, ["bootstrap"], ["10.10.0.5"]) is False
    assert open(files["key"]).read() == before


def test_the_adapter_renders_pebbles_config_and_unit(inventory):
    inventory["acme"] = {"enabled": True, "pebble": True}
    mod = load_extension("modules", "brine_cert")
    normal = brine_inventory.normalise(inventory)
    mod.__salt__ = {"brine_inventory.get": lambda: normal}
    conf = json.loads(mod.pebble("config"))["pebble"]
    assert conf["listenAddress"] == "10.10.0.5:14000" and conf["httpPort"] == 80
    assert "-dnsserver 10.10.0.5:53" in mod.pebble("unit")
    assert mod.settings()["pebble_host"] == "bootstrap"
