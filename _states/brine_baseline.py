"""
The running host name (the kernel's), set without hostnamectl: salt/baseline writes
/etc/hostname for the next boot with file.managed, and this state makes the running system
agree, only when it differs. Works where systemd-hostnamed is not reachable (a UML guest early
in boot, a container), through the sethostname(2) system call.
"""

import socket

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
    ret = {"name": name, "changes": {}, "result": True, "comment": ""}
    current = socket.gethostname()
    if current == name:
        ret["comment"] = f"The running host name is already {name}"
        return ret
    changes = {"hostname": {"old": current, "new": name}}
    if __opts__["test"]:
        ret.update(result=None, changes=changes, comment=f"The running host name would be set to {name} (now {current})")
        return ret
    try:
        socket.sethostname(name)
    except OSError as exc:
        ret.update(result=False, comment=f"Cannot set the running host name to {name}: {exc}")
        return ret
    ret.update(changes=changes, comment=f"The running host name is now {name} (was {current})")
    return ret
