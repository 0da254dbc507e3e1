"""Issues 21.4 and 21.5: bad data is named and contained, never passed on nor fatal to the rest.

Table-driven: each bad input (a value on SPY's last bar, a split, a garbage file, a date out of
range, an unreadable file of every kind) is put into an otherwise clean CSV folder, and the
test checks the rule that names it, what ``data validate`` prints and exits with, and what
``run-daily`` does (the other symbols go on; a bad benchmark fails its bucket loudly, exit 10).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from tsys.cli import cli
from tsys.data import calendars
from tsys.data.csv import CsvSource
from tsys.data.source import SourceContext

AS_OF = "2024-06-28"
SYMBOLS = ("SPY", "XLK", "XLE", "XLF", "XLV")
HEADER = "date,open,high,low,close,volume"


def _rows(symbol: str) -> list[str]:
    days = calendars.sessions("2021-01-04", AS_OF)
    rng = np.random.default_rng(sum(map(ord, symbol)))
    close = 100 * np.exp(np.cumsum(rng.normal(0.0004, 0.01, len(days))))
    return [
        f"{d:%Y-%m-%d},{c:.4f},{c * 1.01:.4f},{c * 0.99:.4f},{c:.4f},1000000"
        for d, c in zip(days, close, strict=True)
    ]


def _write(folder: Path, symbol: str, rows: list[str], header: str = HEADER) -> Path:
    path = folder / f"{symbol}.csv"
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


@pytest.fixture
def market(isolated):
    folder = isolated / "prices"
    folder.mkdir()
    for s in SYMBOLS:
        _write(folder, s, _rows(s))
    (isolated / "tsys.toml").write_text(
        f'[data]\nsource = "csv"\npath = "{folder}"\n'
        '[buckets.sp500]\nparams = { mode = "etf" }\n[buckets.crypto]\nenabled = false\n'
        "[buckets.lowfloat]\nenabled = false\n"  # no float data in these folders
    )
    return folder


def _set_last_close(rows: list[str], factor: float | str) -> list[str]:
    d, o, h, low, c, v = rows[-1].split(",")
    new = str(factor) if isinstance(factor, str) else f"{float(c) * factor!r}"
    hi = new if isinstance(factor, str) or factor > 1 else h
    lo = new if isinstance(factor, str) or factor < 1 else low
    op = new if isinstance(factor, str) else o
    return [*rows[:-1], ",".join([d, op, hi, lo, new, v])]


def _split_in_the_middle(rows: list[str]) -> list[str]:
    out = []
    for i, r in enumerate(rows):
        d, *vals = r.split(",")
        if i >= len(rows) - 20:
            vals = [f"{float(x) / 100:.6f}" for x in vals[:4]] + [vals[4]]
        out.append(",".join([d, *vals]))
    return out


#: name -> (make SPY's rows, the rule that must name it)
BAD_VALUES = {
    "1e12 close on the last bar": (lambda r: _set_last_close(r, 1e10), "implausible_price"),
    "inf on the last bar": (lambda r: _set_last_close(r, "inf"), "nonfinite_price"),
    "1e-6 on the last bar": (lambda r: _set_last_close(r, 1e-8), "implausible_price"),
    "/100 on the last bar": (lambda r: _set_last_close(r, 0.01), "possible_unadjusted_split"),
    "x100 on the last bar": (lambda r: _set_last_close(r, 100.0), "possible_unadjusted_split"),
    "100:1 split unadjusted": (_split_in_the_middle, "possible_unadjusted_split"),
    "every value x": (lambda r: ["x,x,x,x,x,x"] * 30, "no_usable_rows"),
    "header only": (lambda r: [], "no_usable_rows"),
    "dated 9999-12-31": (lambda r: [*r, "9999-12-31,1,1,1,1,1"], "date_out_of_range"),
    "dated 1850-01-02": (lambda r: ["1850-01-02,1,1,1,1,1", *r], "date_out_of_range"),
}


@pytest.mark.parametrize("case", list(BAD_VALUES))
def test_bad_values_are_named(tmp_path, case):
    make, rule = BAD_VALUES[case]
    _write(tmp_path, "SPY", make(_rows("SPY")))
    src = CsvSource(tmp_path, ctx=SourceContext(cache_dir=tmp_path / ".c"))
    df = src.load("SPY")
    issue = src.report.get("SPY", rule)
    assert issue is not None, src.report.issues
    assert np.isfinite(df.to_numpy()).all() or df.empty
    if rule == "date_out_of_range":
        assert "SPY.csv line" in issue.message
    if rule in ("implausible_price", "nonfinite_price"):
        assert df.index[-1] < pd.Timestamp(AS_OF)  # the bad last bar is gone


@pytest.mark.parametrize("case", list(BAD_VALUES))
def test_strict_validate_refuses_bad_values(market, case):
    """Regression: 1e12, inf, 1e-6, 100:1, /100, all-x and header-only passed --strict."""
    make, rule = BAD_VALUES[case]
    _write(market, "SPY", make(_rows("SPY")))
    res = CliRunner().invoke(cli, ["data", "validate", "--path", str(market), "--strict"])
    assert res.exit_code == 4, res.output
    assert rule in res.output and "Traceback" not in res.output
    assert "no issues found" not in res.output


@pytest.mark.parametrize(
    "case", ["1e12 close on the last bar", "inf on the last bar", "every value x", "header only"]
)
def test_bad_benchmark_fails_the_bucket_loudly(market, case):
    """Regression: garbage SPY sent the bucket to cash ("bucket budget is 0"), or a 1e12 last
    bar went into the plan; now the bucket fails naming SPY. It is the only bucket here, so
    nothing is produced: exit 4 (with other buckets running the day is partial: exit 10)."""
    make, rule = BAD_VALUES[case]
    _write(market, "SPY", make(_rows("SPY")))
    res = CliRunner().invoke(cli, ["run-daily", "--as-of", AS_OF, "--no-send"])
    assert res.exit_code == 4, res.output
    text = " ".join(res.output.split())
    assert "sp500: data: benchmark SPY has no usable" in text and rule in text
    assert "not sent to cash" in text and "budget is 0" not in text
    assert "Traceback" not in res.output


def test_far_date_does_not_crash_the_run(market):
    """Regression: a row dated 9999-12-31 crashed validate, backtest and run-daily."""
    _write(market, "SPY", [*_rows("SPY"), "9999-12-31,1,1,1,1,1"])
    res = CliRunner().invoke(cli, ["run-daily", "--as-of", AS_OF, "--no-send"])
    assert res.exit_code == 0, res.output
    assert "Traceback" not in res.output


def _binary(p: Path) -> None:
    p.write_bytes(bytes(range(256)) * 4)


#: name -> (write the bad XLF file, words of the reason)
UNREADABLE = {
    "empty": (lambda p: p.write_bytes(b""), "is empty"),
    "binary": (_binary, "binary"),
    "utf-16": (lambda p: p.write_text(HEADER + "\n", encoding="utf-16"), "UTF-16"),
    "wrong header": (lambda p: p.write_text("when,price\n2024-01-02,1\n"), "lacks column"),
    "semicolons": (
        lambda p: p.write_text("date;open;high;low;close\n2024-01-02;1;1;1;1\n"),
        "';'",
    ),
    "a folder named XLF.csv": (lambda p: p.mkdir(), "is a folder"),
    "latin-1": (
        lambda p: p.write_bytes(b"date,open,high,low,close\n\xe9\xe9\xe9,1,1,1,1\n"),
        "UTF-8",
    ),
}


@pytest.mark.parametrize("case", list(UNREADABLE))
def test_unreadable_file_is_reported_and_the_rest_validated(market, case):
    """Regression: one bad file stopped `data validate` at the first bad file."""
    write, reason = UNREADABLE[case]
    (market / "XLF.csv").unlink()
    write(market / "XLF.csv")
    res = CliRunner().invoke(cli, ["data", "validate", "--path", str(market), "--json"])
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout)
    assert report["symbols"] == len(SYMBOLS)
    xlf = [i for i in report["issues"] if i["symbol"] == "XLF"]
    assert [i["rule"] for i in xlf] == ["unreadable_file"]
    assert "XLF.csv" in xlf[0]["message"] and reason in xlf[0]["message"]
    strict = CliRunner().invoke(cli, ["data", "validate", "--path", str(market), "--strict"])
    assert strict.exit_code == 4 and "XLF" in strict.output


@pytest.mark.parametrize("case", ["empty", "binary", "semicolons", "a folder named XLF.csv"])
def test_unreadable_file_costs_its_symbol_only(market, case):
    """Regression: one unreadable file failed every bucket ("for lack of data")."""
    write, reason = UNREADABLE[case]
    (market / "XLF.csv").unlink()
    write(market / "XLF.csv")
    res = CliRunner().invoke(cli, ["run-daily", "--as-of", AS_OF, "--no-send"])
    assert res.exit_code == 0, res.output
    summary = (market.parent / "data" / "runs" / AS_OF / "summary.txt").read_text()
    line = next(x for x in summary.splitlines() if f"XLF: skipped: {market / 'XLF.csv'}" in x)
    assert reason in line
    assert "SPY" not in summary.split("Warnings:")[1]  # the others were read


def test_unreadable_benchmark_is_exit_10(market):
    (market / "SPY.csv").write_bytes(b"")
    res = CliRunner().invoke(cli, ["run-daily", "--as-of", AS_OF, "--no-send"])
    assert res.exit_code == 4, res.output
    text = " ".join(res.output.split())
    assert "benchmark SPY has no usable data" in text and "SPY.csv: is empty" in text
