"""
The running host name (the kernel's), set without hostnamectl: salt/baseline writes
/etc/hostname for the next boot with file.managed, and this state makes the running system
agree, only when it differs. Works where systemd-hostnamed is not reachable (a UML guest early
in boot, a container), through the sethostname(2) system call.
"""

import socket

import brinelib

brinelib.forget_if_changed()  # a library synced since it was imported replaces the old one
from brinelib.state_returns import changed, failed, new_return, unchanged, would_change

__virtualname__ = "brine_baseline"


def __virtual__():
    if not hasattr(socket, "sethostname"):
        return (False, "brine_baseline.hostname needs socket.sethostname (Linux, Python 3.3+)")
    return __virtualname__


def hostname(name):
    """
    The running host name is ``name`` (a checked short host name from the inventory).

    test=True reports what would change (result None) and changes nothing.

    CLI Example:

    .. code-block:: yaml

        brine-baseline-hostname:
          brine_baseline.hostname:
            - name: ubuntu1
    """
    ret = new_return(name)
    current = socket.gethostname()
    if current == name:
        return unchanged(ret, f"The running host name is already {name}")
    changes = {"hostname": {"old": current, "new": name}}
    if __opts__["test"]:
        return would_change(ret, changes, f"The running host name would be set to {name} (now {current})")
    try:
        socket.sethostname(name)
    except OSError as exc:
        return failed(ret, f"Cannot set the running host name to {name}: {exc}")
    return changed(ret, changes, f"The running host name is now {name} (was {current})")
