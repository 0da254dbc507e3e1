"""The orchestrator on top (issue 14.1): stages under one run-scoped context, imports downward."""

from __future__ import annotations

import ast
import datetime as dt
from pathlib import Path

import pytest

import tsys
from tsys.testing.isolation import isolate

ROOT = Path(tsys.__file__).parent


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports, lazy imports (inside functions) included."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
            out.update(f"{node.module}.{a.name}" for a in node.names)
    return out


def _package_of(path: Path) -> str:
    return path.relative_to(ROOT).parts[0].removesuffix(".py")


def test_nothing_below_daily_imports_daily_and_nothing_imports_cli():
    offenders = []
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        package = _package_of(path)
        for name in _imports(path):
            parts = name.split(".")
            if parts[0] != "tsys" or len(parts) < 2:
                continue
            target = parts[1]
            # above daily (docs/architecture.md): the dashboard and the command line
            if target == "daily" and package not in ("daily", "dashboard", "cli"):
                offenders.append(f"{rel} imports {name}")
            # the program's entry point (python -m tsys) is the one module above the CLI
            if target == "cli" and package != "cli" and rel != "__main__.py":
                offenders.append(f"{rel} imports {name}")
    assert offenders == []


@pytest.fixture
def demo_env(tmp_path, monkeypatch):
    return isolate(monkeypatch, tmp_path)


def test_a_paper_run_opens_the_store_once_and_takes_its_decision_time_once(demo_env, monkeypatch):
    import tsys.daily.asof as asof
    import tsys.store as store_module
    from tsys.config import Config
    from tsys.daily.pipeline import run_daily

    opened, timed = [], []
    real_open, real_time = store_module.open_store, asof.decision_time

    def counting_open(*args, **kwargs):
        opened.append(args)
        return real_open(*args, **kwargs)

    def counting_time(dates):
        timed.append(dates)
        return real_time(dates)

    monkeypatch.setattr(store_module, "open_store", counting_open)
    monkeypatch.setattr(asof, "decision_time", counting_time)
    out = run_daily(
        Config(),
        demo=True,
        as_of=dt.date(2024, 3, 12),
        buckets=["sp500"],
        paper=True,
        send=False,
    )
    assert out.exit_code == 0, out.messages
    assert out.run.orders, "the demo sp500 bucket buys on 2024-03-12"
    assert len(opened) == 1
    assert len(timed) == 1 and out.run.created_at == real_time(timed[0])
