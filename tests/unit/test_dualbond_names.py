"""
Device names of a dual bond never collide: two NICs of one host (even consecutive enx<MAC> names
whose 4-hex-digit hashes collide) always get distinct bridge, bond, backup and crossing names,
and any remaining clash (a NIC named like a generated device) is refused by the planner and the
inventory check with one error naming both owners. Names without a collision never change.
"""

import copy
import hashlib
import random
import string

import brine_inventory
import dualbond
from brine_testlib import example_inventory

KINDS = ("bridge", "bond", "backup", "crossing")
PREFIXES = {"bridge": "br-", "bond": "bond-", "backup": "vbk-", "crossing": "vx-"}
# Consecutive MACs whose enx names have the same 4-hex-digit hash (found by search).
COLLIDING = ("enx5254000022be", "enx5254000022bf")


def old_hash(name):
    return hashlib.sha1(name.encode()).hexdigest()[:4]


def colliding_enx_pairs(rng, count):
    """``count`` pairs of consecutive enx<MAC> names whose 4-digit hashes collide."""
    pairs, mac = [], rng.randrange(0x020000000000, 0xFE0000000000)
    while len(pairs) < count:
        a, b = f"enx{mac:012x}", f"enx{mac + 1:012x}"
        if old_hash(a) == old_hash(b):
            pairs.append((a, b))
        mac += 1
    return pairs


EXAMPLE = example_inventory()


def inventory_with(nics, extra_nic=None, backend="linux"):
    inv = copy.deepcopy(EXAMPLE)
    host = inv["hosts"]["ubuntu1"]
    macs = [spec["mac"] for spec in host["nics"].values()]
    host["nics"] = {nics[0]: {"mac": macs[0]}, nics[1]: {"mac": macs[1]}}
    if extra_nic:
        host["nics"][extra_nic] = {"mac": "52:54:00:10:01:7f"}
    host["dualbond"] = {"nics": list(nics), "backend": backend}
    for att in host["networks"].values():
        att["nic"] = nics[0] if att["nic"] == "eth2" else nics[1]
    return inv


def plan_or_refusal(inv):
    """(plan, None) or (None, InventoryProblem message); plus the inventory check's errors."""
    errors = [str(e) for e in brine_inventory.check(inv)]
    host = dict(inv["hosts"]["ubuntu1"])
    host["nics"] = {k: {**v, "mac": brine_inventory.canonical_mac(v["mac"])} for k, v in host["nics"].items()}
    networks = {k: {"mtu": 1500, "vlan": None, **v} for k, v in inv["networks"].items()}
    try:
        return dualbond.build_plan(host, networks, "ubuntu1"), None, errors
    except dualbond.InventoryProblem as exc:
        return None, str(exc), errors


def assert_sound(the_plan, nics, host_nics):
    names = [leg[k] for leg in the_plan["legs"] for k in KINDS] + [v["name"] for v in the_plan["vlans"]]
    assert len(set(names)) == len(names), names
    assert not set(names) & set(host_nics), (names, host_nics)
    assert all(len(n) <= 15 for n in names), names
    assert len(the_plan["devices"]) == 8 + len(the_plan["vlans"])
    bonds = [d for d in the_plan["devices"].values() if d["kind"] == "bond"]
    assert sorted(m for b in bonds for m in b["members"] if m in nics) == sorted(nics)
    assert len({d["master"] for d in bonds}) == 2


def test_the_colliding_pair_really_collides_in_the_short_hash():
    assert old_hash(COLLIDING[0]) == old_hash(COLLIDING[1])
    assert [dualbond.fit_name("bond-", n) for n in COLLIDING] == ["bond-enx525a791"] * 2


def test_consecutive_enx_names_with_one_hash_get_a_sound_plan():
    the_plan, refusal, errors = plan_or_refusal(inventory_with(COLLIDING))
    assert refusal is None and errors == []
    assert_sound(the_plan, COLLIDING, COLLIDING)
    legs = the_plan["legs"]
    assert [legs[0]["bond"], legs[1]["bond"]] == ["bond-enx525a790", "bond-enx525a791"]


def test_names_without_a_collision_stay_as_deployed():
    # The names the previous release gave (a converged host keeps its devices).
    legs = dualbond.device_names(["enp3s0f0np0", "enp3s0f1np1"])
    assert [leg["bond"] for leg in legs] == ["bond-enp3s0b25a", "bond-enp3s0bf18"]
    assert [leg["bridge"] for leg in legs] == ["br-enp3s0f0np0", "br-enp3s0f1np1"]
    assert dualbond.device_names(["eth2", "eth3"])[1] == {
        "nic": "eth3", "bridge": "br-eth3", "bond": "bond-eth3", "backup": "vbk-eth3", "crossing": "vx-eth3"}


def random_nic(rng):
    family = rng.randrange(4)
    if family == 0:
        return f"enx{rng.randrange(1 << 48):012x}"
    if family == 1:
        return f"enp{rng.randrange(256)}s{rng.randrange(32)}f{rng.randrange(8)}np{rng.randrange(8)}"
    if family == 2:
        return f"eth{rng.randrange(100)}"
    first = rng.choice(string.ascii_letters + string.digits)
    return first + "".join(rng.choice(string.ascii_letters + string.digits + "_.-") for _ in range(rng.randrange(15)))


def random_host(rng, colliding):
    """Two NIC names (often a colliding pair, or one the other's hashed form) and maybe a third."""
    roll = rng.random()
    if roll < 0.3:
        nics = list(rng.choice(colliding))
    elif roll < 0.4:
        other = random_nic(rng)
        kind = rng.choice(KINDS)
        room = 15 - len(PREFIXES[kind]) - 4
        nics = [other, (other[:room] + old_hash(other)) if len(PREFIXES[kind] + other) > 15 else other + "x"]
    else:
        nics = [random_nic(rng), random_nic(rng)]
    rng.shuffle(nics)
    extra = None
    if rng.random() < 0.2:  # a third NIC, sometimes named like a generated device
        legs = dualbond.device_names(nics) if nics[0] != nics[1] else []
        extra = rng.choice([random_nic(rng)] + [leg[k] for leg in legs for k in KINDS])
    return nics, extra


def test_random_nic_pairs_give_distinct_names_or_one_refusal_naming_both():
    rng = random.Random(20261206)
    colliding = colliding_enx_pairs(rng, 8)
    planned = refused = 0
    for _ in range(1500):
        nics, extra = random_host(rng, colliding)
        if nics[0] == nics[1] or extra in nics:
            continue
        inv = inventory_with(nics, extra, backend=rng.choice(["linux", "ovs"]))
        the_plan, refusal, errors = plan_or_refusal(inv)
        host_nics = list(nics) + ([extra] if extra else [])
        if refusal is None:
            assert errors == [], errors
            assert_sound(the_plan, nics, host_nics)
            planned += 1
        else:
            assert refusal.startswith("brine:hosts:ubuntu1:dualbond: device name "), refusal
            assert f"NIC {extra}" in refusal, refusal  # only a third NIC can clash
            assert any(refusal.endswith(e.split(": ", 1)[1]) for e in errors if e.startswith("brine:hosts:ubuntu1:dualbond:"))
            refused += 1
    assert planned > 1000 and refused > 10, (planned, refused)


def test_inventory_check_names_both_owners_of_a_clashing_name():
    inv = inventory_with(["eth2", "eth3"], extra_nic="bond-eth3")
    errors = [str(e) for e in brine_inventory.check(inv)]
    assert errors == [
        "brine:hosts:ubuntu1:dualbond: device name 'bond-eth3' would be both the NIC bond-eth3 and the bond of NIC eth3"
    ]
    _, refusal, _ = plan_or_refusal(inv)
    assert refusal == errors[0]
