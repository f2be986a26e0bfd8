"""
Which values are secrets, and how they are shown: masked. nova.conf diffs (nova_console) and
the dump of the resolved settings (brine_mapdata) follow the same rule.
"""

import re

MASK = "****"
# Names whose value is a secret: password, passwd, secret, token, credential, a key (api_key,
# secret_key, ...: key as a word of the name, not keymap or keystone).
_SECRET_KEY = re.compile(r"(passw(or)?d|secret|token|credential|(^|[_.-])(key|keys)($|[_.-]))", re.IGNORECASE)
# user:password@ in a URL's authority; transport_url lists several hosts (u:p@h1,u:p@h2).
_URL_USERINFO = re.compile(r"(://|,)([^:/@,\s]*):[^@\s]*?@")
# password=... and the like in a URL query (SQLAlchemy and oslo accept them there too).
_URL_QUERY_SECRET = re.compile(r"([?&;](?:[A-Za-z_]*(?:passw(?:or)?d|secret|token|key)[A-Za-z_]*)=)[^&;#\s]*",
                               re.IGNORECASE)


def secret_key(key):
    """Whether an option or setting named ``key`` holds a secret (its value is never shown)."""
    return bool(_SECRET_KEY.search(str(key)))


def mask_urls(text):
    """``text`` with the passwords of any URLs in it (``scheme://user:pass@host``) masked."""
    text = _URL_USERINFO.sub(lambda m: f"{m.group(1)}{m.group(2)}:{MASK}@", str(text))
    return _URL_QUERY_SECRET.sub(lambda m: m.group(1) + MASK, text)


def masked(data):
    """
    A copy of ``data`` (dicts, lists, scalars, as YAML gives them) safe to show: the whole value
    of every key that names a secret is MASK (a mapping or list under it too), and the
    password of every URL in a string is masked. Everything else is kept as it is.
    """
    if isinstance(data, dict):
        return {key: MASK if secret_key(key) and value not in (None, "") else masked(value)
                for key, value in data.items()}
    if isinstance(data, (list, tuple)):
        return [masked(item) for item in data]
    if isinstance(data, str):
        return mask_urls(data)
    return data
