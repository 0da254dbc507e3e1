"""Issue 21: the last items of the reliability family.

* 21.16: bad prices (inf, 1e12, garbage, splits, far dates) on the benchmark or another symbol
  print no numpy/pandas warning: every run here turns warnings into errors, so a stray
  RuntimeWarning or UserWarning fails the command (and the test).
* 21.5: a bucket that fails for its data beside one that works: exit 10, the working bucket's
  plan is delivered, the failed one is named.
* 21.13: an edited stop past the entry is accepted (a trailed stop) and said, never silently.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from tsys.cli import cli

from .test_bad_data import AS_OF, BAD_VALUES, _rows, _write, market  # noqa: F401

NO_WARNINGS = pytest.mark.filterwarnings("error::RuntimeWarning", "error::UserWarning")


@NO_WARNINGS
@pytest.mark.parametrize("symbol", ["SPY", "XLK"])
@pytest.mark.parametrize("case", list(BAD_VALUES))
def test_bad_prices_are_named_without_a_python_warning(market, case, symbol):  # noqa: F811
    make, rule = BAD_VALUES[case]
    _write(market, symbol, make(_rows(symbol)))
    res = CliRunner().invoke(cli, ["data", "validate", "--path", str(market), "--strict"])
    assert res.exit_code == 4, res.output
    assert rule in res.output and "Warning" not in res.output


@NO_WARNINGS
@pytest.mark.parametrize(
    ("case", "symbol", "code"),
    [
        ("inf on the last bar", "SPY", 4),
        ("inf on the last bar", "XLK", 0),
        ("every value x", "SPY", 4),
        ("1e12 close on the last bar", "XLE", 0),
    ],
)
def test_daily_run_and_backtest_on_bad_prices_warn_nothing(market, case, symbol, code):  # noqa: F811
    make, _rule = BAD_VALUES[case]
    _write(market, symbol, make(_rows(symbol)))
    run = CliRunner().invoke(cli, ["run-daily", "--as-of", AS_OF, "--no-send"])
    assert run.exit_code == code, run.output
    assert "Warning" not in run.output and "Traceback" not in run.output
    bt = CliRunner().invoke(cli, ["backtest", "sp500", "--start", "2023-01-03", "--json"])
    assert bt.exit_code == (0 if symbol != "SPY" else bt.exit_code), bt.output
    assert "Traceback" not in bt.output


def test_a_failed_bucket_beside_a_working_one_is_exit_10_and_the_plan_is_delivered(market):  # noqa: F811
    """21.5: SPY unreadable fails sp500; the crypto bucket (demo market) still plans and its
    newsletter is delivered (the file notifier); the day is partial: exit 10."""
    (market / "SPY.csv").write_bytes(b"")
    days = pd.date_range("2021-01-01", AS_OF, freq="D")
    for k, coin in enumerate(("BTC-USD", "ETH-USD", "SOL-USD", "ADA-USD")):
        rng = np.random.default_rng(k)
        close = 100 * np.exp(np.cumsum(rng.normal(0.001, 0.03, len(days))))
        rows = [
            f"{d:%Y-%m-%d},{c:.4f},{c * 1.02:.4f},{c * 0.98:.4f},{c:.4f},1000000"
            for d, c in zip(days, close, strict=True)
        ]
        _write(market, coin, rows)
    (market.parent / "tsys.toml").write_text(
        f'[data]\nsource = "csv"\npath = "{market}"\n'
        '[buckets.sp500]\nparams = { mode = "etf" }\n[buckets.lowfloat]\nenabled = false\n'
    )
    res = CliRunner().invoke(cli, ["run-daily", "--as-of", AS_OF])
    assert res.exit_code == 10, res.output
    text = " ".join(res.output.split())
    assert "benchmark SPY has no usable data" in text and "SPY.csv: is empty" in text
    run_dir = market.parent / "data" / "runs" / AS_OF
    run = json.loads((run_dir / "run.json").read_text())
    assert [d["plugin"] for d in run["deliveries"] if d["ok"]] == ["file"]
    status = {b["bucket"]: b for b in run["buckets"]}
    assert status["crypto"]["error"] is None and status["crypto"]["plans"]
    assert "benchmark SPY has no usable data" in status["sp500"]["error"]
    newsletter = (run_dir / "newsletter.txt").read_text()
    crypto_plans = {p["allocation"]["signal"]["symbol"] for p in status["crypto"]["plans"]}
    assert any(sym in newsletter for sym in crypto_plans)
    assert "benchmark SPY has no usable data" in " ".join(newsletter.split())


def test_an_edited_stop_past_the_entry_is_set_and_said(isolated):
    add = ["trades", "add", "IBM", "--side", "buy", "--qty", "1", "--price", "100"]
    assert CliRunner().invoke(cli, [*add, "--date", "2024-05-02"]).exit_code == 0
    refused = CliRunner().invoke(cli, [*add, "--date", "2024-05-03", "--stop", "101"])
    assert refused.exit_code != 0 and "at or above the entry" in refused.output
    trailed = CliRunner().invoke(cli, ["trades", "edit", "M-1", "--stop", "120", "--json"])
    assert trailed.exit_code == 0, trailed.output
    assert json.loads(trailed.stdout)["stop"] == 120.0
    said = " ".join(trailed.stderr.split())
    assert "the stop 120.00 is at or above the entry 100.00 of a long position" in said
    assert "locks in a gain while the price stays above it" in said
