"""
The three DHCP servers' configuration text for a plan (``brinelib.dhcp.plan.plan``): ISC
dhcpd, Kea and dnsmasq, and the command line of each daemon's own configuration check.
"""

import json

from brinelib.dhcp.logs import DEFAULT_LOGS
from brinelib.dhcp.plan import plan

HEADER = "Managed by Salt (Brine): rendered from the lab inventory; local edits are overwritten."

# What each server needs to check a candidate configuration; the argument is the file's path.
CHECKERS = {
    "isc-dhcp": ("dhcpd", lambda path: ["dhcpd", "-4", "-t", "-q", "-cf", path]),
    "kea": ("kea-dhcp4", lambda path: ["kea-dhcp4", "-t", path]),
    "dnsmasq": ("dnsmasq", lambda path: ["dnsmasq", "--test", f"--conf-file={path}"]),
}


def _csv(addresses):
    return ", ".join(str(a) for a in addresses)


def render_isc(p):
    """ISC dhcpd.conf for a :func:`plan`: one subnet with its options, one host block per NIC."""
    s = p["subnet"]
    lines = [
        f"# {HEADER}",
        "authoritative;",
        "ddns-update-style none;",
        f"default-lease-time {p['lease_time']};",
        f"max-lease-time {p['lease_time']};",
        "log-facility daemon;",
        # RFC 4578 client architecture: UEFI firmware needs an EFI loader, BIOS gets pxelinux.
        "option pxe-client-arch code 93 = unsigned integer 16;",
        "",
        f"subnet {s.network_address} netmask {s.netmask} {{",
        f"  option subnet-mask {s.netmask};",
        f"  option broadcast-address {s.broadcast_address};",
    ]
    if p["gateway"]:
        lines.append(f"  option routers {p['gateway']};")
    lines.append(f'  option domain-name "{p["domain"]}";')
    if p["dns"]:
        lines.append(f"  option domain-name-servers {_csv(p['dns'])};")
    lines += [
        f"  option ntp-servers {_csv(p['ntp'])};",
        f"  option interface-mtu {p['mtu']};",
        f"  next-server {p['pxe']['next_server']};",
        "  if option pxe-client-arch = 7 or option pxe-client-arch = 9 {",
        f'    filename "{p["pxe"]["efi_filename"]}";',
        "  } else {",
        f'    filename "{p["pxe"]["filename"]}";',
        "  }",
    ]
    if p["range"]:
        lines.append(f"  range {p['range'][0]} {p['range'][1]};")
    lines += ["}", ""]
    for r in p["reservations"]:
        lines += [
            f"host {r['hostname']} {{",
            f"  hardware ethernet {r['mac']};",
            f"  fixed-address {r['ip']};",
            f'  option host-name "{r["hostname"]}";',
            "}",
        ]
    return "\n".join(lines) + "\n"


def render_kea(p, lease_file="/var/lib/kea/kea-leases4.csv", log_file=DEFAULT_LOGS["kea"]):
    """kea-dhcp4.conf (JSON text) for a :func:`plan`: one subnet4 with its reservations."""
    options = []
    if p["gateway"]:
        options.append({"name": "routers", "data": str(p["gateway"])})
    options.append({"name": "domain-name", "data": p["domain"]})
    if p["dns"]:
        options.append({"name": "domain-name-servers", "data": _csv(p["dns"])})
    options += [
        {"name": "ntp-servers", "data": _csv(p["ntp"])},
        {"name": "interface-mtu", "data": str(p["mtu"])},
    ]
    subnet = {
        "id": 1,
        "subnet": str(p["subnet"]),
        "next-server": str(p["pxe"]["next_server"]),
        "boot-file-name": p["pxe"]["filename"],
        "option-data": options,
        "pools": [{"pool": f"{p['range'][0]} - {p['range'][1]}"}] if p["range"] else [],
        "reservations": [
            {"hw-address": r["mac"], "ip-address": str(r["ip"]), "hostname": r["hostname"]}
            for r in p["reservations"]
        ],
    }
    config = {
        "Dhcp4": {
            "interfaces-config": {"interfaces": [p["interface"]] if p["interface"] else []},
            "lease-database": {"type": "memfile", "persist": True, "name": lease_file},
            "valid-lifetime": p["lease_time"],
            "authoritative": True,
            "reservations-out-of-pool": True,
            "client-classes": [
                {"name": "uefi", "test": "option[93].hex == 0x0007 or option[93].hex == 0x0009",
                 "boot-file-name": p["pxe"]["efi_filename"]},
            ],
            "subnet4": [subnet],
            "loggers": [{"name": "kea-dhcp4", "severity": "INFO", "output_options": [{"output": log_file}]}],
        }
    }
    return f"// {HEADER}\n" + json.dumps(config, indent=2) + "\n"


def render_dnsmasq(p, lease_file="/var/lib/misc/dnsmasq.leases", log_file=DEFAULT_LOGS["dnsmasq"]):
    """dnsmasq.conf for a :func:`plan`: DHCP only (port=0: Unbound answers DNS), dhcp-host lines."""
    s = p["subnet"]
    lines = [f"# {HEADER}", "port=0"]
    if p["interface"]:
        lines += [f"interface={p['interface']}", "bind-interfaces"]
    lines += [
        "dhcp-authoritative",
        f"dhcp-leasefile={lease_file}",
        "log-dhcp",
        f"log-facility={log_file}",
    ]
    if p["range"]:
        lines.append(f"dhcp-range={p['range'][0]},{p['range'][1]},{s.netmask},{p['lease_time']}")
    else:
        lines.append(f"dhcp-range={s.network_address},static,{s.netmask},{p['lease_time']}")
    if p["gateway"]:
        lines.append(f"dhcp-option=option:router,{p['gateway']}")
    if p["dns"]:
        lines.append(f"dhcp-option=option:dns-server,{','.join(str(a) for a in p['dns'])}")
    lines += [
        f"dhcp-option=option:domain-name,{p['domain']}",
        f"dhcp-option=option:ntp-server,{','.join(str(a) for a in p['ntp'])}",
        f"dhcp-option=option:mtu,{p['mtu']}",
        "dhcp-match=set:efi,option:client-arch,7",
        "dhcp-match=set:efi,option:client-arch,9",
        f"dhcp-boot=tag:efi,{p['pxe']['efi_filename']},,{p['pxe']['next_server']}",
        f"dhcp-boot=tag:!efi,{p['pxe']['filename']},,{p['pxe']['next_server']}",
    ]
    lines += [f"dhcp-host={r['mac']},{r['ip']},{r['hostname']}" for r in p["reservations"]]
    return "\n".join(lines) + "\n"


RENDERERS = {"isc-dhcp": render_isc, "kea": render_kea, "dnsmasq": render_dnsmasq}


def render_config(inventory, server=None, interface=None):
    """Validate ``inventory`` and return ``(server, config text)``; raises InventoryProblem."""
    p = plan(inventory, server=server, interface=interface)
    return p["server"], RENDERERS[p["server"]](p)

