"""The bucket stage: which buckets run, and each one's signals, allocations and plans.

Each bucket runs through the same portfolio construction backtests use; a bucket that fails is
recorded in its :class:`~tsys.contracts.BucketRun` (``error``) and the others go on. Later
buckets see what earlier ones bought today, because the portfolio caps are account-wide.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import attrs

from tsys.contracts import Action, BucketRun, PositionRecord
from tsys.errors import ConfigError, DataError, StrategyError, TsysError

if TYPE_CHECKING:
    from pathlib import Path

    from tsys.config import Config
    from tsys.daily.context import DailyContext
    from tsys.paramsets import ParamChoices


def select_buckets(config: Config, names: Sequence[str] | None) -> list[Any]:
    """The buckets to run: ``names``, else every enabled one (unknown names: did-you-mean)."""
    from tsys import plugins

    registry = plugins.buckets()
    if names:
        chosen = [registry.get(n) for n in names]  # unknown: PluginError with "did you mean"
    else:
        chosen = [b for b in registry if config.bucket(b).enabled]
    for name in config.buckets:
        if name not in registry:
            registry.get(name)  # a configured bucket that is not installed is a config error
    if not chosen:
        raise ConfigError(
            "no bucket to run",
            hint="install a bucket plugin (tsys plugins) or enable one in tsys.toml",
        )
    return chosen


def run_inputs(
    config: Config, buckets: Sequence[Any], choices: ParamChoices, home: Path
) -> dict[str, Any]:
    """What decides the run's plans: the configuration and each bucket's parameters, in order,
    with the file each set came from (a run made from another file is not reused)."""
    from tsys.daily.state import inputs_of

    params: dict[str, Any] = {}
    sources: dict[str, Any] = {}
    for bucket in buckets:
        try:
            pset = choices.resolve(bucket, config, home)
        except TsysError:
            params[bucket.name] = sources[bucket.name] = None
            continue
        params[bucket.name] = pset.values
        sources[bucket.name] = [pset.origin, pset.path, pset.file_sha256]
    return inputs_of(config.digest(), params, sources)


def run_buckets(
    ctx: DailyContext, buckets: Sequence[Any], holdings: list[PositionRecord], equity: float
) -> tuple[list[BucketRun], list[PositionRecord]]:
    """Run ``buckets`` in order; each sees the holdings plus the earlier buckets' buys.

    Returns the bucket runs and the holdings with every bucket's buys added.
    """
    from tsys.daily.holdings import planned_positions

    runs: list[BucketRun] = []
    for bucket in buckets:
        ctx.say("buckets", f"bucket {bucket.name}")
        br = run_bucket(bucket, ctx, holdings, equity)
        runs.append(br)
        ctx.clock.lap("buckets")
        # later buckets see what earlier ones bought today: caps are portfolio-wide
        holdings = holdings + planned_positions(br)
    return runs, holdings


def run_bucket(
    bucket: Any, ctx: DailyContext, holdings: list[PositionRecord], equity: float
) -> BucketRun:
    """One bucket: the bucket step for the last bar. Failures are recorded, not raised."""
    from tsys import plugins
    from tsys.buckets import BucketContext
    from tsys.portfolio.step import EmptyUniverse, LastBar, bucket_step, owner_of

    config = ctx.config
    settings = config.bucket(bucket)
    as_of = ctx.dates.for_class(bucket.asset_class)
    base = {
        "bucket": bucket.name,
        "version": bucket.version,
        "asset_class": bucket.asset_class,
        "as_of": as_of,
    }
    try:
        pset = ctx.params.resolve(bucket, config, ctx.workspace.root)
    except TsysError as exc:
        return BucketRun(**base, error=f"config: {exc.message}")
    params = pset.params
    base["params"], base["param_set"] = pset.values, pset.to_json()
    bctx = BucketContext(
        as_of=as_of, data=ctx.hub, settings=settings, params=params, latest_only=True
    )
    from tsys.daily.meta import daily_ml

    ml = daily_ml(bucket, settings, ctx.workspace.root, as_of, params, ctx.hub)
    try:
        step = bucket_step(
            bucket, bctx, config, LastBar(equity=equity, holdings=holdings), adjust_output=ml.adjust
        )
    except EmptyUniverse as exc:  # nothing to consider today: no plan, not a failure
        return BucketRun(**base, warnings=(*bctx.warnings, exc.message))
    except DataError as exc:
        # the other buckets still run; the day ends partial (exit 10)
        ctx.warn(f"{bucket.name} skipped: its data cannot be had ({exc.message})")
        return BucketRun(**base, warnings=tuple(bctx.warnings), error=f"data: {exc.message}")
    except StrategyError as exc:
        return BucketRun(**base, warnings=tuple(bctx.warnings), error=f"strategy: {exc.message}")
    problem = benchmark_problem(bucket, ctx.hub, step.bars)
    if problem is not None:
        return BucketRun(**base, warnings=tuple(bctx.warnings), error=f"data: {problem}")
    decisions = ml.annotate(step.decisions)
    try:
        regime = plugins.plugin_safe(owner_of(bucket), bucket.regime_label)(
            step.output, step.bars.shape[0] - 1
        )
    except TsysError as exc:
        return BucketRun(**base, warnings=tuple(bctx.warnings), error=f"strategy: {exc.message}")
    validated = None
    notes: list[str] = []
    if settings.require_validation:
        validated = validation_passed(config, bucket.name, params)
        if not validated:
            notes.append(
                f"{bucket.name}: its parameters have not passed `tsys validate`; it is shown as "
                "NOT VALIDATED and its plans are kept as watch-only"
            )
            decisions = attrs.evolve(
                decisions, plans=tuple(_watch_only(p) for p in decisions.plans)
            )
    return BucketRun(
        **base,
        regime=regime,
        signals=decisions.signals,
        allocations=decisions.allocations,
        plans=decisions.plans,
        blockers=decisions.blockers,
        warnings=(*_merged(bctx.warnings, [*ml.notes, *notes]), *decisions.notes),
        validated=validated,
    )


def benchmark_problem(bucket: Any, hub: Any, bars: Any) -> str | None:
    """Why the bucket's benchmark cannot judge today's regime (None: it can).

    A bucket reads its market regime from its benchmark (SPY, BTC-USD). Bad benchmark data
    must fail the bucket loudly, not read as a falling market that sends it to cash: the
    benchmark's file could not be read or kept no row, or its last bar was dropped.
    """
    import numpy as np

    bench = getattr(bucket, "benchmark", None)
    if not bench:
        return None
    if bench in bars.symbols:
        last = bars.close[-1, bars.column(bench)] if bars.shape[0] else np.nan
        if np.isfinite(last):
            return None
        day = bars.index[-1].date() if bars.shape[0] else "the as-of day"
        why = f"has no usable bar on {day}"
    else:
        report = getattr(getattr(hub, "primary", None), "report", None)
        fatal = [
            i
            for i in (report.for_symbol(bench) if report is not None else [])
            if i.rule in ("unreadable_file", "no_usable_rows")
        ]
        if not fatal:
            return None  # the source does not carry it: the bucket's own fallback applies
        why = "has no usable data"
    issues = []
    report = getattr(getattr(hub, "primary", None), "report", None)
    if report is not None:
        issues = [
            f"{i.rule}: {i.message}" for i in report.for_symbol(bench) if i.severity == "error"
        ]
    detail = f" [{'; '.join(issues[:3])}]" if issues else ""
    return (
        f"benchmark {bench} {why}{detail}; the regime cannot be judged, so {bucket.name} "
        "makes no plan today (it is not sent to cash)"
    )


def _merged(first: Sequence[str], more: Sequence[str]) -> tuple[str, ...]:
    """``first`` then each of ``more`` not already in it (as ``BucketContext.warn`` would)."""
    out = list(first)
    out.extend(m for m in more if m not in out)
    return tuple(out)


def _watch_only(plan: Any) -> Any:
    if plan.action is Action.BUY:
        return attrs.evolve(plan, action=Action.WATCH)
    return plan


def validation_passed(config: Config, bucket: str, params: Any) -> bool:
    """True when a saved `tsys validate` report for exactly these parameters passes the gates."""
    from tsys.validate.gates import params_validated

    return bool(params_validated(config, bucket, params))
