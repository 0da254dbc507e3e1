"""Backtests: the engine (:func:`run`), splits and walk-forward, and metrics."""

from tsys.backtest.engine import LOT_SIZES, BacktestResult, run
from tsys.backtest.splits import Splits, holdout_uses, walk_forward

__all__ = ["LOT_SIZES", "BacktestResult", "Splits", "holdout_uses", "run", "walk_forward"]
