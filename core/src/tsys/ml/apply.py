"""A bucket's step with a meta-model applied: entries filtered, or allocations sized.

Meta-labelling never changes the side (AFML ch. 3.6): ``filter`` removes the entries whose
probability is below the model's threshold from the bucket's output before portfolio
construction (so a freed slot goes to the next candidate, as it would in the daily run);
``size`` keeps every entry and publishes the model's size factor (in [0.25, 1]) as
``extras["size_factor"]``; the one portfolio path (:func:`tsys.portfolio.construct.
select_and_size`, daily and in backtests) multiplies the allocation it sized under every cap by
it, so a position is never above what the caps allow.
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
    #: The events' feature rows (the model's columns), for explanations.
    X: np.ndarray | None = None

    def panel(self, shape: tuple[int, int]) -> np.ndarray:
        out = np.full(shape, np.nan)
        out[self.t, self.j] = self.p
        return out


def score_events(
    model: Any, bars: Any, output: Any, benchmark: str | None, rows: Any = None, hub: Any = None
):
    """The model's probabilities for the bucket's primary events (in ``rows`` when given);
    ``hub`` gives the news features of a model that reads them."""
    from tsys.ml.features import feature_matrix, feature_panels, news_frame, uses_news
    from tsys.ml.labels import primary_events

    t, j = primary_events(bars, output)
    if rows is not None:
        m = (t >= (rows.start or 0)) & (t < rows.stop)
        t, j = t[m], j[m]
    news = news_frame(hub, bars) if uses_news(model.features) else None
    X, _ = feature_matrix(feature_panels(bars, output, benchmark, news), t, j, model.features)
    return Scored(t, j, model.predict(X), X)


def filtered_output(output: Any, scored: Scored, threshold: float) -> Any:
    """``output`` without the entries scored below ``threshold``."""
    entries = np.array(output.entries, dtype=bool, copy=True)
    drop = scored.p < threshold
    entries[scored.t[drop], scored.j[drop]] = False
    return attrs.evolve(output, entries=entries)


def sized_output(output: Any, scored: Scored, factors: np.ndarray) -> Any:
    """``output`` with ``extras["size_factor"]`` set to ``factors`` at the scored events."""
    panel = np.full(np.shape(output.score), np.nan)
    panel[scored.t, scored.j] = factors
    return attrs.evolve(output, extras={**output.extras, "size_factor": panel})


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
    hub = getattr(step.ctx, "data", None)
    scored = score_events(model, step.bars, step.output, step.bucket.benchmark, rows, hub)
    if mode == "off":
        return step, scored
    if mode == "filter":
        kept = filtered_output(step.output, scored, model.threshold)
        return replan(step, kept, config, window), scored
    sized = sized_output(step.output, scored, model.size_factor(scored.p))
    return replan(step, sized, config, window), scored
