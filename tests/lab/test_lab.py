"""The virtual lab itself: real UML guests, the lab switch, the lab salt-master."""

import pytest
from lab_testlib import failed_states, host_view

from lab import kernel


def test_every_minion_answers_the_lab_master(lab):
    answers = lab.salt_json("*", "test.ping")
    assert answers == {name: True for name in lab.layout.hosts}


def test_state_apply_through_the_lab_master_converges_every_host_and_is_idempotent(converged_lab):
    lab = converged_lab
    # The first apply (the fixture's) changed every host; the second changes nothing.
    assert all(any(s["changes"] for s in states.values()) for states in lab.first_apply.values())
    results = lab.salt_job(lab.layout.hosts, "state.apply")
    assert failed_states(results, lab.layout.hosts) == {}
    changed = {name: [sid for sid, s in states.items() if s["changes"]] for name, states in results.items()}
    assert changed == {name: [] for name in lab.layout.hosts}
    # What the states wrote is really on the guest's own disk.
    facts = lab.exec("ubuntu2", "cat /etc/brine/host.json").check().output
    assert '"minion_id": "ubuntu2"' in facts


def test_each_guest_runs_its_own_kernel_and_its_own_root(lab):
    expected_release = kernel.release()
    for name in lab.layout.hosts:
        result = lab.exec(name, "uname -r; hostname; systemctl is-system-running || true").check()
        release, hostname, _ = result.output.split("\n", 2)
        assert release == expected_release
        assert hostname == name
    lab.exec("ubuntu1", "echo written-on-ubuntu1 > /root/only-here").check()
    assert lab.exec("ubuntu1", "cat /root/only-here").check().output.strip() == "written-on-ubuntu1"
    assert not lab.exec("ubuntu2", "test -e /root/only-here").ok


def test_nics_carry_the_inventory_names_and_macs(converged_lab):
    lab = converged_lab
    for name, host in lab.layout.hosts.items():
        for port in host["ports"]:
            # Once the network role has enslaved a NIC to a Linux bond, its current MAC is the
            # bond's; bonding keeps the NIC's own one as perm_hwaddr.
            sysfs = f"/sys/class/net/{port['nic']}"
            mac = lab.exec(name, f"cat {sysfs}/bonding_slave/perm_hwaddr 2>/dev/null || cat {sysfs}/address").check()
            assert mac.output.strip() == port["mac"], (name, port["nic"])
    # Besides the control NIC, the guest has only the inventory's NICs and what Brine's network
    # role builds on them (bridges, bonds, the veth crossings, VLANs): no stray interface.
    links = [line.split()[0].split("@")[0] for line in lab.exec("ubuntu1", "ip -br link").check().output.splitlines()]
    built_by_brine = ("br-", "bond-", "vbk-", "vx-")
    assert {"eth2", "eth3", "lo", "vec0"} <= set(links)
    assert [n for n in links if n not in ("eth2", "eth3", "lo", "vec0") and not n.startswith(built_by_brine)] == []


def carrier(lab, host, nic):
    return lab.exec(host, f"cat /sys/class/net/{nic}/carrier").check().output.strip()


def test_a_cut_cable_is_carrier_loss_inside_the_guest(lab):
    lab.exec("ubuntu1", "ip link set eth2 up && ip link set eth3 up").check()
    assert carrier(lab, "ubuntu1", "eth2") == "1"
    lab.cut("ubuntu1", "eth2")
    try:
        assert carrier(lab, "ubuntu1", "eth2") == "0"
        assert "NO-CARRIER" in lab.exec("ubuntu1", "ip link show eth2").check().output
        # The neighbour NIC of the same host keeps its cable.
        assert carrier(lab, "ubuntu1", "eth3") == "1"
    finally:
        lab.mend("ubuntu1", "eth2")
    assert carrier(lab, "ubuntu1", "eth2") == "1"


def test_the_switch_carries_tagged_frames_and_partition_cuts_them(converged_lab):
    lab = converged_lab
    # The converge above put the management network (VLAN 10, tagged on the lab switch) on the
    # dual bond's bridge: ubuntu2's management address of the example inventory.
    ubuntu2 = "10.10.0.12"
    assert lab.exec("ubuntu1", f"ping -c 3 -W 2 {ubuntu2}").ok
    lab.partition(["ubuntu2"])
    try:
        # The NIC keeps carrier: the switch is there, it just passes nothing.
        assert carrier(lab, "ubuntu2", "eth2") == "1"
        assert not lab.exec("ubuntu1", f"ping -c 2 -W 1 {ubuntu2}").ok
    finally:
        lab.heal()
    assert lab.exec("ubuntu1", f"ping -c 3 -W 2 {ubuntu2}").ok


def test_disks_appear_as_block_devices_with_their_inventory_names(lab):
    for disk in lab.layout.hosts["ubuntu1"]["disks"]:
        target = lab.exec("ubuntu1", f"readlink -f /dev/disk/by-id/{disk['by_id']}").check().output.strip()
        assert target == f"/dev/{disk['ubd']}"
        size = lab.exec("ubuntu1", f"blockdev --getsize64 /dev/{disk['ubd']}").check().output.strip()
        assert int(size) == 64 << 30
    # Partitions get names too, so states can refer to them by id.
    osd1 = lab.layout.hosts["ubuntu1"]["disks"][1]
    lab.exec("ubuntu1", f"parted -s /dev/{osd1['ubd']} mklabel gpt mkpart labtest 1MiB 100MiB && udevadm settle").check()
    try:
        part = lab.exec("ubuntu1", f"readlink -f /dev/disk/by-id/{osd1['by_id']}-part1").check().output.strip()
        assert part == f"/dev/{osd1['ubd']}1"
    finally:
        lab.exec("ubuntu1", f"wipefs -a -q /dev/{osd1['ubd']} && udevadm settle")


def test_power_failure_and_power_on(lab):
    lab.exec("ubuntu3", "echo survives > /root/before-power-loss && sync").check()
    lab.kill("ubuntu3")
    assert not lab.is_running("ubuntu3")
    answers = lab.salt_json("ubuntu3", "test.ping", "--timeout=3")
    assert answers.get("ubuntu3") is not True
    lab.start("ubuntu3")
    assert lab.is_running("ubuntu3")
    assert lab.exec("ubuntu3", "cat /root/before-power-loss").check().output.strip() == "survives"
    assert lab.salt_json("ubuntu3", "test.ping") == {"ubuntu3": True}


def test_bad_names_get_clear_errors(lab):
    from lab.core import LabError

    with pytest.raises(LabError, match="no host 'nosuch'"):
        lab.cut("nosuch", "eth2")
    with pytest.raises(LabError, match="host ubuntu1 has no NIC 'eth9'"):
        lab.cut("ubuntu1", "eth9")


@pytest.mark.lab_last
def test_down_leaves_nothing_behind(lab, host_before_lab):
    left = lab.down()
    assert left == []
    assert host_view(lab.layout) == host_before_lab
    assert not lab.is_up
