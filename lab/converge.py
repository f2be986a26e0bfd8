"""
The main job: converge the running lab with `salt '*' state.apply` through the lab master and
print a summary: hosts, roles, states succeeded/failed, bonds and their active members.
Exit status 0 when every host converged without a failed state.
"""

import sys
import time

from lab.core import Lab, LabError, minion_restarts

from brinelib.names import controllers, hosts_with_role  # importable through the lab package (lab/__init__.py)



def bond_texts(lab):
    """Per host, its bonds and their active members from ``dualbond.status`` (one job for every
    host with a dual bond)."""
    with_bond = [name for name, host in lab.layout.hosts.items() if host.get("dualbond")]
    if not with_bond:
        return {}
    try:
        answers = lab.salt_json(",".join(with_bond), "dualbond.status", "-L")
    except (OSError, LabError) as exc:
        return {name: f"(no answer: {exc})" for name in with_bond}
    texts = {}
    for name in with_bond:
        status = answers.get(name)
        if not isinstance(status, dict) or "bonds" not in status:
            texts[name] = f"(no answer: {str(status)[:100]})"
            continue
        texts[name] = "; ".join(f"{bond}[{status['backend']}] {spec.get('active') or 'none'} of {','.join(spec['members'])}"
                                for bond, spec in status["bonds"].items())
    return texts


def summarise(lab, results):
    failed_hosts = 0
    bonds = bond_texts(lab)
    print(f"\n{'host':<12} {'roles':<34} {'states':>6} {'ok':>4} {'changed':>7} {'failed':>6}  bonds (active member)")
    for name, host in lab.layout.hosts.items():
        result = results.get(name)
        roles = ",".join(host["roles"])
        bond_text = bonds.get(name) or "-"
        if not isinstance(result, dict):
            failed_hosts += 1
            print(f"{name:<12} {roles:<34} no state results: {str(result)[:200]}")
            continue
        states = list(result.values())
        bad = [s for s in states if s.get("result") is False]
        changed = [s for s in states if s.get("changes")]
        failed_hosts += bool(bad)
        print(f"{name:<12} {roles:<34} {len(states):>6} {len(states) - len(bad):>4} {len(changed):>7} {len(bad):>6}  {bond_text}")
        for state in bad:
            print(f"    FAILED {state.get('__id__')}: {str(state.get('comment'))[:300]}")
    return failed_hosts


def sync_extensions(lab):
    """Brine's extensions to the minions and to the master itself (the master renders the
    orchestrations, which read the inventory through brine_inventory): what README's set-up
    says, `salt '*' saltutil.sync_all` and `salt-run saltutil.sync_all`. Returns the minions'."""
    lab.salt_run("saltutil.sync_all")
    return lab.salt_json("*", "saltutil.sync_all")


def apply_highstate(lab):
    """``salt '*' state.apply`` in two steps, the bootstrap hosts first: the others' first run
    needs what they serve (the ACME runner's certbot trusts pebble's certificate, which the
    bootstrap host publishes in the Salt mine). Every host's results."""
    first = hosts_with_role(lab.layout.inventory, "bootstrap")
    rest = [name for name in lab.layout.hosts if name not in first]
    results = {}
    for group in (first, rest):
        if group:
            results.update(lab.salt_job(group, "state.apply"))
    return results


def orchestrate(lab, name):
    """``salt-run state.orchestrate NAME``: ``(failed state comments, seconds)``."""
    started = time.monotonic()
    out = lab.salt_run("state.orchestrate", name, timeout=1800)
    seconds = time.monotonic() - started
    data = out.get("data", out) if isinstance(out, dict) else out
    states = next(iter(data.values()), None) if isinstance(data, dict) and data else None
    if not isinstance(states, dict):
        return [f"{name} gave no state results: {str(out)[:500]}"], seconds
    failed = [f"{s.get('__id__')}: {str(s.get('comment'))[:300]}" for s in states.values()
              if isinstance(s, dict) and s.get("result") is False]
    return failed, seconds


def form_clusters(lab, results):
    """
    After the highstate: the minions it reconfigured have restarted, then the controllers'
    clusters are formed (or joined, or left alone when whole), Galera then RabbitMQ, each by its
    orchestration, then Keystone is set up on them (database, db_sync, keys, bootstrap). Returns ``{orchestration: (failed state comments, seconds)}``, empty when
    there is no controller.
    """
    if not controllers(lab.layout.inventory):
        return {}
    lab.wait_minion_restarts(minion_restarts(results))
    return {name: orchestrate(lab, name) for name in ("orch.galera", "orch.rabbitmq", "orch.keystone")}


def main():
    lab = Lab()
    if not lab.is_up:
        print("converge: the lab is not up (./brine-lab up)", file=sys.stderr)
        return 1
    started = time.monotonic()
    sync_extensions(lab)
    results = apply_highstate(lab)
    seconds = time.monotonic() - started
    clusters = form_clusters(lab, results)
    failed = summarise(lab, results)
    print(f"\n{len(lab.layout.hosts)} hosts converged with state.apply (the bootstrap hosts first) in {seconds:.0f} s; "
          f"{failed} with failures.")
    for name, (cluster_failed, cluster_seconds) in clusters.items():
        print(f"{', '.join(controllers(lab.layout.inventory))}: salt-run state.orchestrate {name} in {cluster_seconds:.0f} s; "
              + ("ok." if not cluster_failed else "FAILED:\n    " + "\n    ".join(cluster_failed)))
    return 1 if failed or any(cluster_failed for cluster_failed, _ in clusters.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
