"""
RabbitMQ's cluster membership and the OpenStack account as states (``brine_rabbitmq.join`` and
``brine_rabbitmq.ensure_account``). The same ``changes`` with and without ``test=True``; no
password is ever in a return.
"""

import brinelib

brinelib.forget_if_changed()  # a library synced since it was imported replaces the old one
from brinelib.errors import CommandExecutionError
from brinelib.state_returns import changed, failed, new_return, unchanged, would_change

__virtualname__ = "brine_rabbitmq"


def __virtual__():
    if "brine_rabbitmq.join" not in __salt__:
        return (False, "the brine_rabbitmq execution module is not available")
    return __virtualname__


def joined(name, node):
    """
    ``node`` is in the cluster of the seed ``name``: a fresh stand-alone node joins it; a
    member is left as it is; a node holding data of its own is refused (the state fails naming it).

    .. code-block:: yaml

        rabbitmq-cluster-joined:
          brine_rabbitmq.joined:
            - name: rabbit@ubuntu1
            - node: rabbit@ubuntu2
    """
    ret = new_return(name)
    try:
        plan = __salt__["brine_rabbitmq.join"](name, node, test=True)
        if not plan["changed"]:
            return unchanged(ret, plan["reason"])
        changes = {"joined": {"node": node, "cluster": name}}
        if __opts__["test"]:
            return would_change(ret, changes, f"would join: {plan['reason']}")
        done = __salt__["brine_rabbitmq.join"](name, node)
    except CommandExecutionError as exc:
        return failed(ret, str(exc))
    return changed(ret, changes, done["reason"])


def account_present(name, user, node=None):
    """
    The vhost ``name`` (default queue type quorum from its creation) and ``user`` with the
    ``rabbitmq_password`` secret and full permissions on it.

    .. code-block:: yaml

        rabbitmq-openstack-account:
          brine_rabbitmq.account_present:
            - name: openstack
            - user: openstack
    """
    ret = new_return(name)
    try:
        wanted = __salt__["brine_rabbitmq.ensure_account"](name, user, node=node, test=True)["changed"]
        if not wanted:
            return unchanged(ret, f"vhost {name} and user {user} are as they should be")
        if __opts__["test"]:
            return would_change(ret, {"account": wanted}, f"would set {', '.join(wanted)}")
        done = __salt__["brine_rabbitmq.ensure_account"](name, user, node=node)["changed"]
    except CommandExecutionError as exc:
        return failed(ret, str(exc))
    return changed(ret, {"account": done}, f"set {', '.join(done)}")
