"""
RabbitMQ on the controllers: this node's cluster status, the join step of cluster formation,
and the OpenStack vhost, user and permissions. The rules are ``brinelib.rabbitmq`` (pure,
tests/unit/test_brinelib_rabbitmq.py); this module runs ``rabbitmqctl`` with argument lists (no
shell), the password only on its standard input (never on a command line, never returned).
"""

import logging
import subprocess

import brinelib

brinelib.forget_if_changed()  # a library synced since it was imported replaces the old one
from brinelib import rabbitmq
from brinelib.commands import run
from brinelib.errors import CommandExecutionError

log = logging.getLogger(__name__)

__virtualname__ = "brine_rabbitmq"
__load__ = ["node_name", "status", "partitions", "held", "join", "ensure_account", "render_config", "render_env"]

# How rabbitmqctl runs: Debian's wrapper (as the rabbitmq user, its cookie in /var/lib/rabbitmq);
# the functional test points it at its own instances (their binary, HOME and epmd port).
COMMAND = {"ctl": "/usr/sbin/rabbitmqctl", "env": None}
TIMEOUT = 120


def __virtual__():
    return __virtualname__


def _ctl(args, node=None, stdin=None, timeout=TIMEOUT):
    """``(returncode, stdout, stderr)`` of rabbitmqctl ``args`` (against ``node`` when given)."""
    argv = [COMMAND["ctl"]] + (["-n", node] if node else []) + list(args)
    try:
        proc = run(argv, check=False, timeout=timeout, input=stdin, env=COMMAND["env"])
    except (OSError, subprocess.TimeoutExpired) as exc:
        return 127, "", f"rabbitmqctl {args[0]} did not run: {exc}"
    return proc.returncode, proc.stdout, proc.stderr


def _query(args, node=None):
    """The JSON rabbitmqctl prints for ``args``; CommandExecutionError when it fails."""
    code, out, err = _ctl(list(args) + ["--formatter", "json", "--quiet"], node)
    if code:
        raise CommandExecutionError(f"rabbitmqctl {args[0]} failed ({code}): {_last_line(err or out)}")
    try:
        return rabbitmq.parse_json(out)
    except ValueError as exc:
        raise CommandExecutionError(f"rabbitmqctl {args[0]}: {exc}") from None


def _run(args, node=None, stdin=None):
    code, out, err = _ctl(args, node, stdin)
    if code:
        raise CommandExecutionError(f"rabbitmqctl {args[0]} failed ({code}): {_last_line(err or out)}")


def _last_line(text):
    lines = [line for line in (text or "").splitlines() if line.strip()]
    return lines[-1][:300] if lines else "no output"


def node_name(hostname):
    """
    The RabbitMQ node name of a controller: ``rabbit@<short host name>``.

    CLI Example:

    .. code-block:: bash

        salt-call brine_rabbitmq.node_name ubuntu1.lab.home.arpa
    """
    return rabbitmq.node_name(hostname)


def status(node=None):
    """
    This node's cluster as ``cluster_status`` says: ``{"members", "running", "partitions"}``,
    or None when the node does not answer.

    CLI Example:

    .. code-block:: bash

        salt-call brine_rabbitmq.status
    """
    code, out, _err = _ctl(["cluster_status", "--formatter", "json", "--quiet"], node)
    if code:
        return None
    try:
        return rabbitmq.parse_cluster_status(out)
    except ValueError as exc:
        raise CommandExecutionError(f"rabbitmqctl cluster_status: {exc}") from None


def partitions(node=None):
    """
    The ``brine/rabbitmq/partition`` payload of this node: the nodes some running node cannot
    see (empty when there is no partition) and the running nodes.

    CLI Example:

    .. code-block:: bash

        salt-call brine_rabbitmq.partitions
    """
    current = status(node)
    if current is None:
        raise CommandExecutionError("rabbitmq does not answer here")
    return rabbitmq.partition_payload(current)


def held(node=None):
    """
    What this node holds beyond a fresh node's defaults (vhosts, users, queues), as phrases;
    empty on a fresh node.

    CLI Example:

    .. code-block:: bash

        salt-call brine_rabbitmq.held
    """
    vhosts = [v["name"] for v in _query(["list_vhosts", "name"], node)]
    users = [u["user"] for u in _query(["list_users"], node)]
    queues = {vhost: len(_query(["list_queues", "-p", vhost, "name"], node)) for vhost in vhosts}
    return rabbitmq.beyond_defaults(vhosts, users, queues)


def join(seed, node, test=False):
    """
    The join step of cluster formation on ``node``: nothing when it is the seed or already in
    the seed's cluster (a member is never reset); ``stop_app``, ``join_cluster <seed>``,
    ``start_app`` when it is stand-alone and fresh; CommandExecutionError naming the node when
    it is stand-alone with data of its own, in another cluster, or not answering. Returns
    ``{"changed": bool, "action", "reason"}``.

    CLI Example:

    .. code-block:: bash

        salt-call brine_rabbitmq.join rabbit@ubuntu1 rabbit@ubuntu2
    """
    current = status(node) if node != seed else None
    alone = current is not None and current["members"] == [node]
    step = rabbitmq.join_step(node, seed, current, held(node) if alone and seed not in current["members"] else [])
    if step["action"] == "refuse":
        raise CommandExecutionError(step["reason"])
    if step["action"] == "none" or test:
        return {"changed": step["action"] == "join", "action": step["action"], "reason": step["reason"]}
    _run(["stop_app"], node)
    try:
        _run(["join_cluster", seed], node)
    finally:
        _run(["start_app"], node)
    after = status(node)
    if after is None or seed not in after["members"]:
        raise CommandExecutionError(f"{node} ran join_cluster {seed} but is not in its cluster")
    log.info("brine: %s joined %s", node, seed)
    return {"changed": True, "action": "join", "reason": step["reason"]}


def ensure_account(vhost, user, node=None, password=None, test=False):
    """
    The OpenStack vhost (default queue type quorum from its creation), the user with the
    ``rabbitmq_password`` secret (``password`` overrides it, for tests) and the user's full
    permissions on the vhost. Idempotent; ``test=True`` says what it would do.
    Returns ``{"changed": [what]}``; a vhost with another default queue type is refused.

    CLI Example:

    .. code-block:: bash

        salt-call brine_rabbitmq.ensure_account openstack openstack test=True
    """
    for name in (vhost, user):
        if not rabbitmq.NAME.match(name):
            raise CommandExecutionError(f"{name!r} is not a plain RabbitMQ name")
    secret = password if password is not None else __salt__["brine_secrets.get"]("rabbitmq_password")
    # The query holds the password: its output and errors never reach a message.
    code, out, _err = _ctl(["eval", "--formatter", "json"], node, stdin=rabbitmq.account_query(vhost, user, secret))
    if code:
        raise CommandExecutionError(f"rabbitmqctl eval (the account query) failed ({code}): is RabbitMQ running here?")
    try:
        steps = rabbitmq.account_steps(rabbitmq.parse_account_facts(out, vhost), vhost, user)
    except ValueError as exc:
        raise CommandExecutionError(str(exc)) from None
    stdin = secret + "\n"
    wanted = rabbitmq.permissions_wanted(user)
    commands = {
        "vhost": (f"vhost {vhost}", ["add_vhost", vhost, "--default-queue-type", rabbitmq.QUEUE_TYPE], None),
        "user": (f"user {user}", ["add_user", user], stdin),
        "password": (f"password of {user}", ["change_password", user], stdin),
        "permissions": (f"permissions of {user} on {vhost}",
                        ["set_permissions", "-p", vhost, user, wanted["configure"], wanted["write"], wanted["read"]], None),
    }
    changed = []
    for step in steps:
        what, args, step_stdin = commands[step]
        changed.append(what)
        if not test:
            _run(args, node, stdin=step_stdin)
    return {"changed": changed}


def render_config(address, port=5672):
    """
    The text of /etc/rabbitmq/rabbitmq.conf for a controller (``brinelib.rabbitmq.render_config``).

    CLI Example:

    .. code-block:: bash

        salt-call brine_rabbitmq.render_config 10.10.0.11
    """
    return rabbitmq.render_config(address, port=port)


def render_env(node, address, port=5672, dist_port=25672):
    """
    The text of /etc/rabbitmq/rabbitmq-env.conf (``brinelib.rabbitmq.render_env``).

    CLI Example:

    .. code-block:: bash

        salt-call brine_rabbitmq.render_env rabbit@ubuntu1 10.10.0.11
    """
    return rabbitmq.render_env(node, address, port=port, dist_port=dist_port)
