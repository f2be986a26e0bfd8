"""
The benchmarks run as scripts (``.venv/bin/python benchmarks/NAME.py``) and import from the
checkout as the tests do. Importing this module first puts the tests' import path (pytest.ini's
``pythonpath``, read by brine_testlib) ahead of benchmarks/ on sys.path, so benchmarks/lab.py
does not hide the lab package.
"""

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

sys.path.insert(0, str(REPO / "tests"))
from brine_testlib import IMPORT_PATH  # noqa: E402

sys.path[:1] = IMPORT_PATH
