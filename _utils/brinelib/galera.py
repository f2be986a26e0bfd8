"""
The MariaDB Galera recovery and formation of the controllers, decided from every node's position
and carried out through a ``call(targets, function, args)`` the caller gives (the brine
runner's ``salt.execute``): :func:`plan_recovery` decides a full-outage recovery (the highest
seqno bootstraps, only its ``grastate.dat`` is edited) or refuses naming the node and the
reason, fail-closed; :func:`plan_formation` forms a cluster on a clean slate;
:func:`run_recovery` and :func:`run_formation` carry a plan out one node at a time, each waited
for until Synced. The controllers' own side (positions, status, bootstrap) is
_modules/brine_galera.py; docs/galera.md says how the two meet.
"""

import re
import time

ZERO_UUID = "00000000-0000-0000-0000-000000000000"
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
# The largest seqno Galera writes (int64); anything beyond is garbage.
SEQNO_MAX = 2**63 - 1
# wsrep_local_state -> its name (what Galera's own status calls each state).
LOCAL_STATES = {1: "Joining", 2: "Donor/Desynced", 3: "Joined", 4: "Synced"}
REASON_MAX = 300


def reason_text(text, limit=REASON_MAX):
    """``text`` on one line, cut to ``limit`` characters: what a plan or a step quotes of an answer."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def unreadable(reason):
    """The position of a node whose position is not known, and why."""
    return {"state": "unreadable", "reason": reason_text(reason)}



# --------------------------------------------------------------------------- pure: the planner


def _check_position(node, position):
    """A position as the planner uses it: bad shapes become unreadable (the minions' data)."""
    if not isinstance(position, dict):
        return unreadable(f"no position from {node} (no answer from its minion)")
    state = position.get("state")
    if state == "unreadable":
        return unreadable(position.get("reason") or "unreadable, no reason given")
    if state == "running":
        return {"state": "running", "cluster_status": str(position.get("wsrep_cluster_status")),
                "local_state": str(position.get("wsrep_local_state"))}
    if state != "down":
        return unreadable(f"position of unknown state {str(state)[:40]!r}")
    uuid, seqno, safe = position.get("uuid"), position.get("seqno"), position.get("safe_to_bootstrap", 0)
    if not isinstance(uuid, str) or not UUID.match(uuid):
        return unreadable(f"malformed uuid {str(uuid)[:60]!r}")
    if isinstance(seqno, bool) or not isinstance(seqno, int) or not -1 <= seqno <= SEQNO_MAX:
        return unreadable(f"malformed seqno {str(seqno)[:30]!r}")
    if safe not in (0, 1) or isinstance(safe, bool):
        return unreadable(f"malformed safe_to_bootstrap {str(safe)[:30]!r}")
    source = position.get("source", "grastate")
    if seqno == -1 and source != "wsrep-recover":
        return unreadable("seqno -1 in grastate.dat (unclean stop) and no wsrep-recover position")
    return {"state": "down", "uuid": uuid, "seqno": seqno, "safe_to_bootstrap": safe, "source": source}


def _refusal(reason, node, positions, **more):
    return {"refused": True, "reason": reason, "node": node, "positions": positions, **more}


def plan_recovery(nodes, positions, force=None):
    """
    Decide a full-outage recovery. ``nodes``: the controllers in inventory order; ``positions``:
    ``{node: position}`` as :func:`position` returns them (a node without one counts as
    unreadable). ``force``: a controller to bootstrap although some positions are unknown.

    Returns a plan ``{"refused": False, "bootstrap": N, "edit_grastate": N, "start": [...],
    "expect": {"uuid", "seqno"}, "reason", "forced", "positions"}`` or a refusal ``{"refused":
    True, "reason", "node", "positions"}`` (``"full_outage": False`` when a node still runs in a
    Primary component: nothing to recover). Fails closed: it refuses when any node's position
    is unknown (unless ``force``), when the nodes come from different clusters (UUIDs differ),
    when the node that would bootstrap has the zero UUID (an empty cluster), and when ``force``
    names a node that is not a controller, whose position is unknown or that is behind another.
    """
    nodes = list(nodes)
    if not nodes:
        return _refusal("no controllers in the inventory", None, {})
    if len(set(nodes)) != len(nodes):
        return _refusal("a controller is listed twice", None, {})
    checked = {node: _check_position(node, (positions or {}).get(node)) for node in nodes}
    if force is not None and force not in nodes:
        return _refusal(f"force={force!r} is not one of the inventory's controllers ({', '.join(nodes)})",
                        str(force)[:100], checked)

    primary = [n for n in nodes if checked[n]["state"] == "running" and checked[n]["cluster_status"] == "Primary"]
    if primary:
        down = [n for n in nodes if checked[n]["state"] != "running"]
        return _refusal(f"not a full outage: {primary[0]} is running in a Primary component; nodes that are down "
                        "rejoin it when started", primary[0], checked, full_outage=False, primary=primary, down=down)
    running = [n for n in nodes if checked[n]["state"] == "running"]
    for node in running:
        # A running node's position is in memory only: it is unknown until the node stops.
        checked[node] = unreadable(f"mariadbd is running but not in a Primary component "
                                   f"(wsrep_cluster_status {checked[node]['cluster_status']}); stop it first")
    if force is not None and force in running:
        return _refusal(f"force={force}: mariadbd is running there; stop it first", force, checked)

    unknown = [n for n in nodes if checked[n]["state"] == "unreadable"]
    known = [n for n in nodes if checked[n]["state"] == "down"]
    if unknown and force is None:
        first = unknown[0]
        return _refusal(f"position of {first} unknown: {checked[first]['reason']}; nothing done "
                        f"(after checking, salt-run brine.galera_recover force=<node>)", first, checked,
                        unknown=unknown)
    if force is not None and force in unknown:
        return _refusal(f"force={force}: its own position is unknown ({checked[force]['reason']}); "
                        "force a node whose position is known", force, checked)
    if not known:
        return _refusal("no node's position is known", nodes[0], checked)

    real = [n for n in known if checked[n]["uuid"] != ZERO_UUID]
    empty = [n for n in known if checked[n]["uuid"] == ZERO_UUID]
    for node in empty:
        if checked[node]["seqno"] != -1:
            return _refusal(f"{node} has the zero UUID but seqno {checked[node]['seqno']}: its state is inconsistent",
                            node, checked)
    uuids = sorted({checked[n]["uuid"] for n in real})
    if len(uuids) > 1:
        owners = "; ".join(f"{u}: {', '.join(n for n in real if checked[n]['uuid'] == u)}" for u in uuids)
        first_other = next(n for n in real if checked[n]["uuid"] != checked[real[0]]["uuid"])
        return _refusal(f"the nodes belong to different clusters ({owners})", first_other, checked)
    if not real:
        zero = force or empty[0]
        return _refusal(f"{zero} would bootstrap with the zero UUID {ZERO_UUID}: an empty cluster, every node's data "
                        "lost to SST; nothing done", zero, checked)

    top = max(checked[n]["seqno"] for n in real)
    leaders = [n for n in real if checked[n]["seqno"] == top]
    if force is not None:
        if force in empty:
            return _refusal(f"force={force} has the zero UUID: it would bootstrap an empty cluster", force, checked)
        if checked[force]["seqno"] < top:
            return _refusal(f"force={force} has seqno {checked[force]['seqno']} but {leaders[0]} has {top}: "
                            "bootstrapping it would lose transactions", force, checked)
        chosen = force
        why = (f"forced by the operator: {force} (seqno {top}) bootstraps although the position of "
               f"{', '.join(unknown)} is unknown" if unknown else f"forced by the operator: {force} (seqno {top})")
    elif len(leaders) == 1:
        chosen = leaders[0]
        why = f"{chosen} has the highest seqno ({top})"
    else:
        safe = [n for n in leaders if checked[n]["safe_to_bootstrap"] == 1]
        if safe:
            chosen = safe[0]
            why = f"{', '.join(leaders)} share the highest seqno ({top}); {chosen} has safe_to_bootstrap: 1"
        else:
            chosen = leaders[0]
            why = f"{', '.join(leaders)} share the highest seqno ({top}); {chosen} is first in inventory order"
    if empty:
        why += f"; {', '.join(empty)} (no state) will join by SST"
    return {
        "refused": False,
        "bootstrap": chosen,
        "edit_grastate": chosen,
        "start": [n for n in nodes if n != chosen],
        "expect": {"uuid": checked[chosen]["uuid"], "seqno": checked[chosen]["seqno"]},
        "reason": why,
        "forced": force is not None,
        "positions": checked,
    }


def plan_formation(nodes, statuses):
    """
    Cluster formation (salt/orch/galera.sls, :func:`formation`): ``{"bootstrap": node or None,
    "join": [nodes]}``. A cluster exists when any node is running in a Primary component; then
    nobody bootstraps and the nodes not synced join it. When no node runs at all and none has
    ever held a cluster state (``has_state`` False everywhere), the first controller bootstraps.
    Anything else (a node with state but no running cluster) is a recovery, not a formation:
    ``{"refused": reason}``.
    """
    nodes = list(nodes)
    primary = [n for n in nodes if (statuses.get(n) or {}).get("wsrep_cluster_status") == "Primary"]
    if primary:
        return {"bootstrap": None, "join": [n for n in nodes if not (statuses.get(n) or {}).get("synced")]}
    with_state = [n for n in nodes if (statuses.get(n) or {}).get("has_state", True)]
    running = [n for n in nodes if (statuses.get(n) or {}).get("running")]
    if running:
        return {"refused": f"{running[0]} runs mariadbd outside a Primary component: not a new cluster"}
    if with_state:
        return {"refused": f"{with_state[0]} holds Galera state from an earlier cluster (or did not answer): "
                           "that is a recovery (salt-run brine.galera_recover), not a formation"}
    return {"bootstrap": nodes[0] if nodes else None, "join": nodes[1:]}


# --------------------------------------------------------------------------- the recovery driver


def _as_position(answer):
    """A minion's answer to ``brine_galera.position`` as the planner takes it."""
    if isinstance(answer, dict):
        return answer
    if answer is None:
        return None
    return unreadable(f"the minion's brine_galera.position failed: {answer}")


def _wait_synced(node, call, sleep, timeout, interval=2.0):
    waited = 0.0
    last = None
    while waited <= timeout:
        last = (call([node], "brine_galera.status", []) or {}).get(node)
        if isinstance(last, dict) and last.get("synced"):
            return True, last
        sleep(interval)
        waited += interval
    return False, last


def run_recovery(nodes, call, force=None, trigger=None, sleep=None, timeout=300, on_decision=None):
    """
    Carry out a full-outage recovery through ``call(targets, function, args) -> {minion:
    return}`` (the runner's ``salt.execute``): every controller's position, :func:`plan_recovery`,
    then in order: ``brine_galera.bootstrap`` on the chosen node, wait until it is Synced, then
    ``brine_galera.start`` on each other node, one at a time, each waited for. When a node runs
    in a Primary component (no full outage), the stopped ``trigger`` node (or, run by hand,
    every node that is down) is started to rejoin it. ``on_decision(summary)`` is called with
    the decision before anything runs. Returns ``{"decision", "plan", "steps", "outcome"}``.
    """
    sleep = sleep or time.sleep
    answers = call(nodes, "brine_galera.position", []) or {}
    positions = {node: _as_position(answers.get(node)) for node in nodes}
    plan = plan_recovery(nodes, positions, force=force)
    steps = []
    if plan["refused"] and plan.get("full_outage") is False:
        if trigger is not None:
            todo = [trigger] if trigger in plan["down"] else []
        else:
            todo = list(plan["down"])
        decision = "rejoin" if todo else "nothing"
        targets = todo
    elif plan["refused"]:
        decision, targets = "refused", []
    else:
        decision, targets = "bootstrap", [plan["bootstrap"]] + plan["start"]
    if on_decision:
        on_decision({"decision": decision, "plan": plan, "targets": targets})
    if decision == "refused":
        return {"decision": decision, "plan": plan, "steps": steps, "outcome": "refused"}
    for number, node in enumerate(targets):
        if decision == "bootstrap" and number == 0:
            fun, args = "brine_galera.bootstrap", [plan["expect"]["uuid"], plan["expect"]["seqno"]]
        else:
            fun, args = "brine_galera.start", []
        answer = (call([node], fun, args) or {}).get(node)
        if not isinstance(answer, dict):
            steps.append({"node": node, "action": fun, "ok": False, "detail": reason_text(answer)})
            return {"decision": decision, "plan": plan, "steps": steps, "outcome": f"failed: {fun} on {node}"}
        synced, last = _wait_synced(node, call, sleep, timeout)
        steps.append({"node": node, "action": fun, "ok": synced,
                      "detail": (last or {}).get("health") if isinstance(last, dict) else reason_text(last)})
        if not synced:
            return {"decision": decision, "plan": plan, "steps": steps,
                    "outcome": f"failed: {node} not Synced within {timeout} s"}
    return {"decision": decision, "plan": plan, "steps": steps, "outcome": "done" if targets else "nothing to do"}


def run_formation(nodes, call, sleep=None, timeout=300):
    """
    Form the cluster through ``call`` (as :func:`run_recovery`): every controller's
    ``brine_galera.formation_status``, :func:`plan_formation`; on a clean slate the first
    controller runs ``brine_galera.new_cluster`` and, once Synced, ``brine_galera.ensure_users``
    (the SST account must exist on the donor before anyone joins); then each node that is not
    Synced starts, one at a time, each waited for until Synced. Returns ``{"plan", "steps",
    "outcome"}``.
    """
    sleep = sleep or time.sleep
    answers = call(nodes, "brine_galera.formation_status", []) or {}
    statuses = {n: answers.get(n) if isinstance(answers.get(n), dict) else None for n in nodes}
    plan = plan_formation(nodes, statuses)
    steps = []
    if "refused" in plan:
        return {"plan": plan, "steps": steps, "outcome": "refused"}
    sequence = []
    if plan["bootstrap"]:
        sequence.append((plan["bootstrap"], "brine_galera.new_cluster"))
    sequence += [(node, "brine_galera.start") for node in plan["join"]]
    for node, fun in sequence:
        answer = (call([node], fun, []) or {}).get(node)
        ok = isinstance(answer, dict)
        synced, last = _wait_synced(node, call, sleep, timeout) if ok else (False, answer)
        steps.append({"node": node, "action": fun, "ok": synced,
                      "detail": (last or {}).get("health") if isinstance(last, dict) else reason_text(last)})
        if not synced:
            return {"plan": plan, "steps": steps, "outcome": f"failed: {fun} on {node}"}
        if fun == "brine_galera.new_cluster":
            users = (call([node], "brine_galera.ensure_users", []) or {}).get(node)
            steps.append({"node": node, "action": "brine_galera.ensure_users", "ok": isinstance(users, dict),
                          "detail": users.get("changed") if isinstance(users, dict) else reason_text(users)})
            if not isinstance(users, dict):
                return {"plan": plan, "steps": steps, "outcome": f"failed: accounts on {node}"}
    return {"plan": plan, "steps": steps, "outcome": "done" if sequence else "nothing to do"}


def summary(result):
    """What brine/galera/recovery records: the decision, never a secret (positions are uuids and seqnos)."""
    plan = result.get("plan") or {}
    entry = {"decision": result.get("decision"), "reason": plan.get("reason"), "node": plan.get("node"),
             "bootstrap": plan.get("bootstrap"), "start": plan.get("start"), "forced": plan.get("forced"),
             "targets": result.get("targets"),
             "positions": {n: {k: v for k, v in (p or {}).items() if k in ("state", "uuid", "seqno", "safe_to_bootstrap",
                                                                           "source", "reason", "cluster_status")}
                           for n, p in (plan.get("positions") or {}).items()}}
    if "outcome" in result:
        entry.update(outcome=result["outcome"], steps=result.get("steps"))
    return {k: v for k, v in entry.items() if v is not None}
