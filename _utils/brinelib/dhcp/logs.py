"""
The DHCP servers' messages: where they go (:data:`DEFAULT_LOGS`, the journal), where the
bootstrap host reads them (:func:`choose_log_source`), one record per DHCP message from dhcpd,
dnsmasq or Kea log text (:func:`parse_log`), and the MACs among them the inventory does not
know (:func:`unknown_macs`).
"""

import calendar
import datetime
import re

from brinelib.dhcp import SERVERS, unknown_server

# Where each server's messages end up when the bootstrap states configured it.
DEFAULT_LOGS = {
    "isc-dhcp": "/var/log/syslog",
    "kea": "/var/log/kea/kea-dhcp4.log",
    "dnsmasq": "/var/log/brine-dnsmasq.log",
}
# Servers whose messages go to the systemd journal when their log file does not exist (Debian
# 12 has no rsyslog by default), by syslog identifier (journalctl -t).
JOURNAL_IDENTIFIERS = {"isc-dhcp": "dhcpd"}
JOURNAL_PREFIX = "journal:"


def choose_log_source(server, configured_log=None, default_exists=False, has_journalctl=False):
    """
    Where the DHCP server's messages can be read as they come (``dhcp_reservations.log_source``
    asks the system): ``configured_log`` when the inventory sets ``services:dhcp:log``; else the
    server's default log (``DEFAULT_LOGS``) when ``default_exists``; else, for a server that
    logs to syslog (isc-dhcp) on a host with ``journalctl``, ``"journal:<identifier>"`` (the
    systemd journal, ``journalctl -t <identifier>``); else the default log, which the server
    creates (Kea, dnsmasq) or a syslog daemon installed later writes.
    """
    if server not in SERVERS:
        raise ValueError(unknown_server(server))
    if configured_log:
        return configured_log
    if not default_exists and has_journalctl and server in JOURNAL_IDENTIFIERS:
        return JOURNAL_PREFIX + JOURNAL_IDENTIFIERS[server]
    return DEFAULT_LOGS[server]


def detect_server(log_path):
    """None (each line recognised by its format) unless the path is a server's default log."""
    return next((server for server, path in DEFAULT_LOGS.items() if path == log_path and server != "isc-dhcp"), None)


_MONTHS = {name: idx for idx, name in enumerate(calendar.month_abbr) if name}
_SYSLOG_TIME = re.compile(r"^(?P<mon>[A-Z][a-z]{2}) +(?P<day>\d{1,2}) (?P<time>\d\d:\d\d:\d\d) +")
_ISO_TIME = re.compile(r"^(?P<iso>\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?) +")
_MAC_LOOSE = r"(?P<mac>[0-9a-fA-F]{1,2}(?::[0-9a-fA-F]{1,2}){5})"
_IPV4 = r"(?P<ip>\d{1,3}(?:\.\d{1,3}){3})"
_ISC = [
    re.compile(rf"\b(?P<type>DHCPDISCOVER) from {_MAC_LOOSE}(?: \([^)]*\))? via (?P<iface>\S+?)(?::|$| )"),
    re.compile(rf"\b(?P<type>DHCPREQUEST) for {_IPV4}(?: \([^)]*\))? from {_MAC_LOOSE}(?: \([^)]*\))? via (?P<iface>\S+?)(?::|$| )"),
    re.compile(rf"\b(?P<type>DHCPOFFER|DHCPACK|DHCPNAK) on {_IPV4} to {_MAC_LOOSE}(?: \([^)]*\))? via (?P<iface>\S+?)(?::|$| )"),
    re.compile(rf"\b(?P<type>DHCPDECLINE|DHCPRELEASE|DHCPINFORM) (?:of|from) {_IPV4} from {_MAC_LOOSE}(?: \([^)]*\))? via (?P<iface>\S+?)(?::|$| )"),
]
_DNSMASQ = re.compile(
    rf"dnsmasq-dhcp\[\d+\]: (?:\d+ )?(?P<type>DHCP[A-Z]+)\((?P<iface>[^)]+)\)(?: {_IPV4})? {_MAC_LOOSE}\b"
)
_KEA = re.compile(rf"\b(?P<type>DHCP4_[A-Z_]+) \[hwtype=1 {_MAC_LOOSE}\].*?(?:lease {_IPV4}|$)")


def _pad_mac(value):
    # dhcpd prints octets with %x, so 00:22:99:ec:00:00 appears as 0:22:99:ec:0:0.
    return ":".join(f"{int(octet, 16):02x}" for octet in value.split(":"))


def _line_time(line, tz):
    """(kind, value, rest): kind 'iso' with an aware datetime, 'syslog' with (mon, day, hh:mm:ss), or None."""
    m = _ISO_TIME.match(line)
    if m:
        text = m.group("iso").replace(",", ".").replace(" ", "T")
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        if re.search(r"[+-]\d{4}$", text):
            text = text[:-2] + ":" + text[-2:]
        when = datetime.datetime.fromisoformat(text)
        if when.tzinfo is None:
            when = when.replace(tzinfo=tz)
        return "iso", when
    m = _SYSLOG_TIME.match(line)
    if m:
        return "syslog", (_MONTHS[m.group("mon")], int(m.group("day")), m.group("time"))
    return None, None


def _detect(line):
    if "dnsmasq-dhcp" in line:
        return "dnsmasq"
    if "[hwtype=1 " in line:
        return "kea"
    if "DHCP" in line:
        return "isc-dhcp"
    return None


def parse_log(text, server=None, now=None, tz=None):
    """
    Parse DHCP server log text into one record per DHCP message, in log order::

        {"time": "2026-11-21T23:55:01+00:00" or None, "server": "isc-dhcp", "type": "DHCPDISCOVER",
         "mac": "52:54:00:aa:bb:cc", "ip": "10.10.0.200" or None, "interface": "eth0" or None}

    server
        ``isc-dhcp``, ``kea`` or ``dnsmasq``; None recognises each line by its format.

    Lines may start with an ISO-8601 time (journalctl -o short-iso, rsyslog's default), a
    classic syslog time without a year, or nothing (``dhcpd -d``: time None). A syslog year is
    inferred: the last dated line is in ``now``'s year unless that would put it in the future,
    and each turn of the year going backwards (a month earlier than the one before it, e.g.
    ``Dec`` before ``Jan``) moves earlier lines back one year. ``tz`` is the zone of undated
    offsets (default: this machine's).
    """
    if server is not None and server not in SERVERS:
        raise ValueError(unknown_server(server))
    now = now or datetime.datetime.now(datetime.timezone.utc)
    tz = tz or datetime.datetime.now().astimezone().tzinfo
    records, stamps = [], []
    for line in str(text).splitlines():
        kind = server or _detect(line)
        if kind is None:
            continue
        if kind == "isc-dhcp":
            m = next((m for m in (rx.search(line) for rx in _ISC) if m), None)
        elif kind == "dnsmasq":
            m = _DNSMASQ.search(line)
        else:
            m = _KEA.search(line)
        if not m:
            continue
        groups = m.groupdict()
        records.append({
            "time": None,
            "server": kind,
            "type": groups["type"],
            "mac": _pad_mac(groups["mac"]),
            "ip": groups.get("ip"),
            "interface": groups.get("iface"),
        })
        stamps.append(_line_time(line, tz))
    # Syslog times have no year: walk backwards from the newest line.
    year, later_month = None, None
    for record, (kind, value) in zip(reversed(records), reversed(stamps)):
        if kind == "iso":
            record["time"] = value.isoformat()
            year, later_month = value.year, value.month
        elif kind == "syslog":
            month, day, hms = value
            if year is None:
                year = now.astimezone(tz).year
                if _syslog_dt(year, month, day, hms, tz) > now + datetime.timedelta(days=1):
                    year -= 1
            elif later_month is not None and month > later_month:
                year -= 1
            later_month = month
            record["time"] = _syslog_dt(year, month, day, hms, tz).isoformat()
    return records


def _syslog_dt(year, month, day, hms, tz):
    hour, minute, second = (int(x) for x in hms.split(":"))
    if month == 2 and day == 29 and not calendar.isleap(year):
        day = 28  # a Feb 29 line from a leap year read back in a later year
    return datetime.datetime(year, month, day, hour, minute, second, tzinfo=tz)


def unknown_macs(records, known_macs, default_time=None):
    """
    Fold :func:`parse_log` records into the MACs that asked and are not in ``known_macs``:
    ``[{"mac", "first_seen", "last_seen", "count", "ip", "interface"}]`` sorted by first_seen.
    ``count`` is the number of messages from or to the MAC, ``ip`` the last address offered or
    acknowledged, ``default_time`` stands in for undated records.
    """
    seen = {}
    for record in records:
        mac = record["mac"]
        if mac in known_macs:
            continue
        when = record["time"] or default_time
        entry = seen.setdefault(mac, {"mac": mac, "first_seen": when, "last_seen": when, "count": 0, "ip": None, "interface": None})
        entry["count"] += 1
        if when is not None:
            if entry["first_seen"] is None or _ts(when) < _ts(entry["first_seen"]):
                entry["first_seen"] = when
            if entry["last_seen"] is None or _ts(when) >= _ts(entry["last_seen"]):
                entry["last_seen"] = when
        if record["ip"] and record["type"] in ("DHCPOFFER", "DHCPACK", "DHCP4_LEASE_ALLOC", "DHCP4_LEASE_ADVERT"):
            entry["ip"] = record["ip"]
        if record["interface"]:
            entry["interface"] = record["interface"]
    return sorted(seen.values(), key=lambda e: (_ts(e["first_seen"]) if e["first_seen"] else 0.0, e["mac"]))


def _ts(iso):
    return datetime.datetime.fromisoformat(iso).timestamp()

