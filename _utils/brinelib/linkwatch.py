"""
Link state for Brine's link watchers, pure: the ``brine_linkwatch`` engine (netlink push) and
the ``brine_linkwatch`` beacon (1-second poll) feed a :class:`LinkTracker`, which turns link
observations into Brine events:

``brine/net/link/down``, ``brine/net/link/up``
    ``{"interface", "bond", "backend", "carrier", "operstate", "active", "timestamp"}``; ``bond``
    is the bond (or dual-bond group) the interface belongs to, or None; ``active`` is the bond's
    active member after the change.
``brine/net/bond/failover``
    ``{"bond", "backend", "previous", "active", "timestamp"}``: the active member changed.
``brine/net/bond/down``
    ``{"bond", "backend", "members", "timestamp"}``: every member of the bond lost its link.
``brine/net/bond/restored``
    ``{"bond", "backend", "members", "active", "timestamp"}``: a member came back after ``down``.

The engine also re-selects the primary of an OVS bond itself when a member's link comes back
(:func:`local_reselect` decides; the ``link/up`` then carries ``"reselect": "engine"``) and
reports the outcome (:func:`reselected`):

``brine/net/bond/reselected``
    ``{"bond", "backend", "done": [...], "timestamp"}``, or ``{"bond", "backend", "error",
    "timestamp"}`` when ``dualbond.reselect_primary`` failed (the master's reactor then runs it).

The first observation of an interface only sets its baseline: a watcher that starts reports
changes, never the state it found.
"""

import time

from brinelib import names
from brinelib.events import RESELECT_DONE_MAX, SNAPSHOT_BONDS_MAX

TAG_PREFIX = "brine/net"

# When the bonds come from the inventory, the pair of NICs of the dual bond is one group.
INVENTORY_GROUP = "dualbond"

# Backends whose bonds do not bring the primary member back by themselves when its link
# returns: a Linux bond with a primary does (primary_reselect), an OVS active-backup bond stays
# on the backup.
RESELECT_BACKENDS = names.RESELECT_BACKENDS

# Bounds of a bond/reselected payload; the master rejects anything longer (brinelib.events).
RESULT_MAX_ITEMS = RESELECT_DONE_MAX
RESULT_MAX_TEXT = 200


def link_is_up(link):
    """An interface carries traffic when it has carrier and the kernel calls it UP (or UNKNOWN)."""
    return bool(link.get("carrier")) and link.get("operstate") in ("UP", "UNKNOWN")


def link_from_message(msg):
    """
    The fields the tracker needs from one pyroute2 ``ifinfmsg`` (RTM_NEWLINK, RTM_DELLINK or a
    dump entry), as a plain dict. A kernel bond also reports its active member's index.
    """
    kind = msg.get(("IFLA_LINKINFO", "IFLA_INFO_KIND"))
    active_index = None
    if kind == "bond":
        active_index = msg.get(("IFLA_LINKINFO", "IFLA_INFO_DATA", "IFLA_BOND_ACTIVE_SLAVE"))
    carrier = msg.get("IFLA_CARRIER")
    return {
        "event": msg.get("event"),
        "name": msg.get("IFLA_IFNAME"),
        "index": msg.get("index"),
        "carrier": None if carrier is None else bool(carrier),
        "operstate": msg.get("IFLA_OPERSTATE"),
        "master": msg.get("IFLA_MASTER"),
        "kind": kind,
        "active_index": active_index,
    }


def normalise_bonds(bonds):
    """
    ``{name: {"members": [...], "backend": "ovs"}}`` from the engine's ``bonds`` setting, which
    may also give a bare list of members. Raises ValueError on anything else.
    """
    result = {}
    for name, spec in (bonds or {}).items():
        if isinstance(spec, (list, tuple)):
            spec = {"members": list(spec)}
        if not isinstance(spec, dict) or not isinstance(spec.get("members"), (list, tuple)) or not spec["members"]:
            raise ValueError(f"bond {name!r}: expected a list of members or {{members: [...], backend: ...}}")
        result[str(name)] = {"members": [str(m) for m in spec["members"]], "backend": spec.get("backend")}
    return result


class LinkTracker:
    """
    Remembers the last state of every interface and turns each new observation into the Brine
    events it implies. Feed it with :meth:`observe` (one link dict, see :func:`link_from_message`)
    and :meth:`forget` (a link that disappeared).

    bonds
        ``{name: {"members": [...], "backend": ...}}`` (or ``{name: [members]}``): groups whose
        active member and double failure are tracked even where no kernel bond exists (OVS
        bonds, the dual bond's two bonds). Members of kernel bonds are recognised by
        themselves.
    interfaces
        Allow-list of interface names to report; None reports every interface except ``lo``.
        Members of configured bonds are always watched.
    """

    def __init__(self, bonds=None, interfaces=None):
        self.bonds = normalise_bonds(bonds)
        self.member_of = {m: name for name, spec in self.bonds.items() for m in spec["members"]}
        self.interfaces = None if interfaces is None else set(interfaces) | set(self.member_of)
        self.links = {}  # name -> last link dict
        self.names = {}  # ifindex -> name, to resolve masters and active members
        self.active = {}  # bond -> active member name (None: all down)
        self.all_down = {}  # bond -> bool

    # ------------------------------------------------------------------ helpers

    def watched(self, name):
        if not name or name == "lo":
            return False
        return self.interfaces is None or name in self.interfaces

    def bond_of(self, link):
        if link["name"] in self.member_of:
            return self.member_of[link["name"]]
        master = link.get("master")
        if master is not None:
            master_link = self.links.get(self.names.get(master))
            if master_link and master_link.get("kind") == "bond":
                return master_link["name"]
        return None

    def members(self, bond):
        if bond in self.bonds:
            return list(self.bonds[bond]["members"])
        master_index = self.links.get(bond, {}).get("index")
        return sorted(n for n, l in self.links.items() if master_index is not None and l.get("master") == master_index)

    def backend(self, bond):
        if bond in self.bonds:
            return self.bonds[bond]["backend"]
        return "linux" if bond is not None else None

    def current_active(self, bond):
        """The kernel's choice for a kernel bond; otherwise the first member, in the configured
        order, whose link is up (what an active-backup bond with that primary order picks)."""
        bond_link = self.links.get(bond)
        if bond_link and bond_link.get("kind") == "bond" and bond_link.get("active_index") is not None:
            return self.names.get(bond_link["active_index"])
        for member in self.members(bond):
            link = self.links.get(member)
            if link is not None and link_is_up(link):
                return member
        return None

    def bond_events(self, bond, now):
        events = []
        members = self.members(bond)
        if not members or not all(m in self.links for m in members):
            return events  # not every member seen yet: no baseline for the bond
        active = self.current_active(bond)
        all_down = not any(link_is_up(self.links[m]) for m in members)
        backend = self.backend(bond)
        if bond in self.active:
            previous = self.active[bond]
            if previous is not None and active is not None and active != previous:
                events.append((f"{TAG_PREFIX}/bond/failover",
                               {"bond": bond, "backend": backend, "previous": previous, "active": active, "timestamp": now}))
            if all_down and not self.all_down[bond]:
                events.append((f"{TAG_PREFIX}/bond/down",
                               {"bond": bond, "backend": backend, "members": members, "timestamp": now}))
            if not all_down and self.all_down[bond]:
                events.append((f"{TAG_PREFIX}/bond/restored",
                               {"bond": bond, "backend": backend, "members": members, "active": active, "timestamp": now}))
        self.active[bond] = active
        self.all_down[bond] = all_down
        return events

    def snapshot(self, now=None):
        """
        ``(tag, payload)`` of every tracked bond's current state, for the master to catch up
        with changes it did not hear (a master outage, a minion restart): ``brine/net/snapshot``
        with ``{"bonds": [{"bond", "backend", "members", "up", "active"}], "timestamp"}``. None
        while no bond has every member seen.
        """
        now = time.time() if now is None else now
        bonds = []
        for bond in sorted(set(self.bonds) | {n for n, l in self.links.items() if l.get("kind") == "bond"}):
            members = self.members(bond)
            if not members or not all(m in self.links for m in members):
                continue
            bonds.append({
                "bond": bond,
                "backend": self.backend(bond),
                "members": members,
                "up": [m for m in members if link_is_up(self.links[m])],
                "active": self.current_active(bond),
            })
        if not bonds:
            return None
        return (f"{TAG_PREFIX}/snapshot", {"bonds": bonds[:SNAPSHOT_BONDS_MAX], "timestamp": now})

    # ------------------------------------------------------------------ feeding

    def observe(self, link, now=None):
        """Record one observation of a link; return the ``[(tag, payload), ...]`` it implies."""
        now = time.time() if now is None else now
        name = link.get("name")
        if not name:
            return []
        if link.get("event") == "RTM_DELLINK":
            return self.forget(name, now)
        previous = self.links.get(name)
        if link.get("kind") is None and previous is not None:
            # Carrier notifications can omit IFLA_LINKINFO; the link's kind does not change.
            link = dict(link, kind=previous.get("kind"), active_index=previous.get("active_index"))
        self.links[name] = link
        if link.get("index") is not None:
            self.names[link["index"]] = name
        events = []
        bonds = set()
        if link.get("kind") == "bond" or name in self.bonds:
            bonds.add(name)
        bond = self.bond_of(link)
        if bond is not None:
            bonds.add(bond)
        if self.watched(name) and link.get("kind") != "bond" and previous is not None:
            was_up, is_up = link_is_up(previous), link_is_up(link)
            if was_up != is_up:
                active = self.current_active(bond) if bond is not None else None
                events.append((f"{TAG_PREFIX}/link/{'up' if is_up else 'down'}", {
                    "interface": name,
                    "bond": bond,
                    "backend": self.backend(bond),
                    "carrier": bool(link.get("carrier")),
                    "operstate": link.get("operstate"),
                    "active": active,
                    "timestamp": now,
                }))
        for each in sorted(bonds):
            events.extend(self.bond_events(each, now))
        return events

    def observe_message(self, msg, now=None):
        """:meth:`observe` for one pyroute2 netlink message; other messages imply nothing."""
        if msg.get("event") not in ("RTM_NEWLINK", "RTM_DELLINK"):
            return []
        return self.observe(link_from_message(msg), now)

    def forget(self, name, now=None):
        """A link was deleted: an unplugged USB NIC is as down as a cut cable."""
        now = time.time() if now is None else now
        previous = self.links.get(name)
        if previous is None:
            return []
        gone = dict(previous, carrier=False, operstate="NOTPRESENT", event="RTM_NEWLINK")
        events = self.observe(gone, now)
        self.links.pop(name, None)
        self.names.pop(previous.get("index"), None)
        return events


def local_reselect(tag, payload, bonds=None, legs=None):
    """
    Whether a watcher's event calls for re-selecting the primary right here, on the minion, and
    how: None, or the keyword arguments for ``dualbond.reselect_primary``. Pure.

    Only ``brine/net/link/up`` of a member of a bond whose backend does not re-select by itself
    (``RESELECT_BACKENDS``: OVS) does. The arguments always carry the bonds to act on
    (``the_plan``: backend and ``legs``, each bond with its own NIC) when they are known, so
    dualbond does not read its plan from pillar: an engine has none (it starts before the
    minion compiles its pillar) and must not need the master for this.

    tag, payload
        One event of the tracker.
    bonds
        The tracker's bonds (``{name: {"members", "backend"}}``).
    legs
        ``[{"nic", "bond"}, ...]``: the dual bond's own bonds, for the inventory group
        (``brine_linkwatch.reselect_legs``). Without them the group's reselect reads the plan from pillar.
    """
    if tag != f"{TAG_PREFIX}/link/up" or not isinstance(payload, dict):
        return None
    bond, backend = payload.get("bond"), payload.get("backend")
    if not bond or backend not in RESELECT_BACKENDS:
        return None
    if bond == INVENTORY_GROUP:
        # A group of the watcher, not a bond: every bond of the dual bond (no bond= argument).
        return {"the_plan": {"backend": backend, "legs": [dict(leg) for leg in legs]}} if legs else {}
    kwargs = {"bond": bond}
    spec = (bonds or {}).get(bond)
    if spec and spec.get("members"):
        # The first member in the configured order is the primary (as current_active assumes).
        kwargs["the_plan"] = {"backend": backend, "legs": [{"nic": spec["members"][0], "bond": bond}]}
    return kwargs


def short_text(value, limit=RESULT_MAX_TEXT):
    """``value`` as one printable line of at most ``limit`` characters (for the master's checks)."""
    text = " ".join("".join(c if c.isprintable() else " " for c in str(value)).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def reselected(payload, done=None, error=None, now=None):
    """
    The ``(tag, payload)`` of ``brine/net/bond/reselected`` reporting the engine's local reselect
    for the ``link/up`` ``payload``: ``done`` (what ``dualbond.reselect_primary`` returned), or
    ``error`` (what it raised). Pure; bounded as the master requires.
    """
    event = {"bond": payload.get("bond"), "backend": payload.get("backend")}
    if error is not None:
        event["error"] = short_text(error) or "failed"
    else:
        items = list(done) if isinstance(done, (list, tuple)) else ([] if done is None else [done])
        if len(items) > RESULT_MAX_ITEMS:
            items = items[: RESULT_MAX_ITEMS - 1] + [f"(and {len(items) - RESULT_MAX_ITEMS + 1} more)"]
        event["done"] = [short_text(item) or "(empty)" for item in items]
    event["timestamp"] = time.time() if now is None else now
    return f"{TAG_PREFIX}/bond/reselected", event
