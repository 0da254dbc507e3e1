"""The built-in local paper broker: orders fill at the next open through the simulator.

Orders from a run are stored (``paper_orders``) with their decision date. :meth:`sync` takes
bars; for every working order whose decision date has a following bar, it runs
:func:`tsys.sim.simulate` -- the same function and cost models as backtests -- and books the
fill it reports: price, fee, slippage, and any quantity left unfilled (capacity, cash, a limit
not reached), which expires like an unfilled opening-auction order. Cash, positions, fills and
order events persist in the store, so paper and backtest agree fill for fill.

The simulator starts flat, so positions already held are rebuilt on the panel first: a setup
purchase on the first row of the panel, on a bar whose volume is made unlimited (no capacity cap
or impact), funded by extra cash exactly equal to its cost (measured in a first pass). Only the
fills after the decision bar are booked.

Every sync whose bars cover the whole book also stores a daily mark (cash, positions value,
equity) for the bars' last day; :meth:`LocalPaperBroker.mark_to` fetches those bars from the data
context so a daily run marks the account even when no order is working. ``tsys paper report``
draws the equity curve from these marks.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from typing import Any, Self

import attrs

from tsys.brokers import AccountState, Broker, BrokerContext
from tsys.brokers.common import protective_stops, tradable, utcnow
from tsys.contracts import (
    Action,
    EntryMethod,
    Fill,
    Order,
    OrderEvent,
    OrderStatus,
    PositionRecord,
    Side,
    TimeInForce,
    TradePlan,
)
from tsys.errors import ConfigError
from tsys.format import quantity as fmt_quantity  # never 1.2e-05
from tsys.options import above, at_least, structure_options
from tsys.orderlog import log_order, plan_order


@attrs.frozen
class LocalBrokerOptions:
    """``[broker.options]`` of the local paper broker: starting cash and the cost model."""

    #: Starting cash of a new account; None: ``[account] size``.
    cash: float | None = attrs.field(default=None, validator=above(0))
    fee_bps: float = attrs.field(default=0.0, validator=at_least(0))
    fee_per_share: float = attrs.field(default=0.0, validator=at_least(0))
    fee_minimum: float = attrs.field(default=0.0, validator=at_least(0))
    slippage_bps: float = attrs.field(default=5.0, validator=at_least(0))
    #: Largest share of a bar's volume one symbol may fill.
    max_participation: float = attrs.field(default=0.025, validator=above(0))
    #: Annual interest on idle cash; None: ``[account] cash_rate`` (as backtests).
    cash_rate: float | None = attrs.field(default=None, validator=at_least(-0.1))

    def cost_model(self) -> Any:
        """The :class:`tsys.sim.models.CostModel` these options describe."""
        from tsys.sim.models import Capacity, CostModel, FeeModel, FixedSlippage

        return CostModel(
            fees=FeeModel(bps=self.fee_bps, per_share=self.fee_per_share, minimum=self.fee_minimum),
            slippage=FixedSlippage(bps=self.slippage_bps),
            capacity=Capacity(max_participation=self.max_participation),
        )


class LocalPaperBroker(Broker):
    """An offline paper account in the tsys store, filled by the backtest simulator.

    Parameters
    ----------
    ledger
        The store's :class:`tsys.store.paper.PaperLedger`.
    cash
        Starting cash of a new account (an existing account keeps its cash).
    costs
        Cost model of every symbol (default: ``tsys.sim.models.CostModel()``, as backtests).
    cash_rate
        Annual interest idle cash earns, credited at each day's mark on the previous mark's
        cash by calendar days (:mod:`tsys.store.paper_interest`), as the simulator does.
    """

    name = "local"
    options_class = LocalBrokerOptions

    def __init__(
        self,
        *,
        ledger: Any,
        cash: float = 100_000.0,
        costs: Any = None,
        data: Any = None,
        cash_rate: float = 0.0,
    ) -> None:
        from tsys.sim.models import CostModel

        if not (isinstance(cash, int | float) and math.isfinite(cash) and cash > 0):
            raise ConfigError(f"the local paper broker needs cash > 0, got {cash!r}")
        self.ledger = ledger
        self.log = ledger
        self.costs = costs if costs is not None else CostModel()
        #: Where :meth:`mark_to` gets bars (the run's data hub); None: marks only from sync.
        self.data = data
        if not (isinstance(cash_rate, int | float) and math.isfinite(cash_rate)):
            raise ConfigError(f"the local paper broker needs a finite cash_rate, got {cash_rate!r}")
        self.cash_rate = float(cash_rate)
        ledger.open_account(self.name, float(cash))

    @classmethod
    def from_config(cls, options: dict[str, Any], ctx: BrokerContext) -> Self:
        """Build from ``[broker.options]`` (:class:`LocalBrokerOptions`)."""
        from tsys.store.paper import PaperLedger

        opts = structure_options(LocalBrokerOptions, options, where="$.broker.options")
        store = ctx.store
        if store is None:
            from tsys.store import open_store
            from tsys.workspace import workspace

            store = open_store(None if ctx.config is None else workspace(ctx.config).store_url)
        default_cash = ctx.config.account.size if ctx.config is not None else 100_000.0
        rate = opts.cash_rate
        if rate is None:
            rate = ctx.config.account.cash_rate if ctx.config is not None else 0.0
        return cls(
            ledger=PaperLedger(store),
            cash=default_cash if opts.cash is None else opts.cash,
            costs=opts.cost_model(),
            data=ctx.data,
            cash_rate=rate,
        )

    # ------------------------------------------------------------------ Broker interface
    def account(self) -> AccountState:
        cash = self.ledger.cash(self.name)
        value = sum(
            p.quantity * (p.last_price if p.last_price is not None else p.avg_price)
            for p in self.ledger.book(self.name).values()
        )
        return AccountState(cash=cash, equity=cash + value, buying_power=cash, as_of=utcnow())

    def positions(self) -> list[PositionRecord]:
        return self.ledger.positions(self.name)

    def submit(
        self, plans: Sequence[TradePlan], *, decision_date: dt.date | None = None
    ) -> list[Order]:
        """Store BUY/SELL plans as working orders (idempotent by ``client_order_id``)."""
        out = []
        book = self.ledger.book(self.name)
        for plan in tradable(plans):
            known = self.ledger.get_order(self.name, plan.client_order_id)
            if known is not None:
                out.append(known)
                continue
            out.append(self._accept(plan, decision_date, book))
        return out

    def _accept(self, plan: TradePlan, decision_date: dt.date | None, book: dict) -> Order:
        sig = plan.allocation.signal
        when = decision_date or sig.timestamp.astimezone(dt.UTC).date()
        lot = sig.asset_class.lot_size
        qty = math.floor(plan.allocation.quantity / lot + 1e-9) * lot
        side = Side.BUY if plan.action is Action.BUY else Side.SELL
        # The paper clock is the decision time (the close the plan was made at), so the
        # lifecycle of a demo run on a past date reads in order: accepted, then filled.
        now = sig.timestamp.astimezone(dt.UTC)
        reason = ""
        if qty <= 0:
            reason = f"quantity {plan.allocation.quantity} rounds to 0 at lot size {lot:g}"
        elif side is Side.SELL:
            held = book.get(sig.symbol)
            if held is None or held.quantity < qty - 1e-9:
                have = 0.0 if held is None else held.quantity
                reason = f"sell of {fmt_quantity(qty)} {sig.symbol} but the paper account holds {fmt_quantity(have)}"
        if not reason:
            for o in self.ledger.orders(self.name, final=False):
                if (
                    o.symbol == sig.symbol
                    and self.ledger.decision_date(self.name, o.client_order_id) == when
                ):
                    reason = f"{o.client_order_id} already works {sig.symbol} for {when}"
        order = plan_order(
            plan,
            quantity=qty if qty > 0 else lot,
            time_in_force=TimeInForce.OPG if plan.entry is EntryMethod.MOO else TimeInForce.DAY,
            submitted_at=now,
            status=OrderStatus.REJECTED if reason else OrderStatus.ACCEPTED,
            limit_price=plan.limit_price if side is Side.BUY else None,
            stop_price=plan.stop.price if plan.stop is not None else None,
            take_profit=plan.take_profit,
            broker_order_id=plan.client_order_id,
        )
        msg = reason or f"queued for the first open after {when.isoformat()}"
        if side is Side.SELL and plan.entry is EntryMethod.LIMIT and not reason:
            msg += " (sell limits are not simulated: it fills at the open)"
        log_order(self.ledger, self.name, order, now, msg, decision_date=when)
        return order

    def protect(self, plans: Sequence[TradePlan], *, decision_date: dt.date) -> list[Any]:
        """Keep one working protective stop order per held (or being bought) symbol at the
        level of the day's BUY and HOLD plans (:func:`tsys.brokers.common.protective_stops`);
        returns a :class:`~tsys.brokers.common.StopAction` per symbol."""
        from tsys.brokers.local_stops import protect

        stops = protective_stops(plans, decided=decision_date)
        return protect(self, stops, decision_date=decision_date)

    def order(self, client_order_id: str) -> Order | None:
        return self.ledger.get_order(self.name, client_order_id)

    def open_orders(self) -> list[Order]:
        return self.ledger.orders(self.name, final=False)

    def cancel(self, client_order_id: str) -> None:
        import attrs

        from tsys.errors import BrokerError

        o = self.order(client_order_id)
        if o is None:
            raise BrokerError(f"the local paper broker has no order {client_order_id}")
        if o.status.is_final:
            return
        o = attrs.evolve(o, status=OrderStatus.CANCELED)
        log_order(self.ledger, self.name, o, utcnow(), "canceled")

    def events(self, since: dt.datetime | None = None) -> list[OrderEvent]:
        return self.ledger.events(self.name, since=since)

    # ------------------------------------------------------------------ fills
    def sync(self, bars: Any) -> list[Fill]:
        """Fill every working order whose next bar after its decision date is in ``bars``.

        Returns the fills booked. Orders whose symbol is not in ``bars``, or whose decision
        date is the last bar, keep working. Positions are marked at the last close, and when
        ``bars`` cover every held symbol the account is stored as that day's mark (unless a
        later day is already marked: re-running an old day does not rewrite the history).
        """
        import numpy as np

        from tsys.brokers import local_stops

        by_date: dict[dt.date, list[Order]] = {}
        stops: dict[dt.date, list[Order]] = {}
        for o in self.ledger.orders(self.name, final=False):
            d = self.ledger.decision_date(self.name, o.client_order_id)
            if d is not None and o.symbol in bars.symbols:
                group = stops if local_stops.is_stop_order(o) else by_date
                group.setdefault(d, []).append(o)
        booked: list[Fill] = []
        dates = np.asarray(bars.index.date)
        n = len(bars.index)

        def row_of(d: dt.date) -> int:
            rows = np.flatnonzero(dates <= d)
            return int(rows[-1]) if len(rows) else -1

        exec_rows: dict[str, list[int]] = {}
        for d, group in by_date.items():
            for o in group:
                exec_rows.setdefault(o.symbol, []).append(row_of(d))
        # In time order: a day's entry and exit orders fill at the next open, then the stops
        # decided that day guard the bars after it, up to the next order of their symbol.
        for d in sorted(set(by_date) | set(stops)):
            i = row_of(d)
            if i + 1 >= n:
                continue
            if d in by_date and i >= 0:
                booked += self._fill_group(bars, i, by_date[d])
            for o in stops.get(d, []):
                until = local_stops.next_exec_row(exec_rows, o.symbol, i, n)
                booked += local_stops.enforce(self, bars, i, o, until)
        if n == 0:
            return booked
        day = bars.index[-1].date()
        latest = self.ledger.latest_mark_date(self.name)
        if latest is not None and latest > day:
            return booked  # an old day re-run: keep the newer marks
        marks = {}
        for j, s in enumerate(bars.symbols):
            col = bars.close[:, j]
            ok = np.flatnonzero(np.isfinite(col))
            if len(ok):
                marks[s] = float(col[ok[-1]])
        self.ledger.mark(self.name, marks)
        book = {s: b for s, b in self.ledger.book(self.name).items() if b.quantity > 0}
        if all(s in marks for s in book):
            self._record(day, {s: (b.quantity, marks[s]) for s, b in book.items()})
        return booked

    def _record(self, day: dt.date, positions: dict[str, tuple[float, float]]) -> bool:
        """Credit idle cash's interest since the previous mark, then store ``day``'s mark."""
        from tsys.store.paper_interest import accrue_interest

        interest = accrue_interest(self.ledger, self.name, day, self.cash_rate)
        cash = self.ledger.cash(self.name)
        return self.ledger.record_mark(
            self.name, day, cash, positions, interest=interest if interest else None
        )

    def mark_to(self, day: dt.date) -> bool:
        """Fill what the opens up to ``day`` allow and store ``day``'s mark; True when stored.

        Bars of every held symbol and every working order come from :attr:`data` (the run's
        data hub). Without a data context only a flat book (all cash) can be marked.
        """
        latest = self.ledger.latest_mark_date(self.name)
        if latest is not None and latest > day:
            return False
        held = {s for s, b in self.ledger.book(self.name).items() if b.quantity > 0}
        symbols = sorted(held | {o.symbol for o in self.open_orders()})
        if self.data is None or not symbols:
            if held:
                return False
            return self._record(day, {})
        # 40 calendar days: enough sessions before ``day`` for the simulator's volatility window.
        self.sync(self.data.bars(symbols, day - dt.timedelta(days=40), day))
        return self.ledger.latest_mark_date(self.name) == day

    def _fill_group(self, bars: Any, i: int, orders: list[Order]) -> list[Fill]:
        import numpy as np

        from tsys.sim import simulate

        syms = list(dict.fromkeys(o.symbol for o in orders))
        book = self.ledger.book(self.name)
        held = {s: (book[s].quantity if s in book else 0.0) for s in syms}
        window = getattr(self.costs.slippage, "vol_window", 20)
        start = max(0, i - window)
        sub = bars.select(syms)
        panels = sub.ohlcv(slice(start, None))  # volume in base units, as the sim counts
        index = list(sub.index[start:])
        di = i - start  # decision row in the panel
        needs_setup = any(q > 0 for q in held.values())
        if needs_setup and di < 1:
            # No bar before the decision: repeat the decision bar one day earlier so the held
            # position can be rebuilt (its close-to-close return is 0).
            for f, a in panels.items():
                panels[f] = np.vstack([a[:1], a])
            index.insert(0, index[0] - dt.timedelta(days=1))
            di += 1
        T, N = panels["close"].shape
        lots = [bars.asset_class_of(s).lot_size for s in syms]
        tq = np.full((T, N), np.nan)
        lim = np.full((T, N), np.nan)
        cash = self.ledger.cash(self.name)
        extra = 0.0
        if needs_setup:
            for j, s in enumerate(syms):
                if held[s] > 0:
                    tq[0, j] = held[s]
                    panels["volume"][1, j] = 1e18
            big = (
                cash
                + sum(held[s] * np.nanmax(panels["high"][:, j]) * 2.0 for j, s in enumerate(syms))
                + 1e6
            )
            first = simulate(**panels, target_qty=tq, costs=self.costs, lot_size=lots, cash=big)
            extra = big - float(first.cash[1])
            sim_held = first.positions[1]
        else:
            sim_held = np.zeros(N)
        for o in orders:
            j = syms.index(o.symbol)
            sign = 1.0 if o.side is Side.BUY else -1.0
            target = sim_held[j] + sign * (o.quantity - o.filled_quantity)
            if o.side is Side.SELL and target < lots[j] * 0.5:
                target = 0.0
            tq[di, j] = max(target, 0.0)
            if o.side is Side.BUY and o.limit_price is not None:
                lim[di, j] = o.limit_price
        res = simulate(
            **panels,
            target_qty=tq,
            limit_price=lim,
            costs=self.costs,
            lot_size=lots,
            cash=cash + extra,
            index=None,
        )
        fills = res.fill_arrays
        booked = []
        for o in orders:
            fill = self._book(o, fills, syms.index(o.symbol), di, index, panels["close"])
            if fill is not None:
                booked.append(fill)
        return booked

    def _book(
        self, o: Order, fills: dict[str, Any], j: int, di: int, index: list[Any], close: Any
    ) -> Fill | None:
        """Book the simulator's first fill of order ``o`` (symbol column ``j``) after the
        decision row ``di``: a fill, a partial fill that expires, or an order that expires
        unfilled. None when no tradable bar came yet (the order keeps working) or nothing filled.
        """
        hits = [
            k
            for k in range(len(fills["bar"]))
            if int(fills["sym"][k]) == j and int(fills["bar"][k]) > di
        ]
        if not hits:
            return None  # no tradable bar yet: the order keeps working
        k = hits[0]
        t = int(fills["bar"][k])
        when = dt.datetime.combine(index[t].date(), dt.time(), dt.UTC)
        q = float(fills["qty"][k])
        unfilled = float(fills["unfilled_qty"][k])
        if q <= 0:
            o2 = attrs.evolve(o, status=OrderStatus.EXPIRED)
            why = "not filled at the open (limit not reached, no cash or no volume)"
            log_order(self.ledger, self.name, o2, when, why)
            return None
        px = float(fills["price"][k])
        fill = Fill(
            symbol=o.symbol,
            side=o.side,
            quantity=q,
            price=px,
            timestamp=when,
            fee=float(fills["fee"][k]),
            slippage=float(fills["slippage"][k]),
            reason="entry" if o.side is Side.BUY else "exit",
            client_order_id=o.client_order_id,
            unfilled_quantity=unfilled,
        )
        status = OrderStatus.FILLED if unfilled <= 0 else OrderStatus.PARTIALLY_FILLED
        o2 = attrs.evolve(o, status=status, filled_quantity=q, filled_avg_price=px)
        self.ledger.apply_fill(
            self.name,
            o2,
            fill,
            asset_class=o.asset_class,
            reference_price=float(fills["ref_price"][k]),
            close=float(close[t, j]),
        )
        if unfilled > 0:
            o3 = attrs.evolve(o2, status=OrderStatus.EXPIRED)
            why = f"{fmt_quantity(unfilled)} left unfilled (capacity or cash); expired"
            log_order(self.ledger, self.name, o3, when, why)
        return fill


def place_run_orders(run: Any, broker: Broker, *, bars: Any = None) -> list[Order]:
    """Place a daily run's BUY/SELL plans with ``broker``; return one order per plan.

    For the local paper broker, ``bars`` (the run's panel) first fills the orders of earlier
    runs whose next open is now known (without ``bars``, :meth:`LocalPaperBroker.mark_to`
    fetches them from the broker's data context), and the account is marked at ``run.as_of``;
    then today's plans are queued with ``run.as_of`` as their decision date. A broker with a
    store log (Alpaca) gets its account recorded as the day's mark. Idempotent: re-running a
    day returns the same orders.
    """
    if bars is not None and hasattr(broker, "sync"):
        broker.sync(bars)
    elif hasattr(broker, "mark_to"):
        _mark_safely(broker.mark_to, run.as_of, broker.name)
    plans = tradable(run.plans)
    try:
        orders = broker.submit(plans, decision_date=run.as_of)
    except TypeError:
        # A third-party broker whose submit() takes only the plans.
        orders = broker.submit(plans)
    if not hasattr(broker, "mark_to"):
        _mark_safely(lambda day: record_account_mark(broker, day), run.as_of, broker.name)
    return orders


def _mark_safely(fn: Any, day: dt.date, name: str) -> None:
    # The equity history is a report's input: failing to read it must never cost the day its
    # orders, so the failure is logged and the orders go ahead.
    import logging

    from tsys.errors import TsysError

    try:
        fn(day)
    except TsysError as exc:
        logging.getLogger("tsys.brokers").warning(
            "paper account %s not marked for %s: %s", name, day.isoformat(), exc.message
        )


def record_account_mark(broker: Broker, day: dt.date) -> bool:
    """Store ``broker``'s account (as it reports it now) as ``day``'s mark, if it has a store log.

    A remote broker read after the close reports the account at the close. Positions keep
    their quantities; their value is the reported equity minus cash.
    """
    log = getattr(broker, "log", None)
    if log is None or not hasattr(log, "record_mark"):
        return False
    acct = broker.account()
    positions = {p.symbol: (p.quantity, None) for p in broker.positions()}
    return log.record_mark(
        broker.name, day, acct.cash, positions, positions_value=acct.equity - acct.cash
    )
