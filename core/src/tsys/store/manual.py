"""Manual positions: the trades a user manages by hand, stored with their fills.

A manual trade opens with one fill (``side`` buy = a long position, sell = a short one) and is
reduced by closing fills in the opposite direction. Everything derived (open quantity, realised
PnL, exit price, closed at) is recomputed from the fills by :func:`compute_state` on every write,
so an edit of the opening price or quantity can never leave a stale PnL behind.

Realised PnL of a close of ``q`` at ``p`` with fee ``f`` on a position opened with ``Q`` at
``E`` with fee ``F`` is ``d * q * (p - E) - f - F * q / Q`` (``d`` = +1 long, -1 short): the
opening fee is charged to closes in proportion to the quantity they close.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
import os
import re
import sys
import time
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from tsys import format as fmt
from tsys.contracts import AssetClass, Fill, PositionRecord, PositionSource, Side
from tsys.errors import TsysError
from tsys.store._time import from_db, to_db

if TYPE_CHECKING:
    from tsys.store import Store

ID_PREFIX = "M-"
#: Soft-deleted trades can be restored for this long; older ones are purged on the next delete.
UNDO_WINDOW = dt.timedelta(days=30)
#: Test hook: after this many imported rows, report on stderr and sleep (to be killed mid-write).
_PAUSE_ENV = "TSYS_TEST_IMPORT_PAUSE_AFTER"
EXPORT_COLUMNS = (
    "ref",
    "action",
    "symbol",
    "side",
    "asset_class",
    "quantity",
    "price",
    "date",
    "fee",
    "stop",
    "target",
    "bucket",
    "tags",
    "notes",
)
_ALIASES = {"qty": "quantity", "note": "notes", "tag": "tags", "id": "ref"}


class InvalidTrade(TsysError):
    """A manual trade (or an import file) breaks a rule; nothing was written."""

    exit_code = 2


# ------------------------------------------------------------------------------------ ids
def format_id(n: int) -> str:
    """The human id of manual trade row ``n``: ``M-000042``."""
    return f"{ID_PREFIX}{n:06d}"


def parse_id(text: str | int) -> int:
    """Accept ``M-000042``, ``m-42`` or ``42``."""
    if isinstance(text, int):
        return text
    m = re.fullmatch(r"(?i)\s*(?:m-?)?0*(\d+)\s*", str(text))
    if m is None:
        raise InvalidTrade(
            f"{text!r} is not a manual trade id; ids look like M-000042",
            hint="`tsys trades list` shows the ids",
        )
    return int(m.group(1))


def default_asset_class(symbol: str) -> AssetClass:
    """Crypto when the symbol looks like a pair (``BTC-USD``, ``ETH/USD``), else equity."""
    s = symbol.upper()
    return AssetClass.CRYPTO if s.endswith("-USD") or "/" in s else AssetClass.EQUITY


# ------------------------------------------------------------------------------------ inputs
@attrs.frozen
class CloseInput:
    """A (partial) close: quantity, price, when, and the fee paid."""

    quantity: float
    price: float
    at: dt.datetime
    fee: float = 0.0


@attrs.frozen
class TradeInput:
    """A manual trade as a user enters it (or as an import file row describes it)."""

    symbol: str
    side: str
    quantity: float
    price: float
    opened_at: dt.datetime
    asset_class: str | None = None
    stop: float | None = None
    target: float | None = None
    bucket: str = ""
    tags: tuple[str, ...] = attrs.field(default=(), converter=tuple)
    notes: str = ""
    fee: float = 0.0
    closes: tuple[CloseInput, ...] = attrs.field(default=(), converter=tuple)

    def duplicate_key(self) -> tuple:
        return _dup_key(self.symbol.upper(), self.side, self.quantity, self.price, self.opened_at)


def _dup_key(symbol: str, side: str, qty: float, price: float, at: dt.datetime) -> tuple:
    return (symbol, str(side).lower(), round(qty, 9), round(price, 9), at.date().isoformat())


# ------------------------------------------------------------------------------------ state
@attrs.frozen
class PositionState:
    """What the fills of one position add up to."""

    initial_quantity: float
    quantity: float
    entry_price: float
    realized_pnl: float
    closed_at: dt.datetime | None
    exit_price: float | None


def _eps(q: float) -> float:
    return 1e-9 * max(1.0, abs(q))


def compute_state(
    side: Side | str,
    quantity: float,
    price: float,
    fee: float,
    closes: Sequence[tuple[float, float, float, dt.datetime]],
) -> PositionState:
    """Open quantity, realised PnL and exit of a position from its opening fill and closes.

    ``closes`` are ``(quantity, price, fee, at)`` in time order. Raises :class:`InvalidTrade`
    when the closes add up to more than was opened.
    """
    d = 1.0 if Side(side) is Side.BUY else -1.0
    remaining = quantity
    realized = 0.0
    closed_qty = 0.0
    closed_value = 0.0
    last_at = None
    for q, p, f, at in closes:
        if q > remaining + _eps(quantity):
            raise InvalidTrade(
                f"cannot close {fmt.exact(q)}: only {fmt.exact(remaining)} is open",
                hint="close at most the open quantity (omit --qty to close all of it)",
            )
        q = min(q, remaining)
        realized += d * q * (p - price) - f - fee * q / quantity
        remaining -= q
        closed_qty += q
        closed_value += q * p
        last_at = at
    if remaining <= _eps(quantity):
        remaining = 0.0
    closed = remaining == 0.0 and closed_qty > 0
    return PositionState(
        initial_quantity=quantity,
        quantity=remaining,
        entry_price=price,
        realized_pnl=realized,
        closed_at=last_at if closed else None,
        exit_price=closed_value / closed_qty if closed else None,
    )


# ------------------------------------------------------------------------------ validation
def validate_trade(t: TradeInput, *, now: dt.datetime | None = None) -> list[str]:
    """Every rule the trade breaks, as sentences (empty when it is valid)."""
    now = now or dt.datetime.now(dt.UTC)
    errors: list[str] = []
    if not isinstance(t.symbol, str) or not t.symbol.strip():
        errors.append("symbol must not be empty")
    elif any(c.isspace() for c in t.symbol.strip()):
        errors.append(f"symbol must not contain spaces, got {t.symbol!r}")
    if str(t.side).lower() not in ("buy", "sell"):
        errors.append(f"side must be 'buy' or 'sell', got {t.side!r}")
    if t.asset_class is not None and str(t.asset_class).lower() not in ("equity", "crypto"):
        errors.append(f"unknown asset class {t.asset_class!r}; expected 'equity' or 'crypto'")
    errors += _positive("quantity", t.quantity)
    errors += _positive("price", t.price)
    errors += _non_negative("fee", t.fee)
    if t.stop is not None:
        errors += _positive("stop", t.stop)
    if t.target is not None:
        errors += _positive("target", t.target)
    errors += _not_future("date", t.opened_at, now)
    last = t.opened_at
    for i, c in enumerate(t.closes, start=1):
        what = f"close {i}" if len(t.closes) > 1 else "close"
        errors += _positive(f"{what} quantity", c.quantity)
        errors += _positive(f"{what} price", c.price)
        errors += _non_negative(f"{what} fee", c.fee)
        errors += _not_future(f"{what} date", c.at, now)
        if c.at < t.opened_at:
            errors.append(
                f"{what} date {_day(c.at)} is before the trade opened ({_day(t.opened_at)})"
            )
        elif c.at < last:
            errors.append(f"{what} date {_day(c.at)} is before the previous close ({_day(last)})")
        last = max(last, c.at)
    if not errors and t.closes:
        try:
            compute_state(
                t.side.lower(), t.quantity, t.price, t.fee,
                [(c.quantity, c.price, c.fee, c.at) for c in t.closes],
            )  # fmt: skip
        except InvalidTrade as exc:
            errors.append(exc.message)
    return errors


def _is_number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def _positive(name: str, x: Any) -> list[str]:
    if not _is_number(x):
        return [f"{name} must be a finite number, got {x!r}"]
    if x <= 0:
        return [f"{name} must be greater than zero, got {fmt.exact(x)}"]
    return []


def _non_negative(name: str, x: Any) -> list[str]:
    if not _is_number(x):
        return [f"{name} must be a finite number, got {x!r}"]
    if x < 0:
        return [f"{name} must not be negative, got {fmt.exact(x)}"]
    return []


def _not_future(name: str, at: dt.datetime, now: dt.datetime) -> list[str]:
    if not isinstance(at, dt.datetime) or at.tzinfo is None:
        return [f"{name} must be a timezone-aware datetime, got {at!r}"]
    if at > now:
        return [f"{name} {_day(at)} is in the future; record trades once they have happened"]
    return []


def _day(at: dt.datetime) -> str:
    if at.time() == dt.time(0) and at.utcoffset() == dt.timedelta(0):
        return at.date().isoformat()
    return at.isoformat(timespec="minutes")


# ------------------------------------------------------------------------------ repository
class ManualTrades:
    """The manual-positions repository of a :class:`~tsys.store.Store`."""

    def __init__(self, store: Store) -> None:
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
        errors = _positive("price", price) + _non_negative("fee", fee)
        errors += _not_future("close date", at, now)
        if quantity is not None:
            errors += _positive("quantity", quantity)
        if errors:
            raise InvalidTrade("; ".join(errors))
        with self._store.transaction():
            row = self._row(pid)
            if row.closed_at is not None or row.quantity <= 0:
                raise InvalidTrade(f"{format_id(pid)} is already closed")
            opened = from_db(row.opened_at)
            if at < opened:
                raise InvalidTrade(
                    f"close date {_day(at)} is before {format_id(pid)} opened ({_day(opened)})"
                )
            fills = self._fills_of([pid])[pid]
            last_close = max(
                (from_db(f.timestamp) for f in fills if f.kind == "close"), default=None
            )
            if last_close is not None and at < last_close:
                raise InvalidTrade(
                    f"close date {_day(at)} is before the previous close ({_day(last_close)})"
                )
            q = row.quantity if quantity is None else quantity
            if q > row.quantity + _eps(row.initial_quantity):
                raise InvalidTrade(
                    f"cannot close {fmt.exact(q)} of {format_id(pid)}: only {fmt.exact(row.quantity)} is open",
                    hint="close at most the open quantity (omit --qty to close all of it)",
                )
            self._F.create(
                position=pid,
                kind="close",
                side=_opposite(row.side),
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
        for name in ("stop", "target", "quantity", "price"):
            if name in changes:
                errors += _positive(name, changes[name])
        if "fee" in changes:
            errors += _non_negative("fee", changes["fee"])
        if "opened_at" in changes:
            errors += _not_future("date", changes["opened_at"], now)
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
                        f"date {_day(changes['opened_at'])} is after the first close of "
                        f"{format_id(pid)} ({_day(first)})"
                    )
            if "quantity" in changes:
                closed = sum(f.quantity for f in closes)
                if changes["quantity"] < closed - _eps(closed):
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
                row_updates["tags"] = json.dumps(_clean_tags(changes["tags"]))
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
                    f"{format_id(pid)} was deleted on {_day(from_db(row.deleted_at))}, more than "
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
            errs = validate_trade(item, now=now)
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
        pause = os.environ.get(_PAUSE_ENV)
        pause_after = int(pause) if pause else None
        ids: list[int] = []
        with self._store.transaction():
            for i, trade in enumerate(todo, start=1):
                ids.append(self._insert(trade, now))
                if pause_after is not None and i == pause_after:
                    print(f"tsys-test: paused after {i} rows", file=sys.stderr, flush=True)
                    time.sleep(600)
        return [format_id(i) for i in ids], skipped

    def bulk_add(self, trades: Iterable[TradeInput], *, now: dt.datetime | None = None) -> int:
        """Store many pre-validated trades in one transaction (benchmarks, restores)."""
        now = now or dt.datetime.now(dt.UTC)
        n = 0
        fills: list[dict[str, Any]] = []
        with self._store.transaction():
            for trade in trades:
                pid = self._insert(trade, now, fills_out=fills)
                n += 1
                if len(fills) >= 500:
                    self._F.insert_many(fills).execute()
                    fills.clear()
                del pid
            if fills:
                self._F.insert_many(fills).execute()
        return n

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
        if status not in ("all", "open", "closed"):
            raise ValueError(f"status must be all, open or closed, got {status!r}")
        P = self._P
        q = P.select().where(P.deleted_at.is_null()).order_by(P.id)
        if as_of is not None:
            q = q.where(P.opened_at <= to_db(as_of))
        elif status == "open":
            q = q.where(P.closed_at.is_null())
        elif status == "closed":
            q = q.where(P.closed_at.is_null(False))
        rows = list(q)
        if tag is not None:
            rows = [r for r in rows if tag in json.loads(r.tags or "[]")]
        fills = self._fills_of([r.id for r in rows]) if (with_fills or as_of is not None) else {}
        out = []
        for r in rows:
            rec = self._record(r, fills.get(r.id, []) if fills else [], as_of=as_of)
            if as_of is not None:
                if status == "open" and not rec.is_open:
                    continue
                if status == "closed" and rec.is_open:
                    continue
                if not with_fills:
                    rec = attrs.evolve(rec, fills=())
            out.append(rec)
        return out

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
        F = self._F
        out: dict[int, list[Any]] = {p: [] for p in pids}
        if not pids:
            return out
        chunk = 900
        for i in range(0, len(pids), chunk):
            part = list(pids[i : i + chunk])
            q = F.select().where(F.position.in_(part)).order_by(F.timestamp, F.id)
            for f in q:
                out[f.position_id].append(f)
        return out

    def _insert(
        self, t: TradeInput, now: dt.datetime, *, fills_out: list[dict[str, Any]] | None = None
    ) -> int:
        side = Side(t.side.lower())
        closes = sorted(t.closes, key=lambda c: c.at)
        state = compute_state(
            side, t.quantity, t.price, t.fee, [(c.quantity, c.price, c.fee, c.at) for c in closes]
        )
        ac = AssetClass(t.asset_class.lower()) if t.asset_class else default_asset_class(t.symbol)
        pid = self._P.insert(
            symbol=t.symbol.strip().upper(),
            asset_class=ac.value,
            side=side.value,
            initial_quantity=state.initial_quantity,
            quantity=state.quantity,
            entry_price=state.entry_price,
            opened_at=to_db(t.opened_at),
            closed_at=to_db(state.closed_at),
            exit_price=state.exit_price,
            stop=t.stop,
            target=t.target,
            bucket=t.bucket or "",
            notes=t.notes or "",
            tags=json.dumps(_clean_tags(t.tags)),
            realized_pnl=state.realized_pnl,
            created_at=to_db(now),
            updated_at=to_db(now),
        ).execute()
        fills = [
            dict(
                position=pid,
                kind="open",
                side=side.value,
                quantity=t.quantity,
                price=t.price,
                fee=t.fee,
                timestamp=to_db(t.opened_at),
                created_at=to_db(now),
            )
        ] + [
            dict(
                position=pid,
                kind="close",
                side=_opposite(side.value),
                quantity=c.quantity,
                price=c.price,
                fee=c.fee,
                timestamp=to_db(c.at),
                created_at=to_db(now),
            )
            for c in closes
        ]
        if fills_out is None:
            self._F.insert_many(fills).execute()
        else:
            fills_out.extend(fills)
        return pid

    def _recompute(self, pid: int, now: dt.datetime) -> None:
        row = self._row(pid)
        fills = self._fills_of([pid])[pid]
        state = _state_from_fills(row.side, fills)
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

    def _duplicate_keys(self) -> dict[tuple, int]:
        P = self._P
        F = self._F
        q = (
            F.select(P.id, P.symbol, P.side, F.quantity, F.price, F.timestamp)
            .join(P, on=(F.position == P.id))
            .where((F.kind == "open") & P.deleted_at.is_null())
            .tuples()
        )
        return {_dup_key(s, side, qty, px, from_db(ts)): pid for pid, s, side, qty, px, ts in q}

    def _record(
        self, row: Any, fills: list[Any], *, as_of: dt.datetime | None = None
    ) -> PositionRecord:
        side = Side(row.side)
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
            state = _state_from_fills(row.side, [f for f in fills if from_db(f.timestamp) <= as_of])
        risk = None
        if row.stop is not None:
            per_unit = (
                (state.entry_price - row.stop)
                if side is Side.BUY
                else (row.stop - state.entry_price)
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


def _state_from_fills(side: str, fills: Sequence[Any]) -> PositionState:
    opening = next(f for f in fills if f.kind == "open")
    closes = [
        (f.quantity, f.price, f.fee, from_db(f.timestamp)) for f in fills if f.kind == "close"
    ]
    closes.sort(key=lambda c: c[3])
    return compute_state(side, opening.quantity, opening.price, opening.fee, closes)


def _opposite(side: str) -> str:
    return "sell" if side == "buy" else "buy"


def _clean_tags(tags: Iterable[str]) -> list[str]:
    out: list[str] = []
    for t in tags:
        t = str(t).strip()
        if t and t not in out:
            out.append(t)
    return out


# ---------------------------------------------------------------------------- file formats
def parse_when(text: str, *, what: str = "date") -> dt.datetime:
    """Parse ``YYYY-MM-DD`` (midnight UTC) or an ISO datetime (naive = UTC)."""
    s = str(text).strip()
    try:
        if len(s) == 10:
            d = dt.date.fromisoformat(s)
            return dt.datetime(d.year, d.month, d.day, tzinfo=dt.UTC)
        value = dt.datetime.fromisoformat(s)
    except ValueError:
        raise InvalidTrade(f"{what} {s!r} is not a date; use YYYY-MM-DD") from None
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def _fmt_when(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).isoformat()


def to_json(trades: Sequence[TradeInput]) -> str:
    """The JSON export: ``{"schema_version": 1, "trades": [...]}``."""
    items = []
    for t in trades:
        items.append(
            {
                "symbol": t.symbol,
                "side": t.side,
                "asset_class": t.asset_class,
                "quantity": t.quantity,
                "price": t.price,
                "date": _fmt_when(t.opened_at),
                "fee": t.fee,
                "stop": t.stop,
                "target": t.target,
                "bucket": t.bucket,
                "tags": list(t.tags),
                "notes": t.notes,
                "closes": [
                    {
                        "quantity": c.quantity,
                        "price": c.price,
                        "date": _fmt_when(c.at),
                        "fee": c.fee,
                    }
                    for c in t.closes
                ],
            }
        )
    return json.dumps({"schema_version": 1, "trades": items}, indent=2)


def to_csv(trades: Sequence[TradeInput]) -> str:
    """The CSV export: one ``open`` row per trade, then one ``close`` row per close."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=EXPORT_COLUMNS, lineterminator="\n")
    w.writeheader()
    for i, t in enumerate(trades, start=1):
        ref = f"T{i}"
        w.writerow(
            {
                "ref": ref,
                "action": "open",
                "symbol": t.symbol,
                "side": t.side,
                "asset_class": t.asset_class or "",
                "quantity": repr(t.quantity),
                "price": repr(t.price),
                "date": _fmt_when(t.opened_at),
                "fee": repr(t.fee),
                "stop": "" if t.stop is None else repr(t.stop),
                "target": "" if t.target is None else repr(t.target),
                "bucket": t.bucket,
                "tags": ";".join(t.tags),
                "notes": t.notes,
            }
        )
        for c in t.closes:
            w.writerow(
                {
                    "ref": ref,
                    "action": "close",
                    "symbol": t.symbol,
                    "quantity": repr(c.quantity),
                    "price": repr(c.price),
                    "date": _fmt_when(c.at),
                    "fee": repr(c.fee),
                }
            )
    return buf.getvalue()


def parse_file(name: str, text: str) -> list[tuple[int, TradeInput | list[str]]]:
    """Parse an import file (CSV or JSON by extension) into numbered trades or row errors."""
    lower = name.lower()
    if lower.endswith(".json"):
        return _parse_json(text)
    if lower.endswith(".csv"):
        return _parse_csv(text)
    raise InvalidTrade(f"cannot tell the format of {name}: expected a .csv or .json file")


def _float_field(
    row: dict[str, Any], key: str, errors: list[str], *, required: bool
) -> float | None:
    raw = row.get(key)
    if raw is None or (isinstance(raw, str) and raw.strip() == ""):
        if required:
            errors.append(f"{key} is missing")
        return None
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        return float(raw)
    try:
        return float(str(raw).replace(",", ""))
    except ValueError:
        errors.append(f"{key} must be a number, got {raw!r}")
        return None


def _when_field(row: dict[str, Any], key: str, errors: list[str]) -> dt.datetime | None:
    raw = row.get(key)
    if raw is None or str(raw).strip() == "":
        errors.append(f"{key} is missing")
        return None
    try:
        return parse_when(str(raw), what=key)
    except InvalidTrade as exc:
        errors.append(exc.message)
        return None


def _trade_from_mapping(
    row: dict[str, Any], closes: Sequence[CloseInput]
) -> TradeInput | list[str]:
    errors: list[str] = []
    symbol = str(row.get("symbol") or "").strip()
    if not symbol:
        errors.append("symbol is missing")
    side = str(row.get("side") or "").strip().lower()
    if not side:
        errors.append("side is missing")
    qty = _float_field(row, "quantity", errors, required=True)
    price = _float_field(row, "price", errors, required=True)
    fee = _float_field(row, "fee", errors, required=False) or 0.0
    stop = _float_field(row, "stop", errors, required=False)
    target = _float_field(row, "target", errors, required=False)
    when = _when_field(row, "date", errors)
    tags_raw = row.get("tags") or []
    tags = tags_raw if isinstance(tags_raw, list) else [t for t in str(tags_raw).split(";")]
    ac = str(row.get("asset_class") or "").strip().lower() or None
    if errors:
        return errors
    assert qty is not None and price is not None and when is not None
    return TradeInput(
        symbol=symbol.upper(),
        side=side,
        quantity=qty,
        price=price,
        opened_at=when,
        asset_class=ac,
        stop=stop,
        target=target,
        bucket=str(row.get("bucket") or ""),
        tags=tuple(_clean_tags(tags)),
        notes=str(row.get("notes") or ""),
        fee=fee,
        closes=tuple(closes),
    )


def _normalise_keys(row: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in row.items():
        if k is None:
            continue
        key = str(k).strip().lower()
        out[_ALIASES.get(key, key)] = v
    return out


def _parse_csv(text: str) -> list[tuple[int, TradeInput | list[str]]]:
    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames is None:
        raise InvalidTrade("the CSV file is empty; expected a header row")
    headers = {_ALIASES.get(h.strip().lower(), h.strip().lower()) for h in reader.fieldnames}
    missing = {"symbol", "side", "quantity", "price", "date"} - headers
    if missing:
        raise InvalidTrade(
            f"the CSV header lacks {', '.join(sorted(missing))}",
            hint="columns: " + ",".join(EXPORT_COLUMNS) + " (ref/action optional)",
        )
    opens: list[tuple[int, dict[str, Any]]] = []
    closes: dict[str, list[tuple[int, dict[str, Any]]]] = {}
    refs: dict[str, int] = {}
    bad: list[tuple[int, list[str]]] = []
    for rowno, raw in enumerate(reader, start=2):
        row = _normalise_keys(raw)
        action = str(row.get("action") or "open").strip().lower()
        ref = str(row.get("ref") or "").strip()
        if action == "open":
            if ref:
                if ref in refs:
                    bad.append((rowno, [f"ref {ref!r} already used by row {refs[ref]}"]))
                    continue
                refs[ref] = rowno
            opens.append((rowno, row))
        elif action == "close":
            if not ref:
                bad.append((rowno, ["a close row needs the ref of its open row"]))
            else:
                closes.setdefault(ref, []).append((rowno, row))
        else:
            bad.append((rowno, [f"action must be 'open' or 'close', got {action!r}"]))
    for ref, rows in closes.items():
        if ref not in refs:
            for rowno, _ in rows:
                bad.append((rowno, [f"close refers to ref {ref!r}, which no open row has"]))
    out: list[tuple[int, TradeInput | list[str]]] = list(bad)
    for rowno, row in opens:
        ref = str(row.get("ref") or "").strip()
        close_inputs, errors = _closes_from_rows(closes.get(ref, []) if ref else [])
        if errors:
            out.append((rowno, errors))
            continue
        out.append((rowno, _trade_from_mapping(row, close_inputs)))
    out.sort(key=lambda x: x[0])
    return out


def _closes_from_rows(
    rows: Sequence[tuple[int, dict[str, Any]]],
) -> tuple[list[CloseInput], list[str]]:
    closes, errors = [], []
    for rowno, row in rows:
        errs: list[str] = []
        q = _float_field(row, "quantity", errs, required=True)
        p = _float_field(row, "price", errs, required=True)
        f = _float_field(row, "fee", errs, required=False) or 0.0
        at = _when_field(row, "date", errs)
        if errs:
            errors += [f"close (row {rowno}): {e}" for e in errs]
        else:
            closes.append(CloseInput(q, p, at, f))
    return closes, errors


def _parse_json(text: str) -> list[tuple[int, TradeInput | list[str]]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidTrade(f"the JSON file is not valid JSON: {exc}") from None
    if isinstance(data, dict):
        items = data.get("trades")
    else:
        items = data
    if not isinstance(items, list):
        raise InvalidTrade('expected a JSON list of trades, or {"trades": [...]}')
    out: list[tuple[int, TradeInput | list[str]]] = []
    for i, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            out.append((i, [f"expected an object, got {type(item).__name__}"]))
            continue
        row = _normalise_keys(item)
        raw_closes = row.get("closes") or []
        if not isinstance(raw_closes, list):
            out.append((i, ["closes must be a list"]))
            continue
        close_inputs, errors = _closes_from_rows(
            [
                (j, _normalise_keys(c))
                for j, c in enumerate(raw_closes, start=1)
                if isinstance(c, dict)
            ]
        )
        if errors:
            out.append((i, errors))
            continue
        out.append((i, _trade_from_mapping(row, close_inputs)))
    return out
