"""
The judge of the nova console tests: oslo.config and nova's own VNC option definitions.

- :func:`oslo_sections` parses a file with oslo.config's own ConfigParser (the one nova uses);
- :func:`nova_reads` loads nova.conf files with the option definitions of a release and says
  what nova reads: Debian's installed ``python3-nova`` for Zed, the option files of nova's
  release tags (``tests/data/nova/optdefs/``, origin in its README) for the others. It runs
  ``tests/nova_options/optloader.py`` with the system Python, whose oslo.config (and nova)
  come with python3-nova; the venv does not see them.
"""

import json
import re
import subprocess
from pathlib import Path

from oslo_config import cfg

import nova_console as nc

TESTS = Path(__file__).resolve().parent
OPTDEFS = TESTS / "data" / "nova" / "optdefs"
LOADER = TESTS / "nova_options" / "optloader.py"
SYSTEM_PYTHON = "/usr/bin/python3"
DEBIAN = "debian"  # Zed: nova.conf.vnc of Debian 12's python3-nova 26.2.2

# Every spelling a logical console option had in some release (the names Brine's settings use
# are the keys). Which one a release reads is for nova's definitions to say, not this table.
SPELLINGS = {
    "enabled": ("enabled", "vnc_enabled"),
    "server_listen": ("server_listen", "vncserver_listen"),
    "server_proxyclient_address": ("server_proxyclient_address", "vncserver_proxyclient_address"),
    "novncproxy_base_url": ("novncproxy_base_url",),
    "novncproxy_host": ("novncproxy_host",),
    "novncproxy_port": ("novncproxy_port",),
}


def oslo_sections(path):
    """``{normalized group: {key: [values]}}`` as oslo.config's parser reads ``path``."""
    sections, normalized = {}, {}
    parser = cfg.ConfigParser(str(path), sections)
    parser._add_normalized(normalized)
    parser.parse()
    return normalized


def definitions():
    """``{release name: the definitions that judge it}``, from the table of optdefs/README.md."""
    out = {}
    for line in (OPTDEFS / "README.md").read_text().splitlines():
        match = re.match(r"^\| (\w+) \| [\d.]+ \| `[^`]+` \| \w+ \| \w+ \| `(\w+)/[\w.]+` \|$", line)
        if match:
            out[match.group(1)] = str(OPTDEFS / match.group(2))
    out["zed"] = DEBIAN
    return out


def judge(release):
    """
    The definitions that judge nova ``release`` (a name or YEAR.N, normalised by
    nova_console.release_ordinal): its own, or the newest here for a release nova has not made.
    """
    judges = definitions()
    ordinal = nc.release_ordinal(release)
    newest = max(judges, key=nc.release_ordinal)
    name = nc._NAMED[ordinal] if ordinal < len(nc._NAMED) else newest
    return judges.get(name) or judges[newest]


class Reading:
    """What one release of nova reads from one file."""

    def __init__(self, opts, found):
        self.opts = opts
        self.values = found["values"]
        self.errors = found["errors"]
        self.warnings = found["warnings"]

    def opt(self, option):
        """The one registered option that is the logical ``option`` (any spelling)."""
        matches = [o for o in self.opts if o["name"] in SPELLINGS[option]]
        assert len(matches) == 1, f"{option}: {matches}"
        return matches[0]

    def value(self, option):
        opt = self.opt(option)
        key = f"{opt['group']} {opt['name']}"
        assert key not in self.errors, self.errors[key]
        return self.values[key]

    def read_as(self, group, key):
        """``primary``, ``deprecated`` or ``ignored``: how nova takes ``[group] key``."""
        group = group if group == "DEFAULT" else group.lower()
        for opt in self.opts:
            if (opt["group"], opt["name"]) == (group, key):
                return "primary"
            if [group, key] in opt["deprecated"]:
                return "deprecated"
        return "ignored"


def nova_reads(judge, paths):
    """
    Load each of ``paths`` with the definitions ``judge`` (a value of :func:`definitions`);
    return a :class:`Reading` per path, in order.
    """
    paths = [str(p) for p in paths]
    proc = subprocess.run([SYSTEM_PYTHON, str(LOADER), judge, *paths], capture_output=True, text=True,
                          timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    return [Reading(result["opts"], result["files"][p]) for p in paths]


def nova_vnc_values(path, release="2024.1"):
    """``{logical option: value}`` nova ``release`` reads from ``path``."""
    reading = nova_reads(judge(release), [path])[0]
    return {option: reading.value(option) for option in SPELLINGS}
