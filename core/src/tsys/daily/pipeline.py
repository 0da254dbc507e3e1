"""The daily run: one call, :func:`run_daily`, sequences the stages of a day.

Stages, each in its own module over one run-scoped :class:`~tsys.daily.context.DailyContext`:
as-of resolution (:mod:`~tsys.daily.asof`), the paper broker (:mod:`~tsys.daily.paper`),
holdings (:mod:`~tsys.daily.holdings`), bucket runs (:mod:`~tsys.daily.bucket_runs`), the book
after the plans (:mod:`~tsys.daily.snapshot`), artifacts (:mod:`~tsys.daily.artifacts`), then
paper orders, delivery, the ``after_daily_run`` hook and the store's index
(:mod:`~tsys.daily.delivery`). Each stage after the computation is recorded in
``state.json`` (:mod:`~tsys.daily.state`): a day is done only when all of them are, and a run
of a day that is not done resumes the pending ones. A stored run is reused only when its inputs
(configuration, buckets, parameters) match; otherwise the day is recomputed and the earlier
run kept in ``runs/<as-of>/history/``.

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

from tsys.contracts import DailyRun
from tsys.daily import artifacts, bucket_runs, holdings, snapshot, state
from tsys.daily import stages as steps
from tsys.daily.asof import resolve_as_of
from tsys.daily.context import Clock, DailyContext, open_context
from tsys.errors import PARTIAL_FAILURE_EXIT, DataError, TsysError
from tsys.overrides import apply_to_run as apply_overrides
from tsys.overrides import describe

if TYPE_CHECKING:
    from tsys.config import Config
    from tsys.paramsets import ParamChoices

#: Progress stages in order, for progress bars and the benchmark's per-stage times.
STAGES = (
    "resolve", "data", "buckets", "portfolio", "artifacts", "broker", "deliver", "hooks", "index"
)  # fmt: skip

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
    #: Stages this execution finished, and those still pending (a day is done when none is).
    finished: tuple[str, ...] = ()
    pending: tuple[str, ...] = ()
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
    params: ParamChoices | None = None,
    now: dt.datetime | None = None,
    progress: Callable[[str, str], None] | None = None,
) -> Outcome:
    """Run one day end to end, or finish it; see the module docstring.

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
        Recompute a day even when its stored run has the same inputs and is done.
    paper
        Place paper orders (default: ``config.broker.enabled``).
    send
        Send the newsletter through the configured notifiers.
    params
        ``--params``/``--param`` choices per bucket (default: each bucket's resolved set,
        see :func:`tsys.paramsets.resolve_params`).
    now
        The moment the as-of date is resolved against (default: the wall clock).
    progress
        Called as ``progress(stage, message)`` at the start of each stage.
    """
    if demo:
        config = attrs.evolve(config, data=attrs.evolve(config.data, source="demo"))
    config, sandbox_note = _sandboxed(config)
    clock = Clock()
    if progress is not None:
        progress("resolve", "resolving the as-of date")
    dates = resolve_as_of(as_of, now or clock.now())
    ctx = open_context(config, dates, clock=clock, progress=progress)
    if params is not None:
        ctx.params = params
    if sandbox_note is not None:
        ctx.warnings.append(sandbox_note)
    paper_on = config.broker.enabled if paper is None else paper
    try:
        return _run(ctx, buckets, dry_run=dry_run, force=force, paper=paper_on, send=send)
    finally:
        ctx.close()


def _run(
    ctx: DailyContext,
    names: Sequence[str] | None,
    *,
    dry_run: bool,
    force: bool,
    paper: bool,
    send: bool,
) -> Outcome:
    merged = apply_overrides(ctx)
    if merged is not None:
        ctx.overrides = merged.records
    config, key = ctx.config, ctx.dates.key
    out_dir = ctx.workspace.run_dir(key)
    outcome = Outcome(run=None, run_dir=out_dir, dry_run=dry_run, timings=ctx.clock.timings)
    outcome.messages.extend(ctx.dates.notes)
    if merged is not None:  # listed once: run.json and the newsletter's "Overrides in force"
        outcome.messages.extend(f"override in force: {describe(r)}" for r in merged.in_force)
    selected = bucket_runs.select_buckets(config, names)
    ctx.params.check([b.name for b in selected])
    fresh = state.RunState(
        inputs=bucket_runs.run_inputs(config, selected, ctx.params, ctx.workspace.root),
        source=config.data.source,
        paper=config.broker.name if paper else None,
        send=send,
        required=state.required_stages(paper=paper),
    )
    if not dry_run:
        prior = _prior(out_dir, force=force, messages=outcome.messages)
        choice = state.decide(prior, fresh, force=force)
        if choice == "reuse":
            outcome.already_ran, outcome.run = True, prior.run
            outcome.messages.append(
                f"{key.isoformat()} already ran ({out_dir}); pass --force to recompute it"
            )
            return outcome
        if choice == "resume":
            return steps.finish(ctx, prior.run, prior.state, outcome, resumed=True)
        if prior is not None and not state.same_run(prior.state, fresh):
            kept = state.archive(out_dir)
            outcome.messages.append(f"the earlier run of {key.isoformat()} is kept in {kept}")
    ctx.clock.lap("resolve")
    run = _compute(ctx, selected, paper=paper and not dry_run)
    outcome.run = run
    if run.buckets and all(_is_data_error(b.error) for b in run.buckets):
        raise DataError(
            "every bucket failed for lack of data: "
            + "; ".join(f"{b.bucket}: {b.error}" for b in run.buckets)
        )
    if dry_run:
        outcome.exit_code = _bucket_exit(run)
        outcome.messages.append("dry run: nothing written, sent or ordered")
        return outcome
    ctx.say("artifacts", f"writing {out_dir}")
    record = fresh.finish(state.COMPUTED, computed_warnings=len(run.warnings))
    if ctx.broker_failure is not None:
        record = record.record(deliveries=(ctx.broker_failure,))
    state.save_state(out_dir, record)
    artifacts.write_artifacts(run, out_dir)
    artifacts.record_history(out_dir, run, ctx.clock.now())
    record = record.finish(state.ARTIFACTS)
    state.save_state(out_dir, record)
    ctx.clock.lap("artifacts")
    return steps.finish(ctx, run, record, outcome, resumed=False)


def _prior(out_dir: Path, *, force: bool, messages: list[str]) -> state.Prior | None:
    """The day's stored run; a damaged one is an error, or with ``force`` moved to the day's
    history so the day is computed again."""
    try:
        return state.prior_run(out_dir)
    except state.UnreadableRun:
        if not force:
            raise
        messages.append(f"the unreadable run of {out_dir.name} is kept in {state.archive(out_dir)}")
        return None


def _sandboxed(config: Config) -> tuple[Config, str | None]:
    """The demo market trades only the sandbox's local paper account, never a real broker's."""
    from tsys.workspace import workspace

    if not workspace(config).demo or config.broker.name == "local":
        return config, None
    note = (
        f"the demo market trades the local paper account of the demo sandbox, not broker "
        f"{config.broker.name!r}"
    )
    return attrs.evolve(config, broker=attrs.evolve(config.broker, name="local", options={})), note


def _compute(ctx: DailyContext, selected: Sequence[Any], *, paper: bool) -> DailyRun:
    """The day's plans for every selected bucket, and the book after them."""
    ctx.say("data", f"opening data source {ctx.config.data.source!r}")
    hub = ctx.hub
    ctx.clock.lap("data")
    if hub.synthetic:
        ctx.warnings.append(SYNTHETIC_WARNING)
    if paper:
        ctx.say("broker", f"paper broker {ctx.config.broker.name!r}: filling earlier orders")
        steps.open_paper(ctx)
        ctx.clock.lap("broker")
    held, notes = holdings.gather_holdings(ctx)
    held, flags = snapshot.flag_through_stop(hub, held, ctx.dates.key)
    ctx.warnings.extend([*notes, *flags])
    ctx.warnings.extend(_foreign_notes(ctx.broker))
    equity = float(ctx.config.account.size)
    runs, after = bucket_runs.run_buckets(ctx, selected, held, equity)
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
        overrides=ctx.overrides,
    )
    ctx.clock.lap("portfolio")
    return run


def _bucket_exit(run: DailyRun) -> int:
    return PARTIAL_FAILURE_EXIT if any(b.error is not None for b in run.buckets) else 0


def _is_data_error(error: str | None) -> bool:
    return error is not None and error.startswith("data:")


def _foreign_notes(broker: Any) -> list[str]:
    """A note per paper position tsys does not trade (an option at Alpaca): not counted."""
    read = getattr(broker, "foreign_positions", None)
    if read is None:
        return []
    try:
        foreign = read()
    except TsysError:  # the positions themselves were unreadable: already a note
        return []
    return [
        f"paper position {f.describe()} is not traded by tsys: not counted, never sized or sold"
        for f in foreign
    ]
