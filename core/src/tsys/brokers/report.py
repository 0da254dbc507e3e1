"""The paper-vs-backtest report: what the paper account did next to what the simulator models.

Three comparisons, all from the store's record of a broker and the bars of the data source:

- **Fills** (:mod:`tsys.brokers.fill_check`). Each real fill next to the modelled fill:
  :func:`tsys.sim.simulate` run on the same order (side, quantity, limit) from its decision bar,
  with ample cash, on the bars of the fill day. Realised slippage is ``side x (fill price - open) x quantity``; modelled slippage the same
  with the modelled price. For the local paper broker both come from the simulator, so they
  agree unless cash or a changed cost model made the broker's fill differ; for Alpaca the real
  fill is the broker's and the model uses the backtests' default costs.
- **Equity.** The daily marks (:meth:`tsys.store.paper.StoreOrderLog.marks`) as an equity curve,
  with :func:`tsys.metrics.compute` metrics and the round-trip trades of the real fills,
  in the same shape as ``tsys backtest --json``.
- **Drift.** A backtest of the same plans: every stored order's target quantity (the position
  the plans intended after it) replayed through one simulation from the same starting cash over
  the same bars, its equity compared with the paper marks day by day (max and final drift, in $
  and %).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Sequence
from typing import Any

from tsys.brokers.fill_check import HISTORY_DAYS, compare_fills, real_fills
from tsys.contracts import AssetClass, EntryMethod, Order, OrderStatus, Side
from tsys.serialization import json_ready


def default_costs_for(broker: Any) -> Callable[[AssetClass], Any]:
    """The cost model per asset class: the local broker's own, else the backtests' defaults."""
    own = getattr(broker, "costs", None)
    if own is not None:
        return lambda ac: own
    from tsys.sim import default_costs

    return default_costs


# ----------------------------------------------------------------------------- trades
def round_trips(
    fills: list[dict[str, Any]], orders: dict[str, Order], dates: list[dt.date], last: dict
) -> list[dict[str, Any]]:
    """Flat-to-flat trades of the real fills, in the backtest's trade format.

    An open trade is valued at ``last[symbol]`` (the latest mark) with exit reason ``open``.
    ``bars_held`` counts marked days; ``r_multiple`` uses the entry order's stop.
    """
    import bisect

    def pos(d: dt.date) -> int:
        return max(bisect.bisect_right(dates, d) - 1, 0)

    out = []
    by_symbol: dict[str, list[dict[str, Any]]] = {}
    for f in fills:
        by_symbol.setdefault(f["symbol"], []).append(f)
    for symbol, fs in sorted(by_symbol.items()):
        cur: dict[str, Any] | None = None
        held = 0.0
        for f in sorted(fs, key=lambda f: f["timestamp"]):
            d = f["date"]
            if f["side"] == "buy":
                if cur is None:
                    o = orders.get(f["client_order_id"])
                    cur = {
                        "entry": d,
                        "bq": 0.0,
                        "bn": 0.0,
                        "sq": 0.0,
                        "sn": 0.0,
                        "fees": 0.0,
                        "stop": None if o is None else o.stop_price,
                    }
                cur["bq"] += f["quantity"]
                cur["bn"] += f["quantity"] * f["price"]
                held += f["quantity"]
            else:
                if cur is None:
                    continue  # a sell of something held before tsys's record began
                cur["sq"] += f["quantity"]
                cur["sn"] += f["quantity"] * f["price"]
                held -= f["quantity"]
            cur["fees"] += f["fee"]
            if held <= 1e-9:
                out.append(_trade(symbol, cur, d, "exit", pos))
                cur, held = None, 0.0
        if cur is not None:
            px = last.get(symbol)
            if px is not None:
                cur["sn"] += held * px
                cur["sq"] += held
            out.append(_trade(symbol, cur, dates[-1] if dates else cur["entry"], "open", pos))
    return out


def _trade(symbol: str, c: dict[str, Any], exit_day: dt.date, reason: str, pos) -> dict:
    entry_price = c["bn"] / c["bq"]
    exit_price = c["sn"] / c["sq"] if c["sq"] > 0 else math.nan
    pnl = c["sn"] - c["bn"] - c["fees"]
    risk = (entry_price - c["stop"]) * c["bq"] if c["stop"] is not None else math.nan
    return {
        "symbol": symbol,
        "entry_date": c["entry"].isoformat(),
        "exit_date": exit_day.isoformat(),
        "entry_price": entry_price,
        "exit_price": exit_price,
        "qty": c["bq"],
        "pnl": pnl,
        "r_multiple": pnl / risk if risk > 0 else math.nan,
        "bars_held": pos(exit_day) - pos(c["entry"]),
        "exit_reason": reason,
    }


# ----------------------------------------------------------------------------- drift
def planned_targets(
    orders: list[Order], decisions: dict[str, dt.date]
) -> list[tuple[dt.date, str, float, float | None]]:
    """(decision day, symbol, target quantity, buy limit) per order, in decision order.

    The target is the position the plans intended after the order: the running sum of every
    earlier order's quantity (a sell never below zero). Rejected orders, and orders canceled
    before any fill, never traded and are left out.
    """
    keep = [
        o
        for o in orders
        if o.client_order_id in decisions
        and o.entry is not EntryMethod.STOP  # protective stops: levels, see planned_stops
        and o.status is not OrderStatus.REJECTED
        and not (o.status is OrderStatus.CANCELED and o.filled_quantity <= 0)
    ]
    keep.sort(key=lambda o: (decisions[o.client_order_id], o.submitted_at, o.client_order_id))
    planned: dict[str, float] = {}
    out = []
    for o in keep:
        have = planned.get(o.symbol, 0.0)
        if o.side is Side.BUY:
            tgt = have + o.quantity
        else:
            tgt = have - o.quantity
            if tgt < o.asset_class.lot_size * 0.5:
                tgt = 0.0
        planned[o.symbol] = tgt
        limit = o.limit_price if o.side is Side.BUY else None
        out.append((decisions[o.client_order_id], o.symbol, tgt, limit))
    return out


def planned_stops(orders: list[Order], decisions: dict[str, dt.date]) -> dict:
    """(decision day, symbol) -> the level of the protective stop order decided that day."""
    return {
        (decisions[o.client_order_id], o.symbol): o.stop_price
        for o in orders
        if o.entry is EntryMethod.STOP
        and o.client_order_id in decisions
        and o.stop_price is not None
    }


def replay(
    bars: Any,
    targets: list[tuple[dt.date, str, float, float | None]],
    *,
    cash: float,
    costs_for: Callable[[AssetClass], Any],
    stops: dict | None = None,
    cash_rate: float = 0.0,
) -> Any:
    """One simulation of the planned targets over ``bars`` from ``cash`` (a SimResult), each
    entry with the protective stop decided with it (``stops``, from :func:`planned_stops`),
    idle cash earning ``cash_rate`` as the paper account's does."""
    import numpy as np

    from tsys.sim import simulate

    syms = list(bars.symbols)
    dates = np.asarray(bars.index.date)
    T, N = len(dates), len(syms)
    tq = np.full((T, N), np.nan)
    lim = np.full((T, N), np.nan)
    sp = np.full((T, N), np.nan)
    for day, symbol, tgt, limit in targets:
        rows = np.flatnonzero(dates <= day)
        if len(rows) == 0:
            continue
        i, j = int(rows[-1]), syms.index(symbol)
        tq[i, j] = tgt
        lim[i, j] = np.nan if limit is None else limit
        level = (stops or {}).get((day, symbol))
        sp[i, j] = np.nan if level is None else level
    acs = [bars.asset_class_of(s) for s in syms]
    return simulate(
        bars.open,
        bars.high,
        bars.low,
        bars.close,
        bars.base_volume(),
        target_qty=tq,
        limit_price=lim,
        stop_price=sp,
        costs=[costs_for(a) for a in acs],
        lot_size=[a.lot_size for a in acs],
        cash=cash,
        index=bars.index,
        symbols=syms,
        cash_rate=cash_rate,
    )


# ----------------------------------------------------------------------------- the report
def paper_report(
    broker: Any,
    *,
    data: Any = None,
    costs_for: Callable[[AssetClass], Any] | None = None,
) -> dict[str, Any]:
    """The whole report as JSON-ready data (see the module docstring).

    Parameters
    ----------
    broker
        An open broker with a store log (``broker.log``: the local ledger or a StoreOrderLog).
    data
        Anything with ``bars(symbols, start, end)`` (a DataHub); None: the broker's own
        ``data`` context. Without bars the modelled fills and the drift are left out.
    costs_for
        Cost model per asset class (default: :func:`default_costs_for`).
    """
    log = broker.log
    name = broker.name
    costs_for = costs_for or default_costs_for(broker)
    data = data if data is not None else getattr(broker, "data", None)
    warnings: list[str] = []
    start_cash = _starting_cash(log, name, warnings)
    marks = log.marks(name) if hasattr(log, "marks") else []
    dates = [m.date for m in marks]
    acct = broker.account()
    orders = log.orders(name)
    by_id = {o.client_order_id: o for o in orders}
    decisions = log.decision_dates(name) if hasattr(log, "decision_dates") else {}
    fills = real_fills(broker)
    symbols = sorted({o.symbol for o in orders})
    bars = _bars_for(data, symbols, orders, decisions, dates, fills, warnings)

    compared = compare_fills(broker, bars, fills, costs_for)
    for r in compared:
        r["date"] = r["date"].isoformat()
        for k in ("decision_date", "modelled_date"):
            if isinstance(r.get(k), dt.date):
                r[k] = r[k].isoformat()
        r["timestamp"] = r["timestamp"].isoformat()

    last_prices = {s: px for s, (q, px) in (marks[-1].positions if marks else {}).items()}
    book = getattr(log, "book", None)
    if book is not None:
        for s, b in book(name).items():
            if b.last_price is not None:
                last_prices.setdefault(s, b.last_price)
    trade_fills = [
        {**f, "date": f["timestamp"].date()} for f in sorted(fills, key=lambda f: f["timestamp"])
    ]
    trades = round_trips(trade_fills, by_id, dates, last_prices)
    result_metrics = (
        _metrics(marks, trades, trade_fills, symbols, orders, warnings) if marks else {}
    )
    drift = None
    rate = float(getattr(broker, "cash_rate", 0.0))
    if bars is not None and marks and start_cash and set(symbols) <= set(bars.symbols):
        drift = _drift(bars, marks, start_cash, orders, decisions, costs_for, rate)
    interest = float(sum(m.interest for m in marks))
    return json_ready(
        {
            "broker": name,
            "paper": bool(getattr(broker, "paper", True)),
            "starting_cash": start_cash,
            "cash": acct.cash,
            "equity": acct.equity,
            "return": None if not start_cash else acct.equity / start_cash - 1.0,
            "cash_rate": rate,
            "interest": interest,
            "trading_pnl": None if not start_cash else acct.equity - start_cash - interest,
            "start": dates[0].isoformat() if dates else None,
            "end": dates[-1].isoformat() if dates else None,
            "dates": [d.isoformat() for d in dates],
            "equity_curve": [m.equity for m in marks],
            "cash_curve": [m.cash for m in marks],
            "positions_value": [m.positions_value for m in marks],
            "metrics": result_metrics,
            "trades": trades,
            "fills": compared,
            "all_fills_match": all(r["match"] for r in compared),
            "drift": drift,
            "positions": [
                {"symbol": p.symbol, "quantity": p.quantity, "entry_price": p.entry_price}
                for p in broker.positions()
            ],
            "synthetic": bool(getattr(data, "synthetic", False)),
            "warnings": warnings,
        }
    )


def _starting_cash(log: Any, name: str, warnings: list[str]) -> float | None:
    start_cash = log.starting_cash(name) if hasattr(log, "starting_cash") else None
    baseline = log.baseline(name)
    if start_cash is None and baseline is not None:
        start_cash = baseline.cash
        if baseline.positions:
            warnings.append(
                "the account held positions before tsys traded in it "
                f"({', '.join(sorted(baseline.positions))}); the replay starts from cash only"
            )
    return start_cash


def _bars_for(
    data: Any,
    symbols: list[str],
    orders: Sequence[Any],
    decisions: dict[str, dt.date],
    dates: list[dt.date],
    fills: list[dict[str, Any]],
    warnings: list[str],
) -> Any:
    """Bars of the traded symbols from the first decision to the last mark (None: none)."""
    if not symbols:
        return None
    if data is None:
        warnings.append("no data source: modelled fills and drift are not computed")
        return None
    first = min(list(decisions.values()) or [o.submitted_at.date() for o in orders])
    last_day = max([*dates, *(f["timestamp"].date() for f in fills), *decisions.values(), first])
    try:
        bars = data.bars(symbols, first - dt.timedelta(days=HISTORY_DAYS), last_day)
    except Exception as exc:  # a source failing must not cost the report its record part
        warnings.append(f"bars not loaded ({type(exc).__name__}: {exc}); no model, no drift")
        return None
    missing = sorted(set(symbols) - set(bars.symbols))
    if missing:
        warnings.append(
            f"the data source has no bars of {', '.join(missing)}: their fills are not "
            "modelled and the drift is not computed (is it the source the runs used?)"
        )
    return bars


def _metrics(
    marks: Sequence[Any],
    trades: list[dict[str, Any]],
    trade_fills: list[dict[str, Any]],
    symbols: list[str],
    orders: Sequence[Any],
    warnings: list[str],
) -> dict[str, Any]:
    """The equity curve's metrics, in the backtest's format (:func:`tsys.metrics.compute`);
    the annualised ones are left out (None) below the sessions they need."""
    import numpy as np
    import pandas as pd

    from tsys import metrics

    # 365 only when every order is crypto (trades every day); any equity makes it 252
    ppy = min(
        (o.asset_class.periods_per_year for o in orders),
        default=AssetClass.EQUITY.periods_per_year,
    )
    dates = np.array([m.date for m in marks])
    eq = np.array([m.equity for m in marks])
    pv = np.array([m.positions_value for m in marks])
    tdf = pd.DataFrame(trades, columns=["symbol", "pnl", "r_multiple", "exit_reason"])
    sym_ix = {s: j for j, s in enumerate(symbols)}
    fdf = pd.DataFrame(
        {
            "bar": [
                max(int(np.searchsorted(dates, f["date"], side="right")) - 1, 0)
                for f in trade_fills
            ],
            "symbol_index": [sym_ix.get(f["symbol"], 0) for f in trade_fills],
            "qty": [f["quantity"] for f in trade_fills],
            "price": [f["price"] for f in trade_fills],
        }
    )
    got = metrics.compute(eq, trades=tdf, fills=fdf, positions_value=pv, periods_per_year=ppy)
    out = {k: float(v) for k, v in got.items() if isinstance(v, int | float)}
    out["trades"] = out.get("trade_count", 0.0)
    held = [t["bars_held"] for t in trades if t["exit_reason"] != "open"]
    out["avg_bars_held"] = float(np.mean(held)) if held else math.nan
    if len(marks) < metrics.MIN_SESSIONS_TO_ANNUALISE:
        for key in metrics.ANNUALISED:
            out[key] = None  # shown as "too short to annualise"
        warnings.append(
            f"{len(marks)} session(s) of paper trading: {metrics.TOO_SHORT} (CAGR, "
            f"Sharpe, volatility need at least {metrics.MIN_SESSIONS_TO_ANNUALISE})"
        )
    return out


def _drift(
    bars: Any,
    marks: Sequence[Any],
    start_cash: float,
    orders: Sequence[Any],
    decisions: dict[str, dt.date],
    costs_for: Callable[[AssetClass], Any],
    cash_rate: float = 0.0,
) -> dict[str, Any]:
    """The paper equity against a replay of the same plans through the simulator."""
    import numpy as np

    dates = [m.date for m in marks]
    res = replay(
        bars,
        planned_targets(orders, decisions),
        cash=start_cash,
        costs_for=costs_for,
        stops=planned_stops(orders, decisions),
        cash_rate=cash_rate,
    )
    bdates = np.asarray(bars.index.date)
    rows = [int(np.flatnonzero(bdates <= d)[-1]) if (bdates <= d).any() else -1 for d in dates]
    rep_eq = [float(res.equity[i]) if i >= 0 else start_cash for i in rows]
    paper_eq = [m.equity for m in marks]
    diff = [p - r for p, r in zip(paper_eq, rep_eq, strict=True)]
    pct = [d / r if r else math.nan for d, r in zip(diff, rep_eq, strict=True)]
    k = int(np.argmax(np.abs(diff)))
    return {
        "dates": [d.isoformat() for d in dates],
        "paper_equity": paper_eq,
        "backtest_equity": rep_eq,
        "drift": diff,
        "drift_pct": pct,
        "max_abs_drift": abs(diff[k]),
        "max_abs_drift_pct": abs(pct[k]),
        "max_drift_date": dates[k].isoformat(),
        "final_drift": diff[-1],
        "final_drift_pct": pct[-1],
        "backtest_fills": int((res.fills["qty"] > 0).sum()),
        "backtest_cash": float(res.cash[rows[-1]]) if rows[-1] >= 0 else start_cash,
    }


# ----------------------------------------------------------------------------- HTML
def render_html(p: dict[str, Any]) -> str:
    """A self-contained HTML page of :func:`paper_report`'s payload (inline CSS and SVG)."""
    from tsys.metrics import TOO_SHORT, drawdown_curve
    from tsys.report.backtest import METRICS
    from tsys.report.html import render

    drift = p.get("drift")
    series = [("paper", p["equity_curve"], "#2563eb")]
    if drift is not None:
        series.append(("backtest of the same plans", drift["backtest_equity"], "#9ca3af"))
    drawdowns = [("paper", drawdown_curve(p["equity_curve"]), "#2563eb")]
    return render(
        "paper.html.j2",
        p=p,
        drift=drift,
        synthetic=bool(p.get("synthetic")),
        warnings=p.get("warnings", []),
        metrics=METRICS,
        equity_series=series,
        drawdown_series=drawdowns,
        too_short=TOO_SHORT,
    )
