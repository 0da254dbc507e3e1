from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

HERE = Path(__file__).resolve().parent


@pytest.fixture
def toy_path(monkeypatch):
    """Make ``toy_objective`` importable here and in spawned workers."""
    monkeypatch.syspath_prepend(str(HERE))
    monkeypatch.setenv("PYTHONPATH", str(HERE))
    return HERE


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    d = tmp_path / "data"
    monkeypatch.setenv("TSYS_DATA_DIR", str(d))
    monkeypatch.delenv("TSYS_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    return d


@pytest.fixture
def run_optimize(toy_path, data_dir):
    from tsys.cli import cli

    def run(*args: str, kwargs: dict | None = None, ok: bool = True):
        argv = [
            "optimize",
            "toy",
            "--objective-module",
            "toy_objective:make",
            "--objective-kwargs",
            json.dumps(kwargs or {}),
            "--seed",
            "1",
            *args,
        ]
        res = CliRunner().invoke(cli, argv, catch_exceptions=not ok)
        if ok:
            assert res.exit_code == 0, res.output
        return res

    return run
