"""Fills of a paper account: the real ones from the store, and what the simulator models.

:func:`compare_fills` puts each real fill next to :func:`model_fill`: :func:`tsys.sim.simulate`
run on the same order (side, quantity, limit) from its decision bar, with ample cash, on the
bars of the fill day. Part of the paper report (:mod:`tsys.brokers.report`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from tsys.contracts import AssetClass, Order, OrderStatus, Side
from tsys.format import quantity as fmt_quantity  # never 1.2e-05

#: Calendar days of bars loaded before a decision: the simulator's volatility window needs them.
HISTORY_DAYS = 40
_TOL = 1e-9


def _close(a: float | None, b: float | None, rel: float = _TOL) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return abs(a - b) <= rel * max(1.0, abs(a), abs(b))


# ----------------------------------------------------------------------------- real fills
def real_fills(broker: Any) -> list[dict[str, Any]]:
    """The fills of ``broker`` from the store: its own fill rows, else its filled orders."""
    log = broker.log
    if hasattr(log, "fill_rows"):
        return [dict(r) for r in log.fill_rows(broker.name)]
    out = []
    for o in log.orders(broker.name):
        if o.filled_quantity <= 0 or o.filled_avg_price is None:
            continue
        evs = log.events(broker.name, client_order_id=o.client_order_id)
        done = [e for e in evs if e.status in (OrderStatus.FILLED, OrderStatus.PARTIALLY_FILLED)]
        out.append(
            {
                "client_order_id": o.client_order_id,
                "symbol": o.symbol,
                "side": o.side.value,
                "quantity": o.filled_quantity,
                "price": o.filled_avg_price,
                "reference_price": None,
                # Alpaca charges no commission on these orders; regulatory fees are not reported
                # per order, so they show up in reconciliation instead.
                "fee": 0.0,
                "slippage": None,
                "timestamp": (done[-1] if done else evs[-1]).timestamp if evs else o.submitted_at,
                "unfilled_quantity": max(o.quantity - o.filled_quantity, 0.0),
            }
        )
    return out


# ----------------------------------------------------------------------------- modelled fills
def model_fill(
    bars: Any,
    symbol: str,
    decision: dt.date,
    side: Side,
    quantity: float,
    *,
    limit: float | None,
    costs: Any,
) -> dict[str, Any] | None:
    """The simulator's fill of one order decided at the close of ``decision``.

    Ample cash, so only the bar (open, volume) and the cost model shape it. A sell is modelled
    from a position of exactly ``quantity`` bought on an earlier bar of unlimited volume (the
    sell's costs and capacity do not depend on what else is held). None when the bars hold no
    tradable bar after ``decision``.
    """
    import numpy as np

    from tsys.sim import simulate

    sub = bars.select([symbol])
    dates = np.asarray(sub.index.date)
    rows = np.flatnonzero(dates <= decision)
    if len(rows) == 0:
        return None
    di = int(rows[-1])
    panels = sub.ohlcv()  # volume in base units, as the sim counts
    index = list(sub.index)
    if side is Side.SELL and di < 1:
        for f, a in panels.items():
            panels[f] = np.vstack([a[:1], a])
        index.insert(0, index[0] - dt.timedelta(days=1))
        di += 1
    T = len(index)
    tq = np.full((T, 1), np.nan)
    lim = np.full((T, 1), np.nan)
    if side is Side.SELL:
        tq[0, 0] = quantity
        panels["volume"][1, 0] = 1e18
        tq[di, 0] = 0.0
    else:
        tq[di, 0] = quantity
        if limit is not None:
            lim[di, 0] = limit
    high = np.nanmax(panels["high"]) if np.isfinite(panels["high"]).any() else 1.0
    cash = quantity * high * 4.0 + 1e6
    res = simulate(
        **panels,
        target_qty=tq,
        limit_price=lim,
        costs=costs,
        lot_size=[sub.asset_class_of(symbol).lot_size],
        cash=cash,
    )
    f = res.fill_arrays
    want = 1 if side is Side.BUY else -1
    hits = [k for k in range(len(f["bar"])) if int(f["bar"][k]) > di and int(f["side"][k]) == want]
    if not hits:
        return None
    k = hits[0]
    t = int(f["bar"][k])
    return {
        "date": index[t].date(),
        "quantity": float(f["qty"][k]),
        "price": float(f["price"][k]) if f["qty"][k] > 0 else None,
        "reference_price": float(f["ref_price"][k]),
        "fee": float(f["fee"][k]),
        "unfilled_quantity": float(f["unfilled_qty"][k]),
        "open": float(panels["open"][t, 0]),
        "low": float(panels["low"][t, 0]),
        "high": float(panels["high"][t, 0]),
    }


def compare_fills(
    broker: Any, bars: Any, fills: list[dict[str, Any]], costs_for: Callable[[AssetClass], Any]
) -> list[dict[str, Any]]:
    """Each real fill with its modelled twin, and realised vs modelled slippage."""
    log = broker.log
    decisions = log.decision_dates(broker.name) if hasattr(log, "decision_dates") else {}
    out = []
    for r in fills:
        order: Order | None = log.get_order(broker.name, r["client_order_id"])
        side = Side(r["side"])
        sign = 1.0 if side is Side.BUY else -1.0
        when = r["timestamp"].date() if isinstance(r["timestamp"], dt.datetime) else r["timestamp"]
        row: dict[str, Any] = {**r, "date": when, "side": side.value}
        decision = decisions.get(r["client_order_id"])
        model = None
        note = ""
        if bars is None:
            note = "no bars: modelled fill not computed"
        elif order is None:
            note = "order not in the log: modelled fill not computed"
        elif r["symbol"] not in bars.symbols:
            note = f"no bars of {r['symbol']}: modelled fill not computed"
        else:
            if decision is None:
                # Without a stored decision day the order was decided at the close before the
                # day it filled.
                earlier = [d.date() for d in bars.index if d.date() < when]
                decision = earlier[-1] if earlier else None
            if decision is not None:
                model = model_fill(
                    bars,
                    r["symbol"],
                    decision,
                    side,
                    order.quantity,
                    limit=order.limit_price if side is Side.BUY else None,
                    costs=costs_for(order.asset_class),
                )
            if model is None:
                note = "the simulator finds no tradable bar after the decision"
        q = r["quantity"]
        ref = model["open"] if model is not None else r.get("reference_price")
        row["decision_date"] = decision
        row["open"] = None if model is None else model["open"]
        row["bar_low"] = None if model is None else model["low"]
        row["bar_high"] = None if model is None else model["high"]
        row["realised_slippage"] = None if ref is None else sign * (r["price"] - ref) * q
        row["realised_slippage_bps"] = None if not ref else sign * (r["price"] / ref - 1) * 1e4
        if model is None or model["price"] is None:
            row.update(
                modelled_date=None if model is None else model["date"],
                modelled_quantity=None if model is None else model["quantity"],
                modelled_price=None,
                modelled_fee=None,
                modelled_slippage=None,
                modelled_slippage_bps=None,
                match=False,
                note=note or "the simulator leaves this order unfilled",
            )
            out.append(row)
            continue
        mp = model["price"]
        row.update(
            modelled_date=model["date"],
            modelled_quantity=model["quantity"],
            modelled_price=mp,
            modelled_fee=model["fee"],
            modelled_slippage=sign * (mp - ref) * q,
            modelled_slippage_bps=sign * (mp / ref - 1) * 1e4,
        )
        diffs = []
        if model["date"] != when:
            diffs.append(f"modelled on {model['date']}, filled on {when}")
        if not _close(model["quantity"], q):
            diffs.append(
                f"quantity {fmt_quantity(q)} vs modelled {fmt_quantity(model['quantity'])}"
            )
        if not _close(mp, r["price"]):
            diffs.append(f"price {r['price']:.6g} vs modelled {mp:.6g}")
        if _close(model["quantity"], q) and not _close(model["fee"], r["fee"]):
            diffs.append(f"fee {r['fee']:.6g} vs modelled {model['fee']:.6g}")
        row["match"] = not diffs
        row["note"] = "; ".join(diffs)
        out.append(row)
    return out
