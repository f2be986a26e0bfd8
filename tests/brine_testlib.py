"""Shared test helpers: where the checkout is, and how to run salt-call against it."""

import configparser
import importlib.util
import json
import os
import random
import shlex
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent


def _import_path():
    ini = configparser.ConfigParser(interpolation=None)
    ini.read(REPO / "pytest.ini", encoding="utf-8")
    return [str(REPO / entry) for entry in ini["pytest"]["pythonpath"].split()]


# Where the tests import from (pytest.ini's ``pythonpath``), for Python started outside pytest:
# scripts run in UML guests and mount namespaces (set PYTHONPATH) and the benchmarks.
IMPORT_PATH = _import_path()
PYTHONPATH = os.pathsep.join(IMPORT_PATH)


def load_module(path, name):
    """Import the Python file ``path`` as a plain module called ``name`` (a script, a file
    shipped as a state's data, or an extension whose name other extension kinds reuse)."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_extension(kind, name):
    """Import ``_<kind>/<name>.py`` from the checkout as a plain Python module."""
    return load_module(REPO / f"_{kind}" / f"{name}.py", f"brine_test_{kind}_{name}")


_PORTS_GIVEN = set()


def free_port(address="127.0.0.1"):
    """
    A TCP port free on ``address`` now, for a server a test starts: below the kernel's ephemeral
    range, so no outgoing connection (a node's distribution client, rabbitmqctl, ...) takes it
    before the server binds it, and never one this process handed out before.
    """
    with open("/proc/sys/net/ipv4/ip_local_port_range") as fh:
        ephemeral_low = int(fh.read().split()[0])
    candidates = [port for port in range(10000, ephemeral_low) if port not in _PORTS_GIVEN]
    random.shuffle(candidates)
    for port in candidates:
        with socket.socket() as sock:
            try:
                sock.bind((address, port))
            except OSError:
                continue
        _PORTS_GIVEN.add(port)
        return port
    raise RuntimeError(f"no free TCP port on {address} between 10000 and {ephemeral_low}")


def recv_until(sock, suffix):
    """Read from ``sock`` until what came ends with ``suffix`` or the peer closed; all of it."""
    data = b""
    while not data.endswith(suffix):
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def render_file(path, **context):
    """A file of the state tree rendered as Salt's jinja renderer would (its ``quote`` filter is
    shlex.quote), with ``context``."""
    import jinja2

    env = jinja2.Environment(keep_trailing_newline=True, undefined=jinja2.StrictUndefined)
    env.filters["quote"] = shlex.quote
    return env.from_string(Path(path).read_text(encoding="utf-8")).render(**context)


def wait_for(predicate, timeout=30.0, interval=0.2):
    """Poll ``predicate`` until it returns something true; return it (or, after ``timeout``
    seconds, the last falsy value)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


def sourced(text):
    """The variables a file sets when sh sources it (``/etc/default/*``, ``profile.d``)."""
    import tempfile

    with tempfile.NamedTemporaryFile("w", suffix=".sh") as fh:
        fh.write(text)
        fh.flush()
        proc = subprocess.run(["sh", "-c", 'set -a; . "$1"; env -0', "sh", fh.name],
                              env={}, capture_output=True, text=True, timeout=30, check=True)
    return dict(item.split("=", 1) for item in proc.stdout.split("\0") if "=" in item)


def example_inventory():
    """A fresh copy of the shipped example lab inventory."""
    with open(REPO / "pillar" / "brine" / "example-lab.yaml", encoding="utf-8") as fh:
        return yaml.safe_load(fh)


class SaltCall:
    """
    Runs the venv's salt-call masterless against the checkout, the way the Saltfile does, but
    with Salt's own cache, PKI and logs in a temporary directory so tests leave the host alone.
    """

    def __init__(self, workdir):
        self.workdir = Path(workdir)
        self.config_dir = self.workdir / "etc"
        self.config_dir.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / "etc" / "minion", self.config_dir / "minion")
        with open(self.config_dir / "minion", "a", encoding="utf-8") as fh:
            fh.write(
                "\n# test isolation\n"
                f"cachedir: {self.workdir / 'cache'}\n"
                f"pki_dir: {self.workdir / 'pki'}\n"
                f"sock_dir: {self.workdir / 'sock'}\n"
                f"log_file: {self.workdir / 'minion.log'}\n"
                "log_level_logfile: info\n"
            )

    def pillar_root_with(self, inventory):
        """A pillar root that holds the shipped pillar files but ``inventory`` as the lab."""
        root = self.workdir / "pillar"
        if root.exists():
            shutil.rmtree(root)
        shutil.copytree(REPO / "pillar", root)
        with open(root / "brine" / "example-lab.yaml", "w", encoding="utf-8") as fh:
            yaml.safe_dump(inventory, fh)
        return root

    def command(self, *args, minion_id="ubuntu1", pillar_root=None, out_file=None):
        cmd = [
            str(VENV_BIN / "salt-call"),
            "--local",
            "-c", str(self.config_dir),
            "--file-root", str(REPO / "salt"),
            "--pillar-root", str(pillar_root or REPO / "pillar"),
            "-m", str(REPO),
            "--id", minion_id,
            "--out", "json",
            "-l", "quiet",
        ]
        if out_file:
            cmd += ["--out-file", str(out_file)]
        return cmd + list(args)

    def __call__(self, *args, check=True, **kwargs):
        """Run one salt-call; return (its JSON 'local' result or None, the CompletedProcess)."""
        proc = subprocess.run(self.command(*args, **kwargs), cwd=REPO, capture_output=True, text=True, timeout=300)
        out = _local(proc.stdout)
        if check and out is None:
            raise AssertionError(f"salt-call {' '.join(args)} gave no JSON (rc={proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
        return out, proc

    def in_sandbox(self, dirs, calls, **kwargs):
        """
        Run several salt-calls one after the other in a private mount namespace with an empty
        tmpfs over each of ``dirs``: the states really run, and the host's files stay untouched.
        Returns the list of JSON results.
        """
        script = [f"mkdir -p {d} && mount -t tmpfs brine-test {d}" for d in dirs]
        outs = []
        for idx, args in enumerate(calls):
            out_file = self.workdir / f"out-{idx}.json"
            outs.append(out_file)
            script.append(" ".join(shlex.quote(a) for a in self.command(*args, out_file=out_file, **kwargs)) + " || true")
        for d in dirs:
            script.append(f"find {d} -type f | sort > {self.workdir / ('files' + d.replace('/', '_'))}")
        proc = subprocess.run(
            ["unshare", "--mount", "--propagation", "private", "sh", "-ec", "\n".join(script)],
            cwd=REPO, capture_output=True, text=True, timeout=600,
        )
        assert proc.returncode == 0, proc.stderr
        return [_local(f.read_text()) if f.exists() else None for f in outs]

    def files_left_in(self, d):
        """The files the last in_sandbox run left under ``d``."""
        return (self.workdir / ("files" + d.replace("/", "_"))).read_text().split()


def _local(text):
    try:
        return json.loads(text)["local"] if text.strip() else None
    except (ValueError, KeyError):
        return None




def show_sls(salt_call, sls, pillar=None, minion_id="ubuntu1", netns=None):
    """``salt-call --local state.show_sls <sls>`` as ``minion_id`` with ``pillar``, inside the
    network namespace ``netns`` when given (one whose NIC carries an inventory MAC makes
    brine_inventory.this_machine() True there); the rendered states."""
    extra = [f"pillar={json.dumps(pillar)}"] if pillar else []
    cmd = salt_call.command("state.show_sls", sls, *extra, minion_id=minion_id)
    if netns:
        cmd = ["ip", "netns", "exec", netns] + cmd
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=300)
    out = _local(proc.stdout)
    assert isinstance(out, dict), (proc.stdout[-2000:], proc.stderr[-2000:])
    return out


def state_args(state):
    """The arguments of one rendered state (``show_sls``'s value for an id), merged."""
    fun = next(k for k in state if not k.startswith("__"))
    merged = {}
    for item in state[fun]:
        if isinstance(item, dict):
            merged.update(item)
    return merged


def requisites(state, kind="require"):
    """``[(state module, id)]`` of one rendered state's ``kind`` requisites (require, watch, ...)."""
    return [next(iter(item.items())) for item in state_args(state).get(kind, [])]


class ControllerNetns:
    """
    Network namespaces each holding an ``eth2`` with a controller's inventory MAC (so
    brine_inventory.this_machine() is True inside): ``make(minion_id)`` returns one's name,
    ``remove()`` deletes them all.
    """

    MACS = {"ubuntu1": "52:54:00:10:01:02", "ubuntu2": "52:54:00:10:02:02"}

    def __init__(self, prefix):
        self.prefix = prefix
        self.made = []

    def make(self, minion_id):
        name = f"{self.prefix}{os.getpid() % 100000}{len(self.made)}"
        subprocess.run(["ip", "netns", "add", name], check=True)
        self.made.append(name)
        subprocess.run(["ip", "-n", name, "link", "add", "eth2", "address", self.MACS[minion_id], "type", "veth",
                        "peer", "name", "np0"], check=True)
        return name

    def remove(self):
        for name in self.made:
            subprocess.run(["ip", "netns", "del", name], check=False)


class Clock:
    """Laps of a long functional test, printed by ``report()``."""

    def __init__(self, title):
        self.title = title
        self.start = self.last = time.monotonic()
        self.laps = []

    def lap(self, what):
        now = time.monotonic()
        self.laps.append((what, now - self.last))
        self.last = now

    def report(self):
        print(f"\n{self.title}:")
        for what, seconds in self.laps:
            print(f"  {what:<55} {seconds:6.1f} s")
        print(f"  {'total':<55} {time.monotonic() - self.start:6.1f} s")


def write_outbox_put(path, outbox):
    """salt/brine/files/brine-outbox-put.jinja rendered at ``path`` (executable), writing to ``outbox``."""
    Path(path).write_text(render_file(REPO / "salt" / "brine" / "files" / "brine-outbox-put.jinja", outbox=str(outbox)))
    os.chmod(path, 0o755)
