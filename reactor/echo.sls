#!py
"""
Reactor for brine/echo/request, the liveness probe of the reactor system:
`salt-call brine_sign.send brine/echo/request` on a minion makes the master answer that minion,
and only that one, with a brine/echo/reply event. brinelib.decisions.reaction() checks that
the request is signed by the minion it names, and records it.
"""
import salt.loader as salt_loader


def run():
    # _utils/brine_reactor.py: how every Brine render on the master reaches brinelib.
    reaction = salt_loader.utils(__opts__)["brine_reactor.reaction"]
    return reaction("echo", tag, data, __opts__)
