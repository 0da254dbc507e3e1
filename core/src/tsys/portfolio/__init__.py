"""Portfolio construction: selection, sizing, risk limits and overrides, one code path.

Backtests call :func:`target_weights` (or :func:`plan_positions`) over a whole history; the
daily run calls :func:`build_allocations` for its last bar. Both go through
:func:`select_and_size`, so research and the daily plan cannot diverge. (The merged position
view lives in :mod:`tsys.portfolio.view`.) Heavy modules load on first use.
"""

from __future__ import annotations

from typing import Any

_EXPORTS = {
    "Candidate": "tsys.portfolio.construct",
    "Holding": "tsys.portfolio.construct",
    "Decision": "tsys.portfolio.construct",
    "Selection": "tsys.portfolio.construct",
    "PositionPlan": "tsys.portfolio.history",
    "select_and_size": "tsys.portfolio.construct",
    "plan_positions": "tsys.portfolio.history",
    "target_weights": "tsys.portfolio.history",
    "rebalance_mask": "tsys.portfolio.history",
    "sleeve_limits": "tsys.portfolio.sleeve",
    "BucketDecisions": "tsys.portfolio.plans",
    "build_allocations": "tsys.portfolio.plans",
    "client_order_id": "tsys.portfolio.plans",
    "valid_until": "tsys.portfolio.plans",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    mod = _EXPORTS.get(name)
    if mod is None:
        raise AttributeError(f"module 'tsys.portfolio' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(mod), name)
