"""
The bootstrap host's services, the Salt side: everything the bootstrap states render from
(DHCP network, reservations, PXE, NTP, DNS, proxy, the installed hosts' user), from the
inventory in pillar. The rules are in ``brinelib.bootstrap`` and ``brinelib.dhcp.plan``.
"""

import brinelib

brinelib.forget_if_changed()  # a library synced since it was imported replaces the old one
from brinelib import bootstrap
from brinelib.dhcp import plan as dhcp_plan
from brinelib.errors import CommandExecutionError, InventoryProblem

__virtualname__ = "brine_bootstrap"


def __virtual__():
    if "brine_inventory.get" not in __salt__:
        return (False, "brine_bootstrap needs the brine_inventory execution module")
    return __virtualname__


def bootstrap_settings(inventory=None, interface=None):
    """
    Everything the bootstrap services render from, as plain data: the DHCP network, the
    bootstrap host's address and interface, the hosts' reservations and the ``services``
    settings with their defaults (NTP upstreams, DNS forwarders, proxy port, install user).
    ``inventory`` defaults to pillar's; an invalid one is refused with every problem named.

    CLI Example:

    .. code-block:: bash

        salt-call brine_bootstrap.bootstrap_settings
    """
    if inventory is None:
        inventory = __salt__["brine_inventory.get"]()
    try:
        plan = dhcp_plan.plan(inventory, interface=interface)
    except InventoryProblem as exc:
        raise CommandExecutionError(str(exc)) from None
    return bootstrap.settings(inventory, plan)
