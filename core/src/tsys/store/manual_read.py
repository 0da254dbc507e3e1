"""Reading manual trades: stored rows to :class:`~tsys.contracts.PositionRecord`, in bulk.

:meth:`tsys.store.manual.ManualTrades.list` and :meth:`~tsys.store.manual.ManualTrades.book`
read here. Rows and fills are read as plain tuples straight from the database cursor (no model
object and no field conversion per row: at 100,000 trades those cost more than everything
else).

A position's stored derived columns (open quantity, realised PnL, exit, closed at) are the sum
of all its fills, recomputed by every write (:func:`tsys.store.manual_trade.compute_state`).
So a position as of a moment is rebuilt from its fills only when it has a fill after that
moment; every other one is its stored row, and its fills are not read at all. Both give the
same record (``core/tests/store/test_manual_read.py`` checks it on random histories).

A stored row that breaks a rule made after it was written is left out with a warning
(:attr:`~tsys.store.manual.ManualTrades.skipped`) instead of stopping every command: each
record is still built through :class:`~tsys.contracts.PositionRecord`'s validators.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from tsys.contracts import AssetClass, Fill, PositionRecord, PositionSource, Side
from tsys.store._time import from_db, to_db
from tsys.store.manual_fills import fills_of
from tsys.store.manual_trade import PositionState, compute_state, format_id

if TYPE_CHECKING:
    from tsys.store.manual import ManualTrades

log = logging.getLogger(__name__)


class PositionRow(NamedTuple):
    """One ``manual_positions`` row as the reader needs it (database values, unconverted)."""

    id: int
    symbol: str
    asset_class: str
    side: str
    initial_quantity: float
    quantity: float
    entry_price: float
    opened_at: Any
    closed_at: Any
    exit_price: float | None
    stop: float | None
    target: float | None
    bucket: str
    notes: str
    tags: str
    realized_pnl: float


def position_rows(repo: ManualTrades, query: Any = None) -> list[PositionRow]:
    """The rows of ``query`` (a select of manual positions; default: every live one) by id."""
    P = repo._P
    if query is None:
        query = P.select().where(P.deleted_at.is_null())
    cols = [getattr(P, f) for f in PositionRow._fields]
    cursor = repo._store.db.execute(query.select(*cols).order_by(P.id))
    return [PositionRow(*r) for r in cursor.fetchall()]


def late_ids(repo: ManualTrades, as_of: dt.datetime) -> set[int]:
    """Live positions with a fill after ``as_of``: the ones to rebuild from their fills."""
    P, F = repo._P, repo._F
    q = (
        F.select(F.position)
        .join(P, on=(F.position == P.id))
        .where((F.timestamp > to_db(as_of)) & P.deleted_at.is_null())
        .distinct()
    )
    return {r[0] for r in repo._store.db.execute(q).fetchall()}


def read(
    repo: ManualTrades,
    *,
    status: str = "all",
    tag: str | None = None,
    with_fills: bool = True,
    as_of: dt.datetime | None = None,
) -> list[PositionRecord]:
    """:meth:`tsys.store.manual.ManualTrades.list` (see there)."""
    if status not in ("all", "open", "closed"):
        raise ValueError(f"status must be all, open or closed, got {status!r}")
    P = repo._P
    q = P.select().where(P.deleted_at.is_null())
    if as_of is not None:
        q = q.where(P.opened_at <= to_db(as_of))
    elif status == "open":
        q = q.where(P.closed_at.is_null())
    elif status == "closed":
        q = q.where(P.closed_at.is_null(False))
    rows = position_rows(repo, q)
    if tag is not None:
        rows = [r for r in rows if tag in json.loads(r.tags or "[]")]
    if with_fills:
        fills = fills_of(repo._F, [r.id for r in rows])
    elif as_of is not None:
        late = late_ids(repo, as_of)
        fills = fills_of(repo._F, [r.id for r in rows if r.id in late])
    else:
        fills = {}
    out = []
    for r in rows:
        fs = fills.get(r.id)
        # as of a moment, a position without a later fill is its stored row (see the module)
        rec = loadable(repo, r, fs or [], as_of=as_of if fs else None, with_fills=with_fills)
        if rec is None:
            continue
        if as_of is not None:
            if status == "open" and not rec.is_open:
                continue
            if status == "closed" and rec.is_open:
                continue
        out.append(rec)
    return out


def loadable(
    repo: ManualTrades, row: Any, fills: list[Any], *, as_of: Any = None, with_fills: bool = True
) -> PositionRecord | None:
    """The record of ``row``, or None (and a warning in ``repo.skipped``) if it breaks a rule."""
    # A row stored before a rule existed must not stop every later command (21.7).
    try:
        return record(row, fills, as_of=as_of, with_fills=with_fills)
    except (ValueError, TypeError, KeyError, ArithmeticError) as exc:
        msg = f"manual trade {format_id(row.id)} cannot be loaded and is left out: {exc}"
        if msg not in repo.skipped:
            repo.skipped.append(msg)
            log.warning("%s", msg)
        return None


def record(
    row: Any,
    fills: Sequence[Any],
    *,
    as_of: dt.datetime | None = None,
    with_fills: bool = True,
) -> PositionRecord:
    """The record of one stored row (its fills up to ``as_of``; None: the stored state)."""
    side = Side(row.side)
    fill_objs = ()
    if with_fills:
        fill_objs = tuple(
            Fill(
                symbol=row.symbol,
                side=Side(f.side),
                quantity=f.quantity,
                price=f.price,
                timestamp=from_db(f.timestamp),
                fee=f.fee,
                reason=f.kind,
            )
            for f in fills
            if as_of is None or from_db(f.timestamp) <= as_of
        )
    if as_of is None:
        state = PositionState(
            row.initial_quantity,
            row.quantity,
            row.entry_price,
            row.realized_pnl,
            from_db(row.closed_at),
            row.exit_price,
        )
    else:
        state = state_from_fills(row.side, [f for f in fills if from_db(f.timestamp) <= as_of])
    risk = None
    if row.stop is not None:
        per_unit = (
            (state.entry_price - row.stop) if side is Side.BUY else (row.stop - state.entry_price)
        )
        risk = per_unit * state.initial_quantity if per_unit > 0 else None
    r_mult = None
    if state.closed_at is not None and risk is not None:
        r_mult = state.realized_pnl / risk
    return PositionRecord(
        id=format_id(row.id),
        source=PositionSource.MANUAL,
        symbol=row.symbol,
        asset_class=AssetClass(row.asset_class),
        side=side,
        quantity=state.quantity,
        opened_at=from_db(row.opened_at),
        entry_price=state.entry_price,
        closed_at=state.closed_at,
        exit_price=state.exit_price,
        stop=row.stop,
        target=row.target,
        fills=fill_objs,
        realized_pnl=state.realized_pnl,
        r_multiple=r_mult,
        bucket=row.bucket or "",
        notes=row.notes or "",
        tags=tuple(json.loads(row.tags or "[]")),
    )


def state_from_fills(side: str, fills: Sequence[Any]) -> PositionState:
    """What ``fills`` (the opening fill and closes, any order) add up to."""
    opening = next((f for f in fills if f.kind == "open"), None)
    if opening is None:  # a hand-edited row: closes dated before its opening fill
        raise ValueError("it has closes but no opening fill at or before them")
    closes = [
        (f.quantity, f.price, f.fee, from_db(f.timestamp)) for f in fills if f.kind == "close"
    ]
    closes.sort(key=lambda c: c[3])
    return compute_state(side, opening.quantity, opening.price, opening.fee, closes)
