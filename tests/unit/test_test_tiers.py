"""The test tiers collect together: helpers come from importable modules, never from a conftest."""

import subprocess
import sys

from brine_testlib import REPO


def test_every_tier_collects_in_one_pytest_call():
    tiers = ["tests/kernel", "tests/devices", "tests/lab", "tests/unit", "tests/functional"]
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *tiers],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "error" not in proc.stdout.splitlines()[-1].lower(), proc.stdout[-4000:]
