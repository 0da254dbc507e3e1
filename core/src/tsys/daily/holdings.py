"""The holdings stage: the positions a run sizes its plans against.

Manual positions come from the store; paper positions from the paper broker, or, without one,
the system positions carried in the run history (what a user following the plans holds). A
source that cannot be read becomes a warning.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from tsys.contracts import Action, BucketRun, DailyRun, PositionRecord, PositionSource, Side
from tsys.errors import TsysError

if TYPE_CHECKING:
    from tsys.daily.context import DailyContext
    from tsys.workspace import Workspace


def gather_holdings(ctx: DailyContext) -> tuple[list[PositionRecord], list[str]]:
    """Positions already held at the run's as-of date, and notes on what was not counted."""
    notes: list[str] = []
    held: list[PositionRecord] = []
    try:
        manual = ctx.store().manual
        held.extend(manual.list(status="open", with_fills=False))
        notes.extend(manual.skipped)
    except TsysError as exc:
        notes.append(f"manual positions not counted: {exc.message}")
    if ctx.broker is not None:
        try:
            held.extend(ctx.broker.positions())
        except TsysError as exc:
            notes.append(f"paper positions not counted: {exc.message}")
    else:
        prev = previous_run(ctx.workspace, before=ctx.dates.key, notes=notes)
        held.extend(system_positions(prev))
    return held, notes


def previous_run(workspace: Workspace, *, before: dt.date, notes: list[str]) -> DailyRun | None:
    """The latest run of ``workspace`` before ``before`` (None: none, or unreadable).

    A real workspace never takes a run made from the synthetic demo market (tsys before the
    sandbox kept demo runs beside real ones): such a run is passed over with a note.
    """
    from tsys.store.runs import list_runs, load_run

    earlier = [d for d in list_runs(workspace.runs_dir) if d < before]
    if not earlier:
        return None
    try:
        prev = load_run(workspace.runs_dir, earlier[-1])
    except TsysError as exc:
        notes.append(
            f"system positions of the {earlier[-1].isoformat()} run not counted: its run.json "
            f"cannot be read ({exc.message})"
        )
        return None
    if prev.synthetic_data and not workspace.demo:
        notes.append(
            f"system positions of the {prev.as_of.isoformat()} run not counted: it was made from "
            f"the SYNTHETIC demo market (move {workspace.run_dir(prev.as_of)} to the demo "
            "sandbox's runs/)"
        )
        return None
    return prev


def system_positions(prev: DailyRun | None) -> list[PositionRecord]:
    """The system's recommended positions after the run ``prev``: its buys and holds are what
    a user following the plan holds now."""
    if prev is None:
        return []
    return [
        plan_position(plan, br.bucket, f"system:{br.bucket}:{plan.allocation.signal.symbol}")
        for br in prev.buckets
        for plan in br.plans
        if plan.action in (Action.BUY, Action.HOLD) and plan.allocation.quantity > 0
    ]


def plan_position(plan: Any, bucket: str, position_id: str) -> PositionRecord:
    """The long position a BUY or HOLD plan stands for, at the plan's reference price."""
    sig = plan.allocation.signal
    return PositionRecord(
        id=position_id,
        source=PositionSource.SYSTEM,
        symbol=sig.symbol,
        asset_class=sig.asset_class,
        side=Side.BUY,
        quantity=plan.allocation.quantity,
        opened_at=sig.timestamp,
        entry_price=plan.allocation.dollars / plan.allocation.quantity,
        stop=plan.stop.price if plan.stop is not None else None,
        target=plan.take_profit,
        bucket=bucket,
    )


def planned_positions(br: BucketRun) -> list[PositionRecord]:
    """Today's buys of a bucket, as system positions the next bucket's caps must count."""
    return [
        plan_position(plan, br.bucket, f"planned:{plan.client_order_id}")
        for plan in br.plans
        if plan.action is Action.BUY and plan.allocation.quantity > 0
    ]
