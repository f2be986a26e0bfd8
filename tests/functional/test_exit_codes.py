"""Scripts can trust salt-call's exit status: a refusal or an invalid inventory exits non-zero."""

from inventory_mistakes import MISTAKES, mutate


def test_validate_exits_0_for_the_example_lab(salt_call):
    out, proc = salt_call("brine_inventory.validate")
    assert out == {"valid": True, "errors": []}
    assert proc.returncode == 0, proc.stderr


def test_validate_exits_1_for_an_invalid_inventory(salt_call, inventory):
    break_it, path, _ = MISTAKES["duplicate MAC"]
    out, proc = salt_call("brine_inventory.validate", pillar_root=salt_call.pillar_root_with(mutate(inventory, break_it)))
    assert out["valid"] is False and out["errors"][0].startswith(path)
    assert proc.returncode == 1, proc.stderr


def test_label_exits_1_when_it_refuses_a_disk(salt_call):
    # ubuntu1's disks are not attached to this machine: every one is refused ("absent").
    out, proc = salt_call("kolla_disks.label", "test=True", minion_id="ubuntu1")
    assert out and all(r["result"] is False for r in out.values()), out
    assert proc.returncode == 1, proc.stderr


def test_label_exits_0_when_nothing_is_refused(salt_call):
    out, proc = salt_call("kolla_disks.label", "test=True", minion_id="bootstrap")
    assert out == {}
    assert proc.returncode == 0, proc.stderr
