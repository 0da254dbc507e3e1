"""Helpers shared by every broker: retries with back-off, plan filtering, reconciliation.

The order log the brokers write to (:class:`~tsys.orderlog.OrderLog`) lives in
:mod:`tsys.orderlog`, below the store that keeps it.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterable
from typing import TypeVar

import attrs

from tsys.contracts import Action, AssetClass, TradePlan
from tsys.errors import BrokerError, TemporaryBrokerError
from tsys.format import quantity as fmt_quantity  # never 1.2e-05
from tsys.orderlog import Baseline, OrderLog
from tsys.retrying import call_with_retries

T = TypeVar("T")

#: Plan actions that become orders; HOLD and WATCH never reach a broker.
TRADABLE_ACTIONS = frozenset({Action.BUY, Action.SELL})


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def tradable(plans: Iterable[TradePlan]) -> list[TradePlan]:
    """The plans that become orders (BUY and SELL), in their original order."""
    return [p for p in plans if p.action in TRADABLE_ACTIONS]


@attrs.frozen
class ProtectiveStop:
    """The protective stop a position must have at the broker after a run's close.

    One per BUY or HOLD plan with a stop level: the level (a trailing stop's level of that
    close), the target and time stop of the plan, in force from the bar after ``decided``.
    """

    symbol: str
    asset_class: AssetClass
    bucket: str
    #: The plan's quantity (a broker protects what it actually holds of the symbol).
    quantity: float
    stop: float
    target: float | None
    time_stop_bars: int | None
    #: ``client_order_id`` of the plan the level comes from (a BUY or a HOLD).
    plan_id: str
    #: The close at which the level was set.
    decided: dt.date

    @property
    def order_id(self) -> str:
        """The deterministic ``client_order_id`` of the stop order at this level and date."""
        from tsys.portfolio.plans import client_order_id

        return client_order_id(self.bucket, self.decided, self.symbol, "stop")


def protective_stops(plans: Iterable[TradePlan], *, decided: dt.date) -> list[ProtectiveStop]:
    """The protective stops after a run decided at the close of ``decided``: one for each
    BUY or HOLD plan with a stop price, in plan order."""
    out = []
    for plan in plans:
        if plan.action not in (Action.BUY, Action.HOLD) or plan.allocation.quantity <= 0:
            continue
        if plan.stop is None or plan.stop.price is None:
            continue
        sig = plan.allocation.signal
        out.append(
            ProtectiveStop(
                symbol=sig.symbol,
                asset_class=sig.asset_class,
                bucket=sig.bucket,
                quantity=plan.allocation.quantity,
                stop=plan.stop.price,
                target=plan.take_profit,
                time_stop_bars=plan.time_stop_bars,
                plan_id=plan.client_order_id,
                decided=decided,
            )
        )
    return out


@attrs.frozen
class StopAction:
    """What a broker's ``protect(plans, decision_date=)`` did for one symbol."""

    symbol: str
    action: str  # placed | replaced | canceled | kept
    level: float | None
    quantity: float
    previous: float | None = None

    def describe(self) -> str:
        if self.action == "canceled":
            return f"{self.symbol} stop canceled (no longer held)"
        moved = f" (was {self.previous:g})" if self.previous is not None else ""
        return f"{self.symbol} stop {self.action} at {self.level:g}{moved} for {self.quantity:g}"


def retry(
    fn: Callable[[], T],
    *,
    attempts: int,
    backoff: float,
    sleep: Callable[[float], None] = time.sleep,
    what: str = "broker call",
) -> T:
    """Call ``fn`` until it stops raising :class:`TemporaryBrokerError`, at most ``attempts`` times.

    The wait doubles from ``backoff`` seconds (:func:`tsys.retrying.call_with_retries`).
    Permanent errors pass through at once. The last temporary error is re-raised with the number
    of attempts in its message.
    """
    try:
        return call_with_retries(
            fn,
            attempts=attempts,
            retry_if=lambda exc: isinstance(exc, TemporaryBrokerError),
            backoff=backoff,
            sleep=sleep,
        )
    except TemporaryBrokerError as last:
        raise TemporaryBrokerError(
            f"{what} still failing after {attempts} attempts: {last.message}",
            hint=last.hint or "the broker may be down; re-running is safe (orders are idempotent)",
        ) from last


# ----------------------------------------------------------------------------- reconciliation
@attrs.frozen
class Difference:
    """One mismatch between the broker and tsys's record, with its likely cause."""

    symbol: str  # "cash" for the cash line
    expected: float
    actual: float
    cause: str

    @property
    def delta(self) -> float:
        return self.actual - self.expected


@attrs.frozen
class ReconcileReport:
    """Broker state against the record: every difference, and what was compared."""

    broker: str
    as_of: dt.datetime
    expected_cash: float | None
    actual_cash: float
    expected_positions: dict[str, float]
    actual_positions: dict[str, float]
    differences: list[Difference]
    notes: list[str] = attrs.field(factory=list)

    def to_dict(self) -> dict:
        return {
            "broker": self.broker,
            "as_of": self.as_of.isoformat(),
            "expected_cash": self.expected_cash,
            "actual_cash": self.actual_cash,
            "expected_positions": self.expected_positions,
            "actual_positions": self.actual_positions,
            "differences": [{**attrs.asdict(d), "delta": d.delta} for d in self.differences],
            "notes": self.notes,
            "ok": not self.differences,
        }


_SPLITS = (2.0, 3.0, 4.0, 5.0, 10.0, 1.5, 0.5, 1 / 3, 0.25, 0.2, 0.1)


def expected_book(
    log: OrderLog, broker: str, baseline: Baseline | None, *, fees: dict[str, float] | None = None
) -> tuple[float | None, dict[str, float]]:
    """Cash and positions the record expects: the baseline plus every fill of our orders."""
    positions = dict(baseline.positions) if baseline is not None else {}
    cash = baseline.cash if baseline is not None else None
    for o in log.orders(broker):
        if o.filled_quantity <= 0 or o.filled_avg_price is None:
            continue
        sign = 1.0 if o.side.value == "buy" else -1.0
        positions[o.symbol] = positions.get(o.symbol, 0.0) + sign * o.filled_quantity
        if cash is not None:
            cash -= sign * o.filled_quantity * o.filled_avg_price
            cash -= (fees or {}).get(o.client_order_id, 0.0)
    return cash, {s: q for s, q in positions.items() if abs(q) > 1e-9}


def reconcile(
    broker,
    log: OrderLog,
    *,
    fees: dict[str, float] | None = None,
    tolerance: float = 0.01,
    stops: dict[str, float] | None = None,
) -> ReconcileReport:
    """Compare the broker's positions and cash with the record (read-only at the broker).

    The record is the baseline (cash and positions before tsys's first order) plus every fill
    tsys logged for its own orders. Non-final orders are polled first so fills since the last
    look count. Each difference gets a likely cause: a working or partially filled order, a
    trade made by hand at the broker, a corporate action (split ratios), fees or transfers.
    With ``stops`` (symbol -> the plan's stop level), a broker that keeps protective stops
    also reports each held position whose stop is missing or stale there.
    """
    refresh = getattr(broker, "refresh", None)
    unrefreshed = []
    if refresh is not None:
        try:
            refresh()
        except BrokerError as exc:  # compare what can be compared; say what is not current
            unrefreshed.append(
                f"orders not refreshed, fills since the last look may be missing: {exc.message}"
            )
    name = broker.name
    if fees is None and hasattr(log, "fill_rows"):
        # The local ledger knows the fee of every fill it booked.
        fees = {}
        for row in log.fill_rows(name):
            cid = row["client_order_id"]
            fees[cid] = fees.get(cid, 0.0) + row["fee"]
    baseline = log.baseline(name)
    exp_cash, exp_pos = expected_book(log, name, baseline, fees=fees)
    if exp_cash is not None:  # the local account's idle cash earns [account] cash_rate
        from tsys.store.paper_interest import total_interest

        exp_cash += total_interest(log, name)
    actual = {}
    for p in broker.positions():
        sign = 1.0 if p.side.value == "buy" else -1.0
        actual[p.symbol] = actual.get(p.symbol, 0.0) + sign * p.quantity
    acct = broker.account()
    working = {}
    for o in log.orders(name, final=False):
        working.setdefault(o.symbol, []).append(o)
    diffs: list[Difference] = []
    for symbol in sorted(set(exp_pos) | set(actual)):
        e, a = exp_pos.get(symbol, 0.0), actual.get(symbol, 0.0)
        if abs(a - e) <= 1e-9 * max(1.0, abs(e)):
            continue
        diffs.append(Difference(symbol, e, a, _position_cause(symbol, e, a, working, baseline)))
    check_stops = getattr(broker, "stop_differences", None)
    if stops is not None and check_stops is not None:
        # a broker that holds protective stops (Alpaca): each held position's stop must be
        # working there at the level of the plan (``stops``: symbol -> level)
        diffs.extend(Difference(f"{s} stop", e, a, c) for s, e, a, c in check_stops(stops))
    notes = unrefreshed + [
        f"{f.describe()} is held at the broker but not traded by tsys: not reconciled"
        for f in _foreign(broker)
    ]
    if exp_cash is None:
        notes.append(
            "no baseline recorded (tsys has not placed an order here yet): cash not compared"
        )
    elif abs(acct.cash - exp_cash) > tolerance:
        outside = [d.symbol for d in diffs if "outside tsys" in d.cause]
        cause = (
            "cash moved outside tsys's orders: trades made by hand at the broker"
            + (f" ({', '.join(outside)})" if outside else "")
            + ", fees, dividends, interest or transfers"
        )
        diffs.append(Difference("cash", exp_cash, acct.cash, cause))
    return ReconcileReport(
        broker=name,
        as_of=utcnow(),
        expected_cash=exp_cash,
        actual_cash=acct.cash,
        expected_positions=exp_pos,
        actual_positions=actual,
        differences=diffs,
        notes=notes,
    )


def _foreign(broker) -> list:
    """The broker's positions in what tsys does not trade (options, ...); [] if it has none."""
    fn = getattr(broker, "foreign_positions", None)
    return list(fn()) if fn is not None else []


def _position_cause(symbol, e, a, working, baseline) -> str:
    open_orders = working.get(symbol, [])
    if open_orders:
        parts = ", ".join(
            f"{o.client_order_id} {o.status.value} ({fmt_quantity(o.filled_quantity)} of {fmt_quantity(o.quantity)})"
            for o in open_orders
        )
        return f"order still working: {parts}; the broker may have filled more than tsys saw"
    if e == 0:
        return "position opened outside tsys (a trade by hand at the broker, or a transfer)"
    if a == 0:
        return (
            "position closed outside tsys (a trade by hand at the broker), or removed by a "
            "corporate action (delisting, merger)"
        )
    ratio = a / e
    for r in _SPLITS:
        if abs(ratio - r) < 1e-6 * r:
            return f"quantity changed by a factor of {ratio:g}: likely a split or another corporate action"
    if baseline is None:
        return "no baseline: the account may have held this before tsys traded in it"
    return "partial fill tsys has not seen, or a trade by hand at the broker"
