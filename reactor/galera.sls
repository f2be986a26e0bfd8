#!py
"""
Reactor for brine/galera/stopped, sent by mariadb.service's ExecStopPost on a controller
(salt/galera/files/brine-galera-stopped).

Nothing is decided here: brinelib.decisions.galera_reaction() validates the signed event
while this renders; a stop that was not clean starts runner.brine.galera_recover (which asks
every controller and decides whether it is a full outage), and the event is recorded for
salt-run brine.events. See docs/galera.md.
"""
import salt.loader as salt_loader


def run():
    # _utils/brine_reactor.py: how every Brine render on the master reaches brinelib.
    galera_reaction = salt_loader.utils(__opts__)["brine_reactor.galera_reaction"]
    return galera_reaction(tag, data, __opts__)
