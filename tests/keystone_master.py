"""The ``brine_keystone`` runner (``_runners/brine_keystone.py``) with the master's side stood in
for: the inventory as pillar, ``salt.execute`` (the LocalClient) given by the test, its own
cache directory, and ``__context__`` returned so a test reads the retcode."""

from brine_testlib import load_extension

runner = load_extension("runners", "brine_keystone")


def wire(monkeypatch, inventory, execute, cachedir):
    """Point the runner's dunders at ``inventory``, ``execute`` and ``cachedir``; its ``__context__``."""
    context = {}
    monkeypatch.setattr(runner, "__salt__", {"pillar.show_pillar": lambda: {"brine": inventory},
                                             "salt.execute": execute}, raising=False)
    monkeypatch.setattr(runner, "__context__", context, raising=False)
    monkeypatch.setattr(runner, "__opts__", {"cachedir": str(cachedir)}, raising=False)
    return context
