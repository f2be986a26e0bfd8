"""
A machine that is an inventory host, for the host baseline's functional tests, built so that
nothing of this host changes:

- a network namespace holding a veth with one of the host's inventory MACs, so
  brine_inventory.this_machine() is True there (the same gate the lab's guests pass);
- inside it a private mount and UTS namespace: /etc and /var are overlays whose writes land in
  a tmpfs, /home is an empty tmpfs, and the host name is the namespace's own.

salt-call really runs the states there (useradd, sethostname, visudo, ...) and every change
disappears with the namespaces.
"""

import json
import os
import shlex
import subprocess

OVERLAID = ("/etc", "/var")
EMPTIED = ("/home",)


def run_as_host(salt_call, minion_id, mac, calls, workdir, pillar_root=None):
    """
    Run ``calls`` (salt-call argument lists; a string is a shell command whose
    ``{"retcode", "stdout", "stderr"}`` is returned instead) one after the other on a
    sandboxed machine that owns ``mac``. Returns one result per call.
    """
    ns = f"brb{os.getpid() % 100000}"
    layers = workdir / "layers"
    layers.mkdir(parents=True, exist_ok=True)
    script = [f"mount -t tmpfs brine-test {shlex.quote(str(layers))}"]
    for d in OVERLAID:
        name = d.strip("/")
        up, work = layers / f"{name}-up", layers / f"{name}-work"
        script.append(f"mkdir {up} {work}")
        script.append(f"mount -t overlay brine-test -o lowerdir={d},upperdir={up},workdir={work} {d}")
    script += [f"mount -t tmpfs brine-test {d}" for d in EMPTIED]
    outs = []
    for idx, args in enumerate(calls):
        out_file = workdir / f"host-{idx}.json"
        outs.append((out_file, isinstance(args, str)))
        if isinstance(args, str):
            script.append(
                f"( {args} ) >{out_file}.stdout 2>{out_file}.stderr; echo $? >{out_file}.rc || true"
            )
        else:
            cmd = salt_call.command(*args, minion_id=minion_id, pillar_root=pillar_root, out_file=out_file)
            script.append(" ".join(shlex.quote(a) for a in cmd) + " || true")
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        subprocess.run(
            ["ip", "-n", ns, "link", "add", "eth2", "address", mac, "type", "veth", "peer", "name", "eth2peer"],
            check=True,
        )
        proc = subprocess.run(
            ["ip", "netns", "exec", ns, "unshare", "--mount", "--uts", "--propagation", "private",
             "sh", "-ec", "\n".join(script)],
            capture_output=True, text=True, timeout=900,
        )
        assert proc.returncode == 0, proc.stderr
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=False)
    results = []
    for out_file, is_shell in outs:
        if is_shell:
            results.append({
                "retcode": int(out_file.with_suffix(".json.rc").read_text()),
                "stdout": out_file.with_suffix(".json.stdout").read_text(),
                "stderr": out_file.with_suffix(".json.stderr").read_text(),
            })
        else:
            text = out_file.read_text() if out_file.exists() else ""
            results.append(json.loads(text)["local"] if text.strip() else None)
    return results
