"""
The outbox: how a process outside Salt (keepalived's notify script) hands an event to the
minion, which sends it to the master signed and over its own connection, in milliseconds,
where a ``salt-call`` of its own would load the whole minion first (tens of seconds on a busy
controller). The writer puts one JSON message per file into a directory only root can write,
under a name starting with a dot, then renames it to ``<epoch nanoseconds>-<pid>.json``; the
``brine_outbox`` engine sends the messages in name order and deletes each once sent.

A message: ``{"tag": "<one of the engine's tags>", "data": {...}}``. This module is the pure
part: which names are messages, and what a message's bytes say (or why they are refused).
"""

import json
import re

# A message is small: a VIP's state change is about 100 bytes.
MAX_MESSAGE = 16 * 1024
# What the writer renames a finished message to; anything else (its dot-named temporary file
# included) is not a message.
MESSAGE_NAME = re.compile(r"^[0-9]{1,20}-[0-9]{1,10}[.]json$")


def messages(names):
    """The message names among a directory's ``names``, oldest first (the names start with
    the time they were written)."""
    found = [n for n in names if MESSAGE_NAME.match(n)]
    return sorted(found, key=lambda n: (int(n.split("-", 1)[0]), n))


def parse(raw, tags):
    """``(tag, data)`` of a message's bytes ``raw``; ValueError naming what is wrong when it
    is too long, not JSON, not ``{"tag", "data"}``, or its tag is not one of ``tags``."""
    if len(raw) > MAX_MESSAGE:
        raise ValueError(f"longer than {MAX_MESSAGE} bytes")
    try:
        message = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ValueError(f"not JSON: {exc}") from None
    if not isinstance(message, dict) or set(message) != {"tag", "data"}:
        raise ValueError('not an object with exactly "tag" and "data"')
    tag, data = message["tag"], message["data"]
    if not isinstance(tag, str) or tag not in tags:
        raise ValueError(f"tag {str(tag)[:80]!r} is not one this outbox sends ({', '.join(sorted(tags))})")
    if not isinstance(data, dict):
        raise ValueError(f"data is a {type(data).__name__}, not an object")
    return tag, data
