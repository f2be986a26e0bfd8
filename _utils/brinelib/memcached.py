"""
memcached on the controllers (Keystone's token cache; docs/rabbitmq.md): the inventory's
``memcached:`` settings, their rules, and ``/etc/memcached.conf``.
"""

# The inventory's brine:memcached, every key optional.
DEFAULTS = {"port": 11211, "memory_mb": 64, "max_connections": 1024}
KEYS = tuple(DEFAULTS)
LIMITS = {"port": (1024, 65535), "memory_mb": (16, 65536), "max_connections": (16, 65536)}


def check(spec):
    """``[(path, message)]`` for the inventory's ``memcached:`` (paths relative to ``brine:``)."""
    if not isinstance(spec, dict):
        return [("memcached", f"{spec!r} is not a mapping")]
    problems = [(f"memcached:{key}", f"unknown key; expected one of {', '.join(KEYS)}") for key in spec if key not in KEYS]
    for key, (low, high) in LIMITS.items():
        value = spec.get(key, DEFAULTS[key])
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            problems.append((f"memcached:{key}", f"{value!r} is not a whole number {low}-{high}"))
    return problems


def settings(inventory):
    """The inventory's ``memcached:`` with the defaults filled in."""
    return {**DEFAULTS, **((inventory or {}).get("memcached") or {})}


def render_config(address, port=11211, memory_mb=64, max_connections=1024):
    """The text of ``/etc/memcached.conf`` (Debian's wrapper reads one option per line):
    TCP on ``address`` only, no UDP."""
    return "\n".join([
        "# Managed by Salt (Brine: salt/memcached). memcached on this controller.",
        "-u memcache",
        "-P /var/run/memcached/memcached.pid",
        "logfile /var/log/memcached.log",
        f"-l {address}",
        f"-p {int(port)}",
        "-U 0",
        f"-m {int(memory_mb)}",
        f"-c {int(max_connections)}",
        "",
    ])
