"""
memcached on the controllers (Keystone's token cache): its configuration file, rendered by
``brinelib.memcached`` from the inventory's ``memcached:`` settings.
"""

import brinelib

brinelib.forget_if_changed()  # a library synced since it was imported replaces the old one
from brinelib import memcached

__virtualname__ = "brine_memcached"
__load__ = ["render_config"]


def __virtual__():
    return __virtualname__


def render_config(address, port=11211, memory_mb=64, max_connections=1024):
    """
    The text of /etc/memcached.conf: TCP on ``address`` only, no UDP, the memory size (MiB) and
    the connection limit.

    CLI Example:

    .. code-block:: bash

        salt-call brine_memcached.render_config 10.10.0.11 memory_mb=128
    """
    return memcached.render_config(address, port=port, memory_mb=memory_mb, max_connections=max_connections)
