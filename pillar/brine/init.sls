#!py
"""
The whole lab inventory, under one key, identical for every minion: states pick their own host
by minion id through the brine_inventory execution module. Point `brine_inventory_file` (minion
or master config) at another YAML file under the pillar roots to use your own lab.

A file that is missing or not valid YAML gives no `brine` key but one line in the pillar's
`_errors` (Salt stops every state run on it; brine_inventory.validate prints it): the file, the
line and column, and the YAML problem.
"""

import os

from salt.utils import yaml as salt_yaml  # `salt` itself is the renderer's __salt__ here

DEFAULT_FILE = "brine/example-lab.yaml"


def _where(mark):
    return f"line {mark.line + 1}, column {mark.column + 1}"


def yaml_problem(path, exc):
    """One line: the file, where, and what YAML found wrong."""
    mark = getattr(exc, "problem_mark", None)
    if mark is None:
        return f"inventory file {path}: not valid YAML: {' '.join(str(exc).split())}"
    problem = " ".join(str(exc.problem or "syntax error").split())
    context = getattr(exc, "context", None)
    if context and getattr(exc, "context_mark", None) is not None and exc.context_mark.line != mark.line:
        problem += f" ({' '.join(context.split())} at {_where(exc.context_mark)})"
    elif context:
        problem += f" ({' '.join(context.split())})"
    return f"inventory file {path}, {_where(mark)}: YAML syntax error: {problem}"


def run():
    rel = __salt__["config.get"]("brine_inventory_file", DEFAULT_FILE)
    roots = __opts__.get("pillar_roots", {}).get(saltenv, [])
    for root in roots:
        path = os.path.join(root, rel)
        if os.path.isfile(path):
            break
    else:
        return {"_errors": [f"inventory file {rel} not found under the pillar roots ({', '.join(roots) or 'none'})"]}
    try:
        with open(path, encoding="utf-8") as fh:
            inventory = salt_yaml.safe_load(fh)
    except salt_yaml.YAMLError as exc:
        return {"_errors": [yaml_problem(path, exc)]}
    except (OSError, UnicodeDecodeError) as exc:
        return {"_errors": [f"inventory file {path}: cannot be read ({exc})"]}
    return {"brine": inventory}
