"""Validation and metadata on the real data in ../shared/data (skipped where absent)."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tsys.data.csv import CsvSource
from tsys.data.source import SourceContext
from tsys.data.validate import DROP_RULES

ROOT = Path(__file__).resolve().parents[3].parent / "shared" / "data"
pytestmark = [
    pytest.mark.shared_data,
    pytest.mark.skipif(not ROOT.is_dir(), reason=f"real data not found at {ROOT}"),
]


def raw_rows(path: Path) -> list[dict[str, str]]:
    with path.open() as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def crypto():
    src = CsvSource(ROOT / "crypto" / "daily", ctx=SourceContext(cache_dir=Path("/nonexistent")))
    return src, src.validate()


def test_shib_zero_closes_dropped_and_gaps_reported(crypto):
    src, report = crypto
    rows = raw_rows(ROOT / "crypto" / "daily" / "SHIB-USD.csv")
    zero_close = {r["date"] for r in rows if float(r["close"] or "nan") == 0}
    assert len(zero_close) == 217
    loaded = {d.date().isoformat() for d in src.load("SHIB-USD").index}
    assert not zero_close & loaded
    bad = report.get("SHIB-USD", "nonpositive_price")
    assert bad.dropped >= 217 and bad.examples[0] == min(zero_close)
    # Missing days counted independently from the file's dates.
    dates = pd.DatetimeIndex(sorted(r["date"] for r in rows))
    full = pd.date_range(dates[0], dates[-1])
    missing = full.difference(dates)
    runs = 1 + int((np.diff(missing.asi8) > np.diff(full.asi8).min()).sum())
    gap = report.get("SHIB-USD", "gap")
    assert (gap.count, gap.runs) == (len(missing), runs) == (len(missing), 16)


def test_avax_single_gap_and_zero_first_rows(crypto):
    src, report = crypto
    gap = report.get("AVAX-USD", "gap")
    assert gap.runs == 1
    for path in sorted((ROOT / "crypto" / "daily").glob("*.csv")):
        first = raw_rows(path)[0]
        if first["open"] in ("0", "") or first["low"] in ("0", ""):
            sym = path.stem
            issues = [i for i in report.for_symbol(sym) if i.rule in DROP_RULES]
            assert any(first["date"] in i.examples for i in issues), sym
            assert pd.Timestamp(first["date"]) not in src.load(sym).index


def test_equities_daily_clean_rows_and_flagged_jumps_are_real(crypto):
    folder = ROOT / "equities" / "daily"
    src = CsvSource(folder, ctx=SourceContext(cache_dir=Path("/nonexistent")))
    report = src.validate()
    assert report.symbols == len(list(folder.glob("*.csv")))
    assert report.rows_dropped == 0
    assert {i.rule for i in report.issues} <= {"gap", "possible_unadjusted_split"}
    for issue in report.issues:
        if issue.rule != "possible_unadjusted_split":
            continue
        closes = {r["date"]: float(r["close"]) for r in raw_rows(folder / f"{issue.symbol}.csv")}
        days = sorted(closes)
        for ex in issue.examples:
            prev = days[days.index(ex) - 1]
            assert abs(closes[ex] / closes[prev] - 1) > 0.40


def test_shared_data_metadata():
    ctx = SourceContext(cache_dir=Path("/nonexistent"))
    src = CsvSource.shared_data(ROOT, ctx=ctx)
    assert {"SPY", "XLK", "BTC-USD", "SHLD"} <= set(src.symbols())
    assert src.symbols("crypto") == sorted(p.stem for p in (ROOT / "crypto/daily").glob("*.csv"))
    # Point in time: the latest snapshot on or before the date.
    snap = ROOT / "meta" / "sp500_constituents_history" / "constituents_2014-12-07.csv"
    want = sorted({r["Symbol"].replace(".", "-") for r in raw_rows(snap)})
    assert src.universe("sp500", dt.date(2015, 1, 1)) == want
    assert src.universe("sp500", dt.date(2014, 12, 6)) != want
    first = src.universe("sp500", dt.date(2005, 1, 1))
    assert len(first) > 450 and any("before the first snapshot" in w for w in ctx.warnings)
    assert src.universe("sp500", dt.date(2004, 1, 1)) == first
    assert sum("before the first snapshot" in w for w in ctx.warnings) == 1  # said once
    fund = src.fundamentals(["AAPL", "ZYXI", "ZZZZQX"])
    assert fund["AAPL"].sector == "Information Technology"
    assert fund["ZYXI"].shares_float == pytest.approx(19.85e6)
    assert fund["ZYXI"].snapshot == "2023-08"  # from float_snapshot_2023-08.csv
    assert fund["ZZZZQX"].sector is None
    caps = src.market_caps(dt.date(2020, 1, 1), dt.date(2020, 12, 31))
    assert "BTC-USD" in caps.columns and caps.index.tz is not None
    assert caps["BTC-USD"].dropna().iloc[-1] > caps["ETH-USD"].dropna().iloc[-1]
    assert "USDT-USD" in src.excluded_coins()


def test_news_sentiment_mapping():
    src = CsvSource.shared_data(ROOT)
    path = next(iter(sorted((ROOT / "news" / "daily_sentiment").glob("*.csv"))))
    sym = path.stem
    rows = [
        r
        for r in raw_rows(path)
        if float(r["has_news"] or 0) == 1 and "2015-01-01" <= r["date"] <= "2015-12-31"
    ]
    news = src.news([sym], dt.date(2015, 1, 1), dt.date(2015, 12, 31))
    assert len(news) == len(rows) > 0
    want = [(float(r["sentiment_1to5"]) - 3) / 2 for r in rows]
    assert news["sentiment"].tolist() == pytest.approx(want)
    assert news["sentiment"].between(-1, 1).all()
