"""Cross-package integration fixtures: an isolated data dir and config lookup per test."""

from __future__ import annotations

import os

import pytest


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """Run tsys in an empty folder with its own data dir and no user configuration."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TSYS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    for key in list(os.environ):
        if key.startswith("TSYS__") or key in ("TSYS_CONFIG", "TSYS_DATABASE_URL"):
            monkeypatch.delenv(key)
    return tmp_path
