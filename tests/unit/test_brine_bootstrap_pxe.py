"""brinelib.pxe (which PXE file each host gets) and the brine_bootstrap.pxe_files state: every
file written only when its text differs, 0644, the same changes with and without test=True,
a preseed debconf refuses never replaces the one in place. Salt's renderer is replaced by
plain jinja2 here (keeping the final newline, as Salt does; the functional bootstrap test runs the state through salt-call); debconf's
check is the real debconf-set-selections."""

import os
import stat

import jinja2
import pytest
from brine_testlib import load_extension

from brinelib import pxe

state = load_extension("states", "brine_bootstrap")
LAB = {"host": "boot", "domain": "lab.example", "address": "10.0.0.5"}
HOSTS = [
    {"host": "boot", "hostname": "boot", "mac": "52:54:00:00:00:05", "ip": "10.0.0.5"},
    {"host": "n1", "hostname": "n1", "mac": "52:54:00:AA:00:01", "ip": "10.0.0.11"},
    {"host": "n2", "hostname": "n2", "mac": "52:54:00:aa:00:02", "ip": "10.0.0.12"},
]
TEMPLATES = {
    pxe.MENU: "MENU {{ lab.domain }}\n",
    pxe.HOST_MENU: "KERNEL for {{ host.hostname }} via {{ lab.address }}\n",
    pxe.PRESEED: "d-i netcfg/get_hostname string {{ host.hostname }}\n{{ host.get('extra', '') }}\n",
}


def test_each_reserved_host_but_the_bootstrap_host_gets_a_menu_and_a_preseed():
    files = pxe.boot_files("/srv/tftp", HOSTS, "boot")
    assert files == [
        ("/srv/tftp/pxelinux.cfg/default", pxe.MENU, None),
        ("/srv/tftp/pxelinux.cfg/01-52-54-00-aa-00-01", pxe.HOST_MENU, HOSTS[1]),
        ("/srv/tftp/preseed/n1.cfg", pxe.PRESEED, HOSTS[1]),
        ("/srv/tftp/pxelinux.cfg/01-52-54-00-aa-00-02", pxe.HOST_MENU, HOSTS[2]),
        ("/srv/tftp/preseed/n2.cfg", pxe.PRESEED, HOSTS[2]),
    ]


def test_no_reservations_leave_only_the_default_menu():
    assert pxe.boot_files("/t", [], "boot") == [("/t/pxelinux.cfg/default", pxe.MENU, None)]


@pytest.mark.parametrize("current, expected", [
    ({}, {"a": "created", "b": "created"}),
    ({"a": "A", "b": None}, {"b": "created"}),
    ({"a": "A", "b": "old"}, {"b": "updated"}),
    ({"a": "A", "b": "B"}, {}),
])
def test_only_files_whose_text_differs_are_written(current, expected):
    assert pxe.differing({"a": "A", "b": "B"}, current) == expected


@pytest.fixture
def salt(monkeypatch, tmp_path):
    def get_file_str(source, saltenv=None):
        return TEMPLATES[source]

    def apply_template(contents, template, context, defaults, saltenv):
        assert template == "jinja"
        return jinja2.Environment(keep_trailing_newline=True, undefined=jinja2.StrictUndefined).from_string(contents).render(**context)

    monkeypatch.setattr(state, "__salt__", {"cp.get_file_str": get_file_str,
                                            "file.apply_template_on_contents": apply_template}, raising=False)
    monkeypatch.setattr(state, "__opts__", {"test": False, "cachedir": str(tmp_path)}, raising=False)
    monkeypatch.setattr(state, "__env__", "base", raising=False)
    return tmp_path / "tftp"


def apply(root, hosts=HOSTS):
    return state.pxe_files(str(root), LAB, hosts, templates={kind: kind for kind in TEMPLATES})


def test_test_mode_and_a_real_run_report_the_same_changes_then_nothing(salt, monkeypatch):
    monkeypatch.setitem(state.__opts__, "test", True)
    would = apply(salt)
    assert would["result"] is None and not salt.exists()
    assert would["changes"] == {f"{salt}/pxelinux.cfg/default": "created",
                                f"{salt}/pxelinux.cfg/01-52-54-00-aa-00-01": "created", f"{salt}/preseed/n1.cfg": "created",
                                f"{salt}/pxelinux.cfg/01-52-54-00-aa-00-02": "created", f"{salt}/preseed/n2.cfg": "created"}
    monkeypatch.setitem(state.__opts__, "test", False)
    done = apply(salt)
    assert done["result"] is True and done["changes"] == would["changes"]
    for path in done["changes"]:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o644  # tftpd serves them
    assert (salt / "preseed/n2.cfg").read_text() == "d-i netcfg/get_hostname string n2\n\n"
    assert (salt / "pxelinux.cfg/01-52-54-00-aa-00-01").read_text() == "KERNEL for n1 via 10.0.0.5\n"
    again = apply(salt)
    assert again["result"] is True and again["changes"] == {}


def test_a_changed_file_is_the_only_one_rewritten_and_unlisted_files_stay(salt):
    apply(salt)
    (salt / "preseed/n1.cfg").write_text("edited by hand\n")
    (salt / "preseed/retired.cfg").write_text("an old host's preseed\n")
    ret = apply(salt)
    assert ret["changes"] == {f"{salt}/preseed/n1.cfg": "updated"}
    assert (salt / "preseed/retired.cfg").read_text() == "an old host's preseed\n"


def test_a_preseed_debconf_refuses_is_not_written_and_the_old_one_keeps_serving(salt, monkeypatch):
    apply(salt)
    broken = [HOSTS[0], HOSTS[1], dict(HOSTS[2], extra="d-i half-a-line")]
    monkeypatch.setitem(state.__opts__, "test", True)
    would = apply(salt, broken)
    assert would["result"] is False and "preseed/n2.cfg" in would["comment"] and "parse error" in would["comment"]
    monkeypatch.setitem(state.__opts__, "test", False)
    ret = apply(salt, broken)
    assert ret["result"] is False and "preseed/n2.cfg" in ret["comment"]
    assert (salt / "preseed/n2.cfg").read_text() == "d-i netcfg/get_hostname string n2\n\n"
    assert sorted(p.name for p in (salt / "preseed").iterdir()) == ["n1.cfg", "n2.cfg"]  # no temporary file left


def test_a_template_error_fails_the_state_before_any_file(salt, monkeypatch):
    monkeypatch.setitem(TEMPLATES, pxe.HOST_MENU, "{{ host.no_such_key }}")
    ret = apply(salt)
    assert ret["result"] is False and "Cannot render" in ret["comment"] and not salt.exists()
