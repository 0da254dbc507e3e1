"""Bucket A's default mode, "trend": a small multi-asset trend book around an S&P 500 core.

One slot each for SPY (the equity core), TLT (long Treasuries) and GLD (gold). Every slot is
gated on its own trend, decided once a month at the first session of the month::

    on(asset) = close > mean of the last ``gate_months`` month-start closes (that one included)

(Faber's 10-month timing rule, per asset). No asset is held unconditionally: in 2022 stocks and
bonds fell together, and a bond slot held as the "safe" asset would have lost with them. A slot
that is off is cash.

Sizing: each slot is a third of the sleeve, cut to ``slot_vol`` / its 20-day volatility when the
asset is more volatile than that (``PositionRules.target_volatility``); the whole book is then
scaled so its expected volatility (the slots' weights, 60-day covariance) stays under
``book_vol`` (the bucket's regime, 0..1). Held slots are re-sized monthly when the new size
differs by ``resize_band`` or more. Entries: any day a slot is on and not held (a new account
buys on its first run, not at the next month start). Exits: the gate turning off at a month
start, or a wide protective stop ``atr_stop`` x ATR(20) below the entry close, a guard against a
crash inside the month (the slot is bought again while its gate stays on).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from tsys.api import AssetClass, BucketOutput
from tsys.api import indicators as ind

if TYPE_CHECKING:
    from tsys.api import Bars

#: The book: the equity core first, then the diversifiers, one slot each.
BOOK = ("SPY", "TLT", "GLD")
#: Days of returns behind the book's covariance (the bucket-level volatility target).
COV_WINDOW = 60
#: Days of returns behind each slot's volatility (the portfolio's sizing window).
VOL_WINDOW = 20
#: ATR window of the protective stop.
ATR_WINDOW = 20
#: The regime never drops below this: a zero regime would close every slot at a re-size.
MIN_SCALE = 0.05


def month_starts(index: Any) -> np.ndarray:
    """True at the first session of each month (the first row too), known at that bar."""
    n = len(index)
    out = np.ones(n, dtype=bool)
    if n > 1:
        key = (index.year * 100 + index.month).to_numpy()
        out[1:] = key[1:] != key[:-1]
    return out


def monthly_gate(close: np.ndarray, starts: np.ndarray, months: int) -> tuple[np.ndarray, ...]:
    """Per column: the gate decided at each month start and held until the next one.

    Returns (on, level): ``on[t, j]`` is True while asset j's last month-start close was above
    the mean of the last ``months`` month-start closes (that one included); ``level`` is that
    mean, carried the same way (NaN until ``months`` month starts with a close exist).
    """
    T, N = close.shape
    rows = np.flatnonzero(starts)
    sampled = close[rows]
    mean = ind.sma(sampled, months) if len(rows) else sampled
    with np.errstate(invalid="ignore"):
        decided = np.isfinite(mean) & np.isfinite(sampled) & (sampled > mean)
    # Carry each decision forward to the rows of its month.
    which = np.cumsum(starts) - 1
    on = np.zeros((T, N), dtype=bool)
    level = np.full((T, N), np.nan)
    valid = which >= 0
    on[valid] = decided[which[valid]]
    level[valid] = mean[which[valid]]
    return on, level


def book_scale(close: np.ndarray, weights: np.ndarray, book_vol: float) -> np.ndarray:
    """Per row: min(1, ``book_vol`` / the book's expected annual volatility), at least
    ``MIN_SCALE``; 1.0 where the book is empty or its covariance unknown.

    The expected volatility is sqrt(w' S w) with w the row's slot weights and S the covariance
    of the last ``COV_WINDOW`` daily returns (rows up to t only, those with a return for every
    held slot, at least half the window). Rows whose window is complete are computed together,
    per set of held slots (:func:`quad_forms`), the others one by one; both give ``np.cov``'s
    figures bit for bit.
    """
    T = close.shape[0]
    rets = ind.simple_returns(close)
    out = np.ones(T)
    live_rows = weights > 0
    rows = np.flatnonzero(live_rows.any(axis=1)[COV_WINDOW:]) + COV_WINDOW
    if not len(rows):
        return out
    gaps = np.cumsum(~np.isfinite(rets), axis=0)
    complete = ~(((gaps[rows] - gaps[rows - COV_WINDOW]) > 0) & live_rows[rows]).any(axis=1)
    var = np.full(T, np.nan)
    pattern = live_rows[rows] @ (1 << np.arange(close.shape[1], dtype=np.int64))
    for p in np.unique(pattern[complete]):
        at = rows[complete & (pattern == p)]
        live = live_rows[at[0]]
        var[at] = quad_forms(rets[:, live], weights[at][:, live], at)
    for t in rows[~complete]:
        live = live_rows[t]
        window = rets[t - COV_WINDOW + 1 : t + 1][:, live]
        ok = np.isfinite(window).all(axis=1)
        if ok.sum() >= COV_WINDOW // 2:
            w = weights[t, live]
            var[t] = w @ np.atleast_2d(np.cov(window[ok], rowvar=False)) @ w
    var *= AssetClass.EQUITY.periods_per_year
    with np.errstate(invalid="ignore", divide="ignore"):
        scaled = np.maximum(MIN_SCALE, np.minimum(1.0, book_vol / np.sqrt(var)))
        return np.where((var > 0) & np.isfinite(var), scaled, out)


def quad_forms(rets: np.ndarray, w: np.ndarray, rows: np.ndarray, chunk: int = 2048) -> np.ndarray:
    """``w[i] @ np.cov(rets[t - COV_WINDOW + 1 : t + 1], rowvar=False) @ w[i]`` for each
    ``t = rows[i]`` (windows of finite returns), bit for bit: numpy's own steps (a sequential
    column mean, the same BLAS products) on a stack of windows instead of one call a row,
    which costs ten times the arithmetic on a 60 x 3 window."""
    rets, w = np.ascontiguousarray(rets), np.ascontiguousarray(w)  # the layouts BLAS sees
    out = np.empty(len(rows))
    lags = np.arange(1 - COV_WINDOW, 1)
    for a in range(0, len(rows), chunk):
        X = rets[rows[a : a + chunk, None] + lags].transpose(0, 2, 1)  # (B, k, window)
        avg = np.add.reduce(X, axis=2)
        np.true_divide(avg, COV_WINDOW, out=avg)
        X -= avg[:, :, None]
        cov = np.matmul(X, X.transpose(0, 2, 1).conj())
        cov *= np.true_divide(1, COV_WINDOW - 1)
        wb = w[a : a + chunk]
        out[a : a + chunk] = np.matmul(np.matmul(wb[:, None, :], cov), wb[:, :, None])[:, 0, 0]
    return out


def compute_trend_book(bars: Bars, params: Any, in_book: np.ndarray) -> BucketOutput:
    """The trend book's output for the panel (``in_book``: T x N, the book's columns)."""
    T, N = bars.shape
    close = bars.close
    starts = month_starts(bars.index)
    on, level = monthly_gate(close, starts, params.gate_months)
    on &= in_book & np.isfinite(close)
    # Expected slot weights (as the portfolio will size them): a third each, volatility-capped.
    vol = ind.volatility(close, VOL_WINDOW) * math.sqrt(AssetClass.EQUITY.periods_per_year)
    slots = max(1, int(in_book.any(axis=0).sum()))
    with np.errstate(divide="ignore", invalid="ignore"):
        cap = np.where(vol > 0, np.minimum(1.0, params.slot_vol / vol), 1.0)
    weights = np.where(on, cap / slots, 0.0)
    regime = book_scale(close, np.nan_to_num(weights), params.book_vol)
    atr = ind.atr(bars.high, bars.low, close, ATR_WINDOW)
    stop = close - params.atr_stop * atr
    stop = np.where(on & (stop > 0), stop, np.nan)
    # The score orders the book: the equity core first (three slots for three assets, so the
    # order matters only if a user configures fewer positions).
    rank = np.array([BOOK.index(s) if s in BOOK else len(BOOK) for s in bars.symbols], float)
    score = np.where(on, 1.0 - rank[None, :] / 10.0, np.nan)
    entries = on.copy()  # a slot that is on and not held is bought on any day (daily run)
    exits = in_book & ~on & np.isfinite(close)
    return BucketOutput(
        score=score,
        entries=entries,
        exits=exits,
        stop=stop,
        regime=regime,
        extras={
            "gate_level": level,
            "gate_on": on.astype(np.float64),
            "slot_weight": weights,
            "volatility": vol,
            "atr": atr,
            "month_start": np.broadcast_to(starts[:, None], (T, N)).astype(np.float64),
        },
    )


def explain_trend_book(bars: Bars, output: BucketOutput, params: Any, j: int, t: int) -> list[str]:
    """Rationale tags of one slot at row t."""
    x = output.extras
    c = bars.close[t, j]
    tags: list[str] = []
    level = x["gate_level"][t, j]
    if math.isfinite(level):
        side = "above" if x["gate_on"][t, j] > 0 else "at or below"
        tags.append(f"trend {side} its {params.gate_months}-month average ({level:,.2f})")
    vol = x["volatility"][t, j]
    if math.isfinite(vol):
        capped = vol > params.slot_vol
        tags.append(
            f"volatility {vol:.0%} a year"
            + (f", slot cut to the {params.slot_vol:.0%} risk budget" if capped else "")
        )
    if output.regime is not None and output.regime[t] < 1.0:
        tags.append(f"book scaled to {output.regime[t]:.0%} for its {params.book_vol:.0%} target")
    if output.entries[t, j]:
        day = "" if x["month_start"][t, j] else " (decided at the month start)"
        tags.append(f"entry: monthly trend gate on{day}, close {c:,.2f} vs {level:,.2f}")
    if output.exits[t, j]:
        tags.append(f"exit: monthly trend gate off, close at or below {level:,.2f}")
    return tags
