"""
State ``kolla_disks.labeled``: a Kolla disk of this host carries its planned GPT partition
names. A thin wrapper over the ``kolla_disks`` execution module, which plans, decides and
writes; this state only reports: ``test=True`` shows exactly what would be written (or why
the disk is refused), ``changes`` the partition names before and after.
"""

import brinelib

brinelib.forget_if_changed()  # a library synced since it was imported replaces the old one
from brinelib.errors import CommandExecutionError
from brinelib.state_returns import changed, failed, new_return, unchanged, would_change

__virtualname__ = "kolla_disks"

ABSENT_POLICIES = ("fail", "warn")


def __virtual__():
    if "kolla_disks.label" not in __salt__:
        return (False, "the kolla_disks execution module is not available (sgdisk, sfdisk or wipefs missing?)")
    return __virtualname__


def labeled(name, absent="fail", disks=None):
    """
    Disk ``name`` of this host's inventory (``brine:hosts:<id>:disks:<name>``) carries the Kolla
    partition names the inventory plans for it.

    A disk already carrying them, or already made an OSD by Kolla, is left alone; a blank disk
    is labelled; a disk carrying anything else is refused (the state fails, the disk is not
    touched) unless its inventory entry says ``wipe: yes-i-really-really-mean-it``; a disk in
    use or holding ``/`` is always refused.

    name
        The disk's name in the inventory.

    absent
        What a disk that is not attached means: ``fail`` (the default) or ``warn`` (succeed
        with a warning, nothing touched).

    disks
        A disks mapping to use instead of this minion's inventory entry.

    CLI Example:

    .. code-block:: yaml

        kolla-disk-osd1:
          kolla_disks.labeled:
            - name: osd1
    """
    ret = new_return(name)
    if absent not in ABSENT_POLICIES:
        return failed(ret, f"absent must be one of {', '.join(ABSENT_POLICIES)}, got {absent!r}")
    try:
        report = __salt__["kolla_disks.check"](name=name, disks=disks)[name]
    except CommandExecutionError as exc:
        return failed(ret, str(exc))
    action, device, labels = report["action"], report["device"], report["labels"]
    where = f"{name} ({device})" if device else name
    if action == "unchanged":
        return unchanged(ret, f"{where} already carries {', '.join(labels)}")
    if action == "bootstrapped":
        return unchanged(ret, f"{where}: {report['reasons'][0]}; left alone")
    if action == "absent":
        message = f"{where} is not attached: {report['reasons'][0]}"
        if absent == "warn":
            ret["warnings"] = [message]
            return unchanged(ret, message + "; nothing to label")
        return failed(ret, message)
    if action == "refuse":
        return failed(ret, f"Refusing to touch {where}: {report['reasons'][0]}")

    planned = {
        "device": device,
        "action": action,
        "partitions": {"old": report["before"], "new": labels},
    }
    if action == "wipe-and-create":
        planned["wiped"] = report["reasons"]
    added = ", ".join(report["add"])
    verb, done_verb = {
        "create": ("label", "Labelled"),
        "append": (f"add {added} to", f"Added {added} to"),
        "wipe-and-create": ("WIPE and label", "Wiped and labelled"),
    }[action]
    if __opts__["test"]:
        return would_change(ret, planned, f"Would {verb} {where}: {', '.join(labels)}")
    try:
        done = __salt__["kolla_disks.label"](name=name, disks=disks)[name]
    except CommandExecutionError as exc:
        return failed(ret, str(exc))
    if not done["result"]:
        return failed(ret, f"Could not label {where}: {'; '.join(done['reasons'])}")
    planned["partitions"]["new"] = done.get("after", labels)
    return changed(ret, planned, f"{done_verb} {where}: {', '.join(planned['partitions']['new'])}")
