"""One bucket step: load the bucket's bars, compute it, hand its output to portfolio construction.

The daily run, backtests, optimisation and validation all call :func:`bucket_step`, so what a
bucket sees and what the portfolio does with its output cannot differ between research and the
daily plan. The caller builds the :class:`~tsys.buckets.BucketContext` (typed settings and
params, the data hub, the as-of date) and chooses a window:

- :class:`LastBar` (the daily run): today's universe plus the benchmark, ``data.history_years``
  of bars up to the as-of date, allocations for the last bar against the current holdings
  (:func:`tsys.portfolio.build_allocations`);
- :class:`History` (backtests): the bucket's history symbols (all of its asset class unless it
  names them) from the warm-up before ``start`` to ``end``, the benchmark merged in, positions
  planned over every bar (:func:`tsys.portfolio.plan_positions`) with the account's caps
  restated for the simulated sleeve (:func:`sleeve_caps`).

Plugin code (``universe``, ``history_symbols``, ``compute``) runs under
:func:`tsys.plugins.plugin_safe`. Failures are raised as :class:`~tsys.errors.DataError` when the
bars cannot be had and :class:`~tsys.errors.StrategyError` when the bucket or the construction
fails, with the underlying message unchanged.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from tsys.errors import DataError, PluginError, StrategyError, TsysError

if TYPE_CHECKING:
    from tsys.buckets import Bucket, BucketContext, BucketOutput
    from tsys.config import Config
    from tsys.contracts import PositionRecord
    from tsys.data import Bars, DataHub
    from tsys.portfolio.history import PositionPlan
    from tsys.portfolio.plans import BucketDecisions

#: Calendar days of history loaded before ``start`` per warm-up bar (weekends, holidays).
WARMUP_DAYS_PER_BAR = 1.5


class EmptyUniverse(DataError):
    """A bucket has nothing to consider today: its ``universe`` is empty (e.g. the low-float
    bucket without any float data). The daily run shows the bucket with no plan and the
    reason, rather than failing it."""


@attrs.frozen
class LastBar:
    """Plan the last bar, as the daily run does: allocations of ``equity`` next to ``holdings``."""

    equity: float
    holdings: Sequence[PositionRecord] = ()


@attrs.frozen
class History:
    """Plan every bar from ``start`` (bars loaded from the warm-up before it) to ``end``."""

    start: dt.date | None
    end: dt.date
    equity: float
    rebalance: str = "daily"
    #: Research sets it: a named universe with less than this share of its symbols in the
    #: data over the window raises :class:`~tsys.data.coverage.UniverseMissing` (the trial is
    #: infeasible, with the reason). None: a missing part is a warning only.
    min_universe_share: float | None = None
    #: ``tsys override`` rules replayed bar by bar (``tsys backtest --overrides``).
    rules: tuple[Any, ...] = ()

    def load_start(self, bucket: Bucket) -> dt.date | None:
        """First day of bars to load: enough calendar days for ``bucket.warmup_bars``."""
        if self.start is None:
            return None
        days = math.ceil(bucket.warmup_bars * WARMUP_DAYS_PER_BAR) + 30
        return self.start - dt.timedelta(days=days)


@attrs.define(eq=False)
class BucketStep:
    """What one step produced: the bars, the bucket's output and the portfolio's answer.

    ``decisions`` is set for a :class:`LastBar` step, ``plan`` for a :class:`History` step.
    """

    bucket: Bucket
    ctx: BucketContext
    bars: Bars
    output: BucketOutput
    decisions: BucketDecisions | None = None
    plan: PositionPlan | None = None


def owner_of(bucket: Bucket) -> str:
    """The plugin that registered ``bucket`` (its own name when it is not registered)."""
    from tsys import plugins

    registry = plugins.buckets()
    return registry.owner(bucket.name) if bucket.name in registry else bucket.name


def load_bars(
    bucket: Bucket, ctx: BucketContext, config: Config, window: LastBar | History
) -> Bars:
    """The panel a step computes on (see the module docstring); raises :class:`DataError`."""
    from tsys import plugins

    owner = owner_of(bucket)
    hub = ctx.data
    if isinstance(window, History):
        start, end = window.load_start(bucket), window.end
        fn = getattr(bucket, "history_symbols", None)
        try:
            symbols = None if fn is None else plugins.plugin_safe(owner, fn)(ctx)
        except PluginError as exc:
            raise DataError(exc.message, hint=exc.hint) from exc
        bars = hub.bars(symbols, start, end, asset_class=bucket.asset_class)
        if symbols is not None:
            _check_universe(bucket, ctx, symbols, bars, window)
        if bars.shape[0] == 0 or bars.shape[1] == 0:
            raise DataError(f"no {bucket.asset_class} bars between {start} and {end}")
        if bucket.benchmark and bucket.benchmark not in bars.symbols:
            extra = hub.bars([bucket.benchmark], start, end)
            if extra.shape[1]:
                bars = bars.merge(extra.select([bucket.benchmark]))
        return bars
    as_of = ctx.as_of
    try:
        universe = plugins.plugin_safe(owner, bucket.universe)(ctx)
        if not universe:
            raise EmptyUniverse(f"{bucket.name}: its universe is empty on {as_of}; no plan")
        if bucket.benchmark and bucket.benchmark not in universe:
            universe = [*universe, bucket.benchmark]
        start = as_of - dt.timedelta(days=math.ceil(365.25 * config.data.history_years))
        bars = hub.bars(universe, start, as_of, asset_class=bucket.asset_class)
    except PluginError as exc:
        raise DataError(exc.message, hint=exc.hint) from exc
    if bars.shape[0] == 0 or bars.shape[1] == 0:
        raise _no_recent_bars(bucket, hub, universe, start, as_of)
    last = bars.index[-1].date()
    if last < as_of:
        ctx.warn(
            f"{bucket.name}: the newest bar is {last.isoformat()}, older than the as-of "
            f"{as_of.isoformat()}; plans use stale prices"
        )
    return bars


def _check_universe(
    bucket: Bucket, ctx: BucketContext, symbols: Sequence[str], bars: Bars, window: History
) -> None:
    """Say (or, for research, refuse) when the bucket's named universe is not in the data."""
    from tsys.data.coverage import universe_coverage

    cov = universe_coverage(symbols, bars, window.start, window.end)
    if window.min_universe_share is not None:
        cov.require(window.min_universe_share, what=f"{bucket.name} universe")
    if cov.missing:
        ctx.warn(f"{bucket.name}: universe: {cov.describe()}")


def _no_recent_bars(
    bucket: Bucket, hub: DataHub, universe: Sequence[str], start: dt.date, as_of: dt.date
) -> DataError:
    """Say why a daily run has no bars: the data ends (or starts) outside the window."""
    name = hub.primary.name
    label = {"csv": "CSV", "demo": "Demo"}.get(name, name)
    try:
        everything = hub.bars(universe, None, dt.date(2100, 1, 1), asset_class=bucket.asset_class)
    except TsysError:
        everything = None
    if everything is None or everything.shape[0] == 0 or everything.shape[1] == 0:
        return DataError(
            f"{label} data has no bars for any of the {len(universe)} symbols of {bucket.name}'s "
            f"universe",
            hint=f"check the files or symbols the source has (`tsys data validate --source {name}`)",
        )
    first, last = everything.index[0].date(), everything.index[-1].date()
    if last < start:
        return DataError(
            f"{label} data ends {last}; as-of {as_of} needs bars up to that day",
            hint=f"update the data, or run for a day it covers (--as-of {last})",
        )
    return DataError(
        f"{label} data starts {first}; as-of {as_of} is before it",
        hint=f"run for a day from {first} on",
    )


def compute_output(bucket: Bucket, ctx: BucketContext, bars: Bars) -> BucketOutput:
    """``bucket.compute(ctx, bars, ctx.params)`` under ``plugin_safe``; raises StrategyError."""
    from tsys import plugins

    try:
        return plugins.plugin_safe(owner_of(bucket), bucket.compute)(ctx, bars, ctx.params)
    except TsysError as exc:
        raise StrategyError(exc.message, hint=exc.hint) from exc


def bucket_step(
    bucket: Bucket,
    ctx: BucketContext,
    config: Config,
    window: LastBar | History,
    *,
    progress: Callable[[str], None] | None = None,
) -> BucketStep:
    """Load, compute and construct one bucket (see the module docstring).

    Parameters
    ----------
    bucket
        The bucket (a registered one, or a wrapper such as a stress variant).
    ctx
        Its context: ``ctx.params`` are the params computed with, ``ctx.settings`` the bucket's
        configuration (max positions, capital share, sizing) the portfolio applies.
    config
        The effective configuration (risk caps and user overrides).
    window
        :class:`LastBar` for the daily plan, :class:`History` for a backtest.
    progress
        Called with "loading bars", "computing signals", "building the portfolio".
    """
    say = progress or (lambda _msg: None)
    if ctx.params is None:
        raise TypeError("bucket_step needs ctx.params (the bucket's Params instance)")
    say("loading bars")
    bars = load_bars(bucket, ctx, config, window)
    say("computing signals")
    output = compute_output(bucket, ctx, bars)
    say("building the portfolio")
    step = BucketStep(bucket=bucket, ctx=ctx, bars=bars, output=output)
    try:
        if isinstance(window, History):
            from tsys.portfolio.history import plan_positions

            risk, overrides = sleeve_caps(bucket, ctx, config)
            at = replay_overrides(bucket, ctx, config, window.rules) if window.rules else None
            step.plan = plan_positions(
                bucket, ctx, bars, output, ctx.settings, risk, overrides,
                window.rebalance, params=ctx.params, equity=window.equity, overrides_at=at,
            )  # fmt: skip
        else:
            from tsys.portfolio.plans import build_allocations

            step.decisions = build_allocations(
                bucket, ctx, bars, output, ctx.settings, config.risk, config.overrides,
                equity=window.equity, holdings=window.holdings, params=ctx.params,
            )  # fmt: skip
    except TsysError as exc:
        raise StrategyError(exc.message, hint=exc.hint) from exc
    return step


def sleeve_caps(
    bucket: Bucket, ctx: BucketContext, config: Config, overrides: Any = None
) -> tuple[Any, Any]:
    """The account's risk caps as seen by a history simulated with ``ctx.settings``.

    A backtest trades the bucket's sleeve as a whole account (``capital_share`` usually 1.0),
    but the caps are shares of the real account, where the sleeve is the configured
    ``capital_share``: they are restated for the sleeve (:func:`tsys.portfolio.sleeve_limits`),
    so the history is sized as the daily run would size it.
    """
    from tsys.portfolio.sleeve import sleeve_limits

    overrides = config.overrides if overrides is None else overrides
    simulated = ctx.settings.capital_share
    if not simulated > 0:
        return config.risk, overrides
    share = config.bucket(bucket).capital_share / simulated
    return sleeve_limits(config.risk, overrides, share)


def replay_overrides(
    bucket: Bucket, ctx: BucketContext, config: Config, rules: Sequence[Any]
) -> Callable[[dt.date], Any]:
    """``day -> overrides``: ``config.overrides`` merged with the ``rules`` in force on that
    day (:func:`tsys.overrides.merge`, the daily run's merge) and restated for the sleeve.
    The same object comes back while the same rules hold."""
    from tsys.overrides import in_force_at, merge

    seen: dict[tuple[str, ...], Any] = {}

    def at(day: dt.date) -> Any:
        key = tuple(r.id for r in in_force_at(rules, day))
        if key not in seen:
            merged = merge(config.overrides, rules, day).overrides
            seen[key] = sleeve_caps(bucket, ctx, config, merged)[1]
        return seen[key]

    return at
