"""
The live layer: reads the kernel (``ip -j``), OVS (``ovs-vsctl``, ``ovs-ofctl``, ``ovs-appctl``)
and ``tc``, and runs argument-list commands (never a shell). No Salt dunders: the Salt adapter,
the safety net's script and the kernel tests' driver all call it with a plan.
"""

import json
import os
import re
import shutil

from brinelib.commands import run
from brinelib.dualbond import change
from brinelib.dualbond.linux import diff_linux, observe_links, static_fdb
from brinelib.dualbond.loopguard import (OVS_GUARD_COOKIE, guard_commands, guard_present, ovs_guard_changes,
                                         ovs_guard_observed)
from brinelib.dualbond.ovs import diff_ovs, observe_ovs, ovs_active_member, ovs_link_changes
from brinelib.dualbond.plan import managed_names
# A failed command is Salt's CommandExecutionError, which the dualbond state and the transaction
# catch.
from brinelib.errors import CommandExecutionError, InventoryProblem


def ip_links():
    """The kernel's interfaces now, as ``linux.observe_links`` reduces them."""
    return observe_links(json.loads(run(["ip", "-j", "-d", "address", "show"]).stdout or "[]"))


def ovs_rows(table):
    """The rows of one OVSDB table as dicts (UUIDs, sets and maps made plain)."""
    out = json.loads(run(["ovs-vsctl", "--format=json", "--data=json", "list", table]).stdout)
    rows = []
    for data in out["data"]:
        row = {}
        for head, value in zip(out["headings"], data):
            row[head] = _ovsdb_value(value)
        rows.append(row)
    return rows


def _ovsdb_value(value):
    if isinstance(value, list) and len(value) == 2 and isinstance(value[0], str):
        kind, inner = value
        if kind == "uuid":
            return inner
        if kind == "set":
            items = [_ovsdb_value(v) for v in inner]
            return items if len(items) != 1 or isinstance(items[0], str) and len(items[0]) == 36 else items[0]
        if kind == "map":
            return {_ovsdb_value(k): _ovsdb_value(v) for k, v in inner}
    return value


def _as_list(value):
    return value if isinstance(value, list) else [value]


def ovs_seen():
    """The OVS bridges, ports and interfaces now, as ``ovs.observe_ovs`` reduces them."""
    bridges, ports = ovs_rows("Bridge"), ovs_rows("Port")
    # OVSDB prints a one-element set as the bare element.
    for row in bridges:
        row["ports"] = _as_list(row.get("ports", []))
    for row in ports:
        row["interfaces"] = _as_list(row.get("interfaces", []))
    seen = observe_ovs(bridges, ports, ovs_rows("Interface"))
    for br in seen.values():
        for port in br["ports"].values():
            if port["tag"] == []:
                port["tag"] = None
            if port["bond_mode"] == []:
                port["bond_mode"] = None
            for iface in port["interfaces"].values():
                if iface["mtu_request"] == []:
                    iface["mtu_request"] = None
    return seen


def ovs_guard_seen(the_plan, seen):
    """The guard flows on the plan's bridges that exist in ``seen`` (``ovs_seen``)."""
    observed = []
    for bridge in dict.fromkeys(leg["bridge"] for leg in the_plan["legs"]):
        if bridge in seen:
            dump = run(["ovs-ofctl", "--names", "--no-stats", "dump-flows", bridge, f"cookie={OVS_GUARD_COOKIE}/-1"]).stdout
            observed.extend(ovs_guard_observed(bridge, dump))
    return observed


def ovs_version():
    """
    The installed Open vSwitch version as a tuple, or None without OVS.
    """
    if not shutil.which("ovs-vsctl"):
        return None
    out = run(["ovs-vsctl", "--version"], check=False).stdout
    match = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", out)
    return tuple(int(x or 0) for x in match.groups()) if match else None


def supports_bond_primary():
    """Whether this OVS knows ``other_config:bond-primary`` (2.14 and later)."""
    version = ovs_version()
    return version is not None and version >= (2, 14)


def refuse_renamed_nics(the_plan, seen):
    """
    NICs are named by MAC in the inventory: when the kernel calls a NIC something else, say so
    clearly instead of creating a bond without it.
    """
    for nic, spec in the_plan["nics"].items():
        if nic in seen:
            continue
        for name, item in seen.items():
            if spec["mac"] in (item.get("perm_mac"), item["mac"]) and item["kind"] == "nic":
                raise CommandExecutionError(
                    f"NIC {nic!r} (MAC {spec['mac']}) is called {name!r} on this host; rename it "
                    f"(systemd .link file) or name it {name!r} in the inventory"
                )


def fdb_seen(the_plan, seen):
    """The static FDB entries ``{(port, mac)}`` of the plan's bridges that exist."""
    found = set()
    for bridge in {e["bridge"] for e in the_plan.get("fdb", [])}:
        if bridge in seen:
            found |= static_fdb(json.loads(run(["bridge", "-j", "fdb", "show", "br", bridge]).stdout or "[]"))
    return found


def guard_seen(the_plan, seen):
    """``{device: bool}``: whether both guard filters are on each crossing end that exists."""
    found = {}
    for leg in the_plan["legs"]:
        for name in (leg["crossing"], leg["backup"]):
            if name not in seen:
                continue
            found[name] = True
            for hook in ("ingress", "egress"):
                proc = run(["tc", "filter", "show", "dev", name, hook], check=False)
                found[name] = found[name] and proc.returncode == 0 and guard_present(proc.stdout, hook)
    return found


def nics_found(the_plan):
    """``{"all", "none", "found", "missing"}``: the plan's NICs this machine has, each by its
    name or else by its MAC."""
    seen = ip_links()
    macs = {item["mac"] for item in seen.values()} | {item.get("perm_mac") for item in seen.values()}
    found, missing = [], []
    for nic, spec in the_plan["nics"].items():
        (found if nic in seen or spec["mac"] in macs else missing).append(nic)
    return {"all": not missing, "none": not found, "found": found, "missing": missing}


def changes(the_plan):
    """
    The live changes (kernel, OVS) that would take this host to the plan now, in order, each
    ``{"action", "name", "detail", "argv"}``; the persistent files are the transaction's.
    """
    try:
        if the_plan["backend"] == "linux":
            seen = ip_links()
            refuse_renamed_nics(the_plan, seen)
            todo = diff_linux(the_plan, seen, guard_seen(the_plan, seen), fdb_seen(the_plan, seen))
        else:
            seen_links = ip_links()
            refuse_renamed_nics(the_plan, seen_links)
            seen_ovs = ovs_seen()
            todo = diff_ovs(the_plan, seen_ovs, supports_bond_primary())
            todo += ovs_link_changes(the_plan, seen_links)
            todo += ovs_guard_changes(the_plan, ovs_guard_seen(the_plan, seen_ovs))
    except InventoryProblem as exc:
        raise CommandExecutionError(str(exc)) from None
    return todo


def execute(todo):
    """Carry out the changes in order (commands, file writes and removals); returns their
    details. The first failure stops it."""
    done = []
    for item in todo:
        if item["action"] == "file":
            os.makedirs(os.path.dirname(item["name"]), exist_ok=True)
            tmp = item["name"] + ".brine-tmp"
            with open(tmp, "w", encoding="utf-8") as fh:
                fh.write(item["text"])
            os.replace(tmp, item["name"])
        elif item["action"] == "file-remove":
            os.unlink(item["name"])
        else:
            run(item["argv"])
        done.append(item["detail"])
    return done


def loop_guard(the_plan):
    """
    Apply the double-failure protection now (idempotent; returns what it changed).

    Linux backend: the tc mark guard on every crossing (see ``LOOP_MARK``); it lives in the
    kernel, so it needs no reaction to link events. OVS backend: the same rule as OpenFlow
    flows on the patch ports (see ``OVS_GUARD_COOKIE``); they are lost when ovs-vswitchd
    restarts, which is what the guard unit and this function (run by the link reactor) undo.
    """
    if the_plan["backend"] == "ovs":
        return execute(ovs_guard_changes(the_plan, ovs_guard_seen(the_plan, ovs_seen())))
    seen = ip_links()
    guard = guard_seen(the_plan, seen)
    todo = []
    for name in [leg[k] for leg in the_plan["legs"] for k in ("crossing", "backup")]:
        if name in seen and not guard.get(name):
            todo.append(change("guard", name, f"add clsact qdisc to {name}", ["tc", "qdisc", "replace", "dev", name, "clsact"]))
    todo.extend(guard_commands(the_plan, {n: g for n, g in guard.items()}))
    todo = [t for t in todo if t["name"] in seen]
    return execute(todo)


def reselect_primary(the_plan, bond=None):
    """Each bond (or only ``bond``) back on its own NIC where that NIC has carrier; returns what
    it switched. Linux: the bond's active_slave; OVS: ``ovs-appctl bond/set-active-member``."""
    seen = ip_links()
    done = []
    for leg in the_plan["legs"]:
        if bond and leg["bond"] != bond:
            continue
        if not seen.get(leg["nic"], {}).get("carrier"):
            continue
        if the_plan["backend"] == "linux":
            if seen.get(leg["bond"], {}).get("active") != leg["nic"]:
                run(["ip", "link", "set", leg["bond"], "type", "bond", "active_slave", leg["nic"]])
                done.append(f"{leg['bond']}: active member is now {leg['nic']}")
        else:
            active = ovs_active(leg["bond"])
            if active is not None and active != leg["nic"]:
                run(["ovs-appctl", "bond/set-active-member", leg["bond"], leg["nic"]])
                done.append(f"{leg['bond']}: active member is now {leg['nic']}")
    return done


def ovs_active(bond):
    """The active member of an OVS bond, or None."""
    return ovs_active_member(run(["ovs-appctl", "bond/show", bond], check=False).stdout)


def status(the_plan):
    """``{"backend", "bonds", "bridges", "interfaces"}`` as the kernel (and OVS) show the plan's
    devices now."""
    seen = ip_links()
    ovs = ovs_seen() if the_plan["backend"] == "ovs" else {}
    ovs_ifaces = {i: spec for br in ovs.values() for port in br["ports"].values() for i, spec in port["interfaces"].items()}
    out = {"backend": the_plan["backend"], "bonds": {}, "bridges": {}, "interfaces": {}}
    for leg in the_plan["legs"]:
        members = {}
        for member in (leg["nic"], leg["backup"]):
            item = seen.get(member, {})
            carrier = item.get("carrier") if member in seen else ovs_ifaces.get(member, {}).get("link_state") == "up"
            members[member] = {
                "carrier": bool(carrier),
                "link_failure_count": item.get("link_failure_count"),
                "state": item.get("bond_state"),
            }
        if the_plan["backend"] == "linux":
            active = seen.get(leg["bond"], {}).get("active")
        else:
            active = ovs_active(leg["bond"])
        out["bonds"][leg["bond"]] = {
            "exists": leg["bond"] in seen or leg["bond"] in ovs.get(leg["bridge"], {}).get("ports", {}),
            "primary": leg["nic"],
            "active": active,
            "on_primary": active == leg["nic"],
            "members": members,
        }
        out["bridges"][leg["bridge"]] = {
            "exists": leg["bridge"] in seen,
            "ports": sorted(n for n, i in seen.items() if i.get("master") == leg["bridge"])
            if not ovs else sorted(p for p in ovs.get(leg["bridge"], {}).get("ports", {}) if p != leg["bridge"]),
            "mtu": seen.get(leg["bridge"], {}).get("mtu"),
            "mac": seen.get(leg["bridge"], {}).get("mac"),
        }
    for name in list(the_plan["nics"]) + managed_names(the_plan):
        item = seen.get(name)
        out["interfaces"][name] = None if item is None else {
            k: item.get(k) for k in ("kind", "up", "carrier", "mtu", "mac", "master", "addresses")
        }
    return out
