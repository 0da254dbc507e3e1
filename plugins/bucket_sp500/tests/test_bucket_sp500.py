"""Bucket A: discovery, the contract suite on demo and real data, regime, event risk, explain."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from tsys_bucket_sp500 import __version__
from tsys_bucket_sp500.bucket import SECTOR_ETFS, Params, Sp500Bucket

from tsys.buckets import search_space
from tsys.testing import (
    InMemorySource,
    bucket_contract_suite,
    discovered_bucket,
    memory_context,
    shared_data_dir,
    synthetic_bars,
)

SHARED = shared_data_dir()
#: The stock-picking mode (the default mode is the trend book, tested in test_trend_book.py).
MEMBERS = Params(mode="members")


def test_discovered_through_entry_point():
    bucket = discovered_bucket("sp500", Sp500Bucket, distribution="tsys-bucket-sp500")
    assert bucket.version == __version__


def test_contract_suite_on_demo_data():
    from tsys.data.demo import DemoSource

    src = DemoSource(seed=7, as_of=dt.date(2021, 12, 31))
    members = src.universe("sp500", dt.date(2021, 12, 31))
    symbols = [*members[:40], "SPY"]
    bars = src.bars(symbols, dt.date(2019, 6, 1), dt.date(2021, 12, 31))
    ctx = memory_context(src, dt.date(2021, 12, 31))
    results = {r.name: r for r in bucket_contract_suite(Sp500Bucket(), ctx, bars)}
    assert all(r.ok for r in results.values())
    # Both ends of every searchable range (news_days=1 included) and each choice compute.
    n_ends = sum(len(s.get("choices", (0, 0))) for s in search_space(Params).values())
    assert results["range_ends"].detail == f"computed at {n_ends} range ends"
    out = Sp500Bucket().compute(ctx, bars, MEMBERS)
    assert out.entries.any(), "the demo market should produce some entries"


@pytest.mark.shared_data
@pytest.mark.skipif(SHARED is None, reason="../shared/data is absent (real-data tests skipped)")
def test_contract_suite_on_real_data():
    from tsys.data import DataHub, SourceContext
    from tsys.data.csv import CsvSource

    sctx = SourceContext(cache_dir=Path(".tsys-cache"))
    src = CsvSource.shared_data(SHARED, ctx=sctx)
    members = src.universe("sp500", dt.date(2014, 1, 2)) or []
    have = set(src.symbols())
    symbols = [*[s for s in members if s in have][:30], "SPY"]
    bars = src.bars(symbols, dt.date(2012, 1, 1), dt.date(2015, 12, 31))
    ctx = memory_context(src, dt.date(2015, 12, 31))
    ctx.data = DataHub(src, [], sctx)
    bucket_contract_suite(Sp500Bucket(), ctx, bars)


def _uptrend_market(n=400, crash_at=None):
    """SPY and 6 stocks trending up (stock 0 strongest); SPY optionally crashes."""
    idx = pd.date_range("2020-01-01", periods=n, freq="B", tz="UTC")
    t = np.arange(n)[:, None]
    slopes = np.array([0.004, 0.003, 0.0025, 0.002, 0.0015, 0.001, 0.0008])
    rng = np.random.default_rng(0)
    close = 100 * np.exp(t * slopes + rng.normal(0, 0.004, (n, 7)))
    if crash_at is not None:
        close[crash_at:, 0] = close[crash_at, 0] * np.exp(-0.01 * np.arange(n - crash_at))
    syms = ("SPY", "AAA", "BBB", "CCC", "DDD", "EEE", "FFF")
    from tsys.data import Bars

    return Bars(
        idx,
        syms,
        close,
        close * 1.005,
        close * 0.995,
        close,
        np.full_like(close, 1e6),
        ["equity"] * 7,
    )


def test_regime_risk_off_below_200d_means_no_entries_and_exits():
    bars = _uptrend_market(crash_at=300)
    src = InMemorySource(bars, members={dt.date(2019, 1, 1): list(bars.symbols[1:])})
    ctx = memory_context(src, bars.index[-1].date())
    out = Sp500Bucket().compute(ctx, bars, MEMBERS)
    assert out.regime[280] == 1.0 and out.entries[280].any()
    off = np.flatnonzero(out.regime == 0)
    late = off[off > 300]
    assert len(late) > 30
    assert not out.entries[late].any() and out.exits[late].all()
    # SPY itself is never a pick in "members" mode
    assert not out.entries[:, 0].any()


def test_members_only_and_momentum_rank_tag():
    bars = _uptrend_market()
    src = InMemorySource(bars, members={dt.date(2019, 1, 1): ["AAA", "BBB", "CCC"]})
    ctx = memory_context(src, bars.index[-1].date())
    b = Sp500Bucket()
    out = b.compute(ctx, bars, MEMBERS)
    assert not out.entries[:, 4:].any()  # DDD, EEE, FFF are not members
    tags = b.explain(ctx, bars, out, "AAA", -1)
    assert "trend up 200d" in tags and "momentum rank 1/3" in tags


def test_earnings_and_negative_news_block_entries_with_reasons():
    bars = _uptrend_market()
    t = 350
    day = bars.index[t].date()
    earn = pd.DataFrame({"symbol": ["AAA"], "date": [day + dt.timedelta(days=2)]})
    news = pd.DataFrame(
        {
            "date": [pd.Timestamp(day, tz="UTC")],
            "symbol": ["BBB"],
            "sentiment": [-0.9],
            "relevance": [1.0],
            "title": ["BBB recalls every product"],
            "url": [""],
            "source": ["test"],
        }
    )
    src = InMemorySource(
        bars, members={dt.date(2019, 1, 1): list(bars.symbols[1:])}, earnings=earn, news=news
    )
    ctx = memory_context(src, bars.index[-1].date())
    b = Sp500Bucket()
    out = b.compute(ctx, bars, MEMBERS)
    a, bb = bars.column("AAA"), bars.column("BBB")
    assert out.blocked[t, a] and not out.entries[t, a]
    gap = (pd.Timestamp(day + dt.timedelta(days=2)) - pd.Timestamp(day)).days
    assert out.block_reasons[(t, a)] == f"earnings in {gap} days: blocked"
    assert not out.blocked[t - 10, a] and out.entries[t - 10, a]
    assert out.blocked[t, bb]
    assert out.block_reasons[(t, bb)].endswith("BBB recalls every product")
    assert any("earnings in" in x for x in b.explain(ctx, bars, out, "AAA", t))


def test_etf_mode_universe_and_history_symbols():
    bars = _uptrend_market()
    ctx = memory_context(InMemorySource(bars), bars.index[-1].date(), params=Params(mode="etf"))
    b = Sp500Bucket()
    assert b.universe(ctx) == ["SPY", *SECTOR_ETFS]
    assert b.history_symbols(ctx) == ["SPY", *SECTOR_ETFS]


def test_unknown_membership_warns_and_falls_back():
    bars = synthetic_bars(["SPY", "AAA", "BBB"], n_bars=300, seed=9)
    ctx = memory_context(InMemorySource(bars), bars.index[-1].date())
    out = Sp500Bucket().compute(ctx, bars, MEMBERS)
    assert any("survivorship" in w for w in ctx.warnings)
    assert out.extras["member"][:, 1:].all() and not out.extras["member"][:, 0].any()


def _random_news(bars, seed):
    """Articles on random calendar days (weekends too), some days with several, some without
    a usable sentiment or title: the cases the vectorised blocker has to get right."""
    rng = np.random.default_rng(seed)
    first = bars.index[0].normalize() - pd.Timedelta(days=12)
    n_days = (bars.index[-1].normalize() - first).days + 1
    rows = []
    for sym in ("AAA", "BBB", "CCC"):
        for d in np.flatnonzero(rng.random(n_days) < 0.35):
            for _ in range(1 + int(rng.random() < 0.3)):
                s = float(rng.uniform(-1, 0.4)) if rng.random() > 0.05 else np.nan
                title = rng.choice(["", None, f"{sym} story {d}"], p=[0.1, 0.05, 0.85])
                hour = int(rng.integers(0, 20))
                rows.append((first + pd.Timedelta(days=int(d), hours=hour), sym, s, title))
    return pd.DataFrame(rows, columns=["date", "symbol", "sentiment", "title"]).assign(
        relevance=1.0, url="", source="test"
    )


def _expected_news_blocks(bars, news, params):
    """The news blocker computed the slow, obvious way: per symbol, per bar, per window day."""
    start = bars.index[0].date() - dt.timedelta(days=params.news_days)
    lo, hi = pd.Timestamp(start, tz="UTC"), pd.Timestamp(bars.index[-1].date(), tz="UTC")
    d = pd.to_datetime(news["date"], utc=True)
    got = news[(d >= lo) & (d <= hi) & np.isfinite(news["sentiment"])]
    out = {}
    for sym, g in got.groupby("symbol"):
        j = bars.column(sym)
        by_day: dict = {}
        for when, s, title in zip(g["date"], g["sentiment"], g["title"], strict=True):
            by_day.setdefault(when.date(), []).append((s, title))
        for t, ts in enumerate(bars.index):
            window = [ts.date() - dt.timedelta(days=k) for k in range(params.news_days)]
            means = [sum(s for s, _ in by_day[x]) / len(by_day[x]) for x in window if x in by_day]
            if not means or sum(means) / len(means) >= params.news_block:
                continue
            msg = f"negative news ({sum(means) / len(means):+.2f} over {params.news_days}d)"
            # The most negative titled article of the window; on a tie the later one.
            titled = [
                (s, k, i, x)
                for k, w in enumerate(window)
                for i, (s, x) in enumerate(by_day.get(w, []))
                if isinstance(x, str) and x
            ]
            if titled:
                worst = min(titled, key=lambda a: (a[0], a[1], -a[2]))
                out[(t, j)] = f"{msg}: {worst[3]}"
            else:
                out[(t, j)] = f"{msg}: blocked"
    return out


@pytest.mark.parametrize("news_days", [1, 3, 10])
def test_news_blocker_matches_a_per_day_recount(news_days):
    bars = _uptrend_market()
    news = _random_news(bars, seed=news_days)
    day = bars.index[200].date()
    earn = pd.DataFrame({"symbol": ["AAA"], "date": [day + dt.timedelta(days=1)]})
    src = InMemorySource(
        bars, members={dt.date(2019, 1, 1): list(bars.symbols[1:])}, news=news, earnings=earn
    )
    ctx = memory_context(src, bars.index[-1].date())
    params = Params(mode="members", news_days=news_days, news_block=-0.3)
    out = Sp500Bucket().compute(ctx, bars, params)
    expected = _expected_news_blocks(bars, news, params)
    assert len(expected) > 20
    a = bars.column("AAA")
    # Earnings (the report day and the 3 calendar days before it) keep precedence over news.
    report = pd.Timestamp(day + dt.timedelta(days=1), tz="UTC")
    earned = {(t, a) for t, ts in enumerate(bars.index) if 0 <= (report - ts).days <= 3}
    assert len(earned) >= 2
    assert all(out.block_reasons[c].startswith("earnings ") for c in earned)
    got = {c: r for c, r in out.block_reasons.items() if c not in earned}
    assert got == {c: r for c, r in expected.items() if c not in earned}
    assert {tuple(c) for c in np.argwhere(out.blocked)} == set(expected) | earned
    assert any(r.endswith(": blocked") for r in got.values()), "some windows have no title"
    assert any(not r.endswith(": blocked") for r in got.values())


def test_news_reason_names_the_worst_headline_and_the_later_one_on_a_tie():
    bars = _uptrend_market()
    t = 350
    day = pd.Timestamp(bars.index[t].date(), tz="UTC")

    def art(days_back, sym, s, title):
        return (day - pd.Timedelta(days=days_back), sym, s, title)

    rows = [
        art(2, "AAA", -0.9, "AAA first bad"),
        art(0, "AAA", -0.9, "AAA second bad"),  # equally bad, later day: named
        art(0, "AAA", -0.3, "AAA mild"),
        art(1, "BBB", -0.8, "BBB worst"),
        art(0, "BBB", -0.7, ""),  # no title: never named
        art(0, "CCC", -0.95, "CCC one"),
        art(0, "CCC", -0.95, "CCC two"),  # same day, same sentiment: the later row
    ]
    news = pd.DataFrame(rows, columns=["date", "symbol", "sentiment", "title"])
    src = InMemorySource(bars, members={dt.date(2019, 1, 1): list(bars.symbols[1:])}, news=news)
    ctx = memory_context(src, bars.index[-1].date())
    out = Sp500Bucket().compute(ctx, bars, Params(mode="members", news_days=3, news_block=-0.3))
    r = {s: out.block_reasons[(t, bars.column(s))] for s in ("AAA", "BBB", "CCC")}
    # AAA: daily means -0.9 (t-2) and -0.6 (t): mean -0.75
    assert r["AAA"] == "negative news (-0.75 over 3d): AAA second bad"
    assert r["BBB"] == "negative news (-0.75 over 3d): BBB worst"
    assert r["CCC"] == "negative news (-0.95 over 3d): CCC two"


def test_trust_blockers_that_cannot_run_say_not_checked():
    """No earnings source, no news source, no news for a symbol or a period: each is in the
    run's warnings and in the symbol's rationale as "not checked" (issue 15.3)."""
    bars = _uptrend_market()
    members = {dt.date(2019, 1, 1): list(bars.symbols[1:])}
    b = Sp500Bucket()
    ctx = memory_context(InMemorySource(bars, members=members), bars.index[-1].date())
    out = b.compute(ctx, bars, MEMBERS)
    assert "sp500: earnings blocker not checked (no data source provides earnings dates)" in (
        ctx.warnings
    )
    assert "sp500: news blocker not checked (no data source provides news)" in ctx.warnings
    tags = b.explain(ctx, bars, out, "AAA", -1)
    assert "earnings: not checked" in tags and "news: not checked" in tags

    # news for BBB only, and only up to bar 200; earnings known (none due)
    t_end = bars.index[200].date()
    news = pd.DataFrame(
        {"date": [pd.Timestamp(t_end, tz="UTC")], "symbol": ["BBB"], "sentiment": [0.2],
         "relevance": [1.0], "title": ["BBB opens a plant"], "url": [""], "source": ["test"]}
    )  # fmt: skip
    earn = pd.DataFrame({"symbol": pd.Series([], dtype=str), "date": pd.Series([], dtype=str)})
    src = InMemorySource(
        bars, members=members, news=news, earnings=earn,
        news_coverage={"BBB": (bars.index[0].date(), t_end)},
    )  # fmt: skip
    ctx = memory_context(src, bars.index[-1].date())
    out = b.compute(ctx, bars, MEMBERS)
    said = [w for w in ctx.warnings if "not checked" in w]
    assert not any("earnings" in w for w in said)
    assert any("no news data for 5 of 6 symbols: AAA, CCC, DDD, EEE, FFF" in w for w in said)
    assert any(f"news data ends {t_end}; bars run to {bars.index[-1].date()}" in w for w in said)
    assert "news: not checked" not in b.explain(ctx, bars, out, "BBB", 150)
    assert "news: not checked" in b.explain(ctx, bars, out, "BBB", 300)
    assert "news: not checked" in b.explain(ctx, bars, out, "AAA", 150)
