"""
brine_filewatch's follow loop (``Watcher.step``) with real processes on this host: a
``journal:dhcpd`` DHCP watch next to a real inotify file watch, in one select loop.

This machine has no systemd journal (no systemd running), so ``journalctl --follow`` has
nothing to follow here. The follower runs a small real process instead (``JOURNAL_STANDIN``):
it prints, like ``journalctl --follow -o short-iso``, the dhcpd lines the test appends to a
feed file, starting at the end of the file (``--lines=0``) or, when the engine restarts it
with a ``since`` time, from the lines of that second on (``--since=@<epoch>``). The command
is an argument list built by the test (``Watcher(journal_command=...)``); the engine's own is
``journal_argv``, unit-tested. The inventory is the example lab's, which the engine gets from
``pillar.items`` and passes to the real ``dhcp_reservations.discover_text``; ``event.send``
collects the published events (the integration tests cover the real event bus and reactor).
"""

import os
import shutil
import sys
import time

import pytest
from brine_testlib import example_inventory, load_extension

import dhcp_reservations

filewatch = load_extension("engines", "brine_filewatch")

# Prints the new lines of a feed file as they are appended, like journalctl --follow.
JOURNAL_STANDIN = r"""
import sys, time
feed, since = sys.argv[1], sys.argv[2]
out = sys.stdout.buffer
with open(feed, "rb") as fh:
    if since == "none":
        fh.seek(0, 2)  # --lines=0: only what comes from now on
    else:  # --since=@<epoch>: the lines of that second on
        start = time.strftime("%Y-%m-%dT%H:%M:%S+0000", time.gmtime(int(float(since)))).encode()
        while True:
            line = fh.readline()
            if not line.endswith(b"\n"):
                fh.seek(-len(line), 1)
                break
            if line[:24] >= start:
                out.write(line)
        out.flush()
    while True:
        line = fh.readline()
        if line.endswith(b"\n"):
            out.write(line)
            out.flush()
        else:
            fh.seek(-len(line), 1)
            time.sleep(0.05)
"""

UNKNOWN = "02:b7:1e:4a:00:01"
KNOWN = "52:54:00:10:01:02"  # ubuntu1's eth2 in the example inventory


def dhcpd_line(text, when=None):
    """A dhcpd message as ``journalctl -o short-iso`` prints it (UTC)."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S+0000", time.gmtime(when if when is not None else time.time()))
    return f"{stamp} bootstrap dhcpd[812]: {text}\n"


@pytest.fixture
def salt_functions(monkeypatch):
    inventory = example_inventory()
    published = []
    monkeypatch.setattr(filewatch, "__salt__", {
        # What the engine's loader would give it: the real module, the fresh pillar, the bus.
        "dhcp_reservations.discover_text": dhcp_reservations.discover_text,
        "pillar.items": lambda unmask=None: {"brine": inventory},
        "event.send": lambda tag, data: published.append((tag, dict(data))),
    }, raising=False)
    return published


@pytest.fixture
def feed(tmp_path):
    path = tmp_path / "journal.feed"
    path.write_text("")
    return path


def standin(feed, starts):
    def argv(since):
        starts.append(since)
        return [sys.executable, "-c", JOURNAL_STANDIN, str(feed), "none" if since is None else repr(since)]
    return argv


def append(path, *lines):
    with open(path, "a", encoding="utf-8") as fh:
        fh.writelines(lines)


def step_until(watcher, predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        watcher.step(timeout=0.2)
    return True


def settle(watcher, seconds=1.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        watcher.step(timeout=0.1)


def following(watcher):
    """The stand-in is running and has reached its follow loop (it opened the feed)."""
    proc = watcher.followers[0].proc
    return proc is not None and any(os.path.exists(f"/proc/{proc.pid}/fd/{fd}") and
                                    os.readlink(f"/proc/{proc.pid}/fd/{fd}").endswith("journal.feed")
                                    for fd in os.listdir(f"/proc/{proc.pid}/fd"))


def test_the_follow_loop_publishes_a_new_unknown_mac_once(salt_functions, feed, tmp_path):
    published = salt_functions
    starts = []
    nova_conf = tmp_path / "nova" / "nova.conf"
    nova_conf.parent.mkdir()
    nova_conf.write_text("old")
    watcher = filewatch.Watcher({"dhcp_log": "journal:dhcpd", "nova_conf": str(nova_conf)},
                                journal_command=standin(feed, starts))
    follower = watcher.followers[0]
    try:
        # A line from before the follower started is not read (--lines=0), nor after the
        # restart below (it is older than the second the restart starts from).
        append(feed, dhcpd_line("DHCPDISCOVER from 2:b7:1e:4a:0:99 via eth0.10", when=time.time() - 5))
        assert step_until(watcher, lambda: following(watcher))
        assert starts == [None]

        # A known (inventory) MAC's exchange: nothing.
        append(feed, dhcpd_line(f"DHCPREQUEST for 10.10.0.11 from {KNOWN} via eth0.10"),
               dhcpd_line(f"DHCPACK on 10.10.0.11 to {KNOWN} (ubuntu1) via eth0.10"))
        # An unknown MAC (dhcpd prints octets unpadded): published once.
        first = dhcpd_line("DHCPDISCOVER from 2:b7:1e:4a:0:1 via eth0.10")
        append(feed, first)
        assert step_until(watcher, lambda: published)
        settle(watcher)
        assert len(published) == 1, published
        tag, event = published[0]
        assert tag == "brine/dhcp/unknown"
        assert set(event) == {"mac", "ip", "interface", "first_seen", "last_seen", "count"}
        assert event["mac"] == UNKNOWN and event["count"] == 1 and event["interface"] == "eth0.10"
        assert event["ip"] is None and event["first_seen"] == event["last_seen"]

        # The same line again: not published again.
        append(feed, first)
        settle(watcher)
        assert len(published) == 1, published

        # The file watch works in the same loop: a rename over nova.conf.
        (tmp_path / "nova" / ".new").write_text("new")
        os.rename(tmp_path / "nova" / ".new", nova_conf)
        assert step_until(watcher, lambda: any(t == "brine/file/changed" for t, _ in published))
        assert [e["watch"] for t, e in published if t == "brine/file/changed"] == ["nova_conf"]
        del published[:]

        # journalctl dies: it is started again, from the second of the last line, after a delay;
        # the lines it repeats are not counted again, the new ones are.
        follower.delays, follower.delay = (0.5, 2.0), 0.5
        died = time.monotonic()
        follower.proc.kill()
        assert step_until(watcher, lambda: follower.restarts == 1 and follower.proc is not None)
        assert time.monotonic() - died >= 0.5
        assert starts[1] == follower.lines.last_time is not None
        append(feed, dhcpd_line(f"DHCPOFFER on 10.10.0.200 to {UNKNOWN} via eth0.10"))
        assert step_until(watcher, lambda: published)
        settle(watcher)
        (tag, event), = published
        assert event["mac"] == UNKNOWN and event["count"] == 2 and event["ip"] == "10.10.0.200"
        assert event["first_seen"] <= event["last_seen"]
    finally:
        watcher.close()
    assert follower.proc is None


def test_a_journalctl_that_keeps_dying_is_restarted_with_a_growing_delay(salt_functions):
    starts, sinces = [], []

    def argv(since):
        starts.append(time.monotonic())
        sinces.append(since)
        return [sys.executable, "-c", "pass"]  # exits at once, like a journalctl that fails

    watcher = filewatch.Watcher({"dhcp_log": "journal:dhcpd"}, journal_command=argv)
    watcher.followers[0].delays, watcher.followers[0].delay = (0.1, 0.8), 0.1
    try:
        began = time.monotonic()
        while time.monotonic() - began < 3.0:
            watcher.step(timeout=0.5)
    finally:
        watcher.close()
    # 0.1 + 0.2 + 0.4 + 0.8 + 0.8 ... : a handful of starts in 3 s, not a busy loop.
    assert 4 <= len(starts) <= 8, len(starts)
    gaps = [b - a for a, b in zip(starts, starts[1:])]
    assert gaps[0] >= 0.1 and gaps[2] >= 0.4 and all(g >= 0.1 for g in gaps), gaps
    assert salt_functions == []
    # No line came: each restart follows from when the first one started, not from "now".
    assert sinces[0] is None and len(set(sinces[1:])) == 1 and sinces[1] <= time.time() - 2.5


def test_a_missing_journalctl_is_retried_too(salt_functions, tmp_path):
    watcher = filewatch.Watcher({"dhcp_log": "journal:dhcpd"},
                                journal_command=lambda since: [str(tmp_path / "no-such-journalctl")])
    follower = watcher.followers[0]
    follower.delays, follower.delay = (0.2, 0.2), 0.2
    try:
        watcher.step(timeout=0.05)
        assert follower.proc is None and follower.wait(time.monotonic()) > 0
        began = time.monotonic()
        calls = 0
        while time.monotonic() - began < 1.0:
            watcher.step(timeout=1.0)
            calls += 1
        # Each step waited for the restart delay instead of returning at once.
        assert calls <= 7, calls
    finally:
        watcher.close()


def test_a_shell_string_is_not_a_journal_command(salt_functions):
    watcher = filewatch.Watcher({"dhcp_log": "journal:dhcpd"}, journal_command=lambda since: "journalctl -f | sh")
    try:
        with pytest.raises(TypeError, match="argument list"):
            watcher.step(timeout=0.05)
    finally:
        watcher.close()


def test_an_invalid_journal_watch_is_left_out(salt_functions, feed):
    watcher = filewatch.Watcher({"dhcp_log": "journal:dhcpd;reboot", "nova_conf": "journal:nova"})
    try:
        assert watcher.empty
    finally:
        watcher.close()


@pytest.mark.skipif(not shutil.which("journalctl"), reason="no journalctl on this host")
def test_the_real_journalctl_takes_the_engines_command_and_keeps_following(salt_functions):
    """This host's journalctl (systemd 252, as on Debian 12) with no journal to read: it accepts
    the engine's arguments and waits for messages instead of exiting, so no restart loop."""
    watcher = filewatch.Watcher({"dhcp_log": "journal:dhcpd"})
    follower = watcher.followers[0]
    try:
        settle(watcher, 2.0)
        assert follower.proc is not None and follower.proc.poll() is None and follower.restarts == 0
        with open(f"/proc/{follower.proc.pid}/cmdline", "rb") as fh:
            assert fh.read().split(b"\0")[:-1] == [a.encode() for a in filewatch.journal_argv("dhcpd")]
        # The restart form too (--lines=all --since=@<epoch>).
        follower.lines.last_time = time.time() - 5
        follower.proc.terminate()
        follower.delays, follower.delay = (0.1, 1.0), 0.1
        assert step_until(watcher, lambda: follower.restarts == 1 and follower.proc is not None)
        settle(watcher, 1.5)
        assert follower.proc is not None and follower.proc.poll() is None and follower.restarts == 1
        pid = follower.proc.pid
    finally:
        watcher.close()
    assert not os.path.exists(f"/proc/{pid}")  # closing the engine ends and reaps its journalctl
    assert salt_functions == []
