#!py
"""
Reactor for brine/net/... from the brine_linkwatch engine or beacon.

Nothing is decided here: brinelib.decisions.reaction() validates the event in Python while
this renders and returns the actions, each aimed at the sending minion only, plus the record
for salt-run brine.events. See docs/events.md.
"""
import salt.loader as salt_loader


def run():
    # _utils/brine_reactor.py: how every Brine render on the master reaches brinelib.
    reaction = salt_loader.utils(__opts__)["brine_reactor.reaction"]
    return reaction("link", tag, data, __opts__)
