"""
The main job: converge the running lab with `salt '*' state.apply` through the lab master and
print a summary: hosts, roles, states succeeded/failed, bonds and their active members.
Exit status 0 when every host converged without a failed state.
"""

import sys
import time

from lab.core import Lab, LabError, minion_restarts

BOND_REPORT = r"""
for f in /proc/net/bonding/*; do
  [ -e "$f" ] || continue
  printf 'linux %s active=%s members=%s\n' "${f##*/}" \
    "$(sed -n 's/^Currently Active Slave: //p' "$f")" \
    "$(sed -n 's/^Slave Interface: //p' "$f" | paste -sd, -)"
done
if pidof ovs-vswitchd >/dev/null 2>&1; then
  for b in $(ovs-appctl bond/list 2>/dev/null | awk 'NR > 1 {print $1}'); do
    printf 'ovs %s active=%s members=%s\n' "$b" \
      "$(ovs-appctl bond/show "$b" | sed -n 's/^active member mac.*(\(.*\))$/\1/p; s/^active slave mac.*(\(.*\))$/\1/p' | head -1)" \
      "$(ovs-appctl bond/show "$b" | sed -n 's/^member \([^:]*\):.*/\1/p; s/^slave \([^:]*\):.*/\1/p' | paste -sd, -)"
  done
fi
"""


def summarise(lab, results):
    failed_hosts = 0
    print(f"\n{'host':<12} {'roles':<34} {'states':>6} {'ok':>4} {'changed':>7} {'failed':>6}  bonds (active member)")
    for name, host in lab.layout.hosts.items():
        result = results.get(name)
        roles = ",".join(host["roles"])
        bonds = []
        try:
            for line in lab.exec(name, BOND_REPORT, timeout=60).output.splitlines():
                kind, bond, active, members = line.split(" ", 3)
                bonds.append(f"{bond}[{kind}] {active.removeprefix('active=') or 'none'} of {members.removeprefix('members=')}")
        except (OSError, LabError) as exc:
            bonds.append(f"(no answer: {exc})")
        bond_text = "; ".join(bonds) or "-"
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


def controllers(lab):
    return [name for name, host in lab.layout.hosts.items() if "controller" in host["roles"]]


def form_galera(lab, results):
    """
    After the highstate: the minions it reconfigured have restarted, then the Galera cluster is
    formed (or joined, or left alone when whole) by ``salt-run state.orchestrate orch.galera``.
    Returns ``(failed state comments, seconds)``; ``([], 0)`` when there is no controller.
    """
    if not controllers(lab):
        return [], 0.0
    lab.wait_minion_restarts(minion_restarts(results))
    started = time.monotonic()
    out = lab.salt_run("state.orchestrate", "orch.galera", timeout=1800)
    seconds = time.monotonic() - started
    data = out.get("data", out) if isinstance(out, dict) else out
    states = next(iter(data.values()), None) if isinstance(data, dict) and data else None
    if not isinstance(states, dict):
        return [f"orch.galera gave no state results: {str(out)[:500]}"], seconds
    failed = [f"{s.get('__id__')}: {str(s.get('comment'))[:300]}" for s in states.values()
              if isinstance(s, dict) and s.get("result") is False]
    return failed, seconds


def main():
    lab = Lab()
    if not lab.is_up:
        print("converge: the lab is not up (./brine-lab up)", file=sys.stderr)
        return 1
    started = time.monotonic()
    lab.salt_json("*", "saltutil.sync_all")
    results = lab.salt_json("*", "state.apply")
    seconds = time.monotonic() - started
    galera_failed, galera_seconds = form_galera(lab, results)
    failed = summarise(lab, results)
    print(f"\n{len(lab.layout.hosts)} hosts converged with salt '*' state.apply in {seconds:.0f} s; "
          f"{failed} with failures.")
    if controllers(lab):
        print(f"Galera on {', '.join(controllers(lab))}: salt-run state.orchestrate orch.galera in {galera_seconds:.0f} s; "
              + ("ok." if not galera_failed else "FAILED:\n    " + "\n    ".join(galera_failed)))
    return 1 if failed or galera_failed else 0


if __name__ == "__main__":
    sys.exit(main())
