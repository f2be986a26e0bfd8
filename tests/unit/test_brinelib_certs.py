"""brinelib.certs: the checks a certificate passes before HAProxy serves it, the combined PEM and
the runtime API's commands (certificates made in the test)."""

import datetime

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

import cert_factory
from brinelib import certs
from cert_factory import NOW, Authority

FQDN = "external.lab.home.arpa"


@pytest.fixture(scope="module")
def ca():
    return Authority()


def problem(chain, key, fqdn=FQDN, **kw):
    with pytest.raises(certs.CertProblem) as exc:
        certs.check(chain, key, fqdn, **kw)
    message = str(exc.value)
    assert "\n" not in message
    assert "PRIVATE KEY" not in message and "MII" not in message and "MIG" not in message
    return message


def test_a_good_chain_returns_the_leafs_serial_and_fingerprint(ca):
    chain, key, leaf = ca.leaf()
    got = certs.check(chain, key, FQDN)
    assert got.serial == format(leaf.serial_number, "X")
    assert len(got.fingerprint.split(":")) == 32
    assert got.subject == f"CN={FQDN}"
    assert got.not_after == leaf.not_valid_after_utc


def test_an_rsa_key_and_a_traditional_key_format_pass(ca):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    chain, _, _ = ca.leaf(key=key)
    traditional = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                    serialization.NoEncryption()).decode()
    assert traditional.startswith("-----BEGIN RSA PRIVATE KEY-----")
    certs.check(chain, traditional, FQDN)


@pytest.mark.parametrize("fqdn", [FQDN, FQDN.upper(), FQDN + "."])
def test_the_fqdn_is_compared_without_case_or_final_dot(ca, fqdn):
    chain, key, _ = ca.leaf()
    certs.check(chain, key, fqdn)


def test_a_wildcard_covers_one_label_only(ca):
    chain, key, _ = ca.leaf(names=("*.lab.home.arpa",))
    certs.check(chain, key, FQDN)
    assert "do not cover" in problem(chain, key, "a.external.lab.home.arpa")
    assert "do not cover" in problem(chain, key, "lab.home.arpa")


@pytest.mark.parametrize("pattern, fqdn, covered", [
    ("a.b", "a.b", True), ("A.B.", "a.b", True), ("*.b", "a.b", True), ("*.b", ".b", False),
    ("*.b", "x.a.b", False), ("a.b", "x.a.b", False), ("*.a.b", "a.b", False),
])
def test_covers(pattern, fqdn, covered):
    assert certs.covers(pattern, fqdn) is covered


def test_a_leaf_for_another_name_is_refused_naming_its_names(ca):
    chain, key, _ = ca.leaf(names=("other.lab.home.arpa", "www.lab.home.arpa"))
    message = problem(chain, key)
    assert message == ("leaf certificate: its SAN DNS names (other.lab.home.arpa, www.lab.home.arpa) "
                       f"do not cover {FQDN}")


def test_a_leaf_without_san_is_refused(ca):
    chain, key, _ = ca.leaf(names=())
    assert "(none)" in problem(chain, key)


def test_a_key_of_another_certificate_is_refused(ca):
    chain, _, _ = ca.leaf()
    _, other_key, _ = ca.leaf()
    assert problem(chain, other_key) == f"private key: does not match the leaf certificate (CN={FQDN})"


def test_an_expired_leaf_is_refused(ca):
    chain, key, _ = ca.leaf(not_before=NOW - datetime.timedelta(days=100), not_after=NOW - datetime.timedelta(days=10))
    assert problem(chain, key).startswith("leaf certificate: expired at ")


def test_a_leaf_not_valid_yet_is_refused(ca):
    chain, key, _ = ca.leaf(not_before=NOW + datetime.timedelta(days=1))
    assert problem(chain, key).startswith("leaf certificate: not valid before ")


def test_validity_is_judged_at_now(ca):
    chain, key, leaf = ca.leaf()
    later = leaf.not_valid_after_utc + datetime.timedelta(seconds=1)
    assert "expired" in problem(chain, key, now=later)


def test_a_chain_in_the_wrong_order_is_refused(ca):
    chain, key, _ = ca.leaf()
    leaf_pem, inter_pem = chain.split("-----END CERTIFICATE-----\n")[:2]
    swapped = inter_pem + "-----END CERTIFICATE-----\n" + leaf_pem + "-----END CERTIFICATE-----\n"
    message = problem(swapped, key)
    # The intermediate comes first: its key is not the leaf's.
    assert message.startswith("private key: does not match the leaf certificate (CN=Brine Test Intermediate)")


def test_an_intermediate_that_did_not_issue_the_leaf_is_refused(ca):
    chain, key, _ = ca.leaf()
    stranger = Authority("Stranger")
    leaf_only = chain.split("-----END CERTIFICATE-----\n")[0] + "-----END CERTIFICATE-----\n"
    message = problem(leaf_only + cert_factory.cert_pem(stranger.inter), key)
    assert message.startswith("certificate chain: certificate 2 (CN=Stranger Intermediate) did not issue certificate 1")


def test_a_forged_signature_is_refused(ca):
    chain, key, _ = ca.leaf()
    impostor = Authority()  # same names as ca, other keys
    leaf_only = chain.split("-----END CERTIFICATE-----\n")[0] + "-----END CERTIFICATE-----\n"
    assert "did not issue certificate 1" in problem(leaf_only + cert_factory.cert_pem(impostor.inter), key)


def test_a_leaf_alone_passes(ca):
    chain, key, _ = ca.leaf()
    certs.check(chain.split("-----END CERTIFICATE-----\n")[0] + "-----END CERTIFICATE-----\n", key, FQDN)


@pytest.mark.parametrize("chain, message", [
    ("", "certificate chain: empty"),
    ("garbage", "certificate chain: no PEM CERTIFICATE block"),
    ("-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n",
     "certificate chain: certificate 1 does not parse"),
])
def test_a_chain_that_does_not_parse_is_refused(ca, chain, message):
    _, key, _ = ca.leaf()
    assert problem(chain, key) == message


def test_a_corrupt_second_certificate_is_named(ca):
    chain, key, _ = ca.leaf()
    corrupt = chain[: chain.rindex("-----END")][:-60] + "\n-----END CERTIFICATE-----\n"
    assert problem(corrupt, key) == "certificate chain: certificate 2 does not parse"


def test_a_chain_holding_a_key_is_refused(ca):
    chain, key, _ = ca.leaf()
    assert "holds a private key" in problem(chain + key, key)


@pytest.mark.parametrize("mangle, message", [
    (lambda key: "", "private key: empty"),
    (lambda key: "nothing", "private key: 0 PEM private key blocks, expected 1"),
    (lambda key: key + key, "private key: 2 PEM private key blocks, expected 1"),
    (lambda key: key.replace(key.splitlines()[2], "A" * 64), "private key: does not parse (or is encrypted)"),
])
def test_a_bad_key_is_refused_without_quoting_it(ca, mangle, message):
    chain, key, _ = ca.leaf()
    assert problem(chain, mangle(key)) == message


def test_an_encrypted_key_is_refused(ca):
    key = cert_factory.new_key()
    chain, _, _ = ca.leaf(key=key)
    encrypted = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.BestAvailableEncryption(b"pw")).decode()
    assert problem(chain, encrypted) == "private key: 0 PEM private key blocks, expected 1"


def test_the_combined_pem_is_leaf_chain_key_with_no_blank_line(ca):
    chain, key, leaf = ca.leaf()
    spaced = chain.replace("-----END CERTIFICATE-----\n", "-----END CERTIFICATE-----\n\n").replace("\n", "\r\n")
    combined = certs.combined_pem("# a comment\n" + spaced, "\n" + key + "\n\n")
    assert combined == chain + key
    assert "\n\n" not in combined and "\r" not in combined
    assert certs.leaf_info(combined).serial == format(leaf.serial_number, "X")


def test_the_staged_config_points_every_crt_of_the_live_file_at_the_staged_one():
    config = ("frontend a\n    bind :443 ssl crt /etc/haproxy/certs/ext.pem alpn h2\n"
              "frontend b\n    bind :8443 ssl crt /etc/haproxy/certs/ext.pem\n"
              "frontend c\n    bind :9443 ssl crt /etc/haproxy/certs/ext.pem.old\n")
    got = certs.staged_config(config, "/etc/haproxy/certs/ext.pem", "/etc/haproxy/certs/.ext.pem.x1")
    assert got == config.replace("ext.pem alpn", ".ext.pem.x1 alpn").replace("ext.pem\nfrontend c", ".ext.pem.x1\nfrontend c")
    assert "crt /etc/haproxy/certs/ext.pem.old" in got


def test_a_config_without_the_crt_is_refused():
    with pytest.raises(certs.CertProblem, match="no 'crt /etc/x.pem' to check"):
        certs.staged_config("frontend a\n    bind :443 ssl crt /etc/y.pem\n", "/etc/x.pem", "/etc/.x.pem.1")


def test_the_runtime_commands(ca):
    chain, key, _ = ca.leaf()
    combined = certs.combined_pem(chain, key)
    command = certs.set_command("/etc/haproxy/certs/ext.pem", combined + "\n")
    head, payload = command.split("\n", 1)
    assert head == "set ssl cert /etc/haproxy/certs/ext.pem <<"
    assert payload == combined + "\n" and payload.count("\n\n") == 1
    assert certs.commit_command("/p.pem") == "commit ssl cert /p.pem\n"
    assert certs.abort_command("/p.pem") == "abort ssl cert /p.pem\n"


@pytest.mark.parametrize("reply, ok", [
    ("Transaction created for certificate /p.pem!\n", True),
    ("Transaction updated for certificate /p.pem!\n", True),
    ("unable to load the content of the certificate\n", False), ("", False),
])
def test_set_replies(reply, ok):
    assert certs.set_succeeded(reply) is ok


@pytest.mark.parametrize("reply, ok", [
    ("Committing /p.pem\nSuccess!\n", True), ("Committing /p.pem\nFailed!\n", False), ("", False),
])
def test_commit_replies(reply, ok):
    assert certs.commit_succeeded(reply) is ok
