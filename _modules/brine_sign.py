"""
Signs the events this minion sends to the master, so that the master acts on an event only for
the minion that really sent it (docs/events.md, "What is trusted").

The key is the minion option ``brine_events_key``: the master derives it from its own secret
and this minion's id and hands it to this minion only, through its pillar; the highstate
(``brine.events``) writes it into ``minion.d/brine-events.conf`` (mode 0600), where engines,
beacons and grains read it without pillar. Without a key the events still go out, unsigned,
and the master records them as rejected. The signature is ``brinelib.signing``'s, the code the
master checks it with.
"""

import logging

import brinelib

brinelib.forget_if_changed()  # a library synced since it was imported replaces the old one
from brinelib import signing

log = logging.getLogger(__name__)

__virtualname__ = "brine_sign"


def __virtual__():
    return __virtualname__


def sign(tag, payload=None):
    """
    ``payload`` with its signature under this minion's key (unchanged when it has none).

    CLI Example:

    .. code-block:: bash

        salt-call brine_sign.sign brine/echo/request
    """
    payload = dict(payload or {})
    key = __opts__.get("brine_events_key")
    if not isinstance(key, str) or not key:
        log.warning("brine_sign: no brine_events_key in the minion configuration; %s goes out unsigned "
                    "and the master will not act on it (run the highstate)", tag)
        return payload
    return signing.sign(key, __opts__["id"], tag, payload)


def send(tag, data=None):
    """
    Sign an event and send it to the master (``event.send``).

    CLI Example:

    .. code-block:: bash

        salt-call brine_sign.send brine/echo/request
    """
    if data is not None and not isinstance(data, dict):
        raise ValueError(f"data must be a mapping, not {type(data).__name__}")
    return __salt__["event.send"](tag, sign(tag, data))
