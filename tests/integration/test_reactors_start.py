"""The minion-start reactor on the shared test master, where the highstate is switched off."""

import salt.runner
from events_lab import wait_for


def test_highstate_on_start_switched_off_only_records_the_start(salt_master, salt_minion):
    # tests/integration/conftest.py sets brine_highstate_on_start: False (the highstate would
    # converge this host); test_events.py covers the switched-on case on its own master.
    client = salt.runner.RunnerClient(dict(salt_master.config))
    tag = f"salt/minion/{salt_minion.id}/start"
    entries = wait_for(lambda: client.cmd("brine.events", kwarg={"tag": tag, "limit": 0}, print_event=False),
                       timeout=60, interval=0.5)
    assert entries, "the start of the minion was not recorded"
    for entry in entries:
        assert entry["minion"] == salt_minion.id
        assert entry["event"] == {"highstate": False} and entry["actions"] == []
