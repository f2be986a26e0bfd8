"""
Grain ``brine_nics``: the host's physical NICs, so the inventory can name NICs by MAC even when
the kernel names them differently.

    brine_nics:
      eth2: {mac: 52:54:00:10:01:02, speed: 10000, carrier: true, driver: ixgbe, bond: bond-eth2}

``mac`` is the permanent (burnt-in) MAC: a bond member's current MAC is the bond's. A NIC is
physical when sysfs links it to a device (``/sys/class/net/X/device``): veths, bridges, bonds,
VLANs and tunnels are left out.
"""

import os

SYSFS_NET = "/sys/class/net"


def _read(path):
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read().strip()
    except OSError:  # e.g. speed of a NIC without link raises EINVAL
        return None


def _permanent_mac(name, sysfs):
    """The permanent MAC: bonding exposes it for members, ethtool's ioctl for everyone else."""
    perm = _read(os.path.join(sysfs, name, "bonding_slave", "perm_hwaddr"))
    if perm:
        return perm.lower()
    try:
        import array
        import fcntl
        import socket
        import struct

        ethtool_gpermaddr = 0x00000020
        siocethtool = 0x8946
        buf = array.array("B", struct.pack("II", ethtool_gpermaddr, 32) + b"\0" * 32)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            ifreq = struct.pack("16sP", name.encode()[:15], buf.buffer_info()[0])
            fcntl.ioctl(sock.fileno(), siocethtool, ifreq)
        size = struct.unpack("I", buf[4:8].tobytes())[0]
        raw = buf[8 : 8 + size].tobytes()
        if size == 6 and any(raw):
            return ":".join(f"{b:02x}" for b in raw)
    except (OSError, ImportError):
        pass
    return (_read(os.path.join(sysfs, name, "address")) or "").lower() or None


def collect(sysfs=SYSFS_NET, physical_only=True):
    """The NIC table from ``sysfs`` (a parameter so tests can point it at a copy)."""
    nics = {}
    try:
        names = sorted(os.listdir(sysfs))
    except OSError:
        return nics
    for name in names:
        base = os.path.join(sysfs, name)
        if physical_only and not os.path.exists(os.path.join(base, "device")):
            continue
        if name == "lo":
            continue
        speed = _read(os.path.join(base, "speed"))
        driver = os.path.join(base, "device", "driver")
        master = os.path.join(base, "master")
        master_name = os.path.basename(os.path.realpath(master)) if os.path.exists(master) else None
        is_bond_member = os.path.isdir(os.path.join(base, "bonding_slave"))
        nics[name] = {
            "mac": _permanent_mac(name, sysfs),
            "speed": int(speed) if speed and speed.lstrip("-").isdigit() and int(speed) > 0 else None,
            "carrier": _read(os.path.join(base, "carrier")) == "1",
            "driver": os.path.basename(os.path.realpath(driver)) if os.path.exists(driver) else None,
            "bond": master_name if is_bond_member else None,
            "master": master_name,
        }
    return nics


def brine_nics():
    return {"brine_nics": collect()}
