"""
The contract of a Brine event as the master receives it: the envelope (who sent it, its
payload), the checks every payload field goes through, and :class:`Rejected`, which says why an
event is not acted on. Also what a record or a log line may quote of untrusted data
(:func:`shown`, :func:`bounded`, :func:`non_finite`).

Any minion can send any event in any minion's name; these checks are why a payload field never
reaches a command or a record unchecked (docs/events.md, "What is trusted").
"""

import math
import re

from brinelib import names

# Minion ids: what Salt accepts as a key name that is also a sane host name (no globs, no
# slashes, no white space), so an id is safe as an exact list target and a file name.
MINION_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$")
# Payload keys that name a minion: when present they must be the sender itself.
CLAIM_KEYS = ("id", "minion", "minion_id", "host", "hostname", "target", "tgt")
# The longest text a free-text payload field may hold.
MAX_TEXT = 256
# At most this many bonds in one brine/net/snapshot, and items in a bond/reselected report's
# ``done`` (what _modules/brine_linkwatch.py sends).
SNAPSHOT_BONDS_MAX = 16
RESELECT_DONE_MAX = 16


class Rejected(ValueError):
    """An event that is not acted on, and why."""


class Unsigned(Rejected):
    """A start event with no Brine signature at all: a minion that was never configured."""


# What a message or log line quotes of a value (an event field can be megabytes long).
SHOWN_MAX = 120
# The longest text kept in a record; longer ones are cut with a marker.
FIELD_MAX = 1024


def shown(value, limit=SHOWN_MAX):
    """``repr(value)``, cut to ``limit`` characters with a marker saying how much was left out."""
    text = repr(value)
    if len(text) <= limit:
        return text
    return f"{text[:limit]}...[{len(text) - limit} more characters]"


def bounded(value, limit=FIELD_MAX, depth=0):
    """``value`` with every text cut to ``limit`` characters (with a marker), lists and mappings
    cut to 64 items and nesting to 8 levels: what a record may hold of anything."""
    if isinstance(value, str):
        return value if len(value) <= limit else f"{value[:limit]}...[{len(value) - limit} more characters]"
    if depth >= 8:
        return shown(value, limit)
    if isinstance(value, dict):
        items = list(value.items())
        out = {bounded(str(k), 200): bounded(v, limit, depth + 1) for k, v in items[:64]}
        if len(items) > 64:
            out["..."] = f"{len(items) - 64} more items"
        return out
    if isinstance(value, (list, tuple)):
        out = [bounded(v, limit, depth + 1) for v in value[:64]]
        if len(value) > 64:
            out.append(f"...[{len(value) - 64} more items]")
        return out
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return shown(value, limit)


def non_finite(value, where="entry"):
    """The path of the first NaN or infinity in ``value`` (JSON has neither), or None."""
    if isinstance(value, float) and not math.isfinite(value):
        return where
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, (list, tuple)):
        items = enumerate(value)
    else:
        return None
    for key, item in items:
        found = non_finite(item, f"{where}.{key}")
        if found:
            return found
    return None


# --------------------------------------------------------------------------- field checks


def interface_name_problem(name):
    """The kernel's dev_valid_name() rules: what a reported interface may be called."""
    return names.kernel_interface_name_problem(name, shown=shown)


def canonical_mac(value):
    """A unicast 48-bit MAC in canonical form, or Rejected."""
    if not isinstance(value, str) or len(value) > 32:
        raise Rejected(f"mac: {shown(value)} is not a MAC address")
    try:
        return names.canonical_mac(value)
    except names.NotAMac:
        raise Rejected(f"mac: {shown(value)} is not a MAC address") from None
    except ValueError:
        raise Rejected(f"mac: {shown(value)} is not a unicast 48-bit MAC address") from None


def interface(payload, key, optional=False):
    """``payload[key]`` when it is a name the kernel would give an interface, else Rejected."""
    value = payload.get(key)
    if value is None and optional:
        return None
    problem = interface_name_problem(value)
    if problem:
        raise Rejected(f"{key}: {problem}")
    return value


def number(payload, key):
    """``payload[key]`` when it is a finite number (not a bool), else Rejected."""
    value = payload.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise Rejected(f"{key}: {shown(value)} is not a number")
    return value


def choice(payload, key, choices, optional=False):
    """``payload[key]`` when it is one of ``choices``, else Rejected."""
    value = payload.get(key)
    if value is None and optional:
        return None
    if value not in choices:
        raise Rejected(f"{key}: {shown(value)} is not one of {', '.join(choices)}")
    return value


def text(payload, key, optional=True):
    """``payload[key]`` when it is a finite number or a short printable text, else Rejected."""
    value = payload.get(key)
    if value is None and optional:
        return None
    if isinstance(value, bool) or isinstance(value, int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise Rejected(f"{key}: {shown(value)} is not a finite number")
        return value
    if not isinstance(value, str) or len(value) > MAX_TEXT or not value.isprintable():
        raise Rejected(f"{key}: {shown(value)} is not a short printable text or number")
    return value


def short_text(payload, key):
    """``payload[key]`` when it is a non-empty short printable text, else Rejected."""
    value = payload.get(key)
    if not isinstance(value, str) or not value or len(value) > MAX_TEXT or not value.isprintable():
        raise Rejected(f"{key}: {shown(value)} is not a short printable text")
    return value


def only_keys(payload, allowed):
    """Rejected when ``payload`` has a key outside ``allowed``."""
    unknown = sorted(str(k) for k in payload if k not in allowed)
    if unknown:
        raise Rejected(f"unexpected payload keys {shown(unknown)}")


def sender(data):
    """The minion id an event's envelope names (``data['id']``), or Rejected."""
    if not isinstance(data, dict):
        raise Rejected("event data is not a mapping")
    minion = data.get("id")
    if not isinstance(minion, str) or not MINION_ID.match(minion):
        raise Rejected(f"envelope id {shown(minion)} is not a valid minion id")
    return minion


def envelope(data):
    """``(minion_id, payload)`` of a minion event as the master received it, or Rejected."""
    minion = sender(data)
    payload = data.get("data")
    if not isinstance(payload, dict):
        raise Rejected("the event carries no payload mapping (was it sent with event.send?)")
    # event.send run as a job (salt-call, salt '*') adds the job's own __pub_* metadata.
    payload = {k: v for k, v in payload.items() if not (isinstance(k, str) and k.startswith("__pub_"))}
    for key in CLAIM_KEYS:
        if key in payload and payload[key] != minion:
            raise Rejected(f"payload {key}={shown(payload[key])} claims to be about another minion than {shown(minion)}")
    return minion, payload

