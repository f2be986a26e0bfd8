"""brinelib.forget_if_changed: a library synced over the loaded one is imported anew, in a
process that outlives the sync (a minion, the master's reactor)."""

import shutil
import subprocess
import sys
import textwrap

from brine_testlib import REPO


def test_a_changed_library_is_read_again_and_an_unchanged_one_is_kept(tmp_path):
    shutil.copytree(REPO / "_utils" / "brinelib", tmp_path / "brinelib", ignore=shutil.ignore_patterns("__pycache__"))
    script = textwrap.dedent("""
        import sys
        import brinelib
        from brinelib import names
        print(brinelib.forget_if_changed(), names.IFNAME_MAX)
        with open(names.__file__, "a") as fh:
            fh.write("\\nIFNAME_MAX = 99\\n")  # what a sync of a new version does to the file
        import brinelib as stale
        print(stale.forget_if_changed(), "brinelib.names" in sys.modules)
        from brinelib import names
        print(names.IFNAME_MAX)
        import brinelib
        print(brinelib.forget_if_changed())
    """)
    proc = subprocess.run([sys.executable, "-B", "-c", script], cwd=tmp_path, capture_output=True, text=True,
                          env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"}, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split("\n")[:4] == ["False 15", "True False", "99", "False"]


def test_every_loader_module_that_imports_the_library_forgets_a_stale_one_first():
    import re

    checked = []
    for path in sorted(REPO.glob("_*/*.py")):
        if path.parent.name == "_utils" and path.name != "brine_reactor.py":
            continue
        text = path.read_text()
        first = re.search(r"^(from brinelib\b|import brinelib\.)", text, re.M)
        if first is None:
            continue
        checked.append(path.name)
        guard = text.find("brinelib.forget_if_changed()")
        assert 0 <= guard < first.start(), f"{path.relative_to(REPO)} imports from brinelib before forget_if_changed()"
    assert "dualbond.py" in checked and "brine.py" in checked and "brine_reactor.py" in checked
