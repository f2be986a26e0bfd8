"""
Certificates made in the test: a root CA, an intermediate it signs, and leaf certificates the
intermediate signs, with chosen SAN names, validity and key (cryptography; EC P-256, fast).
"""

import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

# A HAProxy serving TLS on 127.0.0.1:{port} from {crt}, its admin socket in {dir}; the
# functional tests append more sections (the ACME route).
HAPROXY_TLS_CONFIG = """global
    stats socket {dir}/admin.sock mode 600 level admin
defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s
frontend external
    bind 127.0.0.1:{port} ssl crt {crt}
    http-request return status 200 content-type text/plain string ok
"""

NOW = datetime.datetime.now(datetime.timezone.utc)
_serials = iter(range(0x1000, 0x100000))


def new_key():
    return ec.generate_private_key(ec.SECP256R1())


def key_pem(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def cert_pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def _name(common_name):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _cert(subject, key, issuer, issuer_key, ca, names=(), not_before=None, not_after=None):
    builder = (x509.CertificateBuilder()
               .subject_name(_name(subject)).issuer_name(_name(issuer))
               .public_key(key.public_key()).serial_number(next(_serials))
               .not_valid_before(not_before or NOW - datetime.timedelta(days=1))
               .not_valid_after(not_after or NOW + datetime.timedelta(days=90))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


class Authority:
    """A root and an intermediate; :meth:`leaf` issues from the intermediate."""

    def __init__(self, name="Brine Test"):
        self.inter_name = f"{name} Intermediate"
        self.root_key, self.inter_key = new_key(), new_key()
        self.root = _cert(f"{name} Root", self.root_key, f"{name} Root", self.root_key, True)
        self.inter = _cert(self.inter_name, self.inter_key, f"{name} Root", self.root_key, True)

    def leaf(self, names=("external.lab.home.arpa",), key=None, **validity):
        """(chain PEM leaf first, key PEM, the leaf certificate)."""
        key = key or new_key()
        cert = _cert(names[0] if names else "no-san", key, self.inter_name, self.inter_key, False, names, **validity)
        return cert_pem(cert) + cert_pem(self.inter), key_pem(key), cert
