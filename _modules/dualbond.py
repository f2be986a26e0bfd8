"""
Dual active-backup bonds (docs/dualbond.md): the Salt execution module over
``brinelib.dualbond``, where the pure core (names, plan, loop guard, Linux and OVS diffs,
persistent files) and the live layer (reads, commands, the transaction with probe and rollback)
live. Here: this minion's plan from the inventory (``__grains__``, ``__salt__``), the
salt-master to probe (``__opts__``), and the functions Salt exposes.

Run as a script (``python dualbond.py --rollback-pending STATE_DIR``, PYTHONPATH the directory
that holds brinelib) it is the safety net's rollback, without Salt.
"""

import logging
import os
import shutil
import socket
import sys

import brinelib

brinelib.forget_if_changed()  # a library synced since it was imported replaces the old one
from brinelib.dualbond import live, transaction
from brinelib.dualbond import names as naming
from brinelib.dualbond.plan import build_plan, check_probe

# The Python API of the pure core, for the tests and the kernel tier's driver (``dualbond.X``).
# Salt exposes only the functions defined in this file, never imported ones.
from brinelib.dualbond.linux import diff_linux, observe_links, removal_linux, static_fdb  # noqa: F401
from brinelib.dualbond.loopguard import (  # noqa: F401
    OVS_GUARD_COOKIE,
    guard_commands,
    guard_present,
    ovs_guard_changes,
    ovs_guard_flows,
    ovs_guard_observed,
)
from brinelib.dualbond.names import vlan_name  # noqa: F401
from brinelib.dualbond.ovs import diff_ovs, observe_ovs, ovs_active_member, ovs_desired  # noqa: F401
from brinelib.dualbond.plan import managed_names  # noqa: F401
from brinelib.dualbond.render import (  # noqa: F401
    GUARD_UNIT,
    IFUPDOWN_FILE,
    SYSTEMD_DIR,
    guard_unit,
    ifupdown_files,
    networkd_files,
    persistent_files,
)
from brinelib.dualbond.transaction import probe_target, safety_net_argv  # noqa: F401
from brinelib.errors import CommandExecutionError, InventoryProblem

__virtualname__ = "dualbond"


def __virtual__():
    if not shutil.which("ip"):
        return (False, "dualbond needs the ip command (iproute2)")
    return __virtualname__


def fit_name(prefix, base, suffix=""):
    """
    ``prefix + base + suffix`` fitted to the kernel's 15 characters (a cut base and a hash).

    CLI Example:

    .. code-block:: bash

        salt-call dualbond.fit_name bond- enp3s0f0np0
    """
    return naming.fit_name(prefix, base, suffix)


def device_names(nics, bridges=None):
    """
    The names of one dual bond's devices, one leg per NIC: ``[{"nic", "bridge", "bond",
    "backup", "crossing"}, ...]``; ``bridges`` are optional operator-chosen bridge names.

    CLI Example:

    .. code-block:: bash

        salt-call dualbond.device_names '[eth2, eth3]'
    """
    return naming.device_names(nics, bridges)


def name_clashes(legs, vlans=(), host_nics=()):
    """
    Every device name two things of one host would share, as messages naming both owners.

    CLI Example:

    .. code-block:: bash

        salt-call dualbond.name_clashes '[{nic: eth2, bridge: eth3, bond: bond-eth2, backup: vbk-eth2, crossing: vx-eth2}]' host_nics='[eth3]'
    """
    return naming.name_clashes(legs, vlans, host_nics)


def _load_plan(host=None, networks=None, minion_id=None):
    if host is None:
        minion_id = minion_id or __grains__["id"]  # noqa: F821 - Salt loader dunder
        host = __salt__["brine_inventory.host"](minion_id)  # noqa: F821
        networks = __salt__["brine_inventory.get"]()["networks"]  # noqa: F821
    try:
        return build_plan(host, networks or {}, minion_id or "host")
    except InventoryProblem as exc:
        raise CommandExecutionError(str(exc)) from None


def _master_address():
    try:
        master = __opts__.get("master")  # noqa: F821
        if __opts__.get("file_client") == "local" or not master:  # noqa: F821
            return None
        return socket.gethostbyname(master if isinstance(master, str) else master[0])
    except (NameError, OSError):
        return None


def plan(host=None, networks=None, minion_id=None):
    """
    Return this minion's dual-bond plan (names of every device, memberships, options, addresses).
    Other modules call this to learn the names of bonds, bridges and crossings.

    CLI Example:

    .. code-block:: bash

        salt-call dualbond.plan
    """
    return _load_plan(host, networks, minion_id)


def ovs_version():
    """
    The installed Open vSwitch version as a tuple, or None without OVS.

    CLI Example:

    .. code-block:: bash

        salt-call dualbond.ovs_version
    """
    return live.ovs_version()


def nics_found(host=None, networks=None, minion_id=None):
    """
    Which of the plan's NICs this machine has (by name or MAC): ``{"all", "none", "found",
    "missing"}``. The network role uses it to tell "this is not the inventory's machine" (no
    NIC at all: nothing is touched) from "a NIC is missing" (the state fails and says which).

    CLI Example:

    .. code-block:: bash

        salt-call dualbond.nics_found
    """
    return live.nics_found(_load_plan(host, networks, minion_id))


def changes(host=None, networks=None, minion_id=None, the_plan=None):
    """
    The changes ``apply`` would make now, in order, each ``{"action", "name", "detail", "argv"}``,
    followed by the persistent files that would be written.

    CLI Example:

    .. code-block:: bash

        salt-call dualbond.changes
    """
    the_plan = the_plan or _load_plan(host, networks, minion_id)
    return live.changes(the_plan) + transaction.file_changes(the_plan)


def probe(target, deadline_seconds):
    """
    True as soon as ``target`` (``{"host", "port"}``, port None for ICMP echo) answers within
    ``deadline_seconds``.

    CLI Example:

    .. code-block:: bash

        salt-call dualbond.probe '{"host": "10.10.0.5", "port": 4506}' 10
    """
    return transaction.probe(target, deadline_seconds)


def apply(host=None, networks=None, minion_id=None, test=False, config_dirs=None, state_dir=None,
          probe_override=None, rollback=True):
    """
    Bring the dual bond to the plan and write its persistent files; with ``test=True`` only
    list what would change. A change that loses the probe (the plan's ``probe``, or
    ``probe_override``, else the salt-master) is rolled back to the previous configuration,
    live and on disk, within ``rollback_seconds``; ``rollback=False`` raises instead.

    Returns ``{"changes": [...], "rolled_back": bool, "comment": str}``.

    CLI Example:

    .. code-block:: bash

        salt-call dualbond.apply
        salt-call dualbond.apply test=True
    """
    the_plan = _load_plan(host, networks, minion_id)
    if probe_override is not None:
        the_plan["probe"] = check_probe(probe_override, "probe")
    return transaction.apply(the_plan, os.path.abspath(__file__), test=test, config_dirs=config_dirs,
                             state_dir=state_dir, rollback=rollback, find_master=_master_address)


def rollback_pending(state_dir=None):
    """
    Undo a dual-bond change whose apply never confirmed its probe (the minion died between the
    change and the end of the probe): the previous persistent files and live topology. The
    safety-net timer runs this by itself; a no-op when nothing is pending.

    CLI Example:

    .. code-block:: bash

        salt-call dualbond.rollback_pending
    """
    return transaction.rollback_pending(state_dir)


def remove(host=None, networks=None, minion_id=None, test=False, config_dirs=None, state_dir=None):
    """
    Remove the dual bond: the plan's devices (never the NICs, which are only released) and
    its persistent files.

    CLI Example:

    .. code-block:: bash

        salt-call dualbond.remove test=True
    """
    return transaction.remove(_load_plan(host, networks, minion_id), test=test, config_dirs=config_dirs,
                              state_dir=state_dir)


def loop_guard(host=None, networks=None, minion_id=None, the_plan=None):
    """
    Apply the double-failure protection now (idempotent; returns what it changed): tc filters
    on the Linux crossings, OpenFlow rules on the OVS patch ports (lost when ovs-vswitchd
    restarts, which the guard unit and the link reactor's call of this function undo).

    CLI Example:

    .. code-block:: bash

        salt-call dualbond.loop_guard
    """
    return live.loop_guard(the_plan or _load_plan(host, networks, minion_id))


def reselect_primary(bond=None, host=None, networks=None, minion_id=None, the_plan=None):
    """
    Make each bond's (or only ``bond``'s) own NIC its active member when that NIC has carrier.
    A no-op when it already is. Needed for OVS older than 2.14 (no ``bond-primary``) and as a
    reactor action.

    CLI Example:

    .. code-block:: bash

        salt-call dualbond.reselect_primary
        salt-call dualbond.reselect_primary bond=bond-eth2
    """
    return live.reselect_primary(the_plan or _load_plan(host, networks, minion_id), bond)


def status(host=None, networks=None, minion_id=None):
    """
    The live state of the dual bond: per bond its active member and per member carrier and link
    failure count; bridge ports, MTU, MAC and addresses of every managed interface.

    CLI Example:

    .. code-block:: bash

        salt-call dualbond.status
    """
    return live.status(_load_plan(host, networks, minion_id))


if __name__ == "__main__":
    # The safety net's timer: `python dualbond.py --rollback-pending STATE_DIR`, without Salt.
    if len(sys.argv) != 3 or sys.argv[1] != "--rollback-pending":
        sys.exit("usage: dualbond.py --rollback-pending STATE_DIR")
    logging.basicConfig(level=logging.INFO)
    print(transaction.rollback_pending(sys.argv[2]))
