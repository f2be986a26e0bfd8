"""
dhcp_reservations through salt-call: the real daemons' checkers accept what the renderers
produce, the state writes only checked configurations, is idempotent, honours test=True, and
leaves the running configuration byte for byte untouched when the inventory or the daemon's
check refuses. Every file lives in the test's own temporary directory.
"""

import json
import subprocess

import pytest
import yaml
from dhcp_mistakes import DHCP_MISTAKES
from inventory_mistakes import mutate

from brinelib.dhcp import SERVERS, render
from brinelib.errors import InventoryProblem

# Kea's check opens the interfaces it is told to serve: give it one every machine has.
CHECK_INTERFACE = {"isc-dhcp": None, "kea": "lo", "dnsmasq": None}
CONFIG_NAME = {"isc-dhcp": "dhcpd.conf", "kea": "kea-dhcp4.conf", "dnsmasq": "brine.conf"}
STATE_KEY = "dhcp_reservations_|-dhcp_|-{}_|-managed"


@pytest.mark.parametrize("server", SERVERS)
def test_the_daemons_own_checkers_accept_the_rendered_example(tmp_path, inventory, server):
    _, text = render.render_config(inventory, server=server, interface=CHECK_INTERFACE[server])
    path = tmp_path / CONFIG_NAME[server]
    path.write_text(text)
    binary, argv = render.CHECKERS[server]
    proc = subprocess.run(argv(str(path)), capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


BREAKAGE = {
    "isc-dhcp": lambda text: text + "host broken { fixed-address 10.10.0.60 }\n",
    "kea": lambda text: text.rstrip().rstrip("}"),
    "dnsmasq": lambda text: text + "dhcp-hostt=52:54:00:aa:00:01,10.10.0.60\n",
}


@pytest.mark.parametrize("server", SERVERS)
def test_the_daemons_own_checkers_refuse_a_broken_config(tmp_path, inventory, server):
    """The checkers are real: one broken line makes each of them fail."""
    _, text = render.render_config(inventory, server=server, interface=CHECK_INTERFACE[server])
    path = tmp_path / CONFIG_NAME[server]
    path.write_text(BREAKAGE[server](text))
    _, argv = render.CHECKERS[server]
    assert subprocess.run(argv(str(path)), capture_output=True).returncode != 0


def test_dhcpd_alone_would_accept_a_seven_octet_mac(tmp_path, inventory):
    """Why the renderer validates MACs itself: dhcpd -t takes any octet count."""
    text = render.render_config(inventory)[1].replace("52:54:00:10:02:02;", "52:54:00:10:02:02:99;")
    path = tmp_path / "dhcpd.conf"
    path.write_text(text)
    assert subprocess.run(render.CHECKERS["isc-dhcp"][1](str(path)), capture_output=True).returncode == 0
    broken = mutate(inventory, DHCP_MISTAKES["seven-octet MAC"][0])
    with pytest.raises(InventoryProblem, match="brine:hosts:ubuntu2:nics:eth2:mac"):
        render.render_config(broken)


def _single(salt_call, path, server, inventory=None, test=False, interface=None):
    args = ["state.single", "dhcp_reservations.managed", f"name={path}", f"server={server}"]
    if interface or CHECK_INTERFACE[server]:
        args.append(f"interface={interface or CHECK_INTERFACE[server]}")
    if inventory is not None:
        args.append("inventory=" + json.dumps(inventory))
    if test:
        args.append("test=True")
    out, _ = salt_call(*args, minion_id="bootstrap")
    (result,) = out.values()
    return result


@pytest.mark.parametrize("server", SERVERS)
def test_managed_writes_a_checked_config_then_reports_no_changes(salt_call, tmp_path, server):
    path = tmp_path / "conf" / CONFIG_NAME[server]
    path.parent.mkdir()
    first = _single(salt_call, path, server)
    assert first["result"] is True, first["comment"]
    assert first["changes"] == {"diff": "new file"}
    assert path.read_text() == render.render_config(_example(), server=server, interface=CHECK_INTERFACE[server])[1]
    second = _single(salt_call, path, server)
    assert second["result"] is True and second["changes"] == {}, second
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]


def test_test_mode_reports_the_diff_and_writes_nothing(salt_call, tmp_path):
    path = tmp_path / "dhcpd.conf"
    path.write_text(render.render_config(_example())[1])
    moved = mutate(_example(), lambda i: i["hosts"]["ubuntu2"]["networks"]["management"].update(address="10.10.0.42"))
    before = path.read_bytes()
    result = _single(salt_call, path, "isc-dhcp", inventory=moved, test=True)
    assert result["result"] is None
    assert "-  fixed-address 10.10.0.12;" in result["changes"]["diff"]
    assert "+  fixed-address 10.10.0.42;" in result["changes"]["diff"]
    assert path.read_bytes() == before
    applied = _single(salt_call, path, "isc-dhcp", inventory=moved)
    assert applied["result"] is True and "fixed-address 10.10.0.42;" in path.read_text()


def test_every_refused_inventory_leaves_the_running_config_untouched(salt_call, tmp_path):
    """One salt-call applies one state per deliberate mistake, all aimed at the same live file."""
    path = tmp_path / "dhcpd.conf"
    path.write_text(render.render_config(_example())[1])
    before, mtime = path.read_bytes(), path.stat().st_mtime_ns
    kinds = sorted(DHCP_MISTAKES)
    sls = {
        f"dhcp-{idx}": {"dhcp_reservations.managed": [
            {"name": str(path)},
            {"inventory": mutate(_example(), DHCP_MISTAKES[kind][0])},
        ]}
        for idx, kind in enumerate(kinds)
    }
    template = tmp_path.parent / "refused.sls"  # outside tmp_path, whose listing is asserted below
    template.write_text(yaml.safe_dump(sls))
    out, _ = salt_call("state.template", str(template), minion_id="bootstrap")
    by_id = {r["__id__"]: r for r in out.values()}
    for idx, kind in enumerate(kinds):
        result = by_id[f"dhcp-{idx}"]
        _, field, words = DHCP_MISTAKES[kind]
        assert result["result"] is False, kind
        assert f"  - {field}: " in result["comment"] and words in result["comment"], (kind, result["comment"])
        assert "left untouched" in result["comment"]
    assert path.read_bytes() == before and path.stat().st_mtime_ns == mtime
    assert [p.name for p in tmp_path.iterdir() if p.name != "salt"] == ["dhcpd.conf"]


def test_a_config_the_daemon_refuses_is_never_installed(salt_call, tmp_path):
    """kea-dhcp4 -t refuses to serve an interface this machine does not have (a typo in
    services:dhcp:interface): the renderer cannot know, the daemon's check does."""
    path = tmp_path / "kea-dhcp4.conf"
    path.write_text(render.render_config(_example(), server="kea", interface="lo")[1])
    before = path.read_bytes()
    result = _single(salt_call, path, "kea", interface="nosuch0")
    assert result["result"] is False
    assert "The kea check refused the rendered configuration" in result["comment"]
    assert "interface 'nosuch0' doesn't exist" in result["comment"]
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if p.name != "salt"] == ["kea-dhcp4.conf"]  # no candidate left


def _example():
    from brine_testlib import example_inventory

    return example_inventory()
