#!py
"""
Reactor for brine/rabbitmq/partition from a controller's partition check
(salt/rabbitmq/files/brine-rabbitmq-partitions.py, run by a systemd timer): the node's
RabbitMQ partitions list changed (non-empty: a partition; empty again: healed).

Nothing is decided here: brinelib.decisions.reaction() validates the signed event in Python
while this renders; it only records it for salt-run brine.events (pause_minority already stops
the minority, and the cluster re-forms by itself after the network heals). See docs/rabbitmq.md.
"""
import salt.loader as salt_loader


def run():
    # _utils/brine_reactor.py: how every Brine render on the master reaches brinelib.
    reaction = salt_loader.utils(__opts__)["brine_reactor.reaction"]
    return reaction("rabbitmq_partition", tag, data, __opts__)
