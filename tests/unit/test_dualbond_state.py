"""The dualbond states: one ``changes`` shape with and without test=True, result None in test mode."""

import pytest
from brine_testlib import load_extension

CHANGES = ["create br-eth2 (bridge)", "create bond-eth2 (bond)"]


@pytest.fixture
def state(monkeypatch):
    """The state module with a fake dualbond execution module: ``state(test, out)``."""
    module = load_extension("states", "dualbond")

    def make(test, out):
        calls = []

        def fake(**kwargs):
            calls.append(kwargs)
            return out

        monkeypatch.setattr(module, "__opts__", {"test": test}, raising=False)
        monkeypatch.setattr(module, "__salt__", {"dualbond.apply": fake, "dualbond.remove": fake}, raising=False)
        return module, calls

    return make


@pytest.mark.parametrize("function", ["present", "absent"])
def test_test_mode_and_real_run_report_the_same_changes_shape(state, function):
    module, calls = state(True, {"changes": CHANGES})
    dry = getattr(module, function)("dualbond")
    assert calls[0]["test"] is True
    module, calls = state(False, {"changes": CHANGES})
    real = getattr(module, function)("dualbond")
    assert calls[0]["test"] is False
    assert dry["changes"] == real["changes"] == {"actions": CHANGES}
    assert dry["result"] is None and real["result"] is True


@pytest.mark.parametrize("function", ["present", "absent"])
@pytest.mark.parametrize("test", [True, False])
def test_nothing_to_do_is_true_with_no_changes(state, function, test):
    module, _ = state(test, {"changes": []})
    ret = getattr(module, function)("dualbond")
    assert ret["result"] is True and ret["changes"] == {}


def test_a_rolled_back_change_fails_and_keeps_the_shape(state):
    module, _ = state(False, {"changes": CHANGES, "rolled_back": True, "attempted": CHANGES, "comment": "probe lost"})
    ret = module.present("dualbond")
    assert ret["result"] is False
    assert ret["changes"] == {"actions": CHANGES, "rolled_back": True}
    assert "ROLLED BACK: probe lost" in ret["comment"]
