"""The order log: where a broker keeps the orders it saw and every status change of them.

:class:`OrderLog` is the protocol; :class:`MemoryOrderLog` keeps the log in memory (tests, a
broker run without a store) and :class:`tsys.store.paper.StoreOrderLog` in the tsys store, so
``tsys paper orders`` can show it later. :class:`Baseline` is what the account held before tsys
traded in it, the start of reconciliation (:func:`tsys.brokers.common.reconcile`).
:func:`plan_order` is the order that carries a trade plan; :func:`log_order` stores an order
with the event of its status (:func:`event_for`), as every broker does on each change.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Protocol

import attrs

from tsys.contracts import Action, Order, OrderEvent, Side, TradePlan


def event_for(order: Order, timestamp: dt.datetime, message: str = "") -> OrderEvent:
    """The event that says ``order`` is now in its current status."""
    return OrderEvent(
        client_order_id=order.client_order_id,
        status=order.status,
        timestamp=timestamp,
        broker_order_id=order.broker_order_id,
        filled_quantity=order.filled_quantity,
        filled_avg_price=order.filled_avg_price,
        message=message,
    )


def plan_order(plan: TradePlan, **fields: Any) -> Order:
    """The order that carries ``plan``: its id, symbol, asset class, bucket, side and entry come
    from the plan; quantity, time in force, submission, status and prices from ``fields``."""
    sig = plan.allocation.signal
    return Order(
        client_order_id=plan.client_order_id,
        symbol=sig.symbol,
        asset_class=sig.asset_class,
        side=Side.BUY if plan.action is Action.BUY else Side.SELL,
        entry=plan.entry,
        bucket=sig.bucket,
        **fields,
    )


def same_state(a: OrderEvent, b: OrderEvent) -> bool:
    """True when two events describe the same state (so the second is not a change)."""
    return (
        a.status is b.status
        and abs(a.filled_quantity - b.filled_quantity) <= 1e-12
        and a.message == b.message
    )


class OrderLog(Protocol):
    """Where a broker keeps its orders and their lifecycle events."""

    def save_order(
        self, broker: str, order: Order, *, decision_date: dt.date | None = None
    ) -> None:
        """Insert or update ``order`` (keyed by broker and client_order_id)."""

    def get_order(self, broker: str, client_order_id: str) -> Order | None:
        """The stored order, or None."""

    def orders(self, broker: str, *, final: bool | None = None) -> list[Order]:
        """Stored orders, oldest first; ``final`` filters on terminal status."""

    def record_event(self, broker: str, event: OrderEvent) -> bool:
        """Store ``event`` unless it repeats the order's last state; True when stored."""

    def events(
        self, broker: str, *, since: dt.datetime | None = None, client_order_id: str | None = None
    ) -> list[OrderEvent]:
        """Stored events, oldest first."""

    def baseline(self, broker: str) -> Baseline | None:
        """Cash and positions at the broker before tsys placed its first order there."""

    def set_baseline(self, broker: str, baseline: Baseline) -> None:
        """Record the baseline (once; later calls keep the first)."""


def log_order(
    log: OrderLog,
    broker: str,
    order: Order,
    when: dt.datetime,
    message: str = "",
    *,
    decision_date: dt.date | None = None,
) -> None:
    """Store ``order`` in ``broker``'s log with the event of its current status at ``when``."""
    log.save_order(broker, order, decision_date=decision_date)
    log.record_event(broker, event_for(order, when, message))


@attrs.frozen
class Baseline:
    """What the broker account held before tsys traded in it: the start of reconciliation."""

    cash: float
    positions: dict[str, float] = attrs.field(factory=dict)
    at: dt.datetime | None = None


@attrs.define
class MemoryOrderLog:
    """An :class:`OrderLog` in memory: for tests and for brokers run without a store."""

    _orders: dict[tuple[str, str], Order] = attrs.field(factory=dict)
    _dates: dict[tuple[str, str], dt.date | None] = attrs.field(factory=dict)
    _events: list[tuple[str, OrderEvent]] = attrs.field(factory=list)
    _baselines: dict[str, Baseline] = attrs.field(factory=dict)

    def baseline(self, broker: str) -> Baseline | None:
        return self._baselines.get(broker)

    def set_baseline(self, broker: str, baseline: Baseline) -> None:
        self._baselines.setdefault(broker, baseline)

    def save_order(
        self, broker: str, order: Order, *, decision_date: dt.date | None = None
    ) -> None:
        key = (broker, order.client_order_id)
        self._orders[key] = order
        if decision_date is not None or key not in self._dates:
            self._dates[key] = decision_date

    def get_order(self, broker: str, client_order_id: str) -> Order | None:
        return self._orders.get((broker, client_order_id))

    def decision_date(self, broker: str, client_order_id: str) -> dt.date | None:
        return self._dates.get((broker, client_order_id))

    def orders(self, broker: str, *, final: bool | None = None) -> list[Order]:
        out = [o for (b, _), o in self._orders.items() if b == broker]
        if final is not None:
            out = [o for o in out if o.status.is_final is final]
        return sorted(out, key=lambda o: (o.submitted_at, o.client_order_id))

    def record_event(self, broker: str, event: OrderEvent) -> bool:
        last = [
            e for b, e in self._events if b == broker and e.client_order_id == event.client_order_id
        ]
        if last and same_state(last[-1], event):
            return False
        self._events.append((broker, event))
        return True

    def events(
        self, broker: str, *, since: dt.datetime | None = None, client_order_id: str | None = None
    ) -> list[OrderEvent]:
        out = [
            e
            for b, e in self._events
            if b == broker
            and (since is None or e.timestamp >= since)
            and (client_order_id is None or e.client_order_id == client_order_id)
        ]
        return sorted(out, key=lambda e: e.timestamp)
