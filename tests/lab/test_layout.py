"""How the lab is derived from the inventory, and the clear errors for bad lab settings.
Pure: no guest is started."""

import copy

import pytest
from brine_testlib import example_inventory

from lab import kernel
from lab.core import LabError, Layout, boot_failure_report, load_inventory


def layout_of(raw):
    import brine_inventory

    return Layout(brine_inventory.normalise(raw))


def test_every_inventory_host_gets_a_guest_wired_as_the_inventory_says():
    layout = layout_of(example_inventory())
    assert sorted(layout.hosts) == ["bootstrap", "ubuntu1", "ubuntu2", "ubuntu3"]
    ubuntu1 = layout.hosts["ubuntu1"]
    assert [(p["nic"], p["mac"]) for p in ubuntu1["ports"]] == [("eth2", "52:54:00:10:01:02"), ("eth3", "52:54:00:10:01:03")]
    assert [(p["nic"], p["mac"]) for p in layout.hosts["bootstrap"]["ports"]] == [("eth0", "52:54:00:10:00:05")]
    assert [(d["ubd"], d["by_id"]) for d in ubuntu1["disks"]] == [
        ("ubdb", "nvme-BRINE_NVME_ubuntu1-journal"),
        ("ubdc", "ata-BRINE_HDD_ubuntu1-osd1"),
        ("ubdd", "ata-BRINE_HDD_ubuntu1-osd2"),
        ("ubde", "ata-BRINE_HDD_ubuntu1-osd3"),
    ]
    uplinks = [p["uplink_mac"] for h in layout.hosts.values() for p in h["ports"]]
    uplinks += [h["control_mac"] for h in layout.hosts.values()]
    assert len(set(uplinks)) == len(uplinks)
    assert not set(uplinks) & {p["mac"] for h in layout.hosts.values() for p in h["ports"]}
    controls = [h["control_ip"] for h in layout.hosts.values()]
    assert len(set(controls)) == len(controls) and layout.master_ip not in controls


def test_the_guest_command_line_has_its_own_root_disks_and_cables():
    layout = layout_of(example_inventory())
    cmd = layout.uml_command("ubuntu1", "/cache/base.img")
    assert f"ubd0={layout.host_dir('ubuntu1') / 'root.cow'},/cache/base.img" in cmd
    assert sum(arg.startswith(("ubd1=", "ubd2=", "ubd3=", "ubd4=")) for arg in cmd) == 4
    assert cmd[0] == str(kernel.KERNEL)
    # One tap cable per NIC to the lab switch, jumbo-capable; the control NIC first (vec0).
    assert [a for a in cmd if a.startswith("vec")] == [
        "vec0:transport=tap,ifname=ctl2,mac=02:b1:00:02:ff:01",
        "vec1:transport=tap,ifname=sw2p0,mac=02:b1:00:02:00:01,mtu=9216",
        "vec2:transport=tap,ifname=sw2p1,mac=02:b1:00:02:01:01,mtu=9216",
    ]
    # The settings come on a read-only config drive; hostfs shows the guest nothing.
    assert f"ubd15r={layout.host_dir('ubuntu1') / 'cfg.tar'}" in cmd
    assert "brine_lab_cfg=ubdp" in cmd
    assert "hostfs=/dev/null" in cmd
    assert not any("daemon" in a for a in cmd)
    assert "mem=1G" in cmd  # the inventory's lab:memory of ubuntu1 (a controller)
    assert "mem=768M" in layout.uml_command("bootstrap", "/cache/base.img")  # the default


def test_a_host_may_have_as_many_disks_as_the_config_drive_leaves():
    raw = example_inventory()
    raw["hosts"]["ubuntu1"]["disks"] = {f"d{i:02d}": {"serial": f"S{i}"} for i in range(14)}
    assert len(layout_of(raw).hosts["ubuntu1"]["disks"]) == 14
    raw["hosts"]["ubuntu1"]["disks"]["d14"] = {"serial": "S14"}
    with pytest.raises(LabError, match="at most 14 disks"):
        layout_of(raw)


def test_serial_and_wwn_disks_get_by_id_names():
    raw = example_inventory()
    raw["hosts"]["ubuntu1"]["disks"] = {"a": {"serial": "S123"}, "b": {"wwn": "0x5000c500a1b2c3d4"}}
    layout = layout_of(raw)
    assert [d["by_id"] for d in layout.hosts["ubuntu1"]["disks"]] == ["lab-S123", "wwn-0x5000c500a1b2c3d4"]


@pytest.mark.parametrize("change, message", [
    (lambda inv: inv.update(lab={"control_cidr": "10.10.0.0/16"}), "brine:lab:control_cidr: 10.10.0.0/16 overlaps network management"),
    (lambda inv: inv.update(lab={"control_cidr": "not-a-net"}), "brine:lab:control_cidr"),
    (lambda inv: inv.update(lab={"colour": "blue"}), "brine:lab:colour: unknown key"),
    (lambda inv: inv["hosts"]["ubuntu2"].update(lab={"memory": "4G"}), "brine:hosts:ubuntu2:lab:memory: 4G is more than the lab's 1G"),
    (lambda inv: inv["hosts"]["ubuntu2"].update(lab={"memory": "lots"}), "brine:hosts:ubuntu2:lab:memory: 'lots' is not a size"),
    (lambda inv: inv["hosts"]["ubuntu2"].update(lab={"disk_sizes": {"osd9": "1G"}}), "brine:hosts:ubuntu2:lab:disk_sizes:osd9: not one of the host's disks"),
    (lambda inv: inv["hosts"]["ubuntu2"].update(lab={"disk_sizes": {"osd1": "-1G"}}), "brine:hosts:ubuntu2:lab:disk_sizes:osd1"),
])
def test_bad_lab_settings_are_refused_with_their_path(change, message):
    raw = copy.deepcopy(example_inventory())
    change(raw)
    with pytest.raises(LabError) as err:
        layout_of(raw)
    assert message in str(err.value)


def test_a_missing_inventory_file_is_refused():
    with pytest.raises(LabError, match="no such file"):
        load_inventory("brine/no-such-lab.yaml")


AMX_PANIC = """\
===== brine-lab: power on ubuntu1 at 10:00:00 =====
Linux version 6.1.0 (debian-kernel@lists.debian.org)
Run /sbin/init as init process
userspace - ptrace set fp regs failed, errno = 14
Kernel panic - not syncing: Attempted to kill init! exitcode=0x0000000b
Call Trace:
 [<60048839>] userspace+0xab/0x570
"""


def test_a_guest_that_dies_booting_is_explained_from_its_console():
    report = boot_failure_report(AMX_PANIC)
    assert report.startswith("cause: this UML kernel cannot run on this host's CPU")
    assert "the guest's kernel panicked" in report
    assert "lab/uml-kernel.conf" in report
    assert "what the console says:\n  | userspace - ptrace set fp regs failed, errno = 14\n  | Kernel panic" in report
    assert "userspace+0xab" not in report  # stack frames are noise


def test_only_the_last_boot_of_the_console_counts():
    console = AMX_PANIC + "===== brine-lab: power on ubuntu1 at 10:05:00 =====\n" + \
        "[FAILED] Failed to start brine-lab-init.service - Brine lab: wire this guest\n" + \
        "brine-lab-init: no UML NIC with MAC 02:b1:00:02:00:01 for eth2\n"
    report = boot_failure_report(console)
    assert report.startswith("cause: the lab's wiring step failed in the guest")
    assert "ptrace" not in report and report.count("wiring step") == 1
    assert "  | brine-lab-init: no UML NIC with MAC 02:b1:00:02:00:01 for eth2" in report


def test_an_unknown_death_still_shows_the_console():
    assert boot_failure_report("some line\n").startswith("cause: not recognised")
    assert "(the console is empty)" in boot_failure_report("")
