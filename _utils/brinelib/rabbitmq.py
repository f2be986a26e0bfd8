"""
RabbitMQ on the controllers (docs/rabbitmq.md), the pure part: the inventory's ``rabbitmq:``
settings and their rules, the two configuration files, what ``rabbitmqctl ... --formatter
json`` says, and the one decision of cluster formation: what a node does about joining the
seed (the first controller of the inventory). ``_modules/brine_rabbitmq.py`` runs the commands.

Formation is one node at a time in inventory order (salt/orch/rabbitmq.sls), each node deciding
with :func:`join_step` from its own ``cluster_status``: a member of the seed's cluster stays
as it is (never reset); a stand-alone node holding nothing but a fresh node's defaults joins;
a stand-alone node holding anything else, or a node in another cluster, is refused by name
(``join_cluster`` wipes a stand-alone node's data).
"""

import json
import re

from brinelib import names

# The inventory's brine:rabbitmq, every key optional.
DEFAULTS = {"vhost": "openstack", "user": "openstack", "port": 5672, "dist_port": 25672}
KEYS = tuple(DEFAULTS)
# The inventory secrets the controller role's RabbitMQ reads.
SECRETS = ("rabbitmq_password", "rabbitmq_erlang_cookie")
# What every node runs with (not a setting: the requirement).
PARTITION_HANDLING = "pause_minority"
QUEUE_TYPE = "quorum"
# What a node holds right after its first start, before anyone used it.
FRESH_VHOSTS = ("/",)
FRESH_USERS = ("guest",)
# rabbitmqctl's names: a user or vhost name Brine makes; a node name "name@host".
NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
NODE = re.compile(r"^[A-Za-z0-9_-]{1,64}@[A-Za-z0-9_.-]{1,253}$")
PARTITIONS_MAX = 64


# --------------------------------------------------------------------------- inventory


def check(inventory):
    """
    ``[(path, message)]`` for the inventory's ``rabbitmq:`` (paths relative to ``brine:``), and
    the secrets its controllers need.
    """
    spec = inventory.get("rabbitmq", {})
    if not isinstance(spec, dict):
        return [("rabbitmq", f"{spec!r} is not a mapping")]
    problems = [(f"rabbitmq:{key}", f"unknown key; expected one of {', '.join(KEYS)}") for key in spec if key not in KEYS]
    for key in ("vhost", "user"):
        value = spec.get(key, DEFAULTS[key])
        if not isinstance(value, str) or not NAME.match(value):
            problems.append((f"rabbitmq:{key}", f"{value!r} must be 1-64 letters, digits, '_', '.' or '-'"))
    ports = {}
    for key in ("port", "dist_port"):
        value = spec.get(key, DEFAULTS[key])
        if isinstance(value, bool) or not isinstance(value, int) or not 1024 <= value <= 65535:
            problems.append((f"rabbitmq:{key}", f"{value!r} is not a port number 1024-65535"))
        ports[key] = value
    if ports["port"] == ports["dist_port"]:
        problems.append(("rabbitmq:dist_port", "must differ from port (AMQP and distribution listen side by side)"))
    secrets = inventory.get("secrets") if isinstance(inventory.get("secrets"), dict) else {}
    if names.controllers(inventory):
        problems += [(f"secrets:{name}", f"missing: the controller role's RabbitMQ needs it (e.g. sdb://brine_secrets/{name})")
                     for name in SECRETS if name not in secrets]
    return problems


def settings(inventory):
    """The inventory's ``rabbitmq:`` with the defaults filled in."""
    return {**DEFAULTS, **((inventory or {}).get("rabbitmq") or {})}


def node_name(hostname):
    """The node name of a controller: ``rabbit@<short host name>`` (resolved by the baseline's /etc/hosts)."""
    short = str(hostname).split(".")[0]
    node = f"rabbit@{short}"
    if not NODE.match(node):
        raise ValueError(f"{hostname!r} gives no valid RabbitMQ node name")
    return node


# --------------------------------------------------------------------------- configuration


def render_config(address, port=5672):
    """
    The text of ``/etc/rabbitmq/rabbitmq.conf``: AMQP on ``address`` only, pause_minority.
    The default queue type is not here (RabbitMQ 3.10 has no such setting): it is the vhost's,
    given when the vhost is made (:func:`vhost_step`).
    """
    return "\n".join([
        "# Managed by Salt (Brine: salt/rabbitmq). RabbitMQ on this controller.",
        f"listeners.tcp.default = {_host_port(address, port)}",
        f"cluster_partition_handling = {PARTITION_HANDLING}",
        "loopback_users.guest = true",
        "",
    ])


# Erlang scheduler flags for the server: no busy waiting (RabbitMQ's runtime guide: "+sbwt none"
# on hosts whose CPUs are shared).
SCHEDULER_ARGS = "+sbwt none +sbwtdcpu none +sbwtdio none"


def render_env(node, address, port=5672, dist_port=25672):
    """
    The text of ``/etc/rabbitmq/rabbitmq-env.conf`` (sourced by the server's and rabbitmqctl's
    scripts): the node name, AMQP and the Erlang distribution (the server's and the CLI's) bound
    to ``address``; the server's schedulers sleep rather than spin when idle.
    """
    if not NODE.match(node):
        raise ValueError(f"{node!r} is not a RabbitMQ node name")
    return "\n".join([
        "# Managed by Salt (Brine: salt/rabbitmq). Sourced by rabbitmq-server's scripts.",
        f"NODENAME={node}",
        f"NODE_IP_ADDRESS={address}",
        f"NODE_PORT={int(port)}",
        f"DIST_PORT={int(dist_port)}",
        # +sbwt none...: the schedulers sleep when they run out of work instead of spinning for
        # a while first; spinning takes CPU time that VMs sharing cores (and the other
        # controllers' services) need, and buys nothing at an OpenStack control plane's rates.
        f'SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {_erlang_address(address)}'
        f' {SCHEDULER_ARGS}"',
        # rabbitmqctl is an Erlang node too, listening while it runs.
        f'CTL_ERL_ARGS="-kernel inet_dist_use_interface {_erlang_address(address)}"',
        "",
    ])


def _host_port(address, port):
    return f"[{address}]:{int(port)}" if ":" in str(address) else f"{address}:{int(port)}"


def _erlang_address(address):
    """An IPv4 address as an Erlang tuple ``{10,0,0,1}``; IPv6 as eight hextets."""
    text = str(address)
    if ":" not in text:
        parts = text.split(".")
        if len(parts) != 4 or not all(p.isdigit() and int(p) < 256 for p in parts):
            raise ValueError(f"{address!r} is not an IP address")
        return "{" + ",".join(str(int(p)) for p in parts) + "}"
    import ipaddress

    hextets = ipaddress.IPv6Address(text).exploded.split(":")
    return "{" + ",".join(str(int(h, 16)) for h in hextets) + "}"


# --------------------------------------------------------------------------- what rabbitmqctl says


def parse_json(text):
    """The value of ``rabbitmqctl ... --formatter json`` output; ValueError when it is not JSON."""
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        raise ValueError(f"not JSON: {str(text)[:200]!r}") from None


def parse_cluster_status(text):
    """
    ``{"members", "running", "partitions"}`` from ``cluster_status --formatter json``: the
    nodes of this node's cluster (disc and RAM), those running, and every node some running
    node cannot see (sorted, without repeats; empty when there is no partition).
    """
    data = parse_json(text)
    if not isinstance(data, dict):
        raise ValueError("cluster_status is not a mapping")
    members = sorted(set(_nodes(data.get("disk_nodes"))) | set(_nodes(data.get("ram_nodes"))))
    if not members:
        raise ValueError("cluster_status names no node")
    partitions = data.get("partitions") or {}
    if not isinstance(partitions, dict):
        raise ValueError("cluster_status partitions is not a mapping")
    unseen = set()
    for seer, nodes in partitions.items():
        _nodes([seer])
        unseen.update(_nodes(nodes))
    return {"members": members, "running": sorted(_nodes(data.get("running_nodes"))), "partitions": sorted(unseen)}


def _nodes(value):
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(n, str) and NODE.match(n) for n in value):
        raise ValueError(f"{str(value)[:200]!r} is not a list of node names")
    return value


def beyond_defaults(vhosts, users, queues):
    """
    What a node holds beyond a fresh node's defaults, as short phrases (empty: fresh). ``vhosts``
    and ``users`` are names; ``queues`` is ``{vhost: count}``.
    """
    held = [f"vhost {name}" for name in vhosts if name not in FRESH_VHOSTS]
    held += [f"user {name}" for name in users if name not in FRESH_USERS]
    held += [f"{count} queue{'s' if count != 1 else ''} in vhost {vhost}" for vhost, count in sorted(queues.items()) if count]
    return held


# --------------------------------------------------------------------------- cluster formation


def join_step(node, seed, status, held):
    """
    What ``node`` does to be in ``seed``'s cluster: ``{"action": "none" | "join", "reason"}``,
    or ``{"action": "refuse", "reason"}`` naming the node. ``status`` is its parsed
    ``cluster_status`` (None when it does not answer); ``held`` what :func:`beyond_defaults`
    found on it.
    """
    if node == seed:
        return {"action": "none", "reason": f"{node} is the seed (the first controller)"}
    if status is None:
        return {"action": "refuse", "reason": f"{node} does not answer: start rabbitmq-server there first"}
    members = status["members"]
    if seed in members:
        return {"action": "none", "reason": f"{node} is a member of {seed}'s cluster (never reset)"}
    if members != [node]:
        others = ", ".join(m for m in members if m != node)
        return {"action": "refuse", "reason": f"{node} is in another cluster (with {others}); nothing done"}
    if held:
        return {"action": "refuse",
                "reason": f"{node} is stand-alone but holds {', '.join(held)}: joining would wipe it; nothing done"}
    return {"action": "join", "reason": f"{node} is stand-alone and fresh: it joins {seed}"}


# --------------------------------------------------------------------------- the OpenStack account


def vhost_step(vhost, vhosts):
    """
    ``"create"``, ``"none"``, or ValueError: ``vhosts`` is ``{name: default_queue_type}`` as
    ``list_vhosts name default_queue_type`` says. A vhost that exists with another default
    queue type is refused: RabbitMQ 3.10 cannot change it, and queues declared there keep
    their type (clients then fail with PRECONDITION_FAILED inequivalent arg 'x-queue-type').
    """
    if vhost not in vhosts:
        return "create"
    if vhosts[vhost] != QUEUE_TYPE:
        raise ValueError(f"vhost {vhost} exists with default queue type {vhosts[vhost]!r}, not {QUEUE_TYPE!r}; "
                         "RabbitMQ 3.10 cannot change it: move its queues off and delete the vhost by hand")
    return "none"


def permissions_wanted(user):
    """The permissions the OpenStack user has on its vhost: everything."""
    return {"user": user, "configure": ".*", "write": ".*", "read": ".*"}


def _erlang_binary(text):
    """``text`` as an Erlang binary built from its UTF-8 bytes: nothing in it needs escaping."""
    return "list_to_binary([" + ",".join(str(b) for b in text.encode()) + "])"


def account_query(vhost, user, password):
    """
    One Erlang expression for ``rabbitmqctl eval --formatter json`` that tells everything
    :func:`account_steps` needs (one Erlang VM started instead of four): the vhosts with their
    default queue types, whether ``user`` exists and logs in with ``password``, and its
    permissions. It holds the password: it goes to rabbitmqctl on stdin, never on a command
    line, and never into a message.
    """
    return (
        f"U = {_erlang_binary(user)}, P = {_erlang_binary(password)}, "
        "Users = [proplists:get_value(user, I) || I <- rabbit_auth_backend_internal:list_users()], "
        "Exists = lists:member(U, Users), "
        "#{vhosts => [maps:from_list(I) || I <- rabbit_vhost:info_all([name, default_queue_type])], "
        "user => Exists, "
        "login => Exists andalso element(1, rabbit_access_control:check_user_pass_login(U, P)) =:= ok, "
        "permissions => case Exists of true -> [maps:from_list(I) || I <- "
        "rabbit_auth_backend_internal:list_user_permissions(U)]; false -> [] end}.\n"
    )


def parse_account_facts(text, vhost):
    """
    ``{"vhosts": {name: default_queue_type}, "user": bool, "login": bool, "permissions":
    {configure, write, read} on ``vhost`` or None}`` from the JSON :func:`account_query` makes
    rabbitmqctl print; ValueError when it is anything else.
    """
    data = parse_json(text)
    value = data.get("value") if isinstance(data, dict) else None
    if not isinstance(value, dict) or not {"vhosts", "user", "login", "permissions"} <= set(value):
        raise ValueError("the account query returned no facts")
    try:
        vhosts = {str(v["name"]): str(v.get("default_queue_type")) for v in value["vhosts"]}
        permissions = next(({k: str(p[k]) for k in ("configure", "write", "read")}
                            for p in value["permissions"] if p.get("vhost") == vhost), None)
    except (KeyError, TypeError, AttributeError):
        raise ValueError("the account query returned malformed vhosts or permissions") from None
    return {"vhosts": vhosts, "user": value["user"] is True, "login": value["login"] is True,
            "permissions": permissions}


def account_steps(facts, vhost, user):
    """
    What makes the OpenStack account right, in order, from :func:`parse_account_facts`: any of
    ``"vhost"`` (create it, quorum by default), ``"user"`` (create it) or ``"password"`` (set
    it), ``"permissions"``. ValueError from :func:`vhost_step` for a vhost of another type.
    """
    steps = ["vhost"] if vhost_step(vhost, facts["vhosts"]) == "create" else []
    if not facts["user"]:
        steps.append("user")
    elif not facts["login"]:
        steps.append("password")
    wanted = permissions_wanted(user)
    if "vhost" in steps or facts["permissions"] != {k: wanted[k] for k in ("configure", "write", "read")}:
        steps.append("permissions")
    return steps


# --------------------------------------------------------------------------- partitions event


PARTITION_TAG = "brine/rabbitmq/partition"


def partition_payload(status):
    """The ``brine/rabbitmq/partition`` payload of a parsed ``cluster_status``."""
    return {"partitions": list(status["partitions"]), "running": list(status["running"])}


def check_partition_payload(payload):
    """ValueError unless ``payload`` has exactly what :func:`partition_payload` makes (with
    at most :data:`PARTITIONS_MAX` node names in each list); the cleaned copy otherwise."""
    if not isinstance(payload, dict):
        raise ValueError("the payload is not a mapping")
    out = {}
    for key in ("partitions", "running"):
        value = payload.get(key)
        if not isinstance(value, list) or len(value) > PARTITIONS_MAX:
            raise ValueError(f"{key}: not a list of at most {PARTITIONS_MAX} node names")
        out[key] = sorted(set(_nodes(value)))
    return out
