"""The file watcher engine's core: inotify parsing, content hashes, real inotify on a temp dir."""

import os
import struct

from brine_testlib import load_extension

filewatch = load_extension("engines", "brine_filewatch")


def raw_event(wd, mask, name):
    encoded = name.encode() + b"\0"
    encoded += b"\0" * (-len(encoded) % 16)
    return struct.pack("iIII", wd, mask, 0, len(encoded)) + encoded


def test_parse_inotify_events_splits_a_buffer():
    buffer = raw_event(1, filewatch.IN_MOVED_TO, "nova.conf") + raw_event(2, filewatch.IN_CREATE, "x") + struct.pack(
        "iIII", 1, filewatch.IN_Q_OVERFLOW, 0, 0)
    assert filewatch.parse_inotify_events(buffer) == [
        (1, filewatch.IN_MOVED_TO, "nova.conf"), (2, filewatch.IN_CREATE, "x"), (1, filewatch.IN_Q_OVERFLOW, "")]


def test_parse_ignores_a_truncated_tail():
    assert filewatch.parse_inotify_events(raw_event(1, 2, "a")[:10]) == []


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
    inotify = filewatch.Inotify()
    try:
        wd = inotify.add_watch(str(tmp_path))
        assert inotify.read(timeout=0.05) == []
        tmp = tmp_path / ".nova.conf.new"
        tmp.write_text("new")
        os.rename(tmp, conf)
        seen = []
        for _ in range(10):
            seen += inotify.read(timeout=0.5)
            if any(name == "nova.conf" and mask & filewatch.IN_MOVED_TO for _w, mask, name in seen):
                break
        assert (wd, filewatch.IN_MOVED_TO, "nova.conf") in seen
    finally:
        inotify.close()


def test_inotify_on_a_missing_directory_raises(tmp_path):
    inotify = filewatch.Inotify()
    try:
        try:
            inotify.add_watch(str(tmp_path / "missing"))
        except OSError as exc:
            assert "missing" in str(exc)
        else:
            raise AssertionError("watching a missing directory succeeded")
    finally:
        inotify.close()
