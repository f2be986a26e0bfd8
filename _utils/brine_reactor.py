"""
The one way the master's ``#!py`` renders reach Brine's library: the reactors (``reactor/*.sls``)
and the pillars ``pillar/brine_events_key.sls`` and ``pillar/brine_cert.sls`` call

    salt.loader.utils(__opts__)["brine_reactor.reaction"](kind, tag, data, __opts__)
    salt.loader.utils(__opts__)["brine_reactor.galera_reaction"](tag, data, __opts__)
    salt.loader.utils(__opts__)["brine_reactor.events_key"](__opts__)
    salt.loader.utils(__opts__)["brine_reactor.cert_reaction"](tag, data, __opts__)
    salt.loader.utils(__opts__)["brine_reactor.cert_pillar"](__opts__, saltenv)

Salt's utils loader finds this file where Salt finds every ``_utils`` module of the master: the
checkout's ``utils_dirs`` (etc/master) or ``<extension_modules>/utils`` after
``salt-run saltutil.sync_all``. While it imports this file it puts that directory on
``sys.path``, so the imports below load ``brinelib`` from the same place; they stay in
``sys.modules`` afterwards until a sync changes the library's files (``forget_if_changed``).
"""

import brinelib

brinelib.forget_if_changed()  # a library synced since it was imported replaces the old one
from brinelib import certsync, decisions, inventory_file, signing


def reaction(kind, tag, data, opts):
    """The reactor's high data for one event of ``kind`` (brinelib.decisions.reaction)."""
    return decisions.reaction(kind, tag, data, opts)


def galera_reaction(tag, data, opts):
    """The reactor's high data for ``brine/galera/stopped`` (brinelib.decisions.galera_reaction)."""
    return decisions.galera_reaction(tag, data, opts)


def events_key(opts):
    """The ``brine_events_key`` pillar of the minion whose pillar the master compiles
    (``opts["id"]``): the key it signs its events with."""
    return {"brine_events_key": signing.key_of(opts, opts["id"])}


def cert_reaction(tag, data, opts):
    """The reactor's high data for ``brine/cert/renewed`` (brinelib.decisions.cert_reaction),
    decided by the inventory file; the runner's pushed certificate made private first."""
    inventory = inventory_file.load(opts)
    certsync.protect_pushed(inventory, opts["cachedir"])
    return decisions.cert_reaction(tag, data, inventory, opts)


def cert_pillar(opts, saltenv="base"):
    """The ``brine_cert`` pillar of the minion whose pillar the master compiles (``opts["id"]``):
    the ACME runner's certificate for the other controllers (brinelib.certsync.pillar)."""
    inventory = inventory_file.load(opts, saltenv)
    certsync.protect_pushed(inventory, opts["cachedir"])
    return certsync.pillar(inventory, opts["id"], opts["cachedir"])
