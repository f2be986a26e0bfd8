"""
Swift's account, container and object rings as a plan of ``swift-ring-builder`` commands
(docs/kolla-passwords-and-rings.md).

A plan is ``{ring: [argv, ...]}``, each argv a list for ``swift-ring-builder`` (never a shell
string): ``<ring>.builder create <part_power> <replicas> <min_part_hours>``, one ``add`` a device
in the ``r<region>z<zone>-<ip>:<port>/<device> <weight>`` form, then ``rebalance``. Swift's rules
(``swift/common/ring/builder.py`` ``RingBuilder.__init__``, ``swift/common/ring/utils.py``
``parse_add_value``): the part power is 0 to 32; replicas at least 1; ``min_part_hours`` not
negative; an IPv6 address stands in brackets and is stored in its compressed form; the device
name ends at the first ``_`` (the rest is metadata), so Brine's device names have none; a device
already in the ring (same ip, port and name) is refused.

Nothing here runs a command: the adapter runs the argv lists in order, ``create`` only where
the builder file does not exist yet (``create`` overwrites one).
"""

import ipaddress
import math
import os
import re
from numbers import Real

from brinelib.errors import InventoryProblem

RINGS = ("account", "container", "object")
# kolla-ansible's group_vars/all.yml: swift_{account,container,object}_server_port.
KOLLA_PORTS = {"account": 6001, "container": 6002, "object": 6000}
PARTITIONS_PER_DRIVE = 100
MAX_PART_POWER = 32
COMMAND = "swift-ring-builder"
DEFAULT_REGION = 1
_DEVICE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.-]*$")
_ADD = re.compile(r"^r(\d+)z(\d+)-(\[[0-9A-Fa-f:.]+\]|[0-9.]+):(\d+)/([^_\s/]+)$")


def _whole(value):
    return isinstance(value, int) and not isinstance(value, bool)


def part_power(drive_count):
    """
    The partition power for ``drive_count`` drives: the exponent of the smallest power of two
    that is at least ``drive_count x 100`` (``ceil(log2(drives x 100))``). Refused: no drives,
    and more drives than a ring of 2^32 partitions serves.
    """
    if not _whole(drive_count) or drive_count < 1:
        raise InventoryProblem(f"swift: {drive_count!r} drives: a ring needs at least one drive")
    power = (drive_count * PARTITIONS_PER_DRIVE - 1).bit_length()
    if power > MAX_PART_POWER:
        raise InventoryProblem(
            f"swift: {drive_count} drives need part power {power}; swift allows at most {MAX_PART_POWER}"
        )
    return power


def _address(value):
    """``ip`` as swift stores it (IPv6 compressed, lower case), or None when it is no address
    (a scoped IPv6 address, ``fe80::1%eth0``, is none to swift)."""
    try:
        return ipaddress.ip_address(value).compressed if isinstance(value, str) and "%" not in value else None
    except ValueError:
        return None


def _device_problems(index, device, key):
    """``[(path, message)]`` for one device of the list, its fields checked one by one."""
    where = f"{key}:devices:{index}"
    if not isinstance(device, dict):
        return [(where, f"is a {type(device).__name__}, not a mapping")]
    found = []
    for field in ("host", "ip", "zone", "device", "weight"):
        if field not in device:
            found.append((f"{where}:{field}", "is missing"))
    if found:
        return found
    if not isinstance(device["host"], str) or not device["host"]:
        found.append((f"{where}:host", f"{device['host']!r} is not a host name"))
    if _address(device["ip"]) is None:
        found.append((f"{where}:ip", f"{device['ip']!r} is not an IP address"))
    for field, value in (("region", device.get("region", DEFAULT_REGION)), ("zone", device["zone"])):
        if not _whole(value) or value < 1:
            found.append((f"{where}:{field}", f"{value!r} is not a whole number from 1 up"))
    name = device["device"]
    if not isinstance(name, str) or not _DEVICE_NAME.match(name):
        found.append(
            (f"{where}:device", f"{name!r} is not a device name swift keeps whole ([A-Za-z0-9.-], no '_' or '/')")
        )
    weight = device["weight"]
    if not isinstance(weight, Real) or isinstance(weight, bool) or not math.isfinite(weight) or weight <= 0:
        found.append((f"{where}:weight", f"{weight!r} is not a positive number"))
    ports = device.get("ports", KOLLA_PORTS)
    if not isinstance(ports, dict):
        found.append((f"{where}:ports", f"is a {type(ports).__name__}, not a mapping of ring to port"))
    else:
        extra = sorted(str(ring) for ring in ports if ring not in RINGS)
        if extra:
            found.append((f"{where}:ports", f"{', '.join(extra)} is not a ring (rings: {', '.join(RINGS)})"))
        for ring in RINGS:
            port = ports.get(ring)
            if not _whole(port) or not 1 <= port <= 65535:
                found.append((f"{where}:ports:{ring}", f"{port!r} is not a TCP port"))
    return found


def _duplicates(devices, key):
    """``[(path, message)]``, one at most a device: a device listed twice (same host or ip, same
    name), or an ip two hosts claim."""
    found, seen, owner = [], {}, {}
    for index, device in enumerate(devices):
        host, ip, name = device["host"], _address(device["ip"]), device["device"]
        identities = [("host", host, name), ("ip", ip, name)]
        again = [identity for identity in identities if identity in seen]
        if again:
            label, value, _ = again[0]
            found.append((f"{key}:devices:{index}", f"{label} {value} device {name} is devices:{seen[again[0]]} again"))
        elif owner.get(ip, host) != host:
            found.append((f"{key}:devices:{index}:ip", f"{ip} is also host {owner[ip]}'s address"))
        for identity in identities:
            seen.setdefault(identity, index)
        owner.setdefault(ip, host)
    return found


def _settings_problems(devices, replicas, min_part_hours, seed, key):
    found = []
    if not _whole(replicas) or replicas < 1:
        found.append((f"{key}:replicas", f"{replicas!r} is not a whole number from 1 up"))
    if not _whole(min_part_hours) or min_part_hours < 0:
        found.append((f"{key}:min_part_hours", f"{min_part_hours!r} is not a whole number from 0 up"))
    if seed is not None and (not _whole(seed) or seed < 0):
        found.append((f"{key}:seed", f"{seed!r} is not a whole number from 0 up"))
    if not isinstance(devices, list) or not devices:
        found.append((f"{key}:devices", "a ring needs at least one device"))
    return found


def _weight(weight):
    return str(int(weight)) if float(weight).is_integer() else repr(float(weight))


def _add_value(device, ring):
    ip = _address(device["ip"])
    host = f"[{ip}]" if ":" in ip else ip
    port = device.get("ports", KOLLA_PORTS)[ring]
    return f"r{device.get('region', DEFAULT_REGION)}z{device['zone']}-{host}:{port}/{device['device']}"


def check(devices, replicas, min_part_hours, seed=None, key="swift"):
    """
    Every problem of the arguments of :func:`plan` as ``[(path, message)]`` (``[]`` when none),
    each path under ``key`` (the inventory key the settings come from).
    """
    found = _settings_problems(devices, replicas, min_part_hours, seed, key)
    if not isinstance(devices, list):
        return found
    for index, device in enumerate(devices):
        found.extend(_device_problems(index, device, key))
    if found:
        return found
    found.extend(_duplicates(devices, key))
    if _whole(replicas) and len(devices) < replicas:
        found.append(
            (f"{key}:replicas", f"{replicas} replicas need at least {replicas} devices, there are {len(devices)}")
        )
    return found


def plan(devices, replicas, min_part_hours, seed=None, directory="", key="swift"):
    """
    ``{ring: [argv, ...]}`` for the account, container and object rings: ``create`` with
    :func:`part_power` of the device count, one ``add`` a device in the list's order (a new
    builder numbers them from 0 in that order), ``rebalance`` (``--seed <seed>`` when given: the
    same devices and seed make the same ring).

    ``devices`` are mappings ``{host, ip, zone, device, weight}`` with optional ``region``
    (default 1) and ``ports`` (``{ring: port}``, default kolla's :data:`KOLLA_PORTS`). The
    builder files are ``<directory>/<ring>.builder`` (relative to the working directory when
    ``directory`` is empty). Refused (:class:`InventoryProblem`, every problem one line naming
    its key under ``key``): fewer devices than replicas, a zone or region below 1, a device
    listed twice, an ip two hosts claim, and every field swift would refuse.
    """
    found = check(devices, replicas, min_part_hours, seed, key)
    if found:
        raise InventoryProblem(found)
    power = part_power(len(devices))
    rebalance = ["rebalance"] + ([] if seed is None else ["--seed", str(seed)])
    result = {}
    for ring in RINGS:
        builder = os.path.join(directory, f"{ring}.builder")
        argvs = [[COMMAND, builder, "create", str(power), str(replicas), str(min_part_hours)]]
        for device in devices:
            argvs.append([COMMAND, builder, "add", _add_value(device, ring), _weight(device["weight"])])
        argvs.append([COMMAND, builder] + rebalance)
        result[ring] = argvs
    return result


def expected_devices(ring_plan):
    """
    ``{ring: [{id, region, zone, ip, port, device, weight}, ...]}``: the devices each ring of
    ``ring_plan`` (from :func:`plan`) holds once built, in the keys and types swift's
    ``RingBuilder.devs`` and ``Ring.devs`` use (ip as swift stores it, weight a float), for a
    comparison with the built ring.
    """
    result = {}
    for ring, argvs in ring_plan.items():
        devices = []
        for argv in argvs:
            if argv[2] != "add":
                continue
            region, zone, ip, port, name = _ADD.match(argv[3]).groups()
            devices.append(
                {
                    "id": len(devices),
                    "region": int(region),
                    "zone": int(zone),
                    "ip": ip.strip("[]"),
                    "port": int(port),
                    "device": name,
                    "weight": float(argv[4]),
                }
            )
        result[ring] = devices
    return result
