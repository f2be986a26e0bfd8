"""The checkout served by a real master: sync, custom module, custom state, reactor."""

import hashlib
import time


def test_sync_all_delivers_the_custom_modules(salt_cli, salt_minion):
    ret = salt_cli.run("saltutil.sync_all", minion_tgt=salt_minion.id)
    assert ret.returncode == 0, ret
    # Already synced by the fixture: a second sync has nothing new, but the modules are there.
    ret = salt_cli.run("sys.list_functions", "brine_inventory", minion_tgt=salt_minion.id)
    assert "brine_inventory.validate" in ret.data
    ret = salt_cli.run("sys.list_state_functions", "brine_inventory", minion_tgt=salt_minion.id)
    assert ret.data == ["brine_inventory.valid"]


def test_custom_module_reads_the_inventory_through_the_master(salt_cli, salt_minion):
    ret = salt_cli.run("brine_inventory.roles", minion_tgt=salt_minion.id)
    assert ret.data == ["controller", "compute", "storage", "network"]
    ret = salt_cli.run("brine_inventory.host", minion_tgt=salt_minion.id)
    assert ret.data["nics"]["eth2"]["mac"] == "52:54:00:10:01:02"


def test_custom_state_runs_through_the_master(salt_cli, salt_minion):
    ret = salt_cli.run("state.single", "brine_inventory.valid", "probe", minion_tgt=salt_minion.id)
    assert ret.returncode == 0, ret
    (result,) = ret.data.values()
    assert result["result"] is True and result["comment"] == "The inventory is valid"


def test_highstate_renders_through_the_master(salt_cli, salt_minion):
    ret = salt_cli.run("state.show_highstate", minion_tgt=salt_minion.id)
    assert isinstance(ret.data, dict), ret.data
    assert {"brine-inventory-valid", "brine-role-controller", "brine-role-storage"} <= set(ret.data)


def test_reactor_answers_the_minion_that_asked(salt_master, salt_minion, event_listener):
    start = time.time()
    ret = salt_minion.salt_call_cli().run("brine_sign.send", "brine/echo/request")
    assert ret.returncode == 0 and ret.data is True, ret
    found = event_listener.wait_for_events(
        [(salt_master.id, "brine/echo/reply")], after_time=start, timeout=60
    )
    assert found.found_all_events, "the reactor did not answer"
    (event,) = found.matches
    assert event.data["id"] == salt_minion.id


def test_minion_gets_its_signing_key_in_its_own_pillar(salt_cli, salt_minion):
    # Compared by digest: Salt's CLI masks the value itself.
    ret = salt_cli.run("slsutil.renderer", string="{{ pillar['brine_events_key'] | sha256 }}",
                       default_renderer="jinja", minion_tgt=salt_minion.id)
    assert ret.data.strip() == hashlib.sha256(salt_minion.config["brine_events_key"].encode()).hexdigest()
