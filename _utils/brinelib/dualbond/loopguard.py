"""
The guard against the double-failure loop, as commands and flows; pure.
"""

from brinelib.dualbond import change

# With both NICs down each bond fails over to its crossing, and
#   br0 -> bond0 -> vbk0 => vx0 -> br1 -> bond1 -> vbk1 => vx1 -> br0 -> ...
# is a ring that circulates every broadcast forever. The guard is in the kernel, so it needs no
# daemon and has no reaction time: a frame that arrives over either end of a crossing veth gets
# a mark (tc ingress), and a marked frame may never leave over either end of a crossing (tc
# egress). A frame therefore crosses at most once, in either direction of the ring. Legitimate
# traffic crosses exactly once: out through the other NIC, or in from it.
LOOP_MARK = 0x10000000
GUARD_PREF = 49152  # tc filter priority that identifies the guard's own filters


def guard_commands(the_plan, present=None):
    """
    The ``tc`` commands that install the loop guard on both ends of every crossing, skipping
    the devices where ``present`` (``{device: True}``) says it is already in place.
    """
    present = present or {}
    mark = f"{LOOP_MARK:#x}"
    todo = []
    for leg in the_plan["legs"]:
        for name in (leg["crossing"], leg["backup"]):
            if present.get(name):
                continue
            todo.append(change("guard", name, f"loop guard: mark frames arriving over {name}", [
                "tc", "filter", "replace", "dev", name, "ingress", "pref", str(GUARD_PREF), "protocol", "all",
                "matchall", "action", "skbedit", "mark", f"{mark}/{mark}"]))
            todo.append(change("guard", name, f"loop guard: drop marked frames leaving over {name}", [
                "tc", "filter", "replace", "dev", name, "egress", "pref", str(GUARD_PREF), "protocol", "all",
                "handle", f"{mark}/{mark}", "fw", "action", "drop"]))
    return todo


def guard_present(tc_output, hook):
    """
    True when ``tc filter show dev X <hook>`` (plain text: tc's JSON for fw filters is not
    valid JSON in iproute2 6.1) lists the guard's filter for that hook.
    """
    kind = "matchall" if hook == "ingress" else "fw"
    return any(f"pref {GUARD_PREF} " in line and f" {kind} " in line + " " for line in (tc_output or "").splitlines())


# Open vSwitch resolves a ring of patch ports inside one flow translation and stops it at its
# translation depth (64), so it is no storm, but each frame would still go round 64 times and be
# delivered to the host as often. The same rule as Linux's, in OpenFlow: a frame arriving over a
# crossing's patch port gets the mark (pkt_mark survives the patch ports), and a marked frame
# arriving over one again is dropped. Flows are not kept by OVSDB: the guard unit puts them
# back when ovs-vswitchd (re)starts.
OVS_GUARD_COOKIE = "0xb41e0001"


def ovs_guard_flows(the_plan):
    """
    ``[{"bridge", "port", "kind", "flow"}]``: the OpenFlow rules of the loop guard, for
    ``ovs-ofctl add-flow BRIDGE FLOW`` (the NORMAL action keeps the bridge a learning switch).
    """
    mark = f"{LOOP_MARK:#x}"
    flows = []
    for leg in the_plan["legs"]:
        for bridge, port in ((leg["bridge"], leg["backup"]), (leg["crossing_bridge"], leg["crossing"])):
            flows.append({"bridge": bridge, "port": port, "kind": "drop",
                          "flow": f"cookie={OVS_GUARD_COOKIE},priority=100,in_port={port},pkt_mark={mark}/{mark},actions=drop"})
            flows.append({"bridge": bridge, "port": port, "kind": "mark",
                          "flow": f"cookie={OVS_GUARD_COOKIE},priority=90,in_port={port},actions=set_field:{mark}/{mark}->pkt_mark,NORMAL"})
    return flows


def ovs_guard_observed(bridge, dump):
    """
    The guard flows ``ovs-ofctl --names --no-stats dump-flows BRIDGE cookie=C/-1`` listed:
    ``[{"bridge", "port", "kind", "match"}]``; ``kind`` is None for a flow with the guard's
    cookie that is neither guard rule (left behind, to be deleted).
    """
    mark = f"{LOOP_MARK:#x}"
    found = []
    for line in (dump or "").splitlines():
        line = line.strip()
        if not line.startswith("cookie=") or " actions=" not in line:
            continue
        match, actions = line.split(" actions=", 1)
        match = match.split(",", 1)[1].strip() if "," in match else ""
        fields = dict(f.split("=", 1) for f in match.split(",") if "=" in f)
        port = fields.get("in_port", "").strip('"')
        kind = None
        if fields.get("pkt_mark") == f"{mark}/{mark}" and fields.get("priority") == "100" and actions == "drop":
            kind = "drop"
        elif "pkt_mark" not in fields and fields.get("priority") == "90" and actions.endswith("NORMAL") \
                and ("PKT_MARK[28]" in actions or "pkt_mark" in actions):
            kind = "mark"
        found.append({"bridge": bridge, "port": port, "kind": kind, "match": match})
    return found


def ovs_guard_changes(the_plan, observed):
    """Add the guard flows ``observed`` (``ovs_guard_observed`` over the bridges) lacks, and
    delete flows with the guard's cookie that are not guard rules of this plan."""
    want = ovs_guard_flows(the_plan)
    have = {(f["bridge"], f["port"], f["kind"]) for f in observed}
    wanted = {(f["bridge"], f["port"], f["kind"]) for f in want}
    todo = []
    for flow in want:
        if (flow["bridge"], flow["port"], flow["kind"]) not in have:
            what = "mark frames arriving over" if flow["kind"] == "mark" else "drop marked frames arriving over"
            todo.append(change("guard", flow["port"], f"loop guard: {what} {flow['port']} on {flow['bridge']}",
                                ["ovs-ofctl", "add-flow", flow["bridge"], flow["flow"]]))
    for flow in observed:
        if (flow["bridge"], flow["port"], flow["kind"]) not in wanted:
            todo.append(change("guard", flow["bridge"], f"delete stale loop-guard flow {flow['match']} on {flow['bridge']}",
                                ["ovs-ofctl", "--strict", "del-flows", flow["bridge"], flow["match"]]))
    return todo
