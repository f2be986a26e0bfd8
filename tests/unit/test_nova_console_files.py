"""
The thin layers of nova_console on real files: the execution module's read/patch (atomic write,
backup, mode and owner, symlinks, refusals) and the nova_console.configured state (diff,
test=True, changes, restart only on change, idempotence).

The modules run outside Salt's loader with their dunders filled by hand: ``__salt__`` holds
the real brine_inventory and nova_console functions. The one stand-in is the restart of
nova-compute, which cannot run here: a recorder that the tests read (the functional tests
restart through Salt's real service module).
"""

import os
import shutil

import pytest
from brine_inventory import normalise
from brine_testlib import REPO, example_inventory, load_extension
from nova_judge import nova_vnc_values

import nova_console as nc

DATA = REPO / "tests" / "data" / "nova"
JUJU = DATA / "juju-icehouse-nova-compute.conf"


class RestartRecorder:
    """Stands in for restarting nova-compute (no nova-compute runs here): records each call."""

    def __init__(self, fail=False):
        self.calls = []
        self.fail = fail

    def __call__(self, role="compute", deployment="packages", service=None):
        self.calls.append((role, deployment, service))
        if self.fail:
            raise nc.CommandExecutionError("service nova-compute did not restart")
        return f"service {service or 'nova-compute'}"


@pytest.fixture
def module(monkeypatch):
    inventory = normalise(example_inventory())
    monkeypatch.setattr(nc, "__salt__", {"brine_inventory.get": lambda: inventory}, raising=False)
    monkeypatch.setattr(nc, "__grains__", {"id": "ubuntu1"}, raising=False)
    return nc


@pytest.fixture
def state(module, tmp_path):
    st = load_extension("states", "nova_console")
    recorder = RestartRecorder()
    module.__salt__["nova_console.restart"] = recorder  # enforce() restarts through __salt__
    st.__salt__ = {
        "nova_console.plan": module.plan,
        "nova_console.patch": module.patch,
        "nova_console.enforce": module.enforce,
        "nova_console.restart_marker": module.restart_marker,
        "nova_console.restart": recorder,
        "nova_console.instances_without_console": lambda uri=None: None,
    }
    st.__opts__ = {"test": False}
    st.recorder = recorder
    st.markers = tmp_path / "markers"
    return st


def juju_conf(tmp_path):
    path = tmp_path / "etc" / "nova" / "nova.conf"
    path.parent.mkdir(parents=True)
    shutil.copy(JUJU, path)
    return path


def listing(directory):
    return sorted(p.name for p in directory.iterdir())


# --------------------------------------------------------------------------- execution module


def test_patch_writes_atomically_keeps_mode_owner_and_a_backup(module, tmp_path):
    path = juju_conf(tmp_path)
    os.chmod(path, 0o640)
    os.chown(path, 65534, 65534)
    inode = path.stat().st_ino
    done = module.patch(str(path))
    assert done["changed"] and done["findings"]
    st = path.stat()
    assert (st.st_mode & 0o7777, st.st_uid, st.st_gid) == (0o640, 65534, 65534)
    assert st.st_ino != inode  # replaced by a rename, never half-written in place
    assert open(done["backup"], "rb").read() == JUJU.read_bytes()
    assert listing(path.parent) == sorted(["nova.conf", os.path.basename(done["backup"])])
    assert nova_vnc_values(path)["server_listen"] == "10.10.0.11"
    assert done["diff"].startswith(f"--- {path}\n+++ {path}\n")


def test_second_patch_changes_nothing_and_makes_no_backup(module, tmp_path):
    path = juju_conf(tmp_path)
    module.patch(str(path))
    before = (path.read_bytes(), path.stat().st_ino, listing(path.parent))
    again = module.patch(str(path))
    assert again["changed"] is False and again["findings"] == [] and again["backup"] is None
    assert (path.read_bytes(), path.stat().st_ino, listing(path.parent)) == before


def test_symlinked_nova_conf_patches_the_target_and_keeps_the_link(module, tmp_path):
    target = juju_conf(tmp_path)
    link = tmp_path / "nova.conf"
    link.symlink_to(target)
    module.patch(str(link))
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert nova_vnc_values(target)["server_proxyclient_address"] == "10.10.0.11"


@pytest.mark.parametrize(
    "content, words",
    [
        (b"[DEFAULT]\nmy_ip = 10.10.0.11\nthis line is not INI\n", "line 3: not an INI line"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not UTF-8 text"),
        (b"[DEFAULT]\x00\n", "NUL bytes"),
    ],
)
def test_malformed_file_is_refused_and_untouched(module, tmp_path, content, words):
    path = tmp_path / "nova.conf"
    path.write_bytes(content)
    with pytest.raises(nc.CommandExecutionError, match=words):
        module.patch(str(path))
    assert path.read_bytes() == content and listing(tmp_path) == ["nova.conf"]


def test_unreadable_path_is_refused(module, tmp_path):
    (tmp_path / "nova.conf").mkdir()
    with pytest.raises(nc.CommandExecutionError, match="not a regular file"):
        module.patch(str(tmp_path / "nova.conf"))
    dangling = tmp_path / "dangling.conf"
    dangling.symlink_to(tmp_path / "nowhere.conf")
    with pytest.raises(nc.CommandExecutionError, match="does not exist"):
        module.patch(str(dangling))
    assert listing(tmp_path) == ["dangling.conf", "nova.conf"]


def test_missing_file_is_left_missing_unless_created(module, tmp_path):
    path = tmp_path / "config" / "nova" / "ubuntu1" / "nova.conf"
    assert module.patch(str(path))["changed"] is False and not path.exists()
    done = module.patch(str(path), create=True)
    assert done["changed"] and done["backup"] is None
    assert path.read_text().startswith("[vnc]\nenabled = true\n")
    assert path.stat().st_mode & 0o777 == 0o640


def test_settings_for_another_host(module):
    assert module.settings(minion_id="ubuntu2")["options"]["server_listen"] == "10.10.0.12"
    with pytest.raises(nc.CommandExecutionError, match="^brine:hosts:nosuch: "):
        module.settings(minion_id="nosuch")


# --------------------------------------------------------------------------- state


def run(state, path, **kwargs):
    return state.configured(str(path), marker_dir=str(state.markers), **kwargs)


def test_state_patches_restarts_once_and_is_idempotent(state, tmp_path):
    path = juju_conf(tmp_path)
    first = run(state, path)
    assert first["result"] is True, first
    assert set(first["changes"]) == {"diff", "backup", "restart"}
    assert "+server_listen = 10.10.0.11" in first["changes"]["diff"]
    assert first["changes"]["restart"] == "service nova-compute"
    assert state.recorder.calls == [("compute", "packages", None)]
    second = run(state, path)
    assert second["result"] is True and second["changes"] == {}, second
    assert state.recorder.calls == [("compute", "packages", None)]  # no restart without a change


def test_state_test_mode_shows_the_diff_and_touches_nothing(state, tmp_path):
    path = juju_conf(tmp_path)
    state.__opts__ = {"test": True}
    ret = run(state, path)
    assert ret["result"] is None
    assert "-vnc_enabled = true " in ret["changes"]["diff"] and "would restart" in ret["changes"]["restart"]
    assert path.read_bytes() == JUJU.read_bytes() and listing(path.parent) == ["nova.conf"]
    assert state.recorder.calls == []


def test_file_replaced_by_another_tool_is_repaired(state, tmp_path):
    path = juju_conf(tmp_path)
    run(state, path)
    fresh = path.with_name("nova.conf.juju-new")  # a config tool renders aside and renames over
    shutil.copy(JUJU, fresh)
    os.replace(fresh, path)
    ret = run(state, path)
    assert ret["result"] is True and "diff" in ret["changes"] and len(state.recorder.calls) == 2
    assert nova_vnc_values(path)["novncproxy_base_url"] == "http://cloud.lab.home.arpa:6080/vnc_lite.html"
    assert run(state, path)["changes"] == {}


def test_failed_restart_is_retried_by_the_next_run(state, tmp_path):
    path = juju_conf(tmp_path)
    state.recorder.fail = True
    first = run(state, path)
    assert first["result"] is False and first["changes"]["restart"].startswith("failed: ")
    assert "diff" in first["changes"]
    state.recorder.fail = False
    second = run(state, path)  # the file is right now, but nova-compute still runs the old one
    assert second["result"] is True and second["changes"] == {"restart": "service nova-compute"}
    assert "diff" not in second["changes"]
    third = run(state, path)
    assert third["changes"] == {} and len(state.recorder.calls) == 2


def test_state_on_malformed_file_fails_and_touches_nothing(state, tmp_path):
    path = tmp_path / "nova.conf"
    path.write_text("[DEFAULT]\n  indented = nonsense\n")
    ret = run(state, path)
    assert ret["result"] is False and "line 2" in ret["comment"] and "was not changed" in ret["comment"]
    assert ret["changes"] == {} and state.recorder.calls == []
    assert path.read_text() == "[DEFAULT]\n  indented = nonsense\n"


def test_state_without_nova_installed_changes_nothing(state, tmp_path):
    ret = run(state, tmp_path / "nova.conf")
    assert ret["result"] is True and ret["changes"] == {} and "does not exist" in ret["comment"]
    assert state.recorder.calls == [] and not (tmp_path / "nova.conf").exists()


def test_state_reports_instances_that_need_a_rebuild(state, tmp_path):
    path = juju_conf(tmp_path)
    xmls = [(DATA / "libvirt" / n).read_text() for n in ("instance-with-vnc.xml", "instance-headless.xml")]
    state.__salt__["nova_console.instances_without_console"] = lambda uri=None: nc.domains_without_vnc(xmls)
    ret = run(state, path)
    assert "1 instance(s) were created without a VNC console and need a rebuild" in ret["comment"]
    assert "db-1 (7d3e0a52-1c4b-4f8e-b2a9-6e5d4c3b2a10)" in ret["comment"]
    assert run(state, path)["changes"] == {}  # a report, not a change


def test_kolla_lab_restarts_the_container(state, module, tmp_path, monkeypatch):
    inventory = example_inventory()
    inventory["openstack"]["console"] = {"deployment": "kolla"}
    monkeypatch.setitem(module.__salt__, "brine_inventory.get", lambda: normalise(inventory))
    path = tmp_path / "nova.conf"
    shutil.copy(DATA / "kolla-2024.1-nova-compute.conf", path)
    ret = run(state, path, service="nova_compute")
    assert ret["result"] is True and ret["changes"]["restart"] == "service nova_compute"
    assert state.recorder.calls == [("compute", "kolla", "nova_compute")]
    assert run(state, path, service="nova_compute")["changes"] == {}


class CommandRecorder:
    """Stands in for Salt's cmd.run_all: no Docker daemon or systemd to restart anything here."""

    def __init__(self, retcode=0):
        self.calls, self.retcode = [], retcode

    def __call__(self, cmd, python_shell=True):
        self.calls.append((cmd, python_shell))
        return {"retcode": self.retcode, "stdout": "", "stderr": "Error: No such container: nova_compute"}


def test_restart_commands(module, monkeypatch):
    docker = CommandRecorder()
    monkeypatch.setitem(module.__salt__, "cmd.run_all", docker)
    assert module.restart(deployment="kolla") == "container nova_compute"
    assert module.restart(role="proxy", deployment="kolla") == "container nova_novncproxy"
    assert docker.calls == [(["docker", "restart", "nova_compute"], False),
                            (["docker", "restart", "nova_novncproxy"], False)]
    docker.retcode = 1
    with pytest.raises(nc.CommandExecutionError, match="No such container"):
        module.restart(deployment="kolla")
    services = []
    monkeypatch.setitem(module.__salt__, "service.available", lambda name: name == "nova-compute")
    monkeypatch.setitem(module.__salt__, "service.restart", lambda name: services.append(name) or True)
    assert module.restart() == "service nova-compute" and services == ["nova-compute"]
    with pytest.raises(nc.CommandExecutionError, match="service nova-novncproxy does not exist here"):
        module.restart(role="proxy")
    with pytest.raises(nc.CommandExecutionError, match="unknown role"):
        module.restart(role="scheduler")


@pytest.fixture
def world_readable_dir():
    import tempfile

    directory = tempfile.mkdtemp(prefix="brine-nova-", dir="/tmp")
    os.chmod(directory, 0o755)
    yield directory
    shutil.rmtree(directory)


@pytest.mark.parametrize("where", ["file mode 0600", "directory not enterable"])
def test_file_the_minion_cannot_read_is_refused_and_untouched(tmp_path, world_readable_dir, where):
    """Root reads every file, so the module runs as nobody here (setpriv) on root's files."""
    import subprocess
    import sys

    directory = world_readable_dir if where == "file mode 0600" else str(tmp_path)  # pytest's is 0700
    path = os.path.join(directory, "nova.conf")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("[vnc]\nenabled = false\n")
    os.chmod(path, 0o600)
    code = (
        "import sys; sys.path[:0] = sys.argv[1:3]; import nova_console as nc\n"
        "try:\n    nc._read(sys.argv[3])\nexcept nc.CommandExecutionError as exc:\n    print(exc)\n"
    )
    proc = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-c", code,
         str(REPO / "_modules"), str(REPO / "_utils"), path],
        capture_output=True, text=True, timeout=60, check=True,
    )
    assert proc.stdout.strip() == f"cannot read {path}: Permission denied"
    assert open(path, encoding="utf-8").read() == "[vnc]\nenabled = false\n"
    assert os.listdir(directory) == ["nova.conf"]


def test_file_rewritten_while_being_patched_is_not_overwritten(module, tmp_path, monkeypatch):
    """Another tool renames a new file over nova.conf between the read and the write."""
    path = juju_conf(tmp_path)
    planned = module._plan

    def plan_then_rewrite(*args):
        out = planned(*args)
        fresh = path.with_name("fresh")
        fresh.write_text("[DEFAULT]\nmy_ip = 10.10.0.11\n")
        os.replace(fresh, path)
        return out

    monkeypatch.setattr(module, "_plan", plan_then_rewrite)
    with pytest.raises(nc.CommandExecutionError, match="changed while it was being patched"):
        module.patch(str(path))
    assert path.read_text() == "[DEFAULT]\nmy_ip = 10.10.0.11\n" and listing(path.parent) == ["nova.conf"]


def test_repeated_repairs_keep_the_newest_backups(module, tmp_path):
    path = juju_conf(tmp_path)
    backups = []
    for _ in range(nc.BACKUPS_KEPT + 2):
        shutil.copy(JUJU, path)  # the other tool rewrites it again
        backups.append(os.path.basename(module.patch(str(path))["backup"]))
    assert listing(path.parent) == sorted(["nova.conf"] + backups[-nc.BACKUPS_KEPT:])


# --------------------------------------------------------------------------- enforce (state + engine)


def test_enforce_patches_and_restarts_once_then_does_nothing(state, module, tmp_path):
    """enforce() is the state's work outside test mode, and what the file watcher runs."""
    path = juju_conf(tmp_path)
    markers = tmp_path / "markers"
    first = module.enforce(str(path), marker_dir=str(markers))
    assert first["changed"] and first["restarted"] == "service nova-compute" and first["restart_error"] is None
    assert "+server_listen = 10.10.0.11" in first["diff"] and first["backup"]
    assert not (markers / "nova-console-compute").exists()
    again = module.enforce(str(path), marker_dir=str(markers))
    assert not again["changed"] and again["restarted"] is None and again["diff"] == ""
    assert state.recorder.calls == [("compute", "packages", None)]


def test_enforce_keeps_a_failed_restart_owed_and_pays_it_next_time(state, module, tmp_path):
    path = juju_conf(tmp_path)
    markers = tmp_path / "markers"
    state.recorder.fail = True
    first = module.enforce(str(path), marker_dir=str(markers))
    assert first["changed"] and first["restarted"] is None and "did not restart" in first["restart_error"]
    assert (markers / "nova-console-compute").read_text() == f"{path}\n"
    state.recorder.fail = False
    second = module.enforce(str(path), marker_dir=str(markers))
    assert not second["changed"] and second["restarted"] == "service nova-compute"
    assert not (markers / "nova-console-compute").exists() and len(state.recorder.calls) == 2


def test_enforce_without_restart_only_patches(state, module, tmp_path):
    path = juju_conf(tmp_path)
    done = module.enforce(str(path), restart=False, marker_dir=str(tmp_path / "markers"))
    assert done["changed"] and done["restarted"] is None and state.recorder.calls == []
    assert not (tmp_path / "markers").exists()


# --------------------------------------------------------------------------- secrets

SECRETS = DATA / "juju-secrets-nova-compute.conf"


def secrets_conf(tmp_path, text=None):
    path = tmp_path / "nova.conf"
    path.write_text(SECRETS.read_text() if text is None else text)
    return path


def test_diff_and_findings_mask_every_secret_and_keep_the_change(module, tmp_path):
    path = secrets_conf(tmp_path)
    result = module.patch(str(path))
    assert result["changed"] and "S3cret" in path.read_text()  # the file itself keeps them
    shown = repr(result)
    assert "S3cret" not in shown
    diff = result["diff"]
    # The change is still readable, and the context around it says which options were masked.
    assert "+server_listen = 10.10.0.11" in diff and "-vncserver_listen = 0.0.0.0" in diff
    assert " rabbit_password=****" in diff
    assert " transport_url=rabbit://nova:****@10.10.0.20:5672,nova:****@10.10.0.21:5672/openstack" in diff


def test_state_returns_mask_every_secret(state, tmp_path):
    path = secrets_conf(tmp_path)
    state.__opts__["test"] = True
    shown = repr(run(state, str(path)))
    state.__opts__["test"] = False
    shown += repr(run(state, str(path)))
    assert "rabbit_password=****" in shown and "S3cret" not in shown


def test_enforce_masks_every_secret(state, module, tmp_path):
    path = secrets_conf(tmp_path)
    done = module.enforce(str(path), marker_dir=str(tmp_path / "markers"))
    assert done["changed"] and done["diff"] and "S3cret" not in repr(done)


@pytest.mark.parametrize("broken", [
    "RabbitS3cretJuju\n",                   # a password on a line of its own: not an INI line
    "rabbit_password=x\n\n  ContinuedS3cret\n",  # an indented line after a blank one
])
def test_parse_errors_give_the_line_number_not_the_line(state, module, tmp_path, broken):
    text = SECRETS.read_text().replace("rabbit_password=RabbitS3cretJuju\n", broken)
    path = secrets_conf(tmp_path, text)
    with pytest.raises(nc.CommandExecutionError, match=r"line \d+: ") as info:
        module.patch(str(path))
    assert "S3cret" not in str(info.value)
    ret = run(state, str(path))
    assert ret["result"] is False and "S3cret" not in repr(ret) and path.read_text() == text


def test_mask_text_keeps_the_lines_and_masks_only_secrets():
    text = SECRETS.read_text()
    masked = nc.mask_text(text)
    assert len(nc.split_lines(masked)) == len(nc.split_lines(text)) and "S3cret" not in masked
    assert "#admin_token = ****" in masked and "memcache_secret_key = ****" in masked
    assert "connection=mysql+pymysql://nova:****@10.10.0.23/nova?charset=utf8" in masked
    assert "rabbit_host=10.10.0.20" in masked and "auth_url = http://10.10.0.21:35357" in masked
    assert nc.mask_text("[x]\nkeymap = en-us\nkeystone = yes\napi_key = k\n") == "[x]\nkeymap = en-us\nkeystone = yes\napi_key = ****\n"
    assert nc.mask_text("a = b\n  c\n") == "a = b\n  c\n"
    assert nc.mask_text("password = p\n  more\n") == "password = ****\n  ****\n"
