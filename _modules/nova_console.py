"""
The VNC console of OpenStack nova, kept in nova.conf whatever else rewrites the file.

The field reports' console lived in a few lines that a ``sed`` put after ``rabbit_host`` in
``/etc/nova/nova.conf``; the next tool that regenerated the file (a Juju relation change) wiped
them and the console disappeared without a word. This module owns only those options: it
computes what they must be from the inventory, checks a nova.conf for them, and patches the
file with an INI-aware edit that leaves every other byte alone.

Pure core (no Salt, no system access; unit-tested on real nova.conf files):

- :func:`release_ordinal`, :func:`naming_for_release`, :func:`option_name`: which option names a
  release reads (``RELEASE_TABLE``);
- :func:`console_settings`: inventory + minion id in, the wanted option values out;
- :func:`parse`: nova.conf text in, its sections and assignments out, following oslo.config's
  own parser rule for rule (continuations, comments, ``:`` or ``=``, quotes, group-name case);
- :func:`check`: text + wanted values in, findings out (missing, wrong, duplicated, legacy);
- :func:`patch_text`: text + wanted values in, patched text out;
- :func:`domains_without_vnc`: libvirt domain XML in, the instances without a VNC console out.

Salt layer (thin): :func:`settings`, :func:`plan`, :func:`patch` (atomic write with a backup,
mode and owner kept, symlinks followed), :func:`restart`, :func:`instances_without_console`.
"""

import datetime
import difflib
import os
import re
import shutil
import subprocess
import tempfile
import xml.etree.ElementTree as ET

import brinelib

brinelib.forget_if_changed()  # a library synced since it was imported replaces the old one
from brinelib.secrets import MASK, mask_urls, secret_key
from brinelib.errors import CommandExecutionError, InventoryProblem

__virtualname__ = "nova_console"
# What Salt exposes: the CLI functions. The pure core (check, patch_text, parse, ...) is the
# Python API of this file, used by the functions below and by the tests.
__load__ = [
    "settings", "plan", "check_file", "patch", "restart", "enforce", "restart_marker",
    "instances_without_console", "naming_for_release",
]


def __virtual__():
    if "brine_inventory.get" not in __salt__:
        return (False, "nova_console needs the brine_inventory execution module (and its netaddr)")
    return __virtualname__


class NovaConfError(ValueError):
    """A nova.conf that oslo.config would refuse (or that cannot be read as text)."""


# --------------------------------------------------------------------------- releases

# Named releases in order. From 2023.1 on, releases are also (and officially) named by version.
_NAMED = (
    "austin bexar cactus diablo essex folsom grizzly havana icehouse juno kilo liberty mitaka "
    "newton ocata pike queens rocky stein train ussuri victoria wallaby xena yoga zed "
    "antelope bobcat caracal dalmatian epoxy flamingo gazpacho"
).split()
# Before Liberty, integrated releases were versioned YEAR.N too (2014.1 is Icehouse).
_OLD_VERSIONS = {
    "2010.1": "austin", "2011.1": "bexar", "2011.2": "cactus", "2011.3": "diablo",
    "2012.1": "essex", "2012.2": "folsom", "2013.1": "grizzly", "2013.2": "havana",
    "2014.1": "icehouse", "2014.2": "juno", "2015.1": "kilo",
}
_FIRST_VERSIONED = _NAMED.index("antelope")  # 2023.1
_VERSION = re.compile(r"^(\d{4})\.([12])$")


def release_ordinal(release):
    """
    Return a number that orders OpenStack releases (``"icehouse"`` < ``"pike"`` <
    ``"2024.1"``), or raise ValueError. Accepts names in any case and YEAR.N versions.
    """
    value = str(release).strip().lower()
    if value in _OLD_VERSIONS:
        value = _OLD_VERSIONS[value]
    if value in _NAMED:
        return _NAMED.index(value)
    match = _VERSION.match(value)
    if match and int(match.group(1)) >= 2023:
        return _FIRST_VERSIONED + (int(match.group(1)) - 2023) * 2 + int(match.group(2)) - 1
    raise ValueError(
        f"{release!r} is not an OpenStack release (a name such as 'zed' or a version such as '2024.1')"
    )


# Which names nova reads, release by release, from nova's own option definitions
# (tests/data/nova/optdefs/ holds them; tests/nova_options/ loads every fixture with them):
#   icehouse  [DEFAULT] vnc_enabled, vncserver_listen, vncserver_proxyclient_address,
#             novncproxy_base_url (nova/vnc/__init__.py), novncproxy_host/port
#             (nova/cmd/novncproxy.py)
#   liberty   the compute options move to [vnc] (enabled, vncserver_listen, ...); the [DEFAULT]
#             names stay deprecated aliases (380c4d750f "Register the vnc config options under
#             group 'vnc'")
#   mitaka    novncproxy_host/port move to [vnc], [DEFAULT] aliases (11a42d4030 "config
#             options: Make noVNC proxy into vnc group")
#   queens    vncserver_listen/vncserver_proxyclient_address renamed server_listen/
#             server_proxyclient_address; the old names in [DEFAULT] and [vnc] stay deprecated
#             aliases (e5a03e3c54 "conf: Rename two VNC options"; pike reads only the old ones)
#   yoga      those aliases removed: vncserver_* are not read at all (cec9e7f1f1 "Remove
#             deprecated opts from VNC conf"); [DEFAULT] vnc_enabled, novncproxy_base_url,
#             novncproxy_host and novncproxy_port remain deprecated aliases
# Releases before icehouse have no row: the console is not configured for them.
# Each row: (first release, {option: (group, key) read}, {option: deprecated aliases read}).
_D = "DEFAULT"
_COMPUTE_ALIASES = {
    "enabled": ((_D, "vnc_enabled"),),
    "server_listen": ((_D, "vncserver_listen"),),
    "server_proxyclient_address": ((_D, "vncserver_proxyclient_address"),),
    "novncproxy_base_url": ((_D, "novncproxy_base_url"),),
}
_PROXY_ALIASES = {"novncproxy_host": ((_D, "novncproxy_host"),), "novncproxy_port": ((_D, "novncproxy_port"),)}


def _names(listen, proxy_group):
    return {
        "enabled": ("vnc", "enabled"),
        "server_listen": ("vnc", listen),
        "server_proxyclient_address": ("vnc", listen.replace("listen", "proxyclient_address")),
        "novncproxy_base_url": ("vnc", "novncproxy_base_url"),
        "novncproxy_host": (proxy_group, "novncproxy_host"),
        "novncproxy_port": (proxy_group, "novncproxy_port"),
    }


RELEASE_TABLE = (
    ("icehouse", {
        "enabled": (_D, "vnc_enabled"),
        "server_listen": (_D, "vncserver_listen"),
        "server_proxyclient_address": (_D, "vncserver_proxyclient_address"),
        "novncproxy_base_url": (_D, "novncproxy_base_url"),
        "novncproxy_host": (_D, "novncproxy_host"),
        "novncproxy_port": (_D, "novncproxy_port"),
    }, {}),
    ("liberty", _names("vncserver_listen", _D), _COMPUTE_ALIASES),
    ("mitaka", _names("vncserver_listen", "vnc"), {**_COMPUTE_ALIASES, **_PROXY_ALIASES}),
    ("queens", _names("server_listen", "vnc"), {
        **_COMPUTE_ALIASES, **_PROXY_ALIASES,
        "server_listen": ((_D, "vncserver_listen"), ("vnc", "vncserver_listen")),
        "server_proxyclient_address": ((_D, "vncserver_proxyclient_address"), ("vnc", "vncserver_proxyclient_address")),
    }),
    ("yoga", _names("server_listen", "vnc"), {
        "enabled": ((_D, "vnc_enabled"),), "novncproxy_base_url": ((_D, "novncproxy_base_url"),), **_PROXY_ALIASES,
    }),
)
# The scheme of the compute options' names, for display (settings' "naming").
NAMING_CUTOVERS = (("icehouse", "default"), ("liberty", "vnc-group"), ("queens", "vnc"))


def _row(release):
    ordinal = release_ordinal(release)
    chosen = None
    for row in RELEASE_TABLE:
        if ordinal >= release_ordinal(row[0]):
            chosen = row
    if chosen is None:
        raise ValueError(f"{release!r} is older than {RELEASE_TABLE[0][0]}: Brine does not configure its console")
    return chosen


def option_name(option, release):
    """The ``(group, key)`` under which ``release`` of nova reads the logical ``option``."""
    return _row(release)[1][option]


def deprecated_names(option, release):
    """The ``(group, key)`` aliases ``release`` of nova still reads ``option`` under, with a warning."""
    return list(_row(release)[2].get(option, ()))


def other_names(option, release):
    """
    Every other ``(group, key)`` some release reads ``option`` under: the deprecated aliases of
    ``release`` (they conflict) and the names it ignores (they mislead). The patch removes them.
    """
    current = option_name(option, release)
    current = (normalize_group(current[0]), current[1])
    out = []
    for _, names, aliases in RELEASE_TABLE:
        for group, key in (names[option], *aliases.get(option, ())):
            if (normalize_group(group), key) != current and (group, key) not in out:
                out.append((group, key))
    return out


BOOL_OPTIONS = ("enabled",)
INT_OPTIONS = ("novncproxy_port",)
COMPUTE_OPTIONS = ("enabled", "server_listen", "server_proxyclient_address", "novncproxy_base_url")
PROXY_OPTIONS = ("novncproxy_host", "novncproxy_port")
# noVNC 1.0 (2018) replaced vnc_auto.html by vnc_lite.html; nova documents it from Rocky on.
VNC_LITE_SINCE = "rocky"


def naming_for_release(release):
    """
    The option-name scheme (``default``, ``vnc-group`` or ``vnc``) that ``release`` reads.

    CLI Example:

    .. code-block:: bash

        salt-call nova_console.naming_for_release 2024.1
        salt-call nova_console.naming_for_release icehouse
    """
    _row(release)  # refuses the releases without a row
    ordinal = release_ordinal(release)
    scheme = None
    for first, name in NAMING_CUTOVERS:
        if ordinal >= release_ordinal(first):
            scheme = name
    return scheme


# --------------------------------------------------------------------------- settings

CONSOLE_KEYS = ("tls", "port", "listen", "network", "deployment")
DEPLOYMENTS = ("packages", "kolla")
ROLES = ("compute", "proxy")


def _console_spec(inventory):
    path = "brine:openstack:console"
    spec = (inventory.get("openstack") or {}).get("console") or {}
    if not isinstance(spec, dict):
        raise InventoryProblem(f"{path}: must be a mapping, got {type(spec).__name__}")
    for key in spec:
        if key not in CONSOLE_KEYS:
            raise InventoryProblem(f"{path}:{key}: unknown key; expected one of {', '.join(CONSOLE_KEYS)}")
    out = {"tls": False, "port": 6080, "listen": "management", "network": "management", "deployment": "packages", **spec}
    if not isinstance(out["tls"], bool):
        raise InventoryProblem(f"{path}:tls: must be true or false, got {out['tls']!r}")
    port = out["port"]
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise InventoryProblem(f"{path}:port: {port!r} is not a TCP port (1-65535)")
    if out["listen"] not in ("management", "any"):
        raise InventoryProblem(f"{path}:listen: {out['listen']!r} must be 'management' (the host's address) or 'any'")
    if out["deployment"] not in DEPLOYMENTS:
        raise InventoryProblem(f"{path}:deployment: {out['deployment']!r} must be one of {', '.join(DEPLOYMENTS)}")
    return out


def console_settings(inventory, minion_id, role="compute"):
    """
    Return the VNC console settings of ``minion_id`` from a normalised inventory.

    ``role`` is ``compute`` (the VNC server of the instances) or ``proxy`` (nova-novncproxy on a
    controller). The result names the scheme of option names the release reads and the logical
    option values, e.g. ``{"naming": "vnc", "options": {"server_listen": "10.10.0.11", ...}}``.
    Raises InventoryProblem naming the pillar path of what is missing or wrong.
    """
    if role not in ROLES:
        raise InventoryProblem(f"role {role!r} must be one of {', '.join(ROLES)}")
    console = _console_spec(inventory)
    release = (inventory.get("openstack") or {}).get("release", "2024.1")
    try:
        naming = naming_for_release(release)
        lite = release_ordinal(release) >= release_ordinal(VNC_LITE_SINCE)
    except ValueError as exc:
        raise InventoryProblem(f"brine:openstack:release: {exc}") from None
    host = (inventory.get("hosts") or {}).get(minion_id)
    if host is None:
        raise InventoryProblem(f"brine:hosts:{minion_id}: minion {minion_id!r} is not in the inventory")
    network = console["network"]
    attachment = (host.get("networks") or {}).get(network) or {}
    if "address" not in attachment:
        raise InventoryProblem(
            f"brine:hosts:{minion_id}:networks:{network}:address: missing; the console needs "
            f"the host's address on network {network!r} (brine:openstack:console:network)"
        )
    address = str(attachment["address"])
    if role == "proxy":
        options = {"novncproxy_host": address, "novncproxy_port": console["port"]}
    else:
        vips = inventory.get("vips") or {}
        vip = vips.get("external") or vips.get("internal")
        if not vip:
            raise InventoryProblem("brine:vips:external: missing; the console URL is served on the external VIP")
        public = vip.get("fqdn") or vip["address"]
        if ":" in str(public):
            public = f"[{public}]"
        scheme = "https" if console["tls"] else "http"
        page = "vnc_lite.html" if lite else "vnc_auto.html"
        options = {
            "enabled": True,
            "server_listen": address if console["listen"] == "management" else "0.0.0.0",
            "server_proxyclient_address": address,
            "novncproxy_base_url": f"{scheme}://{public}:{console['port']}/{page}",
        }
    return {
        "release": str(release),
        "naming": naming,
        "role": role,
        "deployment": console["deployment"],
        "options": options,
    }


# --------------------------------------------------------------------------- INI parsing

_LINE = re.compile(r"[^\r\n]*(?:\r\n|\n|\r)|[^\r\n]+$")


def split_lines(text):
    """Lines with their endings, split where Python's universal newlines (and so oslo) split."""
    return _LINE.findall(text)


def normalize_group(name):
    """oslo.config's rule: group names are case-insensitive, except that only DEFAULT is DEFAULT."""
    return name if name == "DEFAULT" else name.lower()


class Assignment:
    """One ``key = value`` with its continuation lines (``first``..``last`` line indexes)."""

    __slots__ = ("section", "key", "value", "first", "last", "prefix")

    def __init__(self, section, key, value, first, last, prefix):
        self.section = section
        self.key = key
        self.value = value
        self.first = first
        self.last = last
        self.prefix = prefix

    @property
    def group(self):
        return normalize_group(self.section.name)

    def __repr__(self):
        return f"Assignment([{self.section.name}] {self.key}={self.value!r} @{self.first + 1})"


class Section:
    """A ``[name]`` header (line ``header``) and the lines up to the next header."""

    __slots__ = ("name", "header", "end", "assignments")

    def __init__(self, name, header):
        self.name = name
        self.header = header
        self.end = header + 1
        self.assignments = []


class Document:
    """A parsed nova.conf: its lines (endings kept), sections and assignments."""

    def __init__(self, text):
        self.text = text
        self.lines = split_lines(text)
        self.sections = []
        self.assignments = []
        self._parse()

    def _error(self, lineno, message):
        # The line number only: the line itself may be a password (a broken continuation of
        # rabbit_password, a connection URL), and this message reaches job returns and events.
        raise NovaConfError(f"line {lineno + 1}: {message}")

    def _parse(self):
        pending = None  # [section, key, value parts, first, last, prefix]
        section = None

        def flush():
            nonlocal pending
            if pending:
                sec, key, parts, first, last, prefix = pending
                item = Assignment(sec, key, "\n".join(parts), first, last, prefix)
                sec.assignments.append(item)
                self.assignments.append(item)
                pending = None

        for idx, raw in enumerate(self.lines):
            line = raw.rstrip()
            if not line:
                flush()
                continue
            if line.startswith((" ", "\t")):
                if pending is None:
                    self._error(idx, "unexpected continuation line (indented, but no option before it)")
                pending[2].append(line.lstrip())
                pending[4] = idx
                continue
            flush()
            if line.startswith("["):
                if not line.endswith("]"):
                    self._error(idx, "invalid section header (must end with ])")
                if len(line) <= 2:
                    self._error(idx, "empty section name")
                section = Section(line[1:-1], idx)
                self.sections.append(section)
            elif line.startswith(("#", ";")):
                continue
            else:
                colon, equal = line.find(":"), line.find("=")
                if colon < 0 and equal < 0:
                    self._error(idx, "not an INI line (no '=' or ':' in an option line)")
                sep = equal if colon < 0 or (0 <= equal < colon) else colon
                key, value = line[:sep].strip(), line[sep + 1 :].strip()
                if not key:
                    self._error(idx, "option with an empty name")
                if section is None:
                    self._error(idx, "option before any [section]")
                if value and value[0] == value[-1] and value.startswith(('"', "'")):
                    value = value[1:-1]
                prefix = re.match(r"[^=:]*[=:][ \t]*", line).group(0)
                pending = [section, key, [value], idx, idx, prefix]
        flush()
        for this, following in zip(self.sections, self.sections[1:] + [None]):
            this.end = following.header if following else len(self.lines)

    @property
    def newline(self):
        for raw in self.lines:
            if raw.endswith("\r\n"):
                return "\r\n"
            if raw.endswith(("\n", "\r")):
                return raw[-1]
        return "\n"

    def find(self, group, key):
        return [a for a in self.assignments if a.group == normalize_group(group) and a.key == key]

    def values(self):
        """``{group: {key: [values]}}`` the way oslo.config's parser collects them."""
        out = {normalize_group(s.name): {} for s in self.sections}
        for a in self.assignments:
            out.setdefault(a.group, {}).setdefault(a.key, []).append(a.value)
        return out


def parse(text):
    """Parse nova.conf ``text``; raise NovaConfError (with the line) where oslo.config would."""
    return Document(text)


# --------------------------------------------------------------------------- check and patch

_TRUE = ("true", "1", "on", "yes")
_FALSE = ("false", "0", "off", "no")


def render_value(option, value):
    if option in BOOL_OPTIONS:
        return "true" if value else "false"
    return str(value)


def same_value(option, found, wanted):
    """Whether nova reads ``found`` (text from the file) as ``wanted``."""
    found = found.strip()
    if option in BOOL_OPTIONS:
        low = found.lower()
        return (low in _TRUE and wanted is True) or (low in _FALSE and wanted is False)
    if option in INT_OPTIONS:
        try:
            return int(found) == int(wanted)
        except ValueError:
            return False
    return found == str(wanted)


def _label(group, key):
    return f"[{group}] {key}"


def check(text, wanted):
    """
    Findings about the console options in nova.conf ``text``; an empty list means nothing to do.

    ``wanted`` is the result of :func:`console_settings` (``release`` and ``options``). Each
    finding is a dict: ``kind`` (missing, wrong, duplicate, legacy), ``option`` (e.g.
    ``[vnc] server_listen``), ``line`` (1-based, None when missing), ``found``, ``wanted``
    and a one-line ``message``.
    """
    doc = parse(text)
    return _findings(doc, wanted)


def _findings(doc, wanted):
    findings = []
    for option, value in wanted["options"].items():
        group, key = option_name(option, wanted["release"])
        label = _label(group, key)
        want = render_value(option, value)
        current = doc.find(group, key)
        if not current:
            findings.append({"kind": "missing", "option": label, "line": None, "found": None, "wanted": want,
                             "message": f"{label} is missing (wanted {want})"})
        for extra in current[1:]:
            findings.append({"kind": "duplicate", "option": label, "line": extra.first + 1, "found": extra.value,
                             "wanted": want, "message": f"{label} is set again at line {extra.first + 1} ([{extra.section.name}])"})
        # oslo.config reads the last occurrence: that is the value nova runs with.
        if current and not same_value(option, current[-1].value, value):
            findings.append({"kind": "wrong", "option": label, "line": current[-1].first + 1,
                             "found": current[-1].value, "wanted": want,
                             "message": f"{label} is {current[-1].value!r} at line {current[-1].first + 1}, wanted {want!r}"})
        aliases = deprecated_names(option, wanted["release"])
        for lgroup, lkey in other_names(option, wanted["release"]):
            why = ("a deprecated alias of " + label + ": it conflicts" if (lgroup, lkey) in aliases
                   else "not read by nova " + str(wanted["release"]) + " (" + label + " is)")
            for old in doc.find(lgroup, lkey):
                findings.append({"kind": "legacy", "option": _label(lgroup, lkey), "line": old.first + 1,
                                 "found": old.value, "wanted": None,
                                 "message": f"[{old.section.name}] {lkey} at line {old.first + 1} is {why}; it goes"})
    return findings


def _comment_anchor(doc, section, key):
    """
    The line of a commented-out default (``#key = ...``) in ``section``, or None. Inserting
    after a comment is safe: a comment ends any value before it, so the next line is never a
    continuation.
    """
    pattern = re.compile(r"^[#;]\s*" + re.escape(key) + r"\s*[=:]")
    for idx in range(section.header + 1, section.end):
        if pattern.match(doc.lines[idx]):
            return idx
    return None


def patch_text(text, wanted):
    """
    Return ``(new_text, findings)``: ``text`` with the console options set as ``wanted``.

    Only the lines of the managed options change: a wrong value is rewritten in place (its
    ``key =`` spelling kept), duplicates and older-name aliases are removed, a missing option is
    added to the first section of its group (after its commented-out default when there is
    one, else after the section's last option), and a missing section is appended. Every other
    line, comment, blank line and line ending stays byte for byte. ``new_text == text`` when
    there is nothing to do.
    """
    doc = parse(text)
    findings = _findings(doc, wanted)
    if not findings:
        return text, findings
    nl = doc.newline
    replace = {}  # line index -> new text (the whole assignment collapses onto its first line)
    delete = set()
    insert_after = {}  # line index (-1: start of file) -> [lines]
    appended = {}  # group -> [lines] for a section that does not exist yet

    def drop(item):
        delete.update(range(item.first, item.last + 1))

    for option, value in wanted["options"].items():
        group, key = option_name(option, wanted["release"])
        want = render_value(option, value)
        current = doc.find(group, key)
        if current:
            keep = current[0]
            for extra in current[1:]:
                drop(extra)
            if not same_value(option, keep.value, value):
                ending = doc.lines[keep.last][len(doc.lines[keep.last].rstrip("\r\n")):]
                replace[keep.first] = keep.prefix + want + (ending or "")
                delete.update(range(keep.first + 1, keep.last + 1))
        else:
            sections = [s for s in doc.sections if normalize_group(s.name) == normalize_group(group)]
            line = f"{key} = {want}"
            if not sections:
                appended.setdefault(group, []).append(line)
            else:
                sec = sections[0]
                anchor = _comment_anchor(doc, sec, key)
                if anchor is None:
                    anchor = sec.assignments[-1].last if sec.assignments else sec.header
                insert_after.setdefault(anchor, []).append(line)
        for lgroup, lkey in other_names(option, wanted["release"]):
            for old in doc.find(lgroup, lkey):
                drop(old)

    out = []
    ours_last = False  # whether the last line is one this patch added
    for idx, raw in enumerate(doc.lines):
        if idx not in delete:
            out.append(replace.get(idx, raw))
            ours_last = False
        if idx in insert_after:
            if out and not out[-1].endswith(("\n", "\r")):
                out[-1] += nl
            out.extend(line + nl for line in insert_after[idx])
            ours_last = True
    for group, lines in appended.items():
        if out and not out[-1].endswith(("\n", "\r")):
            out[-1] += nl
        if out and out[-1].strip():
            out.append(nl)
        out.append(f"[{group}]{nl}")
        out.extend(line + nl for line in lines)
        ours_last = True
    if ours_last and text and not text.endswith(("\n", "\r")):
        out[-1] = out[-1][: -len(nl)]  # the file had no final newline: keep it that way
    new_text = "".join(out)
    parse(new_text)  # never hand back something oslo.config would refuse
    return new_text, findings


# --------------------------------------------------------------------------- secrets (the rule: brinelib.secrets)

_COMMENTED = re.compile(r"^([#;]\s*)([A-Za-z0-9_.-]+)(\s*[=:]\s*)(.*?)(\s*)$", re.DOTALL)
_ASSIGNMENT = re.compile(r"^(\s*)([^\s=:#;\[][^=:]*?)(\s*[=:]\s*)(.*?)(\s*)$", re.DOTALL)


def mask_text(text):
    """
    nova.conf ``text`` (or any part of it) with every secret masked: the whole value of an
    option with a secret-bearing name (its continuation lines too) and the password of every
    URL (``connection``, ``transport_url``). Line structure and every other byte are kept, so
    the diff of two masked texts is the masked diff of the texts.
    """
    out = []
    secret = False  # the last option line seen had a secret value: its continuations do too
    for raw in split_lines(text):
        body = raw.rstrip("\r\n")
        ending = raw[len(body):]
        if body[:1] in (" ", "\t") and body.strip():
            if secret:
                body = body[: len(body) - len(body.lstrip())] + MASK
            out.append(mask_urls(body) + ending)
            continue
        secret = False
        comment = _COMMENTED.match(body)  # a commented-out option (#rabbit_password = old) too
        if comment:
            lead, key, sep, value, trail = comment.groups()
        else:
            match = _ASSIGNMENT.match(body) if not body.startswith(("#", ";", "[")) else None
            lead, key, sep, value, trail = match.groups() if match else (None,) * 5
            secret = bool(match) and secret_key(key.strip())
        if key is not None and secret_key(key.strip()) and value:
            body = lead + key + sep + MASK + trail
        out.append(mask_urls(body) + ending)
    return "".join(out)


def unified_diff(old, new, path):
    """The unified diff of two nova.conf texts, with every secret masked (:func:`mask_text`)."""
    return "".join(
        difflib.unified_diff(
            mask_text(old).splitlines(keepends=True), mask_text(new).splitlines(keepends=True),
            fromfile=path, tofile=path
        )
    )


# --------------------------------------------------------------------------- libvirt domains

NOVA_XMLNS = "http://openstack.org/xmlns/libvirt/nova/"


def domains_without_vnc(domain_xmls):
    """
    Given libvirt domain XML documents, return those without a VNC graphics device as dicts
    ``{"domain": name, "uuid": uuid, "instance": nova display name or None, "graphics": [types]}``.

    An instance created while VNC was off has no ``<graphics type='vnc'>``: only a rebuild (or
    a hard reboot, which regenerates the XML) gives it one; restarting nova-compute does not.
    """
    missing = []
    for text in domain_xmls:
        try:
            root = ET.fromstring(text)
        except ET.ParseError as exc:
            raise ValueError(f"not libvirt domain XML: {exc}") from None
        if root.tag != "domain":
            raise ValueError(f"not libvirt domain XML: root element is <{root.tag}>")
        graphics = [g.get("type") for g in root.findall("./devices/graphics")]
        if "vnc" in graphics:
            continue
        display = None
        for elem in root.iter():
            if elem.tag.startswith("{" + NOVA_XMLNS) and elem.tag.endswith("}name"):
                display = elem.text
                break
        missing.append({
            "domain": root.findtext("name"),
            "uuid": root.findtext("uuid"),
            "instance": display,
            "graphics": graphics,
        })
    return missing


# --------------------------------------------------------------------------- Salt layer


# Service and container names of the packaged and Kolla deployments; the SLS passes the
# operator's (salt/nova_console/defaults.yaml, pillar brine_settings:nova_console).
DEFAULT_SERVICES = {
    ("compute", "packages"): "nova-compute",
    ("proxy", "packages"): "nova-novncproxy",
    ("compute", "kolla"): "nova_compute",
    ("proxy", "kolla"): "nova_novncproxy",
}


def settings(role="compute", minion_id=None):
    """
    The VNC console settings of this minion (or ``minion_id``) computed from the inventory.

    role
        ``compute`` (nova-compute's VNC server) or ``proxy`` (nova-novncproxy).
    minion_id
        Another host of the inventory (the deployer writes Kolla overrides for every compute
        host).

    CLI Example:

    .. code-block:: bash

        salt-call nova_console.settings
        salt-call nova_console.settings role=proxy minion_id=ubuntu2
    """
    minion_id = minion_id or __grains__["id"]
    try:
        return console_settings(__salt__["brine_inventory.get"](), minion_id, role)
    except InventoryProblem as exc:
        raise CommandExecutionError(str(exc)) from None


def _read(path):
    real = os.path.realpath(path)
    try:
        os.lstat(path)
    except FileNotFoundError:
        return real, None
    except OSError as exc:  # e.g. a directory on the way the minion may not enter
        raise CommandExecutionError(f"cannot read {path}: {exc.strerror}") from None
    if not os.path.exists(real):
        raise CommandExecutionError(f"{path} is a symlink to {real}, which does not exist")
    if not os.path.isfile(real):
        raise CommandExecutionError(f"{path} is not a regular file; refusing to touch it")
    try:
        with open(real, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        raise CommandExecutionError(f"cannot read {path}: {exc.strerror}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CommandExecutionError(f"{path} is not UTF-8 text (byte {exc.start}); refusing to touch it") from None
    if "\x00" in text:
        raise CommandExecutionError(f"{path} contains NUL bytes: not an INI file; refusing to touch it")
    return real, text


def _plan(path, role, create, minion_id, wanted=None):
    wanted = wanted or settings(role, minion_id)
    real, text = _read(path)
    result = {"path": path, "real_path": real, "exists": text is not None, "settings": wanted,
              "findings": [], "diff": ""}
    if text is None and not create:
        return result, None, None
    try:
        new_text, findings = patch_text(text or "", wanted)
    except NovaConfError as exc:
        raise CommandExecutionError(f"{path} is not a valid nova.conf, {exc}; it was not changed") from None
    # A finding quotes a console option's value; a URL in it keeps its password to itself.
    findings = [dict(f, found=f["found"] if f["found"] is None else mask_urls(f["found"]),
                     message=mask_urls(f["message"])) for f in findings]
    result.update(findings=findings, diff=unified_diff(text or "", new_text, path))
    return result, text, new_text


def plan(path="/etc/nova/nova.conf", role="compute", create=False, minion_id=None):
    """
    What :func:`patch` would do to ``path``, without touching it.

    Returns ``{"path", "real_path", "exists", "findings", "diff", "settings"}``. A missing file
    has no findings unless ``create`` is true (Kolla override files are created). Raises an error
    naming the line when the file is not INI that oslo.config accepts.

    CLI Example:

    .. code-block:: bash

        salt-call nova_console.plan
        salt-call nova_console.plan /etc/kolla/config/nova.conf create=True
    """
    return _plan(path, role, create, minion_id)[0]


def check_file(path="/etc/nova/nova.conf", role="compute", minion_id=None):
    """
    List what is missing, wrong, duplicated or spelled with a legacy name in ``path``.

    CLI Example:

    .. code-block:: bash

        salt-call nova_console.check_file
    """
    return plan(path, role, create=True, minion_id=minion_id)["findings"]


# Every tool that rewrites nova.conf leaves one backup per repair: keep the newest few.
BACKUPS_KEPT = 5


def _prune_backups(real):
    prefix = os.path.basename(real) + ".brine-"
    directory = os.path.dirname(real) or "."
    backups = sorted(n for n in os.listdir(directory) if n.startswith(prefix) and n.endswith(".bak"))
    for name in backups[:-BACKUPS_KEPT]:
        os.unlink(os.path.join(directory, name))


def _write_atomically(real, text, old_text):
    """Replace ``real`` by ``text`` in one rename; keep mode and owner; back up the old file."""
    directory = os.path.dirname(real) or "."
    backup = None
    if old_text is not None:
        st = os.stat(real)
        mode, uid, gid = st.st_mode & 0o7777, st.st_uid, st.st_gid
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
        backup = f"{real}.brine-{stamp}.bak"
        shutil.copy2(real, backup)
    else:
        os.makedirs(directory, exist_ok=True)
        mode, uid, gid = 0o640, None, None
    fd, tmp = tempfile.mkstemp(prefix=".brine-", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        if uid is not None:
            os.chown(tmp, uid, gid)
        os.replace(tmp, real)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return backup


def patch(path="/etc/nova/nova.conf", role="compute", create=False, minion_id=None, wanted=None):
    """
    Set the console options in ``path`` (following a symlink), atomically, with a backup.

    Returns the plan (see :func:`plan`) plus ``changed`` and ``backup`` (the previous file,
    ``<file>.brine-<UTC time>.bak``; the newest five are kept). Nothing is written when nothing
    is to change.

    CLI Example:

    .. code-block:: bash

        salt-call nova_console.patch
    """
    result, old_text, new_text = _plan(path, role, create, minion_id, wanted)
    result.update(changed=False, backup=None)
    if not result["findings"] or new_text is None:
        return result
    if _read(path)[1] != old_text:
        # another tool rewrote it since it was read: patching that old content would undo it
        raise CommandExecutionError(f"{path} changed while it was being patched; run again")
    result["backup"] = _write_atomically(result["real_path"], new_text, old_text)
    result["changed"] = True
    _prune_backups(result["real_path"])
    return result


def restart(role="compute", deployment="packages", service=None):
    """
    Restart the service that reads the console options: nova-compute (``role=compute``) or
    nova-novncproxy (``role=proxy``), as a system service (Salt's service module) or, for
    Kolla, its container (``docker restart``).

    service
        The service (or container) name, when not the usual one.

    CLI Example:

    .. code-block:: bash

        salt-call nova_console.restart
        salt-call nova_console.restart deployment=kolla
    """
    if (role, deployment) not in DEFAULT_SERVICES:
        raise CommandExecutionError(f"unknown role {role!r} or deployment {deployment!r}")
    service = service or DEFAULT_SERVICES[(role, deployment)]
    if deployment == "kolla":
        container = service
        res = __salt__["cmd.run_all"](["docker", "restart", container], python_shell=False)
        if res["retcode"] != 0:
            raise CommandExecutionError(f"docker restart {container} failed: {res['stderr'] or res['stdout']}")
        return f"container {container}"
    if not __salt__["service.available"](service):
        raise CommandExecutionError(
            f"service {service} does not exist here (pillar brine_settings:nova_console:services "
            "names it for other distributions)"
        )
    if not __salt__["service.restart"](service):
        raise CommandExecutionError(f"service {service} did not restart")
    return f"service {service}"


def restart_marker(marker_dir="/etc/brine/restart-pending", role="compute"):
    """
    The file that remembers a restart still owed to ``role`` after a change: it exists from
    the change until the restart worked.

    CLI Example:

    .. code-block:: bash

        salt-call nova_console.restart_marker
    """
    return os.path.join(marker_dir, f"nova-console-{role}")


def enforce(name="/etc/nova/nova.conf", role="compute", create=False, restart=True, service=None,
            marker_dir="/etc/brine/restart-pending", minion_id=None, wanted=None):
    """
    Patch ``name`` when its console options are not the inventory's and restart the service
    when they changed (or when an earlier restart failed): what the ``nova_console.configured``
    state does outside test mode, for the state and for the ``brine_filewatch`` engine, which
    puts the options back the moment another tool rewrites the file.

    ``wanted`` are the settings (as :func:`settings` returns them) when the caller has them
    already: the file watcher engine gets them in its configuration, rendered by the
    ``brine.events`` state, because an engine's pillar is not the minion's current one.

    A restart owed is written to ``marker_dir`` before it is tried and removed once it worked,
    so a failed one is retried by the next run. Returns ``{"exists", "changed", "diff",
    "backup", "findings", "deployment", "restarted", "restart_error"}``; ``restarted`` is what
    was restarted (None when nothing was).

    CLI Example:

    .. code-block:: bash

        salt-call nova_console.enforce
        salt-call nova_console.enforce /etc/nova/nova.conf service=nova-compute
    """
    done = patch(name, role=role, create=create, minion_id=minion_id, wanted=wanted)
    result = {"exists": done["exists"], "changed": done["changed"], "diff": done["diff"] if done["changed"] else "",
              "backup": done["backup"], "findings": done["findings"] if done["changed"] else [],
              "deployment": done["settings"]["deployment"], "restarted": None, "restart_error": None}
    marker = restart_marker(marker_dir, role)
    if not restart or not (done["changed"] or os.path.exists(marker)):
        return result
    os.makedirs(os.path.dirname(marker), exist_ok=True)
    with open(marker, "w", encoding="utf-8") as fh:
        fh.write(name + "\n")
    try:
        # Through __salt__: the argument ``restart`` (a flag) hides the function of that name.
        result["restarted"] = __salt__["nova_console.restart"](role=role, deployment=result["deployment"], service=service)
    except Exception as exc:  # pylint: disable=broad-except
        result["restart_error"] = str(exc)
    else:
        os.unlink(marker)
    return result


def instances_without_console(uri=None):
    """
    Libvirt domains of this host without a VNC console (they need a rebuild), or None when
    virsh is not installed here.

    uri
        The libvirt connection URI (default ``qemu:///system``).

    CLI Example:

    .. code-block:: bash

        salt-call nova_console.instances_without_console
    """
    virsh = shutil.which("virsh")
    if not virsh:
        return None
    uri = uri or "qemu:///system"

    def run(*args):
        proc = subprocess.run([virsh, "-c", uri, *args], capture_output=True, text=True, timeout=60, check=False)
        if proc.returncode != 0:
            raise CommandExecutionError(f"virsh {' '.join(args)} failed: {proc.stderr.strip()}")
        return proc.stdout

    names = [n.strip() for n in run("list", "--all", "--name").splitlines() if n.strip()]
    return domains_without_vnc([run("dumpxml", name) for name in names])
