#!py
"""
brine_events_key: the key this minion signs its events with (docs/events.md, "What is
trusted"), derived on the master from its secret (<master cachedir>/brine/events.secret) and
the minion id by brinelib.signing.key_of(). Pillar goes to that minion only.
"""
import salt.loader as salt_loader


def run():
    if __opts__.get("__role") != "master":
        return {}  # masterless (salt-call --local): no master to send events to, no master secret
    # _utils/brine_reactor.py: how every Brine render on the master reaches brinelib.
    return salt_loader.utils(__opts__)["brine_reactor.events_key"](__opts__)
