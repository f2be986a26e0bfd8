"""
The external endpoint's TLS certificate in HAProxy (docs/loadbalancer.md): a thin adapter over
:mod:`brinelib.certdeploy`, which certbot's deploy hook (salt/haproxy/files/brine-cert-deploy.jinja)
runs through salt-call.
"""

import json

import brinelib

brinelib.forget_if_changed()  # a library synced since it was imported replaces the old one
from brinelib import acme, certdeploy, certs, certsync
from brinelib.errors import CommandExecutionError

__virtualname__ = "brine_cert"


def __virtual__():
    return __virtualname__


def deploy(fqdn, crt, lineage=None, chain=None, key=None, config=None, stats_socket=None, haproxy=None, reload=None):
    """
    Check the certificate of certbot's ``lineage`` directory (or the ``chain`` and ``key``
    files) for ``fqdn``, install it as ``crt`` (the file HAProxy's ``crt`` names) and make the
    running HAProxy serve it: runtime API, else a graceful reload (``reload``: an argument
    list, default ``systemctl reload haproxy``). ``config``, ``stats_socket`` and ``haproxy``
    default to the HAProxy settings. A refused certificate leaves the served one in place and
    fails the call.

    CLI Example:

    .. code-block:: bash

        salt-call brine_cert.deploy external.lab.home.arpa /etc/haproxy/certs/external.pem lineage=/etc/letsencrypt/live/external.lab.home.arpa
    """
    if lineage:
        chain, key = certdeploy.lineage_files(lineage)
    if not (chain and key):
        raise CommandExecutionError("brine_cert.deploy needs lineage, or chain and key")
    return certdeploy.deploy(chain, key, fqdn, crt, **_haproxy(config, stats_socket, haproxy),
                             reload=reload or certdeploy.RELOAD)


def publish(fqdn, crt):
    """
    After the ACME runner installed a certificate (the deploy hook's second step): push the
    installed combined PEM ``crt`` to the master (``cp.push``, Salt's encrypted channel; the
    master needs ``file_recv: True``), then send the signed ``brine/cert/renewed`` event (FQDN,
    serial, SHA-256 fingerprint; never the key), on which the master has every other controller
    install it. Returns the event's payload; fails when the push or the event did not go out.

    CLI Example:

    .. code-block:: bash

        salt-call brine_cert.publish external.lab.home.arpa /etc/haproxy/certs/external.pem
    """
    try:
        with open(crt, encoding="utf-8") as fh:
            payload = certsync.renewed_payload(fh.read(), fqdn)
    except (OSError, UnicodeDecodeError, certs.CertProblem) as exc:
        raise CommandExecutionError(f"brine_cert.publish: {crt}: {getattr(exc, 'strerror', None) or exc}") from None
    if not __salt__["cp.push"](crt):
        raise CommandExecutionError(f"brine_cert.publish: the master refused {crt} (is file_recv on?)")
    if not __salt__["brine_sign.send"](certsync.RENEWED_TAG, payload):
        raise CommandExecutionError(f"brine_cert.publish: {certsync.RENEWED_TAG} did not reach the master")
    return payload


def sync(test=False, crt=None, config=None, stats_socket=None, haproxy=None):
    """
    Install the ACME runner's certificate from this controller's pillar (``brine_cert:pem``,
    pillar/brine_cert.sls) as ``crt`` (default: the inventory's ``acme:crt``) when that file
    holds another serial, with the deploy hook's checks and swap (a refused one fails and the
    served one stays). ``config``, ``stats_socket`` and ``haproxy`` default to the HAProxy
    settings. Returns ``{"install", "serial", "previous"}`` (and ``method`` when it installed;
    with ``test``, nothing done); ``{}`` without a certificate in the pillar. Never the key.

    CLI Example:

    .. code-block:: bash

        salt-call brine_cert.sync test=True
    """
    pem = (__pillar__.get(certsync.PILLAR_KEY) or {}).get("pem")
    if not pem:
        return {}
    settings = _acme()
    return certdeploy.sync(pem, settings["fqdn"], crt or settings["crt"], **_haproxy(config, stats_socket, haproxy),
                           test=test)


def placeholder(fqdn=None, crt=None):
    """
    Write HAProxy's self-signed placeholder for ``fqdn`` (default: the external VIP's) as
    ``crt`` (default: the inventory's ``acme:crt``) unless that file exists; returns whether it
    wrote one. The key never leaves the file (0600 root).

    CLI Example:

    .. code-block:: bash

        salt-call brine_cert.placeholder
    """
    settings = _acme()
    return certdeploy.placeholder(crt or settings["crt"], fqdn or settings["fqdn"])


def certbot_argv(action="certonly", force=False):
    """
    certbot's argument list for this lab (the inventory's ``acme:``): ``certonly`` obtains the
    external VIP's certificate, ``renew`` renews it (``force``: now).

    CLI Example:

    .. code-block:: bash

        salt-call brine_cert.certbot_argv renew force=True
    """
    settings = _acme()
    if action == "certonly":
        return acme.certbot_certonly(settings)
    if action == "renew":
        return acme.certbot_renew(settings, force=force)
    raise CommandExecutionError(f"brine_cert.certbot_argv: {action!r} is not certonly or renew")


def settings():
    """
    The resolved ``acme`` settings: the inventory's ``acme:`` over the defaults, with the
    ``runner`` controller and the external ``fqdn`` (docs/acme.md).

    CLI Example:

    .. code-block:: bash

        salt-call brine_cert.settings
    """
    return _acme()


def pebble(action="files"):
    """
    The lab's ACME CA on this bootstrap host (docs/acme.md): ``files`` writes pebble's TLS
    certificate and key once (self-signed for the host's name and management address; returns
    whether it wrote them), ``config`` returns pebble's JSON configuration, ``unit`` its systemd
    unit, ``certificate`` the certificate (the CA bundle certbot trusts; public).

    CLI Example:

    .. code-block:: bash

        salt-call brine_cert.pebble config
    """
    inventory = __salt__["brine_inventory.get"]()
    found = acme.pebble_host(inventory)
    if not found:
        raise CommandExecutionError("no bootstrap host with a management address runs pebble")
    mid, address = found
    files = acme.pebble_files()
    if action == "files":
        return certdeploy.pebble_tls(files, [inventory["hosts"][mid].get("hostname", mid)], [address])
    if action == "config":
        return json.dumps(acme.pebble_config(f"{address}:{acme.PEBBLE_PORT}", "127.0.0.1:15000", 80,
                                             files["certificate"], files["key"]), indent=2) + "\n"
    if action == "unit":
        return acme.pebble_unit(files["config"], f"{address}:53")
    if action == "certificate":
        try:
            with open(files["certificate"], encoding="utf-8") as fh:
                return fh.read()
        except FileNotFoundError:
            raise CommandExecutionError(f"pebble's certificate {files['certificate']} is not written yet "
                                        "(brine_cert.pebble files writes it)") from None
    raise CommandExecutionError(f"brine_cert.pebble: {action!r} is not files, config, unit or certificate")


# The Salt mine function name under which the bootstrap host publishes pebble's certificate.
PEBBLE_MINE = "brine_pebble_certificate"


def pebble_published():
    """
    Whether the Salt mine already holds this host's current pebble certificate (``mine.get``
    of ``brine_pebble_certificate``; False while no certificate is written):
    salt/bootstrap/config/pebble.sls sends it only when not, so a second apply changes nothing.

    CLI Example:

    .. code-block:: bash

        salt-call brine_cert.pebble_published
    """
    mid = __grains__["id"]
    try:
        certificate = pebble("certificate")
    except CommandExecutionError:
        return False  # not written yet (a test=True run before the TLS state): nothing published
    return (__salt__["mine.get"](mid, PEBBLE_MINE) or {}).get(mid) == certificate


def _haproxy(config, stats_socket, haproxy):
    """certdeploy's HAProxy arguments: those given, else the HAProxy settings' defaults."""
    settings = __salt__["brine_lb.defaults"]()["haproxy"]
    return {"config": config or settings["config"], "stats_socket": stats_socket or settings["stats_socket"],
            "haproxy": haproxy or settings["binary"]}


def _acme():
    try:
        return acme.resolve(__salt__["brine_inventory.get"]())
    except ValueError as exc:
        raise CommandExecutionError(str(exc)) from None
