"""Anchors: the simple rules every bucket is judged against, through the same simulator and costs.

Definitions (``shared/reference/RESEARCH.md``); decisions are taken at a close and executed at
the next open by the simulator, like the bucket's own; an invested anchor holds 99% of equity
(room for fees and slippage, as the buy-and-hold benchmark always has):

* ``buy_and_hold``: the benchmark, bought on the first bar with a price and held.
* ``sma10``: at each month-end, hold the benchmark for the next month when its month-end close
  is above the mean of the last 10 month-end closes (that one included), else cash (Faber 2007).
* ``tsmom12``: at each month-end, hold the benchmark when its trailing 12-month return
  (month-end close over the month-end close 12 months earlier) is positive, else cash
  (Moskowitz, Ooi, Pedersen 2012, long-only).
* ``trend_50_200``: hold the benchmark while its 50-day average close is above its 200-day one.
* ``equal_weight``: at each month-end, equal weights across the bucket's universe on that date
  (the symbols with a price then; the benchmark itself only when the universe lists it as a
  member), rebalanced every month.
* ``dual_momentum`` (equity buckets, when EFA and a bond fund are in the data): at each
  month-end, the better 12-month return of the benchmark and EFA, held when positive; else the
  first bond fund with a price of AGG, IEF, TLT (Antonacci 2013, with cash at 0% as the
  T-bill hurdle).

A month-end is the last session of a calendar month in the panel. Before a rule has enough
history it stays in cash.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import attrs
import numpy as np
import pandas as pd

#: Name, label shown in reports.
ANCHORS: dict[str, str] = {
    "buy_and_hold": "buy and hold",
    "sma10": "10-month SMA timing",
    "tsmom12": "12-month time-series momentum",
    "trend_50_200": "50/200-day trend filter",
    "equal_weight": "equal weight, monthly",
    "dual_momentum": "dual momentum",
}
INVESTED = 0.99
INTERNATIONAL = "EFA"
BONDS = ("AGG", "IEF", "TLT")


@attrs.frozen(eq=False)
class AnchorPlan:
    """Weights an anchor holds at each close (T x N) and the rows where it rebalances."""

    name: str
    held: np.ndarray
    #: Rows where every weight is sent again (equal weight); None: only when they change.
    rebalance: np.ndarray | None = None


def month_end_rows(index: pd.DatetimeIndex) -> np.ndarray:
    """True on the last session of each calendar month in ``index`` (and on the last row)."""
    idx = pd.DatetimeIndex(index)
    if len(idx) == 0:
        return np.zeros(0, dtype=bool)
    month = (idx.year * 12 + idx.month).to_numpy()
    out = np.ones(len(idx), dtype=bool)
    out[:-1] = month[1:] != month[:-1]
    return out


def _filled(close: np.ndarray) -> np.ndarray:
    """Close with gaps carried forward (a signal reads the last known price)."""
    return pd.Series(close).ffill().to_numpy(dtype=np.float64)


def _monthly_hold(close: np.ndarray, me: np.ndarray, rule: Callable[[np.ndarray], np.ndarray]):
    """Hold state per row from a rule on the month-end closes (decided at month-ends only)."""
    c = _filled(close)
    rows = np.flatnonzero(me & np.isfinite(c))
    decide = rule(c[rows])
    state = np.full(len(c), np.nan)
    state[rows] = decide.astype(np.float64)
    return pd.Series(state).ffill().fillna(0.0).to_numpy() > 0


def sma10_hold(close: np.ndarray, index: pd.DatetimeIndex, months: int = 10) -> np.ndarray:
    """Faber's timing: above the mean of the last ``months`` month-end closes."""

    def rule(c: np.ndarray) -> np.ndarray:
        avg = pd.Series(c).rolling(months).mean().to_numpy()
        with np.errstate(invalid="ignore"):
            return np.isfinite(avg) & (c > avg)

    return _monthly_hold(close, month_end_rows(index), rule)


def tsmom_hold(close: np.ndarray, index: pd.DatetimeIndex, months: int = 12) -> np.ndarray:
    """Time-series momentum: trailing ``months``-month return above zero."""

    def rule(c: np.ndarray) -> np.ndarray:
        past = np.full(len(c), np.nan)
        past[months:] = c[:-months]
        with np.errstate(invalid="ignore"):
            return np.isfinite(past) & (c / past - 1.0 > 0)

    return _monthly_hold(close, month_end_rows(index), rule)


def trend_hold(close: np.ndarray, fast: int = 50, slow: int = 200) -> np.ndarray:
    """Daily trend filter: the ``fast``-bar average close above the ``slow``-bar one."""
    c = pd.Series(_filled(close))
    f = c.rolling(fast).mean().to_numpy()
    s = c.rolling(slow).mean().to_numpy()
    with np.errstate(invalid="ignore"):
        return np.isfinite(s) & (f > s)


def _single(bars: Any, symbol: str, hold: np.ndarray, name: str) -> AnchorPlan:
    held = np.zeros(bars.shape)
    held[:, bars.column(symbol)] = np.where(hold, INVESTED, 0.0)
    return AnchorPlan(name, held)


def equal_weight_plan(bars: Any, universe_at: Callable[[Any], Sequence[str]]) -> AnchorPlan:
    """Equal weights at each month-end across ``universe_at(date)`` symbols with a price."""
    T, N = bars.shape
    me = month_end_rows(bars.index)
    col = {s: j for j, s in enumerate(bars.symbols)}
    held = np.zeros((T, N))
    current = np.zeros(N)
    for t in range(T):
        if me[t]:
            members = [col[s] for s in universe_at(bars.index[t].date()) if s in col]
            members = [j for j in dict.fromkeys(members) if np.isfinite(bars.close[t, j])]
            current = np.zeros(N)
            if members:
                current[members] = INVESTED / len(members)
        held[t] = current
    return AnchorPlan("equal_weight", held, rebalance=me)


def dual_momentum_plan(bars: Any, benchmark: str, months: int = 12) -> AnchorPlan | None:
    """Antonacci's dual momentum (None when the data lacks EFA or every bond fund)."""
    bonds = [b for b in BONDS if b in bars.symbols]
    if INTERNATIONAL not in bars.symbols or not bonds or benchmark not in bars.symbols:
        return None
    T, N = bars.shape
    me = np.flatnonzero(month_end_rows(bars.index))
    risky = [benchmark, INTERNATIONAL]
    closes = {s: _filled(bars.close[:, bars.column(s)]) for s in [*risky, *bonds]}
    held = np.zeros((T, N))
    current = np.zeros(N)
    for k, t in enumerate(me):
        current = np.zeros(N)
        if k >= months:
            t0 = me[k - months]
            with np.errstate(invalid="ignore", divide="ignore"):
                r12 = {s: closes[s][t] / closes[s][t0] - 1.0 for s in risky}
            r12 = {s: r for s, r in r12.items() if np.isfinite(r)}
            best = max(r12, key=lambda s: r12[s]) if r12 else None
            if best is not None and r12[best] > 0:
                current[bars.column(best)] = INVESTED
            else:
                bond = next((b for b in bonds if np.isfinite(bars.close[t, bars.column(b)])), None)
                if bond is not None:
                    current[bars.column(bond)] = INVESTED
        end = me[k + 1] if k + 1 < len(me) else T
        held[t:end] = current
    return AnchorPlan("dual_momentum", held)


def anchor_plans(
    bars: Any,
    benchmark: str | None,
    *,
    universe_at: Callable[[Any], Sequence[str]] | None = None,
    equity: bool = True,
    names: Sequence[str] | None = None,
) -> list[AnchorPlan]:
    """The anchors that apply to these bars (benchmark rules need the benchmark in the panel)."""
    want = list(names) if names is not None else list(ANCHORS)
    out: list[AnchorPlan] = []
    if benchmark is not None and benchmark in bars.symbols:
        c = bars.close[:, bars.column(benchmark)]
        rules = {
            "buy_and_hold": lambda: np.maximum.accumulate(np.isfinite(c)),
            "sma10": lambda: sma10_hold(c, bars.index),
            "tsmom12": lambda: tsmom_hold(c, bars.index),
            "trend_50_200": lambda: trend_hold(c),
        }
        for name, fn in rules.items():
            if name in want:
                out.append(_single(bars, benchmark, fn(), name))
    if "equal_weight" in want and universe_at is not None:
        out.append(equal_weight_plan(bars, universe_at))
    if "dual_momentum" in want and equity and benchmark is not None:
        dm = dual_momentum_plan(bars, benchmark)
        if dm is not None:
            out.append(dm)
    return out


def orders(plan: AnchorPlan, rows: slice) -> np.ndarray:
    """The simulator's target weights over ``rows``: NaN where nothing is sent.

    The first row carries every weight (a window starting mid-history buys what the anchor
    holds); later rows send weights when they change, and all of them on rebalance rows.
    """
    w = plan.held[rows]
    prev = np.vstack([np.full((1, w.shape[1]), np.nan), w[:-1]])
    send = w != prev
    send[0] = True
    if plan.rebalance is not None:
        send |= plan.rebalance[rows][:, None]
    return np.where(send, w, np.nan)
