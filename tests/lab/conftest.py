"""
The virtual lab for tests: one lab per pytest session (docs/lab.md, "Tests in the lab").

``lab`` (session scope) brings the example lab up once: every guest booted, every minion
answering the lab master. It is a :class:`lab.core.Lab`:

    lab.exec(host, "shell command")   -> ExecResult(returncode, output); .check() raises on rc != 0
    lab.cut(host, nic) / lab.mend(host, nic)      carrier loss on the NIC inside the guest
    lab.kill(host) / lab.start(host)              power failure / power on (waits for the minion)
    lab.partition([hosts]) / lab.heal()           cut hosts off the lab switch / undo
    lab.salt(*args) / lab.salt_json(*args)        the lab master's salt CLI
    lab.console(host)                             the guest's console log
    lab.layout.hosts[host]                        ports, disks, control address of each guest

``converged_lab`` is the same lab after `salt '*' saltutil.sync_all` and one `salt '*' state.apply`
without a failed state (``lab.first_apply`` keeps that run's results), and after the minions that
run reconfigured (event watchers) have restarted and answer again (``lab.restarted_minions``),
and with the controllers' Galera cluster formed (as ./main.sh leaves it): tests of what the
states build use it, whatever order pytest runs the files in.

A test that changes the lab puts it back (mend what it cuts, heal what it partitions, start what
it kills) so tests in other files find the lab as they expect. At the end of the session the lab
goes down and the fixture fails the session if anything of it is left on the host.
"""

import os

import pytest
from lab.core import Lab, minion_restarts
from lab_testlib import failed_states, host_view


def pytest_configure(config):
    config.addinivalue_line("markers", "lab_last: runs after every other lab test (it takes the lab down)")


def pytest_collection_modifyitems(config, items):
    items.sort(key=lambda item: item.get_closest_marker("lab_last") is not None)


# For work on the lab tests only: BRINE_LAB_REUSE=1 runs them on the lab that is already up
# (`./main.sh`) and leaves it up; deselect test_down_leaves_nothing_behind then. CI never sets it.
REUSE = os.environ.get("BRINE_LAB_REUSE") == "1"


@pytest.fixture(scope="session")
def host_before_lab():
    stale = Lab(log=lambda msg: None)
    if REUSE and stale.is_up:
        return None
    # A lab left over from an aborted run of this checkout is ours to clear.
    stale.down()
    return host_view(stale.layout)


@pytest.fixture(scope="session")
def lab(host_before_lab):
    lab = Lab(log=print)
    if host_before_lab is None:
        yield lab
        return
    try:
        lab.up(timeout=600)
        yield lab
    finally:
        left = lab.down()
        assert not left, f"the lab left things behind: {left}"


@pytest.fixture(scope="session")
def converged_lab(lab):
    """What ./main.sh leaves (lab/converge.py): extensions synced, the highstate applied without
    a failed state, the minions it reconfigured restarted, and the controllers' Galera cluster
    formed, then its RabbitMQ cluster. Formed here, before any test power-cycles a controller: a controller that boots
    before the cluster exists tries to join it, and the formation then (rightly) refuses."""
    from lab.converge import apply_highstate, form_clusters, sync_extensions

    synced = sync_extensions(lab)
    assert set(synced) == set(lab.layout.hosts), synced
    results = apply_highstate(lab)
    assert failed_states(results, lab.layout.hosts) == {}
    # The first apply configures the event watchers (salt/brine/events.sls), and the minions it
    # configured restart in the background once the run has returned: wait for them to answer
    # again, so the next test's job does not land on a minion that is restarting.
    lab.restarted_minions = lab.wait_minion_restarts(minion_restarts(results))
    lab.first_apply = results
    clusters = form_clusters(lab, results)
    assert {name: failed for name, (failed, _) in clusters.items()} == {"orch.galera": [], "orch.rabbitmq": [],
                                                                          "orch.keystone": []}
    lab.galera_formed_in = clusters["orch.galera"][1]
    return lab


@pytest.fixture(scope="session")
def controllers_lab(converged_lab):
    """The converged lab, for the controllers' tests (its Galera cluster is formed)."""
    return converged_lab
