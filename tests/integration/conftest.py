"""A real salt-master and salt-minion (pytest-salt-factories) serving this checkout."""

import pytest
import yaml
from brine_testlib import REPO
from events_keys import minion_key


def master_config_for_checkout():
    """The shipped etc/master with /srv/brine replaced by this checkout's path."""
    text = (REPO / "etc" / "master").read_text().replace("/srv/brine", str(REPO))
    return yaml.safe_load(text)


@pytest.fixture(scope="package")
def salt_master(salt_factories):
    overrides = master_config_for_checkout()
    # auto_accept: this master listens on loopback only and exists for one test session;
    # pytest-salt-factories' own key acceptance (a salt-key run) proved racy on a loaded host.
    overrides.update({"interface": "127.0.0.1", "auto_accept": True, "log_level_logfile": "info"})
    # The shipped master applies a starting minion's highstate; on this host that would
    # converge the test host itself. tests/integration/test_reactors_start.py covers it.
    overrides["brine_highstate_on_start"] = False
    factory = salt_factories.salt_master_daemon("brine-master", overrides=overrides)
    with factory.started(start_timeout=120):
        yield factory


@pytest.fixture(scope="package")
def salt_minion(salt_master):
    factory = salt_master.salt_minion_daemon(
        "ubuntu1",
        overrides={"loop_interval": 1, "master": "127.0.0.1", "log_level_logfile": "info",
                   # What the highstate writes from the minion's pillar: its event signing key.
                   "brine_events_key": minion_key(salt_master.config["cachedir"], "ubuntu1"),
                   # ... and its start event signed by the checkout's grain, there before any sync.
                   "start_event_grains": ["brine_start_sig"], "grains_dirs": [str(REPO / "_grains")]},
    )
    with factory.started(start_timeout=120):
        # A sync lists the whole file root; on a loaded host that takes longer than the
        # CLI's default 5 s wait.
        ret = salt_master.salt_cli(timeout=300).run("saltutil.sync_all", minion_tgt=factory.id)
        assert ret.returncode == 0, ret
        yield factory


@pytest.fixture(scope="package")
def salt_cli(salt_master):
    return salt_master.salt_cli(timeout=300)
