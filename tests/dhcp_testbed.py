"""
A management network made of network namespaces, for proving DHCP (and the other bootstrap
services) with the real daemons and a real client.

The server namespace holds a bridge (the management interface the daemons listen on); each
guest is its own namespace with one veth NIC carrying a chosen MAC, plugged into that bridge.
Nothing leaves the namespaces: they have no route to anywhere else.

Everything a test does to a guest goes through :class:`Guest`-like objects with one method,
``run(argv)``; :func:`acquire_lease` only uses that, so the same checks can later be pointed at
virtual-lab guests by giving them a ``run`` that executes inside the guest.
"""

import itertools
import json
import os
import shlex
import signal
import subprocess
import threading
from datetime import datetime, timezone

_counter = itertools.count()

# What the guest's DHCP client asks for: Debian's default dhclient.conf request list.
DHCLIENT_CONF = """\
request subnet-mask, broadcast-address, time-offset, routers, domain-name,
        domain-name-servers, host-name, interface-mtu, ntp-servers;
timeout 30;
retry 1;
"""


def _ip(*args, check=True):
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check)


class NamespaceGuest:
    """A guest that is a network namespace; commands run in a private mount namespace so that
    client scripts (dhclient-script, its hooks) cannot touch the host's /etc or /run."""

    def __init__(self, name, workdir, tmpfs=()):
        self.name = name
        self.workdir = workdir
        self.tmpfs = list(tmpfs)  # more directories the guest's daemons may write, kept private
        self.resolv_conf = os.path.join(workdir, f"{name}.resolv.conf")
        open(self.resolv_conf, "w").close()

    def _wrap(self, argv):
        setup = [
            f"mount --bind {shlex.quote(self.resolv_conf)} /etc/resolv.conf",
            "mount -t tmpfs brine-test /run",
        ]
        for hooks in ("/etc/dhcp/dhclient-enter-hooks.d", "/etc/dhcp/dhclient-exit-hooks.d"):
            if os.path.isdir(hooks):
                setup.append(f"mount -t tmpfs brine-test {hooks}")
        for directory in self.tmpfs:
            setup.append(f"mkdir -p {shlex.quote(directory)} && mount -t tmpfs -o mode=1777 brine-test {shlex.quote(directory)}")
        script = " && ".join(setup) + " && exec " + " ".join(shlex.quote(a) for a in argv)
        return ["ip", "netns", "exec", self.name, "unshare", "--mount", "--propagation", "private", "sh", "-ec", script]

    def run(self, argv, check=True, timeout=120):
        return subprocess.run(self._wrap(argv), capture_output=True, text=True, check=check, timeout=timeout)

    def popen(self, argv, **kwargs):
        return subprocess.Popen(self._wrap(argv), **kwargs)


class Testbed:
    """
    The server namespace with bridge ``bridge`` at ``address``/``prefix``, and guests plugged
    into it. Use as a context manager: every namespace and process it made is gone afterwards.
    """

    __test__ = False  # a helper, not a test class

    def __init__(self, workdir, address="10.10.0.5", prefix=24, bridge="mgmt0", server_tmpfs=()):
        self.workdir = str(workdir)
        self.tag = f"brd{os.getpid() % 100000}x{next(_counter)}"
        self.server = NamespaceGuest(f"{self.tag}-srv", self.workdir, tmpfs=server_tmpfs)
        self.address, self.prefix, self.bridge = address, prefix, bridge
        self.guests = []
        self.processes = []
        self.pidfiles = []

    def __enter__(self):
        _ip("netns", "add", self.server.name)
        ns = ["ip", "-n", self.server.name]
        for cmd in (
            ["link", "set", "lo", "up"],
            ["link", "add", self.bridge, "type", "bridge"],
            ["addr", "add", f"{self.address}/{self.prefix}", "dev", self.bridge],
            ["link", "set", self.bridge, "up"],
        ):
            subprocess.run(ns + cmd, check=True, capture_output=True)
        return self

    def add_guest(self, mac, nic="eth2", address=None):
        """A new guest namespace whose NIC ``nic`` has ``mac``, plugged into the bridge; with
        ``address`` (CIDR form) the NIC is configured statically instead of by DHCP."""
        idx = len(self.guests)
        guest = NamespaceGuest(f"{self.tag}-g{idx}", self.workdir)
        _ip("netns", "add", guest.name)
        port = f"{self.tag[-6:]}p{idx}"
        _ip("link", "add", nic, "netns", guest.name, "address", mac, "type", "veth", "peer", "name", port, "netns", self.server.name)
        for cmd in (
            ["-n", guest.name, "link", "set", "lo", "up"],
            ["-n", guest.name, "link", "set", nic, "up"],
            ["-n", self.server.name, "link", "set", port, "master", self.bridge],
            ["-n", self.server.name, "link", "set", port, "up"],
        ):
            _ip(*cmd)
        if address:
            _ip("-n", guest.name, "addr", "add", address, "dev", nic)
        self.guests.append(guest)
        return guest

    def start(self, guest, argv, log_path=None, tag=None):
        """Start a daemon in ``guest`` (foreground mode); its stderr/stdout lines go to
        ``log_path`` prefixed like ``journalctl -o short-iso`` (time, host, tag[pid])."""
        proc = guest.popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
        self.processes.append(proc)
        if log_path:
            threading.Thread(target=_journal, args=(proc, log_path, tag or os.path.basename(argv[0])), daemon=True).start()
        return proc

    def __exit__(self, *exc):
        for pidfile in self.pidfiles:
            try:
                with open(pidfile) as fh:
                    os.kill(int(fh.read().strip()), signal.SIGTERM)
            except (OSError, ValueError):
                pass
        for proc in self.processes:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
        for guest in self.guests + [self.server]:
            _ip("netns", "del", guest.name, check=False)


def _journal(proc, log_path, tag):
    with open(log_path, "a", encoding="utf-8", buffering=1) as log:
        for line in proc.stdout:
            stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S%z")
            log.write(f"{stamp} bootstrap {tag}[{proc.pid}]: {line.rstrip()}\n")


def acquire_lease(guest, nic, workdir, testbed=None):
    """
    Run a real DHCP client (ISC dhclient with Debian's dhclient-script) on ``nic`` of
    ``guest`` until it has a lease; return ``{"address", "prefix", "mtu", "lease"}`` as the
    guest's kernel reports them afterwards (the address and MTU the client applied).
    """
    conf = os.path.join(workdir, f"{guest.name}.dhclient.conf")
    with open(conf, "w") as fh:
        fh.write(DHCLIENT_CONF)
    lease = os.path.join(workdir, f"{guest.name}.leases")
    pidfile = os.path.join(workdir, f"{guest.name}.dhclient.pid")
    if testbed is not None:
        testbed.pidfiles.append(pidfile)
    proc = guest.run(["dhclient", "-4", "-1", "-v", "-cf", conf, "-lf", lease, "-pf", pidfile, nic], check=False)
    # dhclient -1 returns once bound and leaves a daemon behind to renew: stop it, we measured.
    try:
        with open(pidfile) as fh:
            os.kill(int(fh.read().strip()), signal.SIGTERM)
    except (OSError, ValueError):
        pass
    if proc.returncode != 0:
        raise AssertionError(f"dhclient on {guest.name}:{nic} got no lease:\n{proc.stdout}{proc.stderr}")
    addr = json.loads(guest.run(["ip", "-j", "-4", "addr", "show", "dev", nic]).stdout)[0]
    inet = [a for a in addr.get("addr_info", []) if a.get("family") == "inet"]
    return {
        "address": inet[0]["local"] if inet else None,
        "prefix": inet[0]["prefixlen"] if inet else None,
        "mtu": addr["mtu"],
        "lease": open(lease).read() if os.path.exists(lease) else "",
    }
