"""
The operator's picture of a lab: a model of every host from the inventory (NICs by MAC, the
dual-bond plan's devices, VLAN interfaces and addresses, disks and their Kolla roles, VIPs) with
what the minions report laid over it (each bond's active member and carrier, the VIP holders,
Galera's and RabbitMQ's view, the last events), then drawn two ways: Graphviz DOT text (one
cluster per host; the only edges that leave a host are its NICs' links to the switch) and
aligned text lines for a terminal.

Pure: data in, text out. What the live layer gathers, and the shape it hands in (``live``):

    {"bonds": {host: dualbond.status()["bonds"]},
     "vips": {vip: [holder hosts]},
     "galera": {host: {"state": "Synced", "primary": True, "writer": True}},
     "rabbitmq": {host: {"running": [node, ...], "partitions": [node, ...]}},
     "events": {host: ["<time> <tag>", ...]}}

Any part may be missing: what nobody reported is drawn as unknown, never as healthy.
"""

from brinelib.dualbond.plan import build_plan
from brinelib.galera import LOCAL_STATES
from brinelib.names import controllers

# What each state means, and how it is drawn: (fill colour, words for the legend).
STATES = {
    "ok": ("#c8f0c8", "healthy / as planned"),
    "degraded": ("#ffd699", "working on its backup, or not Synced"),
    "failed": ("#ff9c9c", "down, no carrier, no holder or two holders, cut off"),
    "unknown": ("#e0e0e0", "nobody reported it"),
    "plain": ("#ffffff", "from the inventory only"),
}
EVENTS_SHOWN = 3


# --------------------------------------------------------------------------- what the minions return


def vip_holders(inventory, addresses):
    """``{vip: [hosts]}`` from ``{host: [addresses it holds]}`` (``network.ip_addrs`` of each
    controller; a host that did not answer is left out of ``addresses``)."""
    return {vip: sorted(host for host, held in addresses.items() if isinstance(held, list) and spec.get("address") in held)
            for vip, spec in (inventory.get("vips") or {}).items()}


def galera_view(inventory, statuses):
    """``{host: {"state", "primary", "writer"}}`` from each controller's ``brine_galera.status``
    (None or missing: it did not answer). The writer is where HAProxy's Galera listener sends
    writes: the first controller in inventory order that is Synced and Primary (the others are
    its ``backup`` servers, used in that order)."""
    view, writer = {}, None
    for host in controllers(inventory):
        status = statuses.get(host)
        if not isinstance(status, dict):
            continue
        if not status.get("running"):
            view[host] = {"state": "down", "primary": False, "writer": False}
            continue
        local = str(status.get("wsrep_local_state"))
        state = LOCAL_STATES.get(int(local)) if local.isdigit() else None
        state = state or f"state {local}"
        primary = status.get("wsrep_cluster_status") == "Primary"
        view[host] = {"state": state, "primary": primary, "writer": False}
        if writer is None and status.get("synced"):
            writer = host
            view[host]["writer"] = True
    return view


# --------------------------------------------------------------------------- the model


def model(inventory, live=None):
    """
    ``{"hosts": {host: {...}}, "vips": {vip: {...}}, "networks": {...}}`` from the inventory
    and ``live`` (module docstring). Each host: ``roles``, ``nodes`` (``{id: {"label", "kind",
    "state"}}``), ``edges`` (``[(from, to, {"style"...})]`` inside the host), ``uplinks`` (the
    NIC node ids that connect to the switch), ``services`` (text rows for the status view).
    """
    live = live or {}
    networks = inventory.get("networks") or {}
    out = {"hosts": {}, "vips": {}, "networks": networks}
    for name, host in (inventory.get("hosts") or {}).items():
        out["hosts"][name] = _host(name, host, networks, live)
    holders = live.get("vips")
    for vip, spec in (inventory.get("vips") or {}).items():
        seen = None if holders is None else sorted((holders or {}).get(vip) or [])
        state = "unknown" if seen is None else "ok" if len(seen) == 1 else "failed"
        out["vips"][vip] = {"address": spec.get("address"), "network": spec.get("network"),
                            "fqdn": spec.get("fqdn"), "holders": seen, "state": state}
    for vip, spec in out["vips"].items():
        for holder in spec["holders"] or []:
            if holder in out["hosts"]:
                out["hosts"][holder]["nodes"][f"vip:{vip}"] = {
                    "label": f"VIP {vip}\n{spec['address']}", "kind": "vip", "state": spec["state"]}
    _services(out, inventory, live)
    return out


def _host(name, host, networks, live):
    nodes, edges, uplinks = {}, [], []
    bonds = (live.get("bonds") or {}).get(name)
    nics = host.get("nics") or {}
    for nic, spec in nics.items():
        nodes[f"nic:{nic}"] = {"label": f"{nic}\n{spec.get('mac', '')}", "kind": "nic", "state": "plain"}
        uplinks.append(f"nic:{nic}")
    if host.get("dualbond"):
        plan = build_plan(host, networks, name)
        _bond_nodes(plan, bonds, nodes, edges)
    else:
        for network, attachment in (host.get("networks") or {}).items():
            node = f"net:{network}"
            nodes[node] = {"label": f"{network}\n{attachment.get('address', '')}", "kind": "address", "state": "plain"}
            if f"nic:{attachment.get('nic')}" in nodes:
                edges.append((node, f"nic:{attachment.get('nic')}", {}))
    for disk, spec in (host.get("disks") or {}).items():
        role = spec.get("kolla")
        words = [disk, spec.get("by_id") or spec.get("serial") or spec.get("wwn") or ""]
        if role:
            words.append(f"kolla {role}" + (f", journal on {spec['journal']}" if spec.get("journal") else ""))
        nodes[f"disk:{disk}"] = {"label": "\n".join(w for w in words if w), "kind": "disk", "state": "plain"}
    events = (live.get("events") or {}).get(name)
    if events:
        nodes["events"] = {"label": "last events\n" + "\n".join(str(e) for e in events[-EVENTS_SHOWN:]),
                           "kind": "events", "state": "plain"}
    return {"roles": list(host.get("roles") or []), "nodes": nodes, "edges": edges, "uplinks": uplinks,
            "bonds": _bond_rows(host, bonds), "services": []}


def _bond_nodes(plan, bonds, nodes, edges):
    """The plan's devices as nodes; members, masters, veth peers and VLAN parents as edges.
    With the bond's live status: the active member's edge bold, each member by its carrier."""
    for device, spec in plan["devices"].items():
        nodes[f"dev:{device}"] = {"label": f"{device}\n{spec['kind']}", "kind": spec["kind"], "state": "plain"}
    for vlan in plan["vlans"]:
        addresses = ", ".join(plan["addresses"].get(vlan["name"], []))
        nodes[f"dev:{vlan['name']}"]["label"] = f"{vlan['name']}\n{vlan['network']} VLAN {vlan['vlan']}\n{addresses}".rstrip()
        edges.append((f"dev:{vlan['name']}", f"dev:{vlan['bridge']}", {}))
    for device, spec in plan["devices"].items():
        if spec["kind"] == "bond":
            continue  # its members point at it below
        master = plan["devices"].get(spec.get("master") or "", {})
        if master and master["kind"] != "bond":  # a bond's members are drawn with their role below
            edges.append((f"dev:{device}", f"dev:{spec['master']}", {}))
        if spec["kind"] == "veth" and spec.get("peer") and device < spec["peer"]:
            edges.append((f"dev:{device}", f"dev:{spec['peer']}", {"style": "dashed", "label": "crossing"}))
    for leg in plan["legs"]:
        bond = leg["bond"]
        seen = (bonds or {}).get(bond) if bonds is not None else None
        nodes[f"dev:{bond}"]["state"] = _bond_state(seen, bonds is not None)
        if seen and seen.get("active"):
            nodes[f"dev:{bond}"]["label"] += f"\nactive: {seen['active']}"
        nodes[f"dev:{bond}"]["label"] += f"\nprimary: {leg['nic']}"
        for member, node, role in ((leg["nic"], f"nic:{leg['nic']}", "primary"), (leg["backup"], f"dev:{leg['backup']}", "backup")):
            attributes = {"label": role}
            if seen:
                carrier = ((seen.get("members") or {}).get(member) or {}).get("carrier")
                if node in nodes:
                    nodes[node]["state"] = "ok" if carrier else "failed"
                if seen.get("active") == member:
                    attributes["style"] = "bold"
            else:
                attributes["style"] = "solid"
            edges.append((node, f"dev:{bond}", attributes))
        edges.append((f"dev:{bond}", f"dev:{leg['bridge']}", {}))


def _bond_state(seen, reported):
    if not reported or seen is None:
        return "unknown"
    if not seen.get("exists", True) or not seen.get("active"):
        return "failed"
    return "ok" if seen.get("active") == seen.get("primary") else "degraded"


def _bond_rows(host, bonds):
    """``[(bond, state, active member)]``; a host with a dual bond that reported nothing gets
    one row saying so."""
    if host.get("dualbond") and bonds is None:
        return [("bonds", "unknown", "not reported")]
    return [(bond, _bond_state(seen, True), seen.get("active") or "none") for bond, seen in sorted((bonds or {}).items())]


def _services(out, inventory, live):
    galera, rabbit = live.get("galera"), live.get("rabbitmq")
    members = controllers(inventory)
    for name in members:
        host = out["hosts"][name]
        g = None if galera is None else (galera or {}).get(name)
        if g is None:
            state, words = "unknown", "no report"
        else:
            synced = g.get("state") == "Synced" and g.get("primary", True)
            state = "ok" if synced else "failed" if g.get("state") in (None, "", "down") else "degraded"
            words = (g.get("state") or "down") + (" writer" if g.get("writer") else "")
        host["services"].append(("galera", state, words))
        host["nodes"]["svc:galera"] = {"label": f"Galera\n{words}", "kind": "service", "state": state}
        r = None if rabbit is None else (rabbit or {}).get(name)
        if r is None:
            state, words = "unknown", "no report"
        else:
            running, cut = list(r.get("running") or []), list(r.get("partitions") or [])
            state = "failed" if cut or not running else "ok" if len(running) == len(members) else "degraded"
            words = f"{len(running)} of {len(members)} running" + (f", cut off from {', '.join(cut)}" if cut else "")
        host["services"].append(("rabbitmq", state, words))
        host["nodes"]["svc:rabbitmq"] = {"label": f"RabbitMQ\n{words}", "kind": "service", "state": state}


# --------------------------------------------------------------------------- DOT


def _quote(text):
    """A DOT double-quoted string: backslashes and quotes escaped, newlines as DOT's centred
    line breaks, nothing else that could end the string or the statement."""
    text = str(text).replace("\\", "\\\\").replace('"', '\\"')
    return '"' + text.replace("\r", "").replace("\n", "\\n") + '"'


def dot(the_model, title="Brine lab"):
    """Graphviz DOT text of ``the_model`` (:func:`model`): a cluster per host, the switch
    outside them, VIPs without a holder beside it, and a legend of the colours."""
    lines = ["digraph brine {", f"  label={_quote(title)}; labelloc=t; fontname=Helvetica;",
             "  rankdir=LR; compound=true; newrank=true;",
             '  node [shape=box, style="rounded,filled", fontname=Helvetica, fontsize=10];',
             "  edge [arrowhead=none, fontname=Helvetica, fontsize=8];"]
    switch_words = ["switch"] + [f"{n} VLAN {s.get('vlan', '-')} {s.get('cidr', '')}".rstrip()
                                 for n, s in sorted(the_model["networks"].items())]
    lines.append(f'  "switch" [label={_quote(chr(10).join(switch_words))}, shape=box3d, fillcolor="#dde8ff"];')
    for index, (name, host) in enumerate(the_model["hosts"].items()):
        lines.append(f"  subgraph {_quote('cluster_' + name)} {{")
        lines.append(f"    label={_quote(name + ' (' + ', '.join(host['roles']) + ')')}; style=rounded; color=\"#7a7a7a\";")
        for node, spec in host["nodes"].items():
            fill = STATES.get(spec["state"], STATES["unknown"])[0]
            shape = {"nic": "box", "disk": "cylinder", "vip": "hexagon", "service": "component",
                     "events": "note"}.get(spec["kind"], "box")
            lines.append(f"    {_quote(name + '/' + node)} [label={_quote(spec['label'])}, shape={shape}, fillcolor=\"{fill}\"];")
        for source, target, attributes in host["edges"]:
            lines.append(f"    {_quote(name + '/' + source)} -> {_quote(name + '/' + target)}{_attributes(attributes)};")
        lines.append("  }")
        for uplink in host["uplinks"]:
            lines.append(f"  {_quote(name + '/' + uplink)} -> \"switch\";")
    for vip, spec in the_model["vips"].items():
        if not spec["holders"]:
            fill = STATES[spec["state"]][0]
            words = f"VIP {vip}\n{spec['address']}\n" + ("no holder" if spec["holders"] == [] else "holder not reported")
            lines.append(f"  {_quote('vip/' + vip)} [label={_quote(words)}, shape=hexagon, fillcolor=\"{fill}\"];")
    lines.append('  subgraph "cluster_legend" {')
    lines.append('    label="colours"; style=rounded; color="#7a7a7a";')
    for state, (fill, words) in STATES.items():
        lines.append(f"    {_quote('legend/' + state)} [label={_quote(state + ': ' + words)}, fillcolor=\"{fill}\"];")
    lines.append("  }")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _attributes(attributes):
    if not attributes:
        return ""
    return " [" + ", ".join(f"{key}={_quote(value)}" for key, value in sorted(attributes.items())) + "]"


# --------------------------------------------------------------------------- text


def status_lines(the_model):
    """Aligned text: one line per host (roles, bonds and their active members), then one per
    VIP and per clustered service on each controller, each with its state word."""
    rows = [("host", "roles", "bonds (state, active member)")]
    for name, host in the_model["hosts"].items():
        bonds = "; ".join(f"{bond} {state}" if active == "not reported" else f"{bond} {state} on {active}"
                          for bond, state, active in host["bonds"]) or "-"
        rows.append((name, ",".join(host["roles"]), bonds))
    lines = _aligned(rows)
    service_rows = [("service", "where", "state", "detail")]
    for vip, spec in the_model["vips"].items():
        holders = "not reported" if spec["holders"] is None else ", ".join(spec["holders"]) or "no holder"
        service_rows.append((f"vip {vip}", holders, spec["state"], str(spec["address"])))
    for name, host in the_model["hosts"].items():
        for service, state, words in host["services"]:
            service_rows.append((service, name, state, words))
    if len(service_rows) > 1:
        lines += [""] + _aligned(service_rows)
    return lines


def _aligned(rows):
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]) - 1)]
    return ["  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)) + "  " + str(row[-1])
            for row in rows]
