"""Every validation rule, on hand-made files: the exact issue, the dropped rows, strict mode."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tsys.data.csv import CsvSource, read_price_file
from tsys.data.meta_files import parse_amount
from tsys.data.source import SourceContext
from tsys.errors import DataError

# January 2024 NYSE sessions: Jan 1 (New Year) and Jan 15 (MLK day) are holidays.
SESSIONS = ["2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05", "2024-01-08", "2024-01-09"]
HEADER = "date,open,high,low,close,volume"


def good_rows(dates=SESSIONS, price=100.0):
    return [f"{d},{price},{price + 2},{price - 2},{price + 1},1000" for d in dates]


def write(folder: Path, symbol: str, rows: list[str], header: str = HEADER) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{symbol}.csv"
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def load(folder: Path, symbol: str, **kw):
    ctx = SourceContext(cache_dir=folder / ".cache")
    src = CsvSource(folder, ctx=ctx, **kw)
    df = src.load(symbol)
    return src, df, src.report, ctx


def only_issue(report, symbol):
    issues = report.for_symbol(symbol)
    assert len(issues) == 1, issues
    return issues[0]


def test_clean_file_has_no_issues(tmp_path):
    write(tmp_path, "GOOD", good_rows())
    _, df, report, ctx = load(tmp_path, "GOOD")
    assert report.ok and ctx.warnings == []
    assert [d.date().isoformat() for d in df.index] == SESSIONS
    assert df["close"].tolist() == [101.0] * 6


def test_bad_date_dropped(tmp_path):
    rows = good_rows()
    rows[2] = "2024-13-45,100,102,98,101,1000"
    write(tmp_path, "BAD", rows)
    _, df, report, _ = load(tmp_path, "BAD")
    issue = report.get("BAD", "bad_date")
    assert (issue.count, issue.dropped) == (1, 1)
    assert issue.examples == ("2024-13-45",)
    assert len(df) == 5
    # The session it probably was is now missing: reported as a gap, not filled.
    assert report.get("BAD", "gap").examples == ("2024-01-04",)
    assert {i.rule for i in report.for_symbol("BAD")} == {"bad_date", "gap"}


def test_bad_date_leaves_gap_reported(tmp_path):
    rows = good_rows()
    rows[2] = "not-a-date,100,102,98,101,1000"
    write(tmp_path, "BAD", rows)
    _, _, report, _ = load(tmp_path, "BAD")
    assert report.get("BAD", "bad_date").count == 1
    assert report.get("BAD", "gap").examples == ("2024-01-04",)


def test_unsorted_dates_sorted_and_reported(tmp_path):
    rows = good_rows()
    rows[1], rows[3] = rows[3], rows[1]
    write(tmp_path, "UNS", rows)
    _, df, report, _ = load(tmp_path, "UNS")
    issue = only_issue(report, "UNS")
    assert issue.rule == "unsorted_dates" and issue.dropped == 0
    assert df.index.is_monotonic_increasing and len(df) == 6


def test_identical_duplicate_keeps_one(tmp_path):
    rows = good_rows()
    rows.insert(2, rows[1])
    write(tmp_path, "DUP", rows)
    _, df, report, _ = load(tmp_path, "DUP")
    issue = only_issue(report, "DUP")
    assert (issue.rule, issue.count, issue.dropped) == ("duplicate_dates", 1, 1)
    assert issue.examples == ("2024-01-03",)
    assert len(df) == 6


def test_conflicting_duplicate_drops_both(tmp_path):
    rows = good_rows()
    rows.insert(2, "2024-01-03,100,102,98,99,1000")
    write(tmp_path, "DUP", rows)
    _, df, report, ctx = load(tmp_path, "DUP")
    dup = report.get("DUP", "duplicate_dates")
    assert (dup.count, dup.dropped) == (1, 2)
    assert pd.Timestamp("2024-01-03") not in df.index
    # Not filled in: the date is now a gap.
    assert report.get("DUP", "gap").examples == ("2024-01-03",)
    assert any("DUP" in w and "2024-01-03" in w and "duplicate_dates" in w for w in ctx.warnings)


@pytest.mark.parametrize(
    ("row", "rule"),
    [
        ("2024-01-04,100,,98,101,1000", "missing_price"),
        ("2024-01-04,100,102,98,,1000", "missing_price"),
        ("2024-01-04,100,102,98,0,1000", "nonpositive_price"),
        ("2024-01-04,-1,102,98,101,1000", "nonpositive_price"),
        ("2024-01-04,100,102,98,101,-5", "negative_volume"),
        ("2024-01-04,100,100.5,98,101,1000", "ohlc_inconsistent"),  # high < close
        ("2024-01-04,100,102,100.5,101,1000", "ohlc_inconsistent"),  # low > open
        ("2024-01-04,100,97,98,101,1000", "ohlc_inconsistent"),  # high < low
    ],
)
def test_untrusted_row_dropped_with_warning(tmp_path, row, rule):
    rows = good_rows()
    rows[2] = row
    write(tmp_path, "ROW", rows)
    _, df, report, ctx = load(tmp_path, "ROW")
    issue = report.get("ROW", rule)
    assert issue is not None, report.issues
    assert (issue.count, issue.dropped, issue.examples) == (1, 1, ("2024-01-04",))
    assert issue.severity == "error"
    assert pd.Timestamp("2024-01-04") not in df.index and len(df) == 5
    # Nothing was filled in: the dropped session shows up as nothing but missing.
    assert {i.rule for i in report.for_symbol("ROW")} == {rule}
    assert any(
        w.startswith("ROW: dropped 1 row(s)") and "2024-01-04" in w and rule in w
        for w in ctx.warnings
    )


@pytest.mark.parametrize(
    "row",
    [
        "2024-01-04,100,102,98,0,1000",
        "2024-01-04,100,102,98,101,-5",
        "2024-01-04,100,97,98,101,1000",
        "2024-01-06,100,102,98,101,1000",
    ],
)
def test_strict_raises_instead_of_dropping(tmp_path, row):
    rows = good_rows()
    rows.append(row) if row.startswith("2024-01-06") else rows.__setitem__(2, row)
    rows.sort()
    write(tmp_path, "STR", rows)
    src = CsvSource(tmp_path, strict=True, ctx=SourceContext(cache_dir=tmp_path))
    with pytest.raises(DataError, match="STR"):
        src.load("STR")


def test_missing_volume_kept_and_reported(tmp_path):
    rows = good_rows()
    rows[2] = "2024-01-04,100,102,98,101,"
    write(tmp_path, "VOL", rows)
    _, df, report, _ = load(tmp_path, "VOL")
    issue = only_issue(report, "VOL")
    assert (issue.rule, issue.dropped) == ("missing_volume", 0)
    assert len(df) == 6 and np.isnan(df.loc["2024-01-04", "volume"])


def test_equity_bar_on_closed_day_dropped(tmp_path):
    dates = [*SESSIONS[:4], "2024-01-06", *SESSIONS[4:]]  # Saturday
    write(tmp_path, "OFF", good_rows(dates))
    _, df, report, _ = load(tmp_path, "OFF")
    issue = only_issue(report, "OFF")
    assert (issue.rule, issue.dropped, issue.examples) == ("off_calendar", 1, ("2024-01-06",))
    assert len(df) == 6


def test_equity_gap_against_calendar_not_filled(tmp_path):
    # 2024-01-15 is a holiday: 01-12 -> 01-16 is no gap; a missing 01-10 and 01-11 is one gap.
    dates = ["2024-01-08", "2024-01-09", "2024-01-12", "2024-01-16", "2024-01-17"]
    write(tmp_path, "GAP", good_rows(dates))
    _, df, report, _ = load(tmp_path, "GAP")
    issue = only_issue(report, "GAP")
    assert (issue.rule, issue.count, issue.runs, issue.dropped) == ("gap", 2, 1, 0)
    assert issue.examples == ("2024-01-10..2024-01-11",)
    assert len(df) == 5  # nothing invented
    # Gaps alone do not fail strict mode: the bars that exist are right.
    src = CsvSource(tmp_path, strict=True, ctx=SourceContext(cache_dir=tmp_path))
    assert len(src.load("GAP")) == 5


def test_crypto_gap_counts_every_calendar_day(tmp_path):
    dates = ["2024-01-05", "2024-01-06", "2024-01-09", "2024-01-10", "2024-01-12"]
    write(tmp_path, "FOO-USD", good_rows(dates))
    _, _, report, _ = load(tmp_path, "FOO-USD")
    issue = only_issue(report, "FOO-USD")
    assert (issue.rule, issue.count, issue.runs) == ("gap", 3, 2)
    assert issue.examples == ("2024-01-07..2024-01-08", "2024-01-11")


def closes_file(folder, symbol, closes):
    rows = [
        f"{d},{c},{c},{c},{c},1000"
        for d, c in zip(
            pd.bdate_range("2024-02-05", periods=len(closes)).strftime("%Y-%m-%d"),
            closes,
            strict=True,
        )
    ]
    write(folder, symbol, rows)


def test_split_like_ratio_flagged_not_dropped(tmp_path):
    closes_file(tmp_path, "SPL", [100, 101, 50.4, 51, 50.8])  # 2:1 not adjusted
    _, df, report, _ = load(tmp_path, "SPL")
    issue = only_issue(report, "SPL")
    assert (issue.rule, issue.count, issue.dropped) == ("possible_unadjusted_split", 1, 0)
    assert issue.examples == ("2024-02-07",)
    assert len(df) == 5


def test_reversing_spike_flagged(tmp_path):
    closes_file(tmp_path, "REV", [100, 101, 170, 102, 101])
    _, _, report, _ = load(tmp_path, "REV")
    issue = only_issue(report, "REV")
    assert issue.rule == "possible_unadjusted_split" and issue.examples == ("2024-02-07",)


def test_big_lasting_move_not_flagged(tmp_path):
    # +42%, then it stays: a real re-rating (takeover, trial result), not a data fault.
    closes_file(tmp_path, "MOV", [100, 101, 143.4, 144, 145])
    _, _, report, _ = load(tmp_path, "MOV")
    assert report.ok


def test_crypto_threshold_is_wider(tmp_path):
    # A 50% day that reverses is a fault in an equity file but normal crypto volatility.
    closes_file(tmp_path, "EQ", [100, 100, 150, 101, 100])
    _, _, report, _ = load(tmp_path, "EQ")
    assert report.get("EQ", "possible_unadjusted_split") is not None
    closes = [100, 100, 150, 101, 100]
    rows = [f"2024-02-0{i + 1},{c},{c},{c},{c},1" for i, c in enumerate(closes)]
    write(tmp_path / "c", "CC-USD", rows)
    _, _, report, _ = load(tmp_path / "c", "CC-USD")
    assert report.ok


def test_yfinance_headers_and_adjusted_close(tmp_path):
    rows = [
        "2024-01-02,10.0,11.0,9.0,10.5,5.25,100",
        "2024-01-03,10.5,11.5,10.0,11.0,5.50,200",
    ]
    write(tmp_path, "YF", rows, header="Date,Open,High,Low,Close,Adj Close,Volume")
    _, df, report, _ = load(tmp_path, "YF")
    assert report.ok
    # Adjustment factor 0.5 on every price field; volume untouched.
    assert df["open"].tolist() == [5.0, 5.25]
    assert df["high"].tolist() == [5.5, 5.75]
    assert df["close"].tolist() == [5.25, 5.5]
    assert df["volume"].tolist() == [100.0, 200.0]


def test_timezone_dates_keep_local_day(tmp_path):
    rows = [
        "2024-01-02 00:00:00-05:00,1,2,0.5,1.5,10",
        "2024-01-03 00:00:00-05:00,1,2,0.5,1.5,10",
    ]
    write(tmp_path, "TZ", rows, header="Date,Open,High,Low,Close,Volume")
    raw = read_price_file(tmp_path / "TZ.csv")
    assert [d.date() for d in raw["date"]] == [dt.date(2024, 1, 2), dt.date(2024, 1, 3)]


def test_parquet_input(tmp_path):
    idx = pd.DatetimeIndex(SESSIONS, name="Date")
    df = pd.DataFrame(
        {
            "Open": 1.0,
            "High": 2.0,
            "Low": 0.5,
            "Close": [1.0, 1.1, 1.2, 1.3, 1.4, 1.5],
            "Volume": 7,
        },
        index=idx,
    )
    df.to_parquet(tmp_path / "PQ.parquet")
    src = CsvSource(tmp_path, ctx=SourceContext(cache_dir=tmp_path))
    assert src.symbols() == ["PQ"]
    bars = src.bars(["PQ"], None, dt.date(2024, 1, 31))
    assert bars.synthetic is False
    assert bars.close[:, 0].tolist() == [1.0, 1.1, 1.2, 1.3, 1.4, 1.5]
    assert bars.index[0] == pd.Timestamp("2024-01-02", tz="UTC")


def test_bars_range_and_asset_classes(tmp_path):
    write(tmp_path, "EQ", good_rows())
    write(tmp_path, "ABC-USD", good_rows([f"2024-01-0{i}" for i in range(2, 10)]))
    ctx = SourceContext(cache_dir=tmp_path)
    src = CsvSource(tmp_path, ctx=ctx)
    b = src.bars(None, dt.date(2024, 1, 4), dt.date(2024, 1, 8))
    assert set(b.symbols) == {"EQ", "ABC-USD"}
    assert str(b.asset_class_of("ABC-USD")) == "crypto" and str(b.asset_class_of("EQ")) == "equity"
    assert b.index[0].date() == dt.date(2024, 1, 4) and b.index[-1].date() == dt.date(2024, 1, 8)
    crypto_only = src.bars(None, None, dt.date(2024, 1, 9), asset_class="crypto")
    assert crypto_only.symbols == ("ABC-USD",)
    forced = CsvSource(tmp_path, asset_class="equity", ctx=SourceContext(cache_dir=tmp_path))
    assert forced.symbols("crypto") == []
    src.bars(["EQ", "NOPE"], None, dt.date(2024, 1, 9))
    assert any("NOPE" in w for w in ctx.warnings)


def test_missing_columns_is_a_data_error(tmp_path):
    write(tmp_path, "X", ["2024-01-02,1,2"], header="date,open,high")
    with pytest.raises(DataError, match="lacks column"):
        read_price_file(tmp_path / "X.csv")


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("36.44M", 36.44e6),
        ("262.12K", 262_120.0),
        ("137,452", 137_452.0),
        ("-", None),
        ("", None),
        ("1.5B", 1.5e9),
        ("12.5%", 0.125),
        ("abc", None),
    ],
)
def test_parse_amount(text, value):
    got = parse_amount(text)
    assert got == pytest.approx(value) if value is not None else got is None


FAULTS = {
    "nonpositive_price": lambda r: {**r, "close": 0.0},
    "missing_price": lambda r: {**r, "low": np.nan},
    "negative_volume": lambda r: {**r, "volume": -1.0},
    "ohlc_inconsistent": lambda r: {**r, "high": r["low"] * 0.9},
}


@given(
    faults=st.dictionaries(st.integers(0, 59), st.sampled_from(sorted(FAULTS)), max_size=12),
    seed=st.integers(0, 2**16),
)
def test_injected_faults_are_exactly_the_dropped_rows(faults, seed):
    from tsys.contracts import AssetClass
    from tsys.data.validate import validate_frame

    rng = np.random.default_rng(seed)
    days = pd.date_range("2024-01-01", periods=60, freq="D")
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.03, 60)))
    open_ = close * np.exp(rng.normal(0, 0.01, 60))
    rows = [
        {
            "date": d,
            "open": o,
            "high": max(o, c) * 1.01,
            "low": min(o, c) * 0.99,
            "close": c,
            "volume": 1000.0,
        }
        for d, o, c in zip(days, open_, close, strict=True)
    ]
    for i, rule in faults.items():
        rows[i] = FAULTS[rule](rows[i])
    df, report = validate_frame("P-USD", pd.DataFrame(rows), AssetClass.CRYPTO)
    dropped = {days[i] for i in faults}
    assert set(df.index) == set(days) - dropped
    for rule in FAULTS:
        want = sorted(days[i] for i, r in faults.items() if r == rule)
        issue = report.get("P-USD", rule)
        assert (issue.dropped if issue else 0) == len(want)
        if want:
            assert issue.examples == tuple(d.date().isoformat() for d in want[:5])
    assert report.get("P-USD", "gap") is None  # a dropped row is not a missing row
