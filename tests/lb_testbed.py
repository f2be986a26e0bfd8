"""
The controllers' VIPs and load balancer in network namespaces, with the real keepalived and
HAProxy running the configs brine_lb renders (docs/loadbalancer.md).

A hub namespace holds one bridge per VIP network (the switch) and the client's addresses
(``.5``); each controller is a namespace whose veth NICs carry the names keepalived.conf uses
(``br-eth2.10``, ...) and the inventory's addresses. Everything a node writes lives under a
private directory in /run (root-only path components, as keepalived's script security wants),
removed afterwards. There is no systemd here: what haproxy.service's drop-in does on stop and
start (write the track file) the testbed does with the same writer script, right after the
process died or came up.
"""

import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

import shlex

from brine_testlib import REPO, load_extension, render_file, write_outbox_put
from brinelib import acme, certdeploy
from brinelib import outbox as outbox_lib
from brinelib.names import controllers

lb = load_extension("modules", "brine_lb")
_counter = itertools.count()
TRACK_WRITER = REPO / "salt" / "haproxy" / "files" / "brine-track-file"
NOTIFY_TEMPLATE = REPO / "salt" / "keepalived" / "files" / "brine-vip-notify.jinja"

def ip(*args, check=True):
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check, timeout=30)


def write_notify(path, outbox):
    """The notify script at ``path`` as salt/keepalived/config.sls renders it (Salt's `quote`
    is shlex.quote), and beside it the brine-outbox-put it calls, writing to ``outbox``."""
    put = f"{path}-outbox-put"
    write_outbox_put(put, outbox)
    write_executable(path, render_file(NOTIFY_TEMPLATE, outbox_put=put))


def write_executable(path, text):
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.chmod(path, 0o755)


def read_outbox(outbox):
    """The messages the notify script left in ``outbox``, oldest first (as brine_outbox sends
    them), each checked the way the engine checks it."""
    try:
        names = outbox_lib.messages(os.listdir(outbox))
    except FileNotFoundError:
        return []
    found = []
    for name in names:
        with open(os.path.join(outbox, name), "rb") as fh:
            found.append(outbox_lib.parse(fh.read(), {"brine/vip/state"}))
    return found


class Node:
    def __init__(self, bed, minion_id, index):
        self.bed = bed
        self.minion_id = minion_id
        self.ns = f"{bed.tag}n{index}"
        self.dir = os.path.join(bed.dir, minion_id)
        os.makedirs(self.dir, mode=0o755)
        self.track_file = os.path.join(self.dir, "haproxy-down")
        self.haproxy = None
        self.keepalived = None
        self.hub_ifs = []  # this node's ports on the hub's bridges (its cables)
        self.dead = False  # powered off: whatever its interfaces still say, it holds nothing
        self.outbox = os.path.join(self.dir, "outbox")
        self.keepalived_settings = {
            "track_file": self.track_file,
            "notify": os.path.join(self.dir, "brine-vip-notify"),
            # pidof would see every namespace's HAProxy (one PID namespace): this node's only.
            "check_script": os.path.join(self.dir, "haproxy-alive"),
            **bed.keepalived_settings,
        }
        self.haproxy_settings = {"stats_socket": os.path.join(self.dir, "admin.sock"), **bed.haproxy_settings}

    def write_configs(self):
        inv, secrets = self.bed.inventory, self.bed.secrets
        write_notify(self.keepalived_settings["notify"], self.outbox)
        write_executable(self.keepalived_settings["check_script"],
                         f"#!/bin/sh\nkill -0 \"$(cat {shlex.quote(self.dir)}/haproxy.pid)\" 2>/dev/null\n")
        self.keepalived_conf = os.path.join(self.dir, "keepalived.conf")
        with open(self.keepalived_conf, "w", encoding="utf-8") as fh:
            fh.write(lb.keepalived_conf(inv, self.minion_id, secrets, self.keepalived_settings))
        self.haproxy_cfg = os.path.join(self.dir, "haproxy.cfg")
        with open(self.haproxy_cfg, "w", encoding="utf-8") as fh:
            fh.write(lb.haproxy_cfg(inv, self.minion_id, secrets, self.haproxy_settings))

    def exec_argv(self, argv):
        return ["ip", "netns", "exec", self.ns, *argv]

    def track(self, value):
        """What the drop-in's ExecStopPost (1) / ExecStartPost (0) runs."""
        subprocess.run([str(TRACK_WRITER), self.track_file, str(value)], check=True, timeout=10)

    def start_haproxy(self):
        log = open(os.path.join(self.dir, "haproxy.log"), "ab")
        self.haproxy = subprocess.Popen(self.exec_argv(["haproxy", "-db", "-f", self.haproxy_cfg]),
                                        stdout=log, stderr=log)
        with open(os.path.join(self.dir, "haproxy.pid"), "w", encoding="utf-8") as fh:
            fh.write(str(self.haproxy.pid))  # ip netns exec execs: the same process
        deadline = time.time() + 10
        while not self.listening() and time.time() < deadline:
            if self.haproxy.poll() is not None:
                raise RuntimeError(f"haproxy of {self.minion_id} exited: {self.log('haproxy.log')}")
            time.sleep(0.05)
        self.track(0)

    def kill_haproxy(self):
        """kill -9, then what systemd does when the main process died: ExecStopPost."""
        self.haproxy.send_signal(signal.SIGKILL)
        self.haproxy.wait(timeout=10)
        self.track(1)

    def listening(self):
        out = subprocess.run(self.exec_argv(["ss", "-Hltn"]), capture_output=True, text=True, timeout=10).stdout
        return f":{self.bed.probe_port} " in out

    def start_keepalived(self):
        log = open(os.path.join(self.dir, "keepalived.log"), "ab")
        argv = ["keepalived", "-n", "-l", "-D", "-f", self.keepalived_conf,
                "-p", os.path.join(self.dir, "keepalived.pid"), "-r", os.path.join(self.dir, "vrrp.pid"),
                "-c", os.path.join(self.dir, "checkers.pid")]
        self.keepalived = subprocess.Popen(self.exec_argv(argv), stdout=log, stderr=log)

    def power_off(self):
        """The node dies: its cables dead first (the hub's ports down: not one more packet gets
        out), then its daemons killed (-9), keepalived's VRRP child before its parent (which
        would otherwise stop the child cleanly, with a priority-0 advert)."""
        self.dead = True
        for hub_if in self.hub_ifs:
            ip("-n", self.bed.hub, "link", "set", hub_if, "down")
        try:
            with open(os.path.join(self.dir, "vrrp.pid"), encoding="utf-8") as fh:
                os.kill(int(fh.read().strip()), signal.SIGKILL)
        except (OSError, ValueError):
            pass
        for proc in (self.keepalived, self.haproxy):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                proc.wait(timeout=10)

    def power_on(self):
        """Back from power-off: no VIP left on its interfaces (a reboot loses them), cables up,
        HAProxy then keepalived started."""
        for inst in lb.vrrp_instances(self.bed.inventory, self.minion_id, self.keepalived_settings):
            ip("-n", self.ns, "addr", "del", f"{inst['address']}/{inst['prefix']}", "dev", inst["interface"], check=False)
        for hub_if in self.hub_ifs:
            ip("-n", self.bed.hub, "link", "set", hub_if, "up")
        os.unlink(self.track_file)  # /run is empty after a boot
        self.dead = False
        self.start_haproxy()
        self.start_keepalived()

    def holds(self, address):
        out = ip("-n", self.ns, "-j", "addr", "show").stdout
        return any(a.get("local") == address for link in json.loads(out or "[]") for a in link.get("addr_info", []))

    def log(self, name):
        try:
            with open(os.path.join(self.dir, name), encoding="utf-8", errors="replace") as fh:
                return fh.read()[-3000:]
        except FileNotFoundError:
            return ""

    def stop(self):
        for proc in (self.keepalived, self.haproxy):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


def with_placeholder(inventory, directory):
    """``inventory`` itself without ``acme:enabled``; with it (the external VIP serves TLS and
    HAProxy loads its crt), a copy whose ``acme:crt`` is ``directory``/certs/external.pem,
    holding the placeholder haproxy.cert writes on a controller before the first ACME certificate."""
    if not acme.enabled(inventory):
        return inventory
    crt = os.path.join(str(directory), "certs", "external.pem")
    certdeploy.placeholder(crt, inventory["vips"]["external"]["fqdn"])
    return {**inventory, "acme": {**inventory["acme"], "crt": crt}}


class LbTestbed:
    """Context manager: the hub, one namespace per controller, the daemons; all gone afterwards."""

    __test__ = False

    def __init__(self, inventory, secrets, keepalived_settings=None, haproxy_settings=None, probe_port=1984):
        self.inventory = inventory
        self.secrets = secrets
        self.keepalived_settings = keepalived_settings or {}
        self.haproxy_settings = haproxy_settings or {}
        self.probe_port = probe_port
        self.tag = f"lbt{os.getpid() % 100000}x{next(_counter)}"
        self.hub = f"{self.tag}h"
        self.dir = None
        self.nodes = []

    def __enter__(self):
        try:
            self._build()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _build(self):
        self.dir = tempfile.mkdtemp(prefix="brine-lbtest-", dir="/run")
        os.chmod(self.dir, 0o755)
        self.inventory = with_placeholder(self.inventory, self.dir)
        ip("netns", "add", self.hub)
        ip("-n", self.hub, "link", "set", "lo", "up")
        nets = sorted({vip["network"] for vip in self.inventory["vips"].values()})
        for idx, net in enumerate(nets):
            ip("-n", self.hub, "link", "add", f"hub{idx}", "type", "bridge")
            ip("-n", self.hub, "link", "set", f"hub{idx}", "up")
            prefix = self.inventory["networks"][net]["cidr"].split("/")[1]
            base = self.inventory["networks"][net]["cidr"].split("/")[0].rsplit(".", 1)[0]
            ip("-n", self.hub, "addr", "add", f"{base}.5/{prefix}", "dev", f"hub{idx}")
        for index, minion_id in enumerate(controllers(self.inventory)):
            node = Node(self, minion_id, index)
            self.nodes.append(node)
            ip("netns", "add", node.ns)
            ip("-n", node.ns, "link", "set", "lo", "up")
            subprocess.run(node.exec_argv(["sysctl", "-qw", "net.ipv4.ip_nonlocal_bind=1"]), check=True, timeout=10)
            for inst in lb.vrrp_instances(self.inventory, minion_id, node.keepalived_settings):
                net = self.inventory["vips"][inst["name"]]["network"]
                hub_if = f"{self.tag[-6:]}{index}{nets.index(net)}"
                ip("link", "add", hub_if, "type", "veth", "peer", "name", "tmp" + hub_if)
                ip("link", "set", hub_if, "netns", self.hub)
                ip("link", "set", "tmp" + hub_if, "netns", node.ns)
                ip("-n", node.ns, "link", "set", "tmp" + hub_if, "name", inst["interface"])
                prefix = self.inventory["networks"][net]["cidr"].split("/")[1]
                ip("-n", node.ns, "addr", "add", f"{inst['source']}/{prefix}", "dev", inst["interface"])
                ip("-n", node.ns, "link", "set", inst["interface"], "up")
                node.hub_ifs.append(hub_if)
                ip("-n", self.hub, "link", "set", hub_if, "master", f"hub{nets.index(net)}")
                ip("-n", self.hub, "link", "set", hub_if, "up")
            node.write_configs()

    def start(self):
        for node in self.nodes:
            node.start_haproxy()
        for node in self.nodes:
            node.start_keepalived()

    def holders(self, address):
        return [node for node in self.nodes if not node.dead and node.holds(address)]

    def wait_one_holder(self, address, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            held = self.holders(address)
            if len(held) == 1:
                return held[0]
            time.sleep(0.1)
        raise AssertionError(f"no single holder of {address} after {timeout} s: "
                             + "; ".join(f"{n.minion_id}: {n.log('keepalived.log')[-800:]}" for n in self.nodes))

    def start_probe(self, address, seconds, interval=0.02):
        """A client in the hub opening a TCP connection to ``address`` every ``interval`` s for
        ``seconds`` s; its stdout is the JSON list of [time, connected]."""
        code = (
            "import json, socket, sys, time\n"
            "addr, port, end, step = sys.argv[1], int(sys.argv[2]), time.time() + float(sys.argv[3]), float(sys.argv[4])\n"
            "out = []\n"
            "while time.time() < end:\n"
            "    t = time.time()\n"
            "    try:\n"
            "        socket.create_connection((addr, port), timeout=0.1).close(); ok = True\n"
            "    except OSError:\n"
            "        ok = False\n"
            "    out.append((t, ok))\n"
            "    time.sleep(max(0.0, step - (time.time() - t)))\n"
            "print(json.dumps(out))\n"
        )
        return subprocess.Popen(["ip", "netns", "exec", self.hub, sys.executable, "-c", code, address,
                                 str(self.probe_port), str(seconds), str(interval)],
                                stdout=subprocess.PIPE, text=True)

    def __exit__(self, *exc):
        for node in self.nodes:
            node.stop()
        for node in self.nodes:
            ip("netns", "del", node.ns, check=False)
        ip("netns", "del", self.hub, check=False)
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)


def longest_gap(samples, since):
    """The longest time without a successful connection after ``since``: from the last success
    before a run of failures to the first success after it (seconds), and how many runs."""
    last_ok, worst, runs, failing = None, 0.0, 0, False
    for t, ok in samples:
        if ok:
            if failing and last_ok is not None:
                worst = max(worst, t - last_ok)
            last_ok, failing = t, False
        elif t >= since:
            if not failing:
                runs += 1
            failing = True
    return worst, runs


class HolderSampler(threading.Thread):
    """Samples which nodes hold ``address`` until stopped; ``most`` is the most seen at once
    (sampled one namespace after the other, so a move can show as two for one sample)."""

    def __init__(self, bed, address):
        super().__init__(daemon=True)
        self.bed, self.address = bed, address
        self.most, self.samples, self._done = 0, 0, threading.Event()

    def run(self):
        while not self._done.is_set():
            self.most = max(self.most, len(self.bed.holders(self.address)))
            self.samples += 1
            time.sleep(0.02)

    def stop(self):
        self._done.set()
        self.join(timeout=10)
