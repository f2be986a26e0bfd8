"""
DHCP for the Brine lab, from the inventory to ISC dhcpd, Kea or dnsmasq and back from the
server's log to the MACs that asked but are not in the inventory.

- :mod:`brinelib.dhcp.plan`: what the server hands out, validated (the reservations).
- :mod:`brinelib.dhcp.render`: the three servers' configuration text and their own checkers.
- :mod:`brinelib.dhcp.logs`: the servers' log lines as records, the unknown MACs among them,
  and where the bootstrap host reads those lines.

Pure: data in, data out; ``_modules/dhcp_reservations.py`` is the Salt adapter.
"""

SERVERS = ("isc-dhcp", "kea", "dnsmasq")
DEFAULT_SERVER = "isc-dhcp"


def unknown_server(server):
    """The message for a DHCP server Brine does not render for."""
    return f"unknown DHCP server {server!r}; expected one of {', '.join(SERVERS)}"
