"""
The inventory file as the master's ``#!py`` renders other than pillar/brine/init.sls read it
(the reactors and pillars that decide by it: pillar files do not see each other's output, and
a reactor has no pillar): ``brine_inventory_file`` (master option, default the example lab)
under the pillar roots of ``saltenv``. An unreadable or invalid file gives ``{}``: whoever
decides by it then decides nothing (``brine_inventory.validate`` reports the file).
"""

import os

import yaml

DEFAULT_FILE = "brine/example-lab.yaml"


def load(opts, saltenv="base"):
    """The inventory mapping the master's ``opts`` point at, or ``{}``."""
    rel = opts.get("brine_inventory_file") or DEFAULT_FILE
    for root in (opts.get("pillar_roots") or {}).get(saltenv) or []:
        path = os.path.join(root, rel)
        if os.path.isfile(path):
            try:
                with open(path, encoding="utf-8") as fh:
                    loaded = yaml.safe_load(fh)
            except (OSError, UnicodeDecodeError, yaml.YAMLError):
                return {}
            return loaded if isinstance(loaded, dict) else {}
    return {}
