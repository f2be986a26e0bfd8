"""salt/keystone/keys.sls: only the key repositories' directories, where the module looks for
them, owned by keystone and private; nothing in it touches a key."""

import yaml
from brine_testlib import REPO, render_file

import brine_keystone


def test_directories_only_at_the_modules_paths():
    high = yaml.safe_load(render_file(REPO / "salt" / "keystone" / "keys.sls"))
    assert set(high) == {f"keystone-{kind}-key-repository" for kind in brine_keystone.DEFAULT_PATHS}
    for kind, path in brine_keystone.DEFAULT_PATHS.items():
        (fun, args), = high[f"keystone-{kind}-key-repository"].items()
        assert fun == "file.directory"
        assert {k: v for arg in args for k, v in arg.items()} == {
            "name": path, "user": "keystone", "group": "keystone", "mode": "0700"}
