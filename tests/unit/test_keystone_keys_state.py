"""salt/keystone/keys.sls makes the key repositories where the module looks for them: the
formula's defaults name the same paths (the states themselves: tests/functional/
test_keystone_states.py)."""

import yaml
from brine_testlib import REPO

import brine_keystone


def test_the_formula_s_repositories_are_the_module_s():
    defaults = yaml.safe_load((REPO / "salt" / "keystone" / "defaults.yaml").read_text())
    assert defaults["keystone"]["repositories"] == brine_keystone.DEFAULT_PATHS
