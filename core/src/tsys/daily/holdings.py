"""The holdings stage: the positions a run sizes its plans against.

They come from :func:`tsys.holdings.open_positions` (the one count of every position, shared
with ``tsys portfolio``): manual trades up to the as-of date, the paper broker's positions when
the run trades one, else the system positions of the previous run. A source that cannot be
read becomes a warning.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tsys.contracts import Action, BucketRun, PositionRecord
from tsys.errors import TsysError
from tsys.holdings import open_positions, plan_position

if TYPE_CHECKING:
    from tsys.daily.context import DailyContext


def gather_holdings(ctx: DailyContext) -> tuple[list[PositionRecord], list[str]]:
    """Positions already held at the run's as-of date, and notes on what was not counted."""
    notes: list[str] = []
    try:
        store = ctx.store()
    except TsysError as exc:
        notes.append(f"manual positions not counted: {exc.message}")
        store = None
    held = open_positions(
        ctx.dates.key,
        runs_dir=ctx.workspace.runs_dir,
        store=store,
        broker=ctx.broker,
        system=ctx.broker is None,
        demo=ctx.workspace.demo,
    )
    return list(held.positions), [*notes, *held.notes]


def planned_positions(br: BucketRun) -> list[PositionRecord]:
    """Today's buys of a bucket, as system positions the next bucket's caps must count."""
    out = []
    for plan in br.plans:
        if plan.action is Action.BUY and plan.allocation.quantity > 0:
            pos = plan_position(plan, br.bucket, f"planned:{plan.client_order_id}")
            if pos is not None:
                out.append(pos)
    return out
