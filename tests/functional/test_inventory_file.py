"""An inventory file that is not valid YAML is reported in one line: file, line, column, problem."""

import shutil

import pytest
from brine_testlib import REPO

EXPECTED = "line 31, column 9: YAML syntax error: did not find expected ',' or ']'"


@pytest.fixture
def broken_pillar_root(tmp_path):
    root = tmp_path / "pillar"
    shutil.copytree(REPO / "pillar", root)
    path = root / "brine" / "example-lab.yaml"
    lines = path.read_text().splitlines()
    assert lines[29].strip() == "fqdn: internal.lab.home.arpa"  # line 30
    assert lines[30].strip().startswith("vrid: 51")  # line 31, where YAML notices (EXPECTED)
    lines[29] = lines[29].replace("fqdn: ", "fqdn: [")  # an unclosed flow sequence
    path.write_text("\n".join(lines) + "\n")
    return root, path


def test_validate_names_the_file_line_column_and_problem(salt_call, broken_pillar_root):
    root, path = broken_pillar_root
    out, proc = salt_call("brine_inventory.validate", check=False, pillar_root=root)
    assert proc.returncode == 1
    message = proc.stderr.strip().splitlines()
    assert message == [f"Error running 'brine_inventory.validate': inventory file {path}, {EXPECTED}"
                       " (while parsing a flow sequence at line 30, column 11)"], proc.stderr


def test_a_state_run_stops_with_one_line_naming_the_file(salt_call, broken_pillar_root):
    root, path = broken_pillar_root
    out, proc = salt_call("state.apply", "test=True", check=False, pillar_root=root)
    assert proc.returncode != 0
    assert out == ["Pillar failed to render with the following messages:",
                   f"inventory file {path}, {EXPECTED} (while parsing a flow sequence at line 30, column 11)"], out
    assert "Traceback" not in proc.stdout + proc.stderr and "is empty" not in proc.stdout + proc.stderr


def test_a_missing_inventory_file_is_named(salt_call, tmp_path):
    root = tmp_path / "pillar"
    shutil.copytree(REPO / "pillar", root)
    (root / "brine" / "example-lab.yaml").unlink()
    out, proc = salt_call("brine_inventory.validate", check=False, pillar_root=root)
    assert proc.returncode == 1
    assert proc.stderr.strip() == (f"Error running 'brine_inventory.validate': inventory file brine/example-lab.yaml "
                                   f"not found under the pillar roots ({root})"), proc.stderr
