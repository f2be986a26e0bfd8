"""
brinelib.swift_rings: the ring plan as swift-ring-builder argument lists (swift itself reads and
builds them in tests/functional/test_swift_rings.py).
"""

import math

import pytest

from brinelib import swift_rings as sr
from brinelib.errors import InventoryProblem
from swift_ring_examples import THREE_ZONES, device


def refusal(*args, **kwargs):
    with pytest.raises(InventoryProblem) as refused:
        sr.plan(*args, **kwargs)
    return str(refused.value)


@pytest.mark.parametrize(
    "drives, power", [(1, 7), (2, 8), (3, 9), (6, 10), (10, 10), (11, 11), (1000, 17), (42949672, 32)]
)
def test_part_power_is_drives_times_100_rounded_up_to_a_power_of_two(drives, power):
    assert sr.part_power(drives) == power == math.ceil(math.log2(drives * 100))
    assert 2 ** (power - 1) < drives * 100 <= 2**power


@pytest.mark.parametrize("drives", [0, -1, 1.5, True, None, "3"])
def test_part_power_refuses_no_drives(drives):
    with pytest.raises(InventoryProblem, match="a ring needs at least one drive"):
        sr.part_power(drives)


def test_part_power_refuses_more_than_swift_allows():
    with pytest.raises(InventoryProblem, match="need part power 33; swift allows at most 32"):
        sr.part_power(42949673)


def test_plan_of_three_zones():
    plan = sr.plan(THREE_ZONES, 3, 1)
    assert list(plan) == ["account", "container", "object"]
    builder = "object.builder"
    assert plan["object"] == [
        ["swift-ring-builder", builder, "create", "10", "3", "1"],
        ["swift-ring-builder", builder, "add", "r1z1-10.0.10.21:6000/d0", "100"],
        ["swift-ring-builder", builder, "add", "r1z1-10.0.10.21:6000/d1", "100"],
        ["swift-ring-builder", builder, "add", "r1z2-10.0.10.22:6000/d0", "100"],
        ["swift-ring-builder", builder, "add", "r1z2-10.0.10.22:6000/d1", "100"],
        ["swift-ring-builder", builder, "add", "r1z3-10.0.10.23:6000/d0", "50.5"],
        ["swift-ring-builder", builder, "add", "r2z3-10.0.10.23:6000/d1", "100"],
        ["swift-ring-builder", builder, "rebalance"],
    ]
    assert plan["account"][1][3] == "r1z1-10.0.10.21:6001/d0"
    assert plan["container"][1][3] == "r1z1-10.0.10.21:6002/d0"
    for argvs in plan.values():
        assert all(isinstance(argv, list) and all(isinstance(arg, str) for arg in argv) for argv in argvs)


def test_plan_takes_ports_per_ring_a_directory_and_a_seed():
    ports = {"account": 16001, "container": 16002, "object": 16000}
    devices = [device("s1", "10.0.0.1", 1, ports=ports)]
    plan = sr.plan(devices, 1, 0, seed=7, directory="/etc/kolla/config/swift")
    assert plan["container"] == [
        ["swift-ring-builder", "/etc/kolla/config/swift/container.builder", "create", "7", "1", "0"],
        ["swift-ring-builder", "/etc/kolla/config/swift/container.builder", "add", "r1z1-10.0.0.1:16002/d0", "100"],
        ["swift-ring-builder", "/etc/kolla/config/swift/container.builder", "rebalance", "--seed", "7"],
    ]


def test_plan_writes_ipv6_as_swift_stores_it():
    devices = [device("s1", "FD00:0:0::0A", 1), device("s2", "fd00::b", 2)]
    plan = sr.plan(devices, 2, 1)
    assert plan["object"][1][3] == "r1z1-[fd00::a]:6000/d0"
    assert sr.expected_devices(plan)["object"][0]["ip"] == "fd00::a"


def test_weights_keep_their_value():
    devices = [device("s1", "10.0.0.1", 1, weight=w, name=f"d{i}") for i, w in enumerate([1, 2.0, 0.25, 1e-3, 3000])]
    plan = sr.plan(devices, 1, 1)
    assert [argv[4] for argv in plan["object"][1:-1]] == ["1", "2", "0.25", "0.001", "3000"]
    assert [dev["weight"] for dev in sr.expected_devices(plan)["object"]] == [1.0, 2.0, 0.25, 0.001, 3000.0]


def test_expected_devices_are_what_the_builder_numbers_in_order():
    expected = sr.expected_devices(sr.plan(THREE_ZONES, 3, 1))
    assert list(expected) == list(sr.RINGS)
    assert expected["object"][0] == {
        "id": 0, "region": 1, "zone": 1, "ip": "10.0.10.21", "port": 6000, "device": "d0", "weight": 100.0,
    }
    assert expected["object"][5] == {
        "id": 5, "region": 2, "zone": 3, "ip": "10.0.10.23", "port": 6000, "device": "d1", "weight": 100.0,
    }
    assert [dev["id"] for dev in expected["account"]] == list(range(6))
    assert {dev["port"] for dev in expected["account"]} == {6001}
    assert {dev["port"] for dev in expected["container"]} == {6002}


def test_plan_is_the_same_for_the_same_devices():
    assert sr.plan(THREE_ZONES, 3, 1, seed=1) == sr.plan([dict(d) for d in THREE_ZONES], 3, 1, seed=1)


@pytest.mark.parametrize(
    "devices, replicas, message",
    [
        (THREE_ZONES[:2], 3, "swift:replicas: 3 replicas need at least 3 devices, there are 2"),
        ([], 1, "swift:devices: a ring needs at least one device"),
        ("d0", 1, "swift:devices: a ring needs at least one device"),
        ([device("s1", "10.0.0.1", 0)], 1, "swift:devices:0:zone: 0 is not a whole number from 1 up"),
        ([device("s1", "10.0.0.1", "1")], 1, "swift:devices:0:zone: '1' is not a whole number from 1 up"),
        ([device("s1", "10.0.0.1", 1, region=0)], 1, "swift:devices:0:region: 0 is not a whole number from 1 up"),
        ([device("s1", "10.0.0.1", True)], 1, "swift:devices:0:zone: True is not a whole number from 1 up"),
        ([device("s1", "storage1", 1)], 1, "swift:devices:0:ip: 'storage1' is not an IP address"),
        ([device("s1", None, 1)], 1, "swift:devices:0:ip: None is not an IP address"),
        ([device("s1", "fe80::1%eth0", 1)], 1, "swift:devices:0:ip: 'fe80::1%eth0' is not an IP address"),
        ([device("", "10.0.0.1", 1)], 1, "swift:devices:0:host: '' is not a host name"),
        ([device("s1", "10.0.0.1", 1, "d_0")], 1, "swift:devices:0:device: 'd_0' is not a device name swift keeps"),
        ([device("s1", "10.0.0.1", 1, "a/b")], 1, "swift:devices:0:device: 'a/b' is not a device name"),
        ([device("s1", "10.0.0.1", 1, " d0")], 1, "swift:devices:0:device: ' d0' is not a device name"),
        ([device("s1", "10.0.0.1", 1, "")], 1, "swift:devices:0:device: '' is not a device name"),
        ([device("s1", "10.0.0.1", 1, weight=0)], 1, "swift:devices:0:weight: 0 is not a positive number"),
        ([device("s1", "10.0.0.1", 1, weight=-1)], 1, "swift:devices:0:weight: -1 is not a positive number"),
        ([device("s1", "10.0.0.1", 1, weight=float("inf"))], 1, "swift:devices:0:weight: inf is not a positive"),
        ([device("s1", "10.0.0.1", 1, weight="100")], 1, "swift:devices:0:weight: '100' is not a positive number"),
        ([device("s1", "10.0.0.1", 1, weight=True)], 1, "swift:devices:0:weight: True is not a positive number"),
        ([device("s1", "10.0.0.1", 1, ports=[6000])], 1, "swift:devices:0:ports: is a list, not a mapping"),
        (
            [device("s1", "10.0.0.1", 1, ports={"account": 1, "container": 2})],
            1,
            "swift:devices:0:ports:object: None is not a TCP port",
        ),
        (
            [device("s1", "10.0.0.1", 1, ports={"account": 1, "container": 2, "object": 70000})],
            1,
            "swift:devices:0:ports:object: 70000 is not a TCP port",
        ),
        (
            [device("s1", "10.0.0.1", 1, ports={"account": 1, "container": 2, "object": 3, "proxy": 4})],
            1,
            "swift:devices:0:ports: proxy is not a ring (rings: account, container, object)",
        ),
        ([["s1"]], 1, "swift:devices:0: is a list, not a mapping"),
        ([{"host": "s1", "ip": "10.0.0.1", "zone": 1, "device": "d0"}], 1, "swift:devices:0:weight: is missing"),
        (
            [device("s1", "10.0.0.1", 1), device("s1", "10.0.0.2", 2)],
            1,
            "swift:devices:1: host s1 device d0 is devices:0 again",
        ),
        (
            [device("s1", "10.0.0.1", 1), device("s2", "10.0.0.1", 2)],
            1,
            "swift:devices:1: ip 10.0.0.1 device d0 is devices:0 again",
        ),
        (
            [device("s1", "fd00::1", 1), device("s2", "FD00:0::1", 2)],
            1,
            "swift:devices:1: ip fd00::1 device d0 is devices:0 again",
        ),
        (
            [device("s1", "10.0.0.1", 1, "d0"), device("s2", "10.0.0.1", 2, "d1")],
            1,
            "swift:devices:1:ip: 10.0.0.1 is also host s1's address",
        ),
    ],
)
def test_plan_refuses_with_one_line_naming_the_key(devices, replicas, message):
    text = refusal(devices, replicas, 1)
    assert len(text.splitlines()) == 1
    assert text.startswith(message)


@pytest.mark.parametrize(
    "replicas, min_part_hours, seed, message",
    [
        (0, 1, None, "swift:replicas: 0 is not a whole number from 1 up"),
        (2.5, 1, None, "swift:replicas: 2.5 is not a whole number from 1 up"),
        (True, 1, None, "swift:replicas: True is not a whole number from 1 up"),
        (1, -1, None, "swift:min_part_hours: -1 is not a whole number from 0 up"),
        (1, "1", None, "swift:min_part_hours: '1' is not a whole number from 0 up"),
        (1, 1, -3, "swift:seed: -3 is not a whole number from 0 up"),
        (1, 1, "x", "swift:seed: 'x' is not a whole number from 0 up"),
    ],
)
def test_plan_refuses_impossible_settings(replicas, min_part_hours, seed, message):
    assert refusal(THREE_ZONES, replicas, min_part_hours, seed=seed) == message


def test_every_problem_is_reported_under_the_callers_key():
    devices = [device("s1", "nope", 0), device("s2", "10.0.0.2", 1, weight=0)]
    text = refusal(devices, 0, -1, key="storage:swift")
    assert text.splitlines() == [
        "storage:swift:replicas: 0 is not a whole number from 1 up",
        "storage:swift:min_part_hours: -1 is not a whole number from 0 up",
        "storage:swift:devices:0:ip: 'nope' is not an IP address",
        "storage:swift:devices:0:zone: 0 is not a whole number from 1 up",
        "storage:swift:devices:1:weight: 0 is not a positive number",
    ]
    assert sr.check(THREE_ZONES, 3, 1) == []


def test_fewer_zones_than_replicas_is_allowed():
    # swift places the replicas as uniquely as it can; only fewer devices than replicas is impossible
    plan = sr.plan([device("s1", "10.0.0.1", 1, f"d{i}") for i in range(3)], 3, 1)
    assert len(plan["object"]) == 5


# RingData.load is what swift's Ring reads the .ring.gz with; Ring itself also wants
# /etc/swift/swift.conf's hash path settings (validate_configuration), which a test host lacks.
