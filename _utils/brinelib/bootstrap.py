"""
The bootstrap host and its services' settings that are not DHCP (``brine:services``: PXE, NTP, DNS, proxy,
install) and the installed hosts' user (``brine:baseline:deploy``, the preseed's user): their
checks, and the plain data the bootstrap states render from, defaults filled in.

:func:`settings` combines them with a DHCP plan (``brinelib.dhcp.plan.plan``), which reports
:func:`services_problems` and :func:`deploy_problems` with its own, so one validation covers
everything the bootstrap host serves. ``_modules/brine_bootstrap.py`` is the Salt adapter.
"""

import ipaddress
import re

from brinelib import baseline, names

SERVICES = ("dhcp", "pxe", "ntp", "dns", "proxy", "install")
DEFAULT_NTP_UPSTREAMS = ("0.debian.pool.ntp.org", "1.debian.pool.ntp.org")
DEFAULT_PROXY_PORT = 3128
DEFAULT_MIRROR = "deb.debian.org"
DEFAULT_SUITE = "bookworm"

_BOOT_FILE = re.compile(r"^[A-Za-z0-9._/-]{1,128}$")
_SERIAL_CONSOLE = re.compile(r"^ttyS\d+,\d+(n8)?$")


def services(inventory):
    """``brine:services`` of ``inventory``, or an empty mapping when it has none (or no mapping)."""
    found = inventory.get("services") or {}
    return found if isinstance(found, dict) else {}


def bootstrap_host(inventory):
    """The minion id of the lab's bootstrap host (the first host with role ``bootstrap``)."""
    for minion_id, host in (inventory.get("hosts") or {}).items():
        if isinstance(host, dict) and "bootstrap" in (host.get("roles") or []):
            return str(minion_id)
    return None


def services_problems(services):
    """``[(pillar path, message)]`` for the bootstrap services' settings (PXE, NTP, DNS, proxy, install)."""
    problems = []
    for key in services:
        if key not in SERVICES:
            problems.append((f"brine:services:{key}", f"unknown key; expected one of {', '.join(SERVICES)}"))
    pxe = services.get("pxe") or {}
    for key in ("filename", "efi_filename"):
        value = pxe.get(key)
        if value is not None and (not isinstance(value, str) or not _BOOT_FILE.match(value)):
            problems.append((f"brine:services:pxe:{key}", f"{value!r} is not a boot file name (letters, digits, '._/-')"))
    console = pxe.get("serial_console")
    if console is not None and (not isinstance(console, str) or not _SERIAL_CONSOLE.match(console)):
        problems.append(("brine:services:pxe:serial_console", f"{console!r} is not a serial console like ttyS0,115200n8"))
    for idx, upstream in enumerate((services.get("ntp") or {}).get("upstreams", [])):
        if not isinstance(upstream, str) or not names.DNS_NAME.match(upstream):
            problems.append((f"brine:services:ntp:upstreams:{idx}", f"{upstream!r} is not a host name or address"))
    for idx, address in enumerate((services.get("dns") or {}).get("forwarders", [])):
        try:
            ipaddress.ip_address(str(address))
        except ValueError:
            problems.append((f"brine:services:dns:forwarders:{idx}", f"{address!r} is not an IP address"))
    port = (services.get("proxy") or {}).get("port", DEFAULT_PROXY_PORT)
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        problems.append(("brine:services:proxy:port", f"port {port!r} is out of range 1-65535"))
    return problems


def deploy_problems(inventory):
    """
    ``[(pillar path, message)]`` for the installed hosts' user (the preseed): the inventory's
    deployment user, ``brine:baseline:deploy`` (``brinelib.baseline.deploy_problems``), which
    the preseed needs.
    """
    problems = list(baseline.deploy_problems(inventory))
    spec = inventory.get("baseline")
    if not isinstance(spec, dict) or spec.get("deploy") is None:
        problems.append(("brine:baseline:deploy", "missing: the installed hosts need the deployment user and its SSH keys (no password login)"))
    return problems


def settings(inventory, plan):
    """
    Everything the bootstrap services render from, as plain data: the DHCP network of ``plan``
    (``brinelib.dhcp.plan.plan`` of ``inventory``), the bootstrap host's address and interface,
    the hosts' reservations and the ``services`` settings with their defaults (NTP upstreams,
    DNS forwarders, proxy port, install user).
    """
    found = services(inventory)
    ntp = found.get("ntp") or {}
    dns = found.get("dns") or {}
    proxy = found.get("proxy") or {}
    install = found.get("install") or {}
    pxe = found.get("pxe") or {}
    host = baseline.baseline_settings(inventory)
    port = int(proxy.get("port", DEFAULT_PROXY_PORT))
    return {
        "server": plan["server"],
        "network": plan["network"],
        "cidr": str(plan["subnet"]),
        "interface": plan["interface"],
        "address": str(plan["bootstrap"]),
        "host": bootstrap_host(inventory),
        "domain": plan["domain"],
        "gateway": str(plan["gateway"]) if plan["gateway"] else None,
        "mtu": plan["mtu"],
        "reservations": [{**r, "ip": str(r["ip"])} for r in plan["reservations"]],
        "ntp": {"upstreams": list(ntp.get("upstreams", DEFAULT_NTP_UPSTREAMS))},
        "dns": {"forwarders": list(dns.get("forwarders", []))},
        "proxy": {"port": port, "url": f"http://{plan['bootstrap']}:{port}/"},
        "pxe": {
            "filename": plan["pxe"]["filename"],
            "efi_filename": plan["pxe"]["efi_filename"],
            "serial_console": pxe.get("serial_console"),
        },
        "timezone": host["timezone"],
        "install": {
            # The deployment user (brine:baseline:deploy), as the salt/baseline states manage it.
            "user": host["deploy"]["user"],
            "ssh_keys": list(host["deploy"]["ssh_keys"]),
            "nopasswd": host["deploy"]["sudo"]["nopasswd"],
            "mirror": install.get("mirror", DEFAULT_MIRROR),
            "suite": install.get("suite", DEFAULT_SUITE),
        },
    }
