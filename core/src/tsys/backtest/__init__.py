"""Backtests: a bucket through the simulator (:mod:`tsys.backtest.bucket`), splits and
walk-forward (:mod:`tsys.backtest.splits`); the figures come from :mod:`tsys.metrics`."""

from tsys.backtest.splits import Splits, holdout_uses, walk_forward

__all__ = ["Splits", "holdout_uses", "walk_forward"]
