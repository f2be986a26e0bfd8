"""Signing events as a minion does (with the key its master derives), for the tests."""

from brinelib import signing


def minion_key(cachedir, minion):
    """The key the master whose cachedir is ``cachedir`` gives ``minion`` (its pillar's
    ``brine_events_key``)."""
    return signing.key_of({"cachedir": str(cachedir)}, minion)


def signed(cachedir, tag, data, now, key=None):
    """The event ``data`` (an envelope: ``id``, ``data``) signed as its minion signs it: in the
    payload's ``brine_sig``, or for a start event in its ``brine_start_sig`` grain."""
    key = key or minion_key(cachedir, data["id"])
    if isinstance(tag, str) and tag.startswith("salt/minion/"):
        sig = signing.sign(key, data["id"], tag, {}, now=now)[signing.SIG_KEY]
        return dict(data, grains={signing.START_SIG_GRAIN: sig})
    return dict(data, data=signing.sign(key, data["id"], tag, data["data"], now=now))
