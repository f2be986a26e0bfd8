"""
MariaDB Galera on the controllers: the server's configuration, every node's position and
status, and the steps a recovery or a formation runs on a node.

The pure core never touches the system; tests/unit/test_brine_galera.py covers it:

* :func:`parse_grastate` reads ``grastate.dat`` (uuid, seqno, safe_to_bootstrap), or says why
  it cannot (``{"state": "unreadable", "reason": ...}``);
* :func:`parse_recover_log` reads ``mariadbd --wsrep-recover``'s log
  (``WSREP: Recovered position: UUID:SEQNO``);
* :func:`set_safe_to_bootstrap` edits that one line of a ``grastate.dat`` text, every other
  byte kept;
* :func:`render_config` renders ``/etc/mysql/mariadb.conf.d/60-brine-galera.cnf``;
* :func:`parse_status` and :func:`health` judge ``SHOW GLOBAL STATUS``: healthy only when
  Synced (``wsrep_local_state`` 4), ``Primary`` and ``wsrep_ready`` ON.

The plan that decides a recovery or a formation from every node's position is
``brinelib.galera``; the runner (``salt-run brine.galera_recover``, ``brine.galera_form``)
carries it out through this module's live layer (``position``, ``status``, ``bootstrap``,
``start``, ``ensure_users``), which runs on the controllers with argument lists (no shell) and
secrets only on stdin or in 0600 files.
"""

import logging
import os
import re
import subprocess
import tempfile

import brinelib

brinelib.forget_if_changed()  # a library synced since it was imported replaces the old one
from brinelib.galera import LOCAL_STATES, SEQNO_MAX, UUID, ZERO_UUID, reason_text, unreadable
from brinelib.errors import CommandExecutionError

log = logging.getLogger(__name__)

__virtualname__ = "brine_galera"
# What Salt offers (salt-call, the states' Jinja); the rest is the pure core for the tests.
__load__ = ["position", "status", "bootstrap", "new_cluster", "start", "has_state", "formation_status",
            "ensure_users", "render_config", "render_sst_auth", "render_client_options"]

_RECOVERED = re.compile(r"WSREP: Recovered position:\s*([0-9a-fA-F-]{36}):(-?\d+)")
# wsrep_local_state values (Galera's numbering).
SYNCED = 4
STATUS_VARIABLES = ("wsrep_local_state", "wsrep_cluster_status", "wsrep_ready", "wsrep_cluster_size",
                    "wsrep_last_committed", "wsrep_cluster_state_uuid")
HEALTH_VARIABLES = ("wsrep_local_state", "wsrep_cluster_status", "wsrep_ready")

# Debian 12's paths (mariadb-server 10.11, galera-4 26.4).
DEFAULTS = {
    "datadir": "/var/lib/mysql",
    "socket": "/run/mysqld/mysqld.sock",
    "pid_file": "/run/mysqld/mysqld.pid",
    "mariadbd": "/usr/sbin/mariadbd",
    "client": "/usr/bin/mariadb",
    "new_cluster": "/usr/bin/galera_new_cluster",
    "service": "mariadb",
    "user": "mysql",
}


def __virtual__():
    return __virtualname__


# --------------------------------------------------------------------------- pure: parsing


def parse_grastate(text):
    """
    ``{"state": "down", "uuid", "seqno", "safe_to_bootstrap", "source": "grastate"}`` from the
    text of a ``grastate.dat``, or :func:`unreadable` with the reason. A missing
    ``safe_to_bootstrap`` line (files written before Galera 3.19) reads as 0.
    """
    if not isinstance(text, str):
        return unreadable("grastate.dat is not text")
    fields = {}
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition(":")
        if not sep:
            return unreadable(f"grastate.dat line {number} is not 'key: value': {line[:60]!r}")
        key = key.strip()
        if key in fields:
            return unreadable(f"grastate.dat has {key} twice")
        fields[key] = value.strip()
    uuid = fields.get("uuid")
    if uuid is None:
        return unreadable("grastate.dat has no uuid line")
    if not UUID.match(uuid.lower()):
        return unreadable(f"grastate.dat uuid {uuid[:60]!r} is not a UUID")
    seqno = fields.get("seqno")
    if seqno is None:
        return unreadable("grastate.dat has no seqno line")
    if not re.fullmatch(r"-?\d{1,19}", seqno) or not -1 <= int(seqno) <= SEQNO_MAX:
        return unreadable(f"grastate.dat seqno {seqno[:30]!r} is not a number >= -1")
    safe = fields.get("safe_to_bootstrap", "0")
    if safe not in ("0", "1"):
        return unreadable(f"grastate.dat safe_to_bootstrap {safe[:30]!r} is not 0 or 1")
    return {"state": "down", "uuid": uuid.lower(), "seqno": int(seqno), "safe_to_bootstrap": int(safe), "source": "grastate"}


def parse_recover_log(text):
    """
    ``(uuid, seqno)`` from the log of ``mariadbd --wsrep-recover`` (its last ``Recovered
    position`` line), or ``(None, reason)``.
    """
    matches = _RECOVERED.findall(text or "")
    if not matches:
        if "skipping position recovery" in (text or ""):
            return None, "wsrep-recover skipped position recovery (wsrep is off in the configuration)"
        # The first error is the cause ("InnoDB: Invalid log header checksum"); the last is "Aborting".
        errors = [line.split("[ERROR]", 1)[1].strip() for line in (text or "").splitlines() if "[ERROR]" in line]
        cause = errors[0] if errors else ((text or "").strip().splitlines() or ["no output"])[-1]
        return None, f"wsrep-recover found no position: {cause}"
    uuid, seqno = matches[-1]
    uuid = uuid.lower()
    if not UUID.match(uuid) or not -1 <= int(seqno) <= SEQNO_MAX:
        return None, f"wsrep-recover printed an invalid position {uuid}:{seqno}"
    return uuid, int(seqno)


def combine_position(grastate, recovered):
    """
    The position of a stopped node from its parsed ``grastate.dat`` and, when its seqno is -1,
    the ``(uuid, seqno_or_reason)`` of :func:`parse_recover_log` (``None`` when not run).
    """
    if grastate.get("state") != "down":
        return grastate
    if grastate["seqno"] >= 0:
        return grastate
    if recovered is None:
        return unreadable("seqno -1 in grastate.dat (unclean stop) and no wsrep-recover position")
    uuid, seqno = recovered
    if uuid is None:
        return unreadable(f"seqno -1 in grastate.dat; {seqno}")
    if grastate["uuid"] != ZERO_UUID and uuid != ZERO_UUID and uuid != grastate["uuid"]:
        return unreadable(f"grastate.dat says cluster {grastate['uuid']} but InnoDB recovered {uuid}")
    if uuid == ZERO_UUID:
        uuid = grastate["uuid"]
    return dict(grastate, uuid=uuid, seqno=seqno, source="wsrep-recover")


def set_safe_to_bootstrap(text):
    """
    ``text`` of a ``grastate.dat`` with ``safe_to_bootstrap: 1``: that line edited (or, in a
    file from before Galera 3.19, added after ``seqno``); every other byte kept. ValueError when
    the text is not a grastate that :func:`parse_grastate` reads.
    """
    parsed = parse_grastate(text)
    if parsed["state"] != "down":
        raise ValueError(parsed["reason"])
    pattern = re.compile(r"^(safe_to_bootstrap:[ \t]*)[01]([ \t]*)$", re.MULTILINE)
    if pattern.search(text):
        return pattern.sub(lambda m: f"{m.group(1)}1{m.group(2)}", text, count=1)
    seqno_line = re.search(r"^seqno:.*$", text, re.MULTILINE)
    end = seqno_line.end()
    return f"{text[:end]}\nsafe_to_bootstrap: 1{text[end:]}"


def parse_status(text):
    """``{variable: value}`` from ``mariadb -N -B`` output of ``SHOW GLOBAL STATUS`` (tab-separated)."""
    values = {}
    for line in (text or "").splitlines():
        name, sep, value = line.partition("\t")
        if sep:
            values[name.strip().lower()] = value.strip()
    return values


def health(values):
    """
    ``(http_code, text)``: 200 only when the node is Synced (``wsrep_local_state`` 4), in the
    ``Primary`` component and ``wsrep_ready`` is ON; 503 otherwise, saying why.
    """
    if not values:
        return 503, "mariadb is not answering"
    state = values.get("wsrep_local_state")
    cluster = values.get("wsrep_cluster_status")
    ready = values.get("wsrep_ready")
    problems = []
    if state != str(SYNCED):
        label = LOCAL_STATES.get(int(state), "unknown") if state and state.isdigit() else "unknown"
        problems.append(f"wsrep_local_state {state} ({label})")
    if cluster != "Primary":
        problems.append(f"wsrep_cluster_status {cluster}")
    if (ready or "").upper() != "ON":
        problems.append(f"wsrep_ready {ready}")
    if problems:
        return 503, "not synced: " + ", ".join(problems)
    return 200, "synced, primary, ready"


def summarise_status(values, running=True):
    """What :func:`status` returns from the parsed variables."""
    code, why = health(values)
    out = {"running": bool(running), "synced": code == 200, "health": why}
    for name in STATUS_VARIABLES:
        if name in values:
            out[name] = values[name]
    return out


# --------------------------------------------------------------------------- pure: configuration


def render_config(node, address, peers, cluster_name="brine", sst_method="mariabackup",
                  buffer_pool_size="128M", port=3306, gcache_size="128M", extra=None):
    """
    The text of ``60-brine-galera.cnf`` for the node named ``node`` whose management address is
    ``address``; ``peers`` are every controller's management addresses (this one included), in
    inventory order. The SST credentials are not here: they are in a separate 0640 root:mysql
    file (:func:`render_sst_auth`). ``extra``: more ``key = value`` lines for ``[galera]``.

    CLI Example:

    .. code-block:: bash

        salt-call brine_galera.render_config ubuntu1 10.10.0.11 '[10.10.0.11, 10.10.0.12, 10.10.0.13]'
    """
    peer_list = ",".join(str(p) for p in peers)
    lines = [
        "# Managed by Salt (Brine: salt/galera). MariaDB Galera on this controller.",
        "[mysqld]",
        f"bind-address = {address}",
        f"port = {int(port)}",
        "binlog_format = ROW",
        "default_storage_engine = InnoDB",
        "innodb_autoinc_lock_mode = 2",
        f"innodb_buffer_pool_size = {buffer_pool_size}",
        "",
        "[galera]",
        "wsrep_on = ON",
        "wsrep_provider = /usr/lib/galera/libgalera_smm.so",
        f"wsrep_cluster_name = {cluster_name}",
        f"wsrep_cluster_address = gcomm://{peer_list}",
        f"wsrep_node_address = {address}",
        f"wsrep_node_name = {node}",
        f"wsrep_sst_method = {sst_method}",
        f"wsrep_provider_options = gcache.size={gcache_size}",
    ]
    for key, value in sorted((extra or {}).items()):
        lines.append(f"{key} = {value}")
    return "\n".join(lines) + "\n"


def render_sst_auth(user, password):
    """
    The text of the SST credentials file (0640 root:mysql): ``wsrep_sst_auth``.

    CLI Example:

    .. code-block:: bash

        # a made-up password: the states pass the real one from brine_secrets.get
        salt-call brine_galera.render_sst_auth brine_sst example-only
    """
    if any(c in password for c in "\n\r:") or any(c in user for c in "\n\r:"):
        raise ValueError("the SST user and password must not contain ':' or line breaks")
    return f"# Managed by Salt (Brine: salt/galera). Do not show.\n[galera]\nwsrep_sst_auth = {user}:{password}\n"


def render_client_options(user, password, socket):
    """
    A client option file (0600) for ``mariadb --defaults-file``: credentials off the command line.

    CLI Example:

    .. code-block:: bash

        # a made-up password: the states pass the real one from brine_secrets.get
        salt-call brine_galera.render_client_options brine_monitor example-only /run/mysqld/mysqld.sock
    """
    if any(c in password for c in "\n\r") or any(c in user for c in "\n\r"):
        raise ValueError("user and password must not contain line breaks")
    quoted = password.replace("\\", "\\\\").replace('"', '\\"')
    return f"[client]\nuser = {user}\npassword = \"{quoted}\"\nsocket = {socket}\n"


# --------------------------------------------------------------------------- pure: accounts


def account_sql(name, password, privileges, host="localhost"):
    """
    SQL (sent on stdin, never on a command line) that makes account ``name@host`` exist with
    ``password`` and exactly ``privileges`` on ``*.*`` (``USAGE`` for none). Idempotent.
    """
    for value in (name, host):
        if not re.fullmatch(r"[A-Za-z0-9_.%-]{1,80}", value):
            raise ValueError(f"account name part {value!r} is not plain")
    for privilege in privileges:
        if not re.fullmatch(r"[A-Z ]{3,40}", privilege):
            raise ValueError(f"privilege {privilege!r} is not plain")
    literal = "'" + password.replace("\\", "\\\\").replace("'", "\\'") + "'"
    account = f"'{name}'@'{host}'"
    grant = ", ".join(privileges) if privileges else "USAGE"
    return (f"CREATE USER IF NOT EXISTS {account} IDENTIFIED BY {literal};\n"
            f"ALTER USER {account} IDENTIFIED BY {literal};\n"
            f"REVOKE ALL PRIVILEGES, GRANT OPTION FROM {account};\n"
            f"GRANT {grant} ON *.* TO {account};\n")


def root_sql(password):
    """SQL giving root@localhost the password while keeping unix_socket login for the OS root."""
    literal = "'" + password.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return ("ALTER USER 'root'@'localhost' IDENTIFIED VIA unix_socket OR mysql_native_password "
            f"USING PASSWORD({literal});\n")


def account_check_sql(name, password, host="localhost"):
    """SQL printing 1 when ``name@host`` exists with ``password``, else 0."""
    literal = "'" + password.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return (f"SELECT COUNT(*) FROM mysql.global_priv WHERE User='{name}' AND Host='{host}' AND "
            f"JSON_VALUE(Priv, '$.authentication_string') = PASSWORD({literal});\n")


# --------------------------------------------------------------------------- live layer


def _paths(**overrides):
    paths = dict(DEFAULTS)
    paths.update({k: v for k, v in overrides.items() if v is not None})
    paths.setdefault("grastate", None)
    if not paths["grastate"]:
        paths["grastate"] = os.path.join(paths["datadir"], "grastate.dat")
    return paths


def _pid_alive(pid_file):
    try:
        with open(pid_file, encoding="ascii") as fh:
            pid = int(fh.read().strip())
        os.kill(pid, 0)
        return True
    except (OSError, ValueError):
        return False


def query_status(socket=None, defaults_file=None, client=None, timeout=5):
    """
    ``(running, values)``: the wsrep status variables over the unix socket, as root by
    unix_socket (or with the credentials of ``defaults_file``); ``(False, {})`` when the server
    does not answer.
    """
    paths = _paths(socket=socket, client=client)
    argv = [paths["client"]]
    if defaults_file:
        argv.append(f"--defaults-file={defaults_file}")
    argv += [f"--socket={paths['socket']}", "-N", "-B", "--connect-timeout=3", "-e",
             "SHOW GLOBAL STATUS WHERE Variable_name IN (%s)" % ", ".join(f"'{v}'" for v in STATUS_VARIABLES)]
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False, {}
    if proc.returncode:
        return False, {}
    return True, parse_status(proc.stdout)


def status(socket=None, defaults_file=None):
    """
    This node's Galera status through the unix socket: ``running``, ``synced`` (Synced, Primary,
    ready), ``health`` and the wsrep variables.

    CLI Example:

    .. code-block:: bash

        salt-call brine_galera.status
    """
    running, values = query_status(socket=socket, defaults_file=defaults_file)
    return summarise_status(values, running=running) if running else {"running": False, "synced": False,
                                                                       "health": "mariadb is not answering"}


def recover_command(defaults_file=None, datadir=None, user=None, log_file=None, mariadbd=None):
    """The argument list of ``mariadbd --wsrep-recover`` (never a normal start)."""
    paths = _paths(datadir=datadir, user=user, mariadbd=mariadbd)
    argv = [paths["mariadbd"]]
    if defaults_file:
        argv.append(f"--defaults-file={defaults_file}")
    argv += [f"--datadir={paths['datadir']}", f"--user={paths['user']}", "--wsrep-recover",
             "--skip-networking", f"--log-error={log_file}"]
    return argv


def read_position(grastate_path, recover, running=False):
    """
    This node's position: the parsed ``grastate.dat`` at ``grastate_path``, and when its seqno
    is -1 the position ``recover()`` (returning the log text of ``mariadbd --wsrep-recover``)
    finds. ``running``: mariadbd runs here, so the files say nothing (unreadable).
    """
    if running:
        return unreadable("mariadbd is running (its position is in memory)")
    try:
        with open(grastate_path, encoding="utf-8", errors="strict") as fh:
            text = fh.read(65536)
    except FileNotFoundError:
        return unreadable(f"no {grastate_path} (never joined a cluster, or the datadir is gone)")
    except (OSError, UnicodeDecodeError) as exc:
        return unreadable(f"cannot read {grastate_path}: {exc}")
    parsed = parse_grastate(text)
    if parsed["state"] != "down" or parsed["seqno"] >= 0:
        return parsed
    try:
        log_text = recover()
    except (OSError, subprocess.SubprocessError) as exc:
        return combine_position(parsed, (None, f"wsrep-recover did not run: {exc}"))
    return combine_position(parsed, parse_recover_log(log_text))


def run_recover(defaults_file=None, datadir=None, user=None, mariadbd=None, prefix=(), timeout=300):
    """Run ``mariadbd --wsrep-recover`` and return its log text (what the server printed)."""
    fd, log_file = tempfile.mkstemp(prefix="brine-wsrep-recover.", suffix=".log")
    os.close(fd)
    try:
        paths = _paths(user=user)
        if paths["user"] != "root":
            import pwd

            try:
                entry = pwd.getpwnam(paths["user"])
                os.chown(log_file, entry.pw_uid, entry.pw_gid)
            except KeyError:
                pass
        argv = list(prefix) + recover_command(defaults_file, datadir, user, log_file, mariadbd)
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
        with open(log_file, encoding="utf-8", errors="replace") as fh:
            text = fh.read()
        return text + proc.stdout + proc.stderr
    finally:
        os.unlink(log_file)


def position(datadir=None, defaults_file=None, socket=None, pid_file=None, user=None):
    """
    This node's Galera position for a full-outage recovery: ``{"state": "down", "uuid",
    "seqno", "safe_to_bootstrap", "source"}`` from ``grastate.dat`` (and ``mariadbd
    --wsrep-recover`` when the seqno there is -1: an unclean stop), ``{"state": "running", ...}``
    when mariadbd answers, or ``{"state": "unreadable", "reason"}``. Never starts a normal server.
    The arguments override Debian's paths (and the server's option file and user).

    CLI Example:

    .. code-block:: bash

        salt-call brine_galera.position
    """
    paths = _paths(datadir=datadir, socket=socket, pid_file=pid_file, user=user)
    running, values = query_status(socket=paths["socket"])
    if running:
        return dict(summarise_status(values), state="running")
    unit = _unit_state(DEFAULTS["service"]) if datadir is None else None
    if unit in ("active", "activating", "deactivating", "reloading", "refreshing"):
        # Starting (galera_recovery, a join attempt, an SST) or stopping: the files are in flux.
        return unreadable(f"mariadb.service is {unit}: its position is not on disk yet")
    return read_position(paths["grastate"], lambda: run_recover(defaults_file, paths["datadir"], user=paths["user"]),
                         running=_pid_alive(paths["pid_file"]))


def _unit_state(service):
    """``systemctl is-active`` of ``service`` (None without systemctl)."""
    try:
        proc = subprocess.run(["systemctl", "is-active", service], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout.strip() or None


def _replace_atomically(path, text):
    st = os.stat(path)
    directory = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(prefix=".grastate.", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chown(tmp, st.st_uid, st.st_gid)
        os.chmod(tmp, st.st_mode & 0o7777)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    dfd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def mark_safe_to_bootstrap(grastate_path, expect_uuid, expect_seqno, recover=None):
    """
    Set ``safe_to_bootstrap: 1`` in ``grastate_path`` (an edit of that line, written through a
    temporary file, fsync and rename, owner and mode kept), after checking that the node is
    still at the position the plan chose (``expect_uuid``, ``expect_seqno``). Returns True when
    the file changed.
    """
    current = read_position(grastate_path, recover or (lambda: ""))
    if current.get("state") != "down":
        raise CommandExecutionError(f"not bootstrapping: position now unknown: {current.get('reason')}")
    if current["uuid"] != expect_uuid or current["seqno"] != int(expect_seqno):
        raise CommandExecutionError(f"not bootstrapping: the position moved to {current['uuid']}:{current['seqno']}, "
                                    f"the plan chose {expect_uuid}:{expect_seqno}")
    if current["safe_to_bootstrap"] == 1:
        return False
    with open(grastate_path, encoding="utf-8") as fh:
        text = fh.read()
    _replace_atomically(grastate_path, set_safe_to_bootstrap(text))
    return True


def bootstrap(expect_uuid, expect_seqno, datadir=None):
    """
    Bootstrap a new Primary component from this node: ``safe_to_bootstrap: 1`` in this node's
    ``grastate.dat`` only (after checking it is still at the planned position), then
    ``galera_new_cluster``. Called by ``salt-run brine.galera_recover`` on the node it chose.

    CLI Example:

    .. code-block:: bash

        salt-call brine_galera.bootstrap 9acf4d34-acdb-11e6-bcc3-d3e36276629f 1234
    """
    paths = _paths(datadir=datadir)
    if query_status()[0]:
        raise CommandExecutionError("mariadbd is running here: nothing to bootstrap")
    edited = mark_safe_to_bootstrap(paths["grastate"], str(expect_uuid), int(expect_seqno),
                                    recover=lambda: run_recover(None, paths["datadir"]))
    proc = subprocess.run([paths["new_cluster"]], capture_output=True, text=True, check=False, timeout=900)
    if proc.returncode:
        raise CommandExecutionError(f"galera_new_cluster failed: {reason_text(proc.stderr or proc.stdout, 500)}")
    return {"edited_grastate": edited, "started": True, "status": status()}


def new_cluster():
    """
    Bootstrap a brand-new cluster on this node (``galera_new_cluster``), only when it holds no
    Galera state at all (no ``grastate.dat`` or the zero UUID) and mariadbd is not running:
    cluster formation (salt/orch/galera.sls), never a recovery.

    CLI Example:

    .. code-block:: bash

        salt-call brine_galera.new_cluster
    """
    if query_status()[0]:
        return {"started": False, "comment": "mariadbd is running already"}
    if has_state():
        raise CommandExecutionError("this node holds Galera state: use salt-run brine.galera_recover")
    proc = subprocess.run([DEFAULTS["new_cluster"]], capture_output=True, text=True, check=False, timeout=900)
    if proc.returncode:
        raise CommandExecutionError(f"galera_new_cluster failed: {reason_text(proc.stderr or proc.stdout, 500)}")
    return {"started": True, "status": status()}


def has_state(datadir=None):
    """
    True when this node's datadir holds a Galera state (a ``grastate.dat`` with a non-zero
    UUID, or one that cannot be read: fail closed).

    CLI Example:

    .. code-block:: bash

        salt-call brine_galera.has_state
    """
    path = _paths(datadir=datadir)["grastate"]
    if not os.path.lexists(path):
        return False
    try:
        with open(path, encoding="utf-8") as fh:
            parsed = parse_grastate(fh.read(65536))
    except (OSError, UnicodeDecodeError):
        return True
    return not (parsed["state"] == "down" and parsed["uuid"] == ZERO_UUID)


def start():
    """
    Start mariadb (a node joining a running Primary component by IST or SST); returns the
    status afterwards.

    CLI Example:

    .. code-block:: bash

        salt-call brine_galera.start
    """
    proc = subprocess.run(["systemctl", "start", DEFAULTS["service"]], capture_output=True, text=True,
                          check=False, timeout=900)
    if proc.returncode:
        raise CommandExecutionError(f"systemctl start mariadb failed: {reason_text(proc.stderr, 500)}")
    return status()


def formation_status():
    """
    What cluster formation needs from this node: :func:`status` plus ``has_state``.

    CLI Example:

    .. code-block:: bash

        salt-call brine_galera.formation_status
    """
    return dict(status(), has_state=has_state())


def _sql(text, defaults_file=None, socket=None):
    argv = [DEFAULTS["client"]]
    if defaults_file:
        argv.append(f"--defaults-file={defaults_file}")
    argv += [f"--socket={socket or DEFAULTS['socket']}", "-N", "-B"]
    proc = subprocess.run(argv, input=text, capture_output=True, text=True, check=False, timeout=60)
    if proc.returncode:
        # The error text of the client never holds the statement (and so no password).
        raise CommandExecutionError(f"mariadb client failed: {reason_text(proc.stderr, 300)}")
    return proc.stdout


def ensure_users(test=False, socket=None):
    """
    The accounts Brine's Galera needs, from the inventory's secrets: root@localhost (the
    ``mariadb_root_password``, unix_socket login kept for the OS root), ``brine_sst`` (the SST's
    mariabackup: RELOAD, PROCESS, LOCK TABLES, BINLOG MONITOR) and ``brine_monitor`` (USAGE:
    SHOW STATUS needs nothing more). Run on a Synced node: the statements replicate to the
    others. Returns the accounts changed (never a password).

    CLI Example:

    .. code-block:: bash

        salt-call brine_galera.ensure_users
    """
    get = __salt__["brine_secrets.get"]
    wanted = [
        ("root", get("mariadb_root_password"), None),
        ("brine_sst", get("galera_sst_password"), ["RELOAD", "PROCESS", "LOCK TABLES", "BINLOG MONITOR"]),
        ("brine_monitor", get("galera_monitor_password"), []),
    ]
    changed = []
    for name, password, privileges in wanted:
        ok = _sql(account_check_sql(name, password), socket=socket).strip() == "1"
        if name != "root":
            grants = _sql(f"SHOW GRANTS FOR '{name}'@'localhost';\n", socket=socket) if ok else ""
            want = ", ".join(privileges) if privileges else "USAGE"
            ok = ok and f"GRANT {want} ON *.* TO" in grants
        if ok:
            continue
        changed.append(f"{name}@localhost")
        if not test:
            _sql(root_sql(password) if name == "root" else account_sql(name, password, privileges), socket=socket)
    return {"changed": changed, "test": bool(test)}
