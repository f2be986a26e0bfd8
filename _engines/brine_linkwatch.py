"""
Brine's link watcher engine: publishes ``brine/net/...`` events the moment the kernel reports a
link change over netlink (no polling; see ``docs/events.md`` for the tags and payloads).

Configure it in the minion configuration:

.. code-block:: yaml

    engines:
      - brine_linkwatch:
          # Optional. Default: the dual bond's NICs from the inventory (group "dualbond").
          bonds:
            bond0: {members: [eth2, eth3], backend: ovs}
          # Optional allow-list; default: every interface except lo.
          interfaces: [eth2, eth3]
          # Optional: watch the links of this network namespace (ip netns) instead.
          netns: null

Minions that cannot run engines use the ``brine_linkwatch`` beacon, which publishes the same
events from a 1-second poll.
"""

import errno
import logging

try:
    from pyroute2 import IPRoute
    from pyroute2.netlink.rtnl import RTMGRP_LINK

    HAS_PYROUTE2 = True
except ImportError:  # pragma: no cover - exercised only on a minion without pyroute2
    HAS_PYROUTE2 = False

log = logging.getLogger(__name__)

__virtualname__ = "brine_linkwatch"


def __virtual__():
    if not HAS_PYROUTE2:
        return (False, "the brine_linkwatch engine needs the pyroute2 Python library")
    return __virtualname__


def publish(tag, payload):
    """Send one event to the master through the minion, which stamps it with this minion's id."""
    log.info("brine_linkwatch: %s %s", tag, payload)
    __salt__["event.send"](tag, payload)


def start(bonds=None, interfaces=None, netns=None):
    """
    Watch the links and publish every change as a ``brine/net/...`` event until stopped.

    CLI Example (engines run from the minion configuration, not the command line):

    .. code-block:: bash

        salt-call config.get engines
    """
    tracker = __salt__["brine_linkwatch.tracker"](bonds=bonds, interfaces=interfaces)
    with IPRoute(**({"netns": netns} if netns else {})) as ipr:
        # Subscribe before the dump: a change between the two is then seen, not lost.
        ipr.bind(groups=RTMGRP_LINK)
        for msg in ipr.get_links():
            tracker.observe_message(dict_event(msg, "RTM_NEWLINK"))
        log.info("brine_linkwatch: watching %s", sorted(n for n in tracker.links if tracker.watched(n)))
        while True:
            try:
                messages = ipr.get()
            except OSError as exc:
                if exc.errno != errno.ENOBUFS:
                    raise
                # The kernel dropped notifications (socket buffer full): a fresh dump compared
                # with the last known states still yields every change that matters.
                log.warning("brine_linkwatch: netlink overrun; re-reading every link")
                messages = [dict_event(msg, "RTM_NEWLINK") for msg in ipr.get_links()]
            for msg in messages:
                for tag, payload in tracker.observe_message(msg):
                    publish(tag, payload)


def dict_event(msg, event):
    """A dump entry is a link's current state; treat it as a notification of that state."""
    msg["event"] = event
    return msg
