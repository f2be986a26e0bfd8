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
