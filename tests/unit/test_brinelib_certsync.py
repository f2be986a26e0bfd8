"""brinelib.certsync: who gets the ACME runner's certificate, where the master keeps the pushed
file, the per-minion pillar, the renewed event's payload and the install plan; the combined PEM
split back into chain and key; the inventory file the master's renders read (docs/acme.md)."""

import os

import pytest
import yaml

from brinelib import certs, certsync, inventory_file
from cert_factory import Authority

FQDN = "cloud.lab.home.arpa"
CRT = "/etc/haproxy/certs/external.pem"


@pytest.fixture
def inv(acme_inventory):
    return acme_inventory


@pytest.fixture(scope="module")
def ca():
    return Authority()


def combined(ca, names=(FQDN,)):
    chain, key, leaf = ca.leaf(names=names)
    return certs.combined_pem(chain, key), format(leaf.serial_number, "X")


def pushed(tmp_path, pem, runner="ubuntu1"):
    path = certsync.pushed_path(str(tmp_path), runner, CRT)
    os.makedirs(os.path.dirname(path))
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(pem)
    return path


def test_every_controller_but_the_runner_gets_the_certificate(inv):
    assert certsync.recipients(inv) == ["ubuntu2", "ubuntu3"]
    inv["acme"]["runner"] = "ubuntu2"
    assert certsync.recipients(inv) == ["ubuntu1", "ubuntu3"]


@pytest.mark.parametrize("change", [
    lambda inv: inv["acme"].update(enabled=False),
    lambda inv: inv.pop("acme"),
    lambda inv: inv["vips"]["external"].pop("fqdn"),
    lambda inv: inv["acme"].update(runner="compute9"),  # an invalid setting: nothing distributed
    lambda inv: inv["acme"].update(crt="/etc/../x.pem"),
])
def test_nothing_is_distributed_without_a_valid_acme_setting(inv, change):
    change(inv)
    assert certsync.recipients(inv) == []


def test_the_pushed_file_is_in_the_runners_directory_of_the_master_cache():
    assert certsync.pushed_path("/var/cache/salt/master", "ubuntu1", CRT) == \
        "/var/cache/salt/master/minions/ubuntu1/files/etc/haproxy/certs/external.pem"


@pytest.mark.parametrize("runner, crt", [
    ("..", CRT), ("a/b", CRT), ("", CRT), (None, CRT),
    ("ubuntu1", "/etc/../../ubuntu2/files/x.pem"), ("ubuntu1", "/etc/./x.pem"), ("ubuntu1", "relative.pem"),
    ("ubuntu1", "/etc/haproxy/certs/"), ("ubuntu1", "/"), ("ubuntu1", None),
])
def test_no_path_leaves_the_runners_directory(runner, crt):
    with pytest.raises(ValueError):
        certsync.pushed_path("/cache", runner, crt)


def test_the_other_controllers_get_the_pushed_pem_in_their_pillar(inv, ca, tmp_path):
    pem, _ = combined(ca)
    pushed(tmp_path, pem)
    for minion in ("ubuntu2", "ubuntu3"):
        assert certsync.pillar(inv, minion, str(tmp_path)) == {"brine_cert": {"pem": pem}}


@pytest.mark.parametrize("minion", ["ubuntu1", "compute9", "bootstrap", "unknown", "", None, "../ubuntu2"])
def test_the_runner_compute_bootstrap_and_unknown_minions_get_nothing(inv, ca, tmp_path, minion):
    pem, _ = combined(ca)
    pushed(tmp_path, pem)
    assert certsync.pillar(inv, minion, str(tmp_path)) == {}


def test_nothing_before_the_first_push_or_without_acme(inv, ca, tmp_path):
    assert certsync.pillar(inv, "ubuntu2", str(tmp_path)) == {}
    pem, _ = combined(ca)
    pushed(tmp_path, pem)
    inv["acme"]["enabled"] = False
    assert certsync.pillar(inv, "ubuntu2", str(tmp_path)) == {}


def test_only_the_runners_directory_is_read(inv, ca, tmp_path):
    """Another controller's push (a hostile minion's file) is never handed out."""
    pem, _ = combined(ca)
    pushed(tmp_path, pem, runner="ubuntu3")
    read = []
    assert certsync.pillar(inv, "ubuntu2", str(tmp_path), read=lambda path: read.append(path)) == {}
    assert read == [certsync.pushed_path(str(tmp_path), "ubuntu1", CRT)]


def test_the_renewed_payload_has_the_serial_and_fingerprint_never_the_key(ca):
    pem, serial = combined(ca)
    payload = certsync.renewed_payload(pem, FQDN)
    assert payload["fqdn"] == FQDN and payload["serial"] == serial
    assert payload["fingerprint"] == certsync.fingerprint_hex(certs.leaf_info(pem))
    assert len(payload["fingerprint"]) == 64 and set(payload["fingerprint"]) <= set("0123456789abcdef")
    assert "PRIVATE" not in repr(payload)


def test_the_plan_installs_when_the_serial_differs(ca):
    old, old_serial = combined(ca)
    new, new_serial = combined(ca)
    assert certsync.plan(new, old) == {"install": True, "serial": new_serial, "previous": old_serial}
    assert certsync.plan(new, new) == {"install": False, "serial": new_serial, "previous": new_serial}


@pytest.mark.parametrize("current", [None, "", "garbage", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"])
def test_an_absent_or_unreadable_current_certificate_is_replaced(ca, current):
    new, serial = combined(ca)
    assert certsync.plan(new, current) == {"install": True, "serial": serial, "previous": None}


@pytest.mark.parametrize("wanted", ["", "garbage", None])
def test_a_wanted_pem_without_a_certificate_is_a_problem(ca, wanted):
    with pytest.raises(certs.CertProblem):
        certsync.plan(wanted, None)


def test_a_combined_pem_splits_back_into_the_chain_and_key_check_takes(ca):
    chain, key, leaf = ca.leaf(names=(FQDN,))
    split_chain, split_key = certs.split_combined(certs.combined_pem(chain, key))
    assert certs.check(split_chain, split_key, FQDN).serial == format(leaf.serial_number, "X")
    assert certs.combined_pem(split_chain, split_key) == certs.combined_pem(chain, key)


@pytest.mark.parametrize("text, words", [
    ("", "empty"),
    ("-----BEGIN PRIVATE KEY-----\nAA\n-----END PRIVATE KEY-----\n", "no PEM CERTIFICATE"),
])
def test_a_combined_pem_without_a_certificate_is_refused(text, words):
    with pytest.raises(certs.CertProblem, match=words):
        certs.split_combined(text)


def test_a_combined_pem_needs_exactly_one_key(ca):
    chain, key, _ = ca.leaf(names=(FQDN,))
    with pytest.raises(certs.CertProblem, match="0 PEM private key blocks"):
        certs.split_combined(chain)
    with pytest.raises(certs.CertProblem, match="2 PEM private key blocks") as exc:
        certs.split_combined(chain + key + key)
    assert "PRIVATE KEY-----" not in str(exc.value)


def test_the_inventory_file_under_the_pillar_roots(tmp_path, inv):
    (tmp_path / "lab").mkdir()
    (tmp_path / "lab" / "mine.yaml").write_text(yaml.safe_dump(inv))
    opts = {"pillar_roots": {"base": [str(tmp_path / "none"), str(tmp_path)]}, "brine_inventory_file": "lab/mine.yaml"}
    assert inventory_file.load(opts) == inv
    assert inventory_file.load(opts, "other") == {}
    assert inventory_file.load({**opts, "brine_inventory_file": "lab/missing.yaml"}) == {}


@pytest.mark.parametrize("text", ["key: [unclosed", "- a list\n", "", "\xff"])
def test_an_invalid_inventory_file_is_no_inventory(tmp_path, text):
    (tmp_path / "brine").mkdir()
    (tmp_path / "brine" / "example-lab.yaml").write_bytes(text.encode("latin-1"))
    assert inventory_file.load({"pillar_roots": {"base": [str(tmp_path)]}}) == {}


def test_the_pillar_render_reads_the_inventory_file_and_the_master_cache(tmp_path, inv, ca):
    """brine_reactor.cert_pillar: what pillar/brine_cert.sls returns for each minion."""
    import brine_reactor

    (tmp_path / "pillar" / "brine").mkdir(parents=True)
    (tmp_path / "pillar" / "brine" / "example-lab.yaml").write_text(yaml.safe_dump(inv))
    pem, _ = combined(ca)
    pushed(tmp_path / "cache", pem)
    opts = {"pillar_roots": {"base": [str(tmp_path / "pillar")]}, "cachedir": str(tmp_path / "cache")}
    assert brine_reactor.cert_pillar(dict(opts, id="ubuntu3")) == {"brine_cert": {"pem": pem}}
    for minion in ("ubuntu1", "compute9", "bootstrap", "unknown"):
        assert brine_reactor.cert_pillar(dict(opts, id=minion)) == {}
    files = tmp_path / "cache" / "minions" / "ubuntu1" / "files"
    assert files.stat().st_mode & 0o777 == 0o700
    assert (files / "etc" / "haproxy" / "certs" / "external.pem").stat().st_mode & 0o777 == 0o600


def test_the_pushed_file_is_made_private(tmp_path, inv, ca):
    pem, _ = combined(ca)
    assert certsync.protect_pushed(inv, str(tmp_path)) is False  # nothing pushed yet
    # the directory a first push lands in is private before that push
    assert (tmp_path / "minions" / "ubuntu1" / "files").stat().st_mode & 0o777 == 0o700
    path = pushed(tmp_path, pem)
    os.chmod(path, 0o644)
    files = tmp_path / "minions" / "ubuntu1" / "files"
    os.chmod(files, 0o755)
    assert certsync.protect_pushed(inv, str(tmp_path)) is True
    assert os.stat(path).st_mode & 0o777 == 0o600 and files.stat().st_mode & 0o777 == 0o700
    inv["acme"]["enabled"] = False
    assert certsync.protect_pushed(inv, str(tmp_path)) is False
