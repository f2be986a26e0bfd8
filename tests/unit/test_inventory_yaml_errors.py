"""A YAML error in the inventory file is one line (file, line, column, problem), the same from the
pillar (pillar/brine/init.sls) and from the lab's loader (lab/core.py via brine_inventory)."""

import brine_inventory
import pytest
import yaml
from brine_testlib import REPO

BROKEN = {
    "unclosed flow sequence": ("a:\n  b: [1, 2\n  c: 3\n", "line 3, column 4: YAML syntax error: expected ',' or ']', but got ':' "
                               "(while parsing a flow sequence at line 2, column 6)"),
    "tab indentation": ("a:\n\tb: 1\n", "line 2, column 1: YAML syntax error: found character '\\t' that cannot start any token"),
    "bad indentation": ("a:\n  b: 1\n c: 2\n", "line 3, column 2: YAML syntax error: expected <block end>, but found "
                        "'<block mapping start>' (while parsing a block mapping at line 1, column 1)"),
}


def pillar_module():
    namespace = {}
    exec(compile((REPO / "pillar" / "brine" / "init.sls").read_text(), "init.sls", "exec"), namespace)
    return namespace


@pytest.mark.parametrize("kind", sorted(BROKEN))
def test_pillar_and_library_word_a_yaml_error_alike_in_one_line(kind, tmp_path):
    text, expected = BROKEN[kind]
    path = tmp_path / "lab.yaml"
    path.write_text(text)
    with pytest.raises(brine_inventory.CommandExecutionError) as caught:
        brine_inventory.load_file(path)
    line = str(caught.value)
    assert line.startswith(f"inventory file {path}, {expected}"), line
    assert "\n" not in line
    with pytest.raises(yaml.YAMLError) as parsed:
        yaml.safe_load(text)
    assert pillar_module()["yaml_problem"](path, parsed.value) == line


def test_the_lab_refuses_a_broken_inventory_file_in_one_line(tmp_path):
    from lab.core import LabError, load_inventory

    path = tmp_path / "lab.yaml"
    path.write_text(BROKEN["unclosed flow sequence"][0])
    with pytest.raises(LabError) as caught:
        load_inventory(str(path))
    assert str(caught.value).startswith(f"inventory file {path}, line 3, column 4: YAML syntax error"), caught.value


def pillar_run(tmp_path, config):
    """The pillar's run() with pillar root ``tmp_path`` and ``config`` as the minion's config."""
    namespace = pillar_module()
    namespace.update(__opts__={"pillar_roots": {"base": [str(tmp_path)]}}, saltenv="base",
                     __salt__={"config.get": lambda key, default=None: config.get(key, default)})
    return namespace["run"]()


def test_the_settings_file_gives_brine_settings_beside_the_inventory(tmp_path):
    (tmp_path / "inv.yaml").write_text("domain: lab.home.arpa\n")
    (tmp_path / "settings.yaml").write_text("keystone:\n  password_hash_rounds: 4\n")
    assert pillar_run(tmp_path, {"brine_inventory_file": "inv.yaml"}) == {"brine": {"domain": "lab.home.arpa"}}
    assert pillar_run(tmp_path, {"brine_inventory_file": "inv.yaml", "brine_settings_file": "settings.yaml"}) == {
        "brine": {"domain": "lab.home.arpa"}, "brine_settings": {"keystone": {"password_hash_rounds": 4}}}


@pytest.mark.parametrize("text, words", [
    (None, "settings file settings.yaml not found under the pillar roots"),
    ("- keystone\n", "settings file settings.yaml: not a mapping of feature settings"),
    ("a:\n\tb: 1\n", "settings.yaml, line 2, column 1: YAML syntax error"),
])
def test_a_bad_settings_file_is_one_error_and_no_pillar(tmp_path, text, words):
    (tmp_path / "inv.yaml").write_text("domain: lab.home.arpa\n")
    if text is not None:
        (tmp_path / "settings.yaml").write_text(text)
    out = pillar_run(tmp_path, {"brine_inventory_file": "inv.yaml", "brine_settings_file": "settings.yaml"})
    assert list(out) == ["_errors"] and len(out["_errors"]) == 1 and words in out["_errors"][0], out
    assert out["_errors"][0].startswith("settings file")
