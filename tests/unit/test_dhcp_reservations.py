"""DHCP: the pure core (brinelib.dhcp: validation, the three renderers, log parsing, discovery) and
the dhcp_reservations module and state around it."""

import datetime
import ipaddress
import json

import pytest
from dhcp_mistakes import DHCP_MISTAKES
from inventory_mistakes import mutate

import dhcp_reservations as dr
from brinelib.dhcp import logs, render
from brinelib.dhcp.plan import plan, reserved_macs
from brinelib.errors import InventoryProblem
from brinelib.names import canonical_mac, parse_mac

UTC = datetime.timezone.utc


# --------------------------------------------------------------------------- validation

@pytest.mark.parametrize("kind", sorted(DHCP_MISTAKES))
def test_each_mistake_is_one_error_naming_host_and_field(inventory, kind):
    break_it, path, words = DHCP_MISTAKES[kind]
    with pytest.raises(InventoryProblem) as caught:
        plan(mutate(inventory, break_it))
    assert len(caught.value.errors) == 1, caught.value.errors
    (got_path, message), = caught.value.errors
    assert got_path == path
    assert words in message
    assert f"  - {path}: " in str(caught.value)


def test_several_mistakes_are_all_reported(inventory):
    def break_it(i):
        i["hosts"]["ubuntu1"]["nics"]["eth2"]["mac"] = "nope"
        i["hosts"]["ubuntu2"]["networks"]["management"]["address"] = "10.10.0.220"
    with pytest.raises(InventoryProblem) as caught:
        plan(mutate(inventory, break_it))
    assert [p for p, _ in caught.value.errors] == [
        "brine:hosts:ubuntu1:nics:eth2:mac",
        "brine:hosts:ubuntu2:networks:management:address",
    ]


def test_validation_does_not_trust_a_pre_checked_inventory(inventory):
    """The renderer can be fed an inventory directly: brine_inventory's check is not a prerequisite."""
    broken = mutate(inventory, lambda i: i["hosts"]["ubuntu2"]["nics"]["eth2"].update(mac="52:54:00:10:01:02"))
    with pytest.raises(InventoryProblem):
        render.render_config(broken)


# --------------------------------------------------------------------------- the plan


def test_plan_of_the_example_lab(inventory):
    p = plan(inventory)
    assert p["server"] == "isc-dhcp"
    assert p["interface"] == "eth0.10"  # the bootstrap host's management NIC, on VLAN 10
    assert p["subnet"] == ipaddress.ip_network("10.10.0.0/24")
    assert p["range"] == (ipaddress.ip_address("10.10.0.200"), ipaddress.ip_address("10.10.0.250"))
    assert p["mtu"] == 9000
    assert [str(a) for a in p["dns"]] == ["10.10.0.5"] and [str(a) for a in p["ntp"]] == ["10.10.0.5"]
    assert str(p["pxe"]["next_server"]) == "10.10.0.5"
    assert [(r["hostname"], r["nic"], r["mac"], str(r["ip"])) for r in p["reservations"]] == [
        ("bootstrap", "eth0", "52:54:00:10:00:05", "10.10.0.5"),
        ("ubuntu1", "eth2", "52:54:00:10:01:02", "10.10.0.11"),
        ("ubuntu2", "eth2", "52:54:00:10:02:02", "10.10.0.12"),
        ("ubuntu3", "eth2", "52:54:00:10:03:02", "10.10.0.13"),
    ]


def test_mac_spellings_are_normalised_and_reservations_sorted_by_ip(inventory):
    def edit(i):
        i["hosts"]["ubuntu1"]["nics"]["eth2"]["mac"] = "5254.0010.0102"
        i["hosts"]["ubuntu1"]["networks"]["management"]["address"] = "10.10.0.99"
        i["hosts"]["ubuntu3"]["nics"]["eth2"]["mac"] = "52-54-00-10-03-02".upper()
    p = plan(mutate(inventory, edit))
    assert [(r["host"], r["mac"]) for r in p["reservations"]] == [
        ("bootstrap", "52:54:00:10:00:05"),
        ("ubuntu2", "52:54:00:10:02:02"),
        ("ubuntu3", "52:54:00:10:03:02"),
        ("ubuntu1", "52:54:00:10:01:02"),
    ]


def test_hosts_without_an_address_on_the_dhcp_network_get_no_reservation(inventory):
    inventory["hosts"]["ubuntu3"]["networks"].pop("management")
    assert [r["host"] for r in plan(inventory)["reservations"]] == ["bootstrap", "ubuntu1", "ubuntu2"]


def test_interface_setting_and_argument_override_the_derived_name(inventory):
    inventory["services"]["dhcp"]["interface"] = "mgmt0"
    assert plan(inventory)["interface"] == "mgmt0"
    assert plan(inventory, interface="veth-dhcp")["interface"] == "veth-dhcp"
    inventory["services"]["dhcp"]["interface"] = "a-name-far-too-long"
    with pytest.raises(InventoryProblem, match="brine:services:dhcp:interface"):
        plan(inventory)


def test_network_dns_overrides_the_bootstrap_resolver(inventory):
    inventory["networks"]["management"]["dns"] = ["10.10.0.6", "10.10.0.7"]
    assert render.render_isc(plan(inventory)).count("option domain-name-servers 10.10.0.6, 10.10.0.7;") == 1


# --------------------------------------------------------------------------- renderers


def test_isc_renders_subnet_options_and_host_blocks(inventory):
    text = render.render_isc(plan(inventory))
    for line in (
        "subnet 10.10.0.0 netmask 255.255.255.0 {",
        "  option routers 10.10.0.1;",
        '  option domain-name "lab.home.arpa";',
        "  option domain-name-servers 10.10.0.5;",
        "  option ntp-servers 10.10.0.5;",
        "  option interface-mtu 9000;",
        "  next-server 10.10.0.5;",
        '    filename "pxelinux.0";',
        '    filename "bootx64.efi";',
        "  range 10.10.0.200 10.10.0.250;",
    ):
        assert line in text.splitlines(), line
    assert (
        "host ubuntu2 {\n  hardware ethernet 52:54:00:10:02:02;\n  fixed-address 10.10.0.12;\n"
        '  option host-name "ubuntu2";\n}\n'
    ) in text
    assert text.count("host ") == 4


def test_isc_without_dynamic_range_serves_reservations_only(inventory):
    inventory["networks"]["management"].pop("dhcp_range")
    text = render.render_isc(plan(inventory))
    assert "range " not in text and "fixed-address 10.10.0.11;" in text


def test_kea_renders_reservations_and_options(inventory):
    text = render.render_kea(plan(inventory))
    assert text.startswith("// ")
    config = json.loads(text.split("\n", 1)[1])["Dhcp4"]
    assert config["interfaces-config"] == {"interfaces": ["eth0.10"]}
    (subnet,) = config["subnet4"]
    assert subnet["subnet"] == "10.10.0.0/24" and subnet["next-server"] == "10.10.0.5"
    assert subnet["boot-file-name"] == "pxelinux.0"
    assert subnet["pools"] == [{"pool": "10.10.0.200 - 10.10.0.250"}]
    assert {"name": "interface-mtu", "data": "9000"} in subnet["option-data"]
    assert {"name": "routers", "data": "10.10.0.1"} in subnet["option-data"]
    assert subnet["reservations"][1] == {"hw-address": "52:54:00:10:01:02", "ip-address": "10.10.0.11", "hostname": "ubuntu1"}
    assert len(subnet["reservations"]) == 4


def test_dnsmasq_renders_dhcp_host_lines(inventory):
    lines = render.render_dnsmasq(plan(inventory)).splitlines()
    assert "dhcp-host=52:54:00:10:01:02,10.10.0.11,ubuntu1" in lines
    assert "dhcp-option=option:mtu,9000" in lines
    assert "dhcp-boot=tag:!efi,pxelinux.0,,10.10.0.5" in lines
    assert "interface=eth0.10" in lines and "port=0" in lines
    assert "dhcp-range=10.10.0.200,10.10.0.250,255.255.255.0,86400" in lines
    assert sum(line.startswith("dhcp-host=") for line in lines) == 4


def test_render_config_picks_the_server(inventory):
    assert render.render_config(inventory)[0] == "isc-dhcp"
    inventory["services"]["dhcp"]["server"] = "dnsmasq"
    server, text = render.render_config(inventory)
    assert server == "dnsmasq" and "dhcp-host=" in text
    assert render.render_config(inventory, server="kea")[1].startswith("// ")


def test_reserved_macs_include_every_inventory_nic(inventory):
    macs = reserved_macs(inventory)
    assert "52:54:00:10:01:03" in macs  # a bond partner: known, though not reserved
    assert len(macs) == 7


# --------------------------------------------------------------------------- log parsing

NOW = datetime.datetime(2026, 1, 2, 12, 0, tzinfo=UTC)

ISC_SYSLOG = """\
Dec 31 23:59:58 bootstrap dhcpd[811]: DHCPDISCOVER from 52:54:00:aa:00:01 via eth0.10
Dec 31 23:59:59 bootstrap dhcpd[811]: DHCPOFFER on 10.10.0.200 to 52:54:00:aa:00:01 (pxe-client) via eth0.10
Jan  1 00:00:01 bootstrap dhcpd[811]: DHCPREQUEST for 10.10.0.200 (10.10.0.5) from 52:54:00:aa:00:01 (pxe-client) via eth0.10
Jan  1 00:00:01 bootstrap dhcpd[811]: DHCPACK on 10.10.0.200 to 52:54:00:aa:00:01 (pxe-client) via eth0.10
Jan  1 00:00:02 bootstrap dhcpd[811]: DHCPDISCOVER from 52:54:00:10:1:2 via eth0.10
Jan  1 00:00:02 bootstrap dhcpd[811]: DHCPOFFER on 10.10.0.11 to 52:54:00:10:01:02 via eth0.10
Jan  1 00:00:03 bootstrap dhcpd[811]: DHCPDISCOVER from 0:22:99:ec:0:0 via eth0.10: network 10.10.0.0/24: no free leases
Jan  1 00:00:03 bootstrap systemd[1]: Started something unrelated.
"""


def test_isc_syslog_lines_become_records_with_inferred_years():
    records = logs.parse_log(ISC_SYSLOG, server="isc-dhcp", now=NOW, tz=UTC)
    assert [r["type"] for r in records] == [
        "DHCPDISCOVER", "DHCPOFFER", "DHCPREQUEST", "DHCPACK", "DHCPDISCOVER", "DHCPOFFER", "DHCPDISCOVER",
    ]
    assert records[0] == {
        "time": "2025-12-31T23:59:58+00:00", "server": "isc-dhcp", "type": "DHCPDISCOVER",
        "mac": "52:54:00:aa:00:01", "ip": None, "interface": "eth0.10",
    }
    assert records[2]["time"] == "2026-01-01T00:00:01+00:00"
    assert records[2]["ip"] == "10.10.0.200"
    assert records[4]["mac"] == "52:54:00:10:01:02"  # dhcpd prints octets unpadded
    assert records[6]["mac"] == "00:22:99:ec:00:00" and records[6]["interface"] == "eth0.10"


def test_syslog_lines_in_the_future_belong_to_last_year():
    (record,) = logs.parse_log("Dec 30 10:00:00 b dhcpd[1]: DHCPDISCOVER from 52:54:00:aa:00:09 via eth0\n", now=NOW, tz=UTC)
    assert record["time"] == "2025-12-30T10:00:00+00:00"
    (record,) = logs.parse_log("Jan  2 11:00:00 b dhcpd[1]: DHCPDISCOVER from 52:54:00:aa:00:09 via eth0\n", now=NOW, tz=UTC)
    assert record["time"] == "2026-01-02T11:00:00+00:00"


def test_a_log_spanning_two_new_years_goes_back_two_years():
    text = (
        "Nov  5 10:00:00 b dhcpd[1]: DHCPDISCOVER from 52:54:00:aa:00:01 via eth0\n"
        "Mar  5 10:00:00 b dhcpd[1]: DHCPDISCOVER from 52:54:00:aa:00:02 via eth0\n"
        "Jan  1 10:00:00 b dhcpd[1]: DHCPDISCOVER from 52:54:00:aa:00:03 via eth0\n"
    )
    years = [r["time"][:4] for r in logs.parse_log(text, now=NOW, tz=UTC)]
    assert years == ["2024", "2025", "2026"]


def test_iso_and_undated_lines():
    text = (
        "2026-11-21T23:55:01+0000 bootstrap dhcpd[9]: DHCPDISCOVER from 52:54:00:aa:00:01 via veth0\n"
        "2026-11-21T23:55:02.123456+01:00 bootstrap dhcpd[9]: DHCPDISCOVER from 52:54:00:aa:00:01 via veth0\n"
        "DHCPDISCOVER from 52:54:00:aa:00:02 via veth0\n"
    )
    records = logs.parse_log(text, tz=UTC)
    assert [r["time"] for r in records] == ["2026-11-21T23:55:01+00:00", "2026-11-21T23:55:02.123456+01:00", None]


DNSMASQ_LOG = """\
Nov 21 23:40:01 dnsmasq-dhcp[77]: 2846291 available DHCP range: 10.10.0.200 -- 10.10.0.250
Nov 21 23:40:01 dnsmasq-dhcp[77]: 2846291 DHCPDISCOVER(eth0.10) 52:54:00:aa:00:05
Nov 21 23:40:01 dnsmasq-dhcp[77]: 2846291 tags: eth0.10
Nov 21 23:40:01 dnsmasq-dhcp[77]: 2846291 DHCPOFFER(eth0.10) 10.10.0.201 52:54:00:aa:00:05
Nov 21 23:40:02 dnsmasq-dhcp[77]: DHCPREQUEST(eth0.10) 10.10.0.201 52:54:00:aa:00:05
Nov 21 23:40:02 dnsmasq-dhcp[77]: DHCPACK(eth0.10) 10.10.0.201 52:54:00:aa:00:05 newbox
Nov 21 23:41:00 dnsmasq-dhcp[77]: DHCPDISCOVER(eth0.10) 52:54:00:10:02:02 no address available
"""


def test_dnsmasq_lines_become_records():
    records = logs.parse_log(DNSMASQ_LOG, server="dnsmasq", now=NOW.replace(year=2026, month=11, day=22), tz=UTC)
    assert [(r["type"], r["ip"], r["mac"]) for r in records] == [
        ("DHCPDISCOVER", None, "52:54:00:aa:00:05"),
        ("DHCPOFFER", "10.10.0.201", "52:54:00:aa:00:05"),
        ("DHCPREQUEST", "10.10.0.201", "52:54:00:aa:00:05"),
        ("DHCPACK", "10.10.0.201", "52:54:00:aa:00:05"),
        ("DHCPDISCOVER", None, "52:54:00:10:02:02"),
    ]
    assert {r["interface"] for r in records} == {"eth0.10"}
    assert records[0]["time"] == "2026-11-21T23:40:01+00:00"


KEA_LOG = (
    "2026-11-21 23:50:00.123 INFO  [kea-dhcp4.leases/900.1400] DHCP4_LEASE_ALLOC [hwtype=1 52:54:00:aa:00:07], "
    "cid=[no info], tid=0x1a2b3c4d: lease 10.10.0.202 has been allocated for 86400 seconds\n"
    "2026-11-21 23:50:00.100 INFO  [kea-dhcp4.dhcp4/900.1400] DHCP4_QUERY_LABEL received query: [hwtype=1 52:54:00:aa:00:07]\n"
)


def test_kea_lines_become_records():
    records = logs.parse_log(KEA_LOG, tz=UTC)
    assert [(r["server"], r["type"], r["mac"], r["ip"]) for r in records] == [
        ("kea", "DHCP4_LEASE_ALLOC", "52:54:00:aa:00:07", "10.10.0.202"),
    ]
    assert records[0]["time"] == "2026-11-21T23:50:00.123000+00:00"


def test_server_autodetection_reads_mixed_logs():
    records = logs.parse_log(ISC_SYSLOG + DNSMASQ_LOG, now=NOW, tz=UTC)
    assert {r["server"] for r in records} == {"isc-dhcp", "dnsmasq"}


def test_unknown_server_is_refused():
    with pytest.raises(ValueError, match="unknown DHCP server 'udhcpd'"):
        logs.parse_log("", server="udhcpd")


# --------------------------------------------------------------------------- discovery


def test_unknown_macs_fold_records_and_skip_the_inventory(inventory):
    records = logs.parse_log(ISC_SYSLOG, now=NOW, tz=UTC)
    found = logs.unknown_macs(records, reserved_macs(inventory))
    assert found == [
        {"mac": "52:54:00:aa:00:01", "first_seen": "2025-12-31T23:59:58+00:00", "last_seen": "2026-01-01T00:00:01+00:00",
         "count": 4, "ip": "10.10.0.200", "interface": "eth0.10"},
        {"mac": "00:22:99:ec:00:00", "first_seen": "2026-01-01T00:00:03+00:00", "last_seen": "2026-01-01T00:00:03+00:00",
         "count": 1, "ip": None, "interface": "eth0.10"},
    ]


def test_unknown_macs_sorted_by_first_seen_not_by_log_order():
    records = [
        {"time": "2026-11-21T10:00:05+00:00", "server": "isc-dhcp", "type": "DHCPDISCOVER", "mac": "52:54:00:aa:00:02", "ip": None, "interface": "a"},
        {"time": "2026-11-21T09:00:00+01:00", "server": "isc-dhcp", "type": "DHCPDISCOVER", "mac": "52:54:00:aa:00:01", "ip": None, "interface": "b"},
    ]
    assert [e["mac"] for e in logs.unknown_macs(records, set())] == ["52:54:00:aa:00:01", "52:54:00:aa:00:02"]


def test_undated_records_take_the_default_time():
    records = logs.parse_log("DHCPDISCOVER from 52:54:00:aa:00:02 via veth0\n")
    (entry,) = logs.unknown_macs(records, set(), default_time="2026-11-21T23:00:00+00:00")
    assert entry["first_seen"] == entry["last_seen"] == "2026-11-21T23:00:00+00:00"


@pytest.mark.parametrize("value", [
    "52:54:00:10:01:02", "52-54-00-10-01-02", "5254.0010.0102", "525400100102", "52:54:00:10:01:02".upper(),
    "01:00:5e:00:00:01", "00:00:00:00:00:00", "ff:ff:ff:ff:ff:ff", "52:54:00:10:01", "52:54:00:10:01:02:03", "zz:54:00:10:01:02",
])
def test_mac_fast_path_agrees_with_the_full_parser(value):
    try:
        expected = parse_mac(value)
    except ValueError:
        expected = ValueError
    try:
        got = canonical_mac(value)
    except ValueError:
        got = ValueError
    assert got == expected


@pytest.mark.parametrize("address, words", [
    ("10.10.0.011", "is not an IP address"),
    ("10.10.0.256", "is not an IP address"),
    ("fd00::11", "outside the DHCP subnet"),
    (" 10.10.0.11 ", None),
])
def test_address_parsing_edge_cases(inventory, address, words):
    inventory["hosts"]["ubuntu1"]["networks"]["management"]["address"] = address
    if words is None:
        assert str(plan(inventory)["reservations"][1]["ip"]) == "10.10.0.11"
    else:
        with pytest.raises(InventoryProblem, match=words):
            plan(inventory)


JOURNAL_TEXT = """\
2026-11-22T06:10:00+0000 bootstrap dhcpd[812]: DHCPDISCOVER from 2:b7:1e:0:0:1 via eth0.10
2026-11-22T06:10:00+0000 bootstrap dhcpd[812]: DHCPOFFER on 10.10.0.200 to 02:b7:1e:00:00:01 via eth0.10
2026-11-22T06:10:01+0000 bootstrap dhcpd[812]: DHCPREQUEST for 10.10.0.11 from 52:54:00:10:01:02 via eth0.10
2026-11-22T06:10:01+0000 bootstrap dhcpd[812]: DHCPACK on 10.10.0.11 to 52:54:00:10:01:02 (ubuntu1) via eth0.10
"""


def test_discover_text_finds_the_unknown_macs_of_the_text_given(inventory):
    assert dr.discover_text(JOURNAL_TEXT, inventory=inventory) == [
        {"mac": "02:b7:1e:00:00:01", "first_seen": "2026-11-22T06:10:00+00:00", "last_seen": "2026-11-22T06:10:00+00:00",
         "count": 2, "ip": "10.10.0.200", "interface": "eth0.10"},
    ]
    assert dr.discover_text("", inventory=inventory) == []


def test_discover_text_refuses_an_unknown_server(inventory):
    with pytest.raises(dr.CommandExecutionError, match="unknown DHCP server"):
        dr.discover_text(JOURNAL_TEXT, server="udhcpd", inventory=inventory)


@pytest.mark.parametrize("server, configured, exists, journalctl, expected", [
    # Stock Debian 12: no rsyslog, dhcpd only in the journal.
    ("isc-dhcp", None, False, True, "journal:dhcpd"),
    # rsyslog installed: its file, which the engine watches with inotify.
    ("isc-dhcp", None, True, True, "/var/log/syslog"),
    # No systemd journal to read either: the file a syslog daemon would write.
    ("isc-dhcp", None, False, False, "/var/log/syslog"),
    # The inventory's setting always wins.
    ("isc-dhcp", "/var/log/dhcpd.log", False, True, "/var/log/dhcpd.log"),
    # Kea and dnsmasq write their own files (the bootstrap states configure them), not syslog.
    ("kea", None, False, True, "/var/log/kea/kea-dhcp4.log"),
    ("dnsmasq", None, False, True, "/var/log/brine-dnsmasq.log"),
])
def test_choose_log_source(server, configured, exists, journalctl, expected):
    assert logs.choose_log_source(server, configured_log=configured, default_exists=exists, has_journalctl=journalctl) == expected


def test_choose_log_source_refuses_an_unknown_server():
    with pytest.raises(ValueError, match="unknown DHCP server"):
        logs.choose_log_source("udhcpd", has_journalctl=True)


def test_log_source_reads_the_inventory_and_this_host(inventory, tmp_path, monkeypatch):
    inventory["services"]["dhcp"]["log"] = str(tmp_path / "dhcpd.log")
    assert dr.log_source(inventory) == str(tmp_path / "dhcpd.log")
    del inventory["services"]["dhcp"]["log"]
    # This host's own answer: the default file if it exists, else the journal if journalctl does.
    monkeypatch.setitem(logs.DEFAULT_LOGS, "isc-dhcp", str(tmp_path / "syslog"))
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    assert dr.log_source(inventory) == str(tmp_path / "syslog")
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "journalctl").write_text("#!/bin/sh\n")
    (tmp_path / "bin" / "journalctl").chmod(0o755)
    assert dr.log_source(inventory) == "journal:dhcpd"
    (tmp_path / "syslog").write_text("")
    assert dr.log_source(inventory) == str(tmp_path / "syslog")
    assert dr.log_path(inventory) == str(tmp_path / "syslog")  # log_path: the file, whatever exists


def test_discover_text_with_known_macs_needs_no_inventory(inventory):
    known = dr.known_macs(inventory)
    assert "52:54:00:10:01:02" in known and known == sorted(known)
    # What the events engine calls: no pillar, the MACs from its configuration, lines recognised by format.
    assert dr.discover_text(JOURNAL_TEXT, known_macs=known) == dr.discover_text(JOURNAL_TEXT, inventory=inventory)
    assert [e["mac"] for e in dr.discover_text(JOURNAL_TEXT, known_macs=[])] == ["02:b7:1e:00:00:01", "52:54:00:10:01:02"]


def test_discover_a_log_file_with_known_macs_needs_no_inventory(inventory, tmp_path):
    log = tmp_path / "syslog"
    log.write_text(JOURNAL_TEXT)
    found = dr.discover(log_path=str(log), known_macs=dr.known_macs(inventory))
    assert [e["mac"] for e in found] == ["02:b7:1e:00:00:01"] and found[0]["count"] == 2


# --------------------------------------------------------------------------- the state's backups


def test_managed_keeps_the_newest_backups_of_the_replaced_file(tmp_path, monkeypatch):
    """The state with its rendering and the daemon's check stubbed: each replaced file is
    backed up beside it under a hidden name (dnsmasq's conf-dir skips dot files), five kept."""
    from brine_testlib import load_extension

    st = load_extension("states", "dhcp_reservations")
    versions = iter(f"# version {i}\n" for i in range(1, 9))
    st.__salt__ = {"dhcp_reservations.render": lambda **kw: next(versions),
                   "dhcp_reservations.check_config": lambda path, server=None: {"valid": True, "output": ""}}
    st.__opts__ = {"test": False}
    conf = tmp_path / "dhcpd.conf"
    conf.write_text("# written by hand\n")
    backups = []
    for _ in range(7):
        ret = st.managed(str(conf), server="isc-dhcp")
        assert ret["result"] is True
        backups.append(ret["changes"]["backup"])
    assert conf.read_text() == "# version 7\n"
    kept = sorted(p for p in tmp_path.iterdir() if p.name != "dhcpd.conf")
    assert [str(p) for p in kept] == backups[-5:] and all(p.name.startswith(".dhcpd.conf.brine-") for p in kept)
    assert [p.read_text() for p in kept] == [f"# version {i}\n" for i in range(2, 7)]
    assert all(p.stat().st_mode == conf.stat().st_mode for p in kept)
