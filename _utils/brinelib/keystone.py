"""
Keystone on the controllers (docs/keystone.md), the pure part: from the normalised inventory and
the formula settings (salt/keystone/defaults.yaml, the same as :data:`DEFAULTS`), the whole of
``keystone.conf``, the Apache site, the catalog's endpoints, the database account's SQL, what
``keystone-manage db_sync --check`` says, the ``keystone-manage bootstrap`` command and whether
a token's catalog shows the bootstrap done. ``_modules/brine_keystone_service.py`` runs things.

``keystone.conf`` is rendered whole with only Brine's keys, not patched into the package's file:
every other option keeps Keystone's default, a key Brine stops setting disappears from the host,
and the file (it holds the database password) has no part Brine does not know.
"""

import configparser
import copy
import io
import ipaddress
import re
import urllib.parse

from brinelib import acme, names
from brinelib.errors import InventoryProblem

# The formula's settings (salt/keystone/defaults.yaml holds the same; a unit test keeps them equal).
DEFAULTS = {
    "packages": ["keystone", "apache2", "libapache2-mod-wsgi-py3", "python3-pymysql", "python3-memcache"],
    # Debian's keystone runs itself under uwsgi on *:5000; Brine serves it from Apache instead.
    "package_service": "keystone",
    "service": "apache2",
    "user": "keystone",
    "group": "keystone",
    "config_file": "/etc/keystone/keystone.conf",
    "apache_dir": "/etc/apache2",
    "site": "brine-keystone",
    "preseed_file": "/var/lib/brine/keystone.preseed",
    "port": 5000,
    "wsgi_script": "/usr/bin/keystone-wsgi-public",
    # A lab guest has <= 1 GiB: one daemon process; raise both on real servers.
    "wsgi": {"processes": 1, "threads": 4},
    "region": "RegionOne",
    # [identity] password_hash_rounds: None keeps Keystone's (bcrypt, 12). Each password token
    # costs one hash; fewer rounds are cheaper and weaker (4 is bcrypt's least).
    "password_hash_rounds": None,
    "database": {"name": "keystone", "user": "keystone", "port": 3306,
                 # below HAProxy's 3600 s idle timeout of the mariadb listen
                 "connection_recycle_time": 600, "max_retries": -1},
    "repositories": {"fernet": "/etc/keystone/fernet-keys", "credential": "/etc/keystone/credential-keys"},
    "max_active": 3,  # [fernet_tokens] max_active_keys
    "cache_backend": "oslo_cache.memcache_pool",
    "admin": {"user": "admin", "project": "admin", "role": "admin", "service": "keystone"},
}

_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$")
_PATH = re.compile(r"^/[A-Za-z0-9_./-]*$")
_URL_PATH = "/v3"
# keystone-manage db_sync --check (keystone/cmd/cli.py, Zed): 0 up to date, 2 expand (a new or
# older database), 4 contract outstanding.
DB_SYNC_CURRENT = 0
DB_SYNC_NEEDED = (2, 4)


# The inventory secrets the controller role's Keystone reads.
SECRETS = ("keystone_db_password", "keystone_admin_password")


def check(inventory):
    """
    ``[(path, message)]`` (paths relative to ``brine:``) for what Keystone needs of an inventory
    with controllers: its two secrets. The VIPs' FQDNs are checked where they are used
    (:func:`vip_fqdn`): an inventory without them stays valid for everything else.
    """
    if not names.controllers(inventory):
        return []
    secrets = inventory.get("secrets") if isinstance(inventory.get("secrets"), dict) else {}
    return [(f"secrets:{name}", f"missing: the controller role's Keystone needs it (e.g. sdb://brine_secrets/{name})")
            for name in SECRETS if name not in secrets]


# --------------------------------------------------------------------------- settings


def merged(settings=None):
    """:data:`DEFAULTS` with ``settings`` on top (mappings merged one level deep, lists replaced)."""
    out = copy.deepcopy(DEFAULTS)
    for key, value in (settings or {}).items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = {**out[key], **value}
        else:
            out[key] = copy.deepcopy(value)
    return out


def _whole(value, low, high, what):
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InventoryProblem(f"keystone:{what}: {value!r} is not a whole number {low}-{high}")
    return value


def _plain(value, pattern, what):
    if not isinstance(value, str) or not pattern.match(value):
        raise InventoryProblem(f"keystone:{what}: {value!r} holds characters Brine does not write unquoted")
    return value


def checked(settings=None):
    """The merged settings, each value Brine writes into a file checked; InventoryProblem names the first bad one."""
    s = merged(settings)
    _whole(s["port"], 1, 65535, "port")
    _whole(s["wsgi"]["processes"], 1, 64, "wsgi:processes")
    _whole(s["wsgi"]["threads"], 1, 256, "wsgi:threads")
    _whole(s["max_active"], 2, 100, "max_active")
    _whole(s["database"]["port"], 1, 65535, "database:port")
    _whole(s["database"]["connection_recycle_time"], 1, 86400, "database:connection_recycle_time")
    retries = s["database"]["max_retries"]
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < -1:
        raise InventoryProblem(f"keystone:database:max_retries: {retries!r} is not -1 (for ever) or a count")
    for key in ("user", "group", "region", "site", "cache_backend"):
        _plain(s[key], _NAME, key)
    for key in ("name", "user"):
        _plain(s["database"][key], _NAME, f"database:{key}")
    for key in ("user", "project", "role", "service"):
        _plain(s["admin"][key], _NAME, f"admin:{key}")
    for key in ("config_file", "apache_dir", "wsgi_script", "preseed_file"):
        _plain(s[key], _PATH, key)
    for kind in ("fernet", "credential"):
        _plain(s["repositories"][kind], _PATH, f"repositories:{kind}")
    if s["password_hash_rounds"] is not None:
        _whole(s["password_hash_rounds"], 4, 31, "password_hash_rounds")
    return s


# --------------------------------------------------------------------------- inventory


def first_controller(inventory):
    """The controller that creates the database, runs ``db_sync`` and ``bootstrap``."""
    found = names.controllers(inventory)
    if not found:
        raise InventoryProblem("brine:hosts: no host has the controller role")
    return found[0]


def management_address(inventory, minion_id):
    """Controller ``minion_id``'s management address (Apache listens there)."""
    host = inventory["hosts"].get(minion_id)
    if host is None or names.CONTROLLER_ROLE not in host.get("roles", []):
        raise InventoryProblem(f"{minion_id!r} is not a controller")
    address = names.network_address(inventory, minion_id, "management")
    if not address:
        raise InventoryProblem(f"brine:hosts:{minion_id}:networks:management:address: missing, Keystone listens there")
    return str(ipaddress.ip_address(address))


def memcache_servers(inventory):
    """``[address:port]`` of every controller's memcached (the inventory's memcached port)."""
    port = (inventory.get("memcached") or {}).get("port", 11211)
    return [f"{management_address(inventory, mid)}:{port}" for mid in names.controllers(inventory)]


def vip_fqdn(inventory, name):
    """The FQDN of VIP ``name`` (internal, external): the endpoints and the database go through it."""
    vip = (inventory.get("vips") or {}).get(name)
    fqdn = (vip or {}).get("fqdn")
    if not fqdn:
        raise InventoryProblem(f"brine:vips:{name}:fqdn: missing, Keystone's endpoints need it")
    if not re.fullmatch(r"[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?", str(fqdn)):
        raise InventoryProblem(f"brine:vips:{name}:fqdn: {fqdn!r} is not a DNS name")
    return str(fqdn)


def database_host_pattern(inventory):
    """
    The MariaDB account host of Keystone's database user: the management network as
    ``address/netmask``. Keystone reaches the database through HAProxy, so MariaDB sees a
    controller's management address.
    """
    net = ipaddress.ip_network(inventory["networks"]["management"]["cidr"])
    if net.version != 4:
        raise InventoryProblem("brine:networks:management:cidr: MariaDB's address/netmask accounts are IPv4 only")
    return f"{net.network_address}/{net.netmask}"


# --------------------------------------------------------------------------- keystone.conf


def _secret_value(value, name):
    if not isinstance(value, str) or not value or not value.isprintable():
        raise InventoryProblem(f"brine:secrets:{name}: empty or holds an unprintable character")
    return value


def database_url(inventory, password, settings=None):
    """
    ``[database] connection``: PyMySQL through the internal VIP's FQDN (HAProxy sends it to the
    Galera writer). The password is URL-quoted: no ``@``, ``:``, ``/`` or oslo.config's ``$``
    survives unquoted.
    """
    s = checked(settings)
    db = s["database"]
    quoted = urllib.parse.quote(_secret_value(password, "keystone_db_password"), safe="")
    return (f"mysql+pymysql://{db['user']}:{quoted}@{vip_fqdn(inventory, 'internal')}:{db['port']}/"
            f"{db['name']}?charset=utf8")


def config_values(inventory, db_password, settings=None):
    """``{section: {key: value}}`` of ``keystone.conf``: the same on every controller."""
    s = checked(settings)
    return {
        "DEFAULT": {"log_dir": "/var/log/keystone", "use_stderr": "false"},
        "database": {
            "connection": database_url(inventory, db_password, s),
            "connection_recycle_time": str(s["database"]["connection_recycle_time"]),
            "max_retries": str(s["database"]["max_retries"]),
        },
        "cache": {
            "enabled": "true",
            "backend": s["cache_backend"],
            "memcache_servers": ",".join(memcache_servers(inventory)),
        },
        "token": {"provider": "fernet"},
        "fernet_tokens": {
            "key_repository": s["repositories"]["fernet"],
            "max_active_keys": str(s["max_active"]),
        },
        "credential": {"key_repository": s["repositories"]["credential"]},
        **({"identity": {"password_hash_rounds": str(s["password_hash_rounds"])}}
           if s["password_hash_rounds"] is not None else {}),
    }


def render_ini(values, heading="Managed by Salt (Brine: salt/keystone). Edits are overwritten."):
    """``values`` (``{section: {key: value}}``) as an ini file, sections and keys in the given order."""
    lines = [f"# {heading}"]
    for section, options in values.items():
        lines += ["", f"[{section}]"]
        for key, value in options.items():
            text = str(value)
            if "\n" in text or "\r" in text:
                raise InventoryProblem(f"keystone.conf [{section}] {key}: a value on more than one line")
            lines.append(f"{key} = {text}")
    return "\n".join(lines) + "\n"


def parse_ini(text):
    """``{section: {key: value}}`` of an ini text (the tests read rendered files back with it)."""
    parser = configparser.RawConfigParser(default_section="__none__", interpolation=None)
    parser.optionxform = str
    parser.read_file(io.StringIO(text))
    return {section: dict(parser.items(section)) for section in parser.sections()}


def render_config(inventory, db_password, settings=None):
    """The text of ``/etc/keystone/keystone.conf`` (0640 root:keystone: it holds the password)."""
    return render_ini(config_values(inventory, db_password, settings))


# --------------------------------------------------------------------------- Apache


def apache_site(address, settings=None):
    """
    The Apache site serving Keystone's WSGI application on ``address`` (the controller's own
    management address; HAProxy holds the VIPs) and the settings' port, in one mod_wsgi daemon
    group of ``wsgi:processes`` x ``wsgi:threads``, run as the Keystone user.
    """
    s = checked(settings)
    address = str(ipaddress.ip_address(address))
    port, wsgi = s["port"], s["wsgi"]
    return "\n".join([
        "# Managed by Salt (Brine: salt/keystone). Keystone's API on this controller.",
        f"Listen {address}:{port}",
        "",
        f"<VirtualHost {address}:{port}>",
        f"    WSGIDaemonProcess keystone-public processes={wsgi['processes']} threads={wsgi['threads']} "
        f"user={s['user']} group={s['group']} display-name=%{{GROUP}}",
        "    WSGIProcessGroup keystone-public",
        f"    WSGIScriptAlias / {s['wsgi_script']}",
        "    WSGIApplicationGroup %{GLOBAL}",
        "    WSGIPassAuthorization On",
        "    LimitRequestBody 114688",
        "    ErrorLogFormat \"%{cu}t %M\"",
        "    ErrorLog ${APACHE_LOG_DIR}/keystone.log",
        "    CustomLog ${APACHE_LOG_DIR}/keystone_access.log combined",
        "",
        f"    <Directory {s['wsgi_script'].rsplit('/', 1)[0] or '/'}>",
        "        Require all granted",
        "    </Directory>",
        "</VirtualHost>",
        "",
    ])


# The answers that keep Debian's keystone postinst away from any database, keys and bootstrap.
PRESEED = (
    ("keystone/configure_db", "boolean", "false"),
    ("keystone/create-admin-tenant", "boolean", "false"),
    ("keystone/register-endpoint", "boolean", "false"),
)


def preseed():
    """debconf selections (``debconf-set-selections`` input) for Debian's keystone package."""
    return "".join(f"keystone {question} {kind} {value}\n" for question, kind, value in PRESEED)


# --------------------------------------------------------------------------- catalog and bootstrap


def endpoints(inventory, settings=None):
    """``{interface: url}``: public on the external VIP's FQDN (https when HAProxy serves the
    external VIP over TLS, ``acme:enabled``), internal and admin on the internal one (http)."""
    s = checked(settings)
    internal = f"http://{vip_fqdn(inventory, 'internal')}:{s['port']}{_URL_PATH}"
    scheme = "https" if acme.enabled(inventory) else "http"
    public = f"{scheme}://{vip_fqdn(inventory, 'external')}:{s['port']}{_URL_PATH}"
    return {"public": public, "internal": internal, "admin": internal}


def bootstrap_command(inventory, admin_password, settings=None):
    """
    ``(argv, env)`` of ``keystone-manage bootstrap``: everything in the environment, the
    password too (``OS_BOOTSTRAP_PASSWORD``), so ``ps`` shows nothing but the verb.
    """
    s = checked(settings)
    urls = endpoints(inventory, s)
    env = {
        "OS_BOOTSTRAP_USERNAME": s["admin"]["user"],
        "OS_BOOTSTRAP_PASSWORD": _secret_value(admin_password, "keystone_admin_password"),
        "OS_BOOTSTRAP_PROJECT_NAME": s["admin"]["project"],
        "OS_BOOTSTRAP_ROLE_NAME": s["admin"]["role"],
        "OS_BOOTSTRAP_SERVICE_NAME": s["admin"]["service"],
        "OS_BOOTSTRAP_ADMIN_URL": urls["admin"],
        "OS_BOOTSTRAP_INTERNAL_URL": urls["internal"],
        "OS_BOOTSTRAP_PUBLIC_URL": urls["public"],
        "OS_BOOTSTRAP_REGION_ID": s["region"],
    }
    return ["keystone-manage", "bootstrap"], env


def token_request(admin_password, settings=None):
    """The body of ``POST /v3/auth/tokens``: the admin user, scoped to the admin project."""
    s = checked(settings)
    domain = {"id": "default"}
    return {"auth": {
        "identity": {"methods": ["password"], "password": {"user": {
            "name": s["admin"]["user"], "domain": domain, "password": admin_password}}},
        "scope": {"project": {"name": s["admin"]["project"], "domain": domain}},
    }}


def catalog_problems(token, inventory, settings=None):
    """
    What the bootstrap still has to do, seen in a token's body (``POST /v3/auth/tokens``):
    ``[]`` when the identity service has exactly the three endpoints in the region, else one
    line per difference (a missing service, a missing, extra or moved endpoint).
    """
    s = checked(settings)
    wanted = endpoints(inventory, s)
    catalog = ((token or {}).get("token") or {}).get("catalog")
    if not isinstance(catalog, list):
        return ["the token holds no catalog"]
    services = [svc for svc in catalog if isinstance(svc, dict) and svc.get("type") == "identity"]
    if not services:
        return ["no identity service in the catalog"]
    problems = []
    found = {}
    for endpoint in services[0].get("endpoints") or []:
        if endpoint.get("region_id", endpoint.get("region")) != s["region"]:
            continue
        found.setdefault(endpoint.get("interface"), []).append(endpoint.get("url"))
    for interface, url in wanted.items():
        urls = found.get(interface, [])
        if urls != [url]:
            problems.append(f"{interface} endpoint in {s['region']}: {', '.join(map(str, urls)) or 'none'}, wanted {url}")
    return problems


def db_sync_needed(returncode):
    """
    Whether ``keystone-manage db_sync`` must run, from ``db_sync --check``'s exit status: 0 no;
    2 (a new or older schema) or 4 (contract outstanding) yes; anything else is an error (the
    database did not answer, keystone.conf is wrong) and raises.
    """
    if returncode == DB_SYNC_CURRENT:
        return False
    if returncode in DB_SYNC_NEEDED:
        return True
    raise ValueError(f"keystone-manage db_sync --check failed ({returncode})")


# --------------------------------------------------------------------------- database account


def _sql_literal(value):
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


def database_sql(password, host, settings=None):
    """
    SQL (on the client's stdin, never a command line) making Keystone's database and its user at
    ``host`` with ``password`` and all privileges on that database only. Idempotent.
    """
    s = checked(settings)
    db, user = s["database"]["name"], s["database"]["user"]
    _plain(host, re.compile(r"^[0-9./]{7,31}$"), "database host")
    account = f"'{user}'@'{host}'"
    literal = _sql_literal(_secret_value(password, "keystone_db_password"))
    return (f"CREATE DATABASE IF NOT EXISTS `{db}` CHARACTER SET utf8mb3;\n"
            f"CREATE USER IF NOT EXISTS {account} IDENTIFIED BY {literal};\n"
            f"ALTER USER {account} IDENTIFIED BY {literal};\n"
            f"GRANT ALL PRIVILEGES ON `{db}`.* TO {account};\n")


def database_check_sql(password, host, settings=None):
    """SQL printing three 0/1 columns: the database exists, the user has the password, it has the grant."""
    s = checked(settings)
    db, user = s["database"]["name"], s["database"]["user"]
    _plain(host, re.compile(r"^[0-9./]{7,31}$"), "database host")
    literal = _sql_literal(_secret_value(password, "keystone_db_password"))
    return (f"SELECT (SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME='{db}'), "
            f"(SELECT COUNT(*) FROM mysql.global_priv WHERE User='{user}' AND Host='{host}' AND "
            f"JSON_VALUE(Priv, '$.authentication_string') = PASSWORD({literal})), "
            f"(SELECT COUNT(*) FROM mysql.db WHERE Db='{db}' AND User='{user}' AND Host='{host}' AND "
            f"Select_priv='Y' AND Insert_priv='Y' AND Update_priv='Y' AND Delete_priv='Y' AND "
            f"Create_priv='Y' AND Drop_priv='Y' AND Alter_priv='Y' AND Index_priv='Y' AND References_priv='Y');\n")


def database_missing(check_output):
    """What :func:`database_check_sql`'s output says is missing: ``[database, password, grant]`` names."""
    fields = str(check_output).split()
    if len(fields) != 3 or not all(f in ("0", "1") for f in fields):
        raise ValueError(f"unexpected answer to the database check: {len(fields)} fields")
    return [name for name, value in zip(("database", "user", "grant"), fields) if value == "0"]
