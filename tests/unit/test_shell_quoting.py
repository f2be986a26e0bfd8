"""
Values rendered into text a shell runs are quoted: the ifupdown lines of the dual bond (ifupdown
hands each one to ``sh -c``) and the minion-restart script. Each line is run by a real sh with
stub commands that log their arguments: hostile names arrive as single arguments, nothing else runs.
"""

import os
import shlex
import subprocess
import threading
import time

import brine_inventory
import dualbond
import jinja2
import pytest
from brine_testlib import REPO, example_inventory

HOSTILE = ["e;touch m", "f`touch n`"]  # accepted by the kernel, refused by the inventory
STUBBED = ("ip", "tc", "bridge", "ovs-ofctl", "systemctl", "sleep")


@pytest.fixture
def stub_shell(tmp_path):
    """run(script) -> (returncode, [argv logged by the stubs]); cwd is an empty directory."""
    bin_dir, work = tmp_path / "bin", tmp_path / "work"
    bin_dir.mkdir()
    work.mkdir()
    log = tmp_path / "argv.log"
    for name in STUBBED:
        stub = bin_dir / name
        stub.write_text(f'#!/bin/sh\n{{ printf "%s" {name}; for a in "$@"; do printf "\\037%s" "$a"; done; echo; }} >> {log}\n')
        stub.chmod(0o755)

    def run(script):
        env = {"PATH": f"{bin_dir}:/usr/bin:/bin"}
        proc = subprocess.run(["sh", "-c", script], cwd=work, env=env, capture_output=True, text=True, timeout=30)
        calls = [line.split("\x1f") for line in log.read_text().splitlines()] if log.exists() else []
        return proc, calls, sorted(os.listdir(work))

    return run


def hostile_plan(backend):
    inv = brine_inventory.normalise(example_inventory())
    host = inv["hosts"]["ubuntu1"]
    renamed = dict(zip(["eth2", "eth3"], HOSTILE))
    host["nics"] = {renamed[k]: v for k, v in host["nics"].items()}
    host["dualbond"] = {**host["dualbond"], "nics": HOSTILE, "backend": backend, "network_config": "ifupdown"}
    host["dualbond"].pop("link_detect", None)
    for att in host["networks"].values():
        att["nic"] = renamed.get(att["nic"], att["nic"])
    return dualbond.build_plan(host, inv["networks"], "ubuntu1")


@pytest.mark.parametrize("backend", ["linux", "ovs"])
def test_every_ifupdown_command_line_passes_names_as_single_arguments(stub_shell, backend):
    the_plan = hostile_plan(backend)
    text = dualbond.ifupdown_files(the_plan)[dualbond.IFUPDOWN_FILE]
    commands = [line.split(None, 1)[1] for line in text.splitlines()
                if line.startswith("    ") and line.split(None, 1)[0] in ("pre-up", "up", "post-up", "down", "post-down")]
    assert commands
    for command in commands:
        proc, calls, left = stub_shell(command)
        assert proc.returncode == 0, (command, proc.stderr)
        assert left == [], (command, left)  # no file made by an injected command or a redirection
    proc, calls, _ = stub_shell("true")
    assert len(calls) == len(commands)
    args = {a for call in calls for a in call}
    assert set(HOSTILE) <= args
    if backend == "ovs":  # the guard flows hold '->', which unquoted was a redirection
        assert any(a.endswith("->pkt_mark,NORMAL") for a in args)


def render_restart_script(**context):
    source = (REPO / "salt" / "brine" / "files" / "restart-minion.sh").read_text()
    env = jinja2.Environment(undefined=jinja2.StrictUndefined)
    env.filters["quote"] = shlex.quote  # Salt's own `quote` filter is shlex.quote
    return env.from_string(source).render(**context)


def test_restart_script_quotes_the_service_and_the_job_directory(stub_shell, tmp_path):
    proc_dir = tmp_path / "cache dir" / "proc"
    proc_dir.mkdir(parents=True)
    service = "salt-minion;touch m"
    script = render_restart_script(service=service, proc_dir=str(proc_dir), max_wait=0)
    proc, calls, left = stub_shell(script)
    assert proc.returncode == 0, proc.stderr
    assert left == []
    assert calls[0] == ["systemctl", "show", "-P", "ExecMainStartTimestamp", service]
    assert calls[-1] == ["systemctl", "restart", service]


def job_file(proc_dir, jid, pid):
    """A minion job file as Salt writes it (a msgpack map holding the job's pid), written after
    the minion started (its mtime ahead of the script's reference time)."""
    import msgpack

    path = proc_dir / jid
    path.write_bytes(msgpack.packb({"fun": "state.apply", "pid": pid, "jid": jid, "tgt": "salt-call"}))
    ahead = time.time() + 60
    os.utime(path, (ahead, ahead))
    return path


@pytest.fixture
def restart_script(tmp_path):
    """run() -> (seconds the script took, its last systemctl call): the restart script with a
    stub systemctl and the real sleep, over the job directory ``tmp_path/proc``."""
    proc_dir, bin_dir = tmp_path / "proc", tmp_path / "bin"
    proc_dir.mkdir()
    bin_dir.mkdir()
    log = tmp_path / "systemctl.log"
    (bin_dir / "systemctl").write_text(f'#!/bin/sh\necho "$*" >> {log}\n')
    (bin_dir / "systemctl").chmod(0o755)
    script = render_restart_script(service="salt-minion", proc_dir=str(proc_dir), max_wait=20)

    def run():
        started = time.monotonic()
        proc = subprocess.run(["sh", "-c", script], env={"PATH": f"{bin_dir}:/usr/bin:/bin"}, capture_output=True,
                              text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        return time.monotonic() - started, log.read_text().splitlines()[-1]

    run.proc_dir = proc_dir
    return run


def test_restart_script_waits_for_a_running_job_and_not_for_one_whose_process_is_gone(restart_script):
    # a salt-call killed by its timeout left its job file: the restart does not wait for it
    gone = subprocess.Popen(["true"])
    gone.wait()
    job_file(restart_script.proc_dir, "20261206141910123848", gone.pid)
    took, last = restart_script()
    assert last == "restart salt-minion" and took < 8  # its own 1 s + 2 s pauses, no waiting
    # a job that still runs holds the restart until its file goes: pid 1 (msgpack's one-byte
    # form) and a live process's pid (its two- or four-byte form)
    with subprocess.Popen(["sleep", "60"]) as running:
        for pid in (1, running.pid):
            job = job_file(restart_script.proc_dir, "20261206141910999999", pid)
            threading.Timer(6, job.unlink).start()
            took, last = restart_script()
            assert last == "restart salt-minion" and took >= 6 + 2, pid
        running.kill()


def test_restart_script_waits_for_a_job_file_whose_pid_it_cannot_read(restart_script):
    job = restart_script.proc_dir / "20261206141910123848"
    job.write_bytes(b"not msgpack")
    ahead = time.time() + 60
    os.utime(job, (ahead, ahead))
    threading.Timer(6, job.unlink).start()
    took, last = restart_script()
    assert last == "restart salt-minion" and took >= 6 + 2
