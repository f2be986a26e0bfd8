"""
Brine's shared library: the rules every extension kind, the lab and the tests import instead of
copying (docs/architecture.md says what lives where).

Salt syncs this directory with the other extension modules (``saltutil.sync_all`` on minions,
``salt-run saltutil.sync_all`` on the master; ``module_dirs: [.]`` in the Saltfile for
``salt-call --local`` from a checkout). Salt's loader puts the ``_utils`` directories on
``sys.path`` while it imports a loader module, so ``import brinelib...`` at the top of a loader
module works in all three ways Brine runs. Salt's ``#!py`` renders (the reactors, the
``brine_events_key`` pillar) get no such path: they reach it through ``_utils/brine_reactor.py``.
Nothing here needs Salt's dunders: data in, data out.
"""
