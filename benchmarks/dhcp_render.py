"""
Render and validate DHCP reservations for a 10,000-host inventory, then check the result with
the real daemons (dhcpd -t; kea-dhcp4 -t and dnsmasq --test for comparison), and print the
times. Target: validate + render + dhcpd -t under 2 s.

    .venv/bin/python benchmarks/dhcp_render.py [HOSTS]

Measured on a 2-core machine shared with other work, 10,000 hosts:

    validate (plan):             0.503 s
    isc-dhcp  render   0.117 s  check   0.323 s  (1.2 MB, ok)
    kea       render   0.351 s  check   1.258 s  (1.5 MB, ok)
    dnsmasq   render   0.104 s  check   1.159 s  (0.5 MB, ok)
    validate + render + dhcpd -t: 0.943 s (target < 2 s)
"""

import ipaddress
import os
import subprocess
import sys
import tempfile
import time

import import_path  # noqa: F401  (first: the checkout's import path)

from brinelib.dhcp import SERVERS
from brinelib.dhcp.plan import plan
from brinelib.dhcp.render import CHECKERS, RENDERERS


def inventory(count):
    net = ipaddress.ip_network("10.0.0.0/16")
    hosts = {"bootstrap": {"roles": ["bootstrap"], "nics": {"eth0": {"mac": "52:54:00:00:00:05"}},
                           "networks": {"management": {"address": "10.0.0.5", "nic": "eth0"}}}}
    for idx in range(count):
        hosts[f"node{idx:05d}"] = {
            "roles": ["compute"],
            "nics": {"eth2": {"mac": "52:54:01:%02x:%02x:%02x" % (idx >> 16 & 255, idx >> 8 & 255, idx & 255)}},
            "networks": {"management": {"address": str(net.network_address + 256 + idx), "nic": "eth2"}},
        }
    return {
        "domain": "lab.home.arpa",
        "networks": {"management": {"cidr": str(net), "mtu": 9000, "gateway": "10.0.0.1",
                                    "dhcp_range": ["10.0.250.1", "10.0.254.254"]}},
        "hosts": hosts,
        "services": {"dhcp": {"interface": "lo"}},
        "baseline": {"deploy": {"ssh_keys": ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBZgUM0p4h2TFkRC+XUT6uiPnG19UQYGAD7yT/u4o7O0 bench"]}},
    }


def timed(fn):
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


def main():
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 10000
    inv = inventory(count)
    p, t_plan = timed(lambda: plan(inv))
    print(f"hosts: {len(p['reservations'])}")
    print(f"validate (plan):           {t_plan:7.3f} s")
    total = {}
    with tempfile.TemporaryDirectory() as tmp:
        for server in SERVERS:
            text, t_render = timed(lambda: RENDERERS[server](p))
            path = os.path.join(tmp, f"{server}.conf")
            with open(path, "w") as fh:
                fh.write(text)
            proc, t_check = timed(lambda: subprocess.run(CHECKERS[server][1](path), capture_output=True, text=True))
            verdict = "ok" if proc.returncode == 0 else f"REFUSED: {(proc.stdout + proc.stderr).strip()[-300:]}"
            total[server] = t_plan + t_render + t_check
            print(f"{server:9s} render {t_render:7.3f} s  check {t_check:7.3f} s  ({len(text) / 1e6:.1f} MB, {verdict})")
    print(f"validate + render + dhcpd -t: {total['isc-dhcp']:.3f} s (target < 2 s)")


if __name__ == "__main__":
    main()
