"""Helpers shared by every broker: the order log, retries with back-off, plan filtering.

The order log keeps each order a broker saw and every status change of it (an
:class:`~tsys.contracts.OrderEvent`). :class:`MemoryOrderLog` keeps them in memory;
:class:`tsys.store.paper.StoreOrderLog` keeps them in the tsys store so ``tsys paper orders``
can show them later. Both answer the same :class:`OrderLog` protocol.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Protocol, TypeVar

import attrs

from tsys.contracts import Action, Order, OrderEvent, OrderStatus, TradePlan
from tsys.errors import TemporaryBrokerError

T = TypeVar("T")

#: Plan actions that become orders; HOLD and WATCH never reach a broker.
TRADABLE_ACTIONS = frozenset({Action.BUY, Action.SELL})


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def tradable(plans: Iterable[TradePlan]) -> list[TradePlan]:
    """The plans that become orders (BUY and SELL), in their original order."""
    return [p for p in plans if p.action in TRADABLE_ACTIONS]


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


@attrs.define
class MemoryOrderLog:
    """An :class:`OrderLog` in memory: for tests and for brokers run without a store."""

    _orders: dict[tuple[str, str], Order] = attrs.field(factory=dict)
    _dates: dict[tuple[str, str], dt.date | None] = attrs.field(factory=dict)
    _events: list[tuple[str, OrderEvent]] = attrs.field(factory=list)

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


def retry(
    fn: Callable[[], T],
    *,
    attempts: int,
    backoff: float,
    sleep: Callable[[float], None] = time.sleep,
    what: str = "broker call",
) -> T:
    """Call ``fn`` until it stops raising :class:`TemporaryBrokerError`, at most ``attempts`` times.

    The wait doubles from ``backoff`` seconds. Permanent errors pass through at once. The last
    temporary error is re-raised with the number of attempts in its message.
    """
    if attempts < 1:
        raise ValueError("attempts must be >= 1")
    last: TemporaryBrokerError | None = None
    for i in range(attempts):
        try:
            return fn()
        except TemporaryBrokerError as exc:
            last = exc
            if i + 1 < attempts:
                sleep(backoff * (2**i))
    assert last is not None
    raise TemporaryBrokerError(
        f"{what} still failing after {attempts} attempts: {last.message}",
        hint=last.hint or "the broker may be down; re-running is safe (orders are idempotent)",
    ) from last


def final_statuses() -> Sequence[OrderStatus]:
    return tuple(s for s in OrderStatus if s.is_final)
