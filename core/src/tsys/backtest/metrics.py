"""Performance, risk, trading and capacity metrics of an equity curve.

Hand-implemented with NumPy (empyrical, the usual library, is unmaintained); every formula is
tested against hand-computed values in ``core/tests/backtest/test_metrics.py``. Conventions:
simple per-bar returns, risk-free rate 0, sample standard deviation (ddof=1), drawdowns as
negative fractions.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

NAN = math.nan


def _drawdown_duration(eq: np.ndarray) -> int:
    """Longest stretch of bars spent below the previous peak (to recovery or to the end)."""
    peak = np.maximum.accumulate(eq)
    under = eq < peak
    best = cur = 0
    for u in under:
        cur = cur + 1 if u else 0
        best = max(best, cur)
    return int(best)


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
    years = (n - 1) / periods_per_year
    growth = eq[-1] / eq[0]
    out["total_return"] = float(growth - 1.0)
    out["cagr"] = float(growth ** (1.0 / years) - 1.0) if years > 0 and growth > 0 else NAN
    sd = float(np.std(r, ddof=1)) if len(r) > 1 else NAN
    out["volatility"] = sd * math.sqrt(periods_per_year) if sd == sd else NAN
    mean = float(np.mean(r)) if len(r) else NAN
    out["sharpe"] = mean / sd * math.sqrt(periods_per_year) if sd and sd == sd else NAN
    dd_dev = float(np.sqrt(np.mean(np.minimum(r, 0.0) ** 2))) if len(r) else NAN
    out["sortino"] = (
        mean / dd_dev * math.sqrt(periods_per_year) if dd_dev and dd_dev == dd_dev else NAN
    )
    peak = np.maximum.accumulate(eq)
    mdd = float(np.min(eq / peak - 1.0))
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
        out.update(trade_count=0, win_rate=NAN, profit_factor=NAN, avg_r=NAN)

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
