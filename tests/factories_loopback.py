"""
pytest-salt-factories on loopback only (the network rule): its log server and its event listener
listen on every address by default. A pytest plugin: tests/conftest.py takes its hook and fixture
for every tier, and a benchmark that runs pytest itself passes the module in ``plugins``.
"""

import pytest


@pytest.hookimpl(trylast=True)
def pytest_configure(config):
    log_server = config.pluginmanager.get_plugin("saltfactories-log-server")
    if log_server is not None:
        log_server.log_host = "127.0.0.1"


@pytest.fixture(scope="session")
def event_listener():
    """The factories' event listener, on 127.0.0.1."""
    from saltfactories.plugins.event_listener import EventListener

    listener = EventListener()
    listener.host = "127.0.0.1"
    listener.address = f"tcp://127.0.0.1:{listener.port}"
    with listener:
        yield listener
