"""Stress variants of a backtest: costs scaled, execution delayed, half of the universe.

The validation suite (:func:`tsys.validate.suite.run_validation`) reruns a bucket's backtest
with each of them; research code may use them the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import attrs
import numpy as np


def random_half(seed: int) -> Callable[[Sequence[str]], list[str]]:
    """Keep a seeded random half of the symbols (a ``keep`` for
    :class:`~tsys.data.memo.CachedHub`)."""

    def keep(syms: Sequence[str]) -> list[str]:
        s = sorted(syms)
        rng = np.random.default_rng(seed)
        return [s[i] for i in sorted(rng.choice(len(s), size=max(1, len(s) // 2), replace=False))]

    return keep


class DelayedBucket:
    """A bucket whose every decision reaches the market one bar later than it should.

    Wraps ``compute`` and shifts every output panel down one row, so a decision taken at the
    close of t is executed at the open of t + 2 instead of t + 1 (the stress test "execution
    delayed one bar"). Everything else is the wrapped bucket's.
    """

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def compute(self, ctx: Any, bars: Any, params: Any) -> Any:
        out = self._inner.compute(ctx, bars, params)
        shifted = {}
        for f in ("score", "entries", "exits", "stop", "target", "regime", "blocked"):
            a = getattr(out, f)
            shifted[f] = None if a is None else _shift(a)
        return attrs.evolve(
            out, **shifted, extras={k: _shift(v) for k, v in out.extras.items()}, block_reasons={}
        )


def _shift(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a)
    out = np.empty_like(a)
    if a.dtype == bool:
        out[:1] = False
    elif np.issubdtype(a.dtype, np.floating):
        out[:1] = np.nan
    else:
        out[:1] = 0
    out[1:] = a[:-1]
    return out


def scaled_costs(costs: Any, factor: float) -> Any:
    """The cost model with fees, spread and impact multiplied by ``factor`` (capacity kept)."""
    fees = attrs.evolve(
        costs.fees,
        bps=costs.fees.bps * factor,
        per_share=costs.fees.per_share * factor,
        minimum=costs.fees.minimum * factor,
    )
    s = costs.slippage
    if hasattr(s, "half_spread_bps"):
        slip = attrs.evolve(s, half_spread_bps=s.half_spread_bps * factor, impact=s.impact * factor)
    else:
        slip = attrs.evolve(s, bps=s.bps * factor)
    return attrs.evolve(costs, fees=fees, slippage=slip)


def one_way_cost(costs: Any) -> float:
    """Fees plus half spread, as a fraction of notional (impact left out: it depends on size)."""
    s = costs.slippage
    bps = costs.fees.bps + (s.half_spread_bps if hasattr(s, "half_spread_bps") else s.bps)
    return bps / 1e4
