"""The file watcher engine's core: inotify parsing, content hashes, real inotify on a temp dir."""

import logging
import os
import struct

from brine_testlib import load_extension
from brinelib import inotify as inotify_calls

filewatch = load_extension("engines", "brine_filewatch")


def raw_event(wd, mask, name):
    encoded = name.encode() + b"\0"
    encoded += b"\0" * (-len(encoded) % 16)
    return struct.pack("iIII", wd, mask, 0, len(encoded)) + encoded


def test_parse_inotify_events_splits_a_buffer():
    buffer = raw_event(1, inotify_calls.IN_MOVED_TO, "nova.conf") + raw_event(2, inotify_calls.IN_CREATE, "x") + struct.pack(
        "iIII", 1, inotify_calls.IN_Q_OVERFLOW, 0, 0)
    assert inotify_calls.parse_inotify_events(buffer) == [
        (1, inotify_calls.IN_MOVED_TO, "nova.conf"), (2, inotify_calls.IN_CREATE, "x"), (1, inotify_calls.IN_Q_OVERFLOW, "")]


def test_parse_ignores_a_truncated_tail():
    assert inotify_calls.parse_inotify_events(raw_event(1, 2, "a")[:10]) == []


def test_content_watch_reports_only_new_content(tmp_path):
    conf = tmp_path / "nova.conf"
    conf.write_text("[vnc]\nenabled = true\n")
    watch = filewatch.ContentWatch({"nova_conf": str(conf)})
    assert watch.check("nova_conf") is None  # unchanged since start
    os.utime(conf)
    assert watch.check("nova_conf") is None  # touched, same content
    conf.write_text("[DEFAULT]\n")
    tag, payload = watch.check("nova_conf", now=5.0)
    assert tag == "brine/file/changed"
    assert payload["watch"] == "nova_conf" and payload["path"] == str(conf) and payload["timestamp"] == 5.0
    assert payload["previous"] == filewatch.hashlib.sha256(b"[vnc]\nenabled = true\n").hexdigest()
    assert payload["sha256"] == filewatch.hashlib.sha256(b"[DEFAULT]\n").hexdigest()
    assert watch.check("nova_conf") is None


def writer_finishing(path, contents):
    """A sleep stand-in for ContentWatch: each wait of the watcher lets an in-place writer get
    one step further (``contents``: what the file holds after each step)."""
    steps = list(contents)

    def sleep(_seconds):
        if steps:
            path.write_text(steps.pop(0))
    return sleep


def test_a_file_caught_half_rewritten_in_place_reports_the_finished_content(tmp_path):
    conf = tmp_path / "nova.conf"
    conf.write_text("[DEFAULT]\ndebug = true\n")
    watch = filewatch.ContentWatch({"nova_conf": str(conf)})
    conf.write_text("")  # truncated: the writer has not written yet
    watch.sleep = writer_finishing(conf, ["[DEFAULT]\ndebug = true\n\n[vnc]\n"])
    tag, payload = watch.check("nova_conf")
    assert payload["sha256"] == filewatch.hashlib.sha256(b"[DEFAULT]\ndebug = true\n\n[vnc]\n").hexdigest()
    assert payload["sha256"] != filewatch.hashlib.sha256(b"").hexdigest()


def test_a_rewrite_in_place_with_the_same_content_stays_silent(tmp_path):
    conf = tmp_path / "nova.conf"
    conf.write_text("[vnc]\nenabled = true\n")
    watch = filewatch.ContentWatch({"nova_conf": str(conf)})
    conf.write_text("")  # the same bytes are about to be written again
    watch.sleep = writer_finishing(conf, ["[vnc]\nenabled = true\n"])
    assert watch.check("nova_conf") is None
    assert watch.check("nova_conf") is None


def test_a_vanished_file_is_not_a_change_but_its_return_is(tmp_path):
    conf = tmp_path / "nova.conf"
    conf.write_text("a")
    watch = filewatch.ContentWatch({"nova_conf": str(conf)})
    conf.unlink()
    assert watch.check("nova_conf") is None
    conf.write_text("b")
    assert watch.check("nova_conf")[1]["sha256"] == filewatch.hashlib.sha256(b"b").hexdigest()


def test_file_appearing_later_is_a_change(tmp_path):
    watch = filewatch.ContentWatch({"nova_conf": str(tmp_path / "nova.conf")})
    (tmp_path / "nova.conf").write_text("x")
    assert watch.check("nova_conf")[1]["previous"] is None


def test_names_in_maps_directory_entries_to_watches(tmp_path):
    watch = filewatch.ContentWatch({"nova_conf": str(tmp_path / "nova.conf"), "other": str(tmp_path / "b" / "c")})
    assert watch.names_in(str(tmp_path), "nova.conf") == ["nova_conf"]
    assert watch.names_in(str(tmp_path), "nova.conf.tmp") == []
    assert watch.directories() == sorted([str(tmp_path), str(tmp_path / "b")])


def test_dhcp_sightings_go_out_once_per_new_count():
    leases = filewatch.DhcpLeases()
    first = {"mac": "52:54:00:aa:bb:cc", "count": 1, "last_seen": "t1"}
    assert leases.new_sightings([first, "junk", {"no": "mac"}]) == [first]
    assert leases.new_sightings([first]) == []
    again = dict(first, count=2, last_seen="t2")
    assert leases.new_sightings([again]) == [again]
    assert leases.new_sightings(None) == []


def test_real_inotify_sees_a_file_replaced_by_rename(tmp_path):
    # What config tools do: write a temporary file, rename it over the old one. A watch on
    # the directory sees the new name arrive.
    conf = tmp_path / "nova.conf"
    conf.write_text("old")
    inotify = inotify_calls.Inotify()
    try:
        wd = inotify.add_watch(str(tmp_path))
        assert inotify.read(timeout=0.05) == []
        tmp = tmp_path / ".nova.conf.new"
        tmp.write_text("new")
        os.rename(tmp, conf)
        seen = []
        for _ in range(10):
            seen += inotify.read(timeout=0.5)
            if any(name == "nova.conf" and mask & inotify_calls.IN_MOVED_TO for _w, mask, name in seen):
                break
        assert (wd, inotify_calls.IN_MOVED_TO, "nova.conf") in seen
    finally:
        inotify.close()


def test_inotify_on_a_missing_directory_raises(tmp_path):
    inotify = inotify_calls.Inotify()
    try:
        try:
            inotify.add_watch(str(tmp_path / "missing"))
        except OSError as exc:
            assert "missing" in str(exc)
        else:
            raise AssertionError("watching a missing directory succeeded")
    finally:
        inotify.close()


# --------------------------------------------------------------------------- journal sources

import pytest  # noqa: E402


@pytest.mark.parametrize("value, identifier", [
    ("journal:dhcpd", "dhcpd"),
    ("journal:kea-dhcp4", "kea-dhcp4"),
    ("journal:systemd-networkd@x.service", "systemd-networkd@x.service"),
    ("/var/log/syslog", None),
    ("journal", None),  # a relative path, not a journal source
])
def test_journal_identifier(value, identifier):
    assert filewatch.journal_identifier(value) == identifier


@pytest.mark.parametrize("value", [
    "journal:", "journal:-f", "journal:--since=0", "journal:dhcpd;reboot", "journal:dhcpd $(id)", "journal:a b",
    "journal:dhcp*", "journal:" + "a" * 65, "journal:dhcpd\n", "journal:../x",
])
def test_journal_identifier_refuses_what_journalctl_must_not_be_given(value):
    with pytest.raises(ValueError, match="syslog identifier must match"):
        filewatch.journal_identifier(value)


def test_split_watches_keeps_files_and_dhcp_journals_and_names_the_rest():
    files, journals, problems = filewatch.split_watches({
        "nova_conf": "/etc/nova/nova.conf", "dhcp_log": "journal:dhcpd",
        "other": "journal:sshd", "bad": "journal:-x", "empty": "", "number": 5,
    })
    assert files == {"nova_conf": "/etc/nova/nova.conf"}
    assert journals == {"dhcp_log": "dhcpd"}
    assert len(problems) == 4
    assert any(p.startswith("watch other: only dhcp_log") for p in problems)
    assert any(p.startswith("watch bad: ") for p in problems)
    assert any(p.startswith("watch empty: ") for p in problems) and any(p.startswith("watch number: ") for p in problems)
    assert filewatch.split_watches(None) == ({}, {}, [])


def test_journal_argv_follows_from_now_or_from_the_last_lines_second():
    assert filewatch.journal_argv("dhcpd") == [
        "journalctl", "--follow", "--lines=0", "--no-pager", "-o", "short-iso", "-t", "dhcpd"]
    assert filewatch.journal_argv("dhcpd", since=1795331446.9) == [
        "journalctl", "--follow", "--lines=all", "--no-pager", "-o", "short-iso", "-t", "dhcpd", "--since=@1795331446"]
    with pytest.raises(ValueError):
        filewatch.journal_argv("-f")


@pytest.mark.parametrize("line, expected", [
    ("2026-11-22T06:16:46+0000 bootstrap dhcpd[1]: x", 1795328206.0),
    ("2026-11-22T07:16:46+01:00 bootstrap dhcpd[1]: x", 1795328206.0),
    ("2026-11-22T06:16:46.250000Z bootstrap dhcpd[1]: x", 1795328206.25),
    ("Nov 22 06:16:46 bootstrap dhcpd[1]: x", None),
    ("-- No entries --", None),
    ("2026-13-22T06:16:46+0000 bad month", None),
])
def test_line_time(line, expected):
    assert filewatch.line_time(line) == expected


def test_journal_lines_wait_for_the_end_of_a_line_and_skip_notes():
    lines = filewatch.JournalLines()
    assert lines.feed(b"-- No entries --\n2026-11-22T06:16:46+0000 h dhcpd[1]: DHCPDIS") == []
    assert lines.last_time is None
    assert lines.feed(b"COVER from 2:0:0:0:0:1 via eth0\n\n2026-11-22T06:16:47+0000 h dhcpd[1]: second\r\n") == [
        "2026-11-22T06:16:46+0000 h dhcpd[1]: DHCPDISCOVER from 2:0:0:0:0:1 via eth0",
        "2026-11-22T06:16:47+0000 h dhcpd[1]: second",
    ]
    assert lines.last_time == 1795328207.0
    # An older line (clock stepped back) is taken but does not move last_time back.
    assert lines.feed(b"2026-11-22T06:00:00+0000 h dhcpd[1]: older\n") == ["2026-11-22T06:00:00+0000 h dhcpd[1]: older"]
    assert lines.last_time == 1795328207.0


def test_journal_lines_drop_repeats_within_their_memory():
    lines = filewatch.JournalLines(remembered=2)
    a, b, c = (f"2026-11-22T06:16:4{i}+0000 h dhcpd[1]: {i}".encode() for i in range(3))
    assert len(lines.feed(a + b"\n" + b + b"\n")) == 2
    assert lines.feed(a + b"\n" + b + b"\n") == []  # a restarted journalctl repeating its second
    assert len(lines.feed(c + b"\n")) == 1
    assert len(lines.feed(a + b"\n")) == 1  # forgotten: only the last `remembered` lines are kept
    assert len(lines.seen) == 2


def test_journal_lines_do_not_grow_without_a_line_end():
    lines = filewatch.JournalLines()
    lines.feed(b"x" * (filewatch.MAX_PARTIAL + 1))
    assert lines.partial == b""
    lines.feed(b"half a line")
    lines.broken()  # journalctl died mid-line: the next one starts afresh
    assert lines.feed(b"2026-11-22T06:16:46+0000 h dhcpd[1]: whole\n") == ["2026-11-22T06:16:46+0000 h dhcpd[1]: whole"]


def test_sighting_totals_add_up_batches_in_the_payload_shape():
    totals = filewatch.SightingTotals()
    first = {"mac": "02:b7:1e:00:00:01", "first_seen": "2026-11-22T06:10:00+00:00", "last_seen": "2026-11-22T06:10:00+00:00",
             "count": 2, "ip": None, "interface": "eth0.10"}
    assert totals.add([first, "junk", {"no": "mac"}]) == [first]
    later = dict(first, first_seen="2026-11-22T06:10:05+00:00", last_seen="2026-11-22T07:10:05+01:00", count=3,
                 ip="10.10.0.200", interface=None)
    (total,) = totals.add([later])
    assert total == {"mac": "02:b7:1e:00:00:01", "first_seen": "2026-11-22T06:10:00+00:00",
                     "last_seen": "2026-11-22T07:10:05+01:00", "count": 5, "ip": "10.10.0.200", "interface": "eth0.10"}
    # A batch without an address keeps the last one known.
    (again,) = totals.add([dict(first, count=1, ip=None)])
    assert again["ip"] == "10.10.0.200" and again["count"] == 6
    assert totals.add(None) == []
    # What is returned is a copy: publishing it cannot change the totals.
    again["count"] = 0
    assert totals.totals["02:b7:1e:00:00:01"]["count"] == 6


# --------------------------------------------------------------------------- restore (nova_conf)

NOVA_WANTED = {"release": "2024.1", "naming": "vnc", "role": "compute", "deployment": "packages",
               "options": {"enabled": True, "server_listen": "10.10.0.12", "server_proxyclient_address": "10.10.0.12",
                           "novncproxy_base_url": "http://cloud.lab.home.arpa:6080/vnc_lite.html"}}
WITHOUT_VNC = "[DEFAULT]\ndebug = false\n\n[libvirt]\nvirt_type = qemu\n"


def replace_by_rename(path, text):
    """What a configuration tool does: write aside, rename over the file."""
    aside = path.with_name(".tool-tmp")
    aside.write_text(text)
    os.replace(aside, path)


def test_restore_puts_nova_conf_right_at_once_and_its_own_write_raises_no_event(tmp_path, monkeypatch):
    """The engine's restore with the real nova_console module and real inotify on a temp dir;
    only the restart of nova-compute (which cannot run here) is a recorder."""
    import nova_console

    restarts, published = [], []
    monkeypatch.setattr(nova_console, "__salt__", {"nova_console.restart": lambda **kw: restarts.append(kw) or "service nova-compute"},
                        raising=False)
    monkeypatch.setattr(filewatch, "__salt__", {"nova_console.enforce": nova_console.enforce,
                                                "event.send": lambda tag, data: published.append((tag, data))}, raising=False)
    conf = tmp_path / "nova" / "nova.conf"
    conf.parent.mkdir()
    conf.write_text(WITHOUT_VNC)
    markers = tmp_path / "markers"
    watcher = filewatch.Watcher({"nova_conf": str(conf)}, restore={"nova_conf": {
        "role": "compute", "service": "nova-compute", "marker_dir": str(markers), "wanted": NOVA_WANTED}})
    try:
        replace_by_rename(conf, WITHOUT_VNC + "\n[neutron]\nauth_type = password\n")
        watcher.step(timeout=5)
        assert [tag for tag, _ in published] == ["brine/file/changed"]
        assert published[0][1]["restored"] == "patched"
        text = conf.read_text()
        assert "[vnc]" in text and "server_listen = 10.10.0.12" in text and "[neutron]" in text
        assert len(restarts) == 1 and not (markers / "nova-console-compute").exists()
        watcher.step(timeout=0.5)  # the engine's own rename: the new baseline, no event
        assert len(published) == 1
        # The same bytes again: no event, no restart. A change that leaves VNC alone: an event,
        # the file kept, no restart.
        replace_by_rename(conf, text)
        watcher.step(timeout=0.5)
        assert len(published) == 1
        replace_by_rename(conf, text.replace("debug = false", "debug = true"))
        watcher.step(timeout=5)
        assert len(published) == 2 and published[1][1]["restored"] == "in place"
        assert "debug = true" in conf.read_text() and len(restarts) == 1
    finally:
        watcher.close()


def test_a_failed_restore_is_said_in_the_event_and_the_engine_goes_on(tmp_path, monkeypatch):
    published = []

    def broken(path, **kwargs):
        raise RuntimeError(f"{path} changed while it was being patched; run again")

    monkeypatch.setattr(filewatch, "__salt__", {"nova_console.enforce": broken,
                                                "event.send": lambda tag, data: published.append((tag, data))}, raising=False)
    conf = tmp_path / "nova.conf"
    conf.write_text(WITHOUT_VNC)
    watcher = filewatch.Watcher({"nova_conf": str(conf)}, poll=True, poll_interval=0.05,
                                restore={"nova_conf": {"role": "compute"}})
    try:
        conf.write_text(WITHOUT_VNC + "\n")
        watcher.step(timeout=1)
        assert published and published[0][1]["restored"].startswith("failed: ") and "changed while" in published[0][1]["restored"]
    finally:
        watcher.close()


def test_a_restore_failing_on_a_broken_file_forwards_no_secret(tmp_path, monkeypatch, caplog):
    """The real nova_console on a Juju-style file whose password lost its key: the event and the
    minion's log say which line, never what is on it."""
    import nova_console
    from brine_testlib import REPO

    published = []
    monkeypatch.setattr(filewatch, "__salt__", {"nova_console.enforce": nova_console.enforce,
                                                "event.send": lambda tag, data: published.append((tag, data))}, raising=False)
    secrets = (REPO / "tests" / "data" / "nova" / "juju-secrets-nova-compute.conf").read_text()
    conf = tmp_path / "nova.conf"
    conf.write_text(secrets)
    watcher = filewatch.Watcher({"nova_conf": str(conf)}, poll=True, poll_interval=0.05, restore={"nova_conf": {
        "role": "compute", "marker_dir": str(tmp_path / "markers"), "wanted": NOVA_WANTED}})
    try:
        with caplog.at_level(logging.DEBUG):
            conf.write_text(secrets.replace("rabbit_password=RabbitS3cretJuju", "RabbitS3cretJuju"))
            watcher.step(timeout=1)
        restored = published[0][1]["restored"]
        assert restored.startswith("failed: ") and "line 10: not an INI line" in restored
        assert "S3cret" not in repr(published) and "S3cret" not in caplog.text
    finally:
        watcher.close()


def test_restore_is_only_for_watches_it_knows():
    watcher = filewatch.Watcher({"nova_conf": "/nonexistent/brine/nova.conf"}, poll=True,
                                restore={"dhcp_log": {"x": 1}, "nova_conf": "not a mapping", "other": {}})
    try:
        assert watcher.restores == {}
    finally:
        watcher.close()


def test_restore_outcome_words():
    assert filewatch.restore_outcome({"changed": True, "restart_error": None}) == "patched"
    assert filewatch.restore_outcome({"changed": False}) == "in place"
    assert filewatch.restore_outcome({"changed": True, "restart_error": "service nova-compute did not restart"}) == \
        "patched, restart failed: service nova-compute did not restart"
    assert len(filewatch.restore_outcome({"changed": False, "restart_error": "x" * 1000})) == 300


def test_a_dhcp_watch_without_known_macs_says_every_mac_will_count_as_unknown(caplog):
    caplog.set_level(logging.WARNING)
    watcher = filewatch.Watcher({"dhcp_log": "journal:dhcpd"})
    watcher.close()
    assert "no known_macs configured" in caplog.text and "every MAC counts as unknown" in caplog.text
    caplog.clear()
    filewatch.Watcher({"dhcp_log": "journal:dhcpd"}, known_macs=["52:54:00:10:01:02"]).close()
    assert "known_macs" not in caplog.text
