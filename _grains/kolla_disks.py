"""
Grain ``kolla_disks``: the disks of this host that carry Kolla Ceph partition names, so the
master can target and report on them (``salt -G 'kolla_disks:*' ...``)::

    kolla_disks:
      sdb: {labels: [KOLLA_CEPH_OSD_BOOTSTRAP_OSD1], by_id: [/dev/disk/by-id/ata-...]}

Names are read from each disk's partition table with ``sfdisk --json`` (no udev needed), the
way ``kolla_disks.list`` reads them. Disks without a Kolla name are left out; a grain never
fails a minion's start, so any disk that cannot be read is skipped.

Self-contained, without brinelib (like ``brine_start``): a grain that cannot import is missing
from the minion's start on, and grains arrive without ``_utils`` too (``grains_dirs``,
``saltutil.sync_grains``); so the by-id listing is written here again.
"""

import json
import logging
import os
import re
import shutil
import subprocess

log = logging.getLogger(__name__)

BY_ID_DIR = "/dev/disk/by-id"
KOLLA_PREFIXES = ("KOLLA_CEPH_OSD_", "KOLLA_CEPH_DATA")
_NOT_DISKS = re.compile(r"^(ram|zram|dm-|md|sr|fd|nbd)")


def _partition_names(device):
    try:
        proc = subprocess.run(["sfdisk", "--json", device], capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        log.debug("kolla_disks grain: cannot read %s: %s", device, exc)
        return []
    if proc.returncode != 0 or not proc.stdout.strip():
        return []
    try:
        table = json.loads(proc.stdout).get("partitiontable", {})
    except ValueError:
        return []
    return [p.get("name", "") for p in table.get("partitions", [])]


def _links():
    links = {}
    try:
        names = sorted(os.listdir(BY_ID_DIR))
    except OSError:
        return links
    for name in names:
        path = os.path.join(BY_ID_DIR, name)
        links.setdefault(os.path.realpath(path), []).append(path)
    return links


def kolla_disks():
    """
    The disks carrying Kolla Ceph partition names, with those names and their by-id links.

    CLI Example:

    .. code-block:: bash

        salt '*' grains.get kolla_disks
    """
    if not shutil.which("sfdisk", path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin"):
        return {}
    try:
        knames = sorted(os.listdir("/sys/block"))
    except OSError:
        return {}
    links = _links()
    found = {}
    for kname in knames:
        if _NOT_DISKS.match(kname):
            continue
        if kname.startswith("loop") and not os.path.exists(f"/sys/block/{kname}/loop/backing_file"):
            continue
        device = f"/dev/{kname}"
        if not os.path.exists(device):
            continue
        labels = [n for n in _partition_names(device) if n.startswith(KOLLA_PREFIXES)]
        if labels:
            found[kname] = {"labels": labels, "by_id": links.get(device, [])}
    return {"kolla_disks": found}
