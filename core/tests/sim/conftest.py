"""Simulator tests run under the implementation TSYS_SIM selects (cython unless set)."""

import os
import sys
from pathlib import Path

# the property tests share sim_scenarios; importlib mode needs the folder on the path
sys.path.insert(0, str(Path(__file__).parent))


def pytest_report_header(config):
    impl = os.environ.get("TSYS_SIM", "cython") or "cython"
    return f"tsys simulator implementation: {impl} (TSYS_SIM={os.environ.get('TSYS_SIM', '')!r})"
