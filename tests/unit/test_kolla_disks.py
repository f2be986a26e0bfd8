"""The pure core of kolla_disks: inventory disks -> Kolla partition names, and what to do."""

import itertools
import random

import kolla_disks as kd
import pytest
from brine_testlib import example_inventory

P = "KOLLA_CEPH_OSD_BOOTSTRAP"
PHRASE = "yes-i-really-really-mean-it"


def disk(role, n=0, **extra):
    return {"by_id": f"/dev/disk/by-id/ata-TEST_{role}_{n}", "kolla": role, **extra}


def labels(plan):
    return {name: [(p["label"], p["size_mib"]) for p in entry["partitions"]] for name, entry in plan.items()}


def problems(disks):
    with pytest.raises(kd.InventoryProblem) as info:
        kd.plan_host(disks)
    return info.value.errors


# ---------------------------------------------------------------- sizes


@pytest.mark.parametrize(
    "value, mib",
    [(512, 512), ("512M", 512), ("5G", 5120), ("5GiB", 5120), ("5gb", 5120), ("1T", 1048576), (" 20G ", 20480)],
)
def test_sizes_in_binary_units(value, mib):
    assert kd.parse_size(value) == mib


@pytest.mark.parametrize("value", [0, -5, "0G", "5", "5P", "five", "", None, True, "5.5G", "-1G"])
def test_bad_sizes_are_refused(value):
    with pytest.raises(ValueError):
        kd.parse_size(value)


# ---------------------------------------------------------------- every label form


def test_colocated_journal_osds_share_the_bare_name():
    plan = kd.plan_host({"sdx": disk("osd", 1), "sdy": disk("osd", 2)})
    assert labels(plan) == {"sdx": [(P, None)], "sdy": [(P, None)]}


def test_osd_with_a_dedicated_journal_disk_pairs_S_and_S_J():
    plan = kd.plan_host({"osd1": disk("osd", 1, journal="j1"), "j1": disk("journal", 1)})
    assert labels(plan) == {"osd1": [(f"{P}_OSD1", None)], "j1": [(f"{P}_OSD1_J", None)]}


def test_shared_journal_disk_gets_one_J_partition_per_data_disk_in_suffix_order():
    disks = {
        "osd3": disk("osd", 3, journal="nvme"),
        "osd1": disk("osd", 1, journal="nvme"),
        "osd2": disk("osd", 2, journal="nvme"),
        "nvme": disk("journal", 9, partition_size="5G"),
    }
    plan = kd.plan_host(disks)
    assert labels(plan)["nvme"] == [(f"{P}_OSD1_J", 5120), (f"{P}_OSD2_J", 5120), (f"{P}_OSD3_J", 5120)]
    assert [labels(plan)[f"osd{i}"] for i in (1, 2, 3)] == [[(f"{P}_OSD{i}", None)] for i in (1, 2, 3)]


def test_shared_partner_disk_needs_a_partition_size():
    errors = problems({"a": disk("osd", 1, journal="j"), "b": disk("osd", 2, journal="j"), "j": disk("journal")})
    assert errors == ["disks:j:partition_size: missing: this journal disk is shared by 2 disks (a, b); give the size of each partition"]


def test_bluestore_alone_is_the_bare_BS_name():
    assert labels(kd.plan_host({"bs1": disk("bluestore", 1)})) == {"bs1": [(f"{P}_BS", None)]}


def test_split_bluestore_with_wal_and_db_keeps_block_on_the_data_disk():
    plan = kd.plan_host(
        {
            "hdd1": disk("bluestore", 1, wal="fastw", db="fastd"),
            "fastw": disk("wal", 2),
            "fastd": disk("db", 3, partition_size="30G"),
        }
    )
    assert labels(plan) == {
        "hdd1": [(f"{P}_BS_HDD1", 100), (f"{P}_BS_HDD1_B", None)],
        "fastw": [(f"{P}_BS_HDD1_W", None)],
        "fastd": [(f"{P}_BS_HDD1_D", 30720)],
    }


def test_split_bluestore_with_a_separate_block_disk():
    plan = kd.plan_host(
        {"small": disk("bluestore", 1, block="big", data_size="200M", suffix="FOO1"), "big": disk("block", 2)}
    )
    assert labels(plan) == {"small": [(f"{P}_BS_FOO1", 200)], "big": [(f"{P}_BS_FOO1_B", None)]}


@pytest.mark.parametrize(
    "others, extra, label",
    [
        ({}, {}, "KOLLA_CEPH_OSD_CACHE_BOOTSTRAP"),
        ({}, {"store": "bluestore"}, "KOLLA_CEPH_OSD_CACHE_BOOTSTRAP_BS"),
        ({"o": disk("osd", 1)}, {}, "KOLLA_CEPH_OSD_CACHE_BOOTSTRAP"),
        ({"o": disk("bluestore", 1)}, {}, "KOLLA_CEPH_OSD_CACHE_BOOTSTRAP_BS"),
    ],
)
def test_cache_tier_follows_the_hosts_object_store(others, extra, label):
    plan = kd.plan_host({**others, "ssd": disk("cache", 7, **extra)})
    assert labels(plan)["ssd"] == [(label, None)]


def test_disks_without_kolla_are_not_in_the_plan():
    plan = kd.plan_host({"os": {"by_id": "/dev/disk/by-id/ata-OS"}, "o": disk("osd")})
    assert list(plan) == ["o"]


def test_plan_carries_the_identity_and_the_wipe_phrase():
    plan = kd.plan_host({"o": {"serial": "Z1", "kolla": "osd", "wipe": PHRASE}, "p": {"wwn": "0x5000c500a1b2c3d4", "kolla": "osd"}})
    assert plan["o"]["id"] == ("serial", "Z1") and plan["o"]["wipe"] is True
    assert plan["p"]["id"] == ("wwn", "0x5000c500a1b2c3d4") and plan["p"]["wipe"] is False


def test_the_example_lab_plans_the_field_reports_layout():
    for host, entry in example_inventory()["hosts"].items():
        if "storage" not in entry.get("roles", []):
            continue
        plan = labels(kd.plan_host(entry["disks"]))
        assert plan["journal"] == [(f"{P}_OSD{i}_J", kd.parse_size(entry["disks"]["journal"]["partition_size"])) for i in (1, 2, 3)]
        assert all(plan[f"osd{i}"] == [(f"{P}_OSD{i}", None)] for i in (1, 2, 3)), host


# ---------------------------------------------------------------- suffixes


def test_explicit_suffix_wins():
    plan = kd.plan_host({"osd1": disk("osd", 1, journal="j", suffix="7"), "j": disk("journal")})
    assert labels(plan)["j"] == [(f"{P}_7_J", None)]


def test_suffixes_are_unique_per_host():
    errors = problems(
        {
            "osd-1": disk("osd", 1, journal="j"),
            "osd1": disk("osd", 2, journal="j"),
            "j": disk("journal", partition_size="1G"),
        }
    )
    assert errors == ["disks:osd1: suffix 'OSD1' is already used by disk 'osd-1'; give a 'suffix'"]


def test_explicit_suffix_may_not_collide_with_a_derived_one():
    errors = problems(
        {"a": disk("osd", 1, journal="j", suffix="B"), "b": disk("osd", 2, journal="j"), "j": disk("journal", partition_size="1G")}
    )
    assert len(errors) == 1 and "suffix 'B' is already used" in errors[0]


@pytest.mark.parametrize(
    "role, suffix, words",
    [
        ("osd", "osd1", "upper-case letters and digits"),
        ("osd", "A_1", "upper-case letters and digits"),
        ("osd", "ABCDEFGHIJ", "partition name of 37 characters"),
        ("bluestore", "ABCDEFG", "partition name of 37 characters"),
        ("bluestore", "DATA1", "must not start with B, D or W"),
        ("bluestore", "W1", "must not start with B, D or W"),
    ],
)
def test_bad_explicit_suffixes(role, suffix, words):
    partner = {"osd": ("journal", "journal"), "bluestore": ("wal", "wal")}[role]
    errors = problems({"d": disk(role, 1, suffix=suffix, **{partner[0]: "p"}), "p": disk(partner[1])})
    assert len(errors) == 1 and errors[0].startswith("disks:d:suffix: ") and words in errors[0], errors


def test_longest_suffixes_that_fit_the_gpt_name_field():
    plan = kd.plan_host({"d": disk("osd", 1, journal="j", suffix="ABCDEFGHI"), "j": disk("journal")})
    assert len(labels(plan)["j"][0][0]) == 36
    plan = kd.plan_host({"d": disk("bluestore", 1, db="x", suffix="ABCDEF"), "x": disk("db")})
    assert max(len(label) for label, _ in labels(plan)["d"]) == 36


def test_a_name_that_gives_no_usable_suffix_asks_for_one():
    errors = problems({"data1": disk("bluestore", 1, wal="w"), "w": disk("wal")})
    assert errors == ["disks:data1: cannot derive a suffix from the disk name (bluestore suffix 'DATA1' must not start with B, D or W (Kolla would read it as block/db/wal)); give 'suffix'"]


def test_a_suffix_without_partners_is_refused_because_kolla_would_ignore_the_disk():
    errors = problems({"o": disk("osd", 1, suffix="1")})
    assert errors == ["disks:o:suffix: a suffix only goes with an external journal (Kolla ignores a suffixed disk without its partners)"]


def test_plans_are_deterministic_and_adding_a_disk_renames_nothing():
    base = {f"osd{i}": disk("osd", i, journal="nvme") for i in range(1, 6)}
    base["nvme"] = disk("journal", 0, partition_size="1G")
    expected = labels(kd.plan_host(base))
    items = list(base.items())
    for seed in range(5):
        random.Random(seed).shuffle(items)
        assert labels(kd.plan_host(dict(items))) == expected
    grown = {**base, "osd0": disk("osd", 99, journal="nvme")}
    after = labels(kd.plan_host(grown))
    assert all(after[name] == expected[name] for name in expected if name != "nvme")
    assert set(expected["nvme"]) < set(after["nvme"])


def test_every_label_on_a_host_is_unique_except_the_bare_names():
    roles = ["osd", "bluestore"]
    for store in roles:
        disks = {}
        for i in range(8):
            if store == "osd":
                disks[f"x{i}"] = disk("osd", i, journal="nv") if i % 2 else disk("osd", i)
            else:
                disks[f"x{i}"] = disk("bluestore", i, wal="nv", db="ndb") if i % 2 else disk("bluestore", i)
        disks["nv"] = disk("journal" if store == "osd" else "wal", 50, partition_size="1G")
        if store != "osd":
            disks["ndb"] = disk("db", 51, partition_size="1G")
        every = [label for parts in labels(kd.plan_host(disks)).values() for label, _ in parts]
        suffixed = [label for label in every if label not in (P, f"{P}_BS")]
        assert len(suffixed) == len(set(suffixed)) > 0
        assert all(len(label) <= 36 for label in every)


# ---------------------------------------------------------------- inventory mistakes


@pytest.mark.parametrize(
    "disks, expected",
    [
        ({"a": disk("osdd")}, "disks:a:kolla: unknown role 'osdd'"),
        ({"a": disk("osd", size="5G")}, "disks:a:size: not a key of a 'kolla: osd' disk"),
        ({"a": disk("osd", wal="b"), "b": disk("wal")}, "disks:a:wal: not a key of a 'kolla: osd' disk"),
        ({"a": disk("osd", journal="b"), "b": disk("osd")}, "disks:a:journal: disk 'b' must have 'kolla: journal'"),
        ({"a": disk("bluestore", db="zz")}, "disks:a:db: 'zz' is not one of this host's Kolla disks"),
        ({"a": disk("journal")}, "disks:a: no disk uses this journal disk"),
        ({"a": disk("osd"), "b": disk("bluestore", 1)}, "disks: a host's OSDs are all filestore"),
        ({"a": disk("osd", wipe="yes")}, "disks:a:wipe: must be exactly 'yes-i-really-really-mean-it'"),
        ({"a": disk("osd", wipe=True)}, "disks:a:wipe: must be exactly"),
        ({"a": {"kolla": "osd"}}, "disks:a: a disk is identified by exactly one of by_id, serial or wwn"),
        ({"a": {"kolla": "osd", "serial": "x", "wwn": "0x5000c500a1b2c3d4"}}, "disks:a: a disk is identified by exactly one"),
        ({"a": disk("cache", store="zfs")}, "disks:a:store: 'zfs' is not one of filestore, bluestore"),
        ({"a": disk("osd"), "c": disk("cache", 1, store="bluestore")}, "disks:c:store: the cache tier is bluestore but this host's OSDs are filestore"),
        ({"a": disk("bluestore", data_size="1G")}, "disks:a:data_size: only a bluestore disk with block, wal or db partners"),
        ({"a": disk("bluestore", db="b", data_size="lots"), "b": disk("db")}, "disks:a:data_size: 'lots' is not a size"),
        ({"a": disk("osd", journal="b"), "b": disk("journal", partition_size="0G")}, "disks:b:partition_size: '0G' is not a size"),
        ({"a": disk("osd", journal="a")}, "disks:a:journal: a disk cannot be its own journal"),
    ],
)
def test_inventory_mistakes_name_their_path(disks, expected):
    errors = problems(disks)
    assert any(e.startswith(expected) for e in errors), errors


def test_every_problem_is_reported_at_once():
    errors = problems({"a": disk("osdd"), "b": disk("journal"), "c": disk("osd", wipe="sure")})
    assert len(errors) == 3


# ---------------------------------------------------------------- decide


def planned(*names, wipe=False, sizes=None):
    sizes = sizes or [None] * len(names)
    return {"partitions": [{"label": n, "size_mib": s} for n, s in zip(names, sizes)], "wipe": wipe}


BLANK = {"root": False, "in_use": [], "pttype": None, "partitions": [], "signatures": [], "free_mib": 1000, "size_mib": 1002}


def gpt(*names, extra=(), free=0):
    return {
        **BLANK,
        "pttype": "gpt",
        "partitions": [{"name": n, "size_mib": 10} for n in names],
        "signatures": ["gpt", "gpt", "PMBR", *extra],
        "free_mib": free,
    }


@pytest.mark.parametrize("wipe", [False, True])
def test_root_disk_and_disks_in_use_are_refused_even_with_the_phrase(wipe):
    for facts, words in (
        ({**BLANK, "root": True}, "root filesystem"),
        ({**BLANK, "in_use": ["/dev/x1 is mounted on /srv"]}, "/dev/x1 is mounted on /srv"),
        ({**gpt(P), "in_use": ["/dev/x is held by vg-lv"]}, "held by vg-lv"),
    ):
        decision = kd.decide(planned(P, wipe=wipe), facts)
        assert decision["action"] == "refuse" and words in decision["reasons"][0]


def test_blank_disk_is_created():
    decision = kd.decide(planned(f"{P}_1_J", f"{P}_2_J", sizes=[100, 100]), BLANK)
    assert decision["action"] == "create" and [p["label"] for p in decision["add"]] == [f"{P}_1_J", f"{P}_2_J"]


def test_disk_with_exactly_the_planned_names_is_unchanged_in_any_order():
    assert kd.decide(planned("A", "B"), gpt("B", "A"))["action"] == "unchanged"
    assert kd.decide(planned("A", "B", wipe=True), gpt("A", "B"))["action"] == "unchanged"


def test_bootstrapped_disks_are_left_alone_even_with_the_phrase():
    for wipe in (False, True):
        decision = kd.decide(planned(f"{P}_1", wipe=wipe), gpt("KOLLA_CEPH_DATA_3"))
        assert decision["action"] == "bootstrapped"
    decision = kd.decide(planned(f"{P}_1_J", f"{P}_2_J"), gpt("KOLLA_CEPH_DATA_3_J", f"{P}_2_J"))
    assert decision["action"] == "bootstrapped"


def test_missing_planned_partitions_are_appended_to_a_disk_that_only_has_planned_ones():
    decision = kd.decide(planned("A", "B", "C", sizes=[10, 10, 10]), gpt("A", free=500))
    assert decision["action"] == "append" and [p["label"] for p in decision["add"]] == ["B", "C"]


def test_append_refused_without_room():
    decision = kd.decide(planned("A", "B", sizes=[10, 600]), gpt("A", free=500))
    assert decision["action"] == "refuse" and "need 600 MiB but only 500 MiB are free" in decision["reasons"][0]


@pytest.mark.parametrize(
    "facts, words",
    [
        ({**BLANK, "signatures": ["ext4"]}, "a ext4 signature"),
        ({**BLANK, "signatures": ["LVM2_member"]}, "a LVM2_member signature"),
        ({**BLANK, "signatures": ["linux_raid_member"]}, "a linux_raid_member signature"),
        ({**BLANK, "pttype": "dos", "partitions": [{"name": ""}], "signatures": ["dos"]}, "a dos partition table with 1 partition(s) ((no name))"),
        (gpt("primary"), "a gpt partition table with 1 partition(s) (primary)"),
        (gpt(), "a gpt partition table with 0 partition(s)"),
        (gpt("A", "X"), "(A, X)"),
        (gpt("A", extra=["ext4"]), "a ext4 signature"),
        (gpt("A", "A"), "(A, A)"),
    ],
)
def test_anything_else_is_refused_without_the_phrase_and_wiped_with_it(facts, words):
    refused = kd.decide(planned("A"), facts)
    assert refused["action"] == "refuse" and refused["add"] == []
    assert words in refused["reasons"][0] and PHRASE in refused["reasons"][0]
    wiped = kd.decide(planned("A", wipe=True), facts)
    assert wiped["action"] == "wipe-and-create" and any(words in r for r in wiped["reasons"])


def test_too_small_blank_disk_is_refused():
    decision = kd.decide(planned("A", "B", sizes=[600, 600]), BLANK)
    assert decision["action"] == "refuse" and "1200 MiB" in decision["reasons"][0]


def test_decide_never_writes_when_refusing_every_combination():
    names = ["A", "B"]
    for have in itertools.chain.from_iterable(itertools.permutations(names + ["X"], n) for n in range(4)):
        for sigs in ((), ("ext4",)):
            decision = kd.decide(planned(*names), gpt(*have, extra=sigs, free=10**6))
            if decision["action"] == "refuse":
                assert decision["add"] == []
            if "X" in have or sigs:
                assert decision["action"] == "refuse", (have, sigs)


# ---------------------------------------------------------------- serial and WWN lookups


ROWS = [
    {"name": "sda", "serial": "S1", "wwn": "0x5000c500a1b2c3d4", "type": "disk"},
    {"name": "sdb", "serial": "S2", "wwn": None, "type": "disk"},
    {"name": "sr0", "serial": "S2", "wwn": None, "type": "rom"},
    {"name": "loop0", "serial": None, "wwn": None, "type": "loop"},
    {"name": "sdc", "serial": None, "wwn": None, "type": "disk"},
    {"name": "sdd", "serial": "", "wwn": "", "type": "disk"},
]


@pytest.mark.parametrize(
    "key, value, names",
    [
        ("serial", "S1", ["sda"]),
        ("serial", "S2", ["sdb"]),
        ("serial", "s1", []),
        ("wwn", "5000C500A1B2C3D4", ["sda"]),
        ("wwn", "0x5000c500a1b2c3d4", ["sda"]),
        ("wwn", "0x0", []),
        ("serial", "", []),
        ("serial", " ", []),
        ("wwn", "", []),
        ("wwn", "0x", []),
    ],
)
def test_serial_and_wwn_match_whole_disks_only(key, value, names):
    assert kd.match_disk(ROWS, key, value) == names


def test_kolla_labels_are_the_bootstrap_and_bootstrapped_names():
    assert kd.kolla_labels([P, "primary", "", "KOLLA_CEPH_DATA_1", "KOLLA_CEPH_OSD_CACHE_BOOTSTRAP", None]) == [
        P,
        "KOLLA_CEPH_DATA_1",
        "KOLLA_CEPH_OSD_CACHE_BOOTSTRAP",
    ]


@pytest.mark.parametrize("kname", ["sda", "vdb", "nvme0n1", "loop3", "mmcblk0", "xvdc", "ubdb"])
def test_disk_names(kname):
    assert kd.is_disk_name(kname)


@pytest.mark.parametrize("kname", ["dm-0", "md127", "ram0", "zram0", "sr0", "fd0", "nbd3", ""])
def test_virtual_devices_are_not_disks(kname):
    assert not kd.is_disk_name(kname)


# ---------------------------------------------------------------- a disk that only looks blank

import subprocess  # noqa: E402

MIB = 1024 * 1024
SIZE = 256 * MIB


def image(tmp_path, name="disk.img", size=SIZE):
    path = tmp_path / name
    with open(path, "wb") as fh:
        fh.truncate(size)  # sparse: reads as zeros, takes no space
    return path


def poke(path, offset, data):
    with open(path, "r+b") as fh:
        fh.seek(offset)
        fh.write(data)


def probe(path, sector=512):
    with open(path, "rb") as fh:
        return kd.probe(fh, path.stat().st_size, sector)


def ext4_at(path, offset):
    """A real ext4 (mke2fs) starting ``offset`` bytes into the image, with no partition table."""
    subprocess.run(["mkfs.ext4", "-q", "-F", "-E", f"offset={offset}", str(path), "64M"], check=True,
                   capture_output=True)


def test_a_blank_disk_has_nothing_to_show(tmp_path):
    assert probe(image(tmp_path)) == []


def test_ext4_at_1_mib_without_a_partition_table_is_found_and_refused(tmp_path):
    path = image(tmp_path)
    ext4_at(path, MIB)
    found = probe(path)
    assert found[0] == "an ext4 file system at byte 1048576 (1 MiB)"
    facts = dict(BLANK, deep=found)
    decision = kd.decide(planned(P), facts)
    assert decision["action"] == "refuse" and decision["add"] == []
    assert "an ext4 file system at byte 1048576 (1 MiB)" in decision["reasons"][0]
    assert f"wipe: {PHRASE}" in decision["reasons"][0]
    wiped = kd.decide(planned(P, wipe=True), facts)
    assert wiped["action"] == "wipe-and-create" and wiped["reasons"] == found


def test_the_field_reports_one_sector_erase_leaves_the_partitions_to_be_found(tmp_path):
    """sgdisk table + ext4 in partition 1, then `dd if=/dev/zero of=disk bs=512 count=1`."""
    path = image(tmp_path)
    subprocess.run(["sgdisk", "--new", "1:2048:+100M", str(path)], check=True, capture_output=True)
    ext4_at(path, MIB)
    poke(path, 0, bytes(512))
    found = probe(path)
    assert "an ext4 file system at byte 1048576 (1 MiB)" in found
    assert "a GPT header at byte 512 (sector 1) (the table's first copy)" in found
    assert f"a GPT header at byte {SIZE - 512} (sector {SIZE // 512 - 1}) (the backup copy at the end of the disk)" in found


@pytest.mark.parametrize("offset, magic, words", [
    (63 * 512, b"XFSB", "an XFS file system at byte 32256 (sector 63)"),
    (2 * MIB + 512, b"LABELONE\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0LVM2 001", "an LVM physical volume at byte 2097152 (2 MiB)"),
    (MIB + 4096, b"\xfc\x4e\x2b\xa9", "an MD RAID member (v1.2) at byte 1048576 (1 MiB)"),
    (MIB, b"bluestore block device", "a Ceph bluestore OSD at byte 1048576 (1 MiB)"),
    (4086, b"SWAPSPACE2", "swap at byte 0 (0 MiB)"),
    (SIZE - 1000, b"old data", f"non-zero data at byte {SIZE - 1000} (in the last MiB)"),
    (700 * 1024, b"old data", "non-zero data at byte 716800 (sector 1400) (in the first MiB)"),
])
def test_labels_at_partition_offsets_and_leftover_data_are_found(tmp_path, offset, magic, words):
    path = image(tmp_path)
    poke(path, offset, magic)
    assert words in probe(path)


def test_4k_sector_disks_are_probed_at_2048_of_their_sectors(tmp_path):
    path = image(tmp_path)
    ext4_at(path, 2048 * 4096)
    assert probe(path) == []  # not where 512-byte-sector disks put partitions...
    assert probe(path, sector=4096) == ["an ext4 file system at byte 8388608 (8 MiB)"]  # ...but 4Kn disks do
