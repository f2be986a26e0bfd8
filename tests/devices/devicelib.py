"""Loop devices for the kolla_disks device tests, and ways to look at them without kolla_disks."""

import hashlib
import json
import os
import shlex
import subprocess

BY_ID = "/dev/disk/by-id"


def run(*argv, check=True, **kwargs):
    proc = subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=120, **kwargs)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, argv))} failed ({proc.returncode}): {proc.stderr}{proc.stdout}")
    return proc


class LoopDisk:
    """One sparse image attached as a loop device, and ways to look at it without kolla_disks."""

    def __init__(self, image, device, link):
        self.image = image
        self.device = device
        self.link = link  # the name of its /dev/disk/by-id link inside the test namespace

    @property
    def by_id(self):
        return f"{BY_ID}/{self.link}"

    def sha256(self):
        """
        A digest of every byte of the image that is not zero, with its offset (and the size):
        equal digests mean equal bytes. Sparse images are read only where they hold data, and
        the digest does not depend on where the file system keeps holes or zeroed extents.
        """
        # Push the block device's own cache into the image first, so a write that has not
        # reached the file yet still changes the digest.
        run("blockdev", "--flushbufs", self.device)
        block = 64 * 1024
        zero = bytes(block)
        digest = hashlib.sha256()
        with open(self.image, "rb") as fh:
            fd = fh.fileno()
            size = os.fstat(fd).st_size
            digest.update(f"size {size}\n".encode())
            offset = 0
            while offset < size:
                try:
                    data = os.lseek(fd, offset, os.SEEK_DATA)
                except OSError:  # ENXIO: only a hole is left
                    break
                hole = os.lseek(fd, data, os.SEEK_HOLE)
                position = data - data % block
                fh.seek(position)
                while position < hole:
                    chunk = fh.read(block)
                    if not chunk:
                        break
                    if chunk != zero[: len(chunk)]:
                        digest.update(f"{position} {len(chunk)}\n".encode())
                        digest.update(chunk)
                    position += len(chunk)
                offset = max(hole, position)
        return digest.hexdigest()

    def names_by_parted(self):
        """Partition names as libparted reads them (parted -m)."""
        proc = run("parted", "-m", "-s", self.device, "unit", "s", "print", check=False)
        lines = [line.rstrip(";") for line in proc.stdout.splitlines()[2:]]
        return [line.split(":")[5] for line in lines if line]

    def names_by_partx(self):
        """Partition names as libblkid reads them (partx), in table order."""
        proc = run("partx", "--output", "NR,NAME", "--pairs", self.device, check=False)
        names = []
        for line in proc.stdout.splitlines():
            fields = dict(item.split("=", 1) for item in shlex.split(line))
            names.append(fields["NAME"])
        return names

    def signatures(self):
        out = run("wipefs", "--no-act", "--json", self.device).stdout
        return [s["type"] for s in json.loads(out)["signatures"]] if out.strip() else []

    def __repr__(self):
        return f"LoopDisk({self.device} <- {self.image.name})"
