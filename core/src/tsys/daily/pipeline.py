"""The daily run: one call, :func:`run_daily`, sequences the stages of a day.

Stages, each in its own module over one run-scoped :class:`~tsys.daily.context.DailyContext`:
as-of resolution (:mod:`~tsys.daily.asof`), the paper broker (:mod:`~tsys.daily.paper`),
holdings (:mod:`~tsys.daily.holdings`), bucket runs (:mod:`~tsys.daily.bucket_runs`), the
book after the plans (:mod:`~tsys.daily.snapshot`), artifacts (:mod:`~tsys.daily.artifacts`),
then delivery, the ``after_daily_run`` hook and the store's index
(:mod:`~tsys.daily.delivery`). A failure after the artifacts are written is recorded in the
run and never loses them.

``run.json`` is deterministic: the same inputs give the same bytes (its ``created_at`` is the
decision time, the as-of close, not the wall clock; each execution's wall-clock time is appended
to ``runs/<as-of>/history.jsonl`` instead).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from tsys.contracts import DailyRun, DeliveryResult
from tsys.daily import artifacts, bucket_runs, delivery, holdings, snapshot
from tsys.daily import paper as paper_stage
from tsys.daily.asof import resolve_as_of
from tsys.daily.context import Clock, DailyContext, open_context
from tsys.errors import PARTIAL_FAILURE_EXIT, DataError

if TYPE_CHECKING:
    from tsys.config import Config

#: Stages in order, for progress bars and the benchmark's per-stage times.
STAGES = ("resolve", "data", "buckets", "portfolio", "artifacts", "deliver", "broker", "hooks")

SYNTHETIC_WARNING = (
    "SYNTHETIC DATA: these signals come from the built-in demo market, not real prices"
)


@attrs.define
class Outcome:
    """What :func:`run_daily` did, for the CLI and for tests."""

    run: DailyRun | None
    run_dir: Path
    exit_code: int = 0
    already_ran: bool = False
    dry_run: bool = False
    timings: dict[str, float] = attrs.field(factory=dict)
    messages: list[str] = attrs.field(factory=list)


def run_daily(
    config: Config,
    *,
    as_of: dt.date | None = None,
    demo: bool = False,
    buckets: Sequence[str] | None = None,
    dry_run: bool = False,
    force: bool = False,
    paper: bool | None = None,
    send: bool = True,
    now: dt.datetime | None = None,
    progress: Callable[[str, str], None] | None = None,
) -> Outcome:
    """Run one day end to end; see the module docstring.

    Parameters
    ----------
    config
        The effective configuration.
    as_of
        The day to run for (default: the latest complete day, see
        :func:`~tsys.daily.asof.resolve_as_of`).
    demo
        Use the built-in synthetic market whatever the configured source (and the demo
        sandbox of the data dir, see :mod:`tsys.workspace`).
    buckets
        Only these buckets (default: every enabled one).
    dry_run
        Compute and return everything, write nothing, send nothing, order nothing.
    force
        Recompute a day that already ran (its artifacts are replaced atomically).
    paper
        Place paper orders (default: ``config.broker.enabled``).
    send
        Send the newsletter through the configured notifiers.
    now
        The moment the as-of date is resolved against (default: the wall clock).
    progress
        Called as ``progress(stage, message)`` at the start of each stage.
    """
    if demo:
        config = attrs.evolve(config, data=attrs.evolve(config.data, source="demo"))
    clock = Clock()
    if progress is not None:
        progress("resolve", "resolving the as-of date")
    dates = resolve_as_of(as_of, now or clock.now())
    ctx = open_context(config, dates, clock=clock, progress=progress)
    try:
        return _run(
            ctx,
            names=buckets,
            dry_run=dry_run,
            force=force,
            paper=config.broker.enabled if paper is None else paper,
            send=send,
        )
    finally:
        ctx.close()


def _run(
    ctx: DailyContext,
    *,
    names: Sequence[str] | None,
    dry_run: bool,
    force: bool,
    paper: bool,
    send: bool,
) -> Outcome:
    config, clock, key = ctx.config, ctx.clock, ctx.dates.key
    out_dir = ctx.workspace.run_dir(key)
    outcome = Outcome(run=None, run_dir=out_dir, dry_run=dry_run, timings=clock.timings)
    outcome.messages.extend(ctx.dates.notes)
    if not dry_run and not force and (out_dir / "run.json").is_file():
        from tsys.store.runs import load_run

        outcome.already_ran = True
        outcome.run = load_run(ctx.workspace.runs_dir, key)
        outcome.messages.append(
            f"{key.isoformat()} already ran ({out_dir}); pass --force to recompute it"
        )
        return outcome

    selected = bucket_runs.select_buckets(config, names)
    clock.lap("resolve")
    ctx.say("data", f"opening data source {config.data.source!r}")
    hub = ctx.hub
    clock.lap("data")
    if hub.synthetic:
        ctx.warnings.append(SYNTHETIC_WARNING)
    broker_failure: DeliveryResult | None = None
    if paper and not dry_run:
        ctx.say("broker", f"paper broker {config.broker.name!r}: filling earlier orders")
        broker_failure = paper_stage.open_and_sync(ctx)
        clock.lap("broker")
    held, notes = holdings.gather_holdings(ctx)
    ctx.warnings.extend(notes)
    run = _compute(ctx, selected, held)
    outcome.run = run
    if run.buckets and all(_is_data_error(b.error) for b in run.buckets):
        raise DataError(
            "every bucket failed for lack of data: "
            + "; ".join(f"{b.bucket}: {b.error}" for b in run.buckets)
        )
    if any(b.error is not None for b in run.buckets):
        outcome.exit_code = PARTIAL_FAILURE_EXIT
    if dry_run:
        outcome.messages.append("dry run: nothing written, sent or ordered")
        return outcome

    ctx.say("artifacts", f"writing {out_dir}")
    artifacts.write_artifacts(run, out_dir)
    artifacts.record_history(out_dir, run, clock.now())
    not_indexed = delivery.index_run(ctx, run, out_dir)
    if not_indexed is not None:
        outcome.messages.append(not_indexed)
    clock.lap("artifacts")

    orders: list[Any] = []
    deliveries: list[DeliveryResult] = []
    account = None
    if broker_failure is not None:
        deliveries.append(broker_failure)
    elif ctx.broker is not None:
        ctx.say("broker", f"paper orders through {config.broker.name!r}")
        result, orders = paper_stage.place_orders(run, ctx)
        deliveries.append(result)
        account = paper_stage.paper_account(ctx.broker, run_warnings := [])
        if run_warnings:
            run = attrs.evolve(run, warnings=(*run.warnings, *run_warnings))
        clock.lap("broker")
    if orders:
        run = attrs.evolve(run, orders=tuple(orders))

    ctx.say("deliver", "newsletter")
    deliveries.extend(delivery.deliver(run, ctx, out_dir, send=send, paper_account=account))
    clock.lap("deliver")
    run = attrs.evolve(run, deliveries=(*run.deliveries, *deliveries))
    artifacts.write_artifacts(run, out_dir, only_run_json=True)
    if any(not d.ok for d in deliveries):
        outcome.exit_code = PARTIAL_FAILURE_EXIT

    ctx.say("hooks", "after_daily_run")
    hook_warnings = delivery.after_daily_run(run)
    if hook_warnings:
        run = attrs.evolve(run, warnings=(*run.warnings, *hook_warnings))
        artifacts.write_artifacts(run, out_dir, only_run_json=True)
    clock.lap("hooks")
    outcome.run = run
    return outcome


def _compute(ctx: DailyContext, selected: Sequence[Any], held: list[Any]) -> DailyRun:
    """The day's plans for every selected bucket, and the book after them."""
    equity = float(ctx.config.account.size)
    runs, after = bucket_runs.run_buckets(ctx, selected, held, equity)
    hub = ctx.hub
    for w in hub.ctx.warnings:
        if w not in ctx.warnings:
            ctx.warnings.append(w)
    ctx.say("portfolio", "merging positions")
    book = snapshot.portfolio_snapshot(
        runs, after, equity, ctx.decision_time, sectors=snapshot.sectors_of(hub, after)
    )
    run = DailyRun(
        as_of=ctx.dates.key,
        created_at=ctx.decision_time,
        config_digest=ctx.config.digest(),
        buckets=tuple(runs),
        portfolio=book,
        warnings=tuple(ctx.warnings),
        synthetic_data=hub.synthetic,
    )
    ctx.clock.lap("portfolio")
    return run


def _is_data_error(error: str | None) -> bool:
    return error is not None and error.startswith("data:")
