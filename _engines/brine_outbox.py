"""
Brine's outbox engine: sends the events that processes outside Salt leave in a directory
(``brinelib.outbox``), signed with this minion's key, the moment they land (inotify).

.. code-block:: yaml

    engines:
      - brine_outbox:
          directory: /run/brine/outbox
          tags: [brine/vip/state]     # the only tags it sends; any other message is refused

keepalived's notify script is the writer (salt/keepalived): a VIP's state change reaches the
master in well under a second even on a controller too busy to start a ``salt-call``. The
engine makes the directory (mode 0700) and refuses to read one that another user owns or that
is a symlink. Each message is sent once, in the order written, then deleted; a message that is
refused (not JSON, an unknown tag, too long) is logged with its reason and deleted; when the
minion's event bus does not take a message, it stays and is tried again after a second.
Messages written while the minion is down are sent when it starts.
"""

import logging
import os
import stat

import brinelib

brinelib.forget_if_changed()  # a library synced since it was imported replaces the old one
from brinelib import outbox
from brinelib.inotify import Inotify
from brinelib.supervise import keep_running

log = logging.getLogger(__name__)

__virtualname__ = "brine_outbox"

RETRY_AFTER = 1.0  # seconds before a message the event bus did not take is tried again
SAFETY_LOOK = 60.0  # seconds between looks at the directory when inotify says nothing


def __virtual__():
    return __virtualname__


def prepare(directory):
    """Make ``directory`` (0700) or check the one there: a real directory owned by this user,
    writable by nobody else (a mode that lets others in is put right). OSError otherwise."""
    os.makedirs(directory, mode=0o700, exist_ok=True)
    st = os.lstat(directory)
    if not stat.S_ISDIR(st.st_mode):
        raise OSError(f"{directory} is not a directory (a symlink?); the outbox is not read")
    if st.st_uid != os.geteuid():
        raise OSError(f"{directory} belongs to uid {st.st_uid}, not to this minion; the outbox is not read")
    if stat.S_IMODE(st.st_mode) & 0o077:
        os.chmod(directory, 0o700)


def _read(path):
    """The bytes of the message file ``path`` (at most one byte more than a message may
    have), None when it is gone; ValueError when it is not a regular file."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ValueError(f"not readable: {exc.strerror}") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ValueError("not a regular file")
        return os.read(fd, outbox.MAX_MESSAGE + 1)
    finally:
        os.close(fd)


def _remove(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError as exc:  # a directory of that name: someone else's doing, logged at each look
        log.error("brine_outbox: %s could not be deleted: %s", path, exc.strerror)


def publish(tag, data):
    """Send one event to the master through the minion, signed with this minion's key."""
    __salt__["brine_sign.send"](tag, data)


def drain(directory, tags, send=None):
    """Send the messages in ``directory``, oldest first, deleting each once sent (or refused).
    False when one was not taken (it and the ones after it stay for the next try)."""
    send = send or publish
    for name in outbox.messages(os.listdir(directory)):
        path = os.path.join(directory, name)
        try:
            raw = _read(path)
            if raw is None:
                continue
            tag, data = outbox.parse(raw, tags)
        except ValueError as exc:
            log.error("brine_outbox: %s refused and deleted: %s", path, exc)
            _remove(path)
            continue
        try:
            send(tag, data)
        except Exception:  # pylint: disable=broad-except
            log.exception("brine_outbox: %s not sent; trying again in %.0f s", path, RETRY_AFTER)
            return False
        log.info("brine_outbox: sent %s %.300s", tag, data)
        _remove(path)
    return True


def start(directory="/run/brine/outbox", tags=()):
    """
    Send the events left in ``directory`` whose tag is one of ``tags``.

    CLI Example (engines run from the minion configuration, not the command line):

    .. code-block:: bash

        salt-call config.get engines
    """
    tags = frozenset(t for t in (tags or ()) if isinstance(t, str))
    if not tags:
        log.warning("brine_outbox: no tags configured: every message in %s will be refused", directory)

    def run():
        prepare(directory)
        inotify = Inotify()
        try:
            inotify.add_watch(directory)
            log.info("brine_outbox: sending %s from %s", sorted(tags), directory)
            wait = 0.0
            while True:
                inotify.read(wait)
                wait = SAFETY_LOOK if drain(directory, tags) else RETRY_AFTER
        finally:
            inotify.close()

    keep_running(run, "brine_outbox")
