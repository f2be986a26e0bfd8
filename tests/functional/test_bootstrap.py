"""
The bootstrap role and the client settings, really applied by salt-call in private mount
namespaces (tmpfs over every directory they write): each daemon's own checker accepts what was
written, a second apply changes nothing, and an inventory the DHCP validation refuses stops the
role before any file is written.
"""

import json
import os
import shlex
import subprocess

import pytest
from dhcp_mistakes import DHCP_MISTAKES
from inventory_mistakes import mutate
from brine_testlib import sourced

BOOTSTRAP_DIRS = [
    "/etc/brine", "/etc/dhcp", "/etc/default", "/srv/tftp", "/etc/chrony",
    "/etc/unbound/unbound.conf.d", "/etc/squid",
]
CLIENT_DIRS = ["/etc/brine", "/etc/chrony", "/etc/apt/apt.conf.d", "/etc/xdg", "/etc/profile.d"]
CHECKS = {
    "dhcpd": "dhcpd -4 -t -q -cf /etc/dhcp/dhcpd.conf",
    "unbound": "unbound-checkconf /etc/unbound/unbound.conf.d/brine.conf",
    "squid": "squid -k parse -f /etc/squid/squid.conf",
    "chrony": "chronyd -p -f /etc/chrony/chrony.conf",
    "preseed": "debconf-set-selections --checkonly /srv/tftp/preseed/ubuntu2.cfg",
}
READ = [
    "/etc/default/isc-dhcp-server", "/etc/default/tftpd-hpa", "/srv/tftp/pxelinux.cfg/default",
    "/srv/tftp/pxelinux.cfg/01-52-54-00-10-02-02", "/srv/tftp/preseed/ubuntu2.cfg", "/etc/chrony/chrony.conf",
    "/etc/unbound/unbound.conf.d/brine.conf", "/etc/squid/squid.conf",
]


@pytest.fixture(scope="module")
def applied(tmp_path_factory):
    """bootstrap.config applied twice, then the checkers and a read of every file, in one sandbox."""
    from brine_testlib import SaltCall, example_inventory

    salt_call = SaltCall(tmp_path_factory.mktemp("bootstrap") / "salt")
    # The example's acme:pebble adds pebble's systemd unit and service, which this sandbox (no
    # systemd, tmpfs over the daemons' directories only) cannot hold: tests/functional/test_acme.py
    # runs pebble on loopback and the lab runs these states.
    inventory = example_inventory()
    inventory["acme"]["pebble"] = False
    pillar_root = salt_call.pillar_root_with(inventory)
    calls = [["state.apply", "bootstrap.config"], ["state.apply", "bootstrap.config"]]
    calls += [["cmd.run_all", cmd] for cmd in CHECKS.values()]
    calls += [["file.read", path] for path in READ]
    outs = salt_call.in_sandbox(BOOTSTRAP_DIRS, calls, minion_id="bootstrap", pillar_root=pillar_root)
    first, second = outs[:2]
    checks = dict(zip(CHECKS, outs[2:2 + len(CHECKS)]))
    files = dict(zip(READ, outs[2 + len(CHECKS):]))
    left = {d: salt_call.files_left_in(d) for d in BOOTSTRAP_DIRS}
    return first, second, checks, files, left


def test_bootstrap_config_applies_and_a_second_apply_changes_nothing(applied):
    first, second, _, _, left = applied
    assert all(r["result"] is True for r in first.values()), [r["comment"] for r in first.values() if r["result"] is not True]
    changed = {r["__id__"] for r in first.values() if r["changes"]}
    assert {"bootstrap-dhcp-config", "bootstrap-ntp-config", "bootstrap-dns-config", "bootstrap-proxy-config",
            "bootstrap-pxe-files", "bootstrap-tftp-pxelinux.0"} <= changed
    pxe_files = next(r["changes"] for r in first.values() if r["__id__"] == "bootstrap-pxe-files")
    assert {"/srv/tftp/pxelinux.cfg/default", "/srv/tftp/pxelinux.cfg/01-52-54-00-10-02-02",
            "/srv/tftp/preseed/ubuntu2.cfg"} <= set(pxe_files)
    assert all(r["result"] is True for r in second.values())
    assert [r["__id__"] for r in second.values() if r["changes"]] == []
    assert "/srv/tftp/pxelinux.cfg/01-52-54-00-10-00-05" not in left["/srv/tftp"]  # the bootstrap host installs nobody


def test_every_written_config_passes_its_daemons_own_check(applied):
    _, _, checks, _, _ = applied
    for name, result in checks.items():
        assert result["retcode"] == 0, (name, result)


def test_services_listen_on_the_management_network_only(applied):
    files = applied[3]
    assert sourced(files["/etc/default/isc-dhcp-server"])["INTERFACESv4"] == "eth0.10"
    assert sourced(files["/etc/default/tftpd-hpa"])["TFTP_ADDRESS"] == "10.10.0.5:69"
    assert "http_port 10.10.0.5:3128" in files["/etc/squid/squid.conf"]
    assert "acl brine_management src 10.10.0.0/24" in files["/etc/squid/squid.conf"]
    chrony = files["/etc/chrony/chrony.conf"].splitlines()
    assert "allow 10.10.0.0/24" in chrony and "bindaddress 10.10.0.5" in chrony and "local stratum 10" in chrony
    assert "pool 0.debian.pool.ntp.org iburst" in chrony
    unbound = files["/etc/unbound/unbound.conf.d/brine.conf"]
    assert "interface: 10.10.0.5" in unbound and "access-control: 10.10.0.0/24 allow" in unbound
    assert 'local-data: "ubuntu2.lab.home.arpa. IN A 10.10.0.12"' in unbound
    assert 'local-data: "internal.lab.home.arpa. IN A 10.10.0.100"' in unbound


def test_pxe_menu_and_preseed_of_a_reserved_host(applied):
    files = applied[3]
    assert "LOCALBOOT 0" in files["/srv/tftp/pxelinux.cfg/default"]
    assert "KERNEL" not in files["/srv/tftp/pxelinux.cfg/default"]  # unknown machines are never installed
    menu = files["/srv/tftp/pxelinux.cfg/01-52-54-00-10-02-02"]
    assert "url=tftp://10.10.0.5/preseed/ubuntu2.cfg hostname=ubuntu2" in menu
    assert "console=ttyS0,115200n8" in menu and "SERIAL 0 115200" in menu
    preseed = files["/srv/tftp/preseed/ubuntu2.cfg"].splitlines()
    for line in (
        "d-i passwd/root-login boolean false",
        "d-i passwd/username string brine",
        "d-i passwd/user-password-crypted password !",
        "d-i mirror/http/proxy string http://10.10.0.5:3128/",
        "d-i clock-setup/ntp-server string 10.10.0.5",
        "d-i debian-installer/add-kernel-opts string console=tty0 console=ttyS0,115200n8",
    ):
        assert line in preseed, line
    text = "\n".join(preseed)
    assert "'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBZgUM0p4h2TFkRC+XUT6uiPnG19UQYGAD7yT/u4o7O0 operator@lab'" in text
    assert "echo 'brine ALL=(ALL:ALL) NOPASSWD: ALL' > /etc/sudoers.d/brine-deploy\"" in text
    assert "PermitRootLogin no" in text


@pytest.mark.parametrize("kind", ["root as the install user", "IP inside the dynamic range"])
def test_a_refused_inventory_stops_the_role_before_any_file(salt_call, inventory, kind):
    break_it, path, words = DHCP_MISTAKES[kind]
    broken = mutate(inventory, break_it)
    pillar_root = salt_call.pillar_root_with(broken)
    (out,) = salt_call.in_sandbox(BOOTSTRAP_DIRS, [["state.apply", "bootstrap"]], minion_id="bootstrap", pillar_root=pillar_root)
    failed = [r for r in out.values() if r["result"] is False]
    assert failed, out
    assert failed[0]["__id__"] in ("bootstrap-lab-valid", "brine-inventory-valid")
    assert path in failed[0]["comment"] and words in failed[0]["comment"]
    assert all(not r["changes"] for r in out.values())
    for d in BOOTSTRAP_DIRS:
        assert salt_call.files_left_in(d) == [], d


def test_client_settings_need_the_hosts_management_nic(salt_call):
    """On a machine without ubuntu2's MAC, the client settings are skipped, visibly."""
    (out,) = salt_call.in_sandbox(CLIENT_DIRS, [["state.apply", "brine.clients"]], minion_id="ubuntu2")
    (result,) = out.values()
    assert result["__id__"] == "brine-clients-not-on-management-network" and result["result"] is True
    assert "52:54:00:10:02:02" in result["comment"]
    for d in CLIENT_DIRS:
        assert salt_call.files_left_in(d) == []


def test_client_settings_apply_on_the_host_that_owns_the_nic(salt_call, tmp_path):
    """In a network namespace whose NIC has ubuntu2's management MAC: chrony follows the
    bootstrap host, apt/pip/shells use its Squid. (The chrony service is excluded: it would
    outlive the test.)"""
    ns = f"brc{os.getpid() % 100000}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        subprocess.run(["ip", "-n", ns, "link", "add", "eth2", "address", "52:54:00:10:02:02", "type", "veth", "peer", "name", "eth2peer"], check=True)
        exclude = "exclude=" + json.dumps([{"id": "brine-clients-chrony-service"}])
        calls = [["state.apply", "brine.clients", exclude]] * 2 + [
            ["file.read", "/etc/apt/apt.conf.d/80brine-proxy"],
            ["file.read", "/etc/chrony/chrony.conf"],
            ["file.read", "/etc/xdg/pip/pip.conf"],
            ["cmd.run_all", "apt-config dump Acquire::http::Proxy"],
        ]
        script = [f"mkdir -p {d} && mount -t tmpfs brine-test {d}" for d in CLIENT_DIRS]
        outs = []
        for idx, args in enumerate(calls):
            out_file = tmp_path / f"client-{idx}.json"
            outs.append(out_file)
            script.append(" ".join(shlex.quote(a) for a in salt_call.command(*args, minion_id="ubuntu2", out_file=out_file)) + " || true")
        proc = subprocess.run(
            ["ip", "netns", "exec", ns, "unshare", "--mount", "--propagation", "private", "sh", "-ec", "\n".join(script)],
            capture_output=True, text=True, timeout=600,
        )
        assert proc.returncode == 0, proc.stderr
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=False)
    first, second, apt, chrony, pip, dump = (json.loads(f.read_text())["local"] for f in outs)
    assert all(r["result"] is True for r in first.values()), first
    assert {r["__id__"] for r in first.values() if r["changes"]} == {
        "brine-clients-chrony-config", "brine-clients-apt-proxy", "brine-clients-pip-proxy", "brine-clients-shell-proxy",
    }
    assert [r["__id__"] for r in second.values() if r["changes"]] == []
    assert 'Acquire::http::Proxy "http://10.10.0.5:3128/";' in apt
    assert chrony.splitlines()[1] == "server 10.10.0.5 iburst" and "pool" not in chrony
    assert "proxy = http://10.10.0.5:3128/" in pip
    assert dump["retcode"] == 0 and 'Acquire::http::Proxy "http://10.10.0.5:3128/";' in dump["stdout"]


def test_client_settings_explain_the_skip_when_the_bootstrap_services_are_refused(salt_call, inventory):
    broken = mutate(inventory, DHCP_MISTAKES["DNS forwarder that is not an address"][0])
    out, _ = salt_call("state.show_sls", "brine.clients", minion_id="ubuntu2", pillar_root=salt_call.pillar_root_with(broken))
    assert list(out) == ["brine-clients-no-bootstrap-services"]
    comment = out["brine-clients-no-bootstrap-services"]["test"][0]["comment"]
    assert "brine:services:dns:forwarders:0: 'home-router'" in comment
