"""
The ACME runner's certificate on another controller (``brine_cert.synced``, salt/haproxy/cert_sync.sls):
installed from this minion's pillar through the deploy hook's checks when the served file holds
another serial. The same ``changes`` with and without ``test=True``: serials only, never the key.
"""

import brinelib

brinelib.forget_if_changed()  # a library synced since it was imported replaces the old one
from brinelib.errors import CommandExecutionError
from brinelib.state_returns import changed, failed, new_return, unchanged, would_change

__virtualname__ = "brine_cert"


def __virtual__():
    if "brine_cert.sync" not in __salt__:
        return (False, "the brine_cert execution module is not available")
    return __virtualname__


def synced(name, config=None, stats_socket=None, haproxy=None):
    """
    ``name`` (the inventory's ``acme:crt``) holds and HAProxy serves the certificate of this
    minion's pillar ``brine_cert:pem``; nothing to do without one. A refused certificate fails
    the state and the served one stays. ``config``, ``stats_socket``, ``haproxy``: HAProxy's
    (default: its settings' defaults).

    .. code-block:: yaml

        haproxy-cert-sync:
          brine_cert.synced:
            - name: /etc/haproxy/certs/external.pem
            - config: /etc/haproxy/haproxy.cfg
    """
    ret = new_return(name)
    where = {"crt": name, "config": config, "stats_socket": stats_socket, "haproxy": haproxy}
    try:
        plan = __salt__["brine_cert.sync"](test=True, **where)
        if not plan:
            return unchanged(ret, "no certificate in this minion's pillar (brine_cert:pem)")
        if not plan["install"]:
            return unchanged(ret, f"{name} holds serial {plan['serial']} already")
        changes = {"serial": {"old": plan["previous"], "new": plan["serial"]}}
        if __opts__["test"]:
            return would_change(ret, changes, f"would install serial {plan['serial']} as {name}")
        done = __salt__["brine_cert.sync"](**where)
    except CommandExecutionError as exc:
        return failed(ret, str(exc))
    changes = {"serial": {"old": done["previous"], "new": done["serial"]}}
    return changed(ret, changes, f"installed serial {done['serial']} as {name} ({done.get('method', 'unchanged')})")
