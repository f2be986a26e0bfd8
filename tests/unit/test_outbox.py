"""The outbox: brinelib.outbox (which names are messages, what a message says) and the
brine_outbox engine's drain and directory check on a temporary directory, with the notify
script as the real writer."""

import json
import os
import subprocess
import threading

import pytest

from brine_testlib import REPO, load_extension, render_file, write_outbox_put
from brinelib import outbox

engine = load_extension("engines", "brine_outbox")
NOTIFY = REPO / "salt" / "keepalived" / "files" / "brine-vip-notify.jinja"
TAGS = {"brine/vip/state"}


def message(tag="brine/vip/state", data=None):
    return json.dumps({"tag": tag, "data": {"vip": "internal", "state": "MASTER"} if data is None else data}).encode()


def test_messages_are_the_finished_files_oldest_first():
    names = ["20-1.json", ".30-2", "3-9.json", "100-1.json", "x.json", "5-1.json.tmp", "100-0.json", "-1.json"]
    assert outbox.messages(names) == ["3-9.json", "20-1.json", "100-0.json", "100-1.json"]


def test_a_message_is_its_tag_and_data():
    assert outbox.parse(message(), TAGS) == ("brine/vip/state", {"vip": "internal", "state": "MASTER"})


@pytest.mark.parametrize("raw, reason", [
    (b"{not json", "not JSON"),
    (b"\xff\xfe", "not JSON"),
    (b'["brine/vip/state", {}]', 'exactly "tag" and "data"'),
    (json.dumps({"tag": "brine/vip/state"}).encode(), 'exactly "tag" and "data"'),
    (json.dumps({"tag": "brine/vip/state", "data": {}, "id": "other"}).encode(), 'exactly "tag" and "data"'),
    (message(tag="salt/job/x"), "tag 'salt/job/x' is not one this outbox sends (brine/vip/state)"),
    (message(tag=["brine/vip/state"]), "is not one this outbox sends"),
    (message(data=[1]), "data is a list, not an object"),
    (b" " * (outbox.MAX_MESSAGE + 1), f"longer than {outbox.MAX_MESSAGE} bytes"),
])
def test_a_bad_message_is_refused_with_its_reason(raw, reason):
    with pytest.raises(ValueError, match=None) as err:
        outbox.parse(raw, TAGS)
    assert reason in str(err.value)


def put(directory, name, raw):
    path = os.path.join(directory, name)
    with open(path, "wb") as fh:
        fh.write(raw)
    return path


def test_drain_sends_in_order_deletes_what_it_sent_and_what_it_refused(tmp_path, caplog):
    put(tmp_path, "2-1.json", message(data={"n": 2}))
    put(tmp_path, "1-1.json", message(data={"n": 1}))
    put(tmp_path, "3-1.json", message(tag="salt/run/x"))
    put(tmp_path, ".4-1", message(data={"n": 4}))  # not finished: left alone
    os.mkdir(tmp_path / "5-1.json")  # not a file: refused
    sent = []
    assert engine.drain(str(tmp_path), TAGS, send=lambda tag, data: sent.append((tag, data))) is True
    assert sent == [("brine/vip/state", {"n": 1}), ("brine/vip/state", {"n": 2})]
    assert sorted(os.listdir(tmp_path)) == [".4-1", "5-1.json"]
    assert "3-1.json refused and deleted: tag 'salt/run/x'" in caplog.text
    assert "5-1.json refused and deleted: not a regular file" in caplog.text


def test_drain_refuses_a_symlink_and_leaves_its_target(tmp_path, caplog):
    target = put(tmp_path.parent, f"{tmp_path.name}-target", message())
    os.symlink(target, tmp_path / "1-1.json")
    sent = []
    engine.drain(str(tmp_path), TAGS, send=lambda tag, data: sent.append(tag))
    assert sent == [] and os.path.exists(target) and os.listdir(tmp_path) == []
    assert "1-1.json refused and deleted: not readable" in caplog.text


def test_a_message_the_bus_does_not_take_stays_with_the_ones_after_it(tmp_path):
    for n in (1, 2, 3):
        put(tmp_path, f"{n}-1.json", message(data={"n": n}))
    sent = []

    def send(tag, data):
        if data["n"] == 2:
            raise RuntimeError("the minion's event bus is restarting")
        sent.append(data["n"])

    assert engine.drain(str(tmp_path), TAGS, send=send) is False
    assert sent == [1] and sorted(os.listdir(tmp_path)) == ["2-1.json", "3-1.json"]
    assert engine.drain(str(tmp_path), TAGS, send=lambda tag, data: sent.append(data["n"])) is True
    assert sent == [1, 2, 3] and os.listdir(tmp_path) == []


def test_prepare_makes_the_directory_private_and_refuses_a_symlink(tmp_path):
    box = tmp_path / "run" / "outbox"
    engine.prepare(str(box))
    assert oct(box.stat().st_mode & 0o777) == "0o700"
    os.chmod(box, 0o777)
    engine.prepare(str(box))
    assert oct(box.stat().st_mode & 0o777) == "0o700"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    os.symlink(elsewhere, tmp_path / "link")
    with pytest.raises(OSError, match="not a directory"):
        engine.prepare(str(tmp_path / "link"))


def test_what_the_notify_script_writes_the_engine_sends(tmp_path):
    """The real writers and the real reader: the rendered notify script and brine-outbox-put,
    then drain; a bad tag leaves nothing."""
    box = tmp_path / "outbox"
    put = tmp_path / "brine-outbox-put"
    write_outbox_put(put, box)
    notify = tmp_path / "notify"
    notify.write_text(render_file(NOTIFY, outbox_put=str(put)))
    notify.chmod(0o755)
    for state in ("BACKUP", "MASTER", "FAULT"):
        subprocess.run([str(notify), "INSTANCE", "internal", state, "230"], check=True, timeout=10)
    bad = subprocess.run([str(put), "brine/x;reboot", "{}"], capture_output=True, text=True, timeout=10)
    assert bad.returncode == 0 and "bad tag" in bad.stderr
    sent = []
    assert engine.drain(str(box), TAGS, send=lambda tag, data: sent.append((tag, data["state"], data["priority"])))
    assert sent == [("brine/vip/state", s, 230) for s in ("BACKUP", "MASTER", "FAULT")]


def test_the_engine_sends_a_message_the_moment_it_lands(tmp_path, monkeypatch):
    """start() with real inotify: a message written after the engine began is sent without
    waiting for the engine's 60 s safety look. The sender ends the engine once it has the
    message (SystemExit passes through the engine's restart loop)."""
    box = tmp_path / "outbox"
    sent = []

    def send(tag, data):
        sent.append(data)
        raise SystemExit

    monkeypatch.setattr(engine, "publish", send)
    runner = threading.Thread(target=_run_engine, args=(str(box),), daemon=True)
    runner.start()
    for _ in range(500):
        if box.is_dir():
            break
        runner.join(0.01)
    put(box, ".9-1", message(data={"n": 9}))
    os.rename(box / ".9-1", box / "9-1.json")
    runner.join(5)
    assert not runner.is_alive(), "the message was not sent within 5 s"
    assert sent == [{"n": 9}]


def _run_engine(directory):
    try:
        engine.start(directory=directory, tags=sorted(TAGS))
    except SystemExit:
        pass
