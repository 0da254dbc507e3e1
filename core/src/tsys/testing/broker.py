"""The broker contract suite: what every :class:`~tsys.brokers.Broker` must do.

A plugin's tests call :func:`broker_contract_suite` with a factory of fresh brokers (pointed at
the author's loopback fake of their service, or at an in-memory market) and a ``fill`` callable
that makes the market open so accepted orders fill::

    def test_contract(fake):
        broker_contract_suite(lambda: MyBroker(base_url=fake.url), fill=fake.open_session)

Checks: the account's numbers; idempotent submission by ``client_order_id`` (a plan sent
twice is one order); the order lifecycle (accepted -> filled, accepted -> canceled, an unknown
id is None, events oldest first); reconciliation (after a fill the positions hold what was
filled, and the filled order says so).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Sequence
from typing import Any

from tsys.contracts import Allocation, OrderStatus, Signal, TradePlan
from tsys.testing.checks import CheckResult, run_checks

#: The result of one broker check.
BrokerCheck = CheckResult


def sample_signal(
    symbol: str = "AAA", *, at: dt.datetime, bucket: str = "contract", **fields: Any
) -> Signal:
    """A buy signal to enter at the next open, made at ``at`` (for broker and contract tests).

    The asset class is crypto for a ``-USD`` pair, else equity; ``fields`` set any other
    :class:`~tsys.contracts.Signal` field (``side="sell"``, ``asset_class=...``, ``score=...``).
    """
    values: dict[str, Any] = {
        "symbol": symbol,
        "asset_class": "crypto" if symbol.endswith("-USD") else "equity",
        "timestamp": at,
        "side": "buy",
        "intent": "enter_next_open",
        "score": 1.0,
        "bucket": bucket,
        "strategy_version": "1",
    }
    return Signal(**{**values, **fields})


def sample_plan(
    symbol: str = "AAA",
    quantity: float = 5.0,
    *,
    day: dt.date = dt.date(2024, 5, 1),
    action: str = "buy",
    client_order_id: str | None = None,
) -> TradePlan:
    """A market-on-open plan as the daily run makes it (for broker tests)."""
    ts = dt.datetime.combine(day, dt.time(21), dt.UTC)
    signal = sample_signal(symbol, at=ts)
    return TradePlan(
        allocation=Allocation(
            signal=signal, dollars=quantity * 100.0, weight=0.01, quantity=quantity
        ),
        action=action,
        entry="MOO",
        client_order_id=client_order_id or f"contract-{day.isoformat()}-{symbol}-{action}",
        valid_until=ts + dt.timedelta(days=1),
    )


def _account(make: Callable[[], Any], fill: Any, symbol: str) -> str:
    acct = make().account()
    for field in ("cash", "equity", "buying_power"):
        value = getattr(acct, field)
        assert isinstance(value, int | float) and math.isfinite(value), f"{field} = {value!r}"
    assert acct.equity >= 0, f"equity {acct.equity} is negative"
    return f"equity {acct.equity:g}, cash {acct.cash:g}"


def _idempotent(make: Callable[[], Any], fill: Any, symbol: str) -> str:
    broker = make()
    plan = sample_plan(symbol, client_order_id="contract-idem")
    (first,) = broker.submit([plan])
    (again,) = broker.submit([plan])
    assert first.client_order_id == again.client_order_id == plan.client_order_id
    assert first.broker_order_id == again.broker_order_id, (
        f"a plan sent twice became two orders ({first.broker_order_id}, {again.broker_order_id})"
    )
    mine = [o for o in broker.open_orders() if o.client_order_id == plan.client_order_id]
    assert len(mine) <= 1, f"{len(mine)} open orders for one client_order_id"
    return "one order per client_order_id"


def _lifecycle(make: Callable[[], Any], fill: Any, symbol: str) -> str:
    broker = make()
    plan = sample_plan(symbol, client_order_id="contract-cancel")
    (order,) = broker.submit([plan])
    assert order.status in (OrderStatus.SUBMITTED, OrderStatus.ACCEPTED), (
        f"a fresh order is {order.status}"
    )
    seen = broker.order(plan.client_order_id)
    assert seen is not None and seen.client_order_id == plan.client_order_id
    assert broker.order("contract-no-such-order") is None, "an unknown id must answer None"
    assert any(o.client_order_id == plan.client_order_id for o in broker.open_orders())
    broker.cancel(plan.client_order_id)
    after = broker.order(plan.client_order_id)
    assert after is not None and after.status is OrderStatus.CANCELED, (
        f"canceled order is {None if after is None else after.status}"
    )
    assert not any(o.client_order_id == plan.client_order_id for o in broker.open_orders())
    events = [e for e in broker.events() if e.client_order_id == plan.client_order_id]
    statuses = [e.status for e in events]
    assert statuses and statuses[-1] is OrderStatus.CANCELED, f"events: {statuses}"
    times = [e.timestamp for e in events]
    assert times == sorted(times), "events must come oldest first"
    return " -> ".join(s.value for s in statuses)


def _reconcile(make: Callable[[], Any], fill: Any, symbol: str) -> str:
    if fill is None:
        return "skipped: no fill callable given"
    broker = make()
    plan = sample_plan(symbol, 3.0, client_order_id="contract-fill")
    broker.submit([plan])
    fill(broker)
    order = broker.order(plan.client_order_id)
    assert order is not None and order.status is OrderStatus.FILLED, (
        f"after the session the order is {None if order is None else order.status}"
    )
    held = {p.symbol: p.quantity for p in broker.positions()}
    assert held.get(symbol) == order.filled_quantity == 3.0, f"positions {held}"
    assert not any(o.client_order_id == plan.client_order_id for o in broker.open_orders())
    events = [e.status for e in broker.events() if e.client_order_id == plan.client_order_id]
    assert OrderStatus.FILLED in events, f"events: {events}"
    return f"{symbol} {held[symbol]:g} held after the fill"


CHECKS: dict[str, Callable[..., str]] = {
    "account": _account,
    "idempotent_submit": _idempotent,
    "order_lifecycle": _lifecycle,
    "reconciliation": _reconcile,
}


def broker_contract_suite(
    make_broker: Callable[[], Any],
    *,
    fill: Callable[[Any], None] | None = None,
    symbol: str = "AAA",
    skip: Sequence[str] = (),
) -> list[BrokerCheck]:
    """Run every broker check on fresh brokers from ``make_broker``; raise AssertionError
    listing each failure. ``fill(broker)`` opens a session so that accepted orders fill
    (without it the reconciliation check is reported as skipped)."""
    return run_checks(CHECKS, (make_broker, fill, symbol), subject="broker", skip=skip)
