"""
Keep nova's VNC console configured in nova.conf, and restart nova only when that changed.

.. code-block:: yaml

    brine-nova-console:
      nova_console.configured:
        - name: /etc/nova/nova.conf

The work is done by the ``nova_console`` execution module; this state diffs, writes, restarts,
and reports. A restart that failed is retried by the next run (a marker file remembers it),
so a config change never stays unapplied because the first restart did not work.
"""

import os

import brinelib

brinelib.forget_if_changed()  # a library synced since it was imported replaces the old one
from brinelib.state_returns import failed, new_return, unchanged

__virtualname__ = "nova_console"


def __virtual__():
    if "nova_console.plan" not in __salt__:
        return (False, "the nova_console execution module is not available")
    return __virtualname__


def _instances_comment(role, libvirt_uri):
    if role != "compute":
        return None
    try:
        missing = __salt__["nova_console.instances_without_console"](libvirt_uri)
    except Exception as exc:  # pylint: disable=broad-except
        return f"Could not list libvirt instances: {exc}"
    if missing is None:
        return None  # no virsh on this host: nothing to report
    if not missing:
        return "Every libvirt instance here has a VNC console."
    names = ", ".join(f"{m['instance'] or m['domain']} ({m['uuid']})" for m in missing)
    return (
        f"{len(missing)} instance(s) were created without a VNC console and need a rebuild "
        f"(a restart does not add one): {names}"
    )


def configured(
    name="/etc/nova/nova.conf",
    role="compute",
    create=False,
    restart=True,
    service=None,
    marker_dir="/etc/brine/restart-pending",
    minion_id=None,
    libvirt_uri=None,
):
    """
    Ensure the VNC console options of this host (computed from the Brine inventory) are set in
    the nova.conf ``name``: missing options added, wrong values fixed, duplicates and
    older-name aliases removed; every other line kept as it is.

    name
        The nova.conf to patch (a symlink is followed). For Kolla, the generated
        ``/etc/kolla/nova-compute/nova.conf`` or an override file under ``/etc/kolla/config``.
    role
        ``compute`` (nova-compute's VNC server) or ``proxy`` (nova-novncproxy).
    create
        Create ``name`` when it does not exist (Kolla override files). Otherwise a missing file
        means nova is not installed here yet, and there is nothing to configure.
    restart
        Restart the service (or Kolla container) after a change.
    service
        The service (or Kolla container) to restart, when not the usual name.
    marker_dir
        Where a failed restart is remembered until a later run retries it.
    minion_id
        Configure for another inventory host (Kolla overrides written on the deployer).
    libvirt_uri
        Where to look for instances without a console (default ``qemu:///system``; only
        when virsh is installed).

    .. code-block:: yaml

        brine-nova-console:
          nova_console.configured:
            - name: /etc/nova/nova.conf
            - service: nova-compute

    CLI Example:

    .. code-block:: bash

        salt-call state.apply compute.console test=True
    """
    ret = new_return(name)
    try:
        plan = __salt__["nova_console.plan"](name, role=role, create=create, minion_id=minion_id)
    except Exception as exc:  # pylint: disable=broad-except
        return failed(ret, str(exc))
    deployment = plan["settings"]["deployment"]
    pending = restart and os.path.exists(__salt__["nova_console.restart_marker"](marker_dir, role))
    notes = []

    if not plan["exists"] and not create:
        return unchanged(ret, f"{name} does not exist: nova is not installed here yet, nothing to configure.")

    if not plan["findings"] and not pending:
        notes.append(f"The VNC console is configured in {name}.")
    elif __opts__["test"]:
        ret["result"] = None
        if plan["findings"]:
            ret["changes"]["diff"] = plan["diff"]
            notes.append(f"{name} would be patched: " + "; ".join(f["message"] for f in plan["findings"]))
        if restart:
            what = service or ("nova-compute" if role == "compute" else "nova-novncproxy")
            ret["changes"]["restart"] = f"would restart {what} ({deployment})"
    else:
        try:
            done = __salt__["nova_console.enforce"](name, role=role, create=create, restart=restart, service=service,
                                                    marker_dir=marker_dir, minion_id=minion_id)
        except Exception as exc:  # pylint: disable=broad-except
            return failed(ret, str(exc))
        if done["changed"]:
            ret["changes"]["diff"] = done["diff"]
            ret["changes"]["backup"] = done["backup"]
            notes.append(f"Patched {name}: " + "; ".join(f["message"] for f in done["findings"]))
        if done["restart_error"]:
            ret["result"] = False
            ret["changes"]["restart"] = f"failed: {done['restart_error']}"
            notes.append(f"The restart failed ({done['restart_error']}); the next run retries it.")
        elif done["restarted"]:
            ret["changes"]["restart"] = done["restarted"]
            notes.append(f"Restarted {done['restarted']}.")

    instances = _instances_comment(role, libvirt_uri) if restart else None
    if instances:
        notes.append(instances)
    ret["comment"] = "\n".join(notes)
    return ret
