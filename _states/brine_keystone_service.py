"""
Keystone's database, schema and bootstrap as states (``brine_keystone_service.database``,
``.schema``, ``.bootstrap``), applied by salt/orch/keystone.sls on the first controller. The
same ``changes`` with and without ``test=True``; no password is ever in a return.

.. code-block:: yaml

    keystone-database:
      brine_keystone_service.database_present:
        - name: keystone
    keystone-schema:
      brine_keystone_service.schema_synced:
        - name: keystone
        - require:
          - brine_keystone_service: keystone-database
    keystone-bootstrap:
      brine_keystone_service.bootstrapped:
        - name: keystone
        - settings: {region: RegionOne}
"""

import brinelib

brinelib.forget_if_changed()  # a library synced since it was imported replaces the old one
from brinelib.errors import CommandExecutionError
from brinelib.state_returns import changed, failed, new_return, unchanged, would_change

__virtualname__ = "brine_keystone_service"


def __virtual__():
    if "brine_keystone_service.database" not in __salt__:
        return (False, "the brine_keystone_service execution module is not available")
    return __virtualname__


def _converge(name, function, what, settings):
    """Ask ``function`` with test=True, then (outside test mode) run it; ``what(plan)`` is the changes or None."""
    ret = new_return(name)
    fn = __salt__[f"brine_keystone_service.{function}"]
    try:
        wanted = what(fn(test=True, settings=settings))
        if not wanted:
            return unchanged(ret, f"{name}: nothing to do")
        if __opts__["test"]:
            return would_change(ret, wanted, f"{name}: would change")
        done = what(fn(settings=settings)) or wanted
    except CommandExecutionError as exc:
        return failed(ret, str(exc))
    return changed(ret, done, f"{name}: done")


def database_present(name, settings=None):
    """
    Keystone's database and its user with the ``keystone_db_password`` secret, made over this
    node's unix socket (a Synced Galera node: the statements replicate).
    """
    return _converge(name, "database", lambda plan: {"created": plan["changed"]} if plan["changed"] else None,
                     settings)


def schema_synced(name, settings=None):
    """
    Keystone's schema up to date: ``keystone-manage db_sync`` only when ``db_sync --check``
    finds work.
    """
    return _converge(name, "schema", lambda plan: {"db_sync": True} if plan["changed"] else None, settings)


def bootstrapped(name, settings=None):
    """
    The admin and the identity endpoints: ``keystone-manage bootstrap`` only when a token of
    this node's Keystone does not already show them.
    """
    return _converge(name, "bootstrap", lambda plan: {"bootstrap": plan["problems"]} if plan["changed"] else None,
                     settings)
