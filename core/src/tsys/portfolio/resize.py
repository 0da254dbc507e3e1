"""Bucket-level position rules the portfolio applies on top of entry sizing.

* :func:`effective_settings`: a bucket that holds few symbols by design (three ETFs, the top
  three coins) declares its own slot count in ``PositionRules.max_positions``; the portfolio
  uses the smaller of that and the configured ``max_positions``, so each slot is
  ``budget / slots`` and the bucket can use its whole budget.
* :func:`resize_held`: with ``PositionRules.resize`` ("daily", "weekly", "monthly") the
  positions a bucket holds are sized again on those bars with the same rule as an entry
  (volatility target, caps, the regime-scaled budget), and changed where the new size differs
  from the held one by at least ``PositionRules.resize_band`` (relative). Without it a
  position keeps its entry size until it closes, so volatility targeting decays: a position
  bought in calm markets stays full size through a volatility spike.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np

from tsys.portfolio.construct import Candidate, base_dollars, candidate_at

if TYPE_CHECKING:
    from tsys.buckets import PositionRules
    from tsys.config import BucketConfig, RiskConfig
    from tsys.data import Bars

RESIZES = ("daily", "weekly", "monthly")


def effective_settings(settings: BucketConfig, rules: PositionRules) -> BucketConfig:
    """``settings`` with ``max_positions`` lowered to the bucket's own slot count, if any."""
    own = rules.max_positions
    if own is None or own >= settings.max_positions:
        return settings
    return attrs.evolve(settings, max_positions=int(own))


def resize_held(
    held: Sequence[tuple[Candidate, float]],
    *,
    equity: float,
    settings: BucketConfig,
    risk: RiskConfig,
    regime: float,
    sizing: str,
    target_volatility: float | None,
    band: float,
) -> dict[str, float]:
    """New dollar sizes for held positions whose entry-rule size moved by ``band`` or more.

    ``held`` pairs each position (as a :class:`Candidate` priced at this bar, with its current
    volatility, dollar volume and stop) with its current dollars. Each gets the size an entry
    would get now: the bucket's sizing rule on a slot of ``capital_share x regime x equity /
    max_positions``, capped at ``max_position_weight`` and the liquidity share, and all of them
    together at the regime-scaled budget (scaled down pro rata). Positions within the band are
    left out of the result (no trade); a regime of 0 sizes every position to 0.
    """
    if not held:
        return {}
    regime = min(1.0, max(0.0, float(regime))) if math.isfinite(regime) else 0.0
    budget = equity * settings.capital_share * regime
    max_pos = max(1, settings.max_positions)
    cands = [c for c, _ in held]
    sized = base_dollars(
        cands,
        sizing=sizing,
        slot_dollars=budget / max_pos,
        equity=equity,
        risk_per_trade=settings.risk_per_trade * regime,
        target_volatility=target_volatility,
    )
    new = []
    for c, (dollars, _risk, _notes) in zip(cands, sized, strict=True):
        d = min(dollars, risk.max_position_weight * equity)
        if c.adv_dollars is not None and math.isfinite(c.adv_dollars) and c.adv_dollars > 0:
            d = min(d, risk.max_adv_share * c.adv_dollars)
        new.append(max(0.0, d) * c.size_factor)  # a meta-model's size factor (1: none)
    total = sum(new)
    if total > budget > 0:
        new = [d * budget / total for d in new]
    elif budget <= 0:
        new = [0.0] * len(new)
    out: dict[str, float] = {}
    for (c, current), d in zip(held, new, strict=True):
        if current <= 0:
            continue
        if d <= 0 or abs(d / current - 1.0) >= band:
            out[c.symbol] = d
    return out


def resize_plan_bar(
    held: dict[int, Any],
    t: int,
    bars: Bars,
    vol: np.ndarray,
    adv: np.ndarray,
    sectors: Mapping[str, str],
    regime: float,
    equity: float,
    settings: BucketConfig,
    risk: RiskConfig,
    rules: PositionRules,
    reasons: dict[tuple[int, int], str],
    capped: dict[str, int],
) -> None:
    """:func:`resize_held` at bar ``t`` of a history, in place on ``plan_positions``' state:
    ``held`` maps columns to positions with a ``weight`` and a ``stop``; a position re-sized
    to nothing closes with the reason "resize"; ``capped["resized"]`` counts the changes."""
    pairs = [
        (
            candidate_at(bars, j, t, vol, adv, sectors, p.stop, size_factor=p.size),
            p.weight * equity,
        )
        for j, p in held.items()
    ]
    sized = resize_held(
        pairs,
        equity=equity,
        settings=settings,
        risk=risk,
        regime=regime,
        sizing=settings.sizing,
        target_volatility=rules.target_volatility,
        band=rules.resize_band,
    )
    for j in list(held):
        d = sized.get(bars.symbols[j])
        if d is None:
            continue
        capped["resized"] = capped.get("resized", 0) + 1
        if d <= 0:
            del held[j]
            reasons[(t, j)] = "resize"
        else:
            held[j].weight = d / equity
