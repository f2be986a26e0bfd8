#!py
"""
Reactor for brine/vip/state from keepalived's notify script on the controllers (a VRRP
instance, i.e. a VIP, changed state: MASTER, BACKUP, FAULT, STOP or DELETED).

Nothing is decided here: brinelib.decisions.reaction() validates the event in Python while
this renders; it only records it for salt-run brine.events (no action yet). See docs/loadbalancer.md and docs/events.md.
"""
import salt.loader as salt_loader


def run():
    # _utils/brine_reactor.py: how every Brine render on the master reaches brinelib.
    reaction = salt_loader.utils(__opts__)["brine_reactor.reaction"]
    return reaction("vip", tag, data, __opts__)
