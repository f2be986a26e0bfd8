"""
Brine's virtual lab: one user-mode-linux guest per inventory host, a lab switch, a salt-master.

Host side, everything the lab creates is in one network namespace of its own (``brine-lab-ID``,
ID derived from the checkout's path, so two checkouts never share a lab):

- bridge ``labsw``, the lab switch (a plain Linux bridge: 802.1Q tags and jumbo frames pass as
  they are). Every inventory NIC of every host has its own cable to it: a tap device, the far end
  of a UML vector NIC (tap transport).
- bridge ``ctlbr`` with the master's address on the out-of-band control network (like a BMC
  network, not in the inventory): every guest's ``vec0`` is a tap on it. Its ports are isolated,
  so a guest reaches the master and nothing else there. Salt and the lab's command channel use
  it, so Brine's own network states can rewire the inventory NICs without cutting Salt.
- the salt-master, serving this checkout (``etc/master`` with ``/srv/brine`` replaced).

Guest side: its own kernel (lab/kernel.py), its own root (a UML copy-on-write file over the shared
base image), sparse disk images as ``/dev/ubdb``..., a read-only config drive (its settings, its
minion key, its command channel key), systemd as PID 1, and ``lab/guest/boot.sh`` wiring the
inventory NICs through a ``tor`` network namespace (the switch port) so a cut cable is a real
carrier loss on the NIC. The guest has no view of the host's files (``hostfs=/dev/null``).

Files: runtime (sockets, pids, master state) under ``/run/brine-lab/ID``; bulky or useful ones
(copy-on-write roots, disks, logs) under the checkout's ``.cache/lab``. ``down`` removes both but
the logs.
"""

import base64
import ctypes
import hashlib
import hmac
import ipaddress
import json
import os
import re
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import tarfile
import threading
import time
from pathlib import Path

import yaml

from lab import image, kernel

from brinelib import commands  # importable through the lab package (lab/__init__.py)

REPO = Path(__file__).resolve().parents[1]
EXEC_PORT = 7100
DEFAULT_CONTROL_CIDR = "172.31.255.0/24"
DEFAULT_MEMORY = "768M"
# Linux bridge port states (bridge link set ... state N)
BRIDGE_PORT_DISABLED, BRIDGE_PORT_FORWARDING = 0, 3
DEFAULT_DISK_SIZE = "64G"  # sparse: costs only what the guest writes
MAX_UBD = 16  # the UML block driver's limit, root and config drive included
CONFIG_UBD = MAX_UBD - 1  # the config drive: the last UML block device
CONFIG_DRIVE = "ubd" + chr(ord("a") + CONFIG_UBD)
# The lab switch's ports carry jumbo frames (inventory MTUs up to 9216).
SWITCH_MTU = 9216
# The lab's formula settings (pillar brine_settings), under pillar/.
LAB_SETTINGS_FILE = "brine/lab-settings.yaml"
LAB_KEYS = ("control_cidr", "memory", "disk_size")
LAB_HOST_KEYS = ("memory", "disk_sizes")


class LabError(Exception):
    """Something the operator has to fix; the message says what."""


def _lab_id(repo):
    return hashlib.sha256(str(repo).encode()).hexdigest()[:8]


def _size_bytes(text, where):
    units = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
    value = str(text).strip().upper().removesuffix("B").removesuffix("I")
    number, unit = (value[:-1], value[-1]) if value and value[-1] in units else (value, "")
    try:
        size = int(number) * units[unit]
    except (ValueError, KeyError):
        raise LabError(f"{where}: {text!r} is not a size (like 768M or 10G)") from None
    if size <= 0:
        raise LabError(f"{where}: {text!r} must be positive")
    return size


def load_inventory(inventory_file=None):
    """The normalised inventory the lab is built from (pillar/brine/example-lab.yaml unless
    ``inventory_file``, a path relative to pillar/, says otherwise). Refuses an invalid one."""
    rel = inventory_file or os.environ.get("BRINE_LAB_INVENTORY") or "brine/example-lab.yaml"
    path = REPO / "pillar" / rel
    if not path.is_file():
        raise LabError(f"inventory {rel}: no such file under {REPO / 'pillar'}")
    import brine_inventory  # from _modules (lab/__init__.py)
    try:
        raw = brine_inventory.load_file(path)
        return rel, brine_inventory.normalise(raw)
    except (ValueError, brine_inventory.CommandExecutionError) as exc:
        raise LabError(str(exc)) from None


class Layout:
    """Everything about the lab that follows from the inventory: pure, no system access."""

    def __init__(self, inventory, inventory_file="brine/example-lab.yaml", repo=REPO):
        self.inventory = inventory
        self.inventory_file = inventory_file
        self.repo = Path(repo)
        self.id = _lab_id(self.repo)
        self.netns = f"brine-lab-{self.id}"
        self.run_dir = Path("/run/brine-lab") / self.id
        self.data_dir = self.repo / ".cache" / "lab"
        settings = inventory.get("lab") or {}
        if not isinstance(settings, dict):
            raise LabError("brine:lab: must be a mapping")
        for key in settings:
            if key not in LAB_KEYS:
                raise LabError(f"brine:lab:{key}: unknown key; expected one of {', '.join(LAB_KEYS)}")
        try:
            self.control_net = ipaddress.ip_network(settings.get("control_cidr", DEFAULT_CONTROL_CIDR))
        except ValueError as exc:
            raise LabError(f"brine:lab:control_cidr: {exc}") from None
        for name, net in inventory["networks"].items():
            if self.control_net.overlaps(ipaddress.ip_network(net["cidr"])):
                raise LabError(f"brine:lab:control_cidr: {self.control_net} overlaps network {name} ({net['cidr']})")
        self.master_ip = str(self.control_net.network_address + 1)
        memory = settings.get("memory", DEFAULT_MEMORY)
        disk_size = settings.get("disk_size", DEFAULT_DISK_SIZE)
        self.hosts = {}
        names = sorted(inventory["hosts"])
        if len(names) + 10 > self.control_net.num_addresses - 2:
            raise LabError(f"brine:lab:control_cidr: {self.control_net} is too small for {len(names)} hosts")
        for index, name in enumerate(names, start=1):
            host = inventory["hosts"][name]
            path = f"brine:hosts:{name}:lab"
            lab = host.get("lab") or {}
            if not isinstance(lab, dict):
                raise LabError(f"{path}: must be a mapping")
            for key in lab:
                if key not in LAB_HOST_KEYS:
                    raise LabError(f"{path}:{key}: unknown key; expected one of {', '.join(LAB_HOST_KEYS)}")
            mem = lab.get("memory", memory)
            if _size_bytes(mem, f"{path}:memory") > 1 << 30:
                raise LabError(f"{path}:memory: {mem} is more than the lab's 1G per guest")
            ports = []
            for port_index, (nic, spec) in enumerate(sorted(host["nics"].items())):
                ports.append({
                    "nic": nic,
                    "mac": spec["mac"],
                    # Locally administered, never an inventory MAC: the cable's end in the guest.
                    "uplink_mac": f"02:b1:00:{index:02x}:{port_index:02x}:01",
                    # The cable's end on the lab switch (host side).
                    "tap": f"sw{index}p{port_index}",
                })
            disk_sizes = lab.get("disk_sizes") or {}
            for disk in disk_sizes:
                if disk not in host.get("disks", {}):
                    raise LabError(f"{path}:disk_sizes:{disk}: not one of the host's disks")
            disks = []
            for disk_index, (disk, spec) in enumerate(sorted(host.get("disks", {}).items()), start=1):
                if disk_index >= CONFIG_UBD:
                    raise LabError(f"brine:hosts:{name}:disks: the lab gives a guest at most {CONFIG_UBD - 1} disks")
                size = disk_sizes.get(disk, disk_size)
                _size_bytes(size, f"{path}:disk_sizes:{disk}")
                disks.append({
                    "disk": disk,
                    "ubd": "ubd" + chr(ord("a") + disk_index),
                    "by_id": self._by_id_name(spec),
                    "size": str(size),
                })
            self.hosts[name] = {
                "name": name,
                "index": index,
                "roles": host["roles"],
                "control_ip": str(self.control_net.network_address + 10 + index),
                "control_tap": f"ctl{index}",
                # UML gives every vec NIC the same MAC unless told otherwise: on one bridge that
                # would leave a single guest reachable at a time.
                "control_mac": f"02:b1:00:{index:02x}:ff:01",
                "memory": str(mem),
                "dualbond": bool(host.get("dualbond")),
                "ports": ports,
                "disks": disks,
            }

    @staticmethod
    def _by_id_name(spec):
        if "by_id" in spec:
            return spec["by_id"].removeprefix("/dev/disk/by-id/")
        if "wwn" in spec:
            wwn = spec["wwn"].lower()
            return wwn if wwn.startswith("wwn-") else f"wwn-{wwn if wwn.startswith('0x') else '0x' + wwn}"
        return f"lab-{spec['serial']}"

    def host(self, name):
        if name not in self.hosts:
            raise LabError(f"no host {name!r} in the lab; hosts: {', '.join(self.hosts)}")
        return self.hosts[name]

    def port(self, name, nic):
        host = self.host(name)
        for port in host["ports"]:
            if port["nic"] == nic:
                return port
        raise LabError(f"host {name} has no NIC {nic!r}; NICs: {', '.join(p['nic'] for p in host['ports'])}")

    # paths
    def host_dir(self, name):
        return self.data_dir / "hosts" / name

    def cfg_dir(self, name):
        return self.host_dir(name) / "cfg"

    def console_log(self, name):
        return self.data_dir / "logs" / f"{name}.console"

    @property
    def uml_dir(self):
        return self.run_dir / "uml"

    def config_drive(self, name):
        return self.host_dir(name) / "cfg.tar"

    @property
    def master_dir(self):
        return self.run_dir / "master"

    @property
    def master_config_dir(self):
        return self.master_dir / "etc"

    def uml_command(self, name, base_image):
        host = self.host(name)
        hdir = self.host_dir(name)
        cmd = [
            str(kernel.KERNEL), f"umid={name}", f"uml_dir={self.uml_dir}", f"mem={host['memory']}",
            f"ubd0={hdir / 'root.cow'},{base_image}",
        ]
        for disk_index, disk in enumerate(host["disks"], start=1):
            cmd.append(f"ubd{disk_index}={hdir / (disk['disk'] + '.img')}")
        # r: opened read-only by the UML process, whatever the guest does.
        cmd.append(f"ubd{CONFIG_UBD}r={self.config_drive(name)}")
        cmd.append(f"vec0:transport=tap,ifname={host['control_tap']},mac={host['control_mac']}")
        for port_index, port in enumerate(host["ports"], start=1):
            # mtu=: without it the vector NIC refuses an MTU above 1500. (lab/guest/boot.sh turns
            # TSO off on it: see there.)
            cmd.append(f"vec{port_index}:transport=tap,ifname={port['tap']},mac={port['uplink_mac']},mtu={SWITCH_MTU}")
        cmd += [
            "root=/dev/ubda", "rw", "con=null", "ssl=null", "con0=null,fd:1",
            # hostfs is built into the kernel and would show a guest the host's files; a file as
            # its root makes every hostfs mount fail (a path through a file does not resolve).
            "hostfs=/dev/null",
            f"brine_lab_cfg={CONFIG_DRIVE}", "loglevel=4",
            # Unit start/fail lines on the console (lab console HOST): the way to see a boot
            # that never reaches the command channel.
            "systemd.show_status=true",
        ]
        return cmd


# What a guest's console says when it died while booting, and what to do about it.
BOOT_FAILURE_HINTS = (
    ("ptrace set fp regs failed",
     "this UML kernel cannot run on this host's CPU (the host kernel refuses its FPU state); "
     "the lab's kernel is pinned in lab/uml-kernel.conf (scripts/uml-kernel.sh installs it)"),
    ("Failed to start brine-lab-init", "the lab's wiring step failed in the guest (lab/guest/boot.sh, lab/image/rootfs)"),
    ("brine-lab-init: no ", "the lab's wiring step failed in the guest (lab/guest/boot.sh, lab/image/rootfs)"),
    ("Kernel panic", "the guest's kernel panicked"),
    ("Out of memory", "the guest ran out of memory (lab: memory in the inventory)"),
)
BOOT_FAILURE_LINES = 12


def boot_failure_report(console):
    """A few lines on why a guest died while booting, from its console text: the known cause
    and what to do, the console lines that show it, then the console's last lines (kernel
    messages, the lab's init; a kernel stack trace's frames left out)."""
    lines = [line.rstrip() for line in console.replace("\r\n", "\n").splitlines() if line.strip()]
    start = max((i for i, line in enumerate(lines) if line.startswith("===== brine-lab: power on")), default=-1)
    lines = lines[start + 1:]
    causes = list(dict.fromkeys(hint for marker, hint in BOOT_FAILURE_HINTS if any(marker in line for line in lines)))
    text = "cause: " + "; ".join(causes) if causes else "cause: not recognised (see the console lines)"
    evidence = [line for line in lines if any(marker in line for marker, _ in BOOT_FAILURE_HINTS)][:6]
    if evidence:
        text += "\nwhat the console says:\n" + "\n".join("  | " + line for line in evidence)
    frames = re.compile(r"^\s*\[<[0-9a-f]+>\]")
    tail = "\n".join("  | " + line for line in [l for l in lines if not frames.match(l)][-BOOT_FAILURE_LINES:])
    return f"{text}\nlast console lines:\n{tail or '  | (the console is empty)'}"


def sign_request(key, token, encoded):
    """The command channel's MAC of a request (lab/image/rootfs/usr/local/sbin/brine-lab-exec)."""
    return hmac.new(key, f"{token} {encoded}".encode(), hashlib.sha256).hexdigest()


_CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL("libc.so.6", use_errno=True)
_netns_lock = threading.Lock()


def _socket_in_netns(netns):
    """A TCP socket created inside network namespace ``netns`` (the calling thread goes back
    to its own namespace at once; the socket stays in the lab's)."""
    with _netns_lock:
        own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        try:
            try:
                target = os.open(f"/run/netns/{netns}", os.O_RDONLY)
            except FileNotFoundError:
                raise LabError(f"the lab is not up (no network namespace {netns})") from None
            try:
                if _libc.setns(target, _CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), "setns into the lab's network namespace")
                try:
                    return socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                finally:
                    if _libc.setns(own, _CLONE_NEWNET) != 0:
                        raise OSError(ctypes.get_errno(), "setns back to the host's network namespace")
            finally:
                os.close(target)
        finally:
            os.close(own)


def _run(cmd, check=True):
    """A lab command: a failure is the operator's to fix (LabError), not a Salt error."""
    return commands.run(cmd, check=check, error=LabError)


def _pid_alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


def _group_members(pgid):
    members = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    fields = fh.read().rsplit(")", 1)[1].split()
                if int(fields[2]) == pgid and fields[0] != "Z":
                    members.append(int(entry))
            except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
                pass
    return members


def _kill_group(pgid, timeout=20):
    """SIGKILL a process group the lab started (a UML kernel and its helper processes) and wait
    until it is gone."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while _group_members(pgid) and time.monotonic() < deadline:
        time.sleep(0.05)


def minion_restarts(results):
    """The hosts of a `state.apply` result (``salt_json``) whose run scheduled a background minion
    restart (the watcher configuration changed: salt/brine/events.sls)."""
    return sorted(
        name for name, states in (results or {}).items() if isinstance(states, dict)
        and any(isinstance(s, dict) and s.get("__id__") == "brine-events-restart-minion" and s.get("changes")
                for s in states.values())
    )


class ExecResult:
    def __init__(self, host, command, returncode, output):
        self.host, self.command, self.returncode, self.output = host, command, returncode, output

    @property
    def ok(self):
        return self.returncode == 0

    def check(self):
        if self.returncode != 0:
            raise LabError(f"{self.host}: {self.command!r} failed (rc={self.returncode}):\n{self.output}")
        return self

    def __repr__(self):
        return f"ExecResult(host={self.host!r}, rc={self.returncode}, output={self.output!r})"


class Lab:
    """The lab of one checkout. Every method is safe to call from a fresh process: the state is
    the network namespace, the pid files and the guests themselves."""

    def __init__(self, inventory_file=None, log=print):
        rel, inventory = load_inventory(inventory_file)
        self.layout = Layout(inventory, rel)
        self.log = log

    # ----------------------------------------------------------------- state
    @property
    def is_up(self):
        return Path(f"/run/netns/{self.layout.netns}").exists()

    def _pid_file(self, what):
        return self.layout.run_dir / "pids" / f"{what}.pid"

    def _pid(self, what, marker):
        """The pid of a process the lab started, if it still runs and is what we think it is."""
        try:
            pid = int(self._pid_file(what).read_text())
        except (FileNotFoundError, ValueError):
            return None
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except FileNotFoundError:
            return None
        return pid if marker in cmdline and _pid_alive(pid) else None

    def _pid_report(self, what):
        """What the pid file of ``what`` names and what /proc says of it, for error messages."""
        try:
            pid = int(self._pid_file(what).read_text())
        except (FileNotFoundError, ValueError) as exc:
            return f"pid file: {exc.__class__.__name__}"
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (FileNotFoundError, IndexError):
            return f"pid {pid}: gone"
        return f"pid {pid}: state {state}, command line {cmdline[:120]!r}"

    def guest_pid(self, name):
        return self._pid(f"guest-{name}", f"uml_dir={self.layout.uml_dir}")

    def is_running(self, name):
        self.layout.host(name)
        return self.guest_pid(name) is not None

    def _spawn(self, what, cmd, log_file, in_netns=True):
        full = (["ip", "netns", "exec", self.layout.netns] if in_netns else []) + [str(c) for c in cmd]
        log_file.parent.mkdir(parents=True, exist_ok=True)
        with open(log_file, "ab") as out:
            proc = subprocess.Popen(full, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                    start_new_session=True, cwd="/")
        self._pid_file(what).parent.mkdir(parents=True, exist_ok=True)
        self._pid_file(what).write_text(f"{proc.pid}\n")
        return proc.pid

    def _ns(self, *args, check=True):
        return _run(["ip", "netns", "exec", self.layout.netns, *map(str, args)], check=check)

    # ----------------------------------------------------------------- up
    def up(self, wait=True, timeout=300):
        """Bring the whole lab up; with ``wait``, return once every minion answers test.ping.
        Returns the seconds it took (base image build excluded)."""
        if self.is_up:
            raise LabError(f"the lab is already up (network namespace {self.layout.netns}); `brine-lab down` first")
        if kernel.problem():
            raise LabError(kernel.problem())
        base = image.ensure_base_image(log=self.log)
        image.mark_used(base)
        started = time.monotonic()
        layout = self.layout
        try:
            self._prepare_files(base)
            self._make_network()
            self._start_master()
            for name in layout.hosts:
                self.start(name, wait=False)
            if wait:
                self.wait_ready(timeout=timeout)
        except BaseException:
            self.log("lab: bring-up failed; tearing down what was started")
            self.down(keep_logs=True)
            raise
        return time.monotonic() - started

    def _prepare_files(self, base):
        layout = self.layout
        for d in (layout.run_dir, layout.host_dir("x").parent):
            if d.exists():
                shutil.rmtree(d)
        for d in (layout.uml_dir, layout.master_config_dir, layout.data_dir / "logs", layout.run_dir / "pids"):
            d.mkdir(parents=True, exist_ok=True)
        (layout.run_dir / "base-image").write_text(str(base))
        keys = self._generate_keys()
        pki = layout.master_dir / "etc" / "salt" / "pki" / "master" / "minions"
        pki.mkdir(parents=True, exist_ok=True)
        for name, host in layout.hosts.items():
            cfg = layout.cfg_dir(name)
            cfg.mkdir(parents=True, mode=0o700)
            shutil.copy(REPO / "lab" / "guest" / "boot.sh", cfg / "boot.sh")
            (cfg / "host.env").write_text(
                f"LAB_HOST={shlex.quote(name)}\n"
                f"LAB_CTL_ADDR={host['control_ip']}/{layout.control_net.prefixlen}\n"
                f"LAB_MASTER={layout.master_ip}\n"
            )
            (cfg / "ports.txt").write_text("".join(f"{p['nic']} {p['mac']} {p['uplink_mac']}\n" for p in host["ports"]))
            (cfg / "disks.txt").write_text("".join(f"{d['ubd']} {d['by_id']}\n" for d in host["disks"]))
            (cfg / "minion.conf").write_text(yaml.safe_dump({
                "id": name,
                "master": layout.master_ip,
                "master_tries": -1,
                "acceptance_wait_time": 1,
                "acceptance_wait_time_max": 5,
                "random_reauth_delay": 0,
                "recon_default": 500,
                "recon_max": 2000,
                "recon_randomize": False,
                "log_level_logfile": "warning",
                # Python is slow in UML (fork, imports): run jobs in threads of the resident
                # minion, and skip grains that cost seconds and mean nothing in the lab.
                "multiprocessing": False,
                "enable_fqdns_grains": False,
                "enable_gpu_grains": False,
            }))
            private, public = keys[name]
            (cfg / "minion.pem").write_bytes(private)
            (cfg / "minion.pub").write_bytes(public)
            (pki / name).write_bytes(public)
            # The command channel's key: the host and this guest have it, no other guest.
            (cfg / "exec.key").write_text(secrets.token_hex(32) + "\n")
            self._write_config_drive(name)
            for disk in host["disks"]:
                with open(layout.host_dir(name) / f"{disk['disk']}.img", "wb") as fh:
                    fh.truncate(_size_bytes(disk["size"], disk["disk"]))

    def _write_config_drive(self, name):
        """The guest's config drive: its cfg directory as a tar file (owner root, mode 0600), which
        the guest's brine-lab-init unpacks; the UML process opens it read-only."""
        cfg = self.layout.cfg_dir(name)
        drive = self.layout.config_drive(name)
        fd = os.open(drive, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh, tarfile.open(fileobj=fh, mode="w", format=tarfile.GNU_FORMAT) as tar:
            for path in sorted(cfg.iterdir()):
                info = tar.gettarinfo(str(path), arcname=path.name)
                info.uid = info.gid = 0
                info.uname = info.gname = "root"
                info.mode = 0o755 if path.name.endswith(".sh") else 0o600
                with open(path, "rb") as data:
                    tar.addfile(info, data)

    def _generate_keys(self):
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        keys = {}
        for name in self.layout.hosts:
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            keys[name] = (
                key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                  serialization.NoEncryption()),
                key.public_key().public_bytes(serialization.Encoding.PEM,
                                              serialization.PublicFormat.SubjectPublicKeyInfo),
            )
        return keys

    def _make_network(self):
        layout = self.layout
        _run(["ip", "netns", "add", layout.netns])
        ns = ["ip", "-n", layout.netns]
        bridge = ["stp_state", "0", "forward_delay", "0", "mcast_snooping", "0"]
        _run(ns + ["link", "set", "lo", "up"])
        _run(ns + ["link", "add", "ctlbr", "type", "bridge", *bridge])
        _run(ns + ["addr", "add", f"{layout.master_ip}/{layout.control_net.prefixlen}", "dev", "ctlbr"])
        _run(ns + ["link", "set", "ctlbr", "up"])
        _run(ns + ["link", "add", "labsw", "type", "bridge", *bridge])
        _run(ns + ["link", "set", "labsw", "mtu", str(SWITCH_MTU), "up"])
        for host in layout.hosts.values():
            tap = host["control_tap"]
            _run(ns + ["tuntap", "add", "dev", tap, "mode", "tap"])
            _run(ns + ["link", "set", tap, "master", "ctlbr", "up"])
            # An isolated port talks to the bridge itself (the master) and to no other port.
            self._ns("bridge", "link", "set", "dev", tap, "isolated", "on")
            for port in host["ports"]:
                _run(ns + ["tuntap", "add", "dev", port["tap"], "mode", "tap"])
                _run(ns + ["link", "set", port["tap"], "mtu", str(SWITCH_MTU)])
                _run(ns + ["link", "set", port["tap"], "master", "labsw", "up"])

    def _master_config(self):
        layout = self.layout
        config = yaml.safe_load((REPO / "etc" / "master").read_text().replace("/srv/brine", str(REPO)))
        config.update({
            "root_dir": str(layout.master_dir),
            "interface": layout.master_ip,
            "user": "root",
            "auto_accept": False,
            "open_mode": False,
            "worker_threads": 3,
            # The CLI's default wait for minions: UML guests are slow (see salt_json).
            "timeout": 120,
            "log_level_logfile": "info",
            "brine_inventory_file": layout.inventory_file,
            "brine_settings_file": LAB_SETTINGS_FILE,
            # `./main.sh` and the tests converge the lab explicitly; a highstate started by the
            # minion-start reactor at boot would race them ("state.apply is already running").
            "brine_highstate_on_start": False,
        })
        return config

    def _start_master(self):
        layout = self.layout
        (layout.master_config_dir / "master").write_text(yaml.safe_dump(self._master_config()))
        self._spawn("master", [REPO / ".venv" / "bin" / "salt-master", "-c", layout.master_config_dir, "-l", "warning"],
                    layout.data_dir / "logs" / "salt-master.out")

    def _wait_for(self, predicate, timeout, what):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(0.2)
        raise LabError(f"timed out after {timeout} s waiting for {what}")

    def wait_ready(self, hosts=None, timeout=300):
        """Wait until the guests' command channels answer, then until their minions answer."""
        hosts = list(hosts or self.layout.hosts)
        deadline = time.monotonic() + timeout
        pending = set(hosts)
        while pending:
            for name in sorted(pending):
                if not self.is_running(name):
                    # Seen once in CI with a guest that went on booting: look again before
                    # calling it stopped, and say what was seen.
                    time.sleep(2)
                    if not self.is_running(name):
                        raise LabError(f"guest {name} stopped while booting ({self._pid_report(f'guest-{name}')})\n"
                                       f"{boot_failure_report(self.console(name))}\n"
                                       f"whole console: {self.layout.console_log(name)}")
                try:
                    if self.exec(name, "systemctl is-active -q brine-lab-init", timeout=10).ok:
                        pending.discard(name)
                except (OSError, LabError):
                    pass
            if pending and time.monotonic() > deadline:
                raise LabError(f"timed out after {timeout} s: no command channel on {', '.join(sorted(pending))}")
            if pending:
                time.sleep(1)
        pending = set(hosts)
        while pending:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise LabError(f"timed out after {timeout} s: minions not answering: {', '.join(sorted(pending))}")
            proc = self.salt("-L", ",".join(sorted(pending)), "test.ping", "--out=json", "--static",
                             f"--timeout={max(3, min(10, int(remaining)))}", check=False)
            try:
                answers = json.loads(proc.stdout or "{}")
            except ValueError:
                answers = {}
            pending -= {name for name, ok in answers.items() if ok is True}
            if pending:
                time.sleep(1)

    # ----------------------------------------------------------------- guests
    def start(self, name, wait=True, timeout=300):
        """Power a guest on (after `kill` its disks and root keep what was written)."""
        layout = self.layout
        host = layout.host(name)
        if not self.is_up:
            raise LabError("the lab is not up; `brine-lab up` first")
        if self.is_running(name):
            raise LabError(f"{name} is already running")
        shutil.rmtree(layout.uml_dir / name, ignore_errors=True)
        base = (layout.run_dir / "base-image").read_text().strip()
        with open(layout.console_log(name), "ab") as fh:
            fh.write(f"\n===== brine-lab: power on {name} at {time.strftime('%H:%M:%S')} =====\n".encode())
        self._spawn(f"guest-{name}", layout.uml_command(name, base), layout.console_log(name))
        del host
        if wait:
            self.wait_ready([name], timeout=timeout)

    def guest_memory_mib(self, name):
        """The guest's memory on the host: proportional set size of its UML processes, MiB."""
        pid = self.guest_pid(name)
        total_kib = 0
        for member in _group_members(pid) if pid else []:
            try:
                with open(f"/proc/{member}/smaps_rollup", encoding="ascii") as fh:
                    total_kib += sum(int(line.split()[1]) for line in fh if line.startswith("Pss:"))
            except (FileNotFoundError, ProcessLookupError):
                pass
        return total_kib / 1024

    def kill(self, name):
        """Pull the power plug: the guest's kernel dies at once, nothing is shut down cleanly."""
        self.layout.host(name)
        pid = self.guest_pid(name)
        if pid is None:
            raise LabError(f"{name} is not running")
        _kill_group(pid)
        shutil.rmtree(self.layout.uml_dir / name, ignore_errors=True)

    def exec(self, name, command, timeout=120):
        """Run a shell command in a guest as root over the control channel. Returns an
        ExecResult (returncode, output: stdout and stderr together)."""
        self.layout.host(name)
        if isinstance(command, (list, tuple)):
            command = shlex.join(command)
        token = f"{int(time.time())}-{secrets.token_hex(8)}"
        encoded = base64.b64encode(command.encode()).decode()
        key_file = self.layout.cfg_dir(name) / "exec.key"
        try:
            key = bytes.fromhex(key_file.read_text().strip())
        except FileNotFoundError:
            raise LabError(f"the lab is not up (no command channel key {key_file}); `brine-lab up` first") from None
        text = self.send_request(name, f"{sign_request(key, token, encoded)} {token} {encoded}", timeout)
        marker = text.rfind(f"\n{token} ")
        if marker < 0:
            raise LabError(f"{name}: the command channel closed without an exit status for {command!r}:\n{text}")
        return ExecResult(name, command, int(text[marker:].split()[1]), text[:marker])

    def send_request(self, name, line, timeout=120):
        """Send one raw request line to a guest's command channel from the lab master's side and
        return all the guest answered (:meth:`exec` builds the signed line)."""
        sock = _socket_in_netns(self.layout.netns)
        with sock:
            sock.settimeout(timeout)
            sock.connect((self.layout.host(name)["control_ip"], EXEC_PORT))
            sock.sendall(line.encode() + b"\n")
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks).decode(errors="replace")

    def cut(self, name, nic):
        """Pull the cable of NIC: its switch port goes down, the NIC loses carrier."""
        self.layout.port(name, nic)
        self.exec(name, f"ip -n tor link set sw-{nic} down").check()

    def mend(self, name, nic):
        self.layout.port(name, nic)
        self.exec(name, f"ip -n tor link set sw-{nic} up").check()

    def partition(self, names):
        """Cut the named hosts off the lab switch: their NICs keep carrier (the switch is still
        there), but no frame passes between them and anyone else. The control network stays.
        The switch's ports of those hosts stop forwarding (bridge port state disabled); the
        guests' own NICs are not touched (a UML vector NIC set down and up under load can stop
        passing frames for good)."""
        for name in names:
            self.layout.host(name)
        for name in names:
            for port in self.layout.host(name)["ports"]:
                self._ns("bridge", "link", "set", "dev", port["tap"], "state", BRIDGE_PORT_DISABLED)

    def heal(self):
        """Undo every partition (on the running guests: a stopped guest's port has no carrier)."""
        for name, host in self.layout.hosts.items():
            if self.is_running(name):
                for port in host["ports"]:
                    self._ns("bridge", "link", "set", "dev", port["tap"], "state", BRIDGE_PORT_FORWARDING)

    def console(self, name):
        """The guest's console log so far (kernel messages, boot, brine-lab-init)."""
        self.layout.host(name)
        path = self.layout.console_log(name)
        return path.read_text(errors="replace") if path.exists() else ""

    # ----------------------------------------------------------------- salt
    def salt_command(self, *args):
        return ["ip", "netns", "exec", self.layout.netns, str(REPO / ".venv" / "bin" / "salt"),
                "-c", str(self.layout.master_config_dir), *map(str, args)]

    def salt(self, *args, check=True, timeout=900):
        """Run the lab master's `salt` CLI; returns the CompletedProcess (text)."""
        if not self.is_up:
            raise LabError("the lab is not up; `brine-lab up` first")
        proc = subprocess.run(self.salt_command(*args), capture_output=True, text=True, timeout=timeout)
        if check and proc.returncode != 0:
            raise LabError(f"salt {' '.join(map(str, args))} failed (rc={proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
        return proc

    def salt_json(self, *args, timeout=900):
        """The parsed result of `salt ARGS --out=json --static`. Unless ARGS set --timeout, the
        CLI waits up to 600 s for every minion (UML guests are slow, and a guest's minion runs
        jobs in threads, so find_job cannot vouch for a job that is still running)."""
        if not any(str(a).startswith(("--timeout", "-t")) for a in args):
            args = (*args, "--timeout=600")
        proc = self.salt(*args, "--out=json", "--static", check=False, timeout=timeout)
        try:
            return json.loads(proc.stdout)
        except ValueError:
            raise LabError(f"salt {' '.join(args)} gave no JSON (rc={proc.returncode}):\n{proc.stdout}\n{proc.stderr}") from None

    def salt_job(self, targets, fun, *args, timeout=1800, poll=5):
        """``salt -L TARGETS FUN ARGS`` started with ``--async``, its returns then read from the
        master's job cache until every target has answered: ``{minion: return}``; a target that
        has not answered within ``timeout`` seconds is missing. For long jobs (a first highstate):
        the CLI's own wait gives up on a minion that is too busy to answer its find_job query in
        time, while the job runs on."""
        targets = list(targets)
        proc = self.salt("-L", ",".join(targets), fun, *args, "--async")
        match = re.search(r"job ID: (\d+)", proc.stdout)
        if not match:
            raise LabError(f"salt {fun} --async printed no job ID:\n{proc.stdout}\n{proc.stderr}")
        jid = match.group(1)
        deadline = time.monotonic() + timeout
        while True:
            returns = self.salt_run("jobs.lookup_jid", jid, timeout=300)
            returns = returns if isinstance(returns, dict) else {}
            if set(targets) <= set(returns) or time.monotonic() > deadline:
                return {name: returns[name] for name in targets if name in returns}
            time.sleep(poll)

    def salt_run_command(self, *args):
        return ["ip", "netns", "exec", self.layout.netns, str(REPO / ".venv" / "bin" / "salt-run"),
                "-c", str(self.layout.master_config_dir), *map(str, args)]

    def salt_run(self, *args, timeout=300):
        """The parsed result of the lab master's `salt-run ARGS --out=json` (e.g.
        ``lab.salt_run("brine.events", "minion=ubuntu3", "limit=0")``)."""
        if not self.is_up:
            raise LabError("the lab is not up; `brine-lab up` first")
        proc = subprocess.run(self.salt_run_command(*args, "--out=json"), capture_output=True, text=True,
                              timeout=timeout)
        try:
            return json.loads(proc.stdout)
        except ValueError:
            raise LabError(f"salt-run {' '.join(map(str, args))} gave no JSON (rc={proc.returncode}):\n"
                           f"{proc.stdout}\n{proc.stderr}") from None

    def wait_minion_restarts(self, hosts, timeout=600):
        """Wait until the background minion restarts that a state run scheduled on ``hosts`` are
        done (salt/brine/events.sls: the transient unit brine-restart-minion restarts the minion
        once the run has returned), then until those minions answer again. ``hosts``: e.g.
        :func:`minion_restarts` of the run's results."""
        hosts = sorted(hosts)
        deadline = time.monotonic() + timeout
        pending = set(hosts)
        while pending:
            for name in sorted(pending):
                if not self.exec(name, "systemctl is-active -q brine-restart-minion.service").ok:
                    pending.discard(name)
            if pending and time.monotonic() > deadline:
                raise LabError(f"timed out after {timeout} s: minion restart still pending on {', '.join(sorted(pending))}")
            if pending:
                time.sleep(1)
        if hosts:
            self.wait_ready(hosts, timeout=max(30, deadline - time.monotonic()))
        return hosts

    # ----------------------------------------------------------------- status / down
    def status(self):
        rows = []
        for name, host in self.layout.hosts.items():
            running = self.is_running(name) if self.is_up else False
            channel = False
            if running:
                try:
                    channel = self.exec(name, "true", timeout=5).ok
                except (OSError, LabError):
                    pass
            rows.append({"host": name, "running": running, "channel": channel,
                         "control_ip": host["control_ip"], "roles": host["roles"],
                         "nics": [p["nic"] for p in host["ports"]], "disks": [d["by_id"] for d in host["disks"]]})
        return {"up": self.is_up, "netns": self.layout.netns, "master": self._pid("master", "salt-master") is not None,
                "hosts": rows}

    def leftovers(self):
        """What of this lab still exists on the host (empty after `down`)."""
        found = []
        layout = self.layout
        if Path(f"/run/netns/{layout.netns}").exists():
            found.append(f"network namespace {layout.netns}")
        if layout.run_dir.exists():
            found.append(f"directory {layout.run_dir}")
        markers = (str(layout.run_dir).encode(), str(layout.host_dir('x').parent).encode())
        for entry in os.listdir("/proc"):
            if entry.isdigit() and int(entry) != os.getpid():
                try:
                    cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
                except (FileNotFoundError, ProcessLookupError, PermissionError):
                    continue
                if any(m in cmdline for m in markers) and _pid_alive(int(entry)):
                    shown = cmdline.replace(b"\0", b" ").decode(errors="replace")[:120]
                    found.append(f"process {entry}: {shown}")
        with open("/proc/self/mountinfo") as fh:
            for line in fh:
                if str(layout.run_dir) in line or str(layout.host_dir("x").parent) in line:
                    found.append(f"mount {line.split()[4]}")
        if layout.host_dir("x").parent.exists():
            found.append(f"directory {layout.host_dir('x').parent}")
        return found

    def down(self, keep_logs=True):
        """Stop everything the lab started and remove its namespace, interfaces and files
        (the console and master logs stay in .cache/lab/logs unless keep_logs is False)."""
        layout = self.layout
        for name in layout.hosts:
            pid = self.guest_pid(name)
            if pid is not None:
                _kill_group(pid)
        for what, marker in (("master", "salt-master"),):
            pid = self._pid(what, marker)
            if pid is not None:
                try:
                    os.killpg(pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
                deadline = time.monotonic() + 10
                while _group_members(pid) and time.monotonic() < deadline:
                    time.sleep(0.1)
                _kill_group(pid)
        # Anything else still inside the lab's namespace or using its files is ours too.
        if Path(f"/run/netns/{layout.netns}").exists():
            pids = _run(["ip", "netns", "pids", layout.netns], check=False).stdout.split()
            for pid in pids:
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass
        for item in self.leftovers():
            if item.startswith("process "):
                try:
                    os.kill(int(item.split()[1].rstrip(":")), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass
        master_log = layout.master_dir / "var" / "log" / "salt" / "master"
        if keep_logs and master_log.exists():
            (layout.data_dir / "logs").mkdir(parents=True, exist_ok=True)
            shutil.copy(master_log, layout.data_dir / "logs" / "salt-master.log")
        if Path(f"/run/netns/{layout.netns}").exists():
            _run(["ip", "netns", "del", layout.netns], check=False)
        shutil.rmtree(layout.run_dir, ignore_errors=True)
        shutil.rmtree(layout.host_dir("x").parent, ignore_errors=True)
        try:
            layout.run_dir.parent.rmdir()  # /run/brine-lab, when no other checkout's lab is up
        except OSError:
            pass
        if not keep_logs:
            shutil.rmtree(layout.data_dir / "logs", ignore_errors=True)
        return self.leftovers()
