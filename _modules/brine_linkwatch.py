"""
The link watchers' minion side: this minion's links now (pyroute2) and its dual bond from the
inventory, for the ``brine_linkwatch`` engine and beacon. They turn what they see into Brine
events with ``brinelib.linkwatch`` (the tracker, the tags and payloads, the local reselect).
"""

import concurrent.futures
import logging

import brinelib

brinelib.forget_if_changed()  # a library synced since it was imported replaces the old one
from brinelib.linkwatch import INVENTORY_GROUP, RESELECT_BACKENDS, link_from_message, normalise_bonds

try:
    from pyroute2 import IPRoute

    HAS_PYROUTE2 = True
except ImportError:  # pragma: no cover - exercised only on a minion without pyroute2
    HAS_PYROUTE2 = False

log = logging.getLogger(__name__)

__virtualname__ = "brine_linkwatch"


def __virtual__():
    if not HAS_PYROUTE2:
        return (False, "brine_linkwatch needs the pyroute2 Python library")
    return __virtualname__


def reselect_legs(bonds):
    """
    The dual bond's own bonds (``[{"nic", "bond"}, ...]``, named by ``dualbond.device_names``)
    for the inventory group in ``bonds`` when its backend needs a reselect, else None. Read
    once when the engine starts, so a reselect later needs neither pillar nor master.

    CLI Example:

    .. code-block:: bash

        salt-call brine_linkwatch.reselect_legs '{dualbond: {members: [eth2, eth3], backend: ovs}}'
    """
    spec = normalise_bonds(bonds).get(INVENTORY_GROUP)
    if not spec or spec["backend"] not in RESELECT_BACKENDS:
        return None
    try:
        names = __salt__["dualbond.device_names"](spec["members"])
    except Exception as exc:  # pylint: disable=broad-except
        log.warning("brine_linkwatch: no dual-bond names for a local reselect (%s); dualbond will read its plan", exc)
        return None
    return [{"nic": leg["nic"], "bond": leg["bond"]} for leg in names]


def inventory_bonds():
    """
    This minion's dual bond from the inventory as a bond group for the watchers, or ``{}``.

    CLI Example:

    .. code-block:: bash

        salt-call brine_linkwatch.inventory_bonds
    """
    try:
        host = __salt__["brine_inventory.host"]()
    except Exception as exc:  # pylint: disable=broad-except
        log.info("brine_linkwatch: no dual bond from the inventory (%s)", exc)
        return {}
    spec = host.get("dualbond")
    if not spec:
        return {}
    return {INVENTORY_GROUP: {"members": list(spec["nics"]), "backend": spec.get("backend", "linux")}}


def links(netns=None, interfaces=None):
    """
    The current state of this minion's links (those in ``interfaces`` when given), as the
    watchers see them: ``[{"name", "index", "carrier", "operstate", "master", "kind", ...}]``.

    netns
        Name of a network namespace (``ip netns``) to look into instead of the minion's own.

    CLI Example:

    .. code-block:: bash

        salt-call brine_linkwatch.links
        salt-call brine_linkwatch.links interfaces='[eth2, eth3]'
    """
    def dump():
        with IPRoute(**({"netns": netns} if netns else {})) as ipr:
            return [link_from_message(msg) for msg in ipr.get_links()]

    # pyroute2's synchronous API runs its own asyncio loop, which cannot start inside the
    # minion's running loop (where beacons run): dump from a thread of its own.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        found = pool.submit(dump).result()
    if interfaces is not None:
        wanted = set(interfaces)
        # Bonds stay in: their members' master index and active member resolve through them.
        found = [l for l in found if l["name"] in wanted or l["kind"] == "bond"]
    for link in found:
        link["event"] = "RTM_NEWLINK"
    return found
