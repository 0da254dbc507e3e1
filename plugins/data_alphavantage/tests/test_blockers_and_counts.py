"""Negative-news blockers (unit and real-data replay) and the call counts of a daily run."""

from __future__ import annotations

import csv
import datetime as dt
import sys
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from av_fake import NOW
from tsys_data_alphavantage.blockers import negative_news_blockers

SENTIMENT = (
    Path(__file__).resolve().parents[3].parent / "shared" / "data" / "news" / "daily_sentiment"
)


def frame(rows):
    return pd.DataFrame(
        [
            {"date": pd.Timestamp(d), "symbol": s, "sentiment": x, "relevance": r, "title": t,
             "url": "", "source": ""}
            for d, s, x, r, t in rows
        ]
    )  # fmt: skip


def test_blockers_weighting_window_and_no_lookahead():
    news = frame(
        [
            ("2024-05-01", "AAA", -0.9, 1.0, "old, outside a 2-day window"),
            ("2024-05-02", "AAA", -0.8, 0.9, "recall"),
            ("2024-05-03", "AAA", 0.1, 0.1, "minor upbeat"),
            ("2024-05-04", "AAA", 0.9, 1.0, "tomorrow: must not count"),
            ("2024-05-03", "BBB", -0.6, 0.2, "weak relevance"),
            ("2024-05-03", "BBB", 0.4, 0.8, "strong and positive"),
            ("2024-05-03", "CCC", -0.5, None, "exactly the threshold"),
            ("2024-05-03", "DDD", -0.9, 0.0, "zero relevance does not count"),
        ]
    )
    out = negative_news_blockers(news, dt.date(2024, 5, 3), 2, -0.5)
    # AAA: (-0.8*0.9 + 0.1*0.1) / 1.0 = -0.71. BBB: (-0.12 + 0.32) = +0.2. CCC == -0.5 (not below).
    assert set(out) == {"AAA"}
    assert out["AAA"].startswith("news sentiment -0.71 over 2 day(s) (2 article(s)) is below -0.50")
    assert out["AAA"].endswith("most negative: recall")
    # Three days: (-0.9*1.0 - 0.8*0.9 + 0.1*0.1) / 2.0 = -0.805.
    three = negative_news_blockers(news, dt.date(2024, 5, 3), 3, -0.5)
    assert three["AAA"].startswith("news sentiment -0.81 over 3 day(s) (3 article(s))")
    assert negative_news_blockers(news.iloc[0:0], dt.date(2024, 5, 3), 3, -0.5) == {}
    with pytest.raises(ValueError):
        negative_news_blockers(news, dt.date(2024, 5, 3), 0, -0.5)


def load_real(symbols=None):
    """Real FNSPID daily sentiment as NEWS_COLUMNS rows: 1..5 mapped to -1..1, news days only."""
    rows = []
    for path in sorted(SENTIMENT.glob("*.csv")):
        sym = path.stem
        if symbols is not None and sym not in symbols:
            continue
        with path.open(newline="") as fh:
            for rec in csv.DictReader(fh):
                if float(rec["has_news"]) != 1.0:
                    continue
                rows.append((rec["date"], sym, (float(rec["sentiment_1to5"]) - 3.0) / 2.0))
    return rows


def independent_flags(rows, days, lookback, threshold):
    """Plain-Python oracle: mean sentiment over (day - lookback, day] below threshold."""
    by_sym: dict[str, list[tuple[dt.date, float]]] = {}
    for d, s, x in rows:
        by_sym.setdefault(s, []).append((dt.date.fromisoformat(d), x))
    flags = set()
    for day in days:
        lo = day - dt.timedelta(days=lookback - 1)
        for sym, items in by_sym.items():
            vals = [x for d, x in items if lo <= d <= day]
            if vals and sum(vals) / len(vals) < threshold:
                flags.add((day, sym))
    return flags


needs_data = pytest.mark.skipif(
    not SENTIMENT.is_dir(), reason=f"real news sentiment not found at {SENTIMENT}"
)


@pytest.mark.shared_data
@needs_data
def test_replay_real_daily_sentiment(capsys):
    # 2019 plus the days a 3-day lookback reaches back into.
    rows = [r for r in load_real() if "2018-12-30" <= r[0] <= "2019-12-31"]
    news = frame([(d, s, x, 1.0, f"{s} {d}") for d, s, x in rows])
    days = [dt.date(2019, 1, 1) + dt.timedelta(days=i) for i in range(365)]
    report = []
    for lookback, threshold in ((1, -0.5), (3, -0.5)):
        flags = {
            (day, sym)
            for day in days
            for sym in negative_news_blockers(news, day, lookback, threshold)
        }
        assert flags == independent_flags(rows, days, lookback, threshold)
        news_days = {(dt.date.fromisoformat(d), s) for d, s, _ in rows if d.startswith("2019")}
        report.append(
            f"lookback {lookback} d, block below {threshold:+.2f}: {len(flags)} symbol-days "
            f"flagged in 2019 over {len({s for _, s in flags})} symbols "
            f"({len(news_days)} symbol-days had news)"
        )
    assert 0 < len(flags) < len(news_days)  # blockers fire, but not on most days
    with capsys.disabled():
        print("\nreplay of real daily sentiment (FNSPID, 43 symbols):\n  " + "\n  ".join(report))


@pytest.mark.shared_data
@needs_data
def test_replay_through_the_loopback_api(fake, make_source):
    """Serve real sentiment as NEWS_SENTIMENT articles; blockers from the fetched news agree."""
    syms = ("AMD", "AAL", "ABBV")
    rows = [r for r in load_real(set(syms)) if "2019-12-01" <= r[0] <= "2019-12-31"]
    if not rows:
        pytest.skip("no December 2019 sentiment for the replay symbols")
    for d, s, x in rows:
        fake.add_article(d.replace("-", "") + "T200000", f"{s} headline {d}", **{s: (x, 1.0)})
    src = make_source(now=dt.datetime(2020, 1, 2, 12, 0, tzinfo=dt.UTC))
    news = src.news(list(syms), dt.date(2019, 12, 1), dt.date(2019, 12, 31))
    assert len(news) == len(rows)
    days = [dt.date(2019, 12, 3) + dt.timedelta(days=i) for i in range(29)]
    got = {(day, s) for day in days for s in negative_news_blockers(news, day, 3, -0.5)}
    assert got == independent_flags(rows, days, 3, -0.5)
    assert len(fake.calls) == len(syms)


def test_daily_run_call_counts(fake, make_source, capsys):
    """10 equity symbols: news (3-day lookback) + earnings calendar + overview, day after day."""
    syms = [f"S{i:02d}" for i in range(10)]
    for i, s in enumerate(syms):
        fake.overviews[s] = {"Symbol": s, "Name": f"Company {i}", "SharesFloat": "1000000"}
        fake.add_article("20240502T120000", f"{s} news", **{s: (0.2, 0.5)})
    fake.calendar_csv += "S01,Company 1,2024-05-20,2024-03-31,0.5,USD,pre-market\n"

    def daily(now):
        src = make_source(now=now)
        before = len(fake.calls)
        as_of = now.date()
        src.news(syms, as_of - dt.timedelta(days=2), as_of)
        src.earnings(syms, as_of, as_of + dt.timedelta(days=30))
        src.fundamentals(syms)
        return len(fake.calls) - before

    counts = {
        "cold cache": daily(NOW),
        "warm cache, same day": daily(NOW + dt.timedelta(hours=1)),
        "next day": daily(NOW + dt.timedelta(days=1)),
        "8 days later (overviews expired)": daily(NOW + dt.timedelta(days=8)),
    }
    # cold: 10 news + 1 calendar + 10 overviews; next day: today's + yesterday's unfinished
    # news day in one call per symbol, plus the calendar.
    assert counts == {
        "cold cache": 21,
        "warm cache, same day": 0,
        "next day": 11,
        "8 days later (overviews expired)": 21,
    }
    with capsys.disabled():
        print("\nAlpha Vantage calls per daily run (10 symbols):")
        for k, v in counts.items():
            print(f"  {k}: {v}")
