"""
Kolla Ceph bootstrap labels: which disk gets which GPT partition name, and writing them without
ever touching a disk nobody asked for.

Kolla-Ansible finds the disks it may turn into Ceph OSDs by their GPT partition names
(``KOLLA_CEPH_OSD_BOOTSTRAP...``). This module turns the disks of a host's inventory entry into
those names and writes them.

The pure core (:func:`plan_host`, :func:`decide`, :func:`parse_size`, :func:`match_disk`)
never touches the system; unit tests cover it exhaustively. The thin layer below it reads the
live state of a disk (sysfs, ``/proc/self/mountinfo``, ``sfdisk --json``, ``wipefs --no-act``)
and applies the difference with ``sgdisk`` and ``wipefs``, called with argument lists, never a
shell.

Inventory (per disk of ``brine:hosts:<id>:disks``), a filestore host::

    osd1:    {by_id: /dev/disk/by-id/ata-X, kolla: osd, journal: nvme}   # KOLLA_CEPH_OSD_BOOTSTRAP_OSD1
    nvme:    {by_id: /dev/disk/by-id/nvme-Y, kolla: journal, partition_size: 20G}  # ..._OSD1_J, ...
    osd9:    {serial: Z1234, kolla: osd}                                 # KOLLA_CEPH_OSD_BOOTSTRAP
    cache1:  {by_id: ..., kolla: cache}                     # KOLLA_CEPH_OSD_CACHE_BOOTSTRAP

and a bluestore host (a host's OSDs are all one kind)::

    hdd1:    {wwn: "0x5000c500a1b2c3d4", kolla: bluestore, wal: fastw, db: fastd}  # ..._BS_HDD1, _B
    fastw:   {by_id: ..., kolla: wal}                       # ..._BS_HDD1_W (one role per disk)
    fastd:   {by_id: ..., kolla: db, partition_size: 30G}   # ..._BS_HDD1_D
    hdd2:    {by_id: ..., kolla: bluestore}                 # KOLLA_CEPH_OSD_BOOTSTRAP_BS

Safety rules (see docs/storage.md): a disk is found by by-id path, serial or WWN only; it must
resolve to a whole block disk; the disk holding ``/`` and any disk in use (mounted, held by
LVM/dm/md, swap, opened exclusively) are refused, whatever the inventory says; a disk carrying
anything else (a partition table, a filesystem, an LVM or RAID signature) is refused unless its
entry says ``wipe: yes-i-really-really-mean-it``; a disk already carrying exactly its planned
names, or names Kolla gave it after bootstrap (``KOLLA_CEPH_DATA...``), is left alone.
"""

import errno
import json
import logging
import os
import re
import stat

import brinelib

brinelib.forget_if_changed()  # a library synced since it was imported replaces the old one
from brinelib.commands import run as _run
from brinelib.errors import CommandExecutionError, InventoryProblem

log = logging.getLogger(__name__)

__virtualname__ = "kolla_disks"
__func_alias__ = {"list_": "list"}

WIPE_PHRASE = "yes-i-really-really-mean-it"
PREFIX = "KOLLA_CEPH_OSD_BOOTSTRAP"
CACHE_PREFIX = "KOLLA_CEPH_OSD_CACHE_BOOTSTRAP"
# Kolla renames the bootstrap partitions once it has made OSDs of them.
BOOTSTRAPPED_PREFIX = "KOLLA_CEPH_DATA"
# The GPT partition name field holds 36 UTF-16 code units.
GPT_NAME_MAX = 36
BY_ID_DIR = "/dev/disk/by-id"

ROLES = ("osd", "journal", "bluestore", "block", "wal", "db", "cache")
PARTNER_ROLES = ("journal", "block", "wal", "db")
ID_KEYS = ("by_id", "serial", "wwn")
COMMON_KEYS = ID_KEYS + ("kolla", "wipe")
ROLE_KEYS = {
    "osd": ("journal", "suffix"),
    "bluestore": ("block", "wal", "db", "suffix", "data_size"),
    "cache": ("store",),
    "journal": ("partition_size",),
    "block": ("partition_size",),
    "wal": ("partition_size",),
    "db": ("partition_size",),
}
# Kolla's bluestore data partition holds only the OSD's start-up data (its docs: 100M).
DEFAULT_BLUESTORE_DATA_MIB = 100
# The partner label of each reference key, appended to the data disk's bootstrap name.
PARTNER_TAG = {"journal": "J", "block": "B", "wal": "W", "db": "D"}
STORES = ("filestore", "bluestore")
_SUFFIX = re.compile(r"^[A-Z0-9]+$")
_SIZE = re.compile(r"^\s*(\d+)\s*([MGT])(i?B)?\s*$", re.IGNORECASE)
# Signatures a Kolla-labelled disk carries by itself.
GPT_SIGNATURES = ("gpt", "PMBR")
# Block devices that are never disks to label.
_NOT_DISKS = re.compile(r"^(ram|zram|dm-|md|sr|fd|nbd)")

REQUIRED_TOOLS = ("sgdisk", "sfdisk", "wipefs", "lsblk", "partx")


def __virtual__():
    missing = [tool for tool in REQUIRED_TOOLS if not _which(tool)]
    if missing:
        return (False, f"kolla_disks needs {', '.join(missing)} (packages gdisk, fdisk, util-linux)")
    return __virtualname__


def _which(tool):
    for directory in os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin").split(":") + ["/usr/sbin", "/sbin"]:
        path = os.path.join(directory, tool)
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    return None


class DiskRefused(CommandExecutionError):
    """A disk this module will not touch, and why."""


class DiskAbsent(DiskRefused):
    """The inventory names a disk that is not attached to this host."""


# --------------------------------------------------------------------------- pure core


def parse_size(value):
    """
    Return ``value`` in MiB: an integer is MiB, a string is ``<n>M``, ``<n>G`` or ``<n>T``
    (binary units; ``MiB``/``GB`` spellings accepted). Raises ValueError otherwise.
    """
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a size")
    if isinstance(value, int):
        if value <= 0:
            raise ValueError(f"size {value!r} must be positive")
        return value
    match = _SIZE.match(str(value))
    if not match or int(match.group(1)) <= 0:
        raise ValueError(f"{value!r} is not a size like 512M, 20G or 1T")
    return int(match.group(1)) * {"M": 1, "G": 1024, "T": 1024 * 1024}[match.group(2).upper()]


def _suffix_problem(suffix, role, label_len):
    if not _SUFFIX.match(suffix):
        return f"suffix {suffix!r} must be upper-case letters and digits only"
    if role == "bluestore" and suffix[0] in "BDW":
        # Kolla's find_disks tells a bluestore partition's use by '_BS_B', '_BS_D' and '_BS_W'
        # in its name: a suffix starting with B, D or W would be read as block, db or wal.
        return f"bluestore suffix {suffix!r} must not start with B, D or W (Kolla would read it as block/db/wal)"
    if label_len > GPT_NAME_MAX:
        return f"suffix {suffix!r} makes a partition name of {label_len} characters (GPT allows {GPT_NAME_MAX})"
    return None


def _longest_label_len(role, suffix):
    if role == "osd":
        return len(f"{PREFIX}_{suffix}_J")
    return len(f"{PREFIX}_BS_{suffix}_B")


def plan_host(disks, path="disks"):
    """
    Plan the Kolla partition names of one host.

    disks
        The host's ``disks`` mapping from the inventory (name -> entry). Disks without a
        ``kolla`` key are not Kolla's and are left out of the plan (never touched).

    Returns ``{disk name: {"role", "id": (key, value), "wipe": bool,
    "partitions": [{"label", "size_mib" (None = the rest of the disk)}, ...]}}``, partitions in
    the order they are created. Raises :class:`InventoryProblem` listing every problem, each with its
    path (``<path>:<disk>:<key>: ...``).

    Suffixes are the disk's inventory name in upper case without punctuation (``osd1`` ->
    ``OSD1``) unless the entry gives ``suffix``: they only depend on the disk itself, so adding
    a disk to the inventory never renames another one.
    """
    errors = []
    if not isinstance(disks, dict):
        raise InventoryProblem([f"{path}: must be a mapping of disks"])
    kolla = {name: entry for name, entry in disks.items() if isinstance(entry, dict) and "kolla" in entry}
    plan = {}
    suffixes = {}  # disk name -> suffix (data disks that need one)
    references = {name: [] for name in kolla}  # partner disk -> [(data disk, ref key)]

    for name, entry in sorted(kolla.items()):
        dpath = f"{path}:{name}"
        role = entry["kolla"]
        if role not in ROLES:
            errors.append(f"{dpath}:kolla: unknown role {role!r}; expected one of {', '.join(ROLES)}")
            continue
        allowed = COMMON_KEYS + ROLE_KEYS[role]
        for key in entry:
            if key not in allowed:
                errors.append(f"{dpath}:{key}: not a key of a 'kolla: {role}' disk (allowed: {', '.join(allowed)})")
        ids = [key for key in ID_KEYS if key in entry]
        if len(ids) != 1:
            errors.append(f"{dpath}: a disk is identified by exactly one of by_id, serial or wwn (never sdX)")
        wipe = entry.get("wipe")
        if wipe is not None and wipe is not False and wipe != WIPE_PHRASE:
            errors.append(f"{dpath}:wipe: must be exactly {WIPE_PHRASE!r} (or absent), got {wipe!r}")
        plan[name] = {
            "role": role,
            "id": (ids[0], str(entry[ids[0]])) if len(ids) == 1 else None,
            "wipe": wipe == WIPE_PHRASE,
            "partitions": [],
        }
        refs = [key for key in PARTNER_TAG if key in entry and key in ROLE_KEYS[role]]
        for key in refs:
            target = entry[key]
            target_entry = kolla.get(target)
            if target == name:
                errors.append(f"{dpath}:{key}: a disk cannot be its own {key}")
            elif target_entry is None:
                errors.append(f"{dpath}:{key}: {target!r} is not one of this host's Kolla disks")
            elif target_entry.get("kolla") != key:
                errors.append(f"{dpath}:{key}: disk {target!r} must have 'kolla: {key}' to hold a {key}")
            else:
                references[target].append((name, key))
        needs_suffix = bool(refs)
        if "suffix" in entry and not needs_suffix:
            errors.append(
                f"{dpath}:suffix: a suffix only goes with an external "
                + ("journal" if role == "osd" else "block, wal or db")
                + " (Kolla ignores a suffixed disk without its partners)"
            )
        if needs_suffix:
            explicit = "suffix" in entry
            suffix = str(entry["suffix"]) if explicit else re.sub(r"[^A-Za-z0-9]", "", str(name)).upper()
            problem = _suffix_problem(suffix, role, _longest_label_len(role, suffix)) if suffix else "it is empty"
            if problem:
                where = f"{dpath}:suffix" if explicit else dpath
                how = "" if explicit else f"cannot derive a suffix from the disk name ({problem}); give 'suffix'"
                errors.append(f"{where}: {problem if explicit else how}")
            else:
                suffixes[name] = suffix
        if role == "bluestore" and "data_size" in entry:
            if not needs_suffix:
                errors.append(f"{dpath}:data_size: only a bluestore disk with block, wal or db partners has a data partition")
            else:
                try:
                    parse_size(entry["data_size"])
                except ValueError as exc:
                    errors.append(f"{dpath}:data_size: {exc}")
        if role == "cache" and "store" in entry and entry["store"] not in STORES:
            errors.append(f"{dpath}:store: {entry['store']!r} is not one of {', '.join(STORES)}")

    owners = {}
    for name, suffix in sorted(suffixes.items()):
        if suffix in owners:
            errors.append(f"{path}:{name}: suffix {suffix!r} is already used by disk {owners[suffix]!r}; give a 'suffix'")
        else:
            owners[suffix] = name

    roles = {entry["kolla"] for entry in kolla.values()}
    if "osd" in roles and "bluestore" in roles:
        errors.append(
            f"{path}: a host's OSDs are all filestore (kolla: osd) or all bluestore (kolla: bluestore); "
            "Kolla looks for one kind per deployment"
        )
    host_store = "bluestore" if "bluestore" in roles else "filestore"

    for name, entry in sorted(kolla.items()):
        if name not in plan:
            continue
        dpath = f"{path}:{name}"
        role = entry["kolla"]
        parts = plan[name]["partitions"]
        if role == "osd":
            if "journal" in entry:
                if name in suffixes:
                    parts.append({"label": f"{PREFIX}_{suffixes[name]}", "size_mib": None})
            else:
                parts.append({"label": PREFIX, "size_mib": None})
        elif role == "bluestore":
            if not any(key in entry for key in ("block", "wal", "db")):
                parts.append({"label": f"{PREFIX}_BS", "size_mib": None})
            elif name in suffixes:
                base = f"{PREFIX}_BS_{suffixes[name]}"
                try:
                    data_mib = parse_size(entry.get("data_size", DEFAULT_BLUESTORE_DATA_MIB))
                except ValueError:
                    data_mib = DEFAULT_BLUESTORE_DATA_MIB
                parts.append({"label": base, "size_mib": data_mib})
                if "block" not in entry:
                    parts.append({"label": f"{base}_B", "size_mib": None})
        elif role == "cache":
            store = entry.get("store", host_store)
            if "osd" in roles or "bluestore" in roles:
                if store != host_store:
                    errors.append(f"{dpath}:store: the cache tier is {store} but this host's OSDs are {host_store}")
            parts.append({"label": CACHE_PREFIX + ("_BS" if store == "bluestore" else ""), "size_mib": None})
        else:  # a partner disk: one partition per data disk that points at it
            users = sorted(references.get(name, []), key=lambda ref: suffixes.get(ref[0], ""))
            if not users:
                errors.append(f"{dpath}: no disk uses this {role} disk (set '{role}: {name}' on its data disk)")
                continue
            size = None
            if "partition_size" in entry:
                try:
                    size = parse_size(entry["partition_size"])
                except ValueError as exc:
                    errors.append(f"{dpath}:partition_size: {exc}")
            elif len(users) > 1:
                errors.append(
                    f"{dpath}:partition_size: missing: this {role} disk is shared by {len(users)} disks "
                    f"({', '.join(u for u, _ in users)}); give the size of each partition"
                )
            for user, key in users:
                if user not in suffixes:
                    continue
                base = f"{PREFIX}_{suffixes[user]}" if key == "journal" else f"{PREFIX}_BS_{suffixes[user]}"
                parts.append({"label": f"{base}_{PARTNER_TAG[key]}", "size_mib": size})
    if errors:
        raise InventoryProblem(errors)
    return plan


def decide(planned, facts):
    """
    What to do with one disk: the pure decision.

    planned
        One disk's plan (``plan_host(...)[name]``): ``partitions`` and ``wipe``.
    facts
        The disk as it is: ``root`` (holds ``/``), ``in_use`` (list of reasons), ``pttype``
        (``gpt``, ``dos``, None), ``partitions`` (list of ``{"name", "size_mib"}``),
        ``signatures`` (wipefs types on the whole disk), ``free_mib`` (unallocated MiB after
        the last partition, or the usable size when there is no table).

    Returns ``{"action": one of unchanged | bootstrapped | create | append | wipe-and-create |
    refuse, "reasons": [...], "add": [partitions to create]}``.
    """
    want = [p["label"] for p in planned["partitions"]]
    have = [p.get("name") or "" for p in facts.get("partitions", [])]
    signatures = list(facts.get("signatures", []))
    if facts.get("root"):
        return _refuse("it holds the root filesystem; Brine never touches it")
    if facts.get("in_use"):
        return _refuse(
            "it is in use (" + "; ".join(facts["in_use"]) + "); stop what uses it first, even 'wipe' will not touch it"
        )
    if facts.get("pttype") == "gpt" and any(name.startswith(BOOTSTRAPPED_PREFIX) for name in have):
        return {"action": "bootstrapped", "reasons": ["Kolla has already made OSDs of it (KOLLA_CEPH_DATA partitions)"], "add": []}
    only_gpt = facts.get("pttype") == "gpt" and set(signatures) <= set(GPT_SIGNATURES)
    if only_gpt and sorted(have) == sorted(want):
        return {"action": "unchanged", "reasons": [], "add": []}
    found = _describe(facts) or list(facts.get("deep", []))
    if not found:
        return _fit({"action": "create", "reasons": [], "add": list(planned["partitions"])}, facts, planned["partitions"])
    remaining = list(want)
    subset = True
    for name in have:
        if name in remaining:
            remaining.remove(name)
        else:
            subset = False
    if only_gpt and have and subset:
        missing = list(planned["partitions"])
        for name in have:
            missing.remove(next(p for p in missing if p["label"] == name))
        return _fit({"action": "append", "reasons": [], "add": missing}, facts, missing)
    if planned.get("wipe"):
        return _fit(
            {"action": "wipe-and-create", "reasons": found, "add": list(planned["partitions"])},
            {**facts, "free_mib": facts.get("size_mib", 0) - 2},
            planned["partitions"],
        )
    return _refuse(
        "it already carries " + ", ".join(found) + f"; set 'wipe: {WIPE_PHRASE}' on this disk to erase it"
    )


def _refuse(reason):
    return {"action": "refuse", "reasons": [reason], "add": []}


def _describe(facts):
    found = []
    if facts.get("pttype"):
        names = [p.get("name") or "(no name)" for p in facts.get("partitions", [])]
        found.append(
            f"a {facts['pttype']} partition table with {len(names)} partition(s)"
            + (f" ({', '.join(names)})" if names else "")
        )
    extra = [s for s in facts.get("signatures", []) if not (facts.get("pttype") and s in GPT_SIGNATURES + ("dos",))]
    for sig in extra:
        found.append(f"a {sig} signature")
    return found


def _fit(decision, facts, partitions):
    fixed = sum(p["size_mib"] for p in partitions if p["size_mib"] is not None)
    rest = any(p["size_mib"] is None for p in partitions)
    free = facts.get("free_mib")
    if free is not None and fixed + (1 if rest else 0) > free:
        return _refuse(
            f"the planned partitions need {fixed + (1 if rest else 0)} MiB but only {free} MiB are free; "
            "lower partition_size or use a bigger disk"
        )
    return decision


def match_disk(rows, key, value):
    """
    The whole disks (``lsblk`` rows with ``name``, ``serial``, ``wwn``, ``type``) whose serial
    or WWN is ``value``. WWNs compare without ``0x`` and case; serials compare exactly.
    """

    def norm_wwn(text):
        text = (text or "").strip().lower()
        return text[2:] if text.startswith("0x") else text

    if not str(value).strip():
        return []
    out = []
    for row in rows:
        if row.get("type") not in (None, "disk"):
            continue
        if key == "serial" and (row.get("serial") or "").strip() == str(value).strip():
            out.append(row["name"])
        elif key == "wwn" and norm_wwn(row.get("wwn")) and norm_wwn(row.get("wwn")) == norm_wwn(str(value)):
            out.append(row["name"])
    return out


def is_disk_name(kname):
    """Whether a kernel block device name can be a disk to label (not RAM, dm, md, CD, nbd)."""
    return bool(kname) and not _NOT_DISKS.match(kname)


def kolla_labels(names):
    """The partition names Kolla looks for (bootstrap and bootstrapped ones) among ``names``."""
    return [n for n in names if n and n.startswith(("KOLLA_CEPH_OSD_", BOOTSTRAPPED_PREFIX))]


MIB = 1024 * 1024
# Where a partition (and its file system) starts on disks partitioned by the usual tools:
# the DOS era's 63 sectors, the 1 MiB (2048 x 512 B sectors) of every tool since 2010, 2 MiB.
PARTITION_OFFSETS = (0, 63 * 512, MIB, 2 * MIB)
# Bytes read at each offset: enough for the btrfs superblock (64 KiB + 64) and a 64 KiB page's
# swap signature.
PROBE_SPAN = 128 * 1024
# (what, offset in the file system, magic): the labels wipefs looks for at the start of a
# device, looked for here at each partition offset too.
_MAGICS = (
    ("an XFS file system", 0, b"XFSB"),
    ("a LUKS volume", 0, b"LUKS\xba\xbe"),
    ("a Ceph bluestore OSD", 0, b"bluestore block device"),
    ("an MD RAID member (v1.1)", 0, b"\xfc\x4e\x2b\xa9"),
    ("an MD RAID member (v1.2)", 4096, b"\xfc\x4e\x2b\xa9"),
    ("an NTFS file system", 3, b"NTFS    "),
    ("a btrfs file system", 0x10040, b"_BHRfS_M"),
    ("swap", 4096 - 10, b"SWAPSPACE2"),
    ("swap", 4096 - 10, b"SWAP-SPACE"),
    ("swap (64 KiB pages)", 65536 - 10, b"SWAPSPACE2"),
    ("an ISO 9660 file system", 0x8001, b"CD001"),
)


def _where(offset):
    if offset % MIB == 0:
        return f"byte {offset} ({offset // MIB} MiB)"
    return f"byte {offset} (sector {offset // 512})" if offset % 512 == 0 else f"byte {offset}"


def _signatures_at(block, start):
    """What ``block`` (the bytes from disk offset ``start``) begins with, as found-texts."""
    found = []
    if block[0x438:0x43A] == b"\x53\xef":
        compat = int.from_bytes(block[0x45C:0x460], "little")
        incompat = int.from_bytes(block[0x460:0x464], "little")
        kind = "ext4" if incompat & 0x2C0 else "ext3" if compat & 0x4 else "ext2"
        found.append(f"an {kind} file system at {_where(start)}")
    for offset in range(0, 4 * 512, 512):
        if block[offset:offset + 8] == b"LABELONE" and block[offset + 24:offset + 32] == b"LVM2 001":
            found.append(f"an LVM physical volume at {_where(start)}")
            break
    for what, offset, magic in _MAGICS:
        if block[offset:offset + len(magic)] == magic:
            found.append(f"{what} at {_where(start)}")
    return found


def _first_nonzero(data):
    stripped = data.lstrip(b"\0")
    return len(data) - len(stripped) if stripped else None


def probe(fh, size, sector=512):
    """
    What lies on a disk that looks blank at its start: ``fh`` is the disk (or an image of it)
    open for reading in binary, ``size`` its size in bytes. Returns found-texts, each saying
    what is where: file system, LVM, RAID, swap, LUKS and bluestore labels at the usual
    partition offsets (0, 63 sectors, 1 MiB, 2 MiB and 2048 logical sectors), a GPT header
    (primary or the backup at the end, which survive zeroing sector 0), and any other non-zero
    byte in the first and the last MiB: a blank disk has none.
    """
    found = []

    def read(offset, length):
        if offset >= size:
            return b""
        fh.seek(offset)
        return fh.read(min(length, size - offset))

    offsets = sorted(set(PARTITION_OFFSETS) | {2048 * sector})
    for start in offsets:
        block = read(start, PROBE_SPAN)
        if block.strip(b"\0"):
            found += _signatures_at(block, start)
    for lba_size in sorted({512, sector}):
        if read(lba_size, 8) == b"EFI PART":
            found.append(f"a GPT header at {_where(lba_size)} (the table's first copy)")
        if size >= 2 * lba_size and read(size - lba_size, 8) == b"EFI PART":
            found.append(f"a GPT header at {_where(size - lba_size)} (the backup copy at the end of the disk)")
    head = read(0, MIB)
    if read(510, 2) == b"\x55\xaa" and not found:
        found.append("a boot sector signature at byte 510")
    first = _first_nonzero(head)
    if first is not None and not found:
        found.append(f"non-zero data at {_where(first)} (in the first MiB)")
    tail_start = max(0, size - MIB)
    last = _first_nonzero(read(tail_start, MIB))
    if last is not None and not any("backup copy" in f for f in found):
        found.append(f"non-zero data at {_where(tail_start + last)} (in the last MiB)")
    return found


# --------------------------------------------------------------------------- live state


def _sys_block(kname):
    return f"/sys/class/block/{kname}"


def _read(path, default=""):
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read().strip()
    except OSError:
        return default


def _partitions_of(kname):
    base = f"/sys/block/{kname}"
    try:
        entries = os.listdir(base)
    except OSError:
        return []
    return sorted(e for e in entries if os.path.exists(os.path.join(base, e, "partition")))


def resolve(entry):
    """
    The whole disk (``/dev/<kernel name>``) an inventory entry names, or :class:`DiskRefused`.

    by_id: the link under /dev/disk/by-id, followed; serial/WWN: looked up with ``lsblk``
    (udev's or sysfs's properties). Anything that is not exactly one whole block disk is refused.
    """
    ids = [key for key in ID_KEYS if key in entry]
    if len(ids) != 1:
        raise DiskRefused("a disk is identified by exactly one of by_id, serial or wwn")
    key, value = ids[0], str(entry[ids[0]])
    if key == "by_id":
        if os.path.dirname(value) != BY_ID_DIR:
            raise DiskRefused(f"{value} is not a {BY_ID_DIR}/ path")
        if not os.path.lexists(value):
            raise DiskAbsent(f"{value} does not exist: the disk is not attached (or udev has not named it)")
        device = os.path.realpath(value)
    else:
        proc = _run(["lsblk", "--json", "--nodeps", "--output", "NAME,SERIAL,WWN,TYPE"])
        rows = json.loads(proc.stdout or "{}").get("blockdevices", [])
        names = match_disk(rows, key, value)
        if not names:
            raise DiskAbsent(f"no disk has {key} {value}")
        if len(names) > 1:
            raise DiskRefused(f"{len(names)} disks have {key} {value} ({', '.join(names)}); refusing to guess")
        device = f"/dev/{names[0]}"
    try:
        mode = os.stat(device).st_mode
    except OSError as exc:
        raise DiskRefused(f"{value} resolves to {device}, which cannot be read: {exc}") from None
    if not stat.S_ISBLK(mode):
        raise DiskRefused(f"{value} resolves to {device}, which is not a block device")
    kname = os.path.basename(device)
    if os.path.exists(os.path.join(_sys_block(kname), "partition")):
        raise DiskRefused(f"{value} resolves to {device}, a partition, not a whole disk")
    if not os.path.isdir(f"/sys/block/{kname}"):
        raise DiskRefused(f"{value} resolves to {device}, which is not a whole disk")
    if not is_disk_name(kname):
        raise DiskRefused(f"{value} resolves to {device}, a virtual device (RAM, device-mapper, RAID, CD, network), not a disk")
    return device


def _majmin(kname):
    return _read(os.path.join(_sys_block(kname), "dev"))


def _mounts():
    """(major:minor, mount point, source) of every mount this process sees."""
    out = []
    for line in _read("/proc/self/mountinfo").splitlines():
        fields = line.split()
        if " - " not in line or len(fields) < 5:
            continue
        tail = line.split(" - ", 1)[1].split()
        out.append((fields[2], fields[4], tail[1] if len(tail) > 1 else ""))
    return out


def _whole_disks_under(kname, seen=None):
    """The whole disks a block device lives on, through partitions and dm/md slaves."""
    seen = seen if seen is not None else set()
    if kname in seen:
        return set()
    seen.add(kname)
    path = os.path.realpath(_sys_block(kname))
    if os.path.exists(os.path.join(path, "partition")):
        return {os.path.basename(os.path.dirname(path))}
    slaves_dir = os.path.join(path, "slaves")
    slaves = os.listdir(slaves_dir) if os.path.isdir(slaves_dir) else []
    if not slaves:
        return {kname}
    disks = set()
    for slave in slaves:
        disks |= _whole_disks_under(slave, seen)
    return disks


def root_disks():
    """Kernel names of the whole disks that hold ``/``."""
    for majmin, target, source in _mounts():
        if target != "/":
            continue
        link = f"/sys/dev/block/{majmin}"
        if os.path.exists(link):
            return _whole_disks_under(os.path.basename(os.path.realpath(link)))
        if source.startswith("/dev/") and os.path.exists(source):
            return _whole_disks_under(os.path.basename(os.path.realpath(source)))
    return set()


def in_use(device):
    """Why ``device`` (a whole disk) is in use: mounts, holders, swap, exclusive openers."""
    kname = os.path.basename(device)
    members = [kname] + _partitions_of(kname)
    nodes = {f"/dev/{m}" for m in members}
    numbers = {_majmin(m): m for m in members}
    reasons = []
    for majmin, target, source in _mounts():
        member = numbers.get(majmin)
        if member is None and source.startswith("/dev/") and os.path.realpath(source) in nodes:
            member = os.path.basename(os.path.realpath(source))
        if member is not None:
            reasons.append(f"/dev/{member} is mounted on {target}")
    for member in members:
        holders_dir = os.path.join(_sys_block(member), "holders")
        for holder in sorted(os.listdir(holders_dir)) if os.path.isdir(holders_dir) else []:
            name = _read(f"/sys/class/block/{holder}/dm/name") or holder
            reasons.append(f"/dev/{member} is held by {name} (LVM, device-mapper or RAID)")
    for line in _read("/proc/swaps").splitlines()[1:]:
        fields = line.split()
        if fields and os.path.realpath(fields[0]) in nodes:
            reasons.append(f"{fields[0]} is active swap")
    if not reasons:
        for node in sorted(nodes):
            if not os.path.exists(node):
                continue
            try:
                fd = os.open(node, os.O_RDONLY | os.O_EXCL)
            except OSError as exc:
                if exc.errno == errno.EBUSY:
                    reasons.append(f"{node} is opened exclusively by another program")
                continue
            os.close(fd)
    return reasons


def _table(device):
    proc = _run(["sfdisk", "--json", device], check=False)
    if proc.returncode != 0 or not proc.stdout.strip():
        return None
    return json.loads(proc.stdout).get("partitiontable")


def _signatures(device):
    proc = _run(["wipefs", "--no-act", "--json", device], check=False)
    if proc.returncode != 0:
        # wipefs cannot probe a busy disk; an unreadable disk is never a blank one.
        return [f"unreadable ({proc.stderr.strip() or proc.returncode})"]
    if not proc.stdout.strip():
        return []
    return [s.get("type", "?") for s in json.loads(proc.stdout).get("signatures", [])]


def facts(device):
    """The live state of one whole disk, in the shape :func:`decide` takes."""
    kname = os.path.basename(device)
    sector = int(_read(f"/sys/block/{kname}/queue/logical_block_size", "512") or 512)
    size_bytes = int(_read(f"/sys/block/{kname}/size", "0") or 0) * 512
    table = _table(device)
    partitions = []
    free_mib = size_bytes // (1024 * 1024) - 2  # both GPT copies and the first-partition alignment
    pttype = None
    if table:
        pttype = table.get("label")
        ssz = table.get("sectorsize", sector)
        end = 2048
        for part in table.get("partitions", []):
            number = int(re.sub(r".*\D", "", part["node"]) or 0)
            partitions.append(
                {
                    "number": number,
                    "name": part.get("name", ""),
                    "start": part["start"],
                    "size_mib": part["size"] * ssz // (1024 * 1024),
                    "type": part.get("type"),
                }
            )
            end = max(end, part["start"] + part["size"])
        last = table.get("lastlba", size_bytes // ssz - 34)
        free_mib = max(0, (last - end) * ssz // (1024 * 1024) - 1)
    signatures = _signatures(device)
    return {
        "device": device,
        "size_mib": size_bytes // (1024 * 1024),
        "pttype": pttype,
        "partitions": partitions,
        "signatures": signatures,
        # Only a disk with neither table nor signature is looked at deeper: it could be blank.
        "deep": [] if table or signatures else _probe_device(device, size_bytes, sector),
        "in_use": in_use(device),
        "root": kname in root_disks(),
        "free_mib": free_mib,
    }


def _probe_device(device, size_bytes, sector):
    try:
        with open(device, "rb", buffering=0) as fh:
            return probe(fh, size_bytes, sector)
    except OSError as exc:  # an unreadable disk is never a blank one
        return [f"unreadable ({exc.strerror})"]


def _by_id_links():
    links = {}
    try:
        names = sorted(os.listdir(BY_ID_DIR))
    except OSError:
        return links
    for name in names:
        links.setdefault(os.path.realpath(os.path.join(BY_ID_DIR, name)), []).append(os.path.join(BY_ID_DIR, name))
    return links


def _host_disks(disks):
    if disks is not None:
        return disks
    return __salt__["brine_inventory.host"]().get("disks", {})


def _host_plan(disks):
    try:
        if disks is None:
            return plan_host(_host_disks(None), path=f"brine:hosts:{__grains__['id']}:disks")
        return plan_host(disks)
    except InventoryProblem as exc:
        raise CommandExecutionError("The Kolla disk plan has problems:\n" + "\n".join(f"  - {e}" for e in exc.errors)) from None


def _sgdisk_args(partitions, first_number):
    args = []
    for offset, part in enumerate(partitions):
        number = first_number + offset
        end = f"+{part['size_mib']}M" if part["size_mib"] is not None else "0"
        args += ["--new", f"{number}:0:{end}", "--change-name", f"{number}:{part['label']}"]
    return args


def _write(device, decision, current):
    if decision["action"] in ("create", "wipe-and-create"):
        if decision["action"] == "wipe-and-create":
            _wipe_device(device, current)
        _run(["sgdisk", "--clear"] + _sgdisk_args(decision["add"], 1) + [device])
    elif decision["action"] == "append":
        first = max((p["number"] for p in current["partitions"]), default=0) + 1
        _run(["sgdisk"] + _sgdisk_args(decision["add"], first) + [device])
    _tell_kernel(device)


def _tell_kernel(device):
    # sgdisk asks the kernel to re-read the whole table, which a disk with a busy partition
    # or a kernel without GPT support ignores; partx adds or removes each partition itself.
    proc = _run(["partx", "--update", device], check=False)
    if proc.returncode != 0:
        log.info("partx --update %s: %s", device, proc.stderr.strip())


def _wipe_device(device, current):
    """Erase every signature on the disk and at the start and end of each of its partitions."""
    chunk = 1024 * 1024
    ssz = 512
    fd = os.open(device, os.O_WRONLY | os.O_EXCL)
    try:
        size = os.lseek(fd, 0, os.SEEK_END)
        zeros = bytes(chunk)
        # The whole head of the disk up to past the last offset probe() looks at (2048 sectors
        # of 4 KiB at most): partitions' file systems there must not outlive the wipe.
        head = min(size, 2048 * 4096 + PROBE_SPAN)
        for offset in range(0, head, chunk):
            os.pwrite(fd, zeros[: min(chunk, head - offset)], offset)
        spans = [(0, size)]
        table = _table(device)
        if table:
            ssz = table.get("sectorsize", ssz)
            spans += [(p["start"] * ssz, p["size"] * ssz) for p in table.get("partitions", [])]
        # Filesystems, LVM and RAID keep their labels in the first and last MiB of their
        # device; zeroing those of every partition keeps them from coming back with the table.
        for start, length in spans:
            for offset in {start, max(start, start + length - chunk)}:
                os.pwrite(fd, zeros[: min(chunk, start + length - offset)], offset)
        os.fsync(fd)
    finally:
        os.close(fd)
    _run(["wipefs", "--all", "--force", device])
    _run(["sgdisk", "--zap-all", device], check=False)
    _run(["partx", "--delete", device], check=False)


def _disk_report(name, planned, device, current, decision):
    return {
        "disk": name,
        "device": device,
        "labels": [p["label"] for p in planned["partitions"]],
        "action": decision["action"],
        "reasons": decision["reasons"],
        "add": [p["label"] for p in decision["add"]],
        "before": [p["name"] for p in (current or {}).get("partitions", [])],
    }


def _examine(name, planned, entry, devices_seen):
    try:
        device = resolve(entry)
    except DiskRefused as exc:
        action = "absent" if isinstance(exc, DiskAbsent) else "refuse"
        return None, None, {"action": action, "reasons": [str(exc)], "add": []}
    if device in devices_seen:
        return device, None, _refuse(f"it is the same device ({device}) as disk {devices_seen[device]!r}")
    devices_seen[device] = name
    current = facts(device)
    return device, current, decide(planned, current)


# --------------------------------------------------------------------------- Salt functions


def plan(disks=None):
    """
    The Kolla partition names this host's inventory asks for (pure: reads no disk).

    disks
        A disks mapping to plan instead of this minion's inventory entry.

    CLI Example:

    .. code-block:: bash

        salt-call kolla_disks.plan
    """
    result = _host_plan(disks)
    return {
        name: {"role": p["role"], "id": list(p["id"]), "wipe": p["wipe"], "partitions": p["partitions"]}
        for name, p in result.items()
    }


def check(name=None, disks=None):
    """
    What :func:`label` would do to each Kolla disk of this host (or only to disk ``name``),
    and why: ``unchanged``, ``bootstrapped``, ``create``, ``append``, ``wipe-and-create``,
    ``refuse`` or ``absent``. Reads the disks, changes nothing.

    CLI Example:

    .. code-block:: bash

        salt-call kolla_disks.check
        salt-call kolla_disks.check osd1
    """
    entries = _host_disks(disks)
    host_plan = _host_plan(disks)
    if name is not None and name not in host_plan:
        raise CommandExecutionError(f"{name!r} is not one of this host's Kolla disks ({', '.join(sorted(host_plan))})")
    seen = {}
    out = {}
    for disk in sorted(host_plan):
        device, current, decision = _examine(disk, host_plan[disk], entries[disk], seen)
        if name is None or disk == name:
            out[disk] = _disk_report(disk, host_plan[disk], device, current, decision)
    return out


def label(name=None, disks=None, test=False):
    """
    Give this host's Kolla disks (or only disk ``name``) their planned GPT partition names.

    Disks already as planned, or bootstrapped by Kolla, are left alone; disks that carry
    anything else are refused unless their inventory entry says
    ``wipe: yes-i-really-really-mean-it``; disks in use or holding ``/`` are always refused.

    test
        Report what would be done, change nothing.

    Returns one report per disk with ``result`` (True, or False for a refusal) and ``after``
    (the partition names read back after the write). When any disk is refused (or absent, or
    its write failed), salt-call exits 1.

    CLI Example:

    .. code-block:: bash

        salt-call kolla_disks.label test=True
        salt-call kolla_disks.label osd1
    """
    reports = check(name=name, disks=disks)
    for disk, report in reports.items():
        action = report["action"]
        report["result"] = action not in ("refuse", "absent")
        if test or action not in ("create", "append", "wipe-and-create"):
            continue
        device = report["device"]
        current = facts(device)
        decision = decide(_host_plan(disks)[disk], current)
        if decision["action"] != action:
            report.update(result=False, reasons=[f"the disk changed while it was examined ({action} -> {decision['action']})"])
            continue
        try:
            _write(device, decision, current)
        except CommandExecutionError as exc:
            report.update(result=False, reasons=[str(exc)])
            continue
        after = [p["name"] for p in facts(device)["partitions"]]
        report["after"] = after
        if sorted(after) != sorted(report["labels"]):
            report.update(result=False, reasons=[f"read back {after} after writing, expected {report['labels']}"])
    if not all(report["result"] for report in reports.values()):
        _set_retcode(1)
    return reports


def _set_retcode(code):
    """Salt's way for an execution module to make salt-call exit non-zero (``__context__``)."""
    try:
        __context__["retcode"] = code
    except NameError:  # imported as a plain module (tests): no loader context
        pass


def wipe(name, confirm=None, disks=None):
    """
    Erase Kolla disk ``name`` of this host (the field reports' clean-up after
    ``kolla-ansible destroy``): its partition table, and every signature on it and at the start
    and end of each partition. It refuses unless ``confirm=yes-i-really-really-mean-it`` is
    given or the disk's inventory entry says ``wipe: yes-i-really-really-mean-it``; the disk
    holding ``/`` and disks in use (mounted, held by LVM/md, swap) are always refused.

    CLI Example:

    .. code-block:: bash

        salt-call kolla_disks.wipe osd1 confirm=yes-i-really-really-mean-it
    """
    entries = _host_disks(disks)
    host_plan = _host_plan(disks)
    if name not in host_plan:
        raise CommandExecutionError(f"{name!r} is not one of this host's Kolla disks ({', '.join(sorted(host_plan))})")
    if confirm not in (None, WIPE_PHRASE):
        raise CommandExecutionError(f"confirm must be exactly {WIPE_PHRASE!r}; nothing was wiped")
    if confirm != WIPE_PHRASE and not host_plan[name]["wipe"]:
        raise CommandExecutionError(
            f"refusing to wipe {name}: pass confirm={WIPE_PHRASE} or set 'wipe: {WIPE_PHRASE}' on the disk"
        )
    device = resolve(entries[name])
    current = facts(device)
    if current["root"]:
        raise DiskRefused(f"refusing to wipe {name} ({device}): it holds the root filesystem")
    if current["in_use"]:
        raise DiskRefused(f"refusing to wipe {name} ({device}): it is in use (" + "; ".join(current["in_use"]) + ")")
    _wipe_device(device, current)
    after = facts(device)
    return {
        "disk": name,
        "device": device,
        "before": [p["name"] for p in current["partitions"]] + current["signatures"],
        "after": [p["name"] for p in after["partitions"]] + after["signatures"],
        "blank": not after["partitions"] and not after["signatures"] and after["pttype"] is None and not after["deep"],
    }


def list_():
    """
    Every disk of this host with its partition names (read from the GPT itself with
    ``sfdisk``, so it works with and without udev), by-id links, serial, WWN, signatures, what
    uses it, and its Kolla labels.

    CLI Example:

    .. code-block:: bash

        salt-call kolla_disks.list
    """
    links = _by_id_links()
    proc = _run(["lsblk", "--json", "--nodeps", "--output", "NAME,SERIAL,WWN"], check=False)
    ids = {row["name"]: row for row in json.loads(proc.stdout or "{}").get("blockdevices", [])}
    roots = root_disks()
    out = {}
    for kname in sorted(os.listdir("/sys/block")):
        if not is_disk_name(kname) or _read(f"/sys/block/{kname}/size", "0") in ("", "0"):
            continue
        if kname.startswith("loop") and not _read(f"/sys/block/{kname}/loop/backing_file"):
            continue
        device = f"/dev/{kname}"
        if not os.path.exists(device):
            continue
        table = _table(device) or {}
        names = [p.get("name", "") for p in table.get("partitions", [])]
        out[kname] = {
            "device": device,
            "size_bytes": int(_read(f"/sys/block/{kname}/size", "0")) * 512,
            "by_id": links.get(device, []),
            "serial": (ids.get(kname) or {}).get("serial"),
            "wwn": (ids.get(kname) or {}).get("wwn"),
            "pttype": table.get("label"),
            "partitions": names,
            "signatures": _signatures(device),
            "in_use": in_use(device),
            "root": kname in roots,
            "kolla_labels": kolla_labels(names),
        }
    return out
