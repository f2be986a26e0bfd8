"""
The controllers' VIPs (keepalived) and load balancer (HAProxy), from the inventory.

Pure core (no Salt, no system access; tests/unit/test_brine_lb.py covers it):

- :func:`vrrp_instances` plans one VRRP instance per VIP for one controller: interface (the
  dual bond's VLAN device for the VIP's network, or the NIC of a host without a dual bond),
  unicast source and peers, priority, VRRP id.
- :func:`keepalived_conf` renders ``keepalived.conf``: every node BACKUP with ``nopreempt``;
  HAProxy tracked by a ``track_file`` (written by systemd when haproxy.service stops, read
  through inotify at once) and by a slow ``vrrp_script`` safety net; a ``notify`` script that
  turns each state change into a Brine event.
- :func:`haproxy_cfg` renders ``haproxy.cfg``: stats socket, stats page on the internal VIP,
  one ``listen`` per row of the service table (settings) with the members from the inventory.
- :func:`haproxy_dropin`: the systemd drop-in for haproxy.service that writes the track file.

Live layer: :func:`keepalived`, :func:`haproxy` (the same for this minion, from pillar, the
secrets through ``brine_secrets.get``), :func:`defaults`, :func:`salt_call`.

Settings (``salt/keepalived/defaults.yaml``, ``salt/haproxy/defaults.yaml``, merged with pillar
``brine_settings``) are passed in; :data:`KEEPALIVED_DEFAULTS` and :data:`HAPROXY_DEFAULTS` are
the same values, for callers without a state tree (unit tests keep them equal).
"""

import copy
import hashlib
import hmac
import ipaddress
import os
import re
import shutil
import sys

import brinelib

brinelib.forget_if_changed()  # a library synced since it was imported replaces the old one
from brinelib import acme as acme_lib
from brinelib import names as brine_names
from brinelib.dualbond import names as dualbond_names
from brinelib.errors import CommandExecutionError, InventoryProblem

__virtualname__ = "brine_lb"
# What Salt exposes: the live functions. The pure core (keepalived_conf, haproxy_cfg, ...) is
# the Python API of this file, used by the functions below and by the tests.
__load__ = ["keepalived", "haproxy", "instances", "dropin", "defaults", "salt_call"]


VIP_STATES = ("MASTER", "BACKUP", "FAULT", "STOP", "DELETED")

KEEPALIVED_DEFAULTS = {
    "pkg": "keepalived",
    "service": "keepalived",
    "config": "/etc/keepalived/keepalived.conf",
    "binary": "/usr/sbin/keepalived",
    # 2: VRRPv2, whole-second advert_int, PASS authentication from keepalived_auth.
    # 3: VRRPv3, advert_int down to 0.01 s, no authentication (RFC 5798 removed it).
    "vrrp_version": 2,
    "advert_int": 1,
    # The priority of the first controller (inventory order); each next one priority_step
    # lower. Every node starts BACKUP with nopreempt, so priorities only decide who takes the VIP
    # when several could (start-up, the holder failing); a recovered node never takes it back.
    # The step keeps the backups' skew times ((256 - priority) / 256 x advert_int) apart: with
    # priorities one apart, two backups 4 ms apart both became MASTER for a moment on a loaded host.
    "priority_base": 250,
    "priority_step": 20,
    # Gratuitous ARPs: a burst on becoming MASTER, another garp_master_delay s later, and one
    # every garp_master_refresh s while MASTER (switches and peers that missed the first).
    "garp_master_delay": 1,
    "garp_master_repeat": 3,
    "garp_master_refresh": 60,
    # Run keepalived's VRRP process at real-time priority: adverts on time on a loaded host.
    "realtime": True,
    # HAProxy's health, the fast path: a file systemd writes when haproxy.service stops (1) and
    # once it is up (0); keepalived watches it with inotify (weight 0: non-zero means FAULT).
    "track_file": "/run/brine-lb/haproxy-down",
    # The slow safety net: a check keepalived runs every check_interval s (0 exit: alive). Its
    # timeout is the whole interval: on a busy controller starting pgrep can take over a second,
    # and a timed-out check counts as a failed one (a healthy HAProxy's VIP moved away, back and
    # forth). A dead HAProxy still fails at once: pgrep answers quickly when there is none.
    "check_script": "/usr/bin/pgrep -x haproxy",
    "check_interval": 2,
    "check_timeout": 2,
    "check_fall": 2,
    "check_rise": 2,
    # Every state change of an instance becomes a brine/vip/state event (docs/loadbalancer.md).
    "notify": "/usr/libexec/brine/brine-vip-notify",
}

HAPROXY_DEFAULTS = {
    "pkg": "haproxy",
    "service": "haproxy",
    "config": "/etc/haproxy/haproxy.cfg",
    "binary": "/usr/sbin/haproxy",
    "group": "haproxy",
    "dropin": "/etc/systemd/system/haproxy.service.d/brine-keepalived.conf",
    "track_writer": "/usr/libexec/brine/brine-track-file",
    "stats_socket": "/run/haproxy/admin.sock",
    "stats_port": 1984,
    "stats_user": "brine",
    "maxconn": 4000,
    "timeouts": {"connect": "5s", "client": "1m", "server": "1m", "check": "2s", "queue": "1m",
                 "http-request": "10s"},
    # One row per load-balanced service. members: the hosts with role `role`, in inventory
    # order, at their address on `network`. `active_backup`: the first member takes all the
    # traffic, the others are `backup` (Galera: one writer, no certification conflicts).
    "services": {
        "mariadb": {
            "vip": "internal",
            "port": 3306,
            "backend_port": 3306,
            "mode": "tcp",
            "role": "controller",
            "network": "management",
            "active_backup": True,
            # Healthy only when the node is Synced, Primary and ready: the Galera formula's
            # health service answers HTTP 200 then, 503 otherwise.
            "check": {"type": "http", "port": 9200, "path": "/"},
            "server_options": "inter 1s fall 2 rise 2 on-marked-down shutdown-sessions",
            "timeouts": {"client": "3600s", "server": "3600s"},
        },
        # Keystone's API (salt/keystone) on both VIPs; healthy while GET /v3 answers 200.
        "keystone": {
            "vip": ["internal", "external"],
            "port": 5000,
            "backend_port": 5000,
            "mode": "http",
            "role": "controller",
            "network": "management",
            "check": {"type": "http", "port": 5000, "path": "/v3"},
            # A controller that stopped answering costs a request at most one connect timeout
            # (1 s: a live backend's kernel answers a SYN in well under that, however busy its
            # Keystone); the request then goes to another server (redispatch on every retry) and
            # the first refused or timed-out connect marks the server down. The health check is
            # the lenient half: a busy Keystone answers GET /v3 late (behind token requests in
            # mod_wsgi's queue), and marking it down would push its load onto the others.
            "server_options": "inter 2s fall 3 rise 2 observe layer4 error-limit 1 on-error mark-down",
            "timeouts": {"connect": "1s", "check": "5s"},
        },
    },
}

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
_TIMEOUT = re.compile(r"^[0-9]{1,7}(us|ms|s|m|h|d)?$")
_SERVER_OPTION = re.compile(r"^[a-z][a-z0-9-]*$|^[0-9]+[a-z]*$")
_SAFE_ARG = re.compile(r"^[A-Za-z0-9_./:-]+$")
_CHECK_PATH = re.compile(r"^/[A-Za-z0-9_./?=&%-]*$")


def __virtual__():
    return __virtualname__


# --------------------------------------------------------------------------- pure: shared


def _settings(settings, defaults):
    merged = copy.deepcopy(defaults)
    for key, value in (settings or {}).items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict) and key != "services":
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def network_interface(host, networks, net_name):
    """
    The device that carries ``host``'s address on ``net_name``: on a dual-bond host the VLAN
    device of the NIC's bridge (``br-eth2.10``, brinelib.dualbond.names.vlan_name) or the bridge itself for an
    untagged network; otherwise ``<nic>.<vlan>`` or the NIC (salt/network/plain.sls).
    """
    att = host["networks"][net_name]
    vid = networks[net_name].get("vlan")
    spec = host.get("dualbond")
    if spec and att["nic"] in spec.get("nics", []):
        legs = dualbond_names.device_names(list(spec["nics"]), spec.get("bridges"))
        bridge = next(leg["bridge"] for leg in legs if leg["nic"] == att["nic"])
        return dualbond_names.vlan_name(bridge, vid) if vid else bridge
    return f"{att['nic']}.{vid}" if vid else att["nic"]


def _address(host, net_name):
    return str(ipaddress.ip_address(host["networks"][net_name]["address"]))


def _host_prefix(address):
    return 32 if ipaddress.ip_address(address).version == 4 else 128


def auth_pass(secret):
    """
    The 8 characters VRRPv2 PASS authentication carries, derived from secret ``keepalived_auth``
    (hex: nothing to quote; PASS travels in clear, so it tells clusters apart, no more).
    """
    return hmac.new(secret.encode("utf-8"), b"brine-keepalived-auth", hashlib.sha256).hexdigest()[:8]


def _need_secret(secrets, name):
    value = (secrets or {}).get(name)
    if not isinstance(value, str) or not value:
        raise InventoryProblem(f"brine:secrets:{name}: no value given")
    return value


# --------------------------------------------------------------------------- pure: keepalived


def _advert_int(settings):
    version, value = settings["vrrp_version"], settings["advert_int"]
    if version not in (2, 3):
        raise InventoryProblem(f"keepalived:vrrp_version: {version!r} must be 2 or 3")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InventoryProblem(f"keepalived:advert_int: {value!r} is not a number of seconds")
    if version == 2:
        if value != int(value) or not 1 <= value <= 255:
            raise InventoryProblem(f"keepalived:advert_int: VRRPv2 needs whole seconds 1-255, not {value!r} (sub-second: vrrp_version 3)")
        return str(int(value))
    centis = round(value * 100)
    if abs(centis - value * 100) > 1e-6 or not 1 <= centis <= 4095:
        raise InventoryProblem(f"keepalived:advert_int: VRRPv3 needs 0.01-40.95 s in steps of 0.01, not {value!r}")
    return f"{centis // 100}.{centis % 100:02d}" if centis % 100 else str(centis // 100)


def vrrp_instances(inventory, minion_id, settings=None):
    """
    The VRRP instances of controller ``minion_id``: one per VIP, sorted by VIP name, each
    ``{name, vrid, interface, address, prefix, source, peers, priority}``. Pure.
    """
    settings = _settings(settings, KEEPALIVED_DEFAULTS)
    ctrl = brine_names.controllers(inventory)
    if minion_id not in ctrl:
        raise InventoryProblem(f"{minion_id!r} is not a controller (controllers: {', '.join(ctrl) or 'none'})")
    base, step = settings["priority_base"], settings["priority_step"]
    if isinstance(step, bool) or not isinstance(step, int) or not 1 <= step <= 253:
        raise InventoryProblem(f"keepalived:priority_step: {step!r} must be 1-253")
    lowest = 1 + step * (len(ctrl) - 1)
    if isinstance(base, bool) or not isinstance(base, int) or not lowest <= base <= 254:
        raise InventoryProblem(f"keepalived:priority_base: {base!r} must be {lowest}-254 "
                      f"({len(ctrl)} controllers, {step} apart)")
    me = inventory["hosts"][minion_id]
    out = []
    for name, vip in sorted(inventory["vips"].items()):
        net = vip["network"]
        prios = vip.get("priorities") or {}
        out.append({
            "name": name,
            "vrid": vip["vrid"],
            "interface": network_interface(me, inventory["networks"], net),
            "address": str(ipaddress.ip_address(vip["address"])),
            "prefix": _host_prefix(vip["address"]),
            "source": _address(me, net),
            "peers": [_address(inventory["hosts"][peer], net) for peer in ctrl if peer != minion_id],
            "priority": prios.get(minion_id, base - step * ctrl.index(minion_id)),
        })
    return out


def _quoted(value, what):
    """A keepalived quoted string; refuses what its parser cannot hold."""
    if not isinstance(value, str) or not value or '"' in value or "\\" in value or not value.isprintable():
        raise InventoryProblem(f"{what}: {value!r} cannot be written into keepalived.conf")
    return f'"{value}"'


def keepalived_conf(inventory, minion_id, secrets, settings=None):
    """
    ``keepalived.conf`` for controller ``minion_id`` of the normalised ``inventory``; ``secrets``
    holds ``keepalived_auth`` (used with VRRPv2 only). Pure.

    CLI Example:

    .. code-block:: bash

        salt-call brine_lb.keepalived
    """
    settings = _settings(settings, KEEPALIVED_DEFAULTS)
    advert = _advert_int(settings)
    version = settings["vrrp_version"]
    auth = auth_pass(_need_secret(secrets, "keepalived_auth")) if version == 2 else None
    for key in ("garp_master_delay", "garp_master_repeat", "garp_master_refresh", "check_interval",
                "check_timeout", "check_fall", "check_rise"):
        value = settings[key]
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 3600:
            raise InventoryProblem(f"keepalived:{key}: {value!r} is not a whole number 0-3600")
    instances = vrrp_instances(inventory, minion_id, settings)
    host = inventory["hosts"][minion_id]
    lines = [
        "# Managed by Brine (salt/keepalived): the controllers' VIPs. Edits are overwritten.",
        "global_defs {",
        f"    router_id {host['hostname']}",
        "    script_user root",
        "    enable_script_security",
        f"    vrrp_version {version}",
    ]
    if settings.get("realtime"):
        lines.append("    max_auto_priority")
    lines += [
        "}",
        "",
        "# HAProxy died: systemd's ExecStopPost writes 1 here (haproxy.service drop-in), at once",
        "# through inotify; weight 0 makes any non-zero value a FAULT, which gives the VIP away.",
        "track_file haproxy_down {",
        f"    file {_quoted(settings['track_file'], 'keepalived:track_file')}",
        "    weight 0",
        "    init_file 1",
        "}",
        "",
        "# The slow safety net (HAProxy gone without its unit noticing).",
        "vrrp_script haproxy_alive {",
        f"    script {_quoted(settings['check_script'], 'keepalived:check_script')}",
        f"    interval {settings['check_interval']}",
        f"    timeout {settings['check_timeout']}",
        f"    fall {settings['check_fall']}",
        f"    rise {settings['check_rise']}",
        "    weight 0",
        "}",
    ]
    for inst in instances:
        lines += [
            "",
            f"vrrp_instance {inst['name']} {{",
            "    state BACKUP",
            "    nopreempt",
            f"    interface {inst['interface']}",
            f"    virtual_router_id {inst['vrid']}",
            f"    priority {inst['priority']}",
            f"    advert_int {advert}",
            f"    unicast_src_ip {inst['source']}",
        ]
        if inst["peers"]:
            lines.append("    unicast_peer {")
            lines += [f"        {peer}" for peer in inst["peers"]]
            lines.append("    }")
        if auth:
            lines += ["    authentication {", "        auth_type PASS", f"        auth_pass {auth}", "    }"]
        lines += [
            "    virtual_ipaddress {",
            f"        {inst['address']}/{inst['prefix']} dev {inst['interface']}",
            "    }",
            f"    garp_master_delay {settings['garp_master_delay']}",
            f"    garp_master_repeat {settings['garp_master_repeat']}",
            f"    garp_master_refresh {settings['garp_master_refresh']}",
            "    track_file {",
            "        haproxy_down weight 0",
            "    }",
            "    track_script {",
            "        haproxy_alive",
            "    }",
            f"    notify {_quoted(settings['notify'], 'keepalived:notify')}",
            "}",
        ]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- pure: HAProxy


def _haproxy_password(secret):
    if "'" in secret or not secret.isprintable():
        raise InventoryProblem("brine:secrets:haproxy_stats_password: the value holds a ' or an unprintable character, "
                      "which haproxy.cfg cannot quote")
    return secret


def _timeouts(values, what):
    out = []
    for key, value in sorted(values.items()):
        if not re.fullmatch(r"[a-z-]+", str(key)) or not _TIMEOUT.match(str(value)):
            raise InventoryProblem(f"{what}:{key}: {value!r} is not an HAProxy timeout (e.g. 5s, 1m)")
        out.append(f"    timeout {key} {value}")
    return out


def _port(value, what):
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise InventoryProblem(f"{what}: {value!r} is not a TCP port")
    return value


def _row_vips(inventory, row, what):
    """The VIPs a row binds: ``vip`` is one VIP's name or a list of them (e.g. internal and external)."""
    names = row.get("vip")
    names = names if isinstance(names, list) else [names]
    if not names:
        raise InventoryProblem(f"{what}:vip: an empty list; name one VIP or more")
    vips = []
    for name in names:
        vip = inventory["vips"].get(name) if isinstance(name, str) else None
        if vip is None:
            raise InventoryProblem(f"{what}:vip: {name!r} is not a VIP of the inventory")
        if vip in vips:
            raise InventoryProblem(f"{what}:vip: {name!r} is named twice")
        vips.append(vip)
    return vips


def haproxy_listens(inventory, settings=None):
    """
    The ``listen`` sections of the service table: ``[{name, binds: [(address, port)], mode,
    balance, check, servers: [{name, address, port, backup}], server_options, timeouts}]``,
    sorted by name; one bind per VIP of the row. Pure.
    """
    settings = _settings(settings, HAPROXY_DEFAULTS)
    out = []
    for name, row in sorted((settings.get("services") or {}).items()):
        what = f"haproxy:services:{name}"
        if not _NAME.match(str(name)):
            raise InventoryProblem(f"{what}: a service name is [a-z][a-z0-9_]*")
        if not isinstance(row, dict):
            raise InventoryProblem(f"{what}: must be a mapping")
        binds = [(str(ipaddress.ip_address(vip["address"])), _port(row.get("port"), f"{what}:port"))
                 for vip in _row_vips(inventory, row, what)]
        if row.get("mode", "tcp") not in ("tcp", "http"):
            raise InventoryProblem(f"{what}:mode: {row.get('mode')!r} must be tcp or http")
        net = row.get("network")
        if net not in inventory["networks"]:
            raise InventoryProblem(f"{what}:network: {net!r} is not a network of the inventory")
        hosts = brine_names.hosts_with_role(inventory, row.get("role", brine_names.CONTROLLER_ROLE))
        servers = []
        for idx, mid in enumerate(hosts):
            host = inventory["hosts"][mid]
            if "address" not in host["networks"].get(net, {}):
                raise InventoryProblem(f"brine:hosts:{mid}:networks:{net}:address: missing, service {name} needs it")
            servers.append({"name": host["hostname"], "address": _address(host, net),
                            "port": _port(row.get("backend_port", row.get("port")), f"{what}:backend_port"),
                            "backup": bool(row.get("active_backup")) and idx > 0})
        check = row.get("check") or {"type": "tcp"}
        if check.get("type") not in ("tcp", "http"):
            raise InventoryProblem(f"{what}:check:type: {check.get('type')!r} must be tcp or http")
        if check["type"] == "http":
            _port(check.get("port"), f"{what}:check:port")
            if not _CHECK_PATH.match(str(check.get("path", "/"))):
                raise InventoryProblem(f"{what}:check:path: {check.get('path')!r} is not a plain URL path")
        options = str(row.get("server_options", "")).split()
        if not all(_SERVER_OPTION.match(o) for o in options):
            raise InventoryProblem(f"{what}:server_options: {row.get('server_options')!r} holds something other than words")
        out.append({
            "name": name,
            "binds": binds,
            "mode": row.get("mode", "tcp"),
            "balance": row.get("balance", "roundrobin"),
            "check": check,
            "servers": servers,
            "server_options": options,
            "timeouts": _timeouts(row.get("timeouts") or {}, f"{what}:timeouts"),
        })
    return out


def haproxy_cfg(inventory, minion_id, secrets, settings=None, tls=None):
    """
    ``haproxy.cfg`` for controller ``minion_id``; ``secrets`` holds ``haproxy_stats_password``.
    Every node renders the same listeners (the VIPs move; ``ip_nonlocal_bind`` lets a backup
    bind them). With ``tls`` (default: the inventory's ``acme:enabled``, brinelib.acme.enabled)
    the external VIP is TLS (docs/acme.md): every bind on it serves
    ``ssl crt <acme:crt>``, and its port 80 routes the ACME challenge to certbot on the
    inventory's ``acme:runner`` and redirects everything else to https. Pure.

    CLI Example:

    .. code-block:: bash

        salt-call brine_lb.haproxy
    """
    settings = _settings(settings, HAPROXY_DEFAULTS)
    if minion_id not in brine_names.controllers(inventory):
        raise InventoryProblem(f"{minion_id!r} is not a controller")
    password = _haproxy_password(_need_secret(secrets, "haproxy_stats_password"))
    user = settings["stats_user"]
    if not _NAME.match(str(user)):
        raise InventoryProblem(f"haproxy:stats_user: {user!r} must be [a-z][a-z0-9_]*")
    for key in ("stats_socket", "group"):
        if not _SAFE_ARG.match(str(settings[key])):
            raise InventoryProblem(f"haproxy:{key}: {settings[key]!r} holds characters haproxy.cfg would need quoted")
    maxconn = settings["maxconn"]
    if isinstance(maxconn, bool) or not isinstance(maxconn, int) or maxconn < 1:
        raise InventoryProblem(f"haproxy:maxconn: {maxconn!r} is not a positive number")
    internal = str(ipaddress.ip_address(inventory["vips"]["internal"]["address"]))
    tls = acme_lib.resolve(inventory) if (acme_lib.enabled(inventory) if tls is None else tls) else None
    external = str(ipaddress.ip_address(inventory["vips"]["external"]["address"])) if tls else None
    lines = [
        "# Managed by Brine (salt/haproxy): the controllers' load balancer. Edits are overwritten.",
        "global",
        "    log /dev/log local0",
        "    chroot /var/lib/haproxy",
        f"    stats socket {settings['stats_socket']} mode 660 group {settings['group']} level admin expose-fd listeners",
        "    stats timeout 30s",
        "    user haproxy",
        f"    group {settings['group']}",
        f"    maxconn {maxconn}",
        "",
        "defaults",
        "    log global",
        "    mode tcp",
        "    option dontlognull",
        # a failed connect is retried on another server each time, not on the same one
        "    option redispatch 1",
        "    retries 3",
        *_timeouts(settings["timeouts"], "haproxy:timeouts"),
        "",
        "listen stats",
        f"    bind {internal}:{_port(settings['stats_port'], 'haproxy:stats_port')}",
        "    mode http",
        "    stats enable",
        "    stats uri /",
        "    stats refresh 10s",
        "    stats show-node",
        "    stats hide-version",
        f"    stats auth '{user}:{password}'",
    ]
    for listen in haproxy_listens(inventory, settings):
        lines += ["", f"listen {listen['name']}"]
        lines += [f"    bind {address}:{port}" + (f" ssl crt {tls['crt']}" if address == external else "")
                  for address, port in listen["binds"]]
        lines.append(f"    mode {listen['mode']}")
        if listen["mode"] == "tcp":
            lines.append("    option tcpka")
        lines.append(f"    balance {listen['balance']}")
        lines += listen["timeouts"]
        check = listen["check"]
        if check["type"] == "http":
            lines += ["    option httpchk", f"    http-check send meth GET uri {check.get('path', '/')}",
                      "    http-check expect status 200"]
            check_port = f" port {check['port']}"
        else:
            check_port = ""
        opts = " ".join(listen["server_options"])
        for server in listen["servers"]:
            line = f"    server {server['name']} {server['address']}:{server['port']} check{check_port}"
            line += f" {opts}" if opts else ""
            line += " backup" if server["backup"] else ""
            lines.append(line)
    if tls:
        runner = inventory["hosts"][tls["runner"]]
        network = inventory["vips"]["external"]["network"]
        lines += ["", *acme_lib.haproxy_acme_lines(
            external, [(runner["hostname"], _address(runner, network), tls["http_port"])])]
    return "\n".join(lines) + "\n"


def haproxy_dropin(track_file, writer):
    """
    The drop-in for haproxy.service that tells keepalived at once when HAProxy is down: 1 into
    the track file when the service stops for any reason (killed, crashed, stopped), 0 once it
    is up again (Type=notify: after HAProxy said it is ready). A reload touches neither. Pure.
    """
    for value, what in ((track_file, "keepalived:track_file"), (writer, "haproxy:track_writer")):
        if not _SAFE_ARG.match(str(value)) or not str(value).startswith("/"):
            raise InventoryProblem(f"{what}: {value!r} must be an absolute path of [A-Za-z0-9_./:-]")
    return (
        "# Managed by Brine (salt/haproxy): keepalived's track file follows HAProxy (docs/loadbalancer.md).\n"
        "[Service]\n"
        f"ExecStartPost=-{writer} {track_file} 0\n"
        f"ExecStopPost=-{writer} {track_file} 1\n"
    )


# --------------------------------------------------------------------------- live layer


def _inventory():
    return __salt__["brine_inventory.get"]()


def _secrets(names):
    return {name: __salt__["brine_secrets.get"](name) for name in names}


def _wrap(fn, *args):
    try:
        return fn(*args)
    except InventoryProblem as exc:
        raise CommandExecutionError(str(exc)) from None


def defaults():
    """
    The built-in settings: ``{"keepalived": ..., "haproxy": ...}`` (salt/*/defaults.yaml holds
    the same).

    CLI Example:

    .. code-block:: bash

        salt-call brine_lb.defaults
    """
    return {"keepalived": copy.deepcopy(KEEPALIVED_DEFAULTS), "haproxy": copy.deepcopy(HAPROXY_DEFAULTS)}


def keepalived(settings=None, minion_id=None):
    """
    This controller's ``keepalived.conf`` (it holds the VRRP password: for templates of 0600
    files only).

    CLI Example:

    .. code-block:: bash

        salt-call brine_lb.keepalived
    """
    minion_id = minion_id or __grains__["id"]
    settings = _settings(settings, KEEPALIVED_DEFAULTS)
    names = ["keepalived_auth"] if settings["vrrp_version"] == 2 else []
    return _wrap(keepalived_conf, _inventory(), minion_id, _secrets(names), settings)


def haproxy(settings=None, minion_id=None):
    """
    This controller's ``haproxy.cfg`` (it holds the stats password: for templates of 0640 files
    only). With the inventory's ``acme:enabled`` the external VIP's binds serve TLS and its port 80 routes the ACME challenge
    (docs/acme.md).

    CLI Example:

    .. code-block:: bash

        salt-call brine_lb.haproxy
    """
    minion_id = minion_id or __grains__["id"]
    inventory = _inventory()
    return _wrap(haproxy_cfg, inventory, minion_id, _secrets(["haproxy_stats_password"]), settings)


def instances(settings=None, minion_id=None):
    """
    This controller's VRRP instances (no secrets): VIP, VRRP id, interface, peers, priority.

    CLI Example:

    .. code-block:: bash

        salt-call brine_lb.instances
    """
    return _wrap(vrrp_instances, _inventory(), minion_id or __grains__["id"], settings)


def dropin(track_file=None, writer=None):
    """
    The haproxy.service drop-in text (see :func:`haproxy_dropin`).

    CLI Example:

    .. code-block:: bash

        salt-call brine_lb.dropin
    """
    return _wrap(haproxy_dropin, track_file or KEEPALIVED_DEFAULTS["track_file"],
                 writer or HAPROXY_DEFAULTS["track_writer"])


def salt_call():
    """
    The ``salt-call`` of this minion's own Salt (next to its Python: /opt/salt/bin in the lab),
    else the one on PATH; the certificate deploy hook runs it.

    CLI Example:

    .. code-block:: bash

        salt-call brine_lb.salt_call
    """
    beside = os.path.join(os.path.dirname(sys.executable), "salt-call")
    if os.access(beside, os.X_OK):
        return beside
    found = shutil.which("salt-call")
    if not found:
        raise CommandExecutionError("no salt-call next to this minion's Python nor on PATH")
    return found
