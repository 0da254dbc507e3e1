"""Paper broker state in the store: the order log of every broker and the local broker's book.

:class:`StoreOrderLog` is the :class:`tsys.orderlog.OrderLog` the brokers write their
orders and lifecycle events to; :class:`PaperLedger` adds what only the local paper broker
keeps (cash, positions, fills). The tables come from migrations ``m0002_paper`` and
``m0003_paper_marks`` (the daily equity marks), their models from :mod:`tsys.store.paper_models`.
Every multi-row write runs in :meth:`Store.transaction`.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
from typing import TYPE_CHECKING, Any

import attrs

from tsys.contracts import (
    AssetClass,
    Fill,
    Order,
    OrderEvent,
    PositionRecord,
    PositionSource,
    Side,
)
from tsys.orderlog import Baseline, same_state
from tsys.store._time import from_db, to_db
from tsys.store.paper_models import paper_models

if TYPE_CHECKING:
    from tsys.store import Store


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


#: The columns that hold a contract's fields, by the same names.
_ORDER = (
    "client_order_id", "symbol", "asset_class", "side", "quantity", "entry", "time_in_force",
    "submitted_at", "status", "limit_price", "stop_price", "take_profit", "broker_order_id",
    "filled_quantity", "filled_avg_price", "bucket",
)  # fmt: skip
_EVENT = (
    "client_order_id", "status", "timestamp", "broker_order_id", "filled_quantity",
    "filled_avg_price", "message",
)  # fmt: skip
_FILL = (
    "client_order_id", "symbol", "side", "quantity", "price", "fee", "slippage", "reason",
    "timestamp", "unfilled_quantity",
)  # fmt: skip
#: What :meth:`PaperLedger.fill_rows` gives of a fill row, in this order.
_FILL_ROW = (
    "client_order_id", "symbol", "side", "quantity", "price", "reference_price", "fee",
    "slippage", "timestamp", "unfilled_quantity",
)  # fmt: skip
_TIMESTAMPS = frozenset({"submitted_at", "timestamp"})


def _columns(obj: Any, names: tuple[str, ...]) -> dict[str, Any]:
    """A contract's fields as column values: enums by value, timestamps naive UTC."""
    out = {}
    for name in names:
        value = getattr(obj, name)
        if isinstance(value, enum.Enum):
            value = value.value
        elif name in _TIMESTAMPS:
            value = to_db(value)
        out[name] = value
    return out


def _fields(row: Any, names: tuple[str, ...]) -> dict[str, Any]:
    """A row's columns as contract fields (timestamps back to aware UTC)."""
    return {n: from_db(getattr(row, n)) if n in _TIMESTAMPS else getattr(row, n) for n in names}


def _order(row: Any) -> Order:
    return Order(**_fields(row, _ORDER))


def _event(row: Any) -> OrderEvent:
    return OrderEvent(**_fields(row, _EVENT))


def _date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    return dt.date.fromisoformat(value) if isinstance(value, str) else value


@attrs.frozen
class Mark:
    """The paper account at one day's close: cash, marked positions and their sum."""

    date: dt.date
    cash: float
    positions_value: float
    equity: float
    #: symbol -> (quantity, price it was marked at; None when the broker gave only a total)
    positions: dict[str, tuple[float, float | None]] = attrs.field(factory=dict)


class StoreOrderLog:
    """Orders and lifecycle events of any broker, persisted in the store."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.m = paper_models(store.db)

    def save_order(
        self, broker: str, order: Order, *, decision_date: dt.date | None = None
    ) -> None:
        M = self.m.PaperOrder
        values = _columns(order, _ORDER[1:])
        values["updated_at"] = to_db(_now())
        with self.store.transaction():
            row = M.get_or_none((M.broker == broker) & (M.client_order_id == order.client_order_id))
            if row is None:
                M.create(
                    broker=broker,
                    client_order_id=order.client_order_id,
                    decision_date=decision_date,
                    **values,
                )
            else:
                if decision_date is not None:
                    values["decision_date"] = decision_date
                M.update(**values).where(M.id == row.id).execute()

    def get_order(self, broker: str, client_order_id: str) -> Order | None:
        M = self.m.PaperOrder
        row = M.get_or_none((M.broker == broker) & (M.client_order_id == client_order_id))
        return None if row is None else _order(row)

    def decision_date(self, broker: str, client_order_id: str) -> dt.date | None:
        M = self.m.PaperOrder
        row = M.get_or_none((M.broker == broker) & (M.client_order_id == client_order_id))
        if row is None or row.decision_date is None:
            return None
        d = row.decision_date
        return dt.date.fromisoformat(d) if isinstance(d, str) else d

    def orders(self, broker: str, *, final: bool | None = None) -> list[Order]:
        M = self.m.PaperOrder
        rows = M.select().where(M.broker == broker).order_by(M.submitted_at, M.client_order_id)
        out = [_order(r) for r in rows]
        if final is not None:
            out = [o for o in out if o.status.is_final is final]
        return out

    def record_event(self, broker: str, event: OrderEvent) -> bool:
        E = self.m.PaperOrderEvent
        with self.store.transaction():
            last = (
                E.select()
                .where((E.broker == broker) & (E.client_order_id == event.client_order_id))
                .order_by(E.id.desc())
                .first()
            )
            if last is not None and same_state(_event(last), event):
                return False
            E.create(broker=broker, **_columns(event, _EVENT), recorded_at=to_db(_now()))
            return True

    def events(
        self, broker: str, *, since: dt.datetime | None = None, client_order_id: str | None = None
    ) -> list[OrderEvent]:
        E = self.m.PaperOrderEvent
        q = E.select().where(E.broker == broker)
        if since is not None:
            q = q.where(E.timestamp >= to_db(since))
        if client_order_id is not None:
            q = q.where(E.client_order_id == client_order_id)
        return [_event(r) for r in q.order_by(E.timestamp, E.id)]

    def decision_dates(self, broker: str) -> dict[str, dt.date]:
        """``client_order_id`` -> the day the order was decided (orders that have one)."""
        M = self.m.PaperOrder
        rows = M.select(M.client_order_id, M.decision_date).where(
            (M.broker == broker) & M.decision_date.is_null(False)
        )
        return {r.client_order_id: _date(r.decision_date) for r in rows}

    # ------------------------------------------------------------------ equity marks
    def latest_mark_date(self, broker: str) -> dt.date | None:
        K = self.m.PaperMark
        row = K.select(K.date).where(K.broker == broker).order_by(K.date.desc()).first()
        return None if row is None else _date(row.date)

    def record_mark(
        self,
        broker: str,
        day: dt.date,
        cash: float,
        positions: dict[str, tuple[float, float | None]],
        *,
        positions_value: float | None = None,
    ) -> bool:
        """Store the account at ``day``'s close (replacing that day's earlier mark).

        ``positions`` maps symbol -> (quantity, mark price); ``positions_value`` defaults to
        the sum of quantity x price (give it when the broker reports only a total). Refused
        (returns False) when a later day is already marked: the book now holds what happened
        after ``day``, so re-running an old day must not rewrite its history.
        """
        K = self.m.PaperMark
        if positions_value is None:
            positions_value = sum(q * px for q, px in positions.values() if px is not None)
        value = positions_value
        values = dict(
            cash=float(cash),
            positions_value=float(value),
            equity=float(cash + value),
            positions=json.dumps({s: [q, px] for s, (q, px) in sorted(positions.items())}),
            recorded_at=to_db(_now()),
        )
        with self.store.transaction():
            later = K.select().where((K.broker == broker) & (K.date > day)).exists()
            if later:
                return False
            row = K.get_or_none((K.broker == broker) & (K.date == day))
            if row is None:
                K.create(broker=broker, date=day, **values)
            else:
                K.update(**values).where(K.id == row.id).execute()
        return True

    def marks(self, broker: str) -> list[Mark]:
        """Every stored mark of ``broker``, oldest first."""
        K = self.m.PaperMark
        out = []
        for r in K.select().where(K.broker == broker).order_by(K.date):
            pos = {
                s: (float(v[0]), None if v[1] is None else float(v[1]))
                for s, v in json.loads(r.positions).items()
            }
            out.append(Mark(_date(r.date), r.cash, r.positions_value, r.equity, pos))
        return out

    def _account(self, broker: str) -> Any:
        A = self.m.PaperAccount
        return A.get_or_none(A.broker == broker)

    def baseline(self, broker: str) -> Baseline | None:
        row = self._account(broker)
        if row is None or row.baseline_cash is None:
            return None
        return Baseline(
            cash=row.baseline_cash,
            positions=json.loads(row.baseline_positions),
            at=from_db(row.baseline_at),
        )

    def set_baseline(self, broker: str, baseline: Baseline) -> None:
        A = self.m.PaperAccount
        now = to_db(_now())
        values = dict(
            baseline_cash=baseline.cash,
            baseline_positions=json.dumps(baseline.positions),
            baseline_at=to_db(baseline.at or _now()),
            updated_at=now,
        )
        with self.store.transaction():
            row = A.get_or_none(A.broker == broker)
            if row is None:
                A.create(broker=broker, created_at=now, **values)
            elif row.baseline_cash is None:
                A.update(**values).where(A.id == row.id).execute()


@attrs.frozen
class BookPosition:
    symbol: str
    asset_class: AssetClass
    quantity: float
    avg_price: float
    opened_at: dt.datetime
    last_price: float | None
    realized_pnl: float
    bucket: str


class PaperLedger(StoreOrderLog):
    """The local paper broker's book: cash, positions and fills, next to its order log."""

    def open_account(self, broker: str, starting_cash: float) -> float:
        """Create the account with ``starting_cash`` once; return the current cash."""
        A = self.m.PaperAccount
        now = to_db(_now())
        values = dict(starting_cash=starting_cash, cash=starting_cash, updated_at=now)
        with self.store.transaction():
            row = A.get_or_none(A.broker == broker)
            if row is None:
                # A new account's baseline is its starting cash and no positions.
                A.create(
                    broker=broker,
                    baseline_cash=starting_cash,
                    baseline_positions="{}",
                    baseline_at=now,
                    created_at=now,
                    **values,
                )
                return starting_cash
            if row.cash is None:
                A.update(**values).where(A.id == row.id).execute()
                return starting_cash
            return row.cash

    def cash(self, broker: str) -> float:
        row = self._account(broker)
        if row is None or row.cash is None:
            raise KeyError(broker)
        return row.cash

    def starting_cash(self, broker: str) -> float | None:
        row = self._account(broker)
        return None if row is None else row.starting_cash

    def book(self, broker: str) -> dict[str, BookPosition]:
        P = self.m.PaperPosition
        out = {}
        for r in P.select().where(P.broker == broker).order_by(P.symbol):
            out[r.symbol] = BookPosition(
                r.symbol,
                AssetClass(r.asset_class),
                r.quantity,
                r.avg_price,
                from_db(r.opened_at),
                r.last_price,
                r.realized_pnl,
                r.bucket,
            )
        return out

    def positions(self, broker: str) -> list[PositionRecord]:
        fills = self.fills(broker)
        out = []
        for b in self.book(broker).values():
            if b.quantity <= 0:
                continue
            out.append(
                PositionRecord(
                    id=f"{broker}:{b.symbol}",
                    source=PositionSource.PAPER,
                    symbol=b.symbol,
                    asset_class=b.asset_class,
                    side=Side.BUY,
                    quantity=b.quantity,
                    opened_at=b.opened_at,
                    entry_price=b.avg_price,
                    fills=tuple(
                        f for f in fills if f.symbol == b.symbol and f.timestamp >= b.opened_at
                    ),
                    realized_pnl=b.realized_pnl,
                    bucket=b.bucket,
                )
            )
        return out

    def apply_fill(
        self,
        broker: str,
        order: Order,
        fill: Fill,
        *,
        asset_class: AssetClass,
        reference_price: float | None,
        close: float | None,
    ) -> None:
        """Book one fill atomically: cash, position, fill row, order status and event."""
        from tsys.orderlog import event_for

        A, P, F = self.m.PaperAccount, self.m.PaperPosition, self.m.PaperFill
        with self.store.transaction():
            acct = A.get(A.broker == broker)
            notional = fill.quantity * fill.price
            sign = 1.0 if fill.side is Side.BUY else -1.0
            cash = acct.cash - sign * notional - fill.fee
            A.update(cash=cash, updated_at=to_db(_now())).where(A.id == acct.id).execute()
            pos = P.get_or_none((P.broker == broker) & (P.symbol == fill.symbol))
            if fill.side is Side.BUY:
                if pos is None or pos.quantity <= 0:
                    if pos is not None:
                        pos.delete_instance()
                    P.create(
                        broker=broker,
                        symbol=fill.symbol,
                        asset_class=asset_class.value,
                        quantity=fill.quantity,
                        avg_price=fill.price,
                        opened_at=to_db(fill.timestamp),
                        last_price=close,
                        realized_pnl=-fill.fee,
                        bucket=order.bucket,
                    )
                else:
                    q = pos.quantity + fill.quantity
                    avg = (pos.avg_price * pos.quantity + notional) / q
                    P.update(
                        quantity=q,
                        avg_price=avg,
                        last_price=close,
                        realized_pnl=pos.realized_pnl - fill.fee,
                    ).where(P.id == pos.id).execute()
            else:
                if pos is None or pos.quantity < fill.quantity - 1e-9:
                    raise ValueError(f"sell of {fill.quantity} {fill.symbol} exceeds the position")
                q = pos.quantity - fill.quantity
                pnl = pos.realized_pnl + fill.quantity * (fill.price - pos.avg_price) - fill.fee
                if q <= 1e-12:
                    pos.delete_instance()
                else:
                    P.update(quantity=q, realized_pnl=pnl, last_price=close).where(
                        P.id == pos.id
                    ).execute()
            F.create(broker=broker, reference_price=reference_price, **_columns(fill, _FILL))
            self.save_order(broker, order)
            self.record_event(broker, event_for(order, fill.timestamp))

    def mark(self, broker: str, prices: dict[str, float]) -> None:
        P = self.m.PaperPosition
        with self.store.transaction():
            for sym, px in prices.items():
                P.update(last_price=px).where((P.broker == broker) & (P.symbol == sym)).execute()

    def fills(self, broker: str) -> list[Fill]:
        return [Fill(**_fields(r, _FILL)) for r in self._fill_rows(broker)]

    def fill_rows(self, broker: str) -> list[dict[str, Any]]:
        return [_fields(r, _FILL_ROW) for r in self._fill_rows(broker)]

    def _fill_rows(self, broker: str) -> Any:
        F = self.m.PaperFill
        return F.select().where(F.broker == broker).order_by(F.timestamp, F.id)
