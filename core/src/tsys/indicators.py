"""Causal, NaN-safe indicators over T x N panels (row t uses rows <= t only).

Buckets and the portfolio layer share these so a volatility or an average dollar volume means
the same thing in a score, a size and a newsletter line. Every function takes and returns
float64 arrays of the panel's shape; NaN in, NaN out (a symbol without enough history has NaN).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pandas.api.indexers import BaseIndexer


def _df(a: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame(np.asarray(a, dtype=np.float64))


def _out(df: pd.DataFrame) -> np.ndarray:
    return np.ascontiguousarray(df.to_numpy(dtype=np.float64))


class _ColumnWindows(BaseIndexer):
    """Trailing windows of ``window_size`` rows over a panel laid out column after column.

    No window reaches back into the previous column, so one pass over the whole panel gives
    each column what rolling that column alone gives, bit for bit (pandas restarts its running
    sums where a window does not overlap the previous one; a property test holds this against
    per-column pandas), without pandas' per-column overhead.
    """

    def __init__(self, n_rows: int, window_size: int) -> None:
        super().__init__(window_size=window_size)
        self.n_rows = n_rows

    def get_window_bounds(
        self,
        num_values: int = 0,
        min_periods: int | None = None,
        center: bool | None = None,
        closed: str | None = None,
        step: int | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        end = np.arange(1, num_values + 1, dtype=np.int64)
        column_start = (end - 1) - (end - 1) % self.n_rows
        return np.maximum(column_start, end - self.window_size), end


def _rolling(x: np.ndarray, n: int, min_periods: int, how: str) -> np.ndarray:
    """Column-wise trailing ``how`` ("mean", "std", "max", "min") over ``n`` rows."""
    a = np.asarray(x, dtype=np.float64)
    if a.ndim != 2 or 0 in a.shape or not 1 <= min_periods <= n:
        # pandas' own checks and messages for the unusual cases
        return _out(getattr(_df(a).rolling(n, min_periods=min_periods), how)())
    T, N = a.shape
    roll = pd.Series(a.ravel(order="F")).rolling(_ColumnWindows(T, n), min_periods=min_periods)
    flat = getattr(roll, how)().to_numpy(dtype=np.float64)
    return np.ascontiguousarray(flat.reshape((T, N), order="F"))


def sma(x: np.ndarray, n: int, min_periods: int | None = None) -> np.ndarray:
    """Simple moving average over ``n`` rows (NaN until ``min_periods`` values exist)."""
    return _rolling(x, n, min_periods or n, "mean")


def rolling_max(x: np.ndarray, n: int, min_periods: int | None = None) -> np.ndarray:
    return _rolling(x, n, min_periods or n, "max")


def rolling_min(x: np.ndarray, n: int, min_periods: int | None = None) -> np.ndarray:
    return _rolling(x, n, min_periods or n, "min")


def simple_returns(close: np.ndarray) -> np.ndarray:
    """close[t] / close[t-1] - 1 (NaN where either bar is missing or the previous is <= 0)."""
    c = np.asarray(close, dtype=np.float64)
    out = np.full_like(c, np.nan)
    if len(c) > 1:
        prev = c[:-1]
        with np.errstate(divide="ignore", invalid="ignore"):
            out[1:] = np.where(prev > 0, c[1:] / prev - 1.0, np.nan)
    return out


def log_returns(close: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log1p(simple_returns(close))


def volatility(close: np.ndarray, n: int = 20, min_periods: int | None = None) -> np.ndarray:
    """Standard deviation of daily log returns over ``n`` rows (not annualised)."""
    return _rolling(log_returns(close), n, min_periods or max(2, n // 2), "std")


def true_range(high: np.ndarray, low: np.ndarray, close: np.ndarray) -> np.ndarray:
    prev = np.vstack([np.full((1, close.shape[1]), np.nan), close[:-1]]) if len(close) else close
    hl = high - low
    with np.errstate(invalid="ignore"):
        tr = np.fmax(hl, np.fmax(np.abs(high - prev), np.abs(low - prev)))
    return np.where(np.isnan(hl), np.nan, tr)


def atr(high: np.ndarray, low: np.ndarray, close: np.ndarray, n: int = 14) -> np.ndarray:
    """Average true range: the simple mean of the true range over ``n`` rows."""
    return sma(true_range(high, low, close), n, min_periods=max(2, n // 2))


def dollar_volume(close: np.ndarray, volume: np.ndarray, n: int = 20) -> np.ndarray:
    """Average daily dollar volume (close x volume) over ``n`` rows; the liquidity yardstick."""
    return sma(np.asarray(close) * np.asarray(volume), n, min_periods=max(1, n // 2))


def rsi(close: np.ndarray, n: int = 3) -> np.ndarray:
    """Relative strength index 0..100 with simple averages of gains and losses over ``n`` rows."""
    d = np.asarray(close, dtype=np.float64)
    diff = np.full_like(d, np.nan)
    diff[1:] = d[1:] - d[:-1]
    up = sma(np.where(np.isnan(diff), np.nan, np.clip(diff, 0, None)), n)
    down = sma(np.where(np.isnan(diff), np.nan, np.clip(-diff, 0, None)), n)
    with np.errstate(divide="ignore", invalid="ignore"):
        total = up + down
        out = np.where(total > 0, 100.0 * up / total, 50.0)
    return np.where(np.isnan(up) | np.isnan(down), np.nan, out)


def trend_r2(close: np.ndarray, n: int = 126) -> np.ndarray:
    """R² of a straight-line fit to log price over ``n`` rows (1 = a perfectly steady trend)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        y = np.where(close > 0, np.log(close), np.nan)
    # Uncentred on purpose: centring on len(y) would make row t depend on the panel's length.
    t = np.arange(len(y), dtype=np.float64)[:, None]
    x = np.where(np.isnan(y), np.nan, np.broadcast_to(t, y.shape))
    mp = max(3, int(n * 0.8))

    def m(a: np.ndarray) -> np.ndarray:
        return sma(a, n, min_periods=mp)

    mx, my = m(x), m(y)
    cov = m(x * y) - mx * my
    vx = m(x * x) - mx * mx
    vy = m(y * y) - my * my
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = np.where((vx > 0) & (vy > 1e-14), cov * cov / (vx * vy), np.nan)
    return np.clip(r2, 0.0, 1.0)


def shift(x: np.ndarray, k: int = 1) -> np.ndarray:
    """Rows moved down by ``k`` (row t holds row t-k; the first k rows NaN)."""
    out = np.full_like(np.asarray(x, dtype=np.float64), np.nan)
    if k < len(out):
        out[k:] = x[: len(x) - k]
    return out


def cross_rank(x: np.ndarray) -> np.ndarray:
    """Per row, the percentile rank (0..1] of each finite value among that row's finite values."""
    return cross_ranks(x)[0]


def cross_position(x: np.ndarray) -> np.ndarray:
    """Per row, 1 for the largest finite value, 2 for the next, ... (NaN where not finite)."""
    return cross_ranks(x)[1]


def cross_ranks(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`cross_rank` and :func:`cross_position` of ``x`` from one sort of each row.

    The same numbers as pandas' ``rank(axis=1, pct=True)`` (ties share their average rank)
    and ``rank(axis=1, ascending=False, method="first")`` (ties in column order); NaN stays
    NaN, infinities rank as values.
    """
    a = np.asarray(x, dtype=np.float64)
    T, N = a.shape
    pct, pos = np.full((T, N), np.nan), np.full((T, N), np.nan)
    if T == 0 or N == 0:
        return pct, pos
    order = np.argsort(a, axis=1, kind="stable")  # NaN last; ties keep column order
    v = np.take_along_axis(a, order, axis=1)
    valid = ~np.isnan(v)
    n = valid.sum(axis=1, keepdims=True)
    k = np.broadcast_to(np.arange(N), (T, N))
    starts = np.ones((T, N), dtype=bool)
    starts[:, 1:] = v[:, 1:] != v[:, :-1]
    ends = np.ones((T, N), dtype=bool)
    ends[:, :-1] = starts[:, 1:]
    # First and last sorted position of each run of equal values.
    first = np.maximum.accumulate(np.where(starts, k, 0), axis=1)
    last = np.minimum.accumulate(np.where(ends, k, N - 1)[:, ::-1], axis=1)[:, ::-1]
    with np.errstate(invalid="ignore", divide="ignore"):
        avg = np.where(valid, ((first + last) / 2.0 + 1.0) / n, np.nan)
    desc = np.where(valid, (n - last + k - first).astype(np.float64), np.nan)
    np.put_along_axis(pct, order, avg, axis=1)
    np.put_along_axis(pos, order, desc, axis=1)
    return pct, pos
