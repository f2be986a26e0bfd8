"""
The dump of a host's resolved settings (template-formula's ``_mapdata``): salt/brine/mapdata.sls
resolves every feature's map and writes it through :func:`masked`, so no secret reaches the file.
The rule of what is a secret is Brine's one rule, ``brinelib.secrets``.
"""

import brinelib

brinelib.forget_if_changed()  # a library synced since it was imported replaces the old one
from brinelib.secrets import masked as _masked

__virtualname__ = "brine_mapdata"


def __virtual__():
    return __virtualname__


def masked(data):
    """
    ``data`` with the value of every key that names a secret (password, secret, token,
    credential, a key) replaced by ``****``, and the password of every URL masked.

    CLI Example:

    .. code-block:: bash

        salt-call brine_mapdata.masked '{"stats_password": "x", "stats_user": "brine"}'
    """
    return _masked(data)
