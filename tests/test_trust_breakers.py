"""Issue 13.7, smaller trust breakers: tables that never cut what matters, scripts that get the
stored record, warnings on suspicious trades, honest reports, clear errors and exit codes."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from tsys.cli import cli


def tsys(*args: str, ok: bool = True):
    res = CliRunner().invoke(cli, list(args))
    if ok:
        assert res.exit_code == 0, res.output
    return res


def test_trust_tables_never_truncate_ids_symbols_or_amounts(isolated):
    trades = [
        ("SHIB-USD", "12345678", "0.00002345", "0.00001999"),
        ("BTC-USD", "0.00012345", "43210.5", "41000"),
        ("BRK-B", "3", "412.1234", "400"),
    ]
    for sym, qty, px, stop in trades:
        tsys("trades", "add", sym, "--side", "buy", "--qty", qty, "--price", px,
             "--date", "2024-01-02", "--stop", stop)  # fmt: skip
    tsys("trades", "close", "M-000003", "--price", "420.55", "--date", "2024-02-01")
    out = tsys("trades", "list").stdout  # not a terminal: 80 columns
    lines = out.splitlines()
    assert all(len(line) <= 80 for line in lines)
    for i, (sym, *_) in enumerate(trades, 1):
        row = next(line for line in lines if line.startswith(f"M-00000{i} "))
        assert f" {sym} " in row
        assert "…" not in row and "e-0" not in row
    assert " 12,345,678 " in out and " 0.00012345 " in out and " 0.00002345 " in out
    assert " 43,210.50 " in out and " 412.12 " in out and " 0.00001999 " in out
    assert " 25.28\n" in out  # realised: 3 x (420.55 - 412.1234), to the cent
    # a column left out is named, never silently gone
    assert "left out to fit 80 columns; --json has all" in out


def test_trust_trades_json_prints_the_stored_record(isolated):
    add = "trades add AAPL --side buy --qty 10 --price 190.5 --date 2024-06-03 --json"
    added = json.loads(tsys(*add.split()).stdout)
    assert added["id"] == "M-000001" and added["quantity"] == 10.0 and added["stop"] is None
    edited = json.loads(tsys("trades", "edit", added["id"], "--stop", "180", "--json").stdout)
    assert edited["id"] == added["id"] and edited["stop"] == 180.0
    close = f"trades close {added['id']} --price 200 --date 2024-06-10 --qty 4 --json"
    closed = json.loads(tsys(*close.split()).stdout)
    assert closed["quantity"] == 6.0 and closed["realized_pnl"] == pytest.approx(38.0)
    assert json.loads(tsys("trades", "show", added["id"], "--json").stdout) == closed


def test_trust_trades_add_refuses_wrong_side_stop_and_warns_on_duplicates(isolated):
    # issue 21.13: a new long's stop above its entry is refused, not stored with a warning
    res = tsys("trades", "add", "AAPL", "--side", "buy", "--qty", "10", "--price", "190",
               "--date", "2024-06-03", "--stop", "195", ok=False)  # fmt: skip
    assert res.exit_code == 2
    assert "the stop 195 is at or above the entry 190 of a long position" in res.output
    short = tsys("trades", "add", "TSLA", "--side", "sell", "--qty", "5", "--price", "200",
                 "--date", "2024-06-03", "--stop", "190", ok=False)  # fmt: skip
    assert "at or below the entry 200 of a short position" in short.output
    fine = tsys("trades", "add", "MSFT", "--side", "buy", "--qty", "1", "--price", "400",
                "--date", "2024-06-03", "--stop", "380")  # fmt: skip
    assert "stop" not in fine.stderr and "identical" not in fine.stderr
    twin = tsys("trades", "add", "MSFT", "--side", "buy", "--qty", "1", "--price", "400",
                "--date", "2024-06-03", "--stop", "380")  # fmt: skip
    assert "an identical trade is already stored as M-000001" in twin.stderr
    assert "tsys trades delete M-000002" in twin.stderr
    assert "at or above" not in tsys("trades", "edit", "M-000001", "--stop", "385").stderr
    # a trailed stop above the entry is set by edit, with the warning
    assert "at or above" in tsys("trades", "edit", "M-000001", "--stop", "400").stderr


@pytest.mark.parametrize(
    ("args", "wrong", "meant"),
    [
        (("backtest", "sp50", "--source", "demo"), "bucket 'sp50'", "sp500"),
        (("optimize", "cryptoo", "--source", "demo"), "bucket 'cryptoo'", "crypto"),
        (("validate", "sp5", "--source", "demo"), "bucket 'sp5'", "sp500"),
        (("backtest", "sp500", "--source", "dmo"), "data source 'dmo'", "demo"),
        (("run-daily", "--demo", "--buckets", "sp500,crypt"), "bucket 'crypt'", "crypto"),
        (("data", "bars", "SPY", "--source", "csvv"), "data source 'csvv'", "csv"),
    ],
)
def test_trust_unknown_name_is_a_usage_error(isolated, args, wrong, meant):
    res = tsys(*args, ok=False)
    assert res.exit_code == 2, res.output
    assert f"unknown {wrong}" in res.output and f"did you mean {meant!r}?" in res.output
    assert "Usage:" in res.output


def test_trust_holdout_error_names_the_flag(isolated):
    res = tsys("backtest", "crypto", "--source", "demo", "--split", "holdout", ok=False)
    assert res.exit_code == 3
    assert (
        "needs --allow-holdout" in res.output
        and "allow_holdout=True" not in res.output.split("hint")[0]
    )


def test_trust_stale_source_says_when_its_data_ends(isolated):
    folder = isolated / "prices"
    folder.mkdir()
    idx = pd.bdate_range("2018-01-01", "2019-12-31")
    for sym in ("SPY", "AAA"):
        c = np.linspace(100, 130, len(idx))
        pd.DataFrame(
            {"date": idx.strftime("%Y-%m-%d"), "open": c, "high": c * 1.01, "low": c * 0.99,
             "close": c, "volume": 1e6}
        ).to_csv(folder / f"{sym}.csv", index=False)  # fmt: skip
    (isolated / "tsys.toml").write_text(
        f'[data]\nsource = "csv"\npath = "{folder}"\n[buckets.crypto]\nenabled = false\n'
    )
    res = tsys("run-daily", "--as-of", "2026-12-04", "--no-send", ok=False)
    assert res.exit_code == 4
    assert "CSV data ends 2019-12-31; as-of 2026-12-04 needs bars up to that day" in res.output


def test_trust_crypto_data_line_names_the_crypto_data(tmp_path):
    from tsys.data.csv import CsvSource

    eq, cr = tmp_path / "equities", tmp_path / "crypto"
    for folder, sym in ((eq, "SPY"), (cr, "BTC-USD")):
        folder.mkdir()
        pd.DataFrame(
            {"date": ["2021-01-04", "2021-01-05"], "open": 1.0, "high": 1.0, "low": 1.0,
             "close": 1.0, "volume": 1.0}
        ).to_csv(folder / f"{sym}.csv", index=False)  # fmt: skip
    src = CsvSource([eq, cr])
    line = src.bars(["BTC-USD"], None, pd.Timestamp("2021-01-05").date()).source
    assert line == f"csv {cr} (crypto volume in quote units)"
    both = src.bars(None, None, pd.Timestamp("2021-01-05").date()).source
    assert str(eq) in both and str(cr) in both


def test_trust_backtest_report_one_trade_count_and_plain_quantities(isolated):
    res = tsys("backtest", "crypto", "--source", "demo", "--start", "2022-01-01",
               "--end", "2022-12-31", "--json", "--report", "r.html")  # fmt: skip
    payload = json.loads(res.stdout[res.stdout.index("{") :])
    m = payload["metrics"]
    still = sum(1 for t in payload["trades"] if t["exit_reason"] == "open")
    assert m["trades"] + m["open_trades"] == len(payload["trades"]) and m["open_trades"] == still
    html = (isolated / "r.html").read_text()
    table = html[html.index('id="trades"') :]
    assert not re.search(r"\d[eE][-+]\d", table)  # no 1.2e-05 anywhere in the trades
    assert f"{int(m['trades'])} closed trade" in html and f"and {still} still open" in html
    printed = tsys("backtest", "crypto", "--source", "demo", "--start", "2022-01-01",
                   "--end", "2022-12-31").stdout  # fmt: skip
    assert "Trades (closed)" in printed and "Trades still open at the end" in printed


def test_trust_drawdown_axis_ends_at_zero():
    from tsys.metrics import drawdown_curve as drawdown
    from tsys.report.html import line_chart

    dates = [f"2024-01-0{i}" for i in range(1, 5)]
    for curve in ([100.0, 100.0, 100.0, 100.0], [100.0, 99.8, 99.9, 100.2], [100, 70, 90, 95]):
        svg = str(
            line_chart(dates, [("p", drawdown(curve), "#000")], percent=True, fill_to_zero=True)
        )
        ticks = re.findall(r">(-?[\d.]+)%<", svg)
        assert float(ticks[-1]) == 0.0 and all(float(t) <= 0 for t in ticks)
        assert len(set(ticks)) == len(ticks)  # five distinct labels, even for a tiny range
