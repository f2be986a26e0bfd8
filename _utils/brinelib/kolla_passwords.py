"""
kolla-ansible's ``passwords.yml`` filled with the semantics of its own generator, ``kolla-genpwd``
(``kolla_ansible/cmd/genpwd.py`` of stable/2024.1), as data (docs/kolla-passwords-and-rings.md).

``fill`` keeps every existing value that is not empty and gives each empty or missing key of
kolla's template a value of its key's class:

* ``uuid``: a random UUID (the rbd secrets must be UUIDs: libvirt's secret and cinder's
  ``rbd_secret_uuid`` are the same value);
* ``ssh``: ``{private_key, public_key}``, an RSA 4096 key pair as genpwd makes it (PKCS#8 PEM
  private key, OpenSSH public key; genpwd of 2024.1 makes no ed25519 keys);
* ``hmac_md5``: the hex HMAC-MD5 of a random UUID over an empty message (32 hex digits);
* ``fernet``: a Fernet key (URL-safe base64 of 32 random bytes);
* ``bcrypt_salt``: 22 characters of ``[A-Za-z0-9./]`` (Ansible's ``random_salt(22)``);
* ``blank``: left empty (``docker_registry_password``: kolla treats "no password" as "no auth");
* ``password``: 40 letters and digits.

Where Brine differs from genpwd: genpwd fills only ``None`` values of keys already in the file;
here an empty string is empty too (genpwd would keep it, and kolla would deploy an empty
password), and a template key missing from the file is added (what ``kolla-mergepwd`` followed by
genpwd does). A key the file holds that the template does not is kept, after the template's keys.

The randomness comes from ``generators`` (``default_generators()`` for real use), so the rules
are pure. Nothing here logs, and no message carries a value.
"""

import hmac
import re
import secrets
import string
import uuid
from hashlib import md5

import yaml
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

# genpwd.py's lists, stable/2024.1, in its order.
UUID_KEYS = (
    "rbd_secret_uuid",
    "cinder_rbd_secret_uuid",
    "gnocchi_project_id",
    "gnocchi_resource_id",
    "gnocchi_user_id",
    "designate_pool_id",
)
SSH_KEYS = (
    "kolla_ssh_key",
    "nova_ssh_key",
    "keystone_ssh_key",
    "bifrost_ssh_key",
    "octavia_amp_ssh_key",
    "neutron_ssh_key",
    "haproxy_ssh_key",
)
BLANK_KEYS = ("docker_registry_password",)
HMAC_MD5_KEYS = ("designate_rndc_key", "osprofiler_secret")
FERNET_KEYS = ("barbican_crypto_key",)
BCRYPT_KEYS = ("prometheus_bcrypt_salt",)
PASSWORD_LENGTH = 40
PASSWORD_ALPHABET = string.ascii_letters + string.digits
BCRYPT_SALT_LENGTH = 22
BCRYPT_SALT_ALPHABET = string.ascii_letters + string.digits + "./"
SSH_FIELDS = ("private_key", "public_key")
RSA_BITS = 4096

CLASSES = ("uuid", "ssh", "blank", "hmac_md5", "fernet", "bcrypt_salt", "password")
GENERATED = ("uuid", "ssh", "hmac_md5", "fernet", "bcrypt_salt", "password")
_BY_KEY = {
    **{key: "uuid" for key in UUID_KEYS},
    **{key: "ssh" for key in SSH_KEYS},
    **{key: "blank" for key in BLANK_KEYS},
    **{key: "hmac_md5" for key in HMAC_MD5_KEYS},
    **{key: "fernet" for key in FERNET_KEYS},
    **{key: "bcrypt_salt" for key in BCRYPT_KEYS},
}
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)
_BCRYPT_SALT = re.compile(r"^[A-Za-z0-9./]{%d}$" % BCRYPT_SALT_LENGTH)
FILE = "passwords.yml"


class PasswordsRefused(ValueError):
    """An existing ``passwords.yml`` (or template) Brine will not fill; one line a key at fault."""

    def __init__(self, problems):
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


def key_class(key):
    """The class of ``key`` (one of :data:`CLASSES`): how genpwd fills it."""
    return _BY_KEY.get(key, "password")


def _password():
    return "".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(PASSWORD_LENGTH))


def _ssh_key():
    key = rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS)
    private = key.private_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PrivateFormat.PKCS8,
        encryption_algorithm=serialization.NoEncryption(),
    ).decode("ascii")
    public = (
        key.public_key()
        .public_bytes(encoding=serialization.Encoding.OpenSSH, format=serialization.PublicFormat.OpenSSH)
        .decode("ascii")
    )
    return {"private_key": private, "public_key": public}


def default_generators():
    """
    ``{class: zero-argument callable}`` for every class :func:`fill` generates, from the
    operating system's randomness (``secrets``, ``uuid4``, ``cryptography``), as genpwd makes them.
    """
    return {
        "uuid": lambda: str(uuid.uuid4()),
        "ssh": _ssh_key,
        "hmac_md5": lambda: hmac.new(str(uuid.uuid4()).encode(), b"", md5).hexdigest(),
        "fernet": lambda: Fernet.generate_key().decode("ascii"),
        "bcrypt_salt": lambda: "".join(secrets.choice(BCRYPT_SALT_ALPHABET) for _ in range(BCRYPT_SALT_LENGTH)),
        "password": _password,
    }


def is_empty(key, value):
    """True when genpwd (or Brine, for ``""``) would fill ``value``: None, ``""``, or for an SSH
    key a pair whose both halves are None or ``""``."""
    if value is None or value == "":
        return True
    if key_class(key) == "ssh" and isinstance(value, dict):
        return all(value.get(field) in (None, "") for field in SSH_FIELDS)
    return False


def _fernet_problem(value):
    try:
        Fernet(value)
    except (ValueError, TypeError):
        return "is not a Fernet key (URL-safe base64 of 32 bytes)"
    return None


def _shape_problem(key, value):
    """Why ``value`` (not empty) cannot be ``key``'s value, or None."""
    cls = key_class(key)
    if cls == "ssh":
        if not isinstance(value, dict):
            return f"is a {type(value).__name__}; an SSH key is a mapping with private_key and public_key"
        extra = sorted(str(field) for field in value if field not in SSH_FIELDS)
        if extra:
            return f"has {', '.join(extra)}; an SSH key holds only private_key and public_key"
        for field in SSH_FIELDS:
            if not isinstance(value.get(field), str) or not value[field]:
                return f"has no {field} but has the other half; remove both to have a new pair made"
        return None
    if not isinstance(value, str):
        return f"is a {type(value).__name__}, not a string (quote it: YAML read it as another type)"
    if cls == "uuid" and not _UUID.match(value):
        return "is not a UUID"
    if cls == "fernet":
        return _fernet_problem(value)
    if cls == "bcrypt_salt" and not _BCRYPT_SALT.match(value):
        return f"is not a bcrypt salt ({BCRYPT_SALT_LENGTH} characters of A-Z a-z 0-9 . /)"
    return None


def problems(existing):
    """
    Every reason ``existing`` (a loaded ``passwords.yml``) cannot be filled, one message a key
    naming it (``passwords.yml: nova_ssh_key: is a str; ...``); ``[]`` when it can. Empty values
    are never a problem. No message quotes a value.
    """
    if existing is None:
        return []
    if not isinstance(existing, dict):
        return [f"{FILE}: is a {type(existing).__name__}, not a mapping of keys to values"]
    found = []
    for key, value in existing.items():
        if not isinstance(key, str):
            found.append(f"{FILE}: key {key!r} is not a string")
            continue
        if is_empty(key, value):
            continue
        problem = _shape_problem(key, value)
        if problem:
            found.append(f"{FILE}: {key}: {problem}")
    return found


def template_keys(text):
    """
    The keys of kolla's ``passwords.yml`` template (``etc/kolla/passwords.yml`` of the installed
    kolla-ansible), in the template's order. Refused: a template that is not a mapping of names.
    """
    loaded = yaml.safe_load(text)
    if not isinstance(loaded, dict):
        raise PasswordsRefused([f"kolla's {FILE} template: is not a mapping of keys to values"])
    odd = [f"kolla's {FILE} template: key {key!r} is not a string" for key in loaded if not isinstance(key, str)]
    if odd:
        raise PasswordsRefused(odd)
    return list(loaded)


def _check_generators(generators, needed):
    missing = sorted(cls for cls in needed if not callable(generators.get(cls)))
    if missing:
        raise TypeError(f"generators has no callable for {', '.join(missing)}")


def _generated(key, generators):
    cls = key_class(key)
    value = generators[cls]()
    problem = _shape_problem(key, value)
    if problem:
        raise ValueError(f"the {cls} generator made a value for {key} that {problem}")
    return value


def fill(template_keys, existing, generators=None):
    """
    ``(filled, added_keys)``: ``existing`` (a loaded ``passwords.yml``, None for no file) with
    every key of ``template_keys`` present and every empty value generated by its class
    (:func:`key_class`), except the blank keys, which stay (or are added) empty.

    ``filled`` holds the template's keys in the template's order, then the keys only
    ``existing`` has, in its order; every non-empty existing value is the same object, never
    regenerated. ``added_keys`` lists, in ``filled``'s order, the keys whose entry is new or was
    empty and now holds a generated value: ``[]`` means ``filled == existing``.
    ``generators`` maps each class to a zero-argument callable (``default_generators()`` when
    None); each generated value is checked like an existing one. Refused
    (:class:`PasswordsRefused`): an ``existing`` :func:`problems` finds fault with.
    """
    found = problems(existing)
    if found:
        raise PasswordsRefused(found)
    existing = existing or {}
    order = list(dict.fromkeys(list(template_keys) + list(existing)))
    wanted = {
        key
        for key in order
        if key_class(key) != "blank" and (key not in existing or is_empty(key, existing[key]))
    }
    if wanted:
        generators = default_generators() if generators is None else generators
        _check_generators(generators, {key_class(key) for key in wanted})
    filled = {}
    for key in order:
        if key in wanted:
            filled[key] = _generated(key, generators)
        else:
            filled[key] = existing.get(key)
    added = [key for key in order if key in wanted or key not in existing]
    return filled, added


class _Dumper(yaml.SafeDumper):
    """PyYAML's safe dumper writing multi-line strings (the SSH keys) as literal blocks."""


def _str(dumper, value):
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def render(filled):
    """
    ``passwords.yml``'s text for ``filled``: ``---``, then one key a line in ``filled``'s order
    (no sorting, so the file is the same on every run); multi-line values as literal blocks.
    Loading the text gives ``filled`` back.
    """
    body = yaml.dump(filled, Dumper=_Dumper, default_flow_style=False, sort_keys=False, allow_unicode=True)
    return "---\n" + body
