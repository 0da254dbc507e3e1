"""The rules of Bucket B as plain functions over T x N panels (row t uses rows <= t only).

* :func:`momentum_gate` - every one of several lookback returns is positive (trend agreement);
* :func:`regime` - BTC above its moving average (risk-on) or not;
* :func:`chandelier` - the chandelier stop level, wider when risk-on, tighter when risk-off.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tsys.api import indicators as ind


def lookback_returns(close: np.ndarray, windows: Sequence[int]) -> list[np.ndarray]:
    """``close[t] / close[t - n] - 1`` for each window ``n`` (NaN without that history)."""
    out = []
    for n in windows:
        base = ind.shift(close, n)
        with np.errstate(divide="ignore", invalid="ignore"):
            out.append(np.where(base > 0, close / base - 1.0, np.nan))
    return out


def momentum_gate(close: np.ndarray, windows: Sequence[int]) -> np.ndarray:
    """True where the return over every window is positive (False without the history)."""
    gate = np.ones(close.shape, dtype=bool)
    for r in lookback_returns(close, windows):
        with np.errstate(invalid="ignore"):
            gate &= r > 0
    return gate


def regime(btc_close: np.ndarray, window: int, slope: int = 0) -> np.ndarray:
    """1.0 where BTC closes above its ``window``-day average, else 0.0 (0.0 without it)."""
    btc = np.asarray(btc_close, dtype=np.float64).reshape(-1, 1)
    avg = ind.sma(btc, window)[:, 0]
    with np.errstate(invalid="ignore"):
        on = btc[:, 0] > avg
        if slope > 0:
            on &= avg > ind.shift(avg.reshape(-1, 1), slope)[:, 0]
    return np.where(np.isfinite(avg) & on, 1.0, 0.0)


def chandelier(
    high: np.ndarray,
    atr: np.ndarray,
    window: int,
    multiple_on: float,
    multiple_off: float,
    risk_on: np.ndarray,
) -> np.ndarray:
    """Highest high of ``window`` bars minus a multiple of the ATR: ``multiple_on`` on risk-on
    rows, ``multiple_off`` on risk-off rows (NaN where the level is not positive)."""
    mult = np.where(np.asarray(risk_on)[:, None] > 0, multiple_on, multiple_off)
    level = ind.rolling_max(high, window) - mult * atr
    with np.errstate(invalid="ignore"):
        return np.where(level > 0, level, np.nan)
