"""brinelib.state_returns: every Brine state's return, the same shape with and without test=True."""

import pytest
from brine_testlib import REPO

from brinelib import state_returns as returns


def test_a_new_return_succeeds_with_no_changes():
    assert returns.new_return("x") == {"name": "x", "changes": {}, "result": True, "comment": ""}


def test_test_mode_and_a_real_run_report_the_same_changes_with_result_none_only_in_test_mode():
    dry = returns.would_change(returns.new_return("x"), {"diff": "+a"}, "would write x")
    real = returns.changed(returns.new_return("x"), {"diff": "+a"}, "wrote x")
    assert dry == {"name": "x", "changes": {"diff": "+a"}, "result": None, "comment": "would write x"}
    assert real == {"name": "x", "changes": {"diff": "+a"}, "result": True, "comment": "wrote x"}


def test_nothing_to_do_is_true_with_no_changes_whatever_came_before():
    ret = returns.new_return("x")
    ret["changes"] = {"stale": 1}
    assert returns.unchanged(ret, "x is as it should be") == {
        "name": "x", "changes": {}, "result": True, "comment": "x is as it should be"}


def test_a_failure_keeps_what_it_is_told_happened_on_the_way():
    assert returns.failed(returns.new_return("x"), "refused") == {
        "name": "x", "changes": {}, "result": False, "comment": "refused"}
    ret = returns.failed(returns.new_return("x"), "rolled back", changes={"actions": ["a"], "rolled_back": True})
    assert ret["result"] is False and ret["changes"] == {"actions": ["a"], "rolled_back": True}


@pytest.mark.parametrize("path", sorted((REPO / "_states").glob("*.py")), ids=lambda p: p.name)
def test_every_brine_state_builds_its_return_with_the_helper(path):
    text = path.read_text()
    assert "ret = new_return(name)" in text
    assert '"result": ' not in text
