"""
orch.brine_signin, which the master's reactor starts for a minion whose start carried no Brine
signature (docs/events.md, "Sign-in"), renders to exactly two steps aimed at that one minion:
sync the extensions, then brine.events (its key from its own pillar), in that order.
"""

import json


def test_sign_in_syncs_then_configures_only_the_named_minion(salt_call):
    pillar = json.dumps({"brine_signin_minion": "newbox"})
    out, proc = salt_call("state.show_sls", "orch.brine_signin", f"pillar={pillar}", minion_id="bootstrap")
    assert proc.returncode == 0, proc.stderr
    assert sorted(out) == ["brine-signin-events", "brine-signin-sync"]
    sync = out["brine-signin-sync"]["salt"]
    events = out["brine-signin-events"]["salt"]
    assert "function" in sync and {"name": "saltutil.sync_all"} in sync
    assert {"tgt": ["newbox"]} in sync and {"tgt_type": "list"} in sync
    assert "state" in events and {"sls": "brine.events"} in events
    assert {"tgt": ["newbox"]} in events and {"tgt_type": "list"} in events
    assert {"require": [{"salt": "brine-signin-sync"}]} in events


def test_sign_in_without_a_minion_does_nothing(salt_call):
    out, proc = salt_call("state.show_sls", "orch.brine_signin", minion_id="bootstrap")
    assert proc.returncode == 0, proc.stderr
    assert list(out) == ["brine-signin-nothing"]
