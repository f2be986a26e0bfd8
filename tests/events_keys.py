"""Signing events as a minion does (with the key its master derives), for the tests."""

import os


def minion_key(brine, cachedir, minion):
    """The key the master whose cachedir is ``cachedir`` gives ``minion`` (its pillar's
    ``brine_events_key``); ``brine`` is the loaded runner module."""
    return brine.minion_key(brine.master_secret(os.path.join(str(cachedir), "brine")), minion)


def signed(brine, cachedir, tag, data, now, key=None):
    """The event ``data`` (an envelope: ``id``, ``data``) signed as its minion signs it: in the
    payload's ``brine_sig``, or for a start event in its ``brine_start_sig`` grain."""
    key = key or minion_key(brine, cachedir, data["id"])
    if isinstance(tag, str) and tag.startswith("salt/minion/"):
        sig = brine.sign(key, data["id"], tag, {}, now=now)[brine.SIG_KEY]
        return dict(data, grains={brine.START_SIG_GRAIN: sig})
    return dict(data, data=brine.sign(key, data["id"], tag, data["data"], now=now))
