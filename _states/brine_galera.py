"""
The accounts MariaDB Galera needs (``brine_galera.ensure_users``), as a state: root's password,
the SST user and the monitoring user, made on a Synced node (they replicate). No password is
ever in a return.
"""

__virtualname__ = "brine_galera"


def __virtual__():
    if "brine_galera.ensure_users" not in __salt__:
        return (False, "the brine_galera execution module is not available")
    return __virtualname__


def accounts_present(name):
    """
    The Galera accounts exist with the inventory's passwords and their privileges.

    .. code-block:: yaml

        galera-accounts:
          brine_galera.accounts_present:
            - name: galera
    """
    ret = {"name": name, "result": True, "changes": {}, "comment": ""}
    status = __salt__["brine_galera.status"]()
    if not status.get("synced"):
        ret["comment"] = (f"mariadb is not Synced here ({status.get('health')}): the accounts are made on a "
                          "Synced node (salt/orch/galera.sls) and replicate")
        return ret
    wanted = __salt__["brine_galera.ensure_users"](test=True)["changed"]
    if not wanted:
        ret["comment"] = "the Galera accounts are as they should be"
        return ret
    if __opts__["test"]:
        ret.update(result=None, changes={"accounts": wanted}, comment=f"would set {', '.join(wanted)}")
        return ret
    done = __salt__["brine_galera.ensure_users"]()["changed"]
    ret.update(changes={"accounts": done}, comment=f"set {', '.join(done)}")
    return ret
