"""Performance figures: the one place returns, risk and drawdowns are computed.

Used by backtests, validation, optimisation and every report. Hand-implemented with NumPy
(empyrical, the usual library, is unmaintained); every formula is tested against hand-computed
values. Conventions, everywhere:

- simple per-bar returns, risk-free rate 0, sample standard deviation (ddof=1);
- annualised with the asset class's bars per year
  (:attr:`tsys.contracts.AssetClass.periods_per_year`);
- **drawdowns are negative fractions** (-0.25 = 25% below the running peak; 0 at a new high),
  so ``max_drawdown`` is the most negative one. A limit on it (``[validation] max_drawdown``)
  is a positive magnitude compared with ``-max_drawdown``.

:func:`compute` summarises one equity curve (NaN where a figure is undefined); the figures of a
return series (:func:`sharpe`, :func:`cagr`, :func:`max_drawdown`, :func:`calmar`,
:func:`moments`) are total functions for optimisers and statistical tests (0 where undefined).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

NAN = math.nan
#: Fewer sessions than this and an annualised figure (a CAGR of 75% over 3 days) means
#: nothing: reports say "too short to annualise" instead.
MIN_SESSIONS_TO_ANNUALISE = 60
#: The metrics that are annualised.
ANNUALISED = ("cagr", "volatility", "sharpe", "sortino", "calmar", "turnover")
TOO_SHORT = "too short to annualise"


# --------------------------------------------------------------------------- the formulas


def _sharpe(r: np.ndarray, periods_per_year: float) -> float:
    """Annualised Sharpe ratio of returns ``r``; NaN with fewer than two or no variance."""
    if len(r) < 2:
        return NAN
    sd = float(np.std(r, ddof=1))
    if not sd > 0:
        return NAN
    return float(np.mean(r)) / sd * math.sqrt(periods_per_year)


def _cagr(growth: float, n_returns: int, periods_per_year: float) -> float:
    """Compound annual growth of ``growth`` (end / start) over ``n_returns`` bars; NaN when
    the period is empty or the account was wiped out."""
    years = n_returns / periods_per_year
    return float(growth ** (1.0 / years) - 1.0) if years > 0 and growth > 0 else NAN


def equity_drawdowns(equity: np.ndarray | pd.Series, axis: int = -1) -> np.ndarray:
    """Drawdown at each bar of an equity curve: value / running peak - 1 (<= 0); a 2-D array
    holds one curve per row (``axis=-1``)."""
    eq = np.asarray(equity, dtype=np.float64)
    return eq / np.maximum.accumulate(eq, axis=axis) - 1.0


def drawdown_curve(values: Sequence[float | None]) -> list[float | None]:
    """:func:`equity_drawdowns` of a chart series with gaps (None where a value is missing or
    no positive peak exists yet)."""
    peak = -math.inf
    out: list[float | None] = []
    for v in values:
        if v is None or not math.isfinite(v):
            out.append(None)
            continue
        peak = max(peak, v)
        out.append(v / peak - 1.0 if peak > 0 else None)
    return out


def _drawdown_duration(eq: np.ndarray) -> int:
    """Longest stretch of bars spent below the previous peak (to recovery or to the end)."""
    peak = np.maximum.accumulate(eq)
    under = eq < peak
    best = cur = 0
    for u in under:
        cur = cur + 1 if u else 0
        best = max(best, cur)
    return int(best)


# --------------------------------------------------------------------------- a return series


def checked_returns(returns: np.ndarray) -> np.ndarray:
    """``returns`` as a one-dimensional float64 array; ValueError on NaN or infinity."""
    r = np.asarray(returns, dtype=np.float64)
    if r.ndim != 1:
        raise ValueError(f"returns must be one-dimensional, got shape {r.shape}")
    if not np.all(np.isfinite(r)):
        raise ValueError("returns contain NaN or infinite values")
    return r


def sharpe(returns: np.ndarray, periods: float = 252.0) -> float:
    """Annualised Sharpe ratio (zero risk-free rate); 0 when the series has no variance."""
    value = _sharpe(checked_returns(returns), periods)
    return 0.0 if math.isnan(value) else value


def cagr(returns: np.ndarray, periods: float = 252.0) -> float:
    """Compound annual growth rate of a series of simple returns (-1 when it is wiped out)."""
    r = checked_returns(returns)
    if len(r) == 0:
        return 0.0
    growth = float(np.prod(1.0 + r))
    if growth <= 0:
        return -1.0
    return _cagr(growth, len(r), periods)


def drawdowns(returns: np.ndarray) -> np.ndarray:
    """Drawdown after each period (<= 0) of the equity compounded from 1 through ``returns``."""
    r = checked_returns(returns)
    return equity_drawdowns(np.concatenate([[1.0], np.cumprod(1.0 + r)]))[1:]


def max_drawdown(returns: np.ndarray) -> float:
    """Largest peak-to-trough loss, a negative fraction (-0.25 = 25% down); 0 without any."""
    dd = drawdowns(returns)
    return float(dd.min()) if len(dd) else 0.0


def calmar(returns: np.ndarray, periods: float = 252.0) -> float:
    """CAGR over the maximum drawdown's magnitude (CAGR itself when there was no drawdown)."""
    mdd = max_drawdown(returns)
    g = cagr(returns, periods)
    return g / -mdd if mdd < 0 else g


def moments(returns: np.ndarray) -> tuple[float, float]:
    """Skewness and (non-excess) kurtosis, population estimators as in Bailey & López de Prado."""
    r = checked_returns(returns)
    d = r - r.mean()
    m2 = float(np.mean(d**2))
    if m2 <= 0:
        return 0.0, 3.0
    return float(np.mean(d**3) / m2**1.5), float(np.mean(d**4) / m2**2)


# --------------------------------------------------------------------------- one equity curve


def compute(
    equity: pd.Series | np.ndarray,
    *,
    trades: pd.DataFrame | None = None,
    fills: pd.DataFrame | None = None,
    positions_value: np.ndarray | pd.Series | None = None,
    volume: np.ndarray | None = None,
    max_participation: float = 0.025,
    periods_per_year: int = 252,
) -> dict[str, Any]:
    """Compute the metrics of one backtest.

    Parameters
    ----------
    equity : Series or array (T,)
        Account value at each bar's close; the first value is the starting capital.
    trades : DataFrame, optional
        ``SimResult.trades``: trades with ``exit_reason == "open"`` are left out of the trade
        statistics.
    fills : DataFrame, optional
        ``SimResult.fills`` (columns ``bar``, ``symbol_index``, ``qty``, ``price``).
    positions_value : array (T,), optional
        Marked value of the positions at each close (equity - cash), for exposure.
    volume : array (T, N), optional
        Bar volume, for participation and the capacity estimate.
    max_participation : float
        The capacity cap the capacity estimate is measured against.
    periods_per_year : int
        252 for equities, 365 for crypto.

    Returns
    -------
    dict
        ``total_return``, ``cagr``, ``volatility``, ``sharpe``, ``sortino``, ``calmar``,
        ``max_drawdown`` (<= 0), ``max_drawdown_duration`` (bars), ``exposure`` (mean share of
        equity invested), ``turnover`` (annualised one-way: traded notional / 2 / mean equity),
        ``trade_count``, ``win_rate``, ``profit_factor``, ``avg_r``, ``worst_day`` (worst bar
        return), ``max_adv_participation`` (largest fill / bar volume) and ``capacity_estimate``
        (starting capital x max_participation / max_adv_participation: the account size at
        which the participation cap starts to bind, assuming fills scale with the account).
    """
    eq = np.asarray(equity, dtype=np.float64)
    n = len(eq)
    out: dict[str, Any] = {}
    if n == 0:
        raise ValueError("equity is empty")
    r = eq[1:] / eq[:-1] - 1.0 if n > 1 else np.zeros(0)
    growth = eq[-1] / eq[0]
    out["total_return"] = float(growth - 1.0)
    out["cagr"] = _cagr(growth, n - 1, periods_per_year)
    sd = float(np.std(r, ddof=1)) if len(r) > 1 else NAN
    out["volatility"] = sd * math.sqrt(periods_per_year) if sd == sd else NAN
    mean = float(np.mean(r)) if len(r) else NAN
    out["sharpe"] = _sharpe(r, periods_per_year)
    dd_dev = float(np.sqrt(np.mean(np.minimum(r, 0.0) ** 2))) if len(r) else NAN
    out["sortino"] = (
        mean / dd_dev * math.sqrt(periods_per_year) if dd_dev and dd_dev == dd_dev else NAN
    )
    mdd = float(np.min(equity_drawdowns(eq)))
    out["max_drawdown"] = mdd
    out["max_drawdown_duration"] = _drawdown_duration(eq)
    out["calmar"] = out["cagr"] / abs(mdd) if mdd < 0 and out["cagr"] == out["cagr"] else NAN
    out["worst_day"] = float(np.min(r)) if len(r) else NAN
    if positions_value is not None:
        pv = np.asarray(positions_value, dtype=np.float64)
        out["exposure"] = float(np.mean(pv / eq))
    else:
        out["exposure"] = NAN

    closed = None
    if trades is not None:
        closed = trades[trades["exit_reason"] != "open"]
    if closed is not None:
        pnl = closed["pnl"].to_numpy(dtype=np.float64)
        out["trade_count"] = len(pnl)
        # Positions still open at the end are trades too, counted apart (never mixed in).
        out["open_trades"] = len(trades) - len(pnl)
        out["win_rate"] = float(np.mean(pnl > 0)) if len(pnl) else NAN
        gains, losses = pnl[pnl > 0].sum(), -pnl[pnl < 0].sum()
        if losses > 0:
            out["profit_factor"] = float(gains / losses)
        else:
            out["profit_factor"] = math.inf if gains > 0 else NAN
        rm = closed["r_multiple"].to_numpy(dtype=np.float64)
        rm = rm[np.isfinite(rm)]
        out["avg_r"] = float(rm.mean()) if len(rm) else NAN
    else:
        out.update(trade_count=0, open_trades=0, win_rate=NAN, profit_factor=NAN, avg_r=NAN)

    out["turnover"] = NAN
    out["max_adv_participation"] = NAN
    out["capacity_estimate"] = NAN
    if fills is not None:
        done = fills[fills["qty"] > 0]
        notional = float((done["qty"] * done["price"]).sum())
        out["turnover"] = notional / 2.0 / float(np.mean(eq)) * periods_per_year / n
        if volume is not None and len(done):
            vol = np.asarray(volume, dtype=np.float64)
            v = vol[done["bar"].to_numpy(), done["symbol_index"].to_numpy()]
            part = done["qty"].to_numpy() / v
            mx = float(np.max(part))
            out["max_adv_participation"] = mx
            out["capacity_estimate"] = float(eq[0] * max_participation / mx) if mx > 0 else math.inf
    return out
