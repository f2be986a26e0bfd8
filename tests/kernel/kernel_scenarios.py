"""Kernel-test helpers: the peer addresses and run_scenario (boot a guest, run one driver scenario)."""

import pytest
import uml_guest

PEER_ADDRS = "10:10.10.0.50/24 200:10.200.0.50/24 100:10.100.0.50/24"


def run_scenario(scenario, backend, *args, timeout=420):
    """Boot a guest with the switch and peer namespaces, run the driver, return the GuestRun."""
    problem = uml_guest.available()
    if problem:
        pytest.fail(f"kernel tests need user-mode-linux: {problem} (run ./test.sh, which installs it)")
    payload = f"""
PEER_ADDRS="{PEER_ADDRS}"
switch_setup eth2 eth3
modprobe bonding; modprobe sch_ingress; modprobe cls_matchall; modprobe cls_fw; modprobe act_skbedit; modprobe act_gact
{"start_ovs" if backend == "ovs" else ""}
"$BRINE_PYTHON" tests/kernel/dualbond_driver.py {scenario} {backend} {" ".join(args)}
"""
    run = uml_guest.run_guest(payload, timeout=timeout)
    assert run.exit_code == 0, f"guest failed ({run}):\n{run.output[-8000:]}"
    return run
