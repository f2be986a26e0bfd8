"""
State that refuses to go on while the lab inventory is invalid.

Every role state includes ``brine.validate``, which runs this state first (``order: 1``) with
``failhard: True``: one invalid inventory stops the whole run before anything is changed.
"""

import brinelib

brinelib.forget_if_changed()  # a library synced since it was imported replaces the old one
from brinelib.state_returns import failed, new_return, unchanged

__virtualname__ = "brine_inventory"


def __virtual__():
    if "brine_inventory.validate" not in __salt__:
        return (False, "the brine_inventory execution module is not available (netaddr missing?)")
    return __virtualname__


def valid(name, inventory=None):
    """
    Succeed when the inventory (pillar ``brine``, or ``inventory``) is valid; fail listing
    every problem with its pillar path otherwise. Changes nothing, so test=True is the same.

    name
        Any name; shown in the output.

    inventory
        An inventory dict to check instead of pillar ``brine``.

    CLI Example:

    .. code-block:: yaml

        brine-inventory-valid:
          brine_inventory.valid:
            - order: 1
            - failhard: True
    """
    ret = new_return(name)
    try:
        report = __salt__["brine_inventory.validate"](inventory=inventory)
    except Exception as exc:  # noqa: BLE001 - any failure to read the inventory is fatal here
        return failed(ret, f"Cannot read the inventory: {exc}")
    if report["valid"]:
        return unchanged(ret, "The inventory is valid")
    count = len(report["errors"])
    return failed(ret, "\n".join(
        [f"The inventory has {count} problem{'s' if count != 1 else ''}; nothing was applied:"]
        + [f"  - {e}" for e in report["errors"]]
    ))
