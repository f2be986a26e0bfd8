"""brinelib.supervise: engines restart a failed watch with a growing delay, and both engines use it."""

import pytest
from brine_testlib import load_extension

from brinelib import supervise


class Clock:
    """A fake clock and sleep: sleeping moves the clock; the Nth sleep ends the loop."""

    def __init__(self, stop_after):
        self.now = 0.0
        self.waits = []
        self.stop_after = stop_after

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.waits.append(seconds)
        self.now += seconds
        if len(self.waits) == self.stop_after:
            raise KeyboardInterrupt  # the test's way out of the endless loop


def test_a_failing_watch_is_restarted_with_a_growing_delay_up_to_a_cap():
    clock = Clock(stop_after=9)

    def run():
        if len(clock.waits) == 6:
            clock.now += 61  # this one watched for a minute before it failed
        raise OSError("netlink socket closed")

    with pytest.raises(KeyboardInterrupt):
        supervise.keep_running(run, "test", clock=clock, sleep=clock.sleep, delays=(1.0, 8.0))
    assert clock.waits == [1, 2, 4, 8, 8, 8, 1, 2, 4]


def test_a_watch_that_returns_is_restarted_too_and_the_log_names_it(caplog):
    clock = Clock(stop_after=2)
    with pytest.raises(KeyboardInterrupt):
        supervise.keep_running(lambda: None, "brine_test_engine", clock=clock, sleep=clock.sleep)
    assert clock.waits == [1, 2]
    assert "brine_test_engine: the watch ended" in caplog.text


@pytest.mark.parametrize("name", ["brine_filewatch", "brine_linkwatch"])
def test_each_engine_restarts_through_the_shared_helper(name):
    engine = load_extension("engines", name)
    assert engine.keep_running is supervise.keep_running


def test_the_file_watcher_is_rebuilt_and_closed_after_each_failure(monkeypatch):
    engine = load_extension("engines", "brine_filewatch")
    built, closed = [], []
    clock = Clock(stop_after=4)

    class FailingWatcher:
        empty = False

        def __init__(self, watches, **_):
            built.append(watches)
            self.content = type("Content", (), {"paths": []})()
            self.followers = []

        def step(self, timeout):
            raise OSError(28, "inotify watch limit reached")

        def close(self):
            closed.append(True)

    monkeypatch.setattr(engine, "Watcher", FailingWatcher)
    monkeypatch.setattr(engine, "keep_running",
                        lambda run, name: supervise.keep_running(run, name, clock=clock, sleep=clock.sleep))
    with pytest.raises(KeyboardInterrupt):
        engine.start(watches={"nova_conf": {"path": "/etc/nova/nova.conf"}})
    assert clock.waits == [1, 2, 4, 8]
    assert len(built) == len(closed) == 4
