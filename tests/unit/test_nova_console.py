"""
The pure core of _modules/nova_console.py: release names, settings from the inventory, and the
INI-aware check/patch of nova.conf, judged by oslo.config's own parser on realistic files
(tests/data/nova/README.md says where each comes from).
"""

import re

import pytest
from brine_inventory import normalise
from brine_testlib import REPO, example_inventory
from nova_judge import nova_vnc_values, oslo_sections
from oslo_config import cfg

import nova_console as nc

DATA = REPO / "tests" / "data" / "nova"
LAB = normalise(example_inventory())
WANTED = nc.console_settings(LAB, "ubuntu1")
INTENDED = {
    "enabled": True,
    "server_listen": "10.10.0.11",
    "server_proxyclient_address": "10.10.0.11",
    "novncproxy_base_url": "http://cloud.lab.home.arpa:6080/vnc_lite.html",
}
# Every spelling of a managed option, by oslo group: a line that sets one of these may change.
MANAGED = {}
for _, _names, _aliases in nc.RELEASE_TABLE:
    for _group, _key in [*_names.values(), *(a for more in _aliases.values() for a in more)]:
        MANAGED.setdefault(nc.normalize_group(_group), set()).add(_key)


def lab_with(release=None, **console):
    inv = example_inventory()
    if release:
        inv["openstack"]["release"] = release
    if console:
        inv["openstack"]["console"] = console
    return normalise(inv)


def unmanaged_lines(text):
    """The lines of ``text`` that set no console option (tracking sections the way oslo does)."""
    group, keep = None, []
    for line in nc.split_lines(text):
        header = re.match(r"^\[(.+)\]\s*$", line)
        if header:
            group = nc.normalize_group(header.group(1))
        else:
            match = re.match(r"^([^\s#;\[][^=:]*?)\s*[=:]", line)
            if match and match.group(1) in MANAGED.get(group, ()):
                continue
        keep.append(line)
    return keep


def write(tmp_path, text, name="nova.conf"):
    path = tmp_path / name
    path.write_bytes(text.encode())
    return path


def patched(tmp_path, text, wanted=WANTED):
    new, findings = nc.patch_text(text, wanted)
    return new, findings, write(tmp_path, new, "patched.conf")


# --------------------------------------------------------------------------- releases


@pytest.mark.parametrize(
    "release, naming",
    [
        ("icehouse", "default"), ("2014.1", "default"), ("Kilo", "default"), ("2015.1", "default"),
        ("liberty", "vnc-group"), ("ocata", "vnc-group"), ("pike", "vnc-group"),
        ("queens", "vnc"), ("zed", "vnc"), ("2023.1", "vnc"), ("2024.1", "vnc"), ("2031.2", "vnc"),
    ],
)
def test_release_picks_the_option_names_nova_reads(release, naming):
    assert nc.naming_for_release(release) == naming


@pytest.mark.parametrize("release", ["havana", "2013.2", "essex", "austin"])
def test_releases_before_icehouse_have_no_names(release):
    assert nc.release_ordinal(release) < nc.release_ordinal("icehouse")
    with pytest.raises(ValueError, match="older than icehouse"):
        nc.naming_for_release(release)


def test_pike_reads_the_vncserver_names_and_queens_the_server_names():
    assert nc.option_name("server_listen", "pike") == ("vnc", "vncserver_listen")
    assert nc.option_name("server_proxyclient_address", "pike") == ("vnc", "vncserver_proxyclient_address")
    assert nc.option_name("server_listen", "queens") == ("vnc", "server_listen")
    assert ("vnc", "vncserver_listen") in nc.deprecated_names("server_listen", "xena")
    assert nc.deprecated_names("server_listen", "yoga") == []
    assert nc.deprecated_names("enabled", "2024.1") == [("DEFAULT", "vnc_enabled")]


def test_releases_are_ordered_across_both_numbering_schemes():
    order = ["2014.1", "juno", "liberty", "pike", "rocky", "zed", "2023.1", "bobcat", "2024.1", "2025.1"]
    assert [nc.release_ordinal(r) for r in order] == sorted(nc.release_ordinal(r) for r in order)


@pytest.mark.parametrize("bad", ["foo", "2019.1", "24.1", ""])
def test_unknown_release_is_refused(bad):
    with pytest.raises(ValueError, match="not an OpenStack release"):
        nc.release_ordinal(bad)


# --------------------------------------------------------------------------- settings


def test_compute_settings_come_from_the_inventory():
    assert WANTED["naming"] == "vnc" and WANTED["deployment"] == "packages"
    assert WANTED["options"] == INTENDED
    other = nc.console_settings(LAB, "ubuntu3")["options"]
    assert other["server_proxyclient_address"] == "10.10.0.13"


def test_tls_port_and_listen_any():
    opts = nc.console_settings(lab_with(tls=True, port=443, listen="any"), "ubuntu2")["options"]
    assert opts["novncproxy_base_url"] == "https://cloud.lab.home.arpa:443/vnc_lite.html"
    assert opts["server_listen"] == "0.0.0.0"
    assert opts["server_proxyclient_address"] == "10.10.0.12"


def test_older_releases_use_vnc_auto_and_their_names():
    icehouse = nc.console_settings(lab_with("icehouse"), "ubuntu1")
    assert icehouse["naming"] == "default"
    assert icehouse["options"]["novncproxy_base_url"].endswith("/vnc_auto.html")
    assert nc.console_settings(lab_with("rocky"), "ubuntu1")["options"]["novncproxy_base_url"].endswith("/vnc_lite.html")


def test_base_url_falls_back_to_the_vip_address_without_fqdn():
    inv = example_inventory()
    del inv["vips"]["external"]["fqdn"]
    del inv["acme"]  # a certificate needs the FQDN
    opts = nc.console_settings(normalise(inv), "ubuntu1")["options"]
    assert opts["novncproxy_base_url"] == "http://10.100.0.100:6080/vnc_lite.html"


def test_proxy_settings():
    out = nc.console_settings(LAB, "ubuntu2", role="proxy")
    assert out["options"] == {"novncproxy_host": "10.10.0.12", "novncproxy_port": 6080}


@pytest.mark.parametrize(
    "console, path",
    [
        ({"tls": "yes"}, "brine:openstack:console:tls"),
        ({"port": 70000}, "brine:openstack:console:port"),
        ({"listen": "10.0.0.1"}, "brine:openstack:console:listen"),
        ({"deployment": "juju"}, "brine:openstack:console:deployment"),
        ({"colour": "blue"}, "brine:openstack:console:colour"),
        ({"network": "tunnel2"}, "brine:hosts:ubuntu1:networks:tunnel2:address"),
    ],
)
def test_bad_console_settings_name_their_path(console, path):
    with pytest.raises(nc.InventoryProblem) as err:
        nc.console_settings(lab_with(**console), "ubuntu1")
    assert str(err.value).startswith(path + ": ")


def test_host_without_the_network_or_not_in_inventory():
    with pytest.raises(nc.InventoryProblem, match=r"^brine:hosts:bootstrap:networks:tunnel:address: missing"):
        nc.console_settings(lab_with(network="tunnel"), "bootstrap")
    with pytest.raises(nc.InventoryProblem, match=r"^brine:hosts:nosuch: "):
        nc.console_settings(LAB, "nosuch")


# --------------------------------------------------------------------------- the parser agrees with oslo

EDGE_TEXTS = {
    "continuation": "[vnc]\nkeymap = en-us\n  de\n\nenabled = true\n",
    "colon and quotes": "[DEFAULT]\nmy_ip: '10.0.0.1'\n[vnc]\nserver_listen = \"1.2.3.4\"\n",
    "sections repeated and in other case": "[vnc]\nenabled = false\n[VNC]\nenabled = true\n[Vnc]\nkeymap = fr\n",
    "crlf": "[DEFAULT]\r\nmy_ip = 1.1.1.1\r\n[vnc]\r\nenabled = true\r\n",
    "no final newline": "[vnc]\nenabled = true",
    "empty": "",
    "comments only": "# nothing\n; here\n",
    "lowercase default": "[default]\nvnc_enabled = false\n[DEFAULT]\nvnc_enabled = true\n",
    "value with = and :": "[vnc]\nnovncproxy_base_url = http://h:6080/vnc_lite.html?a=b\n",
}
BAD_TEXTS = {
    "not INI at all": ("this is not an ini file\n", 1),
    "indented first line": ("  enabled = true\n[vnc]\n", 1),
    "unterminated header": ("[DEFAULT]\nmy_ip = 1.1.1.1\n[vnc\nenabled = true\n", 3),
    "empty section name": ("[]\n", 1),
    "option before a section": ("enabled = true\n[vnc]\n", 1),
    "continuation after a header": ("[vnc]\n  enabled = true\n", 2),
    "empty key": ("[vnc]\n= true\n", 2),
    "indented line after a comment": ("[vnc]\nkeymap = en-us\n# a comment ends the value\n  de\n", 4),
}


@pytest.mark.parametrize("name", sorted(EDGE_TEXTS))
def test_parser_reads_what_oslo_reads(tmp_path, name):
    text = EDGE_TEXTS[name]
    assert nc.parse(text).values() == oslo_sections(write(tmp_path, text))


@pytest.mark.parametrize("name", sorted(p.name for p in DATA.glob("*.conf")))
def test_parser_reads_the_fixtures_as_oslo_does(name):
    assert nc.parse((DATA / name).read_text()).values() == oslo_sections(DATA / name)


@pytest.mark.parametrize("name", sorted(BAD_TEXTS))
def test_what_oslo_refuses_is_refused_with_the_line(tmp_path, name):
    text, line = BAD_TEXTS[name]
    with pytest.raises(cfg.ParseError):
        oslo_sections(write(tmp_path, text))
    with pytest.raises(nc.NovaConfError, match=rf"^line {line}: "):
        nc.patch_text(text, WANTED)


# --------------------------------------------------------------------------- realistic files


def assert_idempotent(text, wanted=WANTED):
    again, findings = nc.patch_text(text, wanted)
    assert findings == [] and again == text
    assert nc.check(text, wanted) == []


def test_debian_packaged_default(tmp_path):
    """Debian 12's nova-common nova.conf: every VNC option is a commented-out default."""
    text = (DATA / "debian-12-nova-common.conf").read_text()
    assert {f["kind"] for f in nc.check(text, WANTED)} == {"missing"}
    new, _, path = patched(tmp_path, text)
    values = nova_vnc_values(path)
    assert {k: values[k] for k in INTENDED} == INTENDED
    assert unmanaged_lines(new) == unmanaged_lines(text) == nc.split_lines(text)
    # each option lands right under its documented, still commented-out default
    lines = new.splitlines()
    for key in ("server_listen", "server_proxyclient_address", "novncproxy_base_url"):
        idx = next(i for i, line in enumerate(lines) if line.startswith(f"#{key} = "))
        assert lines[idx + 1] == f"{key} = {INTENDED[key]}"
    assert lines[lines.index("#enabled = true") + 1] == "enabled = true"
    # [spice] has its own server_listen: not a VNC option, left alone
    assert oslo_sections(path)["spice"]["server_listen"] == ["0.0.0.0"]
    assert_idempotent(new)


def test_juju_generated_file_on_a_current_release(tmp_path):
    """The Juju charm's file with the field report's sed lines (legacy [DEFAULT] names)."""
    text = (DATA / "juju-icehouse-nova-compute.conf").read_text()
    kinds = [f["kind"] for f in nc.check(text, WANTED)]
    assert kinds.count("legacy") == 4 and kinds.count("missing") == 4
    new, _, path = patched(tmp_path, text)
    values = nova_vnc_values(path)
    assert {k: values[k] for k in INTENDED} == INTENDED
    kept = unmanaged_lines(text)
    assert "rabbit_host=10.10.0.20\n" in kept and 'xvpvpnproxy_base_url="" \n' in kept
    tail = "\n[vnc]\n" + "".join(f"{k} = {nc.render_value(k, v)}\n" for k, v in INTENDED.items())
    assert new == "".join(kept) + tail
    assert "vnc_enabled" not in new and "vncserver_" not in new
    assert_idempotent(new)


def test_juju_generated_file_on_icehouse_keeps_the_flat_names(tmp_path):
    wanted = nc.console_settings(lab_with("icehouse"), "ubuntu1")
    text = (DATA / "juju-icehouse-nova-compute.conf").read_text()
    new, findings, path = patched(tmp_path, text, wanted)
    assert {f["kind"] for f in findings} == {"wrong"}
    assert {k: v for k, v in nova_vnc_values(path, "icehouse").items() if k in INTENDED} == {
        "enabled": True,
        "server_listen": "10.10.0.11",
        "server_proxyclient_address": "10.10.0.11",
        "novncproxy_base_url": "http://cloud.lab.home.arpa:6080/vnc_auto.html",
    }
    old_lines, new_lines = nc.split_lines(text), nc.split_lines(new)
    assert len(old_lines) == len(new_lines)
    changed = [(o, n) for o, n in zip(old_lines, new_lines) if o != n]
    assert changed == [
        ("vncserver_listen = 0.0.0.0 \n", "vncserver_listen = 10.10.0.11\n"),
        ('novncproxy_base_url="" \n', "novncproxy_base_url=http://cloud.lab.home.arpa:6080/vnc_auto.html\n"),
    ]
    assert_idempotent(new, wanted)


def test_kolla_generated_file_changes_one_line(tmp_path):
    text = (DATA / "kolla-2024.1-nova-compute.conf").read_text()
    new, findings, path = patched(tmp_path, text)
    # Kolla leaves enabled at nova's default; Brine states it, so a default that changes cannot
    # switch the console off.
    assert [(f["kind"], f["option"]) for f in findings] == [
        ("missing", "[vnc] enabled"), ("wrong", "[vnc] novncproxy_base_url")]
    expected = text.replace(
        "server_proxyclient_address = 10.10.0.11\nnovncproxy_base_url = http://10.100.0.100:6080/vnc_lite.html\n",
        "server_proxyclient_address = 10.10.0.11\nnovncproxy_base_url = http://cloud.lab.home.arpa:6080/vnc_lite.html\n"
        "enabled = true\n")
    assert new == expected != text
    assert nova_vnc_values(path)["novncproxy_base_url"] == INTENDED["novncproxy_base_url"]
    assert oslo_sections(path)["spice"] == {"enabled": ["false"]}
    assert_idempotent(new)


def test_options_duplicated_in_two_sections(tmp_path):
    text = (DATA / "vnc-in-two-sections.conf").read_text()
    before = nova_vnc_values(DATA / "vnc-in-two-sections.conf")
    assert before["enabled"] is False and before["server_listen"] == "127.0.0.1"  # the last [VNC] wins
    kinds = sorted(f["kind"] for f in nc.check(text, WANTED))
    assert kinds.count("duplicate") == 1 and kinds.count("legacy") == 4 and "wrong" in kinds
    new, _, path = patched(tmp_path, text)
    values = nova_vnc_values(path)
    assert {k: values[k] for k in INTENDED} == INTENDED
    sections = oslo_sections(path)
    for key in ("vncserver_listen", "vnc_enabled", "vncserver_proxyclient_address"):
        assert key not in sections["DEFAULT"] and key not in sections["vnc"]
    for key in INTENDED:
        assert len(sections["vnc"][key]) == 1
    assert unmanaged_lines(new) == unmanaged_lines(text)
    assert "; novncproxy_base_url = http://old-controller:6080/vnc_auto.html\n" in new
    assert "#server_listen = 127.0.0.1\nnovncproxy_base_url" in new  # the comment stays a comment
    assert new.endswith("\n[VNC]\nserver_listen: 10.10.0.11\nserver_proxyclient_address = 10.10.0.11\n")
    assert_idempotent(new)


# --------------------------------------------------------------------------- edge cases


def test_missing_vnc_section_is_appended(tmp_path):
    text = "[DEFAULT]\nmy_ip = 10.10.0.11\n"
    new, _, path = patched(tmp_path, text)
    assert new.startswith(text + "\n[vnc]\n")
    assert {k: nova_vnc_values(path)[k] for k in INTENDED} == INTENDED
    assert_idempotent(new)


def test_empty_text_becomes_an_override_with_only_the_console():
    new, _ = nc.patch_text("", WANTED)
    assert new == "[vnc]\n" + "".join(f"{k} = {nc.render_value(k, v)}\n" for k, v in INTENDED.items())


def test_section_in_other_case_is_patched_in_place(tmp_path):
    text = "[DEFAULT]\ndebug = true\n\n[VNC]\nenabled = false\n\n[libvirt]\nvirt_type = kvm\n"
    new, _, path = patched(tmp_path, text)
    assert new.count("[") == 3 and "[vnc]" not in new
    assert new.startswith("[DEFAULT]\ndebug = true\n\n[VNC]\nenabled = true\nserver_listen = 10.10.0.11\n")
    assert new.endswith("\n[libvirt]\nvirt_type = kvm\n")
    assert {k: nova_vnc_values(path)[k] for k in INTENDED} == INTENDED


def test_lowercase_default_is_not_default_for_oslo(tmp_path):
    wanted = nc.console_settings(lab_with("icehouse"), "ubuntu1")
    text = "[default]\nvnc_enabled = false\n[DEFAULT]\nmy_ip = 10.10.0.11\n"
    new, _, path = patched(tmp_path, text, wanted)
    assert new.startswith("[default]\nvnc_enabled = false\n[DEFAULT]\nmy_ip = 10.10.0.11\nvnc_enabled = true\n")
    assert nova_vnc_values(path, "icehouse")["enabled"] is True


def test_commented_out_options_stay_comments():
    text = "[vnc]\n#server_listen = 0.0.0.0\n# enabled = false\n"
    new, _ = nc.patch_text(text, WANTED)
    assert "\n#server_listen = 0.0.0.0\nserver_listen = 10.10.0.11\n# enabled = false\nenabled = true\n" in new
    assert nc.parse(new).values()["vnc"]["enabled"] == ["true"]


def test_duplicate_keys_in_one_section_leave_one(tmp_path):
    text = "[vnc]\nserver_listen = 10.10.0.11\nenabled = true\nserver_listen = 0.0.0.0\n"
    new, findings, path = patched(tmp_path, text)
    assert {(f["kind"], f["line"]) for f in findings} >= {("duplicate", 4), ("wrong", 4)}
    assert oslo_sections(path)["vnc"]["server_listen"] == ["10.10.0.11"]
    assert new.startswith("[vnc]\nserver_listen = 10.10.0.11\nenabled = true\n")


def test_first_duplicate_wrong_last_right_is_fixed(tmp_path):
    text = "[vnc]\nserver_listen = 0.0.0.0\nserver_listen = 10.10.0.11\n"
    _, _, path = patched(tmp_path, text)
    assert oslo_sections(path)["vnc"]["server_listen"] == ["10.10.0.11"]


def test_continued_value_collapses_and_others_keep_their_continuations(tmp_path):
    text = "[vnc]\nserver_proxyclient_address = 10.0.0.1\n  10.0.0.2\nkeymap = en-us\n  de\n"
    new, _, path = patched(tmp_path, text)
    sections = oslo_sections(path)
    assert sections["vnc"]["keymap"] == ["en-us\nde"]
    assert sections["vnc"]["server_proxyclient_address"] == ["10.10.0.11"]
    assert new.startswith("[vnc]\nserver_proxyclient_address = 10.10.0.11\nkeymap = en-us\n  de\nenabled = true\n")


def test_crlf_file_stays_crlf(tmp_path):
    text = "[DEFAULT]\r\nmy_ip = 10.10.0.11\r\n\r\n[vnc]\r\nenabled = false\r\n"
    new, _, path = patched(tmp_path, text)
    assert new.count("\r\n") == new.count("\n") and new.endswith("\r\n")
    assert new.startswith("[DEFAULT]\r\nmy_ip = 10.10.0.11\r\n\r\n[vnc]\r\nenabled = true\r\n")
    assert {k: nova_vnc_values(path)[k] for k in INTENDED} == INTENDED


def test_no_trailing_newline_is_kept(tmp_path):
    text = "[DEFAULT]\nmy_ip = 10.10.0.11\n[vnc]\nkeymap = fr"
    new, _, path = patched(tmp_path, text)
    assert new.startswith("[DEFAULT]\nmy_ip = 10.10.0.11\n[vnc]\nkeymap = fr\n")
    assert not new.endswith("\n")
    assert oslo_sections(path)["vnc"]["keymap"] == ["fr"]
    assert_idempotent(new)


def test_values_nova_reads_as_right_are_left_alone():
    text = (
        "[vnc]\nenabled = Yes\nserver_listen: \"10.10.0.11\"\nserver_proxyclient_address=10.10.0.11\n"
        "novncproxy_base_url = 'http://cloud.lab.home.arpa:6080/vnc_lite.html'\n"
    )
    assert nc.check(text, WANTED) == []
    assert nc.patch_text(text, WANTED) == (text, [])


def test_colon_separator_is_kept_when_rewriting():
    new, _ = nc.patch_text("[vnc]\nserver_listen: 0.0.0.0\n", WANTED)
    assert new.startswith("[vnc]\nserver_listen: 10.10.0.11\n")


@pytest.mark.parametrize("release", ["mitaka", "pike"])
def test_liberty_names_in_the_vnc_group(release):
    wanted = nc.console_settings(lab_with(release), "ubuntu1")
    text = "[vnc]\nserver_listen = 10.10.0.11\n"  # a Queens name before Queens: nova would not read it
    new, findings = nc.patch_text(text, wanted)
    assert ("legacy", "[vnc] server_listen") in [(f["kind"], f["option"]) for f in findings]
    assert new.startswith("[vnc]\nenabled = true\nvncserver_listen = 10.10.0.11\n")
    assert "\nserver_listen" not in new


@pytest.mark.parametrize("release, group", [("kilo", "DEFAULT"), ("liberty", "DEFAULT"), ("mitaka", "vnc"), ("2024.1", "vnc")])
def test_proxy_host_and_port_moved_to_vnc_in_mitaka(release, group):
    wanted = nc.console_settings(lab_with(release), "ubuntu1", role="proxy")
    new, _ = nc.patch_text("[DEFAULT]\n[vnc]\n", wanted)
    assert nc.parse(new).values()[group] == {"novncproxy_host": ["10.10.0.11"], "novncproxy_port": ["6080"]}


def test_proxy_options(tmp_path):
    wanted = nc.console_settings(LAB, "ubuntu1", role="proxy")
    text = (DATA / "kolla-2024.1-nova-compute.conf").read_text()
    assert nc.check(text, wanted) == []  # Kolla already binds the proxy to the host address
    new, _, path = patched(tmp_path, "[vnc]\nnovncproxy_port = 6080\n[DEFAULT]\nnovncproxy_host = 0.0.0.0\n", wanted)
    values = nova_vnc_values(path)
    assert (values["novncproxy_host"], values["novncproxy_port"]) == ("10.10.0.11", 6080)
    assert "[DEFAULT]\n" in new and "novncproxy_host = 0.0.0.0" not in new


# --------------------------------------------------------------------------- libvirt domains


def test_domains_without_vnc_on_real_domain_xml():
    xmls = [(DATA / "libvirt" / name).read_text() for name in
            ("instance-with-vnc.xml", "instance-headless.xml", "instance-spice-only.xml")]
    missing = nc.domains_without_vnc(xmls)
    assert [(m["domain"], m["instance"], m["graphics"]) for m in missing] == [
        ("instance-00000003", "db-1", []),
        ("instance-00000007", "desktop-1", ["spice"]),
    ]
    assert missing[0]["uuid"] == "7d3e0a52-1c4b-4f8e-b2a9-6e5d4c3b2a10"


def test_domain_outside_nova_has_no_instance_name():
    xml = "<domain type='qemu'><name>test</name><uuid>6695eb01-f6a4-8304-79aa-97f2502e193f</uuid><devices/></domain>"
    assert nc.domains_without_vnc([xml]) == [
        {"domain": "test", "uuid": "6695eb01-f6a4-8304-79aa-97f2502e193f", "instance": None, "graphics": []}
    ]


@pytest.mark.parametrize("bad", ["<domain>", "<network><name>x</name></network>"])
def test_bad_domain_xml_is_refused(bad):
    with pytest.raises(ValueError, match="not libvirt domain XML"):
        nc.domains_without_vnc([bad])


def test_console_url_needs_a_vip():
    inv = example_inventory()
    # An inventory with controllers needs an internal VIP (their load balancer): a lab without
    # VIPs has none; ubuntu1 stays a compute host.
    for host in inv["hosts"].values():
        host["roles"] = [r for r in host["roles"] if r != "controller"]
    del inv["vips"], inv["acme"]
    with pytest.raises(nc.InventoryProblem, match=r"^brine:vips:external: missing"):
        nc.console_settings(normalise(inv), "ubuntu1")
    inv = example_inventory()
    del inv["vips"]["external"], inv["acme"]
    url = nc.console_settings(normalise(inv), "ubuntu1")["options"]["novncproxy_base_url"]
    assert url == "http://internal.lab.home.arpa:6080/vnc_lite.html"
