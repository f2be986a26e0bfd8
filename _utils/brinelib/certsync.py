"""
The ACME certificate on every controller (docs/acme.md, "One runner, then every controller"):
the runner's deploy hook pushes the combined PEM it installed to the master (``cp.push``) and
sends a signed ``brine/cert/renewed``; the master hands that PEM through each other controller's
own pillar, and ``haproxy.cert_sync`` there installs it through the hook's checks. Pure: who
gets the certificate, where the master keeps the pushed file, what the event says, and whether
a controller must install; on the master, :func:`pillar` reads the pushed file and
:func:`protect_pushed` closes it to other users. Nothing here returns or raises key material
but :func:`pillar`.
"""

import os

from brinelib import acme, certs, names
from brinelib.errors import InventoryProblem
from brinelib.events import MINION_ID

RENEWED_TAG = "brine/cert/renewed"
SYNC_STATE = "haproxy.cert_sync"
PILLAR_KEY = "brine_cert"


def resolved(inventory):
    """The resolved ``acme`` settings (:func:`brinelib.acme.resolve`), or None when the inventory
    has no ACME certificate to distribute (disabled, no controller, an invalid setting)."""
    try:
        return acme.resolve(inventory or {})
    except (InventoryProblem, TypeError, AttributeError):  # a malformed inventory: brine.validate names it
        return None


def recipients(inventory):
    """The controllers that get the runner's certificate: every controller but the runner, in
    inventory order; none without an ACME certificate."""
    settings = resolved(inventory)
    if settings is None:
        return []
    return [mid for mid in names.controllers(inventory) if mid != settings["runner"]]


def pushed_path(cachedir, runner, crt):
    """Where the master keeps the ``crt`` file ``runner`` pushed (``cp.push``): Salt's
    ``<cachedir>/minions/<runner>/files/<crt without its leading slash>``. Raises ValueError
    for a runner that is not a minion id or a ``crt`` with ``.`` or ``..`` components (the
    checked settings never hold one; this keeps the read inside the runner's directory)."""
    if not isinstance(runner, str) or not MINION_ID.match(runner) or runner in (".", ".."):
        raise ValueError(f"{runner!r} is not a minion id")
    parts = crt.split("/") if isinstance(crt, str) and crt.startswith("/") else None
    if not parts or any(part in (".", "..") for part in parts[1:]) or not parts[-1]:
        raise ValueError(f"{crt!r} is not a plain absolute file path")
    return os.path.join(cachedir, "minions", runner, "files", *[part for part in parts if part])


def _read(path):
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read()
    except (OSError, UnicodeDecodeError):
        return None


def pillar(inventory, minion, cachedir, read=_read):
    """
    The ``brine_cert`` pillar of ``minion``: ``{"brine_cert": {"pem": <the runner's pushed
    combined PEM>}}`` for a controller other than the runner once the runner pushed one; ``{}``
    for every other minion (the runner, compute, bootstrap, unknown), without ACME, or before
    the first push. Only the runner's directory of the master's cache is read.
    """
    if minion not in recipients(inventory):
        return {}
    settings = resolved(inventory)
    try:
        path = pushed_path(cachedir, settings["runner"], settings["crt"])
    except ValueError:
        return {}
    pem = read(path)
    return {PILLAR_KEY: {"pem": pem}} if pem else {}


def protect_pushed(inventory, cachedir):
    """Make the runner's pushed files on the master private: Salt's ``file_recv`` writes them
    with the master's umask (world-readable under a 0755 cachedir), and the combined PEM holds
    the key. The runner's ``files`` directory is made 0700 before its first push (every pillar
    compile calls this, the runner's own before its first certbot run), so no push is ever
    reachable by another user; the pushed file becomes 0600. Returns whether the file exists."""
    settings = resolved(inventory)
    try:
        path = pushed_path(cachedir, settings["runner"], settings["crt"]) if settings else None
    except ValueError:
        path = None
    if path is None:
        return False
    files = os.path.join(cachedir, "minions", settings["runner"], "files")
    os.makedirs(files, mode=0o700, exist_ok=True)
    os.chmod(files, 0o700)
    if not os.path.exists(path):
        return False
    os.chmod(path, 0o600)
    return True


def fingerprint_hex(info):
    """A :class:`~brinelib.certs.CertInfo`'s SHA-256 fingerprint as 64 lower-case hex digits."""
    return info.fingerprint.replace(":", "").lower()


def renewed_payload(combined, fqdn):
    """The ``brine/cert/renewed`` payload for an installed combined PEM: the FQDN, the leaf's
    serial (upper-case hex) and fingerprint; never the key."""
    leaf = certs.leaf_info(combined)
    return {"fqdn": fqdn, "serial": leaf.serial, "fingerprint": fingerprint_hex(leaf)}


def plan(wanted, current):
    """
    Whether a controller installs the combined PEM ``wanted`` (its pillar's) over ``current``
    (what its ``crt`` holds; None when absent or unreadable): ``{"install", "serial",
    "previous"}``, ``install`` when the serials differ, ``previous`` None when ``current`` has
    no readable certificate. Raises :class:`~brinelib.certs.CertProblem` when ``wanted`` has none.
    """
    serial = certs.leaf_info(wanted).serial
    try:
        previous = certs.leaf_info(current).serial if current else None
    except certs.CertProblem:
        previous = None
    return {"install": serial != previous, "serial": serial, "previous": previous}
