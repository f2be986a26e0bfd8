"""Every reactor and the brine_events_key pillar render through Salt's #!py renderer and reach
brinelib, on a master that finds _utils in the checkout (utils_dirs, etc/master) and on one
that has only what `salt-run saltutil.sync_all` copied into extension_modules."""

import json
import shutil
import subprocess
import sys

import pytest
from brine_testlib import REPO

# Run in a fresh interpreter without the tests' sys.path, as the master's reactor would.
RENDER = r"""
import json, sys
import salt.utils.templates

opts = json.loads(sys.argv[1])
kw = dict(salt={}, __salt__={}, opts=opts, __opts__=opts, grains={}, __grains__={}, pillar={}, __pillar__={},
          saltenv="base")
assert "brinelib" not in sys.modules
out = {}
for path in sys.argv[2:]:
    extra = {"tag": "brine/echo/request", "data": {"id": "ubuntu3", "data": {}}} if "/reactor/" in path else {}
    rendered = salt.utils.templates.py(path, True, **kw, **extra)
    out[path.rsplit("/", 1)[1]] = rendered
print(json.dumps(out, default=str))
"""


@pytest.mark.parametrize("where", ["utils_dirs", "synced"])
def test_reactors_and_pillar_reach_brinelib(tmp_path, where):
    opts = {"cachedir": str(tmp_path / "cache"), "id": "ubuntu3", "__role": "master",
            "extension_modules": str(tmp_path / "extmods"), "utils_dirs": []}
    if where == "utils_dirs":
        opts["utils_dirs"] = [str(REPO / "_utils")]
    else:
        shutil.copytree(REPO / "_utils", tmp_path / "extmods" / "utils")
    files = sorted(str(p) for p in (REPO / "reactor").glob("*.sls")) + [
        str(REPO / "pillar" / "brine_events_key.sls"), str(REPO / "pillar" / "brine_cert.sls")]
    proc = subprocess.run([sys.executable, "-I", "-c", RENDER, json.dumps(opts), *files],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.splitlines()[-1])
    assert len(out) == 11  # the 9 reactors and the two pillars
    assert out.pop("brine_cert.sls")["data"] == {}  # no inventory under these opts: no certificate
    for name, rendered in out.items():
        assert rendered["result"], (name, rendered["data"])
        if name.endswith(".sls") and name != "brine_events_key.sls":
            # An unsigned event: only the record of its rejection.
            entry = rendered["data"]["brine-record"]["runner.brine.record"][0]["args"][0]["entry"]
            assert entry["rejected"]
    assert len(out["brine_events_key.sls"]["data"]["brine_events_key"]) == 64
