"""The holdings stage: the positions a run sizes its plans against.

Manual positions come from the store; paper positions from the paper broker, or, without one,
the system positions carried in the run history (what a user following the plans holds). A
source that cannot be read becomes a warning.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tsys.contracts import Action, BucketRun, PositionRecord, PositionSource, Side
from tsys.errors import TsysError

if TYPE_CHECKING:
    from tsys.daily.context import DailyContext


def gather_holdings(ctx: DailyContext) -> tuple[list[PositionRecord], list[str]]:
    """Positions already held at the run's as-of date, and notes on what was not counted."""
    notes: list[str] = []
    held: list[PositionRecord] = []
    try:
        held.extend(ctx.store().manual.list(status="open", with_fills=False))
    except TsysError as exc:
        notes.append(f"manual positions not counted: {exc.message}")
    if ctx.broker is not None:
        try:
            held.extend(ctx.broker.positions())
        except TsysError as exc:
            notes.append(f"paper positions not counted: {exc.message}")
    else:
        held.extend(system_positions(ctx.workspace.runs_dir, before=ctx.dates.key))
    return held, notes


def system_positions(runs_dir: Path, *, before: dt.date) -> list[PositionRecord]:
    """The system's recommended positions after the latest run before ``before``.

    Buys and holds of that run are what a user following the plan holds now.
    """
    from tsys.store.runs import list_runs, load_run

    earlier = [d for d in list_runs(runs_dir) if d < before]
    if not earlier:
        return []
    try:
        prev = load_run(runs_dir, earlier[-1])
    except TsysError:
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
