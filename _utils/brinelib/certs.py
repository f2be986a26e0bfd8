"""
The external endpoint's TLS certificate as HAProxy serves it (docs/loadbalancer.md): the checks
a certificate chain and its key pass before they replace the live certificate, the combined PEM
HAProxy loads (leaf, chain, key), and the runtime API's commands that swap it in a running HAProxy.
Pure: text in, text or a :class:`CertInfo` out; every problem is a :class:`CertProblem` whose
message is one line naming what is wrong and never holds key material.
"""

import datetime
import re
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization

_PEM_BLOCK = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----\r?\n.*?-----END \1-----", re.S)
_KEY_LABELS = ("PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY")


class CertProblem(ValueError):
    """A certificate or key that must not be installed; the message says why, in one line."""


@dataclass(frozen=True)
class CertInfo:
    """What identifies the leaf certificate: its serial (HAProxy's ``show ssl cert`` shows the
    same upper-case hex) and its SHA-256 fingerprint."""

    serial: str
    fingerprint: str
    subject: str
    not_after: datetime.datetime


def _blocks(text, what):
    if not isinstance(text, str) or not text.strip():
        raise CertProblem(f"{what}: empty")
    return [(m.group(1), m.group(0)) for m in _PEM_BLOCK.finditer(text)]


def _chain_blocks(chain_pem):
    blocks = _blocks(chain_pem, "certificate chain")
    certs = [block for label, block in blocks if label == "CERTIFICATE"]
    if any(label in _KEY_LABELS for label, _ in blocks):
        raise CertProblem("certificate chain: holds a private key; the key goes in its own file")
    if not certs:
        raise CertProblem("certificate chain: no PEM CERTIFICATE block")
    return certs


def _key_block(key_pem):
    keys = [block for label, block in _blocks(key_pem, "private key") if label in _KEY_LABELS]
    if len(keys) != 1:
        raise CertProblem(f"private key: {len(keys)} PEM private key blocks, expected 1")
    return keys[0]


def _load_certs(blocks):
    certs = []
    for index, block in enumerate(blocks, 1):
        try:
            certs.append(x509.load_pem_x509_certificate(block.encode()))
        except ValueError:
            raise CertProblem(f"certificate chain: certificate {index} does not parse") from None
    return certs


def _load_key(block):
    try:
        return serialization.load_pem_private_key(block.encode(), password=None)
    except (ValueError, TypeError):
        # No detail from the parser: it could quote the key's bytes.
        raise CertProblem("private key: does not parse (or is encrypted)") from None


def _public_der(public_key):
    return public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _dns_names(cert):
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    return [name.lower().rstrip(".") for name in san.get_values_for_type(x509.DNSName)]


def covers(pattern, fqdn):
    """Whether the SAN DNS name ``pattern`` covers ``fqdn``: equal, or a ``*.`` wildcard for
    exactly one left-most label (RFC 6125)."""
    pattern, fqdn = pattern.lower().rstrip("."), fqdn.lower().rstrip(".")
    if pattern.startswith("*."):
        head, _, rest = fqdn.partition(".")
        return bool(head) and rest == pattern[2:]
    return pattern == fqdn


def _check_order(certs):
    for index in range(len(certs) - 1):
        child, parent = certs[index], certs[index + 1]
        try:
            child.verify_directly_issued_by(parent)
        except (ValueError, TypeError, InvalidSignature):
            raise CertProblem(
                f"certificate chain: certificate {index + 2} ({parent.subject.rfc4514_string()}) did not issue "
                f"certificate {index + 1} ({child.subject.rfc4514_string()}); the chain must be leaf first, "
                "then each issuer") from None


def _check_validity(cert, now, what):
    if now < cert.not_valid_before_utc:
        raise CertProblem(f"{what}: not valid before {cert.not_valid_before_utc:%Y-%m-%dT%H:%M:%SZ}")
    if now > cert.not_valid_after_utc:
        raise CertProblem(f"{what}: expired at {cert.not_valid_after_utc:%Y-%m-%dT%H:%M:%SZ}")


def info(cert):
    """The :class:`CertInfo` of a parsed certificate."""
    return CertInfo(
        serial=format(cert.serial_number, "X"),
        fingerprint=cert.fingerprint(hashes.SHA256()).hex(":").upper(),
        subject=cert.subject.rfc4514_string(),
        not_after=cert.not_valid_after_utc,
    )


def check(chain_pem, key_pem, fqdn, now=None):
    """
    Check a certificate chain (PEM, leaf first) and the leaf's private key (PEM) for serving
    ``fqdn``: every block parses, the key is the leaf's, each certificate is valid at ``now``
    (an aware datetime; default: the current time), the leaf's SAN covers ``fqdn``, and each
    certificate is issued (signed) by the next. Returns the leaf's :class:`CertInfo`; raises
    :class:`CertProblem` at the first problem.
    """
    now = now or datetime.datetime.now(datetime.timezone.utc)
    certs = _load_certs(_chain_blocks(chain_pem))
    key = _load_key(_key_block(key_pem))
    leaf = certs[0]
    if _public_der(key.public_key()) != _public_der(leaf.public_key()):
        raise CertProblem(f"private key: does not match the leaf certificate ({leaf.subject.rfc4514_string()})")
    for index, cert in enumerate(certs):
        _check_validity(cert, now, "leaf certificate" if index == 0 else f"chain certificate {index + 1}")
    names = _dns_names(leaf)
    if not any(covers(name, fqdn) for name in names):
        raise CertProblem(f"leaf certificate: its SAN DNS names ({', '.join(names) or 'none'}) do not cover {fqdn}")
    _check_order(certs)
    return info(leaf)


def combined_pem(chain_pem, key_pem):
    """The one file HAProxy's ``crt`` loads: the leaf, the rest of the chain, then the key, each
    PEM block on its own lines with no blank line (the runtime API's payload ends at one)."""
    blocks = _chain_blocks(chain_pem) + [_key_block(key_pem)]
    return "".join(block.replace("\r\n", "\n").strip() + "\n" for block in blocks)


def split_combined(combined):
    """A combined PEM (what :func:`combined_pem` makes and HAProxy's ``crt`` loads) -> ``(chain
    PEM, key PEM)``, the two texts :func:`check` takes. Raises :class:`CertProblem` without a
    certificate or without exactly one private key."""
    blocks = _blocks(combined, "combined PEM")
    chain = [block for label, block in blocks if label == "CERTIFICATE"]
    keys = [block for label, block in blocks if label in _KEY_LABELS]
    if not chain:
        raise CertProblem("combined PEM: no PEM CERTIFICATE block")
    if len(keys) != 1:
        raise CertProblem(f"combined PEM: {len(keys)} PEM private key blocks, expected 1")
    return "".join(block.strip() + "\n" for block in chain), keys[0].strip() + "\n"


def leaf_info(combined):
    """The :class:`CertInfo` of the first certificate of a PEM text (a combined PEM, a chain)."""
    blocks = [block for label, block in _blocks(combined, "certificate") if label == "CERTIFICATE"]
    if not blocks:
        raise CertProblem("certificate: no PEM CERTIFICATE block")
    return info(_load_certs(blocks[:1])[0])


def staged_config(config_text, crt_path, staged_path):
    """``config_text`` with every ``crt <crt_path>`` pointing at ``staged_path`` instead: the
    configuration ``haproxy -c`` checks the staged certificate with."""
    pattern = re.compile(r"(\bcrt\s+)" + re.escape(crt_path) + r"(?=\s|$)", re.M)
    text, count = pattern.subn(lambda m: m.group(1) + staged_path, config_text)
    if not count:
        raise CertProblem(f"haproxy configuration: no 'crt {crt_path}' to check the new certificate with")
    return text


def set_command(crt_path, combined):
    """The runtime API's command that opens a transaction holding the new certificate for the
    ``crt`` HAProxy loaded from ``crt_path`` (the payload ends at the first empty line)."""
    payload = "\n".join(line for line in combined.splitlines() if line.strip())
    return f"set ssl cert {crt_path} <<\n{payload}\n\n"


def commit_command(crt_path):
    """The runtime API's command that makes the transaction's certificate the served one."""
    return f"commit ssl cert {crt_path}\n"


def abort_command(crt_path):
    """The runtime API's command that drops an uncommitted transaction."""
    return f"abort ssl cert {crt_path}\n"


def set_succeeded(reply):
    return "Transaction created" in reply or "Transaction updated" in reply


def commit_succeeded(reply):
    return "Success!" in reply
