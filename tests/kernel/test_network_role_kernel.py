"""
`salt-call state.apply brine,network` (the common layer and the network role) inside a UML guest
whose NICs carry the inventory's MACs: test mode lists the dual bond's changes, the apply builds
it (traffic flows to the peer on every VLAN), and a second apply reports no changes.

The guest has no init system and a read-only root, so what needs systemd or /etc is left out:
the other features of the host's roles (the baseline's host name, users and /etc/hosts, the
controllers' daemons), the client settings (chrony, apt/pip proxy files) and enabling
systemd-networkd and the guard unit for the next boot. tests/lab converges all of it on full
guests and power-cycles them.
"""

import json
import shutil
import tempfile

import pytest
import uml_guest
import yaml
from brine_testlib import REPO, example_inventory
from kernel_scenarios import network_setup

VENV_BIN = REPO / ".venv" / "bin"


def salt_payload(minion, inventory, backend):
    """Config and pillar the guest reads through hostfs (not under /tmp: the guest hides it)."""
    scratch = REPO / ".cache" / "uml"
    scratch.mkdir(parents=True, exist_ok=True)
    work = tempfile.mkdtemp(prefix="salt-", dir=scratch)
    conf = f"{work}/etc"
    shutil.copytree(REPO / "etc", conf)
    with open(f"{conf}/minion", "a", encoding="utf-8") as fh:
        fh.write("\ncachedir: /tmp/salt/cache\npki_dir: /tmp/salt/pki\nsock_dir: /tmp/salt/sock\n"
                 "log_file: /tmp/salt/minion.log\n")
    pillar = f"{work}/pillar"
    shutil.copytree(REPO / "pillar", pillar)
    with open(f"{pillar}/brine/example-lab.yaml", "w", encoding="utf-8") as fh:
        yaml.safe_dump(inventory, fh)
    macs = " ".join(f"ip link set {nic} address {inventory['hosts'][minion]['nics'][nic]['mac']};" for nic in ("eth2", "eth3"))
    call = (f"{VENV_BIN}/salt-call --local -c {conf} --file-root {REPO}/salt --pillar-root {pillar} -m {REPO} "
            f"--id {minion} --out json -l quiet")
    apply = ("state.apply brine,network exclude=\"[{'sls': 'brine.clients'}, {'id': 'brine-dualbond-networkd'}, "
             "{'id': 'brine-dualbond-guard-at-boot'}]\"")
    report = (f"{VENV_BIN}/python -c 'import json,sys; print(\"JSON:\" + json.dumps("
              "{\"run\": sys.argv[1], \"out\": json.load(open(sys.argv[2]))[\"local\"]}))'")
    payload = network_setup(backend) + f"""{macs}
mkdir -p /tmp/salt
{call} --out-file /tmp/salt/test.json {apply} test=True || true
{report} test /tmp/salt/test.json
{call} --out-file /tmp/salt/first.json {apply} || true
{report} first /tmp/salt/first.json
for a in 10.10.0.50 10.200.0.50 10.100.0.50; do ping -c 2 -W 2 $a >/dev/null && echo "REACH $a"; done
{call} --out-file /tmp/salt/second.json {apply} || true
{report} second /tmp/salt/second.json
"""
    return payload, work


@pytest.fixture(scope="module", params=["linux", "ovs"])
def highstate(request):
    backend = request.param
    minion = "ubuntu1" if backend == "linux" else "ubuntu3"
    inventory = example_inventory()
    if backend == "ovs":
        inventory["hosts"][minion]["dualbond"]["datapath_type"] = "netdev"  # kernel datapath loses upcalls in UML
    payload, work = salt_payload(minion, inventory, backend)
    try:
        run = uml_guest.run_guest(payload, timeout=600, mem="512M")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    assert run.exit_code == 0, run.output[-6000:]
    return {r["run"]: r["out"] for r in run.results}, run.output


def dualbond_state(out):
    (state,) = [v for k, v in out.items() if k.startswith("dualbond_|-")]
    return state


def test_test_mode_lists_the_changes_and_changes_nothing(highstate):
    outs, _ = highstate
    state = dualbond_state(outs["test"])
    assert state["result"] is None
    assert any(c.startswith("create ") for c in state["changes"]["actions"])
    assert all(r["result"] in (True, None) for r in outs["test"].values())


def test_apply_builds_the_dual_bond_and_traffic_flows(highstate):
    outs, output = highstate
    state = dualbond_state(outs["first"])
    assert state["result"] is True, state["comment"]
    assert state["changes"]["actions"] == dualbond_state(outs["test"])["changes"]["actions"]
    assert all(r["result"] is True for r in outs["first"].values()), outs["first"]
    for address in ("10.10.0.50", "10.200.0.50", "10.100.0.50"):
        assert f"REACH {address}" in output


def test_second_apply_reports_no_changes(highstate):
    outs, _ = highstate
    assert all(r["result"] is True for r in outs["second"].values())
    assert [r["__id__"] for r in outs["second"].values() if r["changes"]] == []
    assert dualbond_state(outs["second"])["comment"] == "Dual bond is already as planned"
