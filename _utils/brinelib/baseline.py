"""
The host baseline (``brine:baseline``, docs/baseline.md): the time zone, the network whose
addresses /etc/hosts lists, and the deployment user (its name, SSH public keys and sudo rule).
The deployment user is also the Debian installer's user (the bootstrap settings, the preseed):
one source for both. The inventory check, the DHCP/preseed validation and the baseline states
read these rules from here.
"""

import base64
import binascii
import functools
import re

BASELINE_KEYS = ("timezone", "hosts_network", "deploy")
DEPLOY_KEYS = ("user", "ssh_keys", "sudo")
DEPLOY_SUDO_KEYS = ("nopasswd",)
BASELINE_DEFAULTS = {"timezone": "Etc/UTC", "hosts_network": "management"}
DEFAULT_DEPLOY_USER = "brine"

# Accounts a Debian 12 host already has or that the roles' packages create (base-passwd, systemd,
# the bootstrap and OpenStack daemons), and the groups a user of that name would collide with: the
# deployment user must be a person's account, never one of these.
SYSTEM_ACCOUNTS = frozenset(
    """
    root daemon bin sys sync games man lp mail news uucp proxy www-data backup list irc gnats
    nobody nogroup _apt adm sudo staff users operator systemd-network systemd-resolve
    systemd-timesync systemd-coredump messagebus sshd polkitd tss uuidd _chrony chrony unbound
    tftp dhcpd _kea kea dnsmasq statd _rpc libvirt-qemu libvirt-dnsmasq qemu openvswitch
    rabbitmq mysql memcache haproxy keepalived_script ceph kolla nova neutron glance keystone
    cinder placement heat horizon octavia swift
    """.split()
)

_POSIX_USER = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")
# Olson names: Area/Location[/Sub] or one word (UTC); no '.', no leading '/', so never a path.
_TIMEZONE = re.compile(r"^[A-Za-z][A-Za-z0-9_+-]{0,29}(?:/[A-Za-z0-9][A-Za-z0-9_+-]{0,29}){0,2}$")
# The blob's fields after its type name, per key type (RFC 4253, 5656; OpenSSH PROTOCOL.u2f).
SSH_KEY_FIELDS = {
    "ssh-ed25519": ("key",),
    "ssh-rsa": ("e", "n"),
    "ecdsa-sha2-nistp256": ("curve", "key"),
    "ecdsa-sha2-nistp384": ("curve", "key"),
    "ecdsa-sha2-nistp521": ("curve", "key"),
    "sk-ssh-ed25519@openssh.com": ("key", "application"),
    "sk-ecdsa-sha2-nistp256@openssh.com": ("curve", "key", "application"),
}
# The comment reaches a shell-quoted line of the preseed and the authorized_keys file: printable
# characters except quotes and backslash.
_SSH_COMMENT = re.compile(r"^[\x20-\x7e]*$")


@functools.lru_cache(maxsize=1)
def _zone_names():
    """The time zone names of this machine's zoneinfo database (an empty set without one)."""
    try:
        import zoneinfo

        return frozenset(zoneinfo.available_timezones())
    except (ImportError, OSError):  # pragma: no cover - no tz database
        return frozenset()


def timezone_problem(name, zones=None):
    """
    Why ``name`` cannot be the hosts' time zone, or None when it can: an Olson name
    (``Europe/Berlin``, ``Etc/UTC``) that this machine's zoneinfo database has (``zones``: the
    names to check against; default the database's, the pattern alone when there is none).
    """
    if not isinstance(name, str) or not _TIMEZONE.match(name):
        return f"{name!r} is not a time zone name like Europe/Berlin or Etc/UTC"
    zones = _zone_names() if zones is None else zones
    if zones and name not in zones:
        return f"unknown time zone {name!r} (not in the zoneinfo database, /usr/share/zoneinfo)"
    return None


def deploy_user_problem(name):
    """
    Why ``name`` cannot be the deployment user, or None when it can: a POSIX user name (lower
    case letters, digits, '_', '-', at most 32, not first a digit or '-'), never root or a system
    account (:data:`SYSTEM_ACCOUNTS`).
    """
    if not isinstance(name, str) or not _POSIX_USER.match(name):
        return f"{name!r} is not a user name (lower-case letters, digits, '_' and '-', at most 32, not first a digit or '-')"
    if name in SYSTEM_ACCOUNTS:
        return f"{name!r} is a system account or group name; the deployment user must be its own account (never root)"
    return None


def _ssh_strings(blob):
    """The length-prefixed strings of an SSH key blob; ValueError when it is not exactly that."""
    fields, pos = [], 0
    while pos < len(blob):
        if pos + 4 > len(blob):
            raise ValueError("truncated")
        size = int.from_bytes(blob[pos : pos + 4], "big")
        pos += 4
        if size > len(blob) - pos:
            raise ValueError("truncated")
        fields.append(blob[pos : pos + size])
        pos += size
    return fields


def ssh_key_problem(line):
    """
    Why ``line`` is not one OpenSSH public key line, or None when it is: ``TYPE BASE64 [comment]``
    with no options (``command=...``) and no line break; the base64 blob must decode to a key of
    the type the line names (a truncated or edited key is refused, sshd would ignore it silently).
    DSA keys are refused (OpenSSH 9 no longer accepts them); RSA keys need at least 2048 bits.
    """
    if not isinstance(line, str):
        return f"must be a public key line (a string), got {type(line).__name__}"
    if "PRIVATE KEY" in line:
        return "this is a private key: give the public key (.pub) only"
    if "\n" in line or "\r" in line:
        return "one key per list item: the line holds a line break"
    parts = line.strip().split(None, 2)
    kind = parts[0]
    if kind == "ssh-dss":
        return "DSA keys are refused by OpenSSH 9: use an ed25519, ECDSA or RSA key"
    if kind not in SSH_KEY_FIELDS:
        return (
            f"not an SSH public key line ('ssh-ed25519 AAAA... comment'): {kind[:40]!r} is not a key type"
            " (options such as command=... are not accepted)"
        )
    if len(parts) < 2:
        return f"not an SSH public key line: the {kind} key's base64 is missing"
    if len(parts) == 3 and not _SSH_COMMENT.match(parts[2]):
        return "the key's comment may hold printable ASCII characters only"
    if len(parts) == 3 and any(c in parts[2] for c in "'\"\\"):
        return "the key's comment may not hold quotes or backslashes"
    try:
        blob = base64.b64decode(parts[1], validate=True)
        fields = _ssh_strings(blob)
    except (binascii.Error, ValueError):
        return f"not an SSH public key: the {kind} key's base64 does not decode to a key (truncated or edited?)"
    if not fields or fields[0] != kind.encode():
        return f"not an SSH public key: the base64 holds a {fields[0][:40].decode('latin-1') if fields else 'different'!r} key, the line says {kind}"
    names = SSH_KEY_FIELDS[kind]
    if len(fields) - 1 != len(names):
        return f"not an SSH public key: the {kind} key's base64 does not decode to a key (truncated or edited?)"
    values = dict(zip(names, fields[1:]))
    if "ed25519" in kind and len(values["key"]) != 32:
        return f"not an SSH public key: an ed25519 key has 32 bytes, this one {len(values['key'])}"
    if "curve" in values and values["curve"] != kind.split("-")[-1].split("@")[0].encode():
        return f"not an SSH public key: the {kind} key names another curve"
    if kind == "ssh-rsa" and (int.from_bytes(values["n"], "big").bit_length() < 2048):
        return "RSA keys need at least 2048 bits"
    return None


def _deploy_spec(inventory):
    baseline = inventory.get("baseline") if isinstance(inventory, dict) else None
    return baseline.get("deploy") if isinstance(baseline, dict) else None


def deploy_problems(inventory):
    """
    ``[(pillar path, message)]`` for the deployment user (``brine:baseline:deploy``), and for the
    keys that moved there from ``brine:services:install``. The inventory check and the DHCP/preseed
    validation (brinelib.dhcp.plan) both report these.
    """
    problems = []
    services = inventory.get("services") if isinstance(inventory, dict) else None
    install = services.get("install") if isinstance(services, dict) else None
    for key in ("user", "ssh_keys"):
        if isinstance(install, dict) and key in install:
            problems.append(
                (f"brine:services:install:{key}", f"moved to brine:baseline:deploy:{key} (one deployment user for the installer and every host)")
            )
    deploy = _deploy_spec(inventory)
    path = "brine:baseline:deploy"
    if deploy is None:
        return problems
    if not isinstance(deploy, dict):
        return problems + [(path, f"must be a mapping (user, ssh_keys, sudo), got {type(deploy).__name__}")]
    for key in deploy:
        if key not in DEPLOY_KEYS:
            problems.append((f"{path}:{key}", f"unknown key; expected one of {', '.join(DEPLOY_KEYS)}"))
    problem = deploy_user_problem(deploy.get("user", DEFAULT_DEPLOY_USER))
    if problem:
        problems.append((f"{path}:user", problem))
    keys = deploy.get("ssh_keys")
    if not isinstance(keys, list) or not keys:
        problems.append((f"{path}:ssh_keys", "list at least one SSH public key: the deployment user has no password login"))
    else:
        seen = {}
        for idx, key in enumerate(keys):
            problem = ssh_key_problem(key)
            if problem:
                problems.append((f"{path}:ssh_keys:{idx}", problem))
                continue
            blob = key.split()[1]
            if blob in seen:
                problems.append((f"{path}:ssh_keys:{idx}", f"the same key is already listed at {path}:ssh_keys:{seen[blob]}"))
            else:
                seen[blob] = idx
    sudo = deploy.get("sudo", {})
    if not isinstance(sudo, dict):
        problems.append((f"{path}:sudo", f"must be a mapping (nopasswd: true|false), got {type(sudo).__name__}"))
    else:
        for key in sudo:
            if key not in DEPLOY_SUDO_KEYS:
                problems.append((f"{path}:sudo:{key}", f"unknown key; expected one of {', '.join(DEPLOY_SUDO_KEYS)}"))
        if "nopasswd" in sudo and not isinstance(sudo["nopasswd"], bool):
            problems.append((f"{path}:sudo:nopasswd", f"must be true or false, got {sudo['nopasswd']!r}"))
    return problems


def hosts_domain(inventory):
    """
    The DNS domain of the hosts' names in /etc/hosts: the hosts network's ``domain`` (what DHCP
    hands out there), else the lab's ``domain``, else ``lab.home.arpa``. Pure.
    """
    baseline = inventory.get("baseline") if isinstance(inventory.get("baseline"), dict) else {}
    network = baseline.get("hosts_network", BASELINE_DEFAULTS["hosts_network"])
    networks = inventory.get("networks") if isinstance(inventory.get("networks"), dict) else {}
    net = networks.get(network) if isinstance(networks.get(network), dict) else {}
    return str(net.get("domain") or inventory.get("domain") or "lab.home.arpa")


def baseline_settings(inventory):
    """
    The host baseline's settings of a *valid* inventory (raw or normalised), defaults filled in::

        {"timezone": "Etc/UTC", "hosts_network": "management", "domain": "lab.home.arpa",
         "deploy": {"user": "brine", "ssh_keys": [...], "sudo": {"nopasswd": True}} or None}

    ``deploy`` is None when the inventory names no deployment user.
    """
    spec = inventory.get("baseline") or {}
    deploy = _deploy_spec(inventory)
    out = {**BASELINE_DEFAULTS, **{k: v for k, v in spec.items() if k not in ("deploy", "domain")}, "deploy": None}
    out["domain"] = hosts_domain({**inventory, "baseline": out})
    if deploy is not None:
        out["deploy"] = {
            "user": deploy.get("user", DEFAULT_DEPLOY_USER),
            "ssh_keys": [" ".join(str(k).split()) for k in deploy.get("ssh_keys", [])],
            "sudo": {"nopasswd": True, **(deploy.get("sudo") or {})},
        }
    return out
