"""
kolla_disks on real block devices (loop devices over sparse files): every Kolla label form is
written, read back with other tools (libparted and libblkid; the module writes with sgdisk and
reads with sfdisk), and a second run changes nothing; disks holding anything else are refused
and stay byte-for-byte the same.
"""

import sys

import pytest
from devicelib import run

P = "KOLLA_CEPH_OSD_BOOTSTRAP"
PHRASE = "yes-i-really-really-mean-it"


def layout_disks(layout):
    """``{name: (LoopDisk, {keys})}`` -> the inventory's disks mapping (by-id links)."""
    return {name: {"by_id": disk.by_id, **keys} for name, (disk, keys) in layout.items()}


def refused_while_in_use(kolla, disk, name, setup, reason, wipe_message=None):
    """``label`` refuses the osd ``name`` on ``disk`` while ``setup`` holds it, even with the
    phrase, with ``reason``; so does ``wipe`` (DiskRefused, ``wipe_message``) when given; the
    disk's bytes stay as they were. Returns the inventory's disks."""
    before = disk.sha256()
    disks = layout_disks({name: (disk, {"kolla": "osd", "wipe": PHRASE})})
    out = kolla("label", links=[disk], setup=setup, disks=disks)["return"][name]
    assert out["action"] == "refuse" and reason in out["reasons"][0]
    if wipe_message is not None:
        wiped = kolla("wipe", links=[disk], setup=setup, name=name, confirm=PHRASE, disks=disks)
        assert wiped["error"] == "DiskRefused" and wipe_message in wiped["message"]
    assert disk.sha256() == before
    return disks


def hashes(disks):
    return [d.sha256() for d in disks]


# Each layout: disk name -> (role keys, the names the disk must carry afterwards).
LAYOUTS = {
    "colocated journal": {
        "osd1": ({"kolla": "osd"}, [P]),
        "osd2": ({"kolla": "osd"}, [P]),
    },
    "dedicated external journal": {
        "osd1": ({"kolla": "osd", "journal": "ssd1"}, [f"{P}_OSD1"]),
        "ssd1": ({"kolla": "journal"}, [f"{P}_OSD1_J"]),
    },
    "shared NVMe journal (the field report)": {
        "osd1": ({"kolla": "osd", "journal": "nvme"}, [f"{P}_OSD1"]),
        "osd2": ({"kolla": "osd", "journal": "nvme"}, [f"{P}_OSD2"]),
        "osd3": ({"kolla": "osd", "journal": "nvme", "suffix": "3"}, [f"{P}_3"]),
        "nvme": ({"kolla": "journal", "partition_size": "32M"}, [f"{P}_3_J", f"{P}_OSD1_J", f"{P}_OSD2_J"]),
    },
    "bluestore": {
        "hdd1": ({"kolla": "bluestore"}, [f"{P}_BS"]),
    },
    "split bluestore, block on the data disk": {
        "hdd1": ({"kolla": "bluestore", "wal": "fastw", "db": "fastd", "data_size": "16M"}, [f"{P}_BS_HDD1", f"{P}_BS_HDD1_B"]),
        "fastw": ({"kolla": "wal"}, [f"{P}_BS_HDD1_W"]),
        "fastd": ({"kolla": "db", "partition_size": "64M"}, [f"{P}_BS_HDD1_D"]),
    },
    "split bluestore, separate block disk": {
        "small": ({"kolla": "bluestore", "block": "big", "suffix": "FOO1"}, [f"{P}_BS_FOO1"]),
        "big": ({"kolla": "block"}, [f"{P}_BS_FOO1_B"]),
    },
    "cache tier": {
        "osd1": ({"kolla": "osd"}, [P]),
        "ssd": ({"kolla": "cache"}, ["KOLLA_CEPH_OSD_CACHE_BOOTSTRAP"]),
    },
    "bluestore cache tier": {
        "ssd": ({"kolla": "cache", "store": "bluestore"}, ["KOLLA_CEPH_OSD_CACHE_BOOTSTRAP_BS"]),
    },
}


@pytest.mark.parametrize("form", sorted(LAYOUTS))
def test_every_label_form_is_written_read_back_and_stable(loop_disks, kolla, form):
    spec = LAYOUTS[form]
    devices = dict(zip(spec, loop_disks(len(spec))))
    disks = layout_disks({name: (devices[name], keys) for name, (keys, _) in spec.items()})
    links = list(devices.values())
    blank = hashes(devices.values())

    dry = kolla("label", links=links, disks=disks, test=True)["return"]
    assert {name: r["action"] for name, r in dry.items()} == {name: "create" for name in spec}
    assert {name: sorted(r["add"]) for name, r in dry.items()} == {name: sorted(want) for name, (_, want) in spec.items()}
    assert hashes(devices.values()) == blank, "test=True wrote to a disk"

    first = kolla("label", links=links, disks=disks)["return"]
    assert all(r["result"] is True and r["action"] == "create" for r in first.values()), first
    for name, (_, want) in spec.items():
        assert sorted(devices[name].names_by_parted()) == sorted(want), name
        assert sorted(devices[name].names_by_partx()) == sorted(want), name
    labelled = hashes(devices.values())

    second = kolla("label", links=links, disks=disks)["return"]
    assert {name: (r["action"], r["result"]) for name, r in second.items()} == {name: ("unchanged", True) for name in spec}
    assert hashes(devices.values()) == labelled, "a second run wrote to a disk"


def test_a_new_data_disk_gets_its_journal_partition_appended_to_the_shared_disk(loop_disks, kolla):
    osd1, osd2, nvme = loop_disks(3)
    disks = layout_disks(
        {"osd1": (osd1, {"kolla": "osd", "journal": "nvme"}), "nvme": (nvme, {"kolla": "journal", "partition_size": "32M"})}
    )
    assert all(r["result"] for r in kolla("label", links=[osd1, nvme], disks=disks)["return"].values())
    first_j = nvme.names_by_parted()
    disks["osd2"] = {"by_id": osd2.by_id, "kolla": "osd", "journal": "nvme"}
    out = kolla("label", links=[osd1, osd2, nvme], disks=disks)["return"]
    assert (out["nvme"]["action"], out["nvme"]["add"]) == ("append", [f"{P}_OSD2_J"])
    assert out["osd1"]["action"] == "unchanged" and out["osd2"]["action"] == "create"
    assert nvme.names_by_parted() == first_j + [f"{P}_OSD2_J"] == nvme.names_by_partx()


# ---------------------------------------------------------------- disks that hold data


def ext4_with_a_file(disk, tmp_path):
    source = tmp_path / "content"
    source.mkdir(exist_ok=True)
    (source / "precious.txt").write_text("the operator's data\n")
    run("mkfs.ext4", "-q", "-F", "-d", source, disk.device)


def lvm_pv(disk, tmp_path):
    run("pvcreate", "--yes", "--quiet", disk.device)


def foreign_msdos_table(disk, tmp_path):
    run("parted", "-s", disk.device, "mklabel", "msdos", "mkpart", "primary", "ext2", "1MiB", "100%")


def foreign_gpt(disk, tmp_path):
    run("sgdisk", "--new", "1:0:+32M", "--change-name", "1:precious-data", disk.device)


DATA = {
    "an ext4 filesystem with a file": (ext4_with_a_file, "ext4"),
    "an LVM physical volume": (lvm_pv, "LVM2_member"),
    "a foreign msdos partition table": (foreign_msdos_table, "a dos partition table"),
    "a foreign GPT": (foreign_gpt, "precious-data"),
}


@pytest.mark.parametrize("what", sorted(DATA))
@pytest.mark.parametrize("ask", ["osd", "journal partner", "bluestore"])
def test_disks_holding_data_are_refused_byte_for_byte_unchanged(loop_disks, kolla, tmp_path, what, ask):
    make, words = DATA[what]
    victim, other = loop_disks(2)
    make(victim, tmp_path)
    before = victim.sha256()
    if ask == "osd":
        disks = layout_disks({"victim": (victim, {"kolla": "osd"}), "other": (other, {"kolla": "osd"})})
    elif ask == "journal partner":
        disks = layout_disks({"victim": (victim, {"kolla": "journal"}), "other": (other, {"kolla": "osd", "journal": "victim"})})
    else:
        disks = layout_disks({"victim": (victim, {"kolla": "bluestore", "wal": "other"}), "other": (other, {"kolla": "wal"})})

    out = kolla("label", links=[victim, other], disks=disks)["return"]
    assert out["victim"]["result"] is False and out["victim"]["action"] == "refuse"
    reason = out["victim"]["reasons"][0]
    assert words in reason and f"wipe: {PHRASE}" in reason, reason
    assert out["other"]["result"] is True, "a refused disk must not stop the others"
    assert victim.sha256() == before

    refused = kolla("wipe", links=[victim, other], name="victim", disks=disks)
    assert refused["error"] == "CommandExecutionError" and "refusing to wipe victim" in refused["message"]
    wrong_phrase = kolla("wipe", links=[victim, other], name="victim", confirm="yes", disks=disks)
    assert "confirm must be exactly" in wrong_phrase["message"]
    assert victim.sha256() == before


def test_with_the_phrase_a_disk_holding_data_is_wiped_and_labelled(loop_disks, kolla, tmp_path):
    (victim,) = loop_disks(1)
    ext4_with_a_file(victim, tmp_path)
    disks = layout_disks({"victim": (victim, {"kolla": "osd", "wipe": PHRASE})})
    dry = kolla("label", links=[victim], disks=disks, test=True)["return"]["victim"]
    assert dry["action"] == "wipe-and-create" and "a ext4 signature" in dry["reasons"]
    out = kolla("label", links=[victim], disks=disks)["return"]["victim"]
    assert out["result"] is True and out["after"] == [P]
    assert victim.names_by_parted() == [P] == victim.names_by_partx()
    assert victim.signatures() == ["gpt", "gpt", "PMBR"] or sorted(victim.signatures()) == ["PMBR", "gpt", "gpt"]
    with open(victim.image, "rb") as fh:
        fh.seek(0x438)
        assert fh.read(2) != b"\x53\xef", "the old ext4 superblock survived"
    again = kolla("label", links=[victim], disks=disks)["return"]["victim"]
    assert again["action"] == "unchanged", "the phrase must not wipe a disk already as planned"


def ext4_at_1_mib(disk, tmp_path):
    """The ext4 of a partition that started at 1 MiB, left after its table was erased."""
    run("mkfs.ext4", "-q", "-F", "-E", "offset=1048576", disk.device, "64M")


def one_sector_erase(disk, tmp_path):
    """The field report's clean-up of an msdos-labelled disk with an ext4 partition: dd count=1
    over sector 0. (On a GPT disk the table's header at sector 1 survives, and wipefs sees it.)"""
    run("parted", "-s", disk.device, "mklabel", "msdos", "mkpart", "primary", "ext4", "1MiB", "65MiB")
    run("mkfs.ext4", "-q", "-F", "-E", "offset=1048576", disk.device, "64M")
    run("dd", "if=/dev/zero", f"of={disk.device}", "bs=512", "count=1", "conv=fsync,notrunc", "status=none")


@pytest.mark.parametrize("make", [ext4_at_1_mib, one_sector_erase])
def test_a_disk_that_only_looks_blank_is_refused_until_the_phrase(loop_disks, kolla, tmp_path, make):
    victim, other = loop_disks(2)
    make(victim, tmp_path)
    assert victim.signatures() == [], "wipefs must see nothing at offset 0 for this test to mean anything"
    before = victim.sha256()
    disks = layout_disks({"victim": (victim, {"kolla": "osd"}), "other": (other, {"kolla": "osd"})})
    out = kolla("label", links=[victim, other], disks=disks)["return"]
    assert out["victim"]["result"] is False and out["victim"]["action"] == "refuse"
    assert out["victim"]["device"] == victim.device and out["victim"]["disk"] == "victim"
    reason = out["victim"]["reasons"][0]
    assert "an ext4 file system at byte 1048576 (1 MiB)" in reason and f"wipe: {PHRASE}" in reason, reason
    assert out["other"]["result"] is True and victim.sha256() == before

    disks["victim"]["wipe"] = PHRASE
    out = kolla("label", links=[victim, other], disks=disks)["return"]["victim"]
    assert out["result"] is True and out["action"] == "wipe-and-create" and out["after"] == [P]
    with open(victim.image, "rb") as fh:
        fh.seek(1048576 + 0x438)
        assert fh.read(2) != b"\x53\xef", "the ext4 superblock at 1 MiB survived the wipe"
    again = kolla("label", links=[victim, other], disks=disks)["return"]["victim"]
    assert again["action"] == "unchanged"


def test_wipe_leaves_no_file_system_at_1_mib(loop_disks, kolla, tmp_path):
    (disk,) = loop_disks(1)
    ext4_at_1_mib(disk, tmp_path)
    disks = layout_disks({"old": (disk, {"kolla": "osd"})})
    out = kolla("wipe", links=[disk], name="old", confirm=PHRASE, disks=disks)["return"]
    assert out["blank"] is True
    with open(disk.image, "rb") as fh:
        fh.seek(1048576 + 0x438)
        assert fh.read(2) != b"\x53\xef", "the ext4 superblock at 1 MiB survived the wipe"
    assert kolla("check", links=[disk], disks=disks)["return"]["old"]["action"] == "create"


@pytest.mark.parametrize("where", ["whole disk", "partition"])
def test_a_mounted_disk_is_refused_even_with_the_phrase(loop_disks, kolla, tmp_path, where):
    (victim,) = loop_disks(1)
    if where == "whole disk":
        ext4_with_a_file(victim, tmp_path)
        node = victim.device
    else:
        # parted tells the kernel about the partition itself, so /dev/loopNp1 exists.
        run("parted", "-s", victim.device, "mklabel", "gpt", "mkpart", "data", "ext4", "1MiB", "100%")
        node = victim.device + "p1"
        run("mkfs.ext4", "-q", "-F", node)
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    setup = [f"mount -o ro {node} {mnt}"]
    refused_while_in_use(kolla, victim, "victim", setup, f"{node} is mounted on {mnt}", "in use")


def test_the_root_disk_is_refused_even_with_the_phrase(kolla):
    root_source = run("findmnt", "--noheadings", "--output", "SOURCE", "/").stdout.strip()
    root_disk = "/dev/" + run("lsblk", "--noheadings", "--nodeps", "--output", "PKNAME", root_source).stdout.strip() if run(
        "lsblk", "--noheadings", "--nodeps", "--output", "PKNAME", root_source
    ).stdout.strip() else root_source
    if not root_disk.startswith("/dev/"):
        pytest.fail(f"this test needs / on a block device, found {root_source!r}")
    disks = {"root": {"by_id": "/dev/disk/by-id/ata-BRINE_TEST_root", "kolla": "osd", "wipe": PHRASE}}
    out = kolla("label", links=[("ata-BRINE_TEST_root", root_disk)], disks=disks)["return"]["root"]
    assert out["action"] == "refuse" and "root filesystem" in out["reasons"][0]
    wiped = kolla("wipe", links=[("ata-BRINE_TEST_root", root_disk)], name="root", confirm=PHRASE, disks=disks)
    assert wiped["error"] == "DiskRefused" and "root filesystem" in wiped["message"]


# ---------------------------------------------------------------- identification


def test_links_to_anything_but_a_whole_block_disk_are_refused(loop_disks, kolla):
    (disk,) = loop_disks(1)
    run("parted", "-s", disk.device, "mklabel", "gpt", "mkpart", "x", "1MiB", "100%")
    before = disk.sha256()
    links = [("ata-PART", disk.device + "p1"), ("ata-NULL", "/dev/null"), ("ata-DISK", disk.device), ("ata-TWIN", disk.device)]
    disks = {
        "part": {"by_id": "/dev/disk/by-id/ata-PART", "kolla": "osd", "wipe": PHRASE},
        "null": {"by_id": "/dev/disk/by-id/ata-NULL", "kolla": "osd", "wipe": PHRASE},
        "gone": {"by_id": "/dev/disk/by-id/ata-GONE", "kolla": "osd", "wipe": PHRASE},
        "serial": {"serial": "NO-SUCH-SERIAL", "kolla": "osd", "wipe": PHRASE},
        "wwn": {"wwn": "0x5000c500deadbeef", "kolla": "osd", "wipe": PHRASE},
        "a": {"by_id": "/dev/disk/by-id/ata-DISK", "kolla": "osd", "wipe": PHRASE},
        "b": {"by_id": "/dev/disk/by-id/ata-TWIN", "kolla": "osd", "wipe": PHRASE},
    }
    out = kolla("label", links=links, disks=disks)["return"]
    verdicts = {name: (r["action"], r["reasons"][0] if r["reasons"] else "") for name, r in out.items()}
    assert verdicts["part"][0] == "refuse" and "a partition, not a whole disk" in verdicts["part"][1]
    assert verdicts["null"][0] == "refuse" and "not a block device" in verdicts["null"][1]
    assert verdicts["gone"][0] == "absent" and "does not exist" in verdicts["gone"][1]
    assert verdicts["serial"] == ("absent", "no disk has serial NO-SUCH-SERIAL")
    assert verdicts["wwn"] == ("absent", "no disk has wwn 0x5000c500deadbeef")
    assert verdicts["a"][0] == "wipe-and-create"
    assert verdicts["b"] == ("refuse", f"it is the same device ({disk.device}) as disk 'a'")
    assert not any(r["result"] for name, r in out.items() if name != "a")


def test_sdx_names_are_refused_before_any_disk_is_read(kolla):
    out = kolla("plan", disks={"osd1": {"kolla": "osd"}})
    assert out["error"] == "CommandExecutionError" and "exactly one of by_id, serial or wwn" in out["message"]
    out = kolla("label", links=[], disks={"osd1": {"by_id": "/dev/sdb", "kolla": "osd"}})
    assert out["return"]["osd1"]["action"] == "refuse" and "not a /dev/disk/by-id/ path" in out["return"]["osd1"]["reasons"][0]


# ---------------------------------------------------------------- wipe, list, grain


def test_wipe_with_the_phrase_leaves_the_disk_blank(loop_disks, kolla):
    osd, nvme = loop_disks(2)
    disks = layout_disks({"osd1": (osd, {"kolla": "osd", "journal": "nvme"}), "nvme": (nvme, {"kolla": "journal"})})
    assert all(r["result"] for r in kolla("label", links=[osd, nvme], disks=disks)["return"].values())
    untouched = osd.sha256()
    out = kolla("wipe", links=[osd, nvme], name="nvme", confirm=PHRASE, disks=disks)["return"]
    assert out["blank"] is True and out["after"] == [] and f"{P}_OSD1_J" in out["before"]
    assert nvme.signatures() == [] and nvme.names_by_parted() == [] and nvme.names_by_partx() == []
    with open(nvme.image, "rb") as fh:
        assert b"E\x00F\x00I\x00" not in fh.read(), "a GPT header survived"
    assert osd.sha256() == untouched, "wipe touched another disk"


def test_wipe_by_the_inventory_phrase(loop_disks, kolla, tmp_path):
    (disk,) = loop_disks(1)
    lvm_pv(disk, tmp_path)
    disks = layout_disks({"old": (disk, {"kolla": "osd", "wipe": PHRASE})})
    out = kolla("wipe", links=[disk], name="old", disks=disks)["return"]
    assert out["before"] == ["LVM2_member"] and out["blank"] is True and disk.signatures() == []


def test_list_reads_partition_names_without_udev(loop_disks, kolla):
    osd, other = loop_disks(2)
    disks = layout_disks({"osd1": (osd, {"kolla": "osd", "journal": "j"}), "j": (other, {"kolla": "journal"})})
    kolla("label", links=[osd, other], disks=disks)
    listed = kolla("list", links=[osd])["return"]
    mine = listed[osd.device.removeprefix("/dev/")]
    assert mine["partitions"] == mine["kolla_labels"] == [f"{P}_OSD1"]
    assert mine["by_id"] == [osd.by_id] and mine["pttype"] == "gpt" and mine["in_use"] == []
    assert listed[other.device.removeprefix("/dev/")]["kolla_labels"] == [f"{P}_OSD1_J"]


def test_grain_exposes_the_kolla_disks(loop_disks, kolla):
    osd, blank = loop_disks(2)
    disks = layout_disks({"osd1": (osd, {"kolla": "osd"})})
    kolla("label", links=[osd], disks=disks)
    grains = kolla("kolla_disks", links=[osd], kind="grains")["return"]["kolla_disks"]
    assert grains[osd.device.removeprefix("/dev/")] == {"labels": [P], "by_id": [osd.by_id]}
    assert blank.device.removeprefix("/dev/") not in grains


def test_a_disk_kolla_has_bootstrapped_is_left_alone_even_with_the_phrase(loop_disks, kolla):
    (osd,) = loop_disks(1)
    # What Kolla leaves after making an OSD of KOLLA_CEPH_OSD_BOOTSTRAP: its data and journal.
    run("sgdisk", "--new", "1:0:+32M", "--change-name", "1:KOLLA_CEPH_DATA_3", "--new", "2:0:+16M",
        "--change-name", "2:KOLLA_CEPH_DATA_3_J", osd.device)
    before = osd.sha256()
    disks = layout_disks({"osd1": (osd, {"kolla": "osd", "wipe": PHRASE})})
    out = kolla("label", links=[osd], disks=disks)["return"]["osd1"]
    assert (out["action"], out["result"]) == ("bootstrapped", True)
    assert osd.sha256() == before


def test_partitions_that_do_not_fit_are_refused_before_anything_is_written(loop_disks, kolla, tmp_path):
    small, osd = loop_disks(1, size_mib=64) + loop_disks(1)
    ext4_with_a_file(small, tmp_path)
    before = small.sha256()
    disks = layout_disks(
        {"osd1": (osd, {"kolla": "osd", "journal": "j"}), "j": (small, {"kolla": "journal", "partition_size": "1G", "wipe": PHRASE})}
    )
    out = kolla("label", links=[small, osd], disks=disks)["return"]["j"]
    assert out["action"] == "refuse" and "need 1024 MiB but only" in out["reasons"][0]
    assert small.sha256() == before, "a disk too small for the plan was wiped anyway"


def test_a_disk_opened_exclusively_is_refused_even_with_the_phrase(loop_disks, kolla):
    (disk,) = loop_disks(1)
    # A running bluestore OSD holds its raw block device this way, without any mount.
    holder = (
        f"{sys.executable} -c \"import os, time; fd = os.open('{disk.device}', os.O_RDONLY | os.O_EXCL); "
        "print('held', flush=True); time.sleep(120)\" > /dev/null & holder=$!"
    )
    setup = [holder, "trap 'kill $holder' EXIT", "sleep 1"]
    disks = refused_while_in_use(kolla, disk, "osd1", setup, f"{disk.device} is opened exclusively by another program",
                                 "opened exclusively")
    free = kolla("label", links=[disk], disks=disks)["return"]["osd1"]
    assert free["action"] == "create", "the disk is refused only while it is held"


def test_active_swap_is_refused_even_with_the_phrase(loop_disks, kolla):
    (disk,) = loop_disks(1)
    run("mkswap", disk.device)
    # swapon is not namespaced: the trap (and the fixture, should the shell die) turn it off.
    setup = [f"swapon {disk.device}", f"trap 'swapoff {disk.device}' EXIT"]
    refused_while_in_use(kolla, disk, "osd1", setup, f"{disk.device} is active swap")
    assert disk.device not in run("cat", "/proc/swaps").stdout
