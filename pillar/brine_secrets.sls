#!py
"""
brine_secrets: the values of the inventory's ``sdb://brine_secrets/KEY`` references that this
minion's roles need (ROLE_SECRETS), generated once on the master with ``secrets.token_urlsafe``
and kept in <master cachedir>/brine/secrets/KEY (directory 0700, files 0600). Pillar goes to
that minion only; _modules/brine_secrets.py resolves the references on the minion.
"""
import os
import re
import secrets

# Which secrets each role reads. A host gets only its roles' secrets.
ROLE_SECRETS = {
    "controller": (
        "mariadb_root_password",
        "galera_sst_password",
        "galera_monitor_password",
        "haproxy_stats_password",
        "keepalived_auth",
        "rabbitmq_password",
        "rabbitmq_erlang_cookie",
        "keystone_admin_password",
        "keystone_db_password",
    ),
}
_REF = re.compile(r"^sdb://brine_secrets/([A-Za-z0-9_.-]+)$")


def _value(directory, key):
    path = os.path.join(directory, key)
    try:
        with open(path, encoding="utf-8") as fh:
            value = fh.read().strip()
        if value:
            return value
    except FileNotFoundError:
        pass
    value = secrets.token_urlsafe(24)
    tmp = f"{path}.tmp.{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(value + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    try:
        os.link(tmp, path)  # first writer wins: two pillar renders never hand out two values
    except FileExistsError:
        pass
    finally:
        os.unlink(tmp)
    with open(path, encoding="utf-8") as fh:
        return fh.read().strip()


def _inventory():
    """The inventory file that pillar/brine/init.sls serves (read again: pillar files do not see
    each other's output); an unreadable one gives no secrets (brine.validate reports it)."""
    from salt.utils import yaml as salt_yaml

    rel = __salt__["config.get"]("brine_inventory_file", "brine/example-lab.yaml")
    for root in __opts__.get("pillar_roots", {}).get(saltenv, []):
        path = os.path.join(root, rel)
        if os.path.isfile(path):
            try:
                with open(path, encoding="utf-8") as fh:
                    loaded = salt_yaml.safe_load(fh)
            except Exception:  # pylint: disable=broad-except
                return {}
            return loaded if isinstance(loaded, dict) else {}
    return {}


def run():
    if __opts__.get("__role") != "master":
        return {}  # masterless: the caller's pillar supplies brine_secrets
    inventory = _inventory()
    me = (inventory.get("hosts") or {}).get(__opts__["id"]) or {}
    roles = me.get("roles") or []
    wanted = {name for role in roles if isinstance(role, str) for name in ROLE_SECRETS.get(role, ())}
    refs = inventory.get("secrets") or {}
    directory = os.path.join(__opts__["cachedir"], "brine", "secrets")
    os.makedirs(directory, mode=0o700, exist_ok=True)
    os.chmod(directory, 0o700)
    out = {}
    for name in sorted(wanted):
        match = _REF.match(str(refs.get(name, "")))
        if match:
            out[match.group(1)] = _value(directory, match.group(1))
    return {"brine_secrets": out} if out else {}
