"""Fixtures for every tier; the helpers themselves live in brine_testlib."""

import logging
import shutil
import tempfile
from pathlib import Path

import factories_loopback
import pytest
from brine_testlib import ControllerNetns, SaltCall, example_inventory

# Every tier's: pytest-salt-factories on loopback only.
pytest_configure = factories_loopback.pytest_configure
event_listener = factories_loopback.event_listener

@pytest.fixture
def salt_call(tmp_path):
    return SaltCall(tmp_path / "salt")


@pytest.fixture
def inventory():
    return example_inventory()


@pytest.fixture
def acme_inventory(inventory):
    """The example inventory, normalised, with ACME enabled (runner: the first controller,
    ubuntu1) and a compute-only host ``compute9``."""
    import brine_inventory

    inventory["acme"] = {"enabled": True}
    inventory = brine_inventory.normalise(inventory)
    inventory["hosts"]["compute9"] = {"roles": ["compute"]}
    return inventory


@pytest.fixture
def controller_netns():
    """``make(minion_id)``: a network namespace where that controller's inventory MAC is (removed after the test)."""
    namespaces = ControllerNetns("brctl")
    yield namespaces.make
    namespaces.remove()


# Salt's log handlers flush once more at interpreter exit, after pytest closed the streams they
# wrote to; the tracebacks that follow are noise, not failures.
logging.raiseExceptions = False


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
