"""Kernel tests: each test module's fixtures boot UML guests through kernel_scenarios.run_scenario.
Helpers live in importable modules next to this file (never imported from a conftest)."""

import sys
from pathlib import Path

# uml_guest, kernel_scenarios and dualbond_driver sit next to the test files.
sys.path.insert(0, str(Path(__file__).resolve().parent))
