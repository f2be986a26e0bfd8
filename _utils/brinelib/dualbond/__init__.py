"""
Dual active-backup bonds: two physical NICs, each the primary of its own active-backup bond and
the backup of the other one, through a veth pair (Linux) or a patch-port pair (Open vSwitch) that
crosses into the other NIC's bridge.

::

        br-eth2 (== eth2 for the operator)          br-eth3 (== eth3)
        |  .10 .100 VLANs, MAC of eth2               |  .200 VLAN, MAC of eth3
        +-- bond-eth2 ------------+                  +-- bond-eth3 ------------+
        |     eth2   (primary)    |                  |     eth3   (primary)    |
        |     vbk-eth2 (backup) ==|== veth ==> vx-eth2 is a port of br-eth3   |
        +-- vx-eth3 <== veth =====|==================|==== vbk-eth3 (backup)  |

The pure core (inventory entry in -> plan: devices, names, memberships, options, persistent file
text; live snapshot in -> list of changes), unit-tested without a kernel:

- :mod:`.names`: the devices' names, derived from the NIC names only;
- :mod:`.plan`: ``build_plan``, one host's whole dual bond, or ``brinelib.errors.InventoryProblem`` saying why not;
- :mod:`.loopguard`: the double-failure guard (tc on Linux, OpenFlow on OVS);
- :mod:`.linux` and :mod:`.ovs`: a live snapshot reduced, and the changes that reach the plan;
- :mod:`.render`: the persistent files (systemd-networkd, ifupdown, the guard unit).

The live layer, no Salt needed: :mod:`.live` reads the kernel (``ip -j``) and OVS
(``ovs-vsctl``) and runs argument-list commands; :mod:`.transaction` applies a plan with probe
and rollback (and the safety net's ``rollback_pending``). ``_modules/dualbond.py`` is the Salt
adapter. Only devices the plan names are ever touched; the physical NICs are only
enslaved/released and given their MTU.

Here: the change, the word every part of the package uses.
"""


def change(action, name, detail, argv):
    """One step towards the plan: ``argv`` is the command, ``detail`` what it does in words."""
    return {"action": action, "name": name, "detail": detail, "argv": argv}
