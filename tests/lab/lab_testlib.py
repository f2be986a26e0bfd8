"""Helpers of the lab tests."""

import pytest
from brine_testlib import wait_for


def host_view(layout):
    """What of the host this checkout's lab could leave behind: interfaces of the names it
    uses, mounts under its directories, its network namespace. (Only the lab's own: other
    checkouts may run labs and tests on this machine at the same time.)"""
    import re
    import subprocess

    def out(*cmd):
        return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout

    links = [line.split(":")[1].strip().split("@")[0] for line in out("ip", "-o", "link").splitlines()]
    paths = (str(layout.run_dir), str(layout.data_dir))
    return {
        "links": sorted(name for name in links if re.fullmatch(r"ctlbr|labsw|ctl\d+|sw\d+p\d+|(up|sw|br)-eth\d+", name)),
        "mounts": sorted(m for m in (line.split()[4] for line in open("/proc/self/mountinfo")) if m.startswith(paths)),
        "netns": sorted(n for n in out("ip", "netns", "list").split() if n == layout.netns),
    }


def failed_states(results, hosts):
    """{host: {state id: comment}} of every host that returned no results or a failed state."""
    failed = {}
    for name in hosts:
        states = results.get(name)
        if not isinstance(states, dict):
            failed[name] = {"(no state results)": str(states)[:500]}
            continue
        bad = {sid: s["comment"] for sid, s in states.items() if s["result"] is not True}
        if bad:
            failed[name] = bad
    return failed



def wait_until(what, predicate, timeout, interval=2.0, detail=None):
    """Poll ``predicate`` until it returns something true and return that; fail naming
    ``what`` and the last value (or what ``detail()`` says) after ``timeout`` seconds."""
    value = wait_for(predicate, timeout, interval)
    if not value:
        pytest.fail(f"timed out after {timeout} s waiting for {what}; last: {detail() if detail else value!r}")
    return value


def wsrep(lab, host):
    """This controller's Galera status variables (empty when mariadb does not answer)."""
    out = lab.exec(host, "mariadb -N -B -e \"SHOW GLOBAL STATUS WHERE Variable_name IN "
                         "('wsrep_cluster_size','wsrep_local_state','wsrep_cluster_status','wsrep_ready')\" 2>/dev/null").output
    return dict(line.split("\t", 1) for line in out.strip().splitlines() if "\t" in line)


def galera_whole(lab, hosts):
    """Every one of ``hosts`` Synced in a cluster of them all: their wsrep variables, else None."""
    states = {h: wsrep(lab, h) for h in hosts}
    ok = all(s.get("wsrep_cluster_size") == str(len(hosts)) and s.get("wsrep_local_state") == "4"
             for s in states.values())
    return states if ok else None
