"""
Brine's virtual lab (docs/lab.md). It reads the inventory with Brine's own inventory module
(_modules/brine_inventory.py, which imports _utils/brinelib) from this checkout, so importing the
package makes both importable in this process, as pytest.ini's ``pythonpath`` does for the tests.
Not through PYTHONPATH: the salt-master and salt commands the lab starts would inherit it.
"""

import sys
from pathlib import Path

for _root in (Path(__file__).resolve().parents[1] / name for name in ("_utils", "_modules")):
    if str(_root) not in sys.path:
        sys.path.append(str(_root))
