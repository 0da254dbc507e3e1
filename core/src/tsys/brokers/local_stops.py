"""Protective stops of the local paper broker: standing stop orders enforced by the simulator.

After each run :func:`protect` keeps one working stop order (``entry`` STOP, good till
cancelled) per protected symbol at the level of the run's BUY or HOLD plan; a level that moved
(a trailing stop) replaces the order, which ``tsys paper orders`` lists with its history.

:func:`enforce` applies the simulator's own stop and target rule to the bars after the order's
decision close (:func:`tsys.sim.simulate`, the function backtests use): the held position is
entered from flat on a synthetic bar right after the decision bar (unlimited volume, a price
strictly between the stop and the target, funded with ample cash), with the order's stop and
target as its protective levels, followed by the real bars. A bar that opens through the stop
fills at the open, one that trades through it fills at the stop, both less slippage and fees,
with the real bar's volume cap; the setup fill itself is never booked.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from typing import Any

import attrs

from tsys.brokers.common import ProtectiveStop, StopAction
from tsys.contracts import EntryMethod, Fill, Order, OrderStatus, Side, TimeInForce
from tsys.orderlog import log_order


def is_stop_order(order: Order) -> bool:
    return order.entry is EntryMethod.STOP


def protect(
    broker: Any, stops: Sequence[ProtectiveStop], *, decision_date: dt.date
) -> list[StopAction]:
    """Keep one working stop order per symbol at the level of ``stops`` (idempotent).

    A symbol is protected when it is held or a BUY order for it works from ``decision_date``;
    an existing stop order at the same level stays, one at another level is replaced.
    """
    ledger, name = broker.ledger, broker.name
    book = {s: b for s, b in ledger.book(name).items() if b.quantity > 0}
    working = ledger.orders(name, final=False)
    buying = {
        o.symbol: o
        for o in working
        if o.side is Side.BUY
        and not is_stop_order(o)
        and ledger.decision_date(name, o.client_order_id) == decision_date
    }
    out = []
    for s in stops:
        held = book[s.symbol].quantity if s.symbol in book else 0.0
        qty = held or (buying[s.symbol].quantity if s.symbol in buying else 0.0)
        if qty <= 0:
            continue
        current = [o for o in working if is_stop_order(o) and o.symbol == s.symbol]
        known = ledger.get_order(name, s.order_id)
        keep = next(
            (o for o in current if o.stop_price == s.stop and o.take_profit == s.target),
            known if known is not None and not known.status.is_final else None,
        )
        if keep is not None:
            out.append(StopAction(s.symbol, "kept", keep.stop_price, keep.quantity))
            continue
        when = dt.datetime.combine(decision_date, dt.time(23, 59), dt.UTC)
        previous = current[-1].stop_price if current else None
        for o in current:
            cancel(broker, o, when, f"replaced by {s.order_id} (stop {s.stop:,.4f})")
        order = Order(
            client_order_id=s.order_id,
            symbol=s.symbol,
            asset_class=s.asset_class,
            side=Side.SELL,
            quantity=qty,
            entry=EntryMethod.STOP,
            time_in_force=TimeInForce.GTC,
            submitted_at=when,
            status=OrderStatus.ACCEPTED,
            stop_price=s.stop,
            take_profit=s.target,
            broker_order_id=s.order_id,
            bucket=s.bucket,
        )
        target = "" if s.target is None else f", target {s.target:,.4f}"
        why = (
            f"protective stop {s.stop:,.4f}{target} from {s.plan_id}, "
            f"in force from the first bar after {decision_date.isoformat()}"
        )
        log_order(ledger, name, order, when, why, decision_date=decision_date)
        action = "replaced" if current else "placed"
        out.append(StopAction(s.symbol, action, s.stop, qty, previous))
    return out


def cancel(broker: Any, order: Order, when: dt.datetime, why: str) -> None:
    o = attrs.evolve(order, status=OrderStatus.CANCELED)
    log_order(broker.ledger, broker.name, o, when, why)


def enforce(broker: Any, bars: Any, i: int, order: Order, until: int) -> list[Fill]:
    """Book the fills of stop ``order`` (decided at row ``i`` of ``bars``; -1: before them)
    on the rows after ``i`` and before ``until``, by the simulator's stop rule."""
    import numpy as np

    from tsys.sim import simulate
    from tsys.sim.result import REASONS

    ledger, name = broker.ledger, broker.name
    book = ledger.book(name)
    held = book[order.symbol].quantity if order.symbol in book else 0.0
    if held <= 0:
        when = dt.datetime.combine(
            bars.index[min(i + 1, len(bars.index) - 1)].date(), dt.time(), dt.UTC
        )
        cancel(broker, order, when, "nothing held any more: the position is closed")
        return []
    if until <= i + 1:
        return []
    sub = bars.select([order.symbol])
    window = getattr(broker.costs.slippage, "vol_window", 20)
    start = max(0, i - window)
    real = sub.ohlcv(slice(start, until))
    index = list(sub.index[start:until])
    d = i - start  # the decision row (-1: before the panel)
    if d < 0:  # decided before these bars: a copy of the first bar stands for the decision bar
        real = {f: np.vstack([a[:1], a]) for f, a in real.items()}
        index.insert(0, index[0])
        d = 0
    price = _setup_price(float(real["close"][d, 0]), order.stop_price, order.take_profit)
    synth = {f: np.full((1, 1), price) for f in ("open", "high", "low", "close")}
    synth["volume"] = np.full((1, 1), 1e18)
    panels = {f: np.vstack([real[f][: d + 1], synth[f], real[f][d + 1 :]]) for f in real}
    index.insert(d + 1, index[d])
    T = panels["close"].shape[0]
    tq, sp, tp = (np.full((T, 1), np.nan) for _ in range(3))
    tq[d, 0] = held
    sp[d, 0] = order.stop_price if order.stop_price is not None else np.nan
    tp[d, 0] = order.take_profit if order.take_profit is not None else np.nan
    lot = bars.asset_class_of(order.symbol).lot_size
    res = simulate(
        **panels,
        target_qty=tq,
        stop_price=sp,
        target_price=tp,
        costs=broker.costs,
        lot_size=[lot],
        cash=held * price * 2.0 + 1e6,
    )
    f = res.fill_arrays
    booked: list[Fill] = []
    done = order.filled_quantity
    for k in range(len(f["bar"])):
        t = int(f["bar"][k])
        if t <= d + 1 or f["side"][k] > 0 or f["qty"][k] <= 0:
            continue
        q = float(f["qty"][k])
        paid = (order.filled_avg_price or 0.0) * done + q * float(f["price"][k])
        done += q
        when = dt.datetime.combine(index[t].date(), dt.time(), dt.UTC)
        fill = Fill(
            symbol=order.symbol,
            side=Side.SELL,
            quantity=q,
            price=float(f["price"][k]),
            timestamp=when,
            fee=float(f["fee"][k]),
            slippage=float(f["slippage"][k]),
            reason=str(REASONS[int(f["reason"][k])]),
            client_order_id=order.client_order_id,
            unfilled_quantity=float(f["unfilled_qty"][k]),
        )
        closed = q >= held - 1e-9
        held -= q
        status = OrderStatus.FILLED if closed else OrderStatus.PARTIALLY_FILLED
        order = attrs.evolve(
            order,
            status=status,
            quantity=max(order.quantity, done),
            filled_quantity=done,
            filled_avg_price=paid / done,
        )
        ledger.apply_fill(
            name,
            order,
            fill,
            asset_class=order.asset_class,
            reference_price=float(f["ref_price"][k]),
            close=float(panels["close"][t, 0]),
        )
        booked.append(fill)
        if closed:
            _close_exits(broker, order.symbol, when)
            break
    return booked


def _close_exits(broker: Any, symbol: str, when: dt.datetime) -> None:
    """The stop closed ``symbol``: the exit orders still working have nothing left to sell."""
    for o in broker.ledger.orders(broker.name, final=False):
        if o.symbol == symbol and o.side is Side.SELL:
            o2 = attrs.evolve(o, status=OrderStatus.EXPIRED)
            why = f"nothing to sell: {symbol} was closed by its protective stop"
            log_order(broker.ledger, broker.name, o2, when, why)


def _setup_price(close: float, stop: float | None, target: float | None) -> float:
    """A price strictly between the stop and the target (the decision close when it is)."""
    lo = stop if stop is not None else 0.0
    hi = target if target is not None else math.inf
    if math.isfinite(close) and lo < close < hi:
        return close
    if math.isfinite(hi):
        return (lo + hi) / 2.0
    return lo * 1.01 if lo > 0 else 1.0


def next_exec_row(orders_by_row: dict[str, list[int]], symbol: str, after: int, n: int) -> int:
    """The first row after ``after`` at which another order of ``symbol`` executes (its
    decision row + 1), else ``n``: a stop is checked only on the bars before it."""
    rows = [r + 1 for r in orders_by_row.get(symbol, []) if r > after]
    return min(rows, default=n)
