"""The stages after the computation, each recorded in the run's state as it finishes.

:func:`finish` runs a run's pending stages in order (paper orders, delivery, the
``after_daily_run`` hook, the index), saves the state after each, and writes the final
``run.json``; the same function finishes a fresh run and resumes an interrupted one. A stage
that fails stays pending (the day is then not done and the exit code is 10); the stages after
it still run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tsys.contracts import DailyRun, DeliveryResult
from tsys.daily import artifacts, delivery, state
from tsys.daily import paper as paper_stage
from tsys.errors import PARTIAL_FAILURE_EXIT

if TYPE_CHECKING:
    from tsys.daily.context import DailyContext
    from tsys.daily.pipeline import Outcome
    from tsys.daily.state import RunState


def open_paper(ctx: DailyContext) -> None:
    """Open the paper broker once per run (a failure is kept in ``ctx.broker_failure``)."""
    if ctx.broker is None and ctx.broker_failure is None:
        ctx.broker_failure = paper_stage.open_and_sync(ctx)


def finish(
    ctx: DailyContext, run: DailyRun, record: RunState, outcome: Outcome, *, resumed: bool
) -> Outcome:
    """Run ``record``'s pending stages for ``run``, write the final run.json, fill ``outcome``."""
    out_dir = outcome.run_dir
    known = len(record.deliveries)
    todo = record.pending
    for stage in todo:
        record = _STEPS[stage](ctx, run, record, outcome)
        state.save_state(out_dir, record)
    final = record.applied_to(run)
    artifacts.write_artifacts(final, out_dir, only_run_json=True)
    outcome.run = final
    outcome.finished = tuple(s for s in todo if s in record.done)
    outcome.pending = record.pending
    failed = any(not d.ok for d in record.deliveries[known:])
    buckets_failed = any(b.error is not None for b in final.buckets)
    if failed or buckets_failed or record.pending:
        outcome.exit_code = PARTIAL_FAILURE_EXIT
    day = final.as_of.isoformat()
    if resumed:
        outcome.messages.append(
            f"{day} had not finished; resumed it and finished "
            + (", ".join(outcome.finished) or "nothing")
        )
    if record.pending:
        outcome.messages.append(
            f"{day} is not done: {', '.join(record.pending)} still pending; run it again "
            "(without --force) to finish it"
        )
    return outcome


def _orders(ctx: DailyContext, run: DailyRun, record: RunState, outcome: Outcome) -> RunState:
    ctx.say("broker", f"paper orders through {ctx.config.broker.name!r}")
    open_paper(ctx)
    if ctx.broker is None:
        if ctx.broker_failure is not None and ctx.broker_failure not in record.deliveries:
            record = record.record(deliveries=(*record.deliveries, ctx.broker_failure))
        return record
    result, orders, placed_all = paper_stage.place_orders(record.applied_to(run), ctx)
    record = record.record(deliveries=(*record.deliveries, result), orders=tuple(orders))
    protected = True
    if placed_all and hasattr(ctx.broker, "protect"):
        stops = _protect(ctx, record.applied_to(run))
        record = record.record(deliveries=(*record.deliveries, stops))
        protected = stops.ok
    ctx.clock.lap("broker")
    return record.finish(state.ORDERS) if placed_all and protected else record


def _protect(ctx: DailyContext, run: DailyRun) -> DeliveryResult:
    """Broker-side protective stops of the held positions, at the levels of the day's plans
    (a broker that keeps them, e.g. Alpaca); a failure leaves the orders stage pending."""
    from tsys.errors import TsysError

    plugin = f"{paper_stage.broker_plugin(ctx.config)}:stops"
    try:
        actions = ctx.broker.protect(run.plans, decision_date=run.as_of)
    except TsysError as exc:
        return DeliveryResult(
            plugin=plugin, ok=False, detail=f"protective stops not updated: {exc.message}"
        )
    changed = [a.describe() for a in actions if a.action != "kept"]
    kept = len(actions) - len(changed)
    return DeliveryResult(
        plugin=plugin, ok=True, detail="; ".join([*changed, f"{kept} kept as they were"])
    )


def _delivered(ctx: DailyContext, run: DailyRun, record: RunState, outcome: Outcome) -> RunState:
    account = None
    if record.paper is not None:
        if ctx.broker is None and state.ORDERS in record.done:
            open_paper(ctx)  # a resumed run: the account after the orders placed earlier
        if ctx.broker is not None:
            notes: list[str] = []
            account = paper_stage.paper_account(ctx.broker, notes)
            record = record.record(warnings=(*record.warnings, *notes))
    ctx.say("deliver", "newsletter")
    results = delivery.deliver(
        record.applied_to(run),
        ctx,
        outcome.run_dir,
        send=record.send,
        paper_account=account,
        skip=record.sent,
    )
    record = record.record(
        deliveries=(*record.deliveries, *results),
        sent=state.notifiers_sent(results, record.sent),
    )
    ctx.clock.lap("deliver")
    return record.finish(state.DELIVERED) if all(r.ok for r in results) else record


def _hooks(ctx: DailyContext, run: DailyRun, record: RunState, outcome: Outcome) -> RunState:
    ctx.say("hooks", "after_daily_run")
    warnings = delivery.after_daily_run(record.applied_to(run))
    ctx.clock.lap("hooks")
    return record.finish(state.HOOKS, warnings=(*record.warnings, *warnings))


def _indexed(ctx: DailyContext, run: DailyRun, record: RunState, outcome: Outcome) -> RunState:
    ctx.say("index", "recording the run in the store")
    problem = delivery.index_run(ctx, run, outcome.run_dir)
    ctx.clock.lap("index")
    if problem is not None:
        outcome.messages.append(problem)
        return record
    return record.finish(state.INDEXED)


_STEPS = {
    state.ORDERS: _orders,
    state.DELIVERED: _delivered,
    state.HOOKS: _hooks,
    state.INDEXED: _indexed,
}
