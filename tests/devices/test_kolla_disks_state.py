"""
The storage role through salt-call, on loop devices: test=True shows the plan and writes
nothing, the apply labels, a second apply changes nothing, a disk holding data fails its state
untouched without stopping the others, and the grain shows the result.
"""

import itertools
import json
import shlex

from devicelib import BY_ID, run

P = "KOLLA_CEPH_OSD_BOOTSTRAP"


def test_storage_role_labels_the_inventory_disks(salt_call, loop_disks, by_id_mountpoint, inventory, tmp_path):
    osd1, osd2, full, nvme = loop_disks(4)
    source = tmp_path / "content"
    source.mkdir()
    (source / "precious.txt").write_text("keep me\n")
    run("mkfs.ext4", "-q", "-F", "-d", source, full.device)
    inventory["hosts"]["ubuntu1"]["disks"] = {
        "osd1": {"by_id": osd1.by_id, "kolla": "osd", "journal": "nvme"},
        "osd2": {"by_id": osd2.by_id, "kolla": "osd", "journal": "nvme"},
        "full": {"by_id": full.by_id, "kolla": "osd"},
        "nvme": {"by_id": nvme.by_id, "kolla": "journal", "partition_size": "16M"},
        "gone": {"by_id": f"{BY_ID}/ata-BRINE_TEST_not_attached", "kolla": "cache"},
    }
    pillar_root = salt_call.pillar_root_with(inventory)
    (pillar_root / "top.sls").write_text("base:\n  '*':\n    - brine\n    - settings\n")
    (pillar_root / "settings.sls").write_text("brine_settings:\n  storage:\n    absent_disks: fail\n")

    counter = itertools.count()

    def in_namespace(*calls):
        script = [f"mount -t tmpfs brine-test {BY_ID}", "mkdir -p /etc/brine", "mount -t tmpfs brine-test /etc/brine"]
        script += [f"ln -s {d.device} {d.by_id}" for d in (osd1, osd2, full, nvme)]
        outs = []
        for args in calls:
            out_file = tmp_path / f"out-{next(counter)}.json"
            outs.append(out_file)
            command = salt_call.command(*args, minion_id="ubuntu1", pillar_root=pillar_root, out_file=out_file)
            script.append(" ".join(shlex.quote(str(a)) for a in command) + " || true")
        run("unshare", "--mount", "--propagation", "private", "sh", "-ec", "\n".join(script))
        return [json.loads(f.read_text())["local"] for f in outs]

    everything = (osd1, osd2, full, nvme)
    before = [d.sha256() for d in everything]
    (dry,) = in_namespace(["state.apply", "storage", "test=True"])
    assert [d.sha256() for d in everything] == before, "test=True wrote to a disk"
    first, second, grains = in_namespace(["state.apply", "storage"], ["state.apply", "storage"], ["grains.get", "kolla_disks"])

    def by_disk(results):
        return {r["__id__"].removeprefix("kolla-disk-"): r for r in results.values() if r["__id__"].startswith("kolla-disk-")}

    dry, first, second = by_disk(dry), by_disk(first), by_disk(second)
    assert {d: r["result"] for d, r in dry.items()} == {"osd1": None, "osd2": None, "nvme": None, "full": False, "gone": False}
    assert dry["nvme"]["changes"]["partitions"] == {"old": [], "new": [f"{P}_OSD1_J", f"{P}_OSD2_J"]}
    assert "Refusing to touch full" in dry["full"]["comment"] and "ext4" in dry["full"]["comment"]
    assert "is not attached" in dry["gone"]["comment"]

    assert {d: r["result"] for d, r in first.items()} == {"osd1": True, "osd2": True, "nvme": True, "full": False, "gone": False}
    assert first["osd1"]["changes"]["partitions"] == {"old": [], "new": [f"{P}_OSD1"]}
    assert {d: r["changes"] for d, r in second.items()} == {d: {} for d in first}
    assert {d: r["result"] for d, r in second.items()} == {d: r["result"] for d, r in first.items()}

    assert osd1.names_by_parted() == [f"{P}_OSD1"] and osd2.names_by_partx() == [f"{P}_OSD2"]
    assert nvme.names_by_parted() == [f"{P}_OSD1_J", f"{P}_OSD2_J"] == nvme.names_by_partx()
    assert full.sha256() == before[2]
    assert grains[osd1.device.removeprefix("/dev/")] == {"labels": [f"{P}_OSD1"], "by_id": [osd1.by_id]}
    assert grains[nvme.device.removeprefix("/dev/")]["labels"] == [f"{P}_OSD1_J", f"{P}_OSD2_J"]
    assert full.device.removeprefix("/dev/") not in grains
