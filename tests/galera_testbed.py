"""
Three real MariaDB Galera nodes (mariadbd 10.11 + galera-4), each in its own network namespace
on one bridge (tests/dhcp_testbed.py's Testbed), each with its own datadir, socket and option
file under a temporary directory. The option files are brine_galera.render_config()'s output
plus what a root-run test instance needs; nothing touches the host's /etc/mysql or
/var/lib/mysql. The health daemon (salt/galera/files/brine-galera-health.py) runs beside each.
"""

import os
import signal
import subprocess
import sys
import time
import urllib.request

import brine_galera as g
from brine_testlib import REPO, wait_for
from dhcp_testbed import Testbed

HEALTH = REPO / "salt/galera/files/brine-galera-health.py"
SST_PASSWORD = "sst-pass'word\"x"
MONITOR_PASSWORD = "mon-pass"


class Node:
    def __init__(self, bed, name, address, workdir, peers, extra=None):
        self.bed, self.name, self.address = bed, name, address
        self.dir = os.path.join(workdir, name)
        self.datadir = os.path.join(self.dir, "data")
        self.socket = os.path.join(self.dir, "mysqld.sock")
        self.pid_file = os.path.join(self.dir, "mysqld.pid")
        self.log = os.path.join(self.dir, "error.log")
        self.cnf = os.path.join(self.dir, "my.cnf")
        self.monitor_cnf = os.path.join(self.dir, "monitor.cnf")
        self.grastate = os.path.join(self.datadir, "grastate.dat")
        os.makedirs(self.dir)
        config = g.render_config(name, address, peers, cluster_name="brinetest", buffer_pool_size="32M",
                                 gcache_size="32M")
        local = [
            "[mysqld]", f"datadir = {self.datadir}", f"socket = {self.socket}", f"pid-file = {self.pid_file}",
            f"log-error = {self.log}", "user = root", "innodb_log_file_size = 16M", "performance_schema = OFF",
            "skip-name-resolve", "[galera]", *(f"{k} = {v}" for k, v in (extra or {}).items()),
            "[client]", f"socket = {self.socket}",
        ]
        with open(self.cnf, "w") as fh:
            fh.write(config + "\n".join(local) + "\n" + g.render_sst_auth("brine_sst", SST_PASSWORD))
        with open(self.monitor_cnf, "w") as fh:
            fh.write(g.render_client_options("brine_monitor", MONITOR_PASSWORD, self.socket))
        os.chmod(self.monitor_cnf, 0o600)
        self.guest = bed.add_guest(f"52:54:00:77:00:{len(bed.guests) + 1:02x}", address=f"{address}/24")
        self.proc = None
        self.health_proc = None

    # ---- mariadbd

    def install(self):
        subprocess.run(["mariadb-install-db", f"--defaults-file={self.cnf}", "--user=root",
                        "--auth-root-authentication-method=socket", "--skip-test-db"],
                       check=True, capture_output=True, text=True, timeout=120)

    def start(self, *more):
        """mariadbd in the node's namespace, in the foreground (as systemd runs it)."""
        argv = ["/usr/sbin/mariadbd", f"--defaults-file={self.cnf}", *more]
        self.proc = self.guest.popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     start_new_session=True)
        self.bed.processes.append(self.proc)
        return self.proc

    def kill9(self):
        """kill -9 mariadbd itself (the wrapper shell exec'd it, so it is the process)."""
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)

    def sql(self, text, check=True):
        proc = subprocess.run(["mariadb", f"--defaults-file={self.cnf}", "-N", "-B"], input=text,
                              capture_output=True, text=True, timeout=60)
        if check and proc.returncode:
            raise AssertionError(f"{self.name}: {proc.stderr}")
        return proc.stdout

    def status(self):
        running, values = g.query_status(socket=self.socket, defaults_file=self.cnf)
        return g.summarise_status(values, running) if running else {"running": False, "synced": False}

    def wait_synced(self, timeout=120):
        def synced():
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(f"{self.name}: mariadbd exited {self.proc.returncode}:\n{self.log_tail()}")
            return self.status().get("synced")
        if not wait_for(synced, timeout=timeout, interval=0.5):
            raise AssertionError(f"{self.name} not synced within {timeout}s: {self.status()}\n{self.log_tail()}")

    def log_tail(self, lines=30):
        try:
            with open(self.log, errors="replace") as fh:
                return "".join(fh.readlines()[-lines:])
        except OSError:
            return ""

    # ---- the live layer's position logic, pointed at this node's files

    def position(self):
        return g.position(datadir=self.datadir, defaults_file=self.cnf, socket=self.socket, pid_file=self.pid_file,
                          user="root")

    # ---- health daemon

    def start_health(self):
        argv = [sys.executable, str(HEALTH), "--listen", self.address, "--port", "9200",
                "--defaults-file", self.monitor_cnf, "--cache", "0"]
        self.health_proc = self.guest.popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                            start_new_session=True)
        self.bed.processes.append(self.health_proc)

    def health_from(self, other):
        """The HTTP status code of GET http://<address>:9200/ asked from ``other``'s namespace."""
        script = ("import urllib.request, urllib.error, sys\n"
                  "try:\n"
                  f"    r = urllib.request.urlopen('http://{self.address}:9200/', timeout=5); print(r.status, r.read().decode().strip())\n"
                  "except urllib.error.HTTPError as e:\n"
                  "    print(e.code, e.read().decode().strip())\n")
        out = other.guest.run([sys.executable, "-c", script], check=False, timeout=30)
        code, _, text = (out.stdout.strip() or "0 no answer " + out.stderr[-200:]).partition(" ")
        return int(code), text


class GaleraBed(Testbed):
    """A Testbed with three Galera nodes (ubuntu1..3 at 10.10.0.11-13)."""

    __test__ = False

    def __init__(self, workdir, names=("ubuntu1", "ubuntu2", "ubuntu3"), extra=None):
        super().__init__(workdir)
        self.names, self.extra = list(names), dict(extra or {})
        self.nodes = {}
        self.edits = []  # per bootstrap call: the nodes whose grastate.dat changed

    def __enter__(self):
        super().__enter__()
        peers = [f"10.10.0.{11 + i}" for i in range(len(self.names))]
        for name, address in zip(self.names, peers):
            self.nodes[name] = Node(self, name, address, self.workdir, peers, self.extra.get(name))
        return self

    def grastates(self):
        out = {}
        for name, node in self.nodes.items():
            try:
                with open(node.grastate, "rb") as fh:
                    out[name] = fh.read()
            except OSError:
                out[name] = None
        return out

    def call(self, targets, fun, args):
        """What salt.execute would return from these nodes' brine_galera functions; the live
        layer's own code where it does not need systemd (bootstrap: the edit, then what
        galera_new_cluster and Debian's galera_recovery make mariadbd run)."""
        out = {}
        for name in targets:
            node = self.nodes[name]
            if fun == "brine_galera.position":
                out[name] = node.position()
            elif fun == "brine_galera.status":
                out[name] = node.status()
            elif fun == "brine_galera.bootstrap":
                uuid, seqno = args
                before = self.grastates()
                edited = g.mark_safe_to_bootstrap(node.grastate, uuid, seqno,
                                                  recover=lambda: g.run_recover(node.cnf, node.datadir, user="root"))
                after = self.grastates()
                self.edits.append(sorted(n for n in self.nodes if before[n] != after[n]))
                node.start("--wsrep-new-cluster", f"--wsrep-start-position={uuid}:{seqno}")
                out[name] = {"edited_grastate": edited, "started": True}
            elif fun == "brine_galera.start":
                position = node.position()
                more = [f"--wsrep-start-position={position['uuid']}:{position['seqno']}"] if position["state"] == "down" else []
                node.start(*more)
                out[name] = {"started": True}
            else:
                raise AssertionError(f"unexpected call {fun}")
        return out

    def isolate(self, name):
        """Take the node's port off the bridge: it is alone, its link stays up."""
        index = self.names.index(name)
        port = f"{self.tag[-6:]}p{index}"
        subprocess.run(["ip", "-n", self.server.name, "link", "set", port, "nomaster"], check=True)
