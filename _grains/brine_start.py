"""
The ``brine_start_sig`` grain: this minion's signature of its own start event. The minion
includes it in ``salt/minion/<id>/start`` (``start_event_grains: [brine_start_sig]``, written by
``brine.events``), and the master applies the highstate on a start only with a good one
(docs/events.md, "What is trusted"). Computed once, when the minion loads its grains.

Self-contained, without brinelib: a minion may load this grain from ``grains_dirs`` before its
first sync brings ``_utils``. tests/unit/test_events_runner.py checks that the master accepts
what it signs (brinelib.signing).
"""

import hashlib
import hmac
import json
import os
import time

SIG_VERSION = "brine-events-v1"


def brine_start_sig():
    key = __opts__.get("brine_events_key")
    minion = __opts__.get("id")
    if not isinstance(key, str) or not key or not minion:
        return {}
    ts = time.time()
    nonce = os.urandom(16).hex()
    text = json.dumps([SIG_VERSION, minion, f"salt/minion/{minion}/start", ts, nonce, {}],
                      sort_keys=True, separators=(",", ":")).encode("utf-8")
    mac = hmac.new(key.encode("ascii"), text, hashlib.sha256).hexdigest()
    return {"brine_start_sig": {"ts": ts, "nonce": nonce, "mac": mac}}
