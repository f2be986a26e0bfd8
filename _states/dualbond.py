"""
States for the dual active-backup bond (see _modules/dualbond.py): ``dualbond.present`` and
``dualbond.absent``. Thin wrappers: the execution module computes the difference, applies it
(with probe and automatic rollback) and writes the persistent files.

``changes`` is ``{"actions": [...]}`` with and without test=True (the changes made, or that
would be made; ``result: None`` in test mode), plus ``"rolled_back": True`` when a change was undone.

.. code-block:: yaml

    dualbond:
      dualbond.present: []
"""

import brinelib

brinelib.forget_if_changed()  # a library synced since it was imported replaces the old one
from brinelib.errors import CommandExecutionError
from brinelib.state_returns import changed, failed, new_return, unchanged, would_change

__virtualname__ = "dualbond"


def __virtual__():
    if "dualbond.apply" not in __salt__:
        return (False, "the dualbond execution module is not available (needs iproute2)")
    return __virtualname__


def present(name, probe=None):
    """
    The host's dual bond exists exactly as its inventory entry says, live and in its persistent
    configuration. A change after which the probe (``probe`` argument, else the inventory's
    ``dualbond:probe``, else the salt-master) stops answering is rolled back within
    ``rollback_seconds``, and the state fails saying so.

    name
        Any ID; the bond is the minion's own.
    probe
        ``ADDRESS`` (ICMP) or ``ADDRESS:PORT`` (TCP) to prove the host is still reachable.

    CLI Example:

    .. code-block:: bash

        salt-call state.single dualbond.present name=dualbond test=True
    """
    ret = new_return(name)
    try:
        out = __salt__["dualbond.apply"](test=__opts__["test"], probe_override=probe)
    except CommandExecutionError as exc:
        return failed(ret, f"Dual bond cannot be applied: {exc}")
    if not out["changes"] and not out.get("rolled_back"):
        return unchanged(ret, "Dual bond is already as planned")
    if __opts__["test"]:
        return would_change(ret, {"actions": out["changes"]}, f"Dual bond would make {len(out['changes'])} change(s)")
    if out.get("rolled_back"):
        return failed(ret, f"Dual bond change was ROLLED BACK: {out['comment']}",
                      changes={"actions": out.get("attempted", []), "rolled_back": True})
    return changed(ret, {"actions": out["changes"]}, f"Dual bond: {len(out['changes'])} change(s) applied")


def absent(name):
    """
    The host has no dual bond: its bridges, bonds, crossings and VLANs are deleted and its
    persistent files removed; the physical NICs are only released.

    CLI Example:

    .. code-block:: bash

        salt-call state.single dualbond.absent name=dualbond test=True
    """
    ret = new_return(name)
    try:
        out = __salt__["dualbond.remove"](test=__opts__["test"])
    except CommandExecutionError as exc:
        return failed(ret, f"Dual bond cannot be removed: {exc}")
    if not out["changes"]:
        return unchanged(ret, "Dual bond is already absent")
    if __opts__["test"]:
        return would_change(ret, {"actions": out["changes"]},
                            f"Dual bond removal would make {len(out['changes'])} change(s)")
    return changed(ret, {"actions": out["changes"]}, "Dual bond removed")
