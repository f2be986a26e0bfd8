"""The master options Brine reads (etc/master), checked: a wrong value is named, never guessed."""

from brinelib.events import shown


def size_option(opts, name, default):
    """A master option that must be a positive integer, or ValueError naming it."""
    value = opts.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"master option {name}: {shown(value)} is not a positive integer")
    return value


def highstate_on_start(opts):
    """The master option ``brine_highstate_on_start`` (default True) as a bool."""
    value = opts.get("brine_highstate_on_start", True)
    return value is True or str(value).strip().lower() in ("true", "yes", "on", "1")
