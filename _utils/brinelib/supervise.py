"""Keeping a long-running watch alive: an engine's loop restarted with a growing delay."""

import logging
import time

log = logging.getLogger(__name__)

# When a watch fails it starts again after 1 s, doubling up to 60 s; back to 1 s once a watch
# ran for 60 s. Salt restarts an engine that exits at once (no delay), so an engine never
# exits on an error: it calls keep_running().
RESTART_DELAY = (1.0, 60.0)


def keep_running(run, name, clock=time.monotonic, sleep=time.sleep, delays=RESTART_DELAY):
    """Call ``run()`` again and again, after a growing delay when it failed (or ended) quickly.
    ``name`` is what the log calls it. Returns only when ``sleep`` raises (a test's way out)."""
    first, longest = delays
    delay = first
    while True:
        began = clock()
        try:
            run()
            log.warning("%s: the watch ended; starting it again in %.0f s", name, delay)
        except Exception:  # pylint: disable=broad-except
            log.exception("%s: the watch failed; starting it again in %.0f s", name, delay)
        if clock() - began >= longest:
            delay = first
        sleep(delay)
        delay = min(delay * 2, longest)
