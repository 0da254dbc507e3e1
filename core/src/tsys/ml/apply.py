"""A bucket's step with a meta-model applied: entries filtered, or allocations sized.

Meta-labelling never changes the side (AFML ch. 3.6): ``filter`` removes the entries whose
probability is below the model's threshold from the bucket's output before portfolio
construction (so a freed slot goes to the next candidate, as it would in the daily run);
``size`` keeps every entry and multiplies each position's planned weight by the model's size
factor (in [0.25, 1], so never above what the bucket's caps allowed).
"""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np

MODES = ("off", "filter", "size")


@attrs.frozen(eq=False)
class Scored:
    """The model's probability of every primary event of a step (``t``, ``j``, ``p``)."""

    t: np.ndarray
    j: np.ndarray
    p: np.ndarray

    def panel(self, shape: tuple[int, int]) -> np.ndarray:
        out = np.full(shape, np.nan)
        out[self.t, self.j] = self.p
        return out


def score_events(model: Any, bars: Any, output: Any, benchmark: str | None, rows: Any = None):
    """The model's probabilities for the bucket's primary events (in ``rows`` when given)."""
    from tsys.ml.features import feature_matrix, feature_panels
    from tsys.ml.labels import primary_events

    t, j = primary_events(bars, output)
    if rows is not None:
        m = (t >= (rows.start or 0)) & (t < rows.stop)
        t, j = t[m], j[m]
    X, _ = feature_matrix(feature_panels(bars, output, benchmark), t, j, model.features)
    return Scored(t, j, model.predict(X))


def filtered_output(output: Any, scored: Scored, threshold: float) -> Any:
    """``output`` without the entries scored below ``threshold``."""
    entries = np.array(output.entries, dtype=bool, copy=True)
    drop = scored.p < threshold
    entries[scored.t[drop], scored.j[drop]] = False
    return attrs.evolve(output, entries=entries)


def sized_plan(plan: Any, factors: np.ndarray) -> Any:
    """``plan`` with each position's weights scaled by ``factors[entry row, column]`` (NaN: 1)."""
    w = np.array(plan.weights, dtype=np.float64, copy=True)
    rows, cols = np.nonzero(plan.entry_rows >= 0)
    f = factors[plan.entry_rows[rows, cols], cols]
    w[rows, cols] *= np.where(np.isfinite(f), np.clip(f, 0.0, 1.0), 1.0)
    return attrs.evolve(plan, weights=w)


def replan(step: Any, output: Any, config: Any, window: Any) -> Any:
    """A history step planned again from ``output`` (the bucket, bars, caps unchanged)."""
    from tsys.portfolio.history import plan_positions
    from tsys.portfolio.step import BucketStep, sleeve_caps

    ctx = step.ctx
    risk, overrides = sleeve_caps(step.bucket, ctx, config)
    plan = plan_positions(
        step.bucket, ctx, step.bars, output, ctx.settings, risk, overrides, window.rebalance,
        params=ctx.params, equity=window.equity,
    )  # fmt: skip
    return BucketStep(bucket=step.bucket, ctx=ctx, bars=step.bars, output=output, plan=plan)


def applied(
    step: Any, model: Any, mode: str, config: Any, window: Any, rows: Any = None
) -> tuple[Any, Scored]:
    """``step`` with ``model`` applied in ``mode`` to the events in ``rows`` (all by default)."""
    if mode not in MODES:
        raise ValueError(f"ml mode must be one of {MODES}, got {mode!r}")
    scored = score_events(model, step.bars, step.output, step.bucket.benchmark, rows)
    if mode == "off":
        return step, scored
    if mode == "filter":
        kept = filtered_output(step.output, scored, model.threshold)
        return replan(step, kept, config, window), scored
    from tsys.portfolio.step import BucketStep

    factors = np.full(step.bars.shape, np.nan)
    factors[scored.t, scored.j] = model.size_factor(scored.p)
    plan = sized_plan(step.plan, factors)
    sized = BucketStep(
        bucket=step.bucket, ctx=step.ctx, bars=step.bars, output=step.output, plan=plan
    )
    return sized, scored
