"""Issue 22, "real data, first day": every command that reads bars chooses them the same way
(--source, --path, --shared-data), and a daily run never uses the demo market unasked."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from tsys.cli import cli
from tsys.cli._options import DATA_COMMANDS
from tsys.data import calendars

AS_OF = "2024-06-28"
ETFS = ("SPY", "XLK", "XLE", "XLF", "XLV")


def tsys(*args: str, code: int = 0):
    res = CliRunner().invoke(cli, list(args))
    assert res.exit_code == code, res.output
    return res


def _commands() -> dict[str, object]:
    """Every click command of DATA_COMMANDS (the data group's subcommands one by one)."""
    import click

    ctx = click.Context(cli)
    out = {}
    for name in DATA_COMMANDS:
        cmd = cli.get_command(ctx, name)
        if isinstance(cmd, click.Group):
            for sub, c in cmd.commands.items():
                out[f"{name} {sub}"] = c
        else:
            out[name] = cmd
    return out


def _option(cmd, dest: str) -> dict:
    (p,) = [p for p in cmd.params if p.name == dest]
    return {
        "opts": p.opts,
        "help": p.help,
        "multiple": p.multiple,
        "flag_value": getattr(p, "flag_value", None),
        "callback": getattr(p.callback, "__name__", None),
        "metavar": p.metavar,
    }


@pytest.mark.parametrize("dest", ["source", "path", "shared_data"])
def test_data_options_are_the_same_on_every_command(dest):
    cmds = _commands()
    assert {"run-daily", "backtest", "optimize", "validate", "research", "portfolio"} <= set(cmds)
    assert any(k.startswith("data ") for k in cmds)
    first = _option(cmds["run-daily"], dest)
    for name, cmd in cmds.items():
        assert _option(cmd, dest) == first, name


def _market(folder: Path) -> Path:
    folder.mkdir()
    days = calendars.sessions("2021-01-04", AS_OF)
    for s in ETFS:
        rng = np.random.default_rng(sum(map(ord, s)))
        close = 100 * np.exp(np.cumsum(rng.normal(0.0004, 0.01, len(days))))
        rows = [
            f"{d:%Y-%m-%d},{c:.4f},{c * 1.01:.4f},{c * 0.99:.4f},{c:.4f},1000000"
            for d, c in zip(days, close, strict=True)
        ]
        (folder / f"{s}.csv").write_text("date,open,high,low,close,volume\n" + "\n".join(rows))
    return folder


def test_run_daily_without_a_source_refuses_the_demo_and_shows_three_ways(isolated):
    res = tsys("run-daily", "--as-of", AS_OF, "--dry-run", code=3)
    text = res.output
    assert "would use the synthetic demo market" in text
    assert "tsys config init --preset alpaca-crypto" in text
    assert "--shared-data DIR" in text and "tsys run-daily --demo" in text
    assert not (isolated / "data" / "demo" / "runs").exists()


def test_demo_asked_for_still_runs(isolated):
    out = json.loads(tsys("run-daily", "--demo", "--as-of", AS_OF, "--dry-run", "--json").stdout)
    assert out["run"]["synthetic_data"] is True
    (isolated / "tsys.toml").write_text('[data]\nsource = "demo"\n')
    out = json.loads(tsys("run-daily", "--as-of", AS_OF, "--dry-run", "--json").stdout)
    assert out["run"]["synthetic_data"] is True
    tsys("run-daily", "--demo", "--source", "csv", "--dry-run", code=3)


def test_run_daily_path_and_data_commands_read_the_same_folder(isolated):
    folder = _market(isolated / "prices")
    (isolated / "tsys.toml").write_text(
        '[buckets.sp500]\nparams = { mode = "etf" }\n[buckets.crypto]\nenabled = false\n'
    )
    out = json.loads(
        tsys(
            "run-daily",
            "--buckets",
            "sp500",
            "--path",
            str(folder),
            "--as-of",
            AS_OF,
            "--dry-run",
            "--json",
        ).stdout
    )
    (bucket,) = out["run"]["buckets"]
    assert out["run"]["synthetic_data"] is False and bucket["error"] is None, bucket
    bars = json.loads(
        tsys("data", "bars", "SPY", "--path", str(folder), "--end", AS_OF, "--json").stdout
    )
    assert bars  # the same folder through `data`
    res = tsys("run-daily", "--source", "demo", "--path", str(folder), "--dry-run", code=3)
    assert "--path applies to the csv source" in res.output
    res = tsys("portfolio", "--shared-data", str(folder), "--path", str(folder), code=3)
    assert "--shared-data already chooses the data" in res.output


def test_shared_data_on_run_daily(isolated):
    shared = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
    if not (shared / "equities").is_dir():
        pytest.skip("../shared/data is absent")
    (isolated / "tsys.toml").write_text(
        '[buckets.sp500]\nparams = { mode = "etf" }\n[buckets.crypto]\nenabled = false\n'
    )
    out = json.loads(
        tsys(
            "run-daily", "--buckets", "sp500", "--shared-data", str(shared), "--as-of", "2019-12-31", "--dry-run",
            "--json",
        ).stdout
    )  # fmt: skip
    (bucket,) = out["run"]["buckets"]
    assert bucket["error"] is None and out["run"]["synthetic_data"] is False
