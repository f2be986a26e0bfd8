"""
The PXE chain of a reserved host, with the real daemons between network namespaces: Salt renders
dhcpd.conf, the TFTP tree (loaders, menus, preseeds) and tftpd-hpa's settings into the test's
directory (pillar brine_settings:bootstrap points the paths there); dhcpd and in.tftpd (with the
rendered address, root and --secure) run in the server namespace. The guest gets its lease and
boot file name by DHCP, then fetches what pxelinux and the installer would: the boot loader, its
own menu (pxelinux looks for 01-<mac> first), and the preseed named in that menu.
"""

import hashlib
import json
import re
import shlex

from brine_testlib import wait_for
from dhcp_testbed import Testbed, acquire_lease
from brine_testlib import sourced

MAC = "52:54:00:10:01:02"


def test_a_reserved_host_can_fetch_its_loader_menu_and_preseed(salt_call, inventory, tmp_path):
    inventory["services"]["dhcp"]["interface"] = "mgmt0"
    pillar_root = salt_call.pillar_root_with(inventory)
    root, defaults, conf = tmp_path / "tftp", tmp_path / "tftpd-hpa", tmp_path / "dhcpd.conf"
    override = {"brine_settings": {"bootstrap": {"tftp": {"root": str(root), "defaults_file": str(defaults)}}}}
    out, _ = salt_call("state.apply", "bootstrap.config.tftp,bootstrap.config.pxe", "pillar=" + json.dumps(override),
                       minion_id="bootstrap", pillar_root=pillar_root)
    assert all(r["result"] is True for r in out.values()), out
    out, _ = salt_call("state.single", "dhcp_reservations.managed", f"name={conf}", minion_id="bootstrap", pillar_root=pillar_root)
    assert all(r["result"] is True for r in out.values()), out

    settings = {k: v for k, v in sourced(defaults.read_text()).items() if k.startswith("TFTP_")}
    assert settings["TFTP_ADDRESS"] == "10.10.0.5:69" and settings["TFTP_DIRECTORY"] == str(root)
    (tmp_path / "dhcpd.leases").touch()
    with Testbed(tmp_path, address="10.10.0.5", prefix=24, bridge="mgmt0") as bed:
        bed.start(bed.server, ["dhcpd", "-4", "-f", "-d", "-cf", str(conf), "-lf", str(tmp_path / "dhcpd.leases"),
                               "-pf", str(tmp_path / "dhcpd.pid"), "mgmt0"], log_path=str(tmp_path / "dhcpd.log"), tag="dhcpd")
        # Root instead of the tftp user: the tree lives in the test's private directory.
        tftpd = ["in.tftpd", "--listen", "--foreground", "--user", "root", "--address", settings["TFTP_ADDRESS"],
                 *shlex.split(settings["TFTP_OPTIONS"]), settings["TFTP_DIRECTORY"]]
        bed.start(bed.server, tftpd, log_path=str(tmp_path / "tftpd.log"), tag="in.tftpd")
        guest = bed.add_guest(MAC, nic="eth2")
        assert wait_for(lambda: "Sending on" in (tmp_path / "dhcpd.log").read_text())
        lease = acquire_lease(guest, "eth2", str(tmp_path), bed)
        assert lease["address"] == "10.10.0.11"
        boot_file = re.search(r'filename "([^"]+)";', lease["lease"]).group(1)

        def tftp(path):
            proc = guest.run(["curl", "-sS", "--max-time", "5", f"tftp://10.10.0.5/{path}"], check=False)
            assert proc.returncode == 0, (path, proc.stderr)
            return proc.stdout

        loader = guest.run(["sh", "-c", f"curl -sS --max-time 5 tftp://10.10.0.5/{boot_file} | sha256sum"]).stdout.split()[0]
        menu = tftp(f"pxelinux.cfg/01-{MAC.replace(':', '-')}")
        preseed_url = re.search(r"url=tftp://10\.10\.0\.5/(\S+)", menu).group(1)
        preseed = tftp(preseed_url)
        refused = guest.run(["curl", "-sS", "--max-time", "5", "tftp://10.10.0.5/../dhcpd.conf"], check=False)

    assert boot_file == "pxelinux.0"
    assert loader == hashlib.sha256((root / "pxelinux.0").read_bytes()).hexdigest()
    assert "DEFAULT install" in menu and "hostname=ubuntu1" in menu
    assert preseed_url == "preseed/ubuntu1.cfg"
    assert "d-i netcfg/get_hostname string ubuntu1" in preseed.splitlines()
    assert refused.returncode != 0  # --secure: nothing outside the TFTP root
