"""
Signs the events this minion sends to the master, so that the master acts on an event only for
the minion that really sent it (docs/events.md, "What is trusted").

The key is the minion option ``brine_events_key``: the master derives it from its own secret
and this minion's id and hands it to this minion only, through its pillar; the highstate
(``brine.events``) writes it into ``minion.d/brine-events.conf`` (mode 0600), where engines,
beacons and grains read it without pillar. Without a key the events still go out, unsigned,
and the master records them as rejected.
"""

import hashlib
import hmac
import json
import logging
import os
import time

log = logging.getLogger(__name__)

__virtualname__ = "brine_sign"

# The same as in _runners/brine.py (tests/unit/test_events_runner.py keeps them equal).
SIG_VERSION = "brine-events-v1"
SIG_KEY = "brine_sig"


def __virtual__():
    return __virtualname__


def signing_text(minion, tag, payload, ts, nonce):
    """What the HMAC covers: the sender, the tag, the payload, the time and a nonce."""
    body = {k: v for k, v in payload.items()
            if k != SIG_KEY and not (isinstance(k, str) and k.startswith("__pub_"))}
    return json.dumps([SIG_VERSION, minion, tag, ts, nonce, body], sort_keys=True, separators=(",", ":"),
                      default=str).encode("utf-8")


def signature(key, minion, tag, payload, now=None):
    """The ``brine_sig`` value for ``payload`` (``ts``, ``nonce``, ``mac``)."""
    ts = time.time() if now is None else now
    nonce = os.urandom(16).hex()
    mac = hmac.new(key.encode("ascii"), signing_text(minion, tag, payload, ts, nonce), hashlib.sha256).hexdigest()
    return {"ts": ts, "nonce": nonce, "mac": mac}


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
    payload[SIG_KEY] = signature(key, __opts__["id"], tag, payload)
    return payload


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
