"""Manual positions: the repository of the trades a user manages by hand, with their fills.

Every write recomputes the fills' sum (``compute_state``); ids, validation: ``manual_trade``.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from tsys import format as fmt
from tsys.contracts import PositionRecord
from tsys.store import manual_bulk, manual_read
from tsys.store._time import from_db, to_db
from tsys.store.manual_fills import fills_of
from tsys.store.manual_trade import (
    CloseInput,
    InvalidTrade,
    TradeInput,
    check_non_negative,
    check_not_future,
    check_price,
    check_quantity,
    clean_tags,
    day_text,
    duplicate_key_of,
    format_id,
    parse_id,
    plainly_valid,
    tolerance,
    validate_trade,
)

if TYPE_CHECKING:
    from tsys.store import Store
    from tsys.store.manual_columns import ManualBook

#: Soft-deleted trades can be restored for this long; older ones are purged on the next delete.
UNDO_WINDOW = dt.timedelta(days=30)

log = logging.getLogger(__name__)


# ------------------------------------------------------------------------------ repository
class ManualTrades:
    """The manual-positions repository of a :class:`~tsys.store.Store`."""

    def __init__(self, store: Store) -> None:
        self.skipped: list[str] = []  # stored rows that could not be loaded
        self._store = store
        self._P = store.models.ManualPosition
        self._F = store.models.ManualFill

    # -------------------------------------------------------------------- writes
    def add(self, trade: TradeInput, *, now: dt.datetime | None = None) -> PositionRecord:
        """Validate and store one trade (with any closes it carries) in one transaction."""
        errors = validate_trade(trade, now=now)
        if errors:
            raise InvalidTrade("; ".join(errors))
        with self._store.transaction():
            pid = self._insert(trade, now or dt.datetime.now(dt.UTC))
        return self.get(pid)

    def close(
        self,
        trade_id: str | int,
        *,
        price: float,
        at: dt.datetime,
        quantity: float | None = None,
        fee: float = 0.0,
        now: dt.datetime | None = None,
    ) -> PositionRecord:
        """Close all of a position, or ``quantity`` of it (a partial close)."""
        now = now or dt.datetime.now(dt.UTC)
        pid = parse_id(trade_id)
        errors = check_price("price", price) + check_non_negative("fee", fee)
        errors += check_not_future("close date", at, now)
        if quantity is not None:
            errors += check_quantity("quantity", quantity)
        if errors:
            raise InvalidTrade("; ".join(errors))
        with self._store.transaction():
            row = self._row(pid)
            if row.closed_at is not None or row.quantity <= 0:
                raise InvalidTrade(f"{format_id(pid)} is already closed")
            opened = from_db(row.opened_at)
            if at < opened:
                raise InvalidTrade(
                    f"close date {day_text(at)} is before {format_id(pid)} opened ({day_text(opened)})"
                )
            fills = self._fills_of([pid])[pid]
            last_close = max(
                (from_db(f.timestamp) for f in fills if f.kind == "close"), default=None
            )
            if last_close is not None and at < last_close:
                raise InvalidTrade(
                    f"close date {day_text(at)} is before the previous close ({day_text(last_close)})"
                )
            q = row.quantity if quantity is None else quantity
            if q > row.quantity + tolerance(row.initial_quantity):
                raise InvalidTrade(
                    f"cannot close {fmt.exact(q)} of {format_id(pid)}: only {fmt.exact(row.quantity)} is open",
                    hint="close at most the open quantity (omit --qty to close all of it)",
                )
            self._F.create(
                position=pid,
                kind="close",
                side=manual_bulk.opposite(row.side),
                quantity=min(q, row.quantity),
                price=price,
                fee=fee,
                timestamp=to_db(at),
                created_at=to_db(now),
            )
            self._recompute(pid, now)
        return self.get(pid)

    def edit(
        self, trade_id: str | int, *, now: dt.datetime | None = None, **changes: Any
    ) -> PositionRecord:
        """Change a trade: ``stop``, ``target``, ``notes``, ``tags``, ``bucket``, ``quantity``,
        ``price``, ``opened_at``, ``fee`` (of the opening fill). Derived values are recomputed."""
        now = now or dt.datetime.now(dt.UTC)
        pid = parse_id(trade_id)
        allowed = {
            "stop",
            "target",
            "notes",
            "tags",
            "bucket",
            "quantity",
            "price",
            "opened_at",
            "fee",
        }
        unknown = set(changes) - allowed
        if unknown:
            raise InvalidTrade(f"cannot edit {', '.join(sorted(unknown))}")
        changes = {k: v for k, v in changes.items() if v is not None}
        if not changes:
            raise InvalidTrade("nothing to change", hint="pass at least one option, e.g. --stop 95")
        errors: list[str] = []
        for name in ("stop", "target", "price"):
            if name in changes:
                errors += check_price(name, changes[name])
        if "quantity" in changes:
            errors += check_quantity("quantity", changes["quantity"])
        if "fee" in changes:
            errors += check_non_negative("fee", changes["fee"])
        if "opened_at" in changes:
            errors += check_not_future("date", changes["opened_at"], now)
        if errors:
            raise InvalidTrade("; ".join(errors))
        with self._store.transaction():
            self._row(pid)  # raises when the trade does not exist
            fills = self._fills_of([pid])[pid]
            opening = next(f for f in fills if f.kind == "open")
            closes = [f for f in fills if f.kind == "close"]
            if "opened_at" in changes and closes:
                first = min(from_db(f.timestamp) for f in closes)
                if changes["opened_at"] > first:
                    raise InvalidTrade(
                        f"date {day_text(changes['opened_at'])} is after the first close of "
                        f"{format_id(pid)} ({day_text(first)})"
                    )
            if "quantity" in changes:
                closed = sum(f.quantity for f in closes)
                if changes["quantity"] < closed - tolerance(closed):
                    raise InvalidTrade(
                        f"cannot set the quantity of {format_id(pid)} to "
                        f"{fmt.exact(changes['quantity'])}: {fmt.exact(closed)} has already been closed"
                    )
            fill_updates = {}
            if "quantity" in changes:
                fill_updates["quantity"] = changes["quantity"]
            if "price" in changes:
                fill_updates["price"] = changes["price"]
            if "fee" in changes:
                fill_updates["fee"] = changes["fee"]
            if "opened_at" in changes:
                fill_updates["timestamp"] = to_db(changes["opened_at"])
            if fill_updates:
                self._F.update(**fill_updates).where(self._F.id == opening.id).execute()
            row_updates: dict[str, Any] = {}
            for name in ("stop", "target", "notes", "bucket"):
                if name in changes:
                    row_updates[name] = changes[name]
            if "tags" in changes:
                row_updates["tags"] = json.dumps(clean_tags(changes["tags"]))
            if "opened_at" in changes:
                row_updates["opened_at"] = to_db(changes["opened_at"])
            if row_updates:
                row_updates["updated_at"] = to_db(now)
                self._P.update(**row_updates).where(self._P.id == pid).execute()
            self._recompute(pid, now)
        return self.get(pid)

    def delete(self, trade_id: str | int, *, now: dt.datetime | None = None) -> PositionRecord:
        """Soft-delete a trade (restorable for :data:`UNDO_WINDOW`); purge expired deletions."""
        now = now or dt.datetime.now(dt.UTC)
        pid = parse_id(trade_id)
        with self._store.transaction():
            record = self.get(pid)
            self._P.update(deleted_at=to_db(now), updated_at=to_db(now)).where(
                self._P.id == pid
            ).execute()
            self._purge(now)
        return record

    def undelete(self, trade_id: str | int, *, now: dt.datetime | None = None) -> PositionRecord:
        """Restore a soft-deleted trade deleted less than :data:`UNDO_WINDOW` ago."""
        now = now or dt.datetime.now(dt.UTC)
        pid = parse_id(trade_id)
        with self._store.transaction():
            row = self._P.get_or_none(self._P.id == pid)
            if row is None:
                raise InvalidTrade(f"no manual trade {format_id(pid)} (deleted or not)")
            if row.deleted_at is None:
                raise InvalidTrade(f"{format_id(pid)} is not deleted; nothing to undo")
            if now - from_db(row.deleted_at) > UNDO_WINDOW:
                raise InvalidTrade(
                    f"{format_id(pid)} was deleted on {day_text(from_db(row.deleted_at))}, more than "
                    f"{UNDO_WINDOW.days} days ago; it can no longer be restored"
                )
            self._P.update(deleted_at=None, updated_at=to_db(now)).where(
                self._P.id == pid
            ).execute()
        return self.get(pid)

    def import_trades(
        self,
        trades: Sequence[tuple[int, TradeInput | list[str]]],
        *,
        skip_duplicates: bool = False,
        now: dt.datetime | None = None,
    ) -> tuple[list[str], list[int]]:
        """Store every trade in one transaction, or none.

        ``trades`` pairs a row number (for messages) with a parsed trade or the parse errors of
        that row. Duplicates, by (symbol, side, quantity, price, date), are errors unless
        ``skip_duplicates``; then they are left out. Returns the ids written and the row numbers
        skipped. Raises :class:`InvalidTrade` with a per-row report when anything is wrong.
        """
        now = now or dt.datetime.now(dt.UTC)
        existing = self._duplicate_keys()
        seen: dict[tuple, int] = {}
        report: list[str] = []
        todo: list[TradeInput] = []
        skipped: list[int] = []
        for rowno, item in trades:
            if isinstance(item, list):
                report += [f"row {rowno}: {e}" for e in item]
                continue
            errs = [] if plainly_valid(item, now) else validate_trade(item, now=now)
            key = item.duplicate_key()
            if key in existing:
                if skip_duplicates:
                    skipped.append(rowno)
                    continue
                errs.append(
                    f"duplicate of {format_id(existing[key])} already in the database "
                    "(same symbol, side, quantity, price and date)"
                )
            elif key in seen:
                if skip_duplicates:
                    skipped.append(rowno)
                    continue
                errs.append(f"duplicate of row {seen[key]} in this file")
            else:
                seen[key] = rowno
            report += [f"row {rowno}: {e}" for e in errs]
            if not errs:
                todo.append(item)
        if report:
            shown = report[:50]
            more = f"\n  ... and {len(report) - 50} more" if len(report) > 50 else ""
            raise InvalidTrade(
                f"import refused, nothing was written ({len(report)} problem"
                f"{'s' if len(report) != 1 else ''}):\n  " + "\n  ".join(shown) + more,
                hint="fix the rows and import again (--skip-duplicates leaves duplicates out)",
            )
        with self._store.transaction():
            ids = manual_bulk.insert_trades(self, todo, now)
        return [format_id(i) for i in ids], skipped

    def bulk_add(self, trades: Iterable[TradeInput], *, now: dt.datetime | None = None) -> int:
        """Store many pre-validated trades in one transaction (benchmarks, restores)."""
        now = now or dt.datetime.now(dt.UTC)
        with self._store.transaction():
            return len(manual_bulk.insert_trades(self, trades, now))

    # -------------------------------------------------------------------- reads
    def get(self, trade_id: str | int, *, include_deleted: bool = False) -> PositionRecord:
        pid = parse_id(trade_id)
        row = self._row(pid, include_deleted=include_deleted)
        return self._record(row, self._fills_of([pid])[pid])

    def list(
        self,
        *,
        status: str = "all",
        tag: str | None = None,
        with_fills: bool = True,
        as_of: dt.datetime | None = None,
    ) -> list[PositionRecord]:
        """Manual positions, oldest first: ``status`` "all", "open" or "closed".

        ``as_of`` rebuilds each position from the fills up to that moment (positions opened
        later are left out), so a past date shows what was held then.
        """
        return manual_read.read(self, status=status, tag=tag, with_fills=with_fills, as_of=as_of)

    def book(self, as_of: dt.datetime) -> tuple[list[PositionRecord], list[PositionRecord]]:
        """The positions open at ``as_of`` and those closed by then, in one read (no fills):
        ``list(status="open", ...)`` and ``list(status="closed", ...)`` without fills."""
        both = manual_read.read(self, with_fills=False, as_of=as_of)
        return [r for r in both if r.is_open], [r for r in both if not r.is_open]

    def columns(self, as_of: dt.datetime) -> ManualBook:
        """What :meth:`book` holds, as columns; each record built only when asked for
        (:mod:`tsys.store.manual_columns`)."""
        from tsys.store.manual_columns import read_book

        return read_book(self, as_of)

    def export(self) -> list[TradeInput]:
        """Every (not deleted) trade as it would be imported: opening fill plus closes."""
        out = []
        for rec in self.list(with_fills=True):
            opening = next(f for f in rec.fills if f.reason == "open")
            closes = [
                CloseInput(f.quantity, f.price, f.timestamp, f.fee)
                for f in rec.fills
                if f.reason == "close"
            ]
            out.append(
                TradeInput(
                    symbol=rec.symbol,
                    side=rec.side.value,
                    quantity=opening.quantity,
                    price=opening.price,
                    opened_at=opening.timestamp,
                    asset_class=rec.asset_class.value,
                    stop=rec.stop,
                    target=rec.target,
                    bucket=rec.bucket,
                    tags=rec.tags,
                    notes=rec.notes,
                    fee=opening.fee,
                    closes=closes,
                )
            )
        return out

    def count(self) -> int:
        return self._P.select().where(self._P.deleted_at.is_null()).count()

    # -------------------------------------------------------------------- internals
    def _row(self, pid: int, *, include_deleted: bool = False) -> Any:
        P = self._P
        q = P.select().where(P.id == pid)
        if not include_deleted:
            q = q.where(P.deleted_at.is_null())
        row = q.first()
        if row is None:
            deleted = P.get_or_none((P.id == pid) & P.deleted_at.is_null(False))
            hint = (
                f"it was deleted; `tsys trades delete {format_id(pid)} --undo` restores it"
                if deleted is not None
                else "`tsys trades list` shows the ids"
            )
            raise InvalidTrade(f"no manual trade {format_id(pid)}", hint=hint)
        return row

    def _fills_of(self, pids: Sequence[int]) -> dict[int, list[Any]]:
        return fills_of(self._F, pids)

    def _insert(self, t: TradeInput, now: dt.datetime) -> int:
        return manual_bulk.insert_one(self, t, now)

    def _recompute(self, pid: int, now: dt.datetime) -> None:
        row = self._row(pid)
        fills = self._fills_of([pid])[pid]
        state = manual_read.state_from_fills(row.side, fills)
        self._P.update(
            initial_quantity=state.initial_quantity,
            quantity=state.quantity,
            entry_price=state.entry_price,
            closed_at=to_db(state.closed_at),
            exit_price=state.exit_price,
            realized_pnl=state.realized_pnl,
            updated_at=to_db(now),
        ).where(self._P.id == pid).execute()

    def _purge(self, now: dt.datetime) -> None:
        P = self._P
        cutoff = to_db(now - UNDO_WINDOW)
        old = [r.id for r in P.select(P.id).where(P.deleted_at < cutoff)]
        if old:
            self._F.delete().where(self._F.position.in_(old)).execute()
            P.delete().where(P.id.in_(old)).execute()

    def duplicates_of(self, trade: TradeInput) -> list[str]:
        """Ids of stored trades identical to ``trade`` (symbol, side, quantity, price, date)."""
        pid = self._duplicate_keys().get(trade.duplicate_key())
        return [] if pid is None else [format_id(pid)]

    def _duplicate_keys(self) -> dict[tuple, int]:
        P = self._P
        F = self._F
        q = (
            F.select(P.id, P.symbol, P.side, F.quantity, F.price, F.timestamp)
            .join(P, on=(F.position == P.id))
            .where((F.kind == "open") & P.deleted_at.is_null())
            .tuples()
        )
        return {
            duplicate_key_of(s, side, qty, px, from_db(ts)): pid for pid, s, side, qty, px, ts in q
        }

    def _loadable(self, row: Any, fills: list[Any], **kw: Any) -> PositionRecord | None:
        return manual_read.loadable(self, row, fills, **kw)

    def _record(self, row: Any, fills: list[Any]) -> PositionRecord:
        return manual_read.record(row, fills)
