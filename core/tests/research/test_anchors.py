"""Anchors on tiny series whose decisions can be checked by hand, and through the simulator."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tsys.contracts import AssetClass
from tsys.data import Bars
from tsys.research.anchors import (
    INVESTED,
    anchor_plans,
    dual_momentum_plan,
    equal_weight_plan,
    month_end_rows,
    orders,
    sma10_hold,
    trend_hold,
    tsmom_hold,
)


def _monthly_index(months: int, per_month: int = 3) -> pd.DatetimeIndex:
    days = []
    for m in range(months):
        first = pd.Timestamp("2020-01-01") + pd.DateOffset(months=m)
        days += [first + pd.Timedelta(days=d) for d in range(per_month)]
    return pd.DatetimeIndex(days, tz="UTC")


def _bars(index: pd.DatetimeIndex, closes: dict[str, list[float]]) -> Bars:
    syms = list(closes)
    c = np.array([closes[s] for s in syms], dtype=float).T
    return Bars(index, syms, c, c, c, c, np.full(c.shape, 1e9), [AssetClass.EQUITY] * len(syms))


def test_month_ends_are_the_last_session_of_each_month():
    idx = pd.DatetimeIndex(["2020-01-30", "2020-01-31", "2020-02-03", "2020-02-28", "2020-03-02"])
    assert month_end_rows(idx.tz_localize("UTC")).tolist() == [False, True, False, True, True]


def test_sma_timing_by_hand():
    # Three sessions a month; the month-end closes are 10, 11, 12, 9, 13. With a 3-month mean:
    # month 3: 12 > mean(10, 11, 12) = 11 -> hold; month 4: 9 < mean(11, 12, 9) -> cash;
    # month 5: 13 > mean(12, 9, 13) = 11.33 -> hold. Months 1-2 lack history -> cash.
    idx = _monthly_index(5)
    month_end = [10, 11, 12, 9, 13]
    close = np.repeat(month_end, 3).astype(float)
    close[::3] = 50.0  # mid-month prices must not matter
    hold = sma10_hold(close, idx, months=3)
    assert hold.tolist() == [False] * 8 + [True] * 3 + [False] * 3 + [True]


def test_time_series_momentum_by_hand():
    # Month-end closes 10, 12, 11, 9, 10; with 2 months: month 3: 11 / 10 > 1 hold; month 4:
    # 9 / 12 < 1 cash; month 5: 10 / 11 < 1 cash.
    idx = _monthly_index(5)
    close = np.repeat([10, 12, 11, 9, 10], 3).astype(float)
    hold = tsmom_hold(close, idx, months=2)
    assert hold.tolist() == [False] * 8 + [True] * 3 + [False] * 4


def test_trend_filter_by_hand():
    close = np.array([1, 2, 3, 4, 3, 2, 1, 2, 3], dtype=float)
    # fast 2 / slow 3 averages from row 2: fast 2.5 > slow 2; row 4: 3.5 > 3.33; row 5: 2.5 < 3;
    # row 7: 1.5 < 1.67; row 8: 2.5 > 2
    assert trend_hold(close, fast=2, slow=3).tolist() == [
        False, False, True, True, True, False, False, False, True,
    ]  # fmt: skip


def test_equal_weight_follows_the_universe_each_month():
    idx = _monthly_index(3)
    bars = _bars(idx, {"A": [1.0] * 9, "B": [1.0] * 9, "C": [np.nan] * 3 + [1.0] * 6})

    def universe(day):
        return ["A", "C"] if day.month == 1 else ["A", "B", "C", "ZZZ"]  # ZZZ: not in the data

    plan = equal_weight_plan(bars, universe)
    # January month-end: A and C listed but C has no price yet -> A alone
    assert plan.held[2].tolist() == [INVESTED, 0.0, 0.0]
    np.testing.assert_allclose(plan.held[5], [INVESTED / 3] * 3)
    assert plan.rebalance.tolist() == [False, False, True] * 3
    w = orders(plan, slice(3, 9))
    assert np.isfinite(w[0]).all()  # the first row of a window carries the whole book
    assert np.isfinite(w[2]).all() and np.isnan(w[1]).all()  # then month-ends only


def test_dual_momentum_picks_the_stronger_or_the_bond():
    idx = _monthly_index(4)
    bars = _bars(
        idx,
        {
            "SPY": np.repeat([10, 11, 10, 9], 3).tolist(),
            "EFA": np.repeat([10, 12, 13, 14], 3).tolist(),
            "AGG": [5.0] * 12,
        },
    )
    dm = dual_momentum_plan(bars, "SPY", months=1)
    col = {s: j for j, s in enumerate(bars.symbols)}
    # month 2: EFA +20% beats SPY +10% -> EFA; month 3: EFA +8% (SPY -9%) -> EFA;
    # month 4: EFA +7.7% -> EFA. Month 1: no history -> cash.
    assert dm.held[2].sum() == 0.0
    assert dm.held[5, col["EFA"]] == INVESTED and dm.held[8, col["EFA"]] == INVESTED
    falling = _bars(idx, {"SPY": np.repeat([10, 9, 8, 7], 3).tolist(),
                          "EFA": np.repeat([10, 9, 8, 7], 3).tolist(), "AGG": [5.0] * 12})  # fmt: skip
    dm = dual_momentum_plan(falling, "SPY", months=1)
    assert dm.held[5, 2] == INVESTED  # both negative -> the bond fund
    assert dual_momentum_plan(_bars(idx, {"SPY": [1.0] * 12}), "SPY") is None


def test_buy_and_hold_through_the_simulator_by_hand():
    from tsys.sim import Capacity, CostModel, FeeModel, FixedSlippage, simulate

    idx = pd.bdate_range("2021-01-04", periods=6, tz="UTC")
    price = [100.0, 100.0, 110.0, 120.0, 90.0, 100.0]
    bars = _bars(idx, {"SPY": price, "X": [1.0] * 6})
    plans = {p.name: p for p in anchor_plans(bars, "SPY", names=["buy_and_hold"])}
    w = orders(plans["buy_and_hold"], slice(0, 6))
    assert w[0].tolist() == [INVESTED, 0.0] and np.isnan(w[1:]).all()
    free = CostModel(fees=FeeModel(bps=0.0), slippage=FixedSlippage(bps=0.0),
                     capacity=Capacity(max_participation=None))  # fmt: skip
    c = bars.close
    res = simulate(c, c, c, c, bars.volume, target_weights=w, costs=free, cash=10_000.0,
                   lot_size=np.array([1.0, 1.0]))  # fmt: skip
    # 99% of 10,000 buys 99 shares at the open of bar 1 (100); 100 dollars stay in cash
    expected = [10_000.0] + [100.0 + 99 * p for p in price[1:]]
    np.testing.assert_allclose(res.equity, expected)


def test_anchors_need_the_benchmark_and_skip_what_does_not_apply():
    idx = _monthly_index(2)
    bars = _bars(idx, {"A": [1.0] * 6})
    assert anchor_plans(bars, "SPY") == []  # no benchmark column, no universe: nothing
    names = [p.name for p in anchor_plans(bars, "A", universe_at=lambda d: ["A"], equity=False)]
    assert names == ["buy_and_hold", "sma10", "tsmom12", "trend_50_200", "equal_weight"]


@pytest.mark.parametrize("months", [10, 12])
def test_monthly_rules_never_look_ahead(months):
    rng = np.random.default_rng(months)
    idx = pd.bdate_range("2015-01-01", periods=900, tz="UTC")
    close = 100 * np.cumprod(1 + rng.normal(0.0003, 0.01, 900))
    full = sma10_hold(close, idx, months) if months == 10 else tsmom_hold(close, idx, months)
    for cut in (300, 611, 899):
        part = (sma10_hold if months == 10 else tsmom_hold)(close[:cut], idx[:cut], months)
        # the last row of the cut is treated as a month-end (the data stops there), so compare
        # the rows before it
        assert part[: cut - 1].tolist() == full[: cut - 1].tolist()
