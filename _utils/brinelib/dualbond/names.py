"""
The names of one dual bond's devices, derived from the NIC names only: never longer than the
kernel's 15 characters, the two legs' names of each kind always different, and every remaining
clash (a NIC named like a generated device) found with both owners named.
"""

import hashlib

from brinelib.errors import InventoryProblem
from brinelib.names import IFNAME_MAX

# Prefixes of the generated device names; see device_names().
PREFIX_BRIDGE = "br-"
PREFIX_BOND = "bond-"
PREFIX_BACKUP = "vbk-"  # bond member: the backup path of this NIC's bond
PREFIX_CROSSING = "vx-"  # its veth/patch peer: a port in the *other* NIC's bridge


def _short_hash(text):
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:4]


def fit_name(prefix, base, suffix=""):
    """
    ``prefix + base + suffix`` when that fits the kernel's 15 characters; otherwise ``base`` is
    cut and a 4-hex-digit hash of the whole base is appended. The hash alone can collide (two
    consecutive ``enx<MAC>`` names do): :func:`device_names` tells such a pair apart.
    """
    name = f"{prefix}{base}{suffix}"
    if len(name) <= IFNAME_MAX:
        return name
    room = IFNAME_MAX - len(prefix) - len(suffix) - 4
    if room < 1:
        raise InventoryProblem(f"cannot fit {prefix!r}+{base!r}+{suffix!r} into {IFNAME_MAX} characters")
    return f"{prefix}{base[:room]}{_short_hash(base)}{suffix}"


def _fit_pair(prefix, bases):
    """
    The names ``fit_name(prefix, base)`` of two different bases, different by construction.
    When the fitted names are equal (their 4-hex-digit hashes collided and the cut bases are
    equal, or a short name equals the other's cut-and-hashed one), both names take their
    cut-and-hash form with 3 hash digits and a last character that differs: ``0`` for the base
    that sorts first, ``1`` for the other. Pairs without a collision keep their names.
    """
    names = [fit_name(prefix, base) for base in bases]
    if names[0] != names[1]:
        return names
    room = IFNAME_MAX - len(prefix) - 4
    if room < 1:
        raise InventoryProblem(f"cannot fit {prefix!r}+{bases!r} into {IFNAME_MAX} characters")
    order = sorted(bases)
    return [f"{prefix}{base[:room]}{_short_hash(base)[:3]}{order.index(base)}" for base in bases]


def device_names(nics, bridges=None):
    """
    The names of one dual bond's devices, one "leg" per NIC, derived only from the NIC names.
    The two legs' names of each kind always differ (see ``fit_name``), even when the hashes of
    two long NIC names collide.

    nics
        The two NIC names, ``[first, second]``.
    bridges
        Optional operator-chosen bridge names (``[br0, br1]``); default ``br-<nic>``.

    Returns ``[{"nic", "bridge", "bond", "backup", "crossing"}, ...]``: ``backup`` is the bond
    member that leads to the other bridge, ``crossing`` its peer, a port of the other bridge.
    """
    if not isinstance(nics, (list, tuple)) or len(nics) != 2 or nics[0] == nics[1]:
        raise InventoryProblem(f"a dual bond needs exactly two different NICs, got {nics!r}")
    kinds = {
        "bridge": list(bridges) if bridges else _fit_pair(PREFIX_BRIDGE, nics),
        "bond": _fit_pair(PREFIX_BOND, nics),
        "backup": _fit_pair(PREFIX_BACKUP, nics),
        "crossing": _fit_pair(PREFIX_CROSSING, nics),
    }
    return [{"nic": nic, **{kind: names[idx] for kind, names in kinds.items()}} for idx, nic in enumerate(nics)]


def name_clashes(legs, vlans=(), host_nics=()):
    """
    Every device name two things of one host would share, as messages naming both owners
    (empty when all names are distinct). Pure.

    legs
        ``device_names()`` output.
    vlans
        ``[{"name", "vlan", "network"}, ...]``: the VLAN interfaces on the bridges.
    host_nics
        Every NIC name of the host (a NIC outside the bond may not share a generated name).
    """
    items = [(nic, f"NIC {nic}") for nic in host_nics]
    items += [(leg["nic"], f"NIC {leg['nic']}") for leg in legs if leg["nic"] not in host_nics]
    for leg in legs:
        nic = leg["nic"]
        items += [
            (leg["bridge"], f"bridge of NIC {nic}"),
            (leg["bond"], f"bond of NIC {nic}"),
            (leg["backup"], f"bond backup of NIC {nic}"),
            (leg["crossing"], f"crossing of NIC {nic}"),
        ]
    items += [(v["name"], f"VLAN {v['vlan']} interface of network {v['network']}") for v in vlans]
    owners, clashes = {}, []
    for name, owner in items:
        if name in owners:
            clashes.append(f"device name {name!r} would be both the {owners[name]} and the {owner}")
        else:
            owners[name] = owner
    return clashes


def vlan_name(bridge, vid):
    """The VLAN sub-interface of ``bridge`` for VLAN ``vid``: ``br-eth2.10`` (fitted to 15)."""
    return fit_name("", bridge, f".{vid}")
