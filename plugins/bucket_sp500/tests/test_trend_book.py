"""Bucket A's default "trend" mode: the SPY/TLT/GLD book, each slot gated on its own trend,
volatility-capped, the book scaled to its volatility target; no look-ahead; shipped params."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest
from tsys_bucket_sp500.bucket import TREND_PARAMS, TREND_SEARCHED, Params, Sp500Bucket
from tsys_bucket_sp500.trend_book import BOOK, COV_WINDOW, MIN_SCALE, book_scale, month_starts

from tsys.config import BucketConfig, OverridesConfig, RiskConfig
from tsys.data import Bars
from tsys.testing import (
    InMemorySource,
    lookahead_audit,
    memory_context,
    shared_data_dir,
    shipped_defaults,
)

TREND = Params(mode="trend", gate_months=10, slot_vol=0.15, book_vol=0.10, atr_stop=6.0)


def _book(paths: dict[str, np.ndarray], start: str = "2005-01-03") -> Bars:
    """OHLCV for the book from daily log-return paths (business days)."""
    n = len(next(iter(paths.values())))
    idx = pd.bdate_range(start, periods=n, tz="UTC")
    close = np.column_stack([100.0 * np.exp(np.cumsum(paths[s])) for s in BOOK])
    prev = np.vstack([close[:1], close[:-1]])
    return Bars(
        idx,
        BOOK,
        prev,
        np.maximum(prev, close) * 1.002,
        np.minimum(prev, close) * 0.998,
        close,
        np.full(close.shape, 1e7),
        ["equity"] * len(BOOK),
        source="test",
        synthetic=True,
    )


def _paths(n: int, seed: int = 0, noise: float = 0.008, **drift: float) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {s: drift.get(s, 0.0004) + rng.normal(0.0, noise, n) for s in BOOK}


def _compute(bars: Bars, params: Params = TREND):
    ctx = memory_context(InMemorySource(bars), bars.index[-1].date(), params=params)
    return Sp500Bucket().compute(ctx, bars, params), ctx


def test_each_slot_is_gated_on_its_own_trend_decided_at_month_starts():
    # SPY and GLD rise, TLT falls steadily: TLT is never held as the "safe" asset.
    bars = _book(_paths(600, noise=0.003, SPY=0.001, TLT=-0.001, GLD=0.001))
    out, _ = _compute(bars)
    spy, tlt, gld = (bars.column(s) for s in BOOK)
    starts = month_starts(bars.index)
    late = np.arange(600) > 300
    assert out.entries[late, spy].all() and out.entries[late, gld].all()
    assert not out.entries[:, tlt].any() and out.exits[late, tlt].all()
    # The gate changes only at month starts and holds in between; entries follow it.
    on = out.extras["gate_on"]
    assert (out.entries == (on > 0)).all()
    for t in np.flatnonzero(~starts):
        assert (on[t] == on[t - 1]).all()


def test_gate_is_the_monthly_average_rule_recounted_by_hand():
    bars = _book(_paths(700, seed=3))
    out, _ = _compute(bars, Params(mode="trend", gate_months=6))
    rows = np.flatnonzero(month_starts(bars.index))
    for j in range(len(BOOK)):
        sampled = bars.close[rows, j]
        for k in range(len(rows)):
            t1 = rows[k + 1] if k + 1 < len(rows) else len(bars.index)
            want = k >= 5 and sampled[k] > sampled[k - 5 : k + 1].mean()
            assert (out.extras["gate_on"][rows[k] : t1, j] > 0).all() == want
            assert (out.extras["gate_on"][rows[k] : t1, j] > 0).any() == want


def test_stocks_and_bonds_falling_together_leave_the_book_in_cash():
    # A 2022: SPY and TLT fall together after a rise; only GLD (rising) stays.
    n = 800
    paths = _paths(n, seed=1)
    for s in ("SPY", "TLT"):
        paths[s][500:] = -0.0015 + np.random.default_rng(2).normal(0, 0.008, n - 500)
    bars = _book(paths)
    out, ctx = _compute(bars)
    plan = _plan(bars, out, ctx)
    spy, tlt, gld = (bars.column(s) for s in BOOK)
    assert plan.weights[450, spy] > 0 and plan.weights[450, tlt] > 0
    assert plan.weights[-1, spy] == 0 and plan.weights[-1, tlt] == 0
    assert plan.weights[-1, gld] > 0


def _plan(bars: Bars, out, ctx):
    from tsys.portfolio import plan_positions

    risk = RiskConfig(max_position_weight=1.0, sector_cap=1.0, max_adv_share=1.0)
    settings = BucketConfig(capital_share=1.0, max_positions=10)
    return plan_positions(
        Sp500Bucket(), ctx, bars, out, settings, risk, OverridesConfig(), params=TREND
    )


def test_a_volatile_slot_is_cut_to_its_risk_budget_and_the_book_to_its_target():
    n = 600
    paths = _paths(n, seed=4, SPY=0.001, TLT=0.001, GLD=0.001)
    paths["GLD"] = 0.0015 + np.random.default_rng(5).normal(0, 0.03, n)  # ~48% a year
    bars = _book(paths)
    params = Params(mode="trend", gate_months=10, slot_vol=0.15, book_vol=0.05, atr_stop=6.0)
    out, ctx = _compute(bars, params)
    gld = bars.column("GLD")
    vol = out.extras["volatility"][:, gld]
    slot = out.extras["slot_weight"][:, gld]
    held = out.extras["gate_on"][:, gld] > 0
    assert np.allclose(slot[held], np.minimum(1.0, 0.15 / vol[held]) / 3)
    assert (slot[held] < 0.6 / 3).all()  # well under a full third
    # The book's scale is min(1, target / expected volatility), recounted at a few rows.
    rets = np.diff(bars.close, axis=0) / bars.close[:-1]
    assert (out.regime[: COV_WINDOW + 1] == 1.0).all()
    for t in (300, 400, n - 1):
        w = out.extras["slot_weight"][t]
        live = w > 0
        assert live.any()
        cov = np.atleast_2d(np.cov(rets[t - COV_WINDOW : t][:, live], rowvar=False))
        expected = math.sqrt(w[live] @ cov @ w[live] * 252)
        assert out.regime[t] == pytest.approx(max(0.05, min(1.0, 0.05 / expected)), rel=1e-9)
    assert out.regime[300:].min() < 1.0, "the 5% target binds on this book"
    # The portfolio sizes the held slot to it: slot x min(1, cap / vol), scaled by the book.
    plan = _plan(bars, out, ctx)
    t = int(np.flatnonzero(plan.entry_rows[:, gld] >= 0)[-1])
    entry = plan.entry_rows[t, gld]
    assert plan.weights[entry, gld] <= out.regime[entry] * slot[entry] * 1.2 + 1e-9


def test_book_scale_is_one_for_an_empty_book():
    close = np.exp(np.cumsum(np.random.default_rng(0).normal(0, 0.01, (200, 3)), axis=0))
    assert (book_scale(close, np.zeros((200, 3)), 0.1) == 1.0).all()


def _book_scale_row_by_row(close, weights, book_vol):
    """The book's scale as first written: one ``np.cov`` a row (the yardstick)."""
    from tsys.api import indicators as ind

    rets, out = ind.simple_returns(close), np.ones(close.shape[0])
    for t in range(COV_WINDOW, close.shape[0]):
        w = weights[t]
        live = w > 0
        if not live.any():
            continue
        window = rets[t - COV_WINDOW + 1 : t + 1][:, live]
        ok = np.isfinite(window).all(axis=1)
        if ok.sum() < COV_WINDOW // 2:
            continue
        var = float(w[live] @ np.atleast_2d(np.cov(window[ok], rowvar=False)) @ w[live]) * 252
        if var > 0 and math.isfinite(var):
            out[t] = max(MIN_SCALE, min(1.0, book_vol / math.sqrt(var)))
    return out


@pytest.mark.parametrize("seed", range(12))
def test_book_scale_is_np_cov_row_by_row_bit_for_bit(seed):
    # Held sets change from row to row, prices have gaps (windows with and without a full
    # set of returns), books of one to five slots: the batched windows give np.cov's figures.
    rng = np.random.default_rng(seed)
    T, N = 700, int(rng.integers(1, 6))
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.015, (T, N)), axis=0))
    close[rng.random((T, N)) < 0.01] = np.nan
    close[: int(rng.integers(0, 200)), 0] = np.nan  # a late listing
    weights = np.where(rng.random((T, N)) < 0.7, rng.random((T, N)) / N, 0.0)
    got = book_scale(close, weights, 0.05)
    assert np.array_equal(got, _book_scale_row_by_row(close, weights, 0.05))
    assert (got < 1.0).any() and (got == 1.0).any()


def test_no_lookahead_in_the_trend_book():
    bars = _book(_paths(700, seed=6))
    _out, ctx = _compute(bars)
    assert lookahead_audit(Sp500Bucket(), ctx, bars, TREND, cut_points=[300, 452, 698])


def test_no_lookahead_on_demo_data_with_the_shipped_defaults():
    from tsys.data.demo import DemoSource

    src = DemoSource(seed=7, as_of=dt.date(2021, 12, 31))
    bars = src.bars(list(BOOK), dt.date(2017, 1, 1), dt.date(2021, 12, 31))
    params = Sp500Bucket().default_params()
    ctx = memory_context(src, dt.date(2021, 12, 31), params=params)
    assert lookahead_audit(Sp500Bucket(), ctx, bars, params)
    out = Sp500Bucket().compute(ctx, bars, params)
    assert out.entries.any(), "the demo book should enter some slots"


@pytest.mark.shared_data
@pytest.mark.skipif(shared_data_dir() is None, reason="../shared/data is absent")
def test_no_lookahead_on_real_data():
    from pathlib import Path

    from tsys.data import SourceContext
    from tsys.data.csv import CsvSource

    src = CsvSource.shared_data(shared_data_dir(), ctx=SourceContext(cache_dir=Path(".tsys-cache")))
    bars = src.bars(list(BOOK), dt.date(2005, 1, 1), dt.date(2012, 12, 31))
    ctx = memory_context(src, dt.date(2012, 12, 31), params=TREND)
    T = bars.shape[0]
    assert lookahead_audit(Sp500Bucket(), ctx, bars, TREND, cut_points=[T // 3, 1000, T - 2])


def test_shipped_params_load_as_the_defaults():
    doc = shipped_defaults(Sp500Bucket())
    assert doc["params"]["mode"] == "trend"
    assert doc["data_fingerprint"] and doc["n_trials"] >= 1
    assert doc["research"]["out_of_sample"]["sharpe"] is not None


def test_search_space_follows_the_mode_of_the_parameters():
    """The trend book searches its risk budget (its gate is fixed at the given months); a
    parameter set in another mode searches the stock-picking parameters, whatever the shipped
    default mode is (issue 15: search_space could not differ per mode)."""
    from tsys.api import space_for

    bucket = Sp500Bucket()
    assert set(bucket.search_space()) == TREND_SEARCHED == {"slot_vol", "book_vol"}
    assert TREND_SEARCHED < TREND_PARAMS
    members = space_for(bucket, {"mode": "members"})
    assert members and not set(members) & TREND_PARAMS
    assert {"momentum_window", "atr_stop", "vol_max"} <= set(members)
    assert set(space_for(bucket, Params(mode="etf"))) == set(members)
    assert set(space_for(bucket, {"mode": "trend", "gate_months": 8})) == TREND_SEARCHED
