"""
Real block devices for the kolla_disks tests: loop devices over sparse files each test creates,
detached again even when the test fails, and a private mount namespace per call whose
/dev/disk/by-id (a tmpfs) holds only the links the test made.

Why a namespace rather than a by-id directory the module could be pointed at: the module runs
exactly as on a server (it follows /dev/disk/by-id/... with os.path.realpath), and no link a
test makes can ever be seen by anything else on the host, nor a host link by the test.
"""

import json
import os
import shlex
import sys
from pathlib import Path

import pytest
from brine_testlib import PYTHONPATH
from devicelib import BY_ID, LoopDisk, run

HERE = Path(__file__).resolve().parent
RUNNER = HERE / "call_kolla_disks.py"


@pytest.fixture(scope="session")
def by_id_mountpoint():
    """/dev/disk/by-id must exist to be mounted over; remove it again if this session made it."""
    made = [d for d in ("/dev/disk", BY_ID) if not os.path.isdir(d)]
    os.makedirs(BY_ID, exist_ok=True)
    yield BY_ID
    for d in reversed(made):
        try:
            os.rmdir(d)
        except OSError:
            pass


@pytest.fixture
def loop_disks(tmp_path, request):
    """Factory: ``loop_disks(n, size_mib=256)`` -> list of fresh blank LoopDisks."""
    attached = []
    test = "".join(c for c in request.node.name if c.isalnum())[:24]

    def make(count, size_mib=256):
        disks = []
        for _ in range(count):
            index = len(attached)
            image = tmp_path / f"disk{index}.img"
            with open(image, "wb") as fh:
                fh.truncate(size_mib * 1024 * 1024)
            device = run("losetup", "--find", "--show", "--partscan", image).stdout.strip()
            disk = LoopDisk(image, device, f"ata-BRINE_TEST_{test}_{index}")
            attached.append(disk)
            disks.append(disk)
        return disks

    yield make
    for disk in attached:
        run("swapoff", disk.device, check=False)  # only ever active if a swap test died mid-way
        run("partx", "--delete", disk.device, check=False)
        run("losetup", "--detach", disk.device, check=False)


@pytest.fixture
def kolla(by_id_mountpoint):
    """
    Call a kolla_disks function in a private mount namespace:
    ``kolla(func, links=[LoopDisk|(name, target)], setup=[shell lines], **kwargs)`` -> its JSON.
    """

    def call(func, links=(), setup=(), kind="modules", **kwargs):
        script = [f"mount -t tmpfs brine-test {BY_ID}"]
        for link in links:
            name, target = (link.link, link.device) if isinstance(link, LoopDisk) else link
            script.append(f"ln -s {shlex.quote(target)} {BY_ID}/{shlex.quote(name)}")
        script += list(setup)
        runner = (sys.executable, RUNNER, func, json.dumps(kwargs), kind)
        script.append(f"PYTHONPATH={shlex.quote(PYTHONPATH)} " + " ".join(shlex.quote(str(a)) for a in runner))
        proc = run("unshare", "--mount", "--propagation", "private", "sh", "-ec", "\n".join(script), check=False)
        assert proc.returncode == 0 and proc.stdout.strip(), proc.stderr
        return json.loads(proc.stdout.strip().splitlines()[-1])

    return call
