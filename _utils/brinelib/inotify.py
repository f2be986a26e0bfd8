"""inotify(7) through ctypes (no pyinotify on the minion): the watchers' way to learn at once
that a file landed in a directory."""

import ctypes
import ctypes.util
import errno
import os
import select
import struct

IN_MODIFY = 0x00000002
IN_CLOSE_WRITE = 0x00000008
IN_MOVED_FROM = 0x00000040
IN_MOVED_TO = 0x00000080
IN_CREATE = 0x00000100
IN_DELETE = 0x00000200
IN_DELETE_SELF = 0x00000400
IN_MOVE_SELF = 0x00000800
IN_Q_OVERFLOW = 0x00004000
IN_IGNORED = 0x00008000
IN_NONBLOCK = 0o4000
IN_CLOEXEC = 0o2000000

# Only completed writes: a file rewritten in place is empty between its truncation and the
# writer's close, and hashing it then would report a change that is not one (and make the
# reactor rewrite the file again, forever). A rename lands a finished file in one step.
DIRECTORY_MASK = IN_CLOSE_WRITE | IN_MOVED_TO
EVENT_HEADER = struct.Struct("iIII")  # wd, mask, cookie, len


def parse_inotify_events(buffer):
    """``[(wd, mask, name), ...]`` from the bytes one read() of an inotify descriptor returned."""
    events = []
    offset = 0
    while offset + EVENT_HEADER.size <= len(buffer):
        wd, mask, _cookie, length = EVENT_HEADER.unpack_from(buffer, offset)
        offset += EVENT_HEADER.size
        raw = buffer[offset : offset + length]
        offset += length
        events.append((wd, mask, raw.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")))
    return events


class Inotify:
    """The inotify(7) calls through ctypes: no pyinotify needed on the minion."""

    def __init__(self):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        self._add_watch = libc.inotify_add_watch
        self._add_watch.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
        self.fd = libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        if self.fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1 failed")

    def add_watch(self, directory, mask=DIRECTORY_MASK):
        wd = self._add_watch(self.fd, os.fsencode(directory), mask)
        if wd < 0:
            err = ctypes.get_errno()
            raise OSError(err, f"inotify_add_watch {directory}: {os.strerror(err)}")
        return wd

    def read(self, timeout):
        """The events that arrive within ``timeout`` seconds (an empty list when none do)."""
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return []
        return self.read_ready()

    def read_ready(self):
        """The events waiting now (the descriptor is non-blocking)."""
        try:
            return parse_inotify_events(os.read(self.fd, 1 << 16))
        except OSError as exc:
            if exc.errno == errno.EAGAIN:
                return []
            raise

    def close(self):
        os.close(self.fd)
