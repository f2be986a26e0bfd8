"""How the lab is derived from the inventory, and the clear errors for bad lab settings.
Pure: no guest is started."""

import copy

import pytest
from brine_testlib import example_inventory

from lab.core import NO_OUTGOING_BPF, LabError, Layout, load_inventory


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
    assert [a for a in cmd if a.startswith("eth")] == [
        f"eth0=daemon,02:b1:00:02:00:01,unix,{layout.switch_socket}",
        f"eth1=daemon,02:b1:00:02:01:01,unix,{layout.switch_socket}",
    ]
    assert "mem=768M" in cmd


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


def test_the_control_network_filter_drops_only_outgoing_frames():
    # struct sock_filter {u16 code; u8 jt; u8 jf; u32 k}: ld pkttype; jeq OUTGOING; ret 0; ret all
    assert len(NO_OUTGOING_BPF) == 4 * 8
    assert NO_OUTGOING_BPF[:8] == bytes.fromhex("2000000004f0ffff")
