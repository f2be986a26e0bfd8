"""
A plan applied as one transaction: the live changes and the persistent files together, a probe
afterwards, and the previous configuration (live and on disk) restored when the probe is lost.
The safety net (like ``netplan try``) is a systemd timer that runs the Salt adapter as a script
(``rollback_pending``) and undoes a change whose apply never finished, because the minion died
between the change and the end of its probe. No Salt dunders: the adapter passes its script
path and how to find the salt-master.
"""

import json
import logging
import math
import os
import shutil
import socket
import subprocess
import sys
import time

import brinelib
from brinelib.dualbond import live, render
from brinelib.dualbond.linux import removal_linux
from brinelib.dualbond.ovs import removal_ovs
from brinelib.dualbond.render import FILE_PREFIX, GUARD_UNIT, IFUPDOWN_FILE
from brinelib.errors import CommandExecutionError, InventoryProblem

log = logging.getLogger(__name__)

SALT_MASTER_PORTS = (4506, 4505)
STATE_DIR = "/var/lib/brine/dualbond"
PENDING_FILE = "pending.json"
SAFETY_UNIT = "brine-dualbond-rollback"
SAFETY_MARGIN_SECONDS = 10


def file_changes(the_plan, config_dirs=None):
    """The persistent files to write (differing or missing) and the stale ones to remove."""
    todo = []
    files = render.persistent_files(the_plan, config_dirs)
    for path, text in files.items():
        try:
            with open(path, encoding="utf-8") as fh:
                current = fh.read()
        except FileNotFoundError:
            current = None
        if current != text:
            todo.append({"action": "file", "name": path, "detail": f"{'write' if current is None else 'update'} {path}", "text": text})
    for path in _stale_files(files, config_dirs):
        todo.append({"action": "file-remove", "name": path, "detail": f"remove stale {path}"})
    return todo


def own_files(config_dirs=None):
    """Every file in the config directories that Brine wrote for the dual bond."""
    dirs = render.config_dirs(config_dirs)
    found = []
    for directory in dirs.values():
        if not os.path.isdir(directory):
            continue
        for entry in sorted(os.listdir(directory)):
            if entry.startswith(FILE_PREFIX) or entry in (IFUPDOWN_FILE, GUARD_UNIT):
                found.append(os.path.join(directory, entry))
    return found


def _stale_files(files, config_dirs=None):
    return [p for p in own_files(config_dirs) if p not in files]


def _snapshot_files(config_dirs=None):
    out = {}
    for path in own_files(config_dirs):
        with open(path, encoding="utf-8") as fh:
            out[path] = fh.read()
    return out


def _restore_files(snapshot, config_dirs=None):
    for path in own_files(config_dirs):
        if path not in snapshot:
            os.unlink(path)
    for path, text in snapshot.items():
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(text)


def _state_dir(state_dir=None):
    return state_dir or STATE_DIR


def _saved_plan(state_dir=None):
    try:
        with open(os.path.join(_state_dir(state_dir), "applied.json"), encoding="utf-8") as fh:
            return json.load(fh)
    except FileNotFoundError:
        return None


def _save_plan(the_plan, state_dir=None):
    directory = _state_dir(state_dir)
    os.makedirs(directory, exist_ok=True)
    tmp = os.path.join(directory, "applied.json.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(the_plan, fh, indent=1, sort_keys=True)
    os.replace(tmp, os.path.join(directory, "applied.json"))


def probe_target(the_plan, master=None):
    """Where the safe-apply probe goes: the plan's probe, else the salt-master's ports."""
    if the_plan.get("probe"):
        return the_plan["probe"]
    if master:
        return {"host": master, "port": None, "ports": list(SALT_MASTER_PORTS)}
    return None


def safety_net_argv(seconds, python, script, state_dir, library_dir):
    """
    The ``systemd-run`` command that arms the safety net: a transient timer that, ``seconds``
    from now, runs ``script`` (the Salt adapter) to roll back the pending change. It runs outside the
    minion, so it still fires when the minion is killed or restarted mid-change; ``library_dir``
    (where Salt synced brinelib) is its PYTHONPATH.
    """
    return ["systemd-run", f"--unit={SAFETY_UNIT}", f"--on-active={math.ceil(seconds)}s",
            "--timer-property=AccuracySec=1s", "--description=Brine dual bond: roll back an unconfirmed change",
            f"--setenv=PYTHONPATH={library_dir}", python, script, "--rollback-pending", state_dir]


def probe(target, deadline_seconds):
    """
    True as soon as ``target`` answers within ``deadline_seconds``: a TCP connect when it has a
    port (or one of the salt-master's ports), else one ICMP echo per try (``ping``).
    """
    end = time.monotonic() + float(deadline_seconds)
    ports = target.get("ports") or ([target["port"]] if target.get("port") else [])
    while time.monotonic() < end:
        left = max(0.2, min(1.0, end - time.monotonic()))
        if ports:
            for port in ports:
                try:
                    with socket.create_connection((target["host"], port), timeout=left):
                        return True
                except OSError:
                    pass
        else:
            proc = subprocess.run(["ping", "-n", "-c", "1", "-W", str(max(1, int(left))), target["host"]],
                                  capture_output=True, timeout=left + 5)
            if proc.returncode == 0:
                return True
        time.sleep(0.1)
    return False


def planned_changes(the_plan, config_dirs=None):
    """Everything that would take this host to the plan now: the live changes, then the files."""
    return live.changes(the_plan) + file_changes(the_plan, config_dirs)


def apply(the_plan, script, test=False, config_dirs=None, state_dir=None, rollback=True, find_master=lambda: None):
    """
    Bring the dual bond to the plan and write its persistent files; with ``test=True`` only
    list what would change. A change that loses the probe (the plan's ``probe``, else the
    salt-master ``find_master()`` names, asked only when there is a change) is rolled back to
    the previous configuration, live and on disk, within ``rollback_seconds``; the safety net
    (``script --rollback-pending STATE_DIR``, see ``safety_net_argv``) does it when this
    process dies first.

    Returns ``{"changes": [...], "rolled_back": bool, "comment": str}``.
    """
    todo = planned_changes(the_plan, config_dirs)
    if test or not todo:
        return {"changes": [t["detail"] for t in todo], "rolled_back": False,
                "comment": "would change" if todo else "already as planned"}

    previous_plan = _saved_plan(state_dir)
    previous_files = _snapshot_files(config_dirs)
    target = probe_target(the_plan, find_master()) if rollback else None
    if target is not None:
        _write_pending(the_plan, previous_plan, previous_files, config_dirs, state_dir)
    done = []
    failure = None
    net = None
    try:
        done = live.execute(todo)
        live.loop_guard(the_plan)
        if the_plan["backend"] == "ovs":
            live.reselect_primary(the_plan)
    except (CommandExecutionError, OSError, subprocess.SubprocessError) as exc:
        failure = f"applying failed: {exc}"
    if failure is None and target is not None:
        net = _arm_safety_net(the_plan["rollback_seconds"] + SAFETY_MARGIN_SECONDS, script, state_dir)
        if not probe(target, the_plan["rollback_seconds"]):
            failure = f"{target['host']} did not answer within {the_plan['rollback_seconds']} s after the change"
    if failure is None:
        _save_plan(the_plan, state_dir)
        _disarm_safety_net(state_dir)
        return {"changes": done, "rolled_back": False, "comment": "applied", "safety_net": net}
    if not rollback:
        raise CommandExecutionError(failure + f"; done so far: {done}")
    restored = _roll_back(the_plan, previous_plan, previous_files, config_dirs)
    _disarm_safety_net(state_dir)
    return {"changes": [], "rolled_back": True, "comment": f"{failure}; rolled back: {restored}", "attempted": done,
            "safety_net": net}


def _pending_path(state_dir=None):
    return os.path.join(_state_dir(state_dir), PENDING_FILE)


def _write_pending(the_plan, previous_plan, previous_files, config_dirs, state_dir):
    """What the safety net needs to undo the change without Salt and without the inventory."""
    directory = _state_dir(state_dir)
    os.makedirs(directory, exist_ok=True)
    tmp = _pending_path(state_dir) + ".tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump({"plan": the_plan, "previous_plan": previous_plan, "previous_files": previous_files,
                   "config_dirs": config_dirs, "written": time.time()}, fh)
    os.replace(tmp, _pending_path(state_dir))


def _systemd_is_init():
    return os.path.isdir("/run/systemd/system") and shutil.which("systemd-run") is not None


def _arm_safety_net(seconds, script, state_dir=None):
    """Start the rollback timer; returns a description, or None where there is no systemd."""
    if not _systemd_is_init():
        return None
    live.run(["systemctl", "stop", f"{SAFETY_UNIT}.timer", f"{SAFETY_UNIT}.service"], check=False)
    live.run(["systemctl", "reset-failed", f"{SAFETY_UNIT}.service"], check=False)
    library_dir = os.path.dirname(os.path.dirname(os.path.abspath(brinelib.__file__)))
    argv = safety_net_argv(seconds, sys.executable, script, os.path.abspath(_state_dir(state_dir)), library_dir)
    proc = live.run(argv, check=False)
    if proc.returncode != 0:
        log.warning("dualbond: could not arm the rollback timer: %s", proc.stderr.strip())
        return None
    return f"{SAFETY_UNIT}.timer in {math.ceil(seconds)} s"


def _disarm_safety_net(state_dir=None):
    if os.path.exists(_pending_path(state_dir)):
        os.unlink(_pending_path(state_dir))
    if _systemd_is_init():
        live.run(["systemctl", "stop", f"{SAFETY_UNIT}.timer"], check=False)


def rollback_pending(state_dir=None):
    """
    Undo a dual-bond change whose apply never confirmed its probe (the minion died between the
    change and the end of the probe): restore the previous persistent files and the previous
    live topology. The safety-net timer runs this by itself ``rollback_seconds`` + 10 s after a
    change; it is a no-op when nothing is pending.
    """
    path = _pending_path(state_dir)
    try:
        with open(path, encoding="utf-8") as fh:
            pending = json.load(fh)
    except FileNotFoundError:
        return "nothing pending"
    restored = _roll_back(pending["plan"], pending["previous_plan"], pending["previous_files"], pending["config_dirs"])
    os.unlink(path)
    return f"rolled back an unconfirmed change: {restored}"


def _roll_back(the_plan, previous_plan, previous_files, config_dirs):
    _restore_files(previous_files, config_dirs)
    if previous_plan:
        todo = live.changes(previous_plan)
        live.execute(todo)
        live.loop_guard(previous_plan)
        return f"previous configuration re-applied ({len(todo)} changes)"
    live.execute([t for t in removal(the_plan) if not t["action"].startswith("file")])
    return "the new dual bond was removed (there was none before)"


def removal(the_plan, config_dirs=None):
    """The changes that remove the plan's devices (as ``live`` sees them now) and every file
    Brine wrote for the dual bond, the guard unit's enable links too."""
    if the_plan["backend"] == "linux":
        todo = removal_linux(the_plan, live.ip_links())
    else:
        todo = removal_ovs(the_plan, live.ovs_seen()) if shutil.which("ovs-vsctl") else []
    for path in own_files(config_dirs) + _guard_unit_links(config_dirs):
        todo.append({"action": "file-remove", "name": path, "detail": f"remove {path}"})
    return todo


def _guard_unit_links(config_dirs=None):
    """The ``*.wants/`` and ``*.requires/`` links ``systemctl enable`` made to the guard unit:
    removed with the unit, or they dangle (systemd then warns about them at every boot)."""
    directory = render.config_dirs(config_dirs)["systemd"]
    if not os.path.isdir(directory):
        return []
    links = []
    for entry in sorted(os.listdir(directory)):
        link = os.path.join(directory, entry, GUARD_UNIT)
        if entry.endswith((".wants", ".requires")) and os.path.islink(link):
            links.append(link)
    return links


def remove(the_plan, test=False, config_dirs=None, state_dir=None):
    """
    Remove the dual bond: the plan's devices (never the NICs, which are only released) and
    its persistent files.
    """
    try:
        todo = removal(the_plan, config_dirs)
    except InventoryProblem as exc:
        raise CommandExecutionError(str(exc)) from None
    if test or not todo:
        return {"changes": [t["detail"] for t in todo], "comment": "would change" if todo else "already absent"}
    done = live.execute(todo)
    saved = os.path.join(_state_dir(state_dir), "applied.json")
    if os.path.exists(saved):
        os.unlink(saved)
    return {"changes": done, "comment": "removed"}
