"""
RabbitMQ's cluster membership and the OpenStack account as states (``brine_rabbitmq.join`` and
``brine_rabbitmq.ensure_account``). The same ``changes`` with and without ``test=True``; no
password is ever in a return.
"""

try:
    from salt.exceptions import CommandExecutionError
except ImportError:  # pragma: no cover - importable without Salt for the tests
    CommandExecutionError = Exception

__virtualname__ = "brine_rabbitmq"


def __virtual__():
    if "brine_rabbitmq.join" not in __salt__:
        return (False, "the brine_rabbitmq execution module is not available")
    return __virtualname__


def _ret(name):
    return {"name": name, "result": True, "changes": {}, "comment": ""}


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
    ret = _ret(name)
    try:
        plan = __salt__["brine_rabbitmq.join"](name, node, test=True)
        if not plan["changed"]:
            ret["comment"] = plan["reason"]
            return ret
        changes = {"joined": {"node": node, "cluster": name}}
        if __opts__["test"]:
            ret.update(result=None, changes=changes, comment=f"would join: {plan['reason']}")
            return ret
        done = __salt__["brine_rabbitmq.join"](name, node)
    except CommandExecutionError as exc:
        ret.update(result=False, comment=str(exc))
        return ret
    ret.update(changes=changes, comment=done["reason"])
    return ret


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
    ret = _ret(name)
    try:
        wanted = __salt__["brine_rabbitmq.ensure_account"](name, user, node=node, test=True)["changed"]
        if not wanted:
            ret["comment"] = f"vhost {name} and user {user} are as they should be"
            return ret
        if __opts__["test"]:
            ret.update(result=None, changes={"account": wanted}, comment=f"would set {', '.join(wanted)}")
            return ret
        done = __salt__["brine_rabbitmq.ensure_account"](name, user, node=node)["changed"]
    except CommandExecutionError as exc:
        ret.update(result=False, comment=str(exc))
        return ret
    ret.update(changes={"account": done}, comment=f"set {', '.join(done)}")
    return ret
