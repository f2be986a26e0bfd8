"""
Real links for the link watcher tests: veth pairs whose watched end lives in one network
namespace and whose peer lives in another, so taking the peer down is a real carrier loss on
the watched end, and the host's own interfaces are never touched.
"""

import os
import subprocess
import time


def ip(*args):
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True, timeout=30)


class VethLab:
    """Two namespaces, ``<name>-w`` (watched) and ``<name>-p`` (peers). Use as a context manager."""

    def __init__(self, name):
        self.watch_ns = f"{name}-{os.getpid()}-w"
        self.peer_ns = f"{name}-{os.getpid()}-p"
        self.pairs = {}

    def __enter__(self):
        ip("netns", "add", self.watch_ns)
        ip("netns", "add", self.peer_ns)
        return self

    def __exit__(self, *exc):
        for ns in (self.watch_ns, self.peer_ns):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=30)

    def add_pair(self, watched, peer):
        """
        A veth pair, both ends up. The two ends get different ifindexes on purpose: the kernel
        treats a carrier change as urgent only when a device's ifindex differs from its link's
        (veth peers in fresh namespaces would otherwise both be index 2), and defers the
        others up to 1 s (linkwatch), which is not what a bonded NIC sees.
        """
        number = len(self.pairs)
        ip("link", "add", watched, "netns", self.watch_ns, "index", str(100 + 2 * number), "type", "veth",
           "peer", "name", peer, "netns", self.peer_ns, "index", str(101 + 2 * number))
        ip("-n", self.watch_ns, "link", "set", watched, "up")
        ip("-n", self.peer_ns, "link", "set", peer, "up")
        self.pairs[peer] = watched
        # Carrier and operstate follow asynchronously (the kernel's linkwatch work).
        self.wait_carrier(peer, up=True)
        return watched

    def cut(self, peer):
        """Pull the cable: the watched end loses its carrier. Returns the time just before."""
        start = time.time()
        ip("-n", self.peer_ns, "link", "set", peer, "down")
        return start

    def mend(self, peer):
        """Plug the cable back in. Returns the time just before."""
        start = time.time()
        ip("-n", self.peer_ns, "link", "set", peer, "up")
        return start

    def wait_carrier(self, peer, up, timeout=10):
        """Wait until the watched end of ``peer`` has (or has lost) its carrier and is UP (DOWN)."""
        base = f"/sys/class/net/{self.pairs[peer]}"
        want = "1 up" if up else "0 down"
        deadline = time.time() + timeout
        while time.time() < deadline:
            out = subprocess.run(["ip", "netns", "exec", self.watch_ns, "sh", "-c",
                                  f"echo $(cat {base}/carrier 2>/dev/null || echo 0) $(cat {base}/operstate)"],
                                 capture_output=True, text=True).stdout.strip()
            if out == want:
                return
            time.sleep(0.05)
        raise AssertionError(f"{self.pairs[peer]} carrier never became {'up' if up else 'down'}")
