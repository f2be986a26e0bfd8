#!py
"""
The whole lab inventory, under one key, identical for every minion: states pick their own host
by minion id through the brine_inventory execution module. Point `brine_inventory_file` (minion
or master config) at another YAML file under the pillar roots to use your own lab.

A file that is missing or not valid YAML gives no `brine` key but one line in the pillar's
`_errors` (Salt stops every state run on it; brine_inventory.validate prints it): the file, the
line and column, and the YAML problem.

`brine_settings_file` (minion or master config, a path under the pillar roots; unset: none)
names a YAML file of formula settings given as pillar `brine_settings` (README.md, "Settings"),
read the same way.
"""

import os

from salt.utils import yaml as salt_yaml  # `salt` itself is the renderer's __salt__ here

DEFAULT_FILE = "brine/example-lab.yaml"


def _where(mark):
    return f"line {mark.line + 1}, column {mark.column + 1}"


def yaml_problem(path, exc, what="inventory"):
    """One line: the file, where, and what YAML found wrong."""
    mark = getattr(exc, "problem_mark", None)
    if mark is None:
        return f"{what} file {path}: not valid YAML: {' '.join(str(exc).split())}"
    problem = " ".join(str(exc.problem or "syntax error").split())
    context = getattr(exc, "context", None)
    if context and getattr(exc, "context_mark", None) is not None and exc.context_mark.line != mark.line:
        problem += f" ({' '.join(context.split())} at {_where(exc.context_mark)})"
    elif context:
        problem += f" ({' '.join(context.split())})"
    return f"{what} file {path}, {_where(mark)}: YAML syntax error: {problem}"


def _load(rel, what):
    """``(data, None)`` of the YAML file ``rel`` under the pillar roots, or ``(None, problem)``."""
    roots = __opts__.get("pillar_roots", {}).get(saltenv, [])
    for root in roots:
        path = os.path.join(root, rel)
        if os.path.isfile(path):
            break
    else:
        return None, f"{what} file {rel} not found under the pillar roots ({', '.join(roots) or 'none'})"
    try:
        with open(path, encoding="utf-8") as fh:
            return salt_yaml.safe_load(fh), None
    except salt_yaml.YAMLError as exc:
        return None, yaml_problem(path, exc, what)
    except (OSError, UnicodeDecodeError) as exc:
        return None, f"{what} file {path}: cannot be read ({exc})"


def run():
    inventory, problem = _load(__salt__["config.get"]("brine_inventory_file", DEFAULT_FILE), "inventory")
    if problem:
        return {"_errors": [problem]}
    out = {"brine": inventory}
    settings_file = __salt__["config.get"]("brine_settings_file", "")
    if settings_file:
        settings, problem = _load(settings_file, "settings")
        if problem:
            return {"_errors": [problem]}
        if not isinstance(settings, dict):
            return {"_errors": [f"settings file {settings_file}: not a mapping of feature settings"]}
        out["brine_settings"] = settings
    return out
