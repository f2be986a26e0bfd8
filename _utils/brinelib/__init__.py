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

import os
import sys


def _files():
    """``(path, mtime_ns, size)`` of every Python file of this package, sorted."""
    root = os.path.dirname(os.path.abspath(__file__))
    found = []
    for directory, subdirs, names in os.walk(root):
        subdirs[:] = [d for d in subdirs if d != "__pycache__"]
        for name in names:
            if name.endswith(".py"):
                path = os.path.join(directory, name)
                try:
                    stat = os.stat(path)
                except OSError:
                    continue
                found.append((path, stat.st_mtime_ns, stat.st_size))
    return sorted(found)


_IMPORTED = _files()


def forget_if_changed():
    """
    Drop every loaded ``brinelib`` module from ``sys.modules`` when the package's files changed
    on disk since it was imported, so the next ``import`` reads the new ones. True when it did.

    Salt reloads its loader modules after ``saltutil.sync_all``, but a plain import is served
    from ``sys.modules``: without this a long-running minion or master would run freshly synced
    adapters on the old library. Each adapter calls it before importing from the library.
    """
    if _files() == _IMPORTED:
        return False
    for name in [n for n in sys.modules if n == __name__ or n.startswith(__name__ + ".")]:
        del sys.modules[name]
    return True
