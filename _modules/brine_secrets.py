"""
The inventory's secrets (``brine:secrets``), resolved on the minion.

Each inventory secret is a reference, ``sdb://PROFILE/KEY``. The profile ``brine_secrets`` is
Brine's own: the master generates each such secret once, keeps it in a file only root can read
(pillar/brine_secrets.sls) and sends it in pillar to the hosts whose roles need it. Any other
profile is the operator's Salt sdb (Vault, a YAML file, ...) and is read with ``sdb.get``.

Values never appear in a return that Salt logs: states use them in templates rendered into
files of mode 0600/0640, and ``get`` is the only public function that returns one.
"""

import re

import brinelib

brinelib.forget_if_changed()  # a library synced since it was imported replaces the old one
from brinelib.errors import CommandExecutionError

__virtualname__ = "brine_secrets"

BRINE_PROFILE = "brine_secrets"
PILLAR_KEY = "brine_secrets"
_REF = re.compile(r"^sdb://(?P<profile>[A-Za-z0-9_.-]+)/(?P<key>\S+)$")


def __virtual__():
    return __virtualname__


def parse(ref):
    """``(profile, key)`` of an ``sdb://PROFILE/KEY`` reference; ValueError otherwise."""
    match = _REF.match(ref if isinstance(ref, str) else "")
    if not match:
        raise ValueError("not an sdb://PROFILE/KEY reference")
    return match.group("profile"), match.group("key")


def resolve(name, refs, pillar_values, sdb_get):
    """
    Pure: the value of inventory secret ``name``, given the inventory's references, the pillar
    values of Brine's own profile and a function reading any other sdb URI. Errors name the
    secret and the reference, never a value.
    """
    if name not in refs:
        raise CommandExecutionError(f"brine:secrets:{name}: not in the inventory (add a reference, e.g. sdb://{BRINE_PROFILE}/{name})")
    ref = refs[name]
    try:
        profile, key = parse(ref)
    except ValueError:
        raise CommandExecutionError(f"brine:secrets:{name}: {ref!r} is not an sdb://PROFILE/KEY reference") from None
    if profile == BRINE_PROFILE:
        value = (pillar_values or {}).get(key)
        where = f"pillar {PILLAR_KEY}:{key} (generated on the master for hosts whose roles need it)"
    else:
        value = sdb_get(ref)
        where = ref
        if value == ref:  # sdb.get returns the URI itself when the profile has no value
            value = None
    if not isinstance(value, str) or not value:
        raise CommandExecutionError(f"brine:secrets:{name}: no value at {where}")
    return value


def get(name):
    """
    The value of the inventory's secret ``name`` (``brine:secrets:<name>``).

    CLI Example:

    .. code-block:: bash

        salt-call brine_secrets.get mariadb_root_password
    """
    refs = (__pillar__.get("brine") or {}).get("secrets") or {}
    return resolve(name, dict(refs), dict(__pillar__.get(PILLAR_KEY) or {}), lambda uri: __salt__["sdb.get"](uri))
