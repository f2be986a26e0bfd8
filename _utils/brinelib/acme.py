"""
The external endpoint's certificate from an ACME CA (docs/acme.md): the settings and their
checks, certbot's argument lists, HAProxy's ACME route (port 80 of the external VIP: the
http-01 challenge path to certbot, everything else redirected to https), the self-signed
placeholder HAProxy starts with, and the lab CA's (pebble) configuration. Pure: data in, data
or text out; a bad setting is an :class:`InventoryProblem` naming its pillar path.
"""

import datetime
import ipaddress
import re

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from brinelib import names
from brinelib.errors import InventoryProblem

LETS_ENCRYPT = "https://acme-v02.api.letsencrypt.org/directory"
CHALLENGE_PATH = "/.well-known/acme-challenge/"
PEBBLE_PORT = 14000
PEBBLE_CA = "/etc/brine/pebble-ca.pem"

DEFAULTS = {
    # true: the external VIP serves TLS with a certificate from the ACME CA (its binds, port 80's route).
    "enabled": False,
    # The lab's CA: pebble on the bootstrap host; the directory and CA bundle then default to it.
    "pebble": False,
    # The ACME CA's directory URL; empty: Let's Encrypt's, or with pebble the bootstrap host's.
    "directory": "",
    # The ACME account's contact; empty: no contact (certbot --register-unsafely-without-email).
    "email": "",
    # The controller that runs certbot (minion id); empty: the first controller.
    "runner": "",
    # The port certbot's standalone server listens on; HAProxy sends the challenge path there.
    "http_port": 8402,
    # HAProxy's combined PEM for the external VIP (placeholder first, then the ACME certificate).
    "crt": "/etc/haproxy/certs/external.pem",
    # A CA bundle certbot trusts for the directory; empty: the system's (with pebble: PEBBLE_CA).
    "ca_bundle": "",
    # certbot's directories and the deploy hook it runs after each issue and renewal.
    "config_dir": "/etc/letsencrypt",
    "hook": "/usr/libexec/brine/brine-cert-deploy",
}

_URL = re.compile(r"^https://[A-Za-z0-9.:\[\]-]+(/[A-Za-z0-9._~/-]*)?$")
_EMAIL = re.compile(r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$")
_PATH = re.compile(r"^/[A-Za-z0-9_./-]*$")
_FQDN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


def _port(value, what):
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise InventoryProblem(f"{what}: {value!r} is not a TCP port")
    return value


def check(inventory):
    """``[(path, message)]`` for the inventory's ``acme:`` (paths relative to ``brine:``) and the
    external VIP's ``fqdn`` the certificate names; none without a controller."""
    spec = inventory.get("acme", {})
    if not isinstance(spec, dict):
        return [("acme", f"{spec!r} is not a mapping")]
    ctrl = names.controllers(inventory)
    if not ctrl:
        return []
    out = [(f"acme:{key}", f"unknown key; expected one of {', '.join(DEFAULTS)}") for key in spec if key not in DEFAULTS]
    s = {**DEFAULTS, **spec}
    for key in ("enabled", "pebble"):
        if not isinstance(s[key], bool):
            out.append((f"acme:{key}", f"{s[key]!r} must be true or false"))
    if s["enabled"] is True and not ((inventory.get("vips") or {}).get("external") or {}).get("fqdn"):
        out.append(("acme:enabled", "the external VIP needs an fqdn: the certificate's name"))
    if s["pebble"] is True and not pebble_host(inventory):
        out.append(("acme:pebble", "no host with the bootstrap role and a management address runs pebble"))
    if s["directory"] and not (isinstance(s["directory"], str) and _URL.match(s["directory"])):
        out.append(("acme:directory", f"{s['directory']!r} is not an https:// URL"))
    if s["email"] and not (isinstance(s["email"], str) and _EMAIL.match(s["email"])):
        out.append(("acme:email", f"{s['email']!r} is not an e-mail address"))
    if s["runner"] and s["runner"] not in ctrl:
        out.append(("acme:runner", f"{s['runner']!r} is not a controller (controllers: {', '.join(ctrl)})"))
    if isinstance(s["http_port"], bool) or not isinstance(s["http_port"], int) or not 1 <= s["http_port"] <= 65535:
        out.append(("acme:http_port", f"{s['http_port']!r} is not a TCP port"))
    for key in ("crt", "config_dir", "hook") + (("ca_bundle",) if s["ca_bundle"] else ()):
        if not isinstance(s[key], str) or not _PATH.match(s[key]) or {".", ".."} & set(s[key].split("/")):
            out.append((f"acme:{key}", f"{s[key]!r} must be an absolute path of [A-Za-z0-9_./-] without . or .."))
    vip = (inventory.get("vips") or {}).get("external")
    if isinstance(vip, dict) and "fqdn" in vip and not (isinstance(vip["fqdn"], str) and _FQDN.match(vip["fqdn"])):
        out.append(("vips:external:fqdn", f"{vip.get('fqdn')!r} is not a lower-case FQDN (the certificate's name)"))
    return out


def settings(inventory):
    """The inventory's ``acme:`` with the defaults filled in."""
    return {**DEFAULTS, **((inventory or {}).get("acme") or {})}


def enabled(inventory):
    """Whether the external VIP is served over TLS: ``acme:enabled`` and an external VIP with an
    ``fqdn`` to certify."""
    return settings(inventory)["enabled"] is True and bool(((inventory.get("vips") or {}).get("external") or {}).get("fqdn"))


def resolve(inventory):
    """The ``acme`` settings of a checked inventory with an external VIP, ``runner`` (default:
    the first controller) and ``fqdn`` (the external VIP's) filled in."""
    problems = check(inventory)
    if problems:
        raise InventoryProblem([(f"brine:{path}", message) for path, message in problems])
    ctrl = names.controllers(inventory)
    if not (ctrl and enabled(inventory)):
        raise InventoryProblem("the ACME certificate needs a controller, acme:enabled and an external VIP with an fqdn")
    s = settings(inventory)
    out = {**s, "runner": s["runner"] or ctrl[0], "fqdn": inventory["vips"]["external"]["fqdn"]}
    if s["pebble"]:
        address = pebble_host(inventory)[1]
        out["directory"] = s["directory"] or f"https://{address}:{PEBBLE_PORT}/dir"
        out["ca_bundle"] = s["ca_bundle"] or PEBBLE_CA
        out["pebble_host"] = pebble_host(inventory)[0]
    out["directory"] = out["directory"] or LETS_ENCRYPT
    return out


def pebble_host(inventory):
    """``(minion id, management address)`` of the host that runs pebble: the first with the
    bootstrap role and a management address; None without one."""
    for mid in names.hosts_with_role(inventory, "bootstrap"):
        address = names.network_address(inventory, mid, "management")
        if address:
            return mid, str(address)
    return None


def _certbot_common(acme, dirs):
    config, work, logs = dirs or (acme["config_dir"], "/var/lib/letsencrypt", "/var/log/letsencrypt")
    return ["--non-interactive", "--config-dir", config, "--work-dir", work, "--logs-dir", logs]


def certbot_certonly(acme, address="", dirs=None):
    """certbot's arguments that obtain the certificate of ``acme["fqdn"]`` (resolved settings)
    with its standalone server on ``acme["http_port"]`` (bound to ``address``, default all),
    the deploy hook stored in the lineage's renewal configuration. ``dirs``: (config, work,
    logs) instead of certbot's defaults (tests)."""
    argv = ["certbot", "certonly", *_certbot_common(acme, dirs), "--standalone",
            "--http-01-port", str(_port(acme["http_port"], "brine_settings:acme:http_port")),
            "--server", acme["directory"], "--agree-tos", "--cert-name", acme["fqdn"], "-d", acme["fqdn"],
            "--key-type", "ecdsa", "--deploy-hook", acme["hook"], "--keep-until-expiring"]
    if address:
        argv += ["--http-01-address", str(ipaddress.ip_address(address))]
    argv += ["--email", acme["email"]] if acme["email"] else ["--register-unsafely-without-email"]
    return argv


def certbot_renew(acme, dirs=None, force=False):
    """certbot's arguments that renew what is due; ``force``: every lineage, now, without the
    random wait (up to 8 min) certbot adds when run unattended (which its timer keeps)."""
    return ["certbot", "renew", *_certbot_common(acme, dirs)] + (
        ["--force-renewal", "--no-random-sleep-on-renew"] if force else [])


def certbot_env(acme, base):
    """certbot's environment: ``base`` plus the CA bundle it trusts for the directory."""
    return {**base, "REQUESTS_CA_BUNDLE": acme["ca_bundle"]} if acme["ca_bundle"] else dict(base)


def haproxy_acme_lines(address, servers, http_port=80):
    """HAProxy's ACME route on ``address``:``http_port``: the challenge path to the ``certbot``
    backend (``servers``: ``[(name, address, port)]``, the controller that runs certbot; no
    health check: certbot's standalone server listens only while it asks), everything else a
    301 to https."""
    lines = ["frontend acme", f"    bind {address}:{_port(http_port, 'acme http port')}", "    mode http",
             f"    acl acme_challenge path_beg {CHALLENGE_PATH}",
             "    http-request redirect scheme https code 301 unless acme_challenge",
             "    default_backend certbot", "", "backend certbot", "    mode http"]
    lines += [f"    server {name} {addr}:{_port(port, 'certbot port')}" for name, addr, port in servers]
    return lines


def self_signed(names, days=3650, now=None, addresses=()):
    """A self-signed certificate for DNS ``names`` (and IP ``addresses``) and its new EC key:
    ``(certificate PEM, key PEM)``. HAProxy's placeholder before the first ACME certificate;
    pebble's own TLS in the lab (certbot trusts it as the CA bundle)."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names] + [
                x509.IPAddress(ipaddress.ip_address(a)) for a in addresses]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return cert.public_bytes(serialization.Encoding.PEM).decode(), key_pem.decode()


def pebble_config(listen, management, http_port, certificate, private_key):
    """pebble's configuration: the ACME API on ``listen`` (host:port) with the TLS certificate
    and key files, the management API on ``management``, http-01 validated on ``http_port``."""
    return {"pebble": {"listenAddress": listen, "managementListenAddress": management,
                       "certificate": certificate, "privateKey": private_key,
                       "httpPort": _port(http_port, "pebble http port"), "tlsPort": 5001,
                       "ocspResponderURL": "", "externalAccountBindingRequired": False}}


# pebble for repeatable runs: no random sleep before validating, no nonce rejected at random.
PEBBLE_ENV = {"PEBBLE_VA_NOSLEEP": "1", "PEBBLE_WFE_NONCEREJECT": "0"}


def pebble_unit(config, dnsserver, binary="/usr/bin/pebble"):
    """The systemd unit that runs pebble with ``config``, validating through the DNS server
    ``dnsserver`` (host:port: the bootstrap host's unbound), for repeatable runs
    (:data:`PEBBLE_ENV`)."""
    for value, what in ((config, "pebble config"), (binary, "pebble binary")):
        if not _PATH.match(str(value)):
            raise InventoryProblem(f"{what}: {value!r} must be an absolute path of [A-Za-z0-9_./-]")
    host, _, port = str(dnsserver).rpartition(":")
    dnsserver = f"{ipaddress.ip_address(host)}:{_port(int(port), 'pebble dnsserver port')}"
    env = " ".join(f"{key}={value}" for key, value in sorted(PEBBLE_ENV.items()))
    return (
        "# Managed by Brine (salt/bootstrap): the lab's ACME CA (docs/acme.md). Edits are overwritten.\n"
        "[Unit]\nDescription=pebble, the lab's ACME CA\nAfter=network-online.target unbound.service\n"
        "Wants=network-online.target\n\n"
        f"[Service]\nEnvironment={env}\n"
        f"ExecStart={binary} -strict=false -config {config} -dnsserver {dnsserver}\n"
        "Restart=on-failure\nNoNewPrivileges=yes\nProtectSystem=strict\n\n"
        "[Install]\nWantedBy=multi-user.target\n"
    )


# Where the bootstrap host keeps pebble's files: its TLS certificate (the lab's CA bundle, public)
# and key (0600), and its configuration.
PEBBLE_DIR = "/etc/brine/pebble"


def pebble_files(directory=PEBBLE_DIR):
    """``{certificate, key, config}`` paths in ``directory``."""
    return {"certificate": f"{directory}/cert.pem", "key": f"{directory}/key.pem", "config": f"{directory}/pebble.json"}
