"""The rules of Bucket C as plain functions over T x N panels (row t uses rows <= t only).

* :func:`untradeable` - a halted or broken day: no volume, a non-positive or missing price, or a
  single price all day (high <= low: one print, the way a halt or a stray trade shows in
  daily data);
* :func:`overnight_gap` - the open against the last tradeable close before it;
* :func:`worst_gap` - the largest overnight gap (either way) seen so far;
* :func:`rolling_median` - a median over the last ``n`` rows (dollar volume, volume);
* :func:`breakout` - the close above the highest close of the ``n`` rows before it;
* :func:`breakdown` - the close below the lowest close of the ``n`` rows before it;
* :func:`volume_surge` - the volume against the median volume of the ``n`` rows before it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from tsys.api import indicators as ind


def untradeable(
    open_: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray, volume: np.ndarray
) -> np.ndarray:
    """True where nothing could be traded at a fair price: no (or no finite) volume, a price
    that is missing or not positive, or high <= low (one price all day, a single print)."""
    with np.errstate(invalid="ignore"):
        ok = (volume > 0) & np.isfinite(volume)
        for a in (open_, high, low, close):
            ok &= np.isfinite(a) & (a > 0)
        ok &= high > low
    return ~ok


def last_close(close: np.ndarray, bad: np.ndarray) -> np.ndarray:
    """The last close of a tradeable day up to and including each row (NaN before any)."""
    good = np.where(bad, np.nan, close)
    return pd.DataFrame(good).ffill().to_numpy(dtype=np.float64)


def overnight_gap(open_: np.ndarray, close: np.ndarray, bad: np.ndarray) -> np.ndarray:
    """``open[t] / close[s] - 1`` with ``s`` the last tradeable day before ``t`` (NaN on
    untradeable days and without an earlier tradeable close)."""
    prev = ind.shift(last_close(close, bad), 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        gap = np.where((prev > 0) & ~bad, open_ / prev - 1.0, np.nan)
    return gap


def worst_gap(gap: np.ndarray) -> np.ndarray:
    """The largest absolute overnight gap up to each row (NaN before the first gap)."""
    g = np.abs(gap)
    return pd.DataFrame(g).cummax().ffill().to_numpy(dtype=np.float64)


def rolling_median(x: np.ndarray, n: int, min_periods: int | None = None) -> np.ndarray:
    """Median of the last ``n`` rows (NaN cells skipped; NaN with fewer than ``min_periods``)."""
    mp = max(1, n // 2) if min_periods is None else min_periods
    return pd.DataFrame(x).rolling(n, min_periods=mp).median().to_numpy(dtype=np.float64)


def breakout(close: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    """``close > level`` with ``level`` the highest close of the ``window`` rows before it;
    returns (mask, level)."""
    level = ind.shift(ind.rolling_max(close, window, min_periods=window), 1)
    with np.errstate(invalid="ignore"):
        return close > level, level


def breakdown(close: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    """``close < level`` with ``level`` the lowest close of the ``window`` rows before it;
    returns (mask, level)."""
    level = ind.shift(ind.rolling_min(close, window, min_periods=window), 1)
    with np.errstate(invalid="ignore"):
        return close < level, level


def volume_surge(volume: np.ndarray, window: int) -> np.ndarray:
    """The row's volume over the median volume of the ``window`` rows before it (NaN where
    that median is not positive)."""
    base = ind.shift(rolling_median(volume, window), 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(base > 0, volume / base, np.nan)
