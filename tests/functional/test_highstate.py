"""salt-call --local against the checkout: every host renders, applies, and re-applies cleanly."""

from concurrent.futures import ThreadPoolExecutor

import pytest
from brine_testlib import SaltCall, example_inventory
from inventory_mistakes import MISTAKES, mutate

HOSTS = sorted(example_inventory()["hosts"])
EXPECTED_ROLES = {
    "bootstrap": {"bootstrap", "registry", "deployer", "network"},
    "ubuntu1": {"controller", "compute", "storage", "network"},
    "ubuntu2": {"controller", "compute", "storage", "network"},
    "ubuntu3": {"controller", "compute", "storage", "network"},
}


@pytest.mark.parametrize("host", HOSTS)
def test_every_host_renders_its_highstate(salt_call, host):
    out, proc = salt_call("state.show_highstate", minion_id=host)
    assert isinstance(out, dict), out  # render errors come back as a list of strings
    assert proc.returncode == 0, proc.stderr
    assert "brine-inventory-valid" in out
    assert out["brine-inventory-valid"]["brine_inventory"][0] == {"order": 1}
    roles = {sid.removeprefix("brine-role-") for sid in out if sid.startswith("brine-role-")}
    assert roles == EXPECTED_ROLES[host]


@pytest.mark.parametrize("host", HOSTS)
def test_test_mode_apply_succeeds_and_changes_nothing(salt_call, host):
    results = salt_call.in_sandbox(["/etc/brine"], [["state.apply", "test=True"]], minion_id=host)[0]
    assert results, "no state ran"
    assert all(r["result"] in (True, None) for r in results.values()), results
    assert salt_call.files_left_in("/etc/brine") == []


def test_second_apply_reports_zero_changes(salt_call):
    first, second = salt_call.in_sandbox(["/etc/brine"], [["state.apply"], ["state.apply"]], minion_id="ubuntu2")
    assert all(r["result"] is True for r in first.values()), first
    changed = {r["__id__"] for r in first.values() if r["changes"]}
    assert {"brine-host-facts", "brine-role-controller", "brine-role-storage"} <= changed
    assert all(r["result"] is True for r in second.values()), second
    assert [r["__id__"] for r in second.values() if r["changes"]] == []
    assert "/etc/brine/host.json" in salt_call.files_left_in("/etc/brine")


def apply_with_mistake(workdir, kind):
    """``state.apply`` as ubuntu1 in a sandbox with the example inventory broken as ``kind``
    says: (its results, the files it left in /etc/brine)."""
    salt_call = SaltCall(workdir)
    pillar_root = salt_call.pillar_root_with(mutate(example_inventory(), MISTAKES[kind][0]))
    (out,) = salt_call.in_sandbox(["/etc/brine"], [["state.apply"]], minion_id="ubuntu1", pillar_root=pillar_root)
    return out, salt_call.files_left_in("/etc/brine")


@pytest.fixture(scope="module")
def mistake_runs(request, tmp_path_factory):
    """The runs of every mistake this session selected, three at a time (each is its own
    salt-call process, sandbox and cache; one at a time they were minutes of the tier)."""
    kinds = sorted({item.callspec.params["kind"] for item in request.session.items
                    if getattr(item, "originalname", "") == "test_invalid_inventory_stops_the_run_before_any_change"})
    base = tmp_path_factory.mktemp("mistakes")
    with ThreadPoolExecutor(max_workers=3) as pool:
        runs = {kind: pool.submit(apply_with_mistake, base / f"run{index}", kind) for index, kind in enumerate(kinds)}
        return {kind: run.result() for kind, run in runs.items()}


@pytest.mark.parametrize("kind", sorted(MISTAKES))
def test_invalid_inventory_stops_the_run_before_any_change(mistake_runs, kind):
    _, path, words = MISTAKES[kind]
    out, files_left = mistake_runs[kind]
    assert list(out) == ["brine_inventory_|-brine-inventory-valid_|-brine-inventory-valid_|-valid"], out
    (check,) = out.values()
    assert check["result"] is False
    problems = [line.strip()[2:] for line in check["comment"].splitlines()[1:]]
    assert len(problems) == 1, check["comment"]
    assert problems[0].startswith(path + ": ") and words in problems[0]
    assert files_left == []


def test_validate_function_lists_errors_from_pillar(salt_call, inventory):
    break_it, path, _ = MISTAKES["duplicate MAC"]
    pillar_root = salt_call.pillar_root_with(mutate(inventory, break_it))
    out, _ = salt_call("brine_inventory.validate", pillar_root=pillar_root)
    assert out["valid"] is False
    assert [e.split(": ")[0] for e in out["errors"]] == [path]
