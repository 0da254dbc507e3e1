"""Simulator tests run under the implementation TSYS_SIM selects (cython unless set)."""

import os


def pytest_report_header(config):
    impl = os.environ.get("TSYS_SIM", "cython") or "cython"
    return f"tsys simulator implementation: {impl} (TSYS_SIM={os.environ.get('TSYS_SIM', '')!r})"
