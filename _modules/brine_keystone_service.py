"""
Keystone's service on a controller (docs/keystone.md): its files rendered from the inventory,
its database and schema, and the bootstrap of the admin and the catalog. The rules are
``brinelib.keystone``; this module reads the inventory and the secrets and runs the commands,
each an argument list: SQL on the MariaDB client's stdin, the admin password in
``keystone-manage bootstrap``'s environment, never on a command line. No return or message
holds a password.
"""

import json
import urllib.error
import urllib.request

import brinelib

brinelib.forget_if_changed()  # a library synced since it was imported replaces the old one
from brinelib import commands, keystone
from brinelib.errors import CommandExecutionError, InventoryProblem

__virtualname__ = "brine_keystone_service"
__load__ = ["config", "site", "preseed", "database", "schema", "bootstrap"]

MARIADB_CLIENT = "/usr/bin/mariadb"
MARIADB_SOCKET = "/run/mysqld/mysqld.sock"
KEYSTONE_MANAGE = "keystone-manage"


def __virtual__():
    return __virtualname__


def _inventory():
    return __salt__["brine_inventory.get"]()


def _secret(name):
    return __salt__["brine_secrets.get"](name)


def _wrap(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except (InventoryProblem, ValueError) as exc:
        raise CommandExecutionError(str(exc)) from None


def config(settings=None):
    """
    The text of ``keystone.conf`` (it holds the database password: for 0640 root:keystone files
    only, never shown in a diff).

    CLI Example:

    .. code-block:: bash

        salt-call brine_keystone_service.config --out=quiet
    """
    return _wrap(keystone.render_config, _inventory(), _secret("keystone_db_password"), settings)


def site(settings=None, minion_id=None):
    """
    This controller's Apache site: Keystone on its management address.

    CLI Example:

    .. code-block:: bash

        salt-call brine_keystone_service.site
    """
    inventory = _inventory()
    address = _wrap(keystone.management_address, inventory, minion_id or __grains__["id"])
    return _wrap(keystone.apache_site, address, settings)


def preseed():
    """
    The debconf answers that keep Debian's keystone postinst off any database, key and bootstrap.

    CLI Example:

    .. code-block:: bash

        salt-call brine_keystone_service.preseed
    """
    return keystone.preseed()


def _sql(text, secret, socket=None):
    """Run ``text`` as MariaDB's root. A syntax error quotes the statement (``near '...'``, cut
    anywhere): that part is dropped, and ``secret`` masked in what is left."""
    argv = [MARIADB_CLIENT, f"--socket={socket or MARIADB_SOCKET}", "-N", "-B"]
    proc = commands.run(argv, check=False, input=text, timeout=60)
    if proc.returncode:
        said = (proc.stderr.strip() or proc.stdout.strip()).split(" near '")[0][-500:]
        for shown in {secret, secret.replace("\\", "\\\\").replace("'", "\\'")}:
            said = said.replace(shown, "****")
        raise CommandExecutionError(f"mariadb client failed ({proc.returncode}): {said}")
    return proc.stdout


def database(test=False, settings=None, socket=None):
    """
    Keystone's database and its user (from the management network, with the secret
    ``keystone_db_password``, all privileges on that database only), made as MariaDB's root over
    the unix socket of this node, which must be a Synced Galera node: the statements replicate.
    Returns ``{"changed": [what was missing], "test": test}``.

    CLI Example:

    .. code-block:: bash

        salt-call brine_keystone_service.database test=True
    """
    inventory = _inventory()
    password = _secret("keystone_db_password")
    host = _wrap(keystone.database_host_pattern, inventory)
    check = _wrap(keystone.database_check_sql, password, host, settings)
    missing = _wrap(keystone.database_missing, _sql(check, password, socket=socket))
    if missing and not test:
        _sql(_wrap(keystone.database_sql, password, host, settings), password, socket=socket)
        still = _wrap(keystone.database_missing, _sql(check, password, socket=socket))
        if still:
            raise CommandExecutionError(f"Keystone's database: still missing after creating it: {', '.join(still)}")
    return {"changed": missing, "test": bool(test)}


def _manage(args, user, env=None, timeout=600):
    """``keystone-manage ARGS`` as the Keystone user (its log files stay the service's)."""
    argv = ["runuser", "-u", user, "--", KEYSTONE_MANAGE, *args]
    return commands.run(argv, check=False, timeout=timeout, env=env)


def schema(test=False, settings=None):
    """
    Keystone's schema up to date: ``keystone-manage db_sync`` when ``db_sync --check`` says it
    is not (2: a new or older schema, 4: contract outstanding), nothing when it is (0). Run on
    one controller only (salt/orch/keystone.sls). Returns ``{"changed": bool, "test": test}``.

    CLI Example:

    .. code-block:: bash

        salt-call brine_keystone_service.schema test=True
    """
    s = _wrap(keystone.checked, settings)
    proc = _manage(["db_sync", "--check"], s["user"])
    try:
        needed = keystone.db_sync_needed(proc.returncode)
    except ValueError as exc:
        said = (proc.stderr.strip() or proc.stdout.strip())[-500:]
        raise CommandExecutionError(f"{exc}: {said}") from None
    if needed and not test:
        done = _manage(["db_sync"], s["user"])
        if done.returncode:
            said = (done.stderr.strip() or done.stdout.strip())[-500:]
            raise CommandExecutionError(f"keystone-manage db_sync failed ({done.returncode}): {said}")
        if _manage(["db_sync", "--check"], s["user"]).returncode != keystone.DB_SYNC_CURRENT:
            raise CommandExecutionError("keystone-manage db_sync ran, but db_sync --check still finds work")
    return {"changed": needed, "test": bool(test)}


def _catalog_problems(inventory, address, password, s, timeout=300):
    """What the bootstrap still has to do, asked of this node's Keystone with the admin's password.
    The timeout is long because this is often the first request of a Keystone just started:
    mod_wsgi loads the application then (119 s measured on a busy 2-core host's UML guest)."""
    body = json.dumps(keystone.token_request(password, s)).encode()
    url = f"http://{address}:{s['port']}/v3/auth/tokens"
    request = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": "application/json"})
    # Straight to this node: never through a proxy the minion's environment may name.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=timeout) as response:
            token = json.loads(response.read().decode("utf-8"))
    except urllib.error.HTTPError as exc:
        if exc.code == 401:
            return ["the admin user, project or password is not there yet"]
        raise CommandExecutionError(f"Keystone at {address}:{s['port']} answered {exc.code} to a token request") from None
    except (OSError, ValueError) as exc:
        raise CommandExecutionError(f"Keystone at {address}:{s['port']} is not answering: {type(exc).__name__}") from None
    return keystone.catalog_problems(token, inventory, s)


def bootstrap(test=False, settings=None, minion_id=None):
    """
    The admin user, project and role with the secret ``keystone_admin_password``, and the
    identity service's public, internal and admin endpoints in the region: ``keystone-manage
    bootstrap`` (everything in its environment) unless a token issued by this node's Keystone
    for the admin already shows exactly those endpoints. Keystone must be serving here.
    Returns ``{"changed": bool, "problems": [...], "test": test}`` (no password).

    CLI Example:

    .. code-block:: bash

        salt-call brine_keystone_service.bootstrap test=True
    """
    inventory = _inventory()
    s = _wrap(keystone.checked, settings)
    address = _wrap(keystone.management_address, inventory, minion_id or __grains__["id"])
    password = _secret("keystone_admin_password")
    problems = _catalog_problems(inventory, address, password, s)
    if problems and not test:
        argv, env = _wrap(keystone.bootstrap_command, inventory, password, s)
        proc = _manage(argv[1:], s["user"], env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8", **env})
        if proc.returncode:
            said = (proc.stderr.strip() or proc.stdout.strip())[-500:]
            raise CommandExecutionError(f"keystone-manage bootstrap failed ({proc.returncode}): {said}")
        still = _catalog_problems(inventory, address, password, s)
        if still:
            raise CommandExecutionError(f"keystone-manage bootstrap ran, but: {'; '.join(still)}")
    return {"changed": bool(problems), "problems": problems, "test": bool(test)}
