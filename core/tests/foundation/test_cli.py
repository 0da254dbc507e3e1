"""The CLI shell: help, version, the error boundary and start-up cost."""

from __future__ import annotations

import subprocess
import sys

from click.testing import CliRunner

from tsys import __version__
from tsys.cli import COMMANDS, cli


def test_version():
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0 and __version__ in result.output


def test_help_lists_every_group_and_short_flag():
    result = CliRunner().invoke(cli, ["-h"])
    assert result.exit_code == 0
    for name in COMMANDS:
        assert name in result.output


def test_unknown_command_is_a_usage_error():
    result = CliRunner().invoke(cli, ["frobnicate"])
    assert result.exit_code == 2


def test_help_does_not_import_heavy_libraries():
    code = (
        "import sys\n"
        "from tsys.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('pandas', 'numpy', 'optuna', 'peewee', 'alpaca', 'exchange_calendars',"
        " 'starlette', 'uvicorn') if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "HEAVY []" in out.stdout, out.stdout + out.stderr


def test_dashboard_help_does_not_import_the_web_stack():
    code = (
        "import sys\n"
        "from tsys.cli import main\n"
        "try:\n    main(['dashboard', '--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('starlette', 'uvicorn', 'pandas', 'peewee') if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "--token" in out.stdout and "127.0.0.1" in out.stdout, out.stdout
    assert "HEAVY []" in out.stdout, out.stdout + out.stderr


def test_metrics_table_formats_each_column_by_kind():
    """The named-rows metrics table of `tsys research` and `tsys ml`: one column per
    metric key, in the order given, headed and formatted by METRIC_COLUMNS; a missing metric
    reads n/a."""
    import io

    from rich.console import Console

    from tsys.cli._table import metrics_table

    rows = [("bucket", {"cagr": 0.1234, "sharpe": 1.234, "trades": 12}), ("anchor", {})]
    out = io.StringIO()
    Console(file=out, width=100).print(metrics_table("oos", rows, ("cagr", "sharpe", "trades")))
    lines = out.getvalue().splitlines()
    assert [c.strip() for c in lines[2].split("┃")[1:-1]] == ["", "CAGR", "Sharpe", "trades"]
    bucket = next(line for line in lines if "bucket" in line)
    assert [c.strip() for c in bucket.split("│")[1:-1]] == ["bucket", "12.34%", "1.23", "12"]
    anchor = next(line for line in lines if "anchor" in line)
    assert [c.strip() for c in anchor.split("│")[1:-1]] == ["anchor", "n/a", "n/a", "n/a"]


def test_objective_choices_are_the_evaluators():
    """`--objective` (optimize, research) offers what the evaluator scores; the CLI keeps its
    own list so that `tsys --help` does not import numpy."""
    from tsys.cli._options import OBJECTIVES
    from tsys.optimize.evaluate import OBJECTIVES as SCORED

    assert tuple(OBJECTIVES) == tuple(SCORED)
