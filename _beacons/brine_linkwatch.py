"""
Brine's link watcher as a beacon, for minions that cannot run engines. It publishes the same
``brine/net/...`` events as the ``brine_linkwatch`` engine, but from a poll: Salt runs beacons on
a fixed 1-second timer (sub-second intervals are ignored, and the minion's ``loop_interval``
must be 1 or less), so a change is seen 0-1 s after it happens.

.. code-block:: yaml

    beacons:
      brine_linkwatch:
        - interval: 1
        - interfaces: [eth2, eth3]     # optional allow-list
        - bonds: {bond0: {members: [eth2, eth3], backend: ovs}}   # optional
        - netns: null                  # optional

The events go out with ``event.send`` rather than as the beacon's return value: the master
takes the minion id of a beacon event from the event's own data, which a minion can write
freely, while ``event.send`` events carry the id of the authenticated connection.
"""

import logging

log = logging.getLogger(__name__)

__virtualname__ = "brine_linkwatch"

SETTINGS = ("interval", "interfaces", "bonds", "netns", "disable_during_state_run")

# One tracker per beacon configuration: the poll compares each state with the previous one.
_TRACKERS = {}


def __virtual__():
    # Loading the execution module also loads Brine's library (brinelib): Salt's beacon loader,
    # unlike the others, puts no _utils directory on sys.path, so this beacon imports brinelib
    # only after the module has (_link_tracker).
    if "brine_linkwatch.links" not in __salt__:
        return (False, "the brine_linkwatch beacon needs the brine_linkwatch module (and pyroute2)")
    return __virtualname__


def _link_tracker(**kwargs):
    """A ``brinelib.linkwatch.LinkTracker`` (imported once the execution module loaded brinelib)."""
    from brinelib.linkwatch import LinkTracker

    return LinkTracker(**kwargs)


def settings(config):
    """The beacon's list-of-mappings configuration as one dict."""
    merged = {}
    for item in config if isinstance(config, list) else [config]:
        if isinstance(item, dict):
            merged.update(item)
    return merged


def validate(config):
    """
    Check the beacon configuration.

    CLI Example:

    .. code-block:: bash

        salt-call beacons.list
    """
    if not isinstance(config, list):
        return False, "brine_linkwatch beacon configuration must be a list"
    conf = settings(config)
    unknown = set(conf) - set(SETTINGS)
    if unknown:
        return False, f"brine_linkwatch beacon: unknown settings {sorted(unknown)}"
    if conf.get("interfaces") is not None and not isinstance(conf["interfaces"], list):
        return False, "brine_linkwatch beacon: interfaces must be a list"
    try:
        _link_tracker(bonds=conf.get("bonds") or {}, interfaces=conf.get("interfaces"))
    except ValueError as exc:
        return False, f"brine_linkwatch beacon: {exc}"
    return True, "Valid beacon configuration"


def beacon(config):
    """
    Poll the links once and publish the changes since the previous poll.

    CLI Example:

    .. code-block:: bash

        salt-call beacons.add brine_linkwatch "[{interval: 1}, {interfaces: [eth2, eth3]}]"
    """
    conf = settings(config)
    key = repr(sorted((k, repr(v)) for k, v in conf.items()))
    tracker = _TRACKERS.get(key)
    if tracker is None:
        bonds = conf.get("bonds")
        if bonds is None:
            bonds = __salt__["brine_linkwatch.inventory_bonds"]()
        tracker = _TRACKERS[key] = _link_tracker(bonds=bonds, interfaces=conf.get("interfaces"))
    interfaces = conf.get("interfaces")
    if interfaces is not None:
        interfaces = sorted(set(interfaces) | set(tracker.member_of))
    seen = __salt__["brine_linkwatch.links"](netns=conf.get("netns"), interfaces=interfaces)
    events = []
    for link in seen:
        events.extend(tracker.observe(link))
    present = {link["name"] for link in seen}
    for name in [n for n in tracker.links if n not in present]:
        events.extend(tracker.forget(name))
    for tag, payload in events:
        log.info("brine_linkwatch beacon: %s %s", tag, payload)
        if "brine_sign.sign" in __salt__:  # signed with this minion's key (docs/events.md)
            payload = __salt__["brine_sign.sign"](tag, payload)
        __salt__["event.send"](tag, payload)
    return []
