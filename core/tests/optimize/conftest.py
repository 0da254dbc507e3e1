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
    monkeypatch.setenv("TSYS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("TSYS_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    # no tsys.toml: the built-in configuration reads the demo market, so studies and params
    # go to the demo sandbox of the data dir
    return tmp_path / "data" / "demo"


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
