"""
A small kernel-test harness: boot a user-mode-linux guest that sees the host's root file system
read-only (hostfs), run one bash payload inside it as PID 1's child, and hand back its output.

Why it is built this way:
- The host kernel has no bonding, 802.1q or openvswitch; the lab's UML kernel (lab/kernel.py,
  the same one the virtual lab runs) has them all and boots in about two seconds.
- hostfs is the *live* host file system and the guest runs as root. The root is mounted
  read-only, and every directory anything in the guest writes to gets its own tmpfs (see
  ``WRITABLE``), so a guest cannot change the host even by mistake. Salt's cache
  (/var/cache/salt) is one of them: the guest never depends on what the host has there.
- Carrier loss from the host side does not reach a guest, so the "switch" lives inside the
  guest: a network namespace whose veth peers face the guest's NICs (``switch_setup()``).

Use: ``run_guest(payload)`` returns a ``GuestRun`` with the payload's stdout/stderr (both on the
console), its exit status and any JSON lines the payload printed with the ``JSON:`` prefix.
"""

import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from brine_testlib import REPO

from lab import kernel

PYTHON = REPO / ".venv" / "bin" / "python"

# Every directory a payload (or OVS, networkd, Python) may write to: each gets a private tmpfs.
WRITABLE = (
    "/run",
    "/tmp",
    "/var/log",
    "/var/lib",
    "/var/tmp",
    "/var/cache",
    "/etc/openvswitch",
    "/etc/network",
    "/etc/systemd/network",
    "/etc/systemd/system",
    "/etc/brine",
)

PROLOGUE = r"""
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/tmp LANG=C.UTF-8 PYTHONDONTWRITEBYTECODE=1
mount -t proc proc /proc
mount -t sysfs sys /sys
mountpoint -q /dev || mount -t devtmpfs devtmpfs /dev
mount -t tmpfs shm /dev/shm 2>/dev/null
mkdir -p /dev/pts 2>/dev/null; mount -t devpts devpts /dev/pts 2>/dev/null
for d in {writable}; do [ -d "$d" ] && mount -t tmpfs guest-private "$d"; done
# A checkout under one of those directories (a clone in /tmp) is hidden by its tmpfs: show it
# again, read-only, from a second hostfs mount of just that path.
for d in {writable}; do
  case "{repo}/" in "$d"/*) mkdir -p {repo} && mount -r -t hostfs -o {repo} brine-checkout {repo} ;; esac
done
mkdir -p /var/lib/openvswitch /var/log/openvswitch /run/openvswitch /var/lib/brine
# The host has no /usr/lib/modules and the root is read-only: serve the UML modules from a
# tmpfs tree and make both the shell and the kernel's own module requests use it.
mkdir -p /run/modroot/lib/modules/$(uname -r)
mount --bind {modules}/$(uname -r) /run/modroot/lib/modules/$(uname -r)
printf '#!/bin/sh\nexec /usr/sbin/modprobe -d /run/modroot "$@"\n' > /run/modprobe
chmod 755 /run/modprobe
echo /run/modprobe > /proc/sys/kernel/modprobe
modprobe() {{ /run/modprobe "$@"; }}
export -f modprobe
ip link set lo up
dmesg -n 1  # keep kernel messages off the console; they stay in dmesg
# Prove the root is read-only before running anything: a guest must never write to the host.
if touch /.uml-guest-write-test 2>/dev/null; then echo "GUEST_ROOT_WRITABLE"; rm -f /.uml-guest-write-test; poweroff -ff; fi
cd {repo}
"""

EPILOGUE = r"""
echo "GUEST_EXIT=$rc"
sync
poweroff -ff
"""

# The switch: a namespace "sw" with one bridge (VLAN-aware) whose ports face the guest's NICs,
# and a namespace "peer" (another host on the same switch) with an address on each VLAN.
SWITCH_SETUP = r"""
switch_setup() {  # switch_setup NIC... ; peer addresses from PEER_ADDRS="vid:addr/len ..."
  modprobe veth; modprobe bridge; modprobe 8021q
  ip netns add sw; ip netns add peer
  ip -n sw link set lo up; ip -n peer link set lo up
  ip -n sw link add swbr type bridge vlan_filtering 1
  ip -n sw link set swbr mtu 9000 up
  local nic
  for nic in "$@"; do
    ip link add "$nic" type veth peer name "sw-$nic" netns sw
    ip link set "$nic" mtu 9000
    ip -n sw link set "sw-$nic" mtu 9000 master swbr up
  done
  ip link add peer0 type veth peer name sw-peer netns sw
  ip link set peer0 netns peer
  ip -n peer link set peer0 mtu 9000 up
  ip -n sw link set sw-peer mtu 9000 master swbr up
  local ports="sw-peer"; for nic in "$@"; do ports="$ports sw-$nic"; done
  local item vid addr p
  for item in $PEER_ADDRS; do
    vid=${item%%:*}; addr=${item#*:}
    for p in $ports; do ip netns exec sw bridge vlan add dev "$p" vid "$vid"; done
    ip -n peer link add link peer0 name "peer0.$vid" type vlan id "$vid"
    ip -n peer link set "peer0.$vid" mtu 9000 up
    ip -n peer addr add "$addr" dev "peer0.$vid"
  done
}
cut_cable() { ip -n sw link set "sw-$1" down; }
mend_cable() { ip -n sw link set "sw-$1" up; }
start_ovs() {
  modprobe openvswitch; modprobe tun
  ovsdb-tool create /etc/openvswitch/conf.db /usr/share/openvswitch/vswitch.ovsschema
  ovsdb-server /etc/openvswitch/conf.db --remote=punix:/run/openvswitch/db.sock \
    --pidfile --detach --log-file=/var/log/openvswitch/ovsdb-server.log
  ovs-vsctl --no-wait init
  ovs-vswitchd --pidfile --detach --log-file=/var/log/openvswitch/ovs-vswitchd.log
}
"""


class GuestRun:
    def __init__(self, output, exit_code, seconds):
        self.output = output
        self.exit_code = exit_code
        self.seconds = seconds

    @property
    def results(self):
        """Every ``JSON:{...}`` line the payload printed, decoded, in order."""
        return [json.loads(m) for m in re.findall(r"^JSON:(.*)$", self.output, re.MULTILINE)]

    def result(self, key):
        """The last JSON result that has ``key``."""
        for item in reversed(self.results):
            if key in item:
                return item
        raise AssertionError(f"no JSON result with {key!r} in guest output:\n{self.output[-6000:]}")

    def __repr__(self):
        return f"GuestRun(exit={self.exit_code}, {self.seconds:.1f}s)"


def available():
    """Why a guest cannot boot here, or None when it can."""
    if kernel.problem():
        return kernel.problem()
    if not kernel.MODULES.is_dir() or not any(kernel.MODULES.iterdir()):
        return f"no UML kernel modules under {kernel.MODULES}"
    if os.geteuid() != 0:
        return "UML guests with hostfs root need root"
    return None


def run_guest(payload, timeout=240, mem="384M", env=None, workdir=None):
    """
    Boot a guest, run ``payload`` (bash) inside it and return a GuestRun.

    ``env`` becomes environment variables of the payload (UML hands unknown ``KEY=VALUE`` kernel
    arguments to init; values must not contain spaces, so they are passed in the script).
    """
    problem = available()
    if problem:
        raise RuntimeError(problem)
    own_dir = workdir is None
    # Not under /tmp: the guest mounts its own tmpfs there and must still find its init.
    scratch = REPO / ".cache" / "uml"
    scratch.mkdir(parents=True, exist_ok=True)
    workdir = Path(workdir or tempfile.mkdtemp(prefix="guest-", dir=scratch))
    workdir.mkdir(parents=True, exist_ok=True)
    init = workdir / "init.sh"
    exports = "".join(f"export {k}={_sh_quote(str(v))}\n" for k, v in (env or {}).items())
    prologue = PROLOGUE.format(writable=" ".join(WRITABLE), modules=kernel.MODULES, repo=REPO)
    init.write_text(
        "#!/bin/bash\n"
        + prologue
        + exports
        + f"export BRINE_PYTHON={PYTHON}\n"
        + SWITCH_SETUP
        + "set +e\n( set -e\n"
        + payload
        + "\n) 2>&1\nrc=$?\n"
        + EPILOGUE
    )
    init.chmod(0o755)
    umid = f"brine-{os.getpid()}-{int(time.monotonic() * 1000) % 100000}"
    cmd = [
        str(kernel.KERNEL),
        f"umid={umid}",
        f"uml_dir={workdir}",
        f"mem={mem}",
        "rootfstype=hostfs",
        "rootflags=/",
        "ro",
        f"init={init}",
        "con=null",
        "ssl=null",
        "con0=null,fd:1",
        "printk.time=1",  # kernel log timestamps, for timings read from the kernel
    ]
    start = time.monotonic()
    try:
        proc = subprocess.run(
            cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout
        )
        output = proc.stdout.decode("utf-8", "replace")
    except subprocess.TimeoutExpired as exc:
        output = (exc.stdout or b"").decode("utf-8", "replace") + "\nGUEST_TIMEOUT"
    finally:
        if own_dir:
            shutil.rmtree(workdir, ignore_errors=True)
    output = output.replace("\r\n", "\n")
    match = re.search(r"^GUEST_EXIT=(\d+)$", output, re.MULTILINE)
    exit_code = int(match.group(1)) if match else None
    return GuestRun(output, exit_code, time.monotonic() - start)


def _sh_quote(value):
    return "'" + value.replace("'", "'\\''") + "'"
