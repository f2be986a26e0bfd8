"""The brine_nics grain, on a fake sysfs tree (real sysfs has no physical NIC here)."""

import os

from brine_testlib import load_extension

grain = load_extension("grains", "brine_nics")


def fake_nic(root, name, mac, carrier="1", speed="10000", driver="ixgbe", device=True, bond=None, perm=None):
    base = root / name
    base.mkdir()
    (base / "address").write_text(mac + "\n")
    (base / "carrier").write_text(carrier + "\n")
    (base / "speed").write_text(speed + "\n")
    if device:
        dev = root / "devices" / name
        (root / "drivers" / driver).mkdir(parents=True, exist_ok=True)
        dev.mkdir(parents=True)
        os.symlink(root / "drivers" / driver, dev / "driver")
        os.symlink(dev, base / "device")
    if bond:
        (root / bond).mkdir(exist_ok=True)
        os.symlink(root / bond, base / "master")
        (base / "bonding_slave").mkdir()
        (base / "bonding_slave" / "perm_hwaddr").write_text(perm + "\n")


def test_physical_nics_with_permanent_mac_speed_carrier_driver_and_bond(tmp_path):
    fake_nic(tmp_path, "enp3s0f0np0", "52:54:00:10:01:02", bond="bond-x", perm="52:54:00:AA:BB:CC")
    fake_nic(tmp_path, "eno1", "52:54:00:10:01:03", carrier="0", speed="-1", driver="e1000e")
    fake_nic(tmp_path, "veth0", "02:00:00:00:00:01", device=False)
    nics = grain.collect(str(tmp_path))
    assert set(nics) == {"enp3s0f0np0", "eno1"}
    assert nics["enp3s0f0np0"] == {"mac": "52:54:00:aa:bb:cc", "speed": 10000, "carrier": True, "driver": "ixgbe",
                                   "bond": "bond-x", "master": "bond-x"}
    assert nics["eno1"]["speed"] is None and nics["eno1"]["carrier"] is False and nics["eno1"]["bond"] is None
    assert nics["eno1"]["driver"] == "e1000e"
    assert "veth0" in grain.collect(str(tmp_path), physical_only=False)


def test_missing_sysfs_gives_no_nics(tmp_path):
    assert grain.collect(str(tmp_path / "nope")) == {}


def test_grain_function_reads_the_real_sysfs():
    out = grain.brine_nics()
    assert set(out) == {"brine_nics"}
    for name, nic in out["brine_nics"].items():
        assert os.path.exists(f"/sys/class/net/{name}/device")
        assert nic["mac"] is None or len(nic["mac"]) == 17
