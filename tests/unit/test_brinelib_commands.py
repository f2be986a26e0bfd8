"""brinelib.commands and brinelib.errors: one way to run a command, one set of error types."""

import subprocess
import sys

import pytest
from salt.exceptions import CommandExecutionError

from brinelib import commands, errors


def test_a_command_runs_without_a_shell_and_its_output_is_text():
    proc = commands.run([sys.executable, "-c", "import sys; print(sys.argv[1])", "a b; echo no"])
    assert proc.returncode == 0
    assert proc.stdout == "a b; echo no\n"


def test_a_failed_command_is_salts_error_naming_the_command_its_status_and_what_it_said():
    with pytest.raises(CommandExecutionError, match=r"-c import sys; sys.exit\('gone'\) failed \(1\): gone$"):
        commands.run([sys.executable, "-c", "import sys; sys.exit('gone')"])


def test_stdout_is_quoted_when_a_failed_command_said_nothing_on_stderr():
    with pytest.raises(CommandExecutionError, match=r"failed \(3\): out$"):
        commands.run([sys.executable, "-c", "import sys; print('out'); sys.exit(3)"])


def test_unchecked_failures_are_returned_and_callers_choose_their_error():
    assert commands.run([sys.executable, "-c", "raise SystemExit(2)"], check=False).returncode == 2

    class OperatorError(Exception):
        pass

    with pytest.raises(OperatorError, match=r"failed \(2\)"):
        commands.run([sys.executable, "-c", "raise SystemExit(2)"], error=OperatorError)


def test_a_command_that_hangs_is_stopped_at_its_timeout():
    with pytest.raises(subprocess.TimeoutExpired):
        commands.run([sys.executable, "-c", "import time; time.sleep(30)"], timeout=0.5)


def test_the_library_raises_salts_own_command_error_where_salt_is_installed():
    assert errors.CommandExecutionError is CommandExecutionError


def test_an_inventory_problem_says_each_problem_with_its_pillar_path():
    one = errors.InventoryProblem("brine:hosts:a: no NICs")
    assert isinstance(one, ValueError)
    assert str(one) == "brine:hosts:a: no NICs" and one.errors == ["brine:hosts:a: no NICs"]
    many = errors.InventoryProblem([("brine:hosts:a", "no NICs"), "brine:vips: missing"])
    assert str(many) == "brine:hosts:a: no NICs\nbrine:vips: missing"
    headed = errors.InventoryProblem([("brine:hosts:a", "no NICs")], heading="The plan has 1 problem:")
    assert str(headed) == "The plan has 1 problem:\n  - brine:hosts:a: no NICs"
    assert headed.errors == [("brine:hosts:a", "no NICs")]
