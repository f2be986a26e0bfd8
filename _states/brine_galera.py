"""
The accounts MariaDB Galera needs (``brine_galera.ensure_users``), as a state: root's password,
the SST user and the monitoring user, made on a Synced node (they replicate). No password is
ever in a return.
"""

import brinelib

brinelib.forget_if_changed()  # a library synced since it was imported replaces the old one
from brinelib.state_returns import changed, new_return, unchanged, would_change

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
    ret = new_return(name)
    status = __salt__["brine_galera.status"]()
    if not status.get("synced"):
        return unchanged(ret, f"mariadb is not Synced here ({status.get('health')}): the accounts are made on a "
                              "Synced node (salt/orch/galera.sls) and replicate")
    wanted = __salt__["brine_galera.ensure_users"](test=True)["changed"]
    if not wanted:
        return unchanged(ret, "the Galera accounts are as they should be")
    if __opts__["test"]:
        return would_change(ret, {"accounts": wanted}, f"would set {', '.join(wanted)}")
    done = __salt__["brine_galera.ensure_users"]()["changed"]
    return changed(ret, {"accounts": done}, f"set {', '.join(done)}")
