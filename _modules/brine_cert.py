"""
The external endpoint's TLS certificate in HAProxy (docs/loadbalancer.md): a thin adapter over
:mod:`brinelib.certdeploy`, which certbot's deploy hook (salt/haproxy/files/brine-cert-deploy.jinja)
runs through salt-call.
"""

import brinelib

brinelib.forget_if_changed()  # a library synced since it was imported replaces the old one
from brinelib import certdeploy
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
    settings = __salt__["brine_lb.defaults"]()["haproxy"]
    return certdeploy.deploy(
        chain, key, fqdn, crt,
        config=config or settings["config"],
        stats_socket=stats_socket or settings["stats_socket"],
        haproxy=haproxy or settings["binary"],
        reload=reload or certdeploy.RELOAD,
    )
