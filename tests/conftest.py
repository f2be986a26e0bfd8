"""Fixtures for every tier; the helpers themselves live in brine_testlib."""

import logging
import shutil
import tempfile
from pathlib import Path

import pytest
from brine_testlib import SaltCall, example_inventory

@pytest.fixture
def salt_call(tmp_path):
    return SaltCall(tmp_path / "salt")


@pytest.fixture
def inventory():
    return example_inventory()


# Salt's log handlers flush once more at interpreter exit, after pytest closed the streams they
# wrote to; the tracebacks that follow are noise, not failures.
logging.raiseExceptions = False


@pytest.hookimpl(trylast=True)
def pytest_configure(config):
    # Network rule: pytest-salt-factories' log server and event listener listen on every
    # address by default; keep them on loopback.
    log_server = config.pluginmanager.get_plugin("saltfactories-log-server")
    if log_server is not None:
        log_server.log_host = "127.0.0.1"


@pytest.fixture(scope="session")
def salt_factories_config():
    """
    A private root for pytest-salt-factories. Its default root and scripts dir are shared
    paths under /tmp, where two test runs at once (CI next to a developer's run) overwrite
    each other's daemon configs and CLI scripts. Kept short: Salt's unix sockets live there.
    """
    root = Path(tempfile.mkdtemp(prefix="brine-sf-", dir="/tmp"))
    yield {"root_dir": root}
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def event_listener():
    from saltfactories.plugins.event_listener import EventListener

    listener = EventListener()
    listener.host = "127.0.0.1"
    listener.address = f"tcp://127.0.0.1:{listener.port}"
    with listener:
        yield listener
