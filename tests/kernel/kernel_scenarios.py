"""Kernel-test helpers: the guest's switch and peers, and run_scenario (boot a guest, run one
dualbond_driver scenario)."""

import shlex

import pytest
import uml_guest
from brine_testlib import PYTHONPATH

PEER_ADDRS = "10:10.10.0.50/24 200:10.200.0.50/24 100:10.100.0.50/24"


def network_setup(backend):
    """Guest script lines: the switch and peer namespaces on eth2/eth3, the kernel modules bonds
    and the cable cuts need, and Open vSwitch for the ``ovs`` backend."""
    return f"""
PEER_ADDRS="{PEER_ADDRS}"
switch_setup eth2 eth3
modprobe bonding; modprobe sch_ingress; modprobe cls_matchall; modprobe cls_fw; modprobe act_skbedit; modprobe act_gact
{"start_ovs" if backend == "ovs" else ""}
"""


def driver_payload(scenario, backend, *args):
    """The guest script for one dualbond_driver scenario. The guest sees the checkout at the
    same path (hostfs), so the driver imports from the tests' own import path."""
    argv = " ".join(shlex.quote(str(a)) for a in (scenario, backend, *args))
    return (network_setup(backend)
            + f'PYTHONPATH={shlex.quote(PYTHONPATH)} "$BRINE_PYTHON" tests/kernel/dualbond_driver.py {argv}\n')


def run_scenario(scenario, backend, *args, timeout=420):
    """Boot a guest with the switch and peer namespaces, run the driver, return the GuestRun."""
    problem = uml_guest.available()
    if problem:
        pytest.fail(f"kernel tests need user-mode-linux: {problem} (run ./test.sh, which installs it)")
    run = uml_guest.run_guest(driver_payload(scenario, backend, *args), timeout=timeout)
    assert run.exit_code == 0, f"guest failed ({run}):\n{run.output[-8000:]}"
    return run
