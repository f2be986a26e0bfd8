"""
Real RabbitMQ 3.10 nodes (Debian's rabbitmq-server) run by root as test instances under a
temporary directory: each with its own node name, Mnesia and log directories, AMQP and Erlang
distribution ports, configured with brinelib.rabbitmq's rabbitmq.conf and rabbitmq-env.conf.
Everything listens on 127.0.0.1 only: AMQP and distribution (the rendered files), the epmd the
bed starts itself on a free port, and rabbitmqctl's own distribution listener (CTL_ERL_ARGS of
the rendered env file). Nothing touches /etc/rabbitmq or /var/lib/rabbitmq, and every process
the bed started is killed when it closes, also on failure.
"""

import os
import signal
import subprocess

import brine_rabbitmq
from brine_testlib import free_port
from brinelib import rabbitmq

BIN = "/usr/lib/rabbitmq/bin"
EPMD = "/usr/bin/epmd"
ADDRESS = "127.0.0.1"
COOKIE = "brine-test-cookie-not-secret"


class Node:
    def __init__(self, bed, name):
        self.bed = bed
        self.name = f"{name}@localhost"
        self.dir = os.path.join(bed.workdir, name)
        self.port, self.dist_port = free_port(), free_port()
        os.makedirs(os.path.join(self.dir, "mnesia"))
        os.makedirs(os.path.join(self.dir, "log"))
        self.config = os.path.join(self.dir, "rabbitmq.conf")
        self.env_file = os.path.join(self.dir, "rabbitmq-env.conf")
        with open(self.config, "w") as fh:
            fh.write(rabbitmq.render_config(ADDRESS, port=self.port))
        with open(self.env_file, "w") as fh:
            fh.write(rabbitmq.render_env(self.name, ADDRESS, port=self.port, dist_port=self.dist_port))
        self.proc = None

    def env(self):
        return dict(self.bed.env, RABBITMQ_CONF_ENV_FILE=self.env_file, RABBITMQ_CONFIG_FILE=self.config,
                    RABBITMQ_MNESIA_BASE=os.path.join(self.dir, "mnesia"),
                    RABBITMQ_LOG_BASE=os.path.join(self.dir, "log"),
                    RABBITMQ_PID_FILE=os.path.join(self.dir, "pid"),
                    RABBITMQ_ENABLED_PLUGINS_FILE=self.bed.plugins_file,
                    RABBITMQ_ADVANCED_CONFIG_FILE=os.path.join(self.dir, "advanced.config"))

    def start(self):
        with open(os.path.join(self.dir, "server.out"), "ab") as out:
            self.proc = subprocess.Popen([f"{BIN}/rabbitmq-server"], env=self.env(), stdin=subprocess.DEVNULL,
                                         stdout=out, stderr=subprocess.STDOUT, start_new_session=True)

    def wait(self, timeout=90):
        proc = subprocess.run([f"{BIN}/rabbitmqctl", "-n", self.name, "wait", "--timeout", str(timeout),
                               os.path.join(self.dir, "pid")], env=self.bed.env, capture_output=True, text=True,
                              timeout=timeout + 30)
        if proc.returncode:
            raise AssertionError(f"{self.name} did not start: {proc.stdout[-500:]} {proc.stderr[-500:]}\n"
                                 + self.log_tail())

    def ctl(self, *args, stdin=None):
        """rabbitmqctl against this node; the completed process (check=True)."""
        return subprocess.run([f"{BIN}/rabbitmqctl", "-n", self.name, *args], env=self.bed.env, input=stdin,
                              capture_output=True, text=True, timeout=120, check=True)

    def queues(self, vhost):
        """``{name: type}`` of the queues in ``vhost``."""
        out = self.ctl("list_queues", "-p", vhost, "name", "type", "--formatter", "json", "--quiet").stdout
        return {q["name"]: q["type"] for q in rabbitmq.parse_json(out)}

    def log_tail(self, lines=30):
        path = os.path.join(self.dir, "log", f"{self.name}.log")
        try:
            with open(path, errors="replace") as fh:
                return "".join(fh.readlines()[-lines:])
        except OSError:
            return f"(no {path})"

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(timeout=30)


class RabbitBed:
    """``with RabbitBed(workdir, ["rmq1", "rmq2", "rmq3"]) as bed:`` three nodes started;
    brine_rabbitmq's rabbitmqctl pointed at them for the duration."""

    def __init__(self, workdir, names):
        self.workdir = workdir
        home = os.path.join(workdir, "home")
        os.makedirs(home)
        cookie = os.path.join(home, ".erlang.cookie")
        with open(cookie, "w") as fh:
            fh.write(COOKIE)
        os.chmod(cookie, 0o400)
        self.plugins_file = os.path.join(workdir, "enabled_plugins")
        with open(self.plugins_file, "w") as fh:
            fh.write("[].\n")
        self.epmd_port = free_port()
        self.env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": home, "LANG": "C.UTF-8",
                    "ERL_EPMD_ADDRESS": ADDRESS, "ERL_EPMD_PORT": str(self.epmd_port),
                    # rabbitmqctl's own distribution listener on loopback too
                    "RABBITMQ_CTL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
                    # never the host's /etc/rabbitmq/rabbitmq-env.conf
                    "RABBITMQ_CONF_ENV_FILE": os.path.join(workdir, "no-env-file")}
        self.names = names
        self.nodes = {}
        self.epmd = None
        self.saved = None

    def __enter__(self):
        try:
            self.epmd = subprocess.Popen([EPMD, "-address", ADDRESS, "-port", str(self.epmd_port)], env=self.env,
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
            self.nodes = {name: Node(self, name) for name in self.names}
            for node in self.nodes.values():
                node.start()
            for node in self.nodes.values():
                node.wait()
            self.saved = dict(brine_rabbitmq.COMMAND)
            brine_rabbitmq.COMMAND.update(ctl=f"{BIN}/rabbitmqctl", env=self.env)
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        if self.saved is not None:
            brine_rabbitmq.COMMAND.update(self.saved)
        for node in self.nodes.values():
            node.kill()
        if self.epmd is not None and self.epmd.poll() is None:
            self.epmd.kill()
            self.epmd.wait(timeout=30)

    def listeners(self):
        """``[(address, port)]`` of every TCP listener of the bed's processes (each node's and
        epmd's process group: beam.smp is a child of the rabbitmq-server script)."""
        groups = {self.epmd.pid} | {n.proc.pid for n in self.nodes.values() if n.proc}
        out = subprocess.run(["ss", "-Hltnp"], capture_output=True, text=True, check=True).stdout
        found = []
        for line in out.splitlines():
            for pid in (part.split(",")[0] for part in line.split("pid=")[1:]):
                try:
                    if os.getpgid(int(pid)) in groups:
                        address, _, port = line.split()[3].rpartition(":")
                        found.append((address.strip("[]"), int(port)))
                        break
                except (ProcessLookupError, ValueError):
                    pass
        return found
