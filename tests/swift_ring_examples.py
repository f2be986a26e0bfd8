"""Devices for brinelib.swift_rings' tests (unit and functional)."""


def device(host, ip, zone, name="d0", weight=100, **extra):
    return {"host": host, "ip": ip, "zone": zone, "device": name, "weight": weight, **extra}


THREE_ZONES = [
    device("storage1", "10.0.10.21", 1, "d0"),
    device("storage1", "10.0.10.21", 1, "d1"),
    device("storage2", "10.0.10.22", 2, "d0"),
    device("storage2", "10.0.10.22", 2, "d1"),
    device("storage3", "10.0.10.23", 3, "d0", weight=50.5),
    device("storage3", "10.0.10.23", 3, "d1", region=2),
]
