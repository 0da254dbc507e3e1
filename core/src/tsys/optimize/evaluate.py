"""What an optimisation trial measures: a strategy's out-of-sample folds, after costs.

An :class:`Evaluator` turns a parameter mapping into one :class:`FoldResult` per fold (the
validation split is one fold; ``--walk-forward N`` gives N). :func:`summarise` joins the folds
into the figures a trial is judged on: Sharpe, CAGR, Calmar, maximum drawdown, trade count and
turnover. :class:`BucketEvaluator` is the real one (the bucket through portfolio construction
and the simulator); tests and benchmarks may plug in their own through
``tsys optimize --objective-module``.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from typing import Any, Protocol

import attrs
import numpy as np

from tsys import metrics

OBJECTIVES = ("sharpe", "cagr", "calmar")


@attrs.define(eq=False)
class FoldResult:
    """One out-of-sample window of a backtest.

    ``returns`` are the portfolio's simple returns per bar (after fees and slippage);
    ``turnover`` is annualised (traded dollars / 2 / mean equity / years).
    """

    returns: np.ndarray
    n_trades: int
    turnover: float
    start: dt.date | None = None
    end: dt.date | None = None
    extra: dict[str, Any] = attrs.field(factory=dict)
    #: Share of equity invested at each bar's close (len(returns) + 1), when known.
    exposure: np.ndarray | None = None
    #: The benchmark's buy-and-hold returns over the same bars, when known.
    benchmark_returns: np.ndarray | None = None


class Evaluator(Protocol):
    """Anything that scores parameters on out-of-sample folds."""

    #: Bucket (or toy) name the study belongs to.
    name: str
    #: Bars per year of the returns (252 for equities, 365 for crypto).
    periods_per_year: int
    #: Number of folds :meth:`evaluate` accepts (0..n_folds-1).
    n_folds: int
    #: Where the folds come from, for the params file ("validation", "walk-forward 4").
    split: str

    def search_space(self) -> dict[str, dict[str, Any]]: ...

    def defaults(self) -> dict[str, Any]: ...

    def evaluate(self, params: dict[str, Any], fold: int) -> FoldResult: ...


@attrs.frozen
class Summary:
    """The figures of a set of folds, joined end to end (:mod:`tsys.metrics`: ``max_drawdown``
    is a negative fraction)."""

    sharpe: float
    cagr: float
    calmar: float
    max_drawdown: float
    n_trades: int
    turnover: float
    n_bars: int
    #: Mean share of equity invested (NaN when the folds do not say).
    exposure: float = math.nan
    #: The benchmark's CAGR over the same bars (NaN when the folds do not say).
    benchmark_cagr: float = math.nan

    def objective(self, name: str) -> float:
        if name not in OBJECTIVES:
            raise ValueError(f"unknown objective {name!r}; choose one of {', '.join(OBJECTIVES)}")
        return float(getattr(self, name))


def summarise(folds: Sequence[FoldResult], periods_per_year: float) -> Summary:
    """Join folds: returns concatenated in order; trades summed; turnover averaged by length."""
    if not folds:
        raise ValueError("no folds to summarise")
    r = np.concatenate([np.asarray(f.returns, dtype=np.float64) for f in folds])
    lengths = np.array([len(f.returns) for f in folds], dtype=np.float64)
    turnover = float(np.average([f.turnover for f in folds], weights=np.maximum(lengths, 1)))
    exposure = bench_cagr = math.nan
    if all(f.exposure is not None for f in folds):
        exposure = float(np.mean(np.concatenate([np.asarray(f.exposure) for f in folds])))
    if all(f.benchmark_returns is not None for f in folds):
        b = np.concatenate([np.asarray(f.benchmark_returns, dtype=np.float64) for f in folds])
        bench_cagr = metrics.cagr(b, periods_per_year)
    return Summary(
        sharpe=metrics.sharpe(r, periods_per_year),
        cagr=metrics.cagr(r, periods_per_year),
        calmar=metrics.calmar(r, periods_per_year),
        max_drawdown=metrics.max_drawdown(r),
        n_trades=int(sum(f.n_trades for f in folds)),
        turnover=turnover,
        n_bars=len(r),
        exposure=exposure,
        benchmark_cagr=bench_cagr,
    )


@attrs.frozen
class Constraints:
    """Feasibility limits; ``None`` switches a limit off. ``max_drawdown`` is the deepest
    drawdown allowed, a positive magnitude (0.35: no worse than -35%)."""

    max_drawdown: float | None = None
    min_trades: int | None = None
    max_turnover: float | None = None
    #: The mandate: mean share of equity invested at least this (0.6 = 60%).
    min_exposure: float | None = None
    #: The mandate: CAGR at most this far below the benchmark's (0.05 = 5 points a year).
    max_cagr_lag: float | None = None

    def values(self, s: Summary) -> dict[str, float]:
        """Optuna constraint values by name: <= 0 means satisfied (one per active limit).

        A limit whose figure cannot be measured (no exposure or no benchmark in the folds)
        counts as broken by 1.0 for the exposure floor (a trial must show it is invested) and
        as met for the CAGR lag (there is nothing to lag).
        """
        out = {}
        if self.max_drawdown is not None:
            out["max_drawdown"] = -s.max_drawdown - self.max_drawdown
        if self.min_trades is not None:
            out["min_trades"] = float(self.min_trades - s.n_trades)
        if self.max_turnover is not None:
            out["max_turnover"] = s.turnover - self.max_turnover
        if self.min_exposure is not None:
            ok = math.isfinite(s.exposure)
            out["min_exposure"] = self.min_exposure - s.exposure if ok else 1.0
        if self.max_cagr_lag is not None:
            ok = math.isfinite(s.benchmark_cagr) and math.isfinite(s.cagr)
            out["max_cagr_lag"] = (s.benchmark_cagr - s.cagr) - self.max_cagr_lag if ok else 0.0
        return out

    def describe(self) -> dict[str, Any]:
        return attrs.asdict(self)
