"""
The PXE boot files of the bootstrap host, as data: which file each reserved host gets (its
menu and its unattended install) and the one menu every other machine gets. The bootstrap host
itself is never installed, so it gets neither. Pure: the live state
(``_states/brine_bootstrap.py``) renders each file's template and writes the ones that differ.
"""

import os

MENU, HOST_MENU, PRESEED = "menu", "host_menu", "preseed"


def menu_name(mac):
    """pxelinux's per-machine menu file name: ``01-`` (Ethernet) and the MAC with dashes."""
    return "01-" + mac.lower().replace(":", "-")


def boot_files(root, reservations, bootstrap_host):
    """
    ``[(path, kind, host)]`` in a stable order: the default menu (host None), then for each
    reservation other than ``bootstrap_host`` its menu and its preseed.
    """
    files = [(os.path.join(root, "pxelinux.cfg", "default"), MENU, None)]
    for host in reservations:
        if host["host"] == bootstrap_host:
            continue
        files.append((os.path.join(root, "pxelinux.cfg", menu_name(host["mac"])), HOST_MENU, host))
        files.append((os.path.join(root, "preseed", host["hostname"] + ".cfg"), PRESEED, host))
    return files


def differing(wanted, current):
    """
    ``{path: "created" | "updated"}`` for each path whose ``wanted`` text differs from
    ``current`` (its text, or None when the file does not exist); nothing for equal files.
    """
    return {path: ("created" if current.get(path) is None else "updated")
            for path, text in wanted.items() if current.get(path) != text}
