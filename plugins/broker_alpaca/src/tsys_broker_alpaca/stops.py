"""Protective stops held at Alpaca, so a paper position is never unprotected between runs.

What Alpaca supports decides the design (``EXTERNAL_APIS.md`` 1.6, 1.10):

- **Equities**: OTO (entry + stop-loss leg) and bracket orders exist, but only with
  ``time_in_force`` ``day`` or ``gtc``, never ``opg``. A MOO or MKT buy with a stop is therefore
  sent as a market ``gtc`` OTO order whose stop-loss leg starts working the moment the entry
  fills (at the open), before any later run; the leg is ``gtc`` like its parent, so it does not
  expire at the close. (A market order sent after the close executes at the next open, as the
  MOO plan wants; ``opg`` would join the opening auction itself, the one difference.)
- **Crypto**: Alpaca takes no OTO or bracket for crypto and no plain stop type (market, limit
  and stop_limit only, ``gtc``/``ioc``). A crypto position gets a standing ``gtc`` stop_limit
  sell, its limit ``crypto_stop_band`` below the stop, at the first run after the fill. Between
  that fill and that run the position has no broker-side stop: Alpaca offers no way to attach one
  to a crypto entry. A gap below the limit leaves the stop unfilled (a stop_limit, not a stop).
- **LIMIT equity entries** stay simple ``day`` limit orders (a ``gtc`` OTO would keep an unfilled
  limit working past the plan's session) and get their standing stop at the next run.

Every paper run then manages the stops (:func:`protect`), from the day's plans: each held
position with a stop in a BUY or HOLD plan (the level the plan recorded: a trailing stop moves
with the bars), else the stop of the plan that opened it (kept with its entry order in the log),
must be covered by working stop sells tsys placed, for the held quantity, at that level. None: one is placed (``gtc`` stop; crypto: stop_limit). Level or quantity moved: it is
replaced (``PATCH``; for crypto cancel + place, since alpaca-py's replace takes whole quantities).
A stop of a symbol no longer held is canceled. A SELL plan cancels its symbol's stops first:
Alpaca reserves the shares of a working sell, so the exit would otherwise be refused.
:func:`stop_differences` is what ``tsys paper reconcile`` reports: a missing or stale stop.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from tsys.api import (
    Action,
    AssetClass,
    BrokerError,
    Order,
    OrderStatus,
    Side,
    StopAction,
    TradePlan,
)
from tsys_broker_alpaca import symbols as sym
from tsys_broker_alpaca import wire
from tsys_broker_alpaca.orders import round_price

if TYPE_CHECKING:
    from tsys_broker_alpaca.broker import AlpacaBroker

#: client_order_id prefix of the standing stops tsys places.
PREFIX = "tsys-stop-"
STOP_TYPES = ("stop", "stop_limit")
#: Stops of one symbol, level and quantity tsys places in one day at most (ids get a suffix).
MAX_SAME_DAY = 10
#: Statuses in which a stop order protects (a ``held`` leg waits for its entry to fill).
WORKING = ("new", "accepted", "pending_new", "partially_filled", "done_for_day", "pending_replace")


@attrs.frozen
class WorkingStop:
    """A stop sell working at Alpaca for a held symbol."""

    order_id: str
    client_order_id: str
    symbol: str
    asset_class: AssetClass
    stop_price: float
    quantity: float
    ours: bool  # placed by tsys (a standing stop or the leg of a tsys entry)


def stop_request(
    symbol: str, asset_class: AssetClass, qty: float, level: float, tag: str, *, band: float
) -> Any:
    """The alpaca-py request of a standing ``gtc`` stop sell for a held position.

    Equities: a ``stop`` order for whole shares. Crypto: a ``stop_limit`` (Alpaca has no plain
    crypto stop) whose limit is ``band`` below the stop. The client_order_id names the symbol,
    the day and the level (``tsys-stop-AAPL-20240313-180.12``).
    """
    from alpaca.trading.enums import OrderSide, TimeInForce
    from alpaca.trading.requests import StopLimitOrderRequest, StopOrderRequest

    stop = round_price(level)
    kw: dict[str, Any] = {
        "symbol": sym.to_alpaca(symbol, asset_class),
        "side": OrderSide.SELL,
        "time_in_force": TimeInForce.GTC,
        "stop_price": stop,
    }
    if asset_class is AssetClass.EQUITY:
        q = float(math.floor(qty + 1e-9))
        return StopOrderRequest(qty=q, client_order_id=_cid(symbol, tag, stop, q), **kw)
    q = math.floor(qty * 1e9 + 1e-6) / 1e9
    limit = round_price(stop * (1.0 - band))
    return StopLimitOrderRequest(
        qty=q, limit_price=limit, client_order_id=_cid(symbol, tag, stop, q), **kw
    )


def _cid(symbol: str, tag: str, stop: float, qty: float) -> str:
    return f"{PREFIX}{symbol}-{tag}-{stop:g}-{qty:g}"[:128]


def wanted_levels(plans: Iterable[TradePlan]) -> tuple[dict[str, float], set[str]]:
    """Stop level per symbol from BUY/HOLD plans, and the symbols SELL plans exit."""
    levels: dict[str, float] = {}
    sells: set[str] = set()
    for plan in plans:
        symbol = plan.allocation.signal.symbol
        if plan.action is Action.SELL:
            sells.add(symbol)
        elif plan.action in (Action.BUY, Action.HOLD) and plan.stop and plan.stop.price:
            levels[symbol] = plan.stop.price
    return levels, sells


def entry_levels(broker: AlpacaBroker) -> dict[str, float]:
    """The stop of the plan behind each symbol's latest tsys buy (from the order log): the
    level a held position keeps while no later plan moves it."""
    latest: dict[str, float | None] = {}
    for o in broker.log.orders(broker.name):  # oldest first: the latest buy wins
        if o.side.value == "buy" and o.filled_quantity > 0:
            latest[o.symbol] = o.stop_price
    return {s: v for s, v in latest.items() if v is not None}


def working_stops(broker: AlpacaBroker) -> dict[str, list[WorkingStop]]:
    """Stop sells working at Alpaca, by tsys symbol (legs of OTO/bracket orders included)."""
    entered = {o.symbol for o in broker.log.orders(broker.name) if o.side.value == "buy"}
    out: dict[str, list[WorkingStop]] = {}
    for raw in broker.open_order_payloads():
        parent = wire.order_item(raw)
        ours = broker.log.get_order(broker.name, str(parent.get("client_order_id"))) is not None
        for leg in [raw, *(parent.get("legs") or [])]:
            stop = _working_stop(leg, ours, entered)
            if stop is not None:
                out.setdefault(stop.symbol, []).append(stop)
    return out


def _working_stop(raw: Any, ours: bool, entered: set[str]) -> WorkingStop | None:
    """A working stop sell; ``ours`` when tsys placed it: a standing stop (``tsys-stop-``), an
    order in tsys's log, or the OTO/bracket leg of a symbol tsys bought (Alpaca lists the legs
    of a filled entry as orders of their own, without a link to the entry)."""
    item = wire.order_item(raw)
    kind = item.text("type", required=False) or item.text("order_type", required=False)
    if kind not in STOP_TYPES or item.get("side") != "sell" or item.get("status") not in WORKING:
        return None
    cls = item.text("asset_class", required=False)
    ac = wire.TRADED.get(cls or "us_equity")
    if ac is None:
        return None
    qty = item.number("qty")
    filled = item.number("filled_qty", required=False) or 0.0
    assert qty is not None
    symbol = item.parsed("symbol", lambda s: sym.from_alpaca(str(s), ac))
    cid = str(item.text("client_order_id"))
    leg = item.get("order_class") in ("oto", "bracket") and symbol in entered
    return WorkingStop(
        order_id=str(item.text("id")),
        client_order_id=cid,
        symbol=symbol,
        asset_class=ac,
        stop_price=float(item.number("stop_price", positive=True) or 0.0),
        quantity=qty - filled,
        ours=ours or leg or cid.startswith(PREFIX),
    )


def _same_level(a: float, b: float) -> bool:
    return abs(round_price(a) - round_price(b)) < 1e-9


def protect(
    broker: AlpacaBroker, plans: Sequence[TradePlan], *, day: dt.date | None = None
) -> list[StopAction]:
    """Make the working stops at Alpaca match the plans' levels for every held position."""
    planned, sells = wanted_levels(plans)
    levels = {**entry_levels(broker), **planned}
    held = {p.symbol: p for p in broker.positions()}
    working = working_stops(broker)
    tag = (day or dt.date.today()).strftime("%Y%m%d")
    actions: list[StopAction] = []
    failed: list[str] = []

    def step(symbol: str, fn: Callable[[], StopAction]) -> None:
        # one symbol's failure never leaves the others unmanaged
        try:
            actions.append(fn())
        except BrokerError as exc:
            failed.append(f"{symbol}: {exc.message}")

    for symbol, stops in sorted(working.items()):
        mine = [s for s in stops if s.ours]
        if mine and (symbol not in held or symbol in sells):
            step(symbol, lambda symbol=symbol, mine=mine: _cancel_all(broker, symbol, mine))
    for symbol, level in sorted(levels.items()):
        pos = held.get(symbol)
        if pos is None or symbol in sells or pos.side.value != "buy":
            continue
        found = working.get(symbol, [])
        step(
            symbol,
            lambda pos=pos, level=level, found=found: _ensure(broker, pos, level, found, tag),
        )
    if failed:
        err = BrokerError(
            f"{len(failed)} protective stop(s) not updated at Alpaca: " + "; ".join(failed),
            hint="the positions concerned may be unprotected: run `tsys paper reconcile`, and "
            "run the day again to retry",
        )
        err.actions = actions  # type: ignore[attr-defined]
        raise err
    return actions


def _cancel_all(broker: AlpacaBroker, symbol: str, mine: list[WorkingStop]) -> StopAction:
    for s in mine:
        broker.cancel_order_id(s.order_id, f"the stop of {symbol}")
    return StopAction(symbol, "canceled", None, sum(s.quantity for s in mine))


def _ensure(broker: AlpacaBroker, pos: Any, level: float, stops: list[WorkingStop], tag: str):
    mine = [s for s in stops if s.ours]
    qty = pos.quantity
    if len(mine) == 1:
        s = mine[0]
        if _same_level(s.stop_price, level) and abs(s.quantity - qty) <= 1e-9:
            return StopAction(pos.symbol, "kept", s.stop_price, s.quantity)
        if pos.asset_class is AssetClass.EQUITY and float(qty).is_integer():
            broker.replace_stop(s.order_id, qty=int(qty), stop_price=round_price(level))
            return StopAction(pos.symbol, "replaced", round_price(level), qty, s.stop_price)
    previous = mine[0].stop_price if mine else None
    for s in mine:  # several, or crypto: cancel, then place one for the whole position
        broker.cancel_order_id(s.order_id, f"the stop of {pos.symbol}")
    broker.place_stop(pos.symbol, pos.asset_class, qty, level, tag)
    return StopAction(
        pos.symbol, "replaced" if mine else "placed", round_price(level), qty, previous
    )


def stop_differences(
    expected: dict[str, float], held: dict[str, float], working: dict[str, list[WorkingStop]]
) -> list[tuple[str, float, float, str]]:
    """Missing or stale broker-side stops: ``(symbol, expected, actual, cause)`` rows."""
    rows = []
    for symbol, qty in sorted(held.items()):
        level = expected.get(symbol)
        if level is None or qty <= 0:
            continue
        stops = working.get(symbol, [])
        if not stops:
            rows.append(
                (
                    symbol,
                    level,
                    0.0,
                    "no protective stop at the broker: the position is "
                    "unprotected until the next paper run places one",
                )
            )
            continue
        covered = sum(s.quantity for s in stops)
        at = sorted({s.stop_price for s in stops})
        if not all(_same_level(s.stop_price, level) for s in stops):
            rows.append(
                (
                    symbol,
                    level,
                    at[0],
                    f"stale protective stop at the broker "
                    f"({', '.join(f'{x:g}' for x in at)}; the plan's level is {level:g})",
                )
            )
        elif covered + 1e-9 < qty:
            rows.append(
                (symbol, level, at[0], f"the protective stop covers {covered:g} of {qty:g}")
            )
    for symbol, stops in sorted(working.items()):
        if symbol not in held and any(s.ours for s in stops):
            rows.append(
                (
                    symbol,
                    0.0,
                    stops[0].stop_price,
                    "a protective stop is working for a "
                    "position no longer held (the next paper run cancels it)",
                )
            )
    return rows


class StopDesk:
    """The protective-stop methods of :class:`~tsys_broker_alpaca.broker.AlpacaBroker`
    (a mixin: it uses the broker's client, retries, log and order look-ups)."""

    def protect(
        self, plans: Sequence[TradePlan], *, decision_date: dt.date | None = None
    ) -> list[StopAction]:
        """Make the stops working at Alpaca match the plans for every held position
        (see :mod:`.stops`); returns what was placed, replaced, canceled or kept."""
        if not self.protective_stops_on:
            return []
        return protect(self, plans, day=decision_date)

    def protective_stops(self) -> dict[str, list[WorkingStop]]:
        """The stop sells working at Alpaca, by symbol (read only)."""
        return working_stops(self)

    def stop_differences(self, expected: dict[str, float]) -> list[tuple[str, float, float, str]]:
        """Held positions whose stop is missing or stale at Alpaca (``expected``: the plans'
        levels by symbol); for ``tsys paper reconcile``."""
        held = {p.symbol: p.quantity for p in self.positions() if p.side is Side.BUY}
        levels = {**entry_levels(self), **expected}
        return stop_differences(levels, held, working_stops(self))

    def cancel_order_id(self, order_id: str, what: str) -> None:
        """Cancel by Alpaca order id (an order that is already final is left as it is)."""
        from alpaca.common.exceptions import APIError

        def cancel() -> None:
            try:
                self.client.cancel_order_by_id(order_id)
            except APIError as exc:
                if exc.status_code != 422:  # 422: already filled, canceled or replaced
                    raise

        self._retrying(lambda: self._call(f"canceling {what}", cancel), f"canceling {what}")
        raw = self._retrying(
            lambda: self._call(f"the look-up of {what}", self.client.get_order_by_id, order_id),
            f"looking up {what}",
        )
        self._remember(wire.order_item(raw).raw)

    def replace_stop(self, order_id: str, *, qty: int, stop_price: float) -> Order:
        """``PATCH`` a working stop to a new level and quantity; the new order is logged."""
        from alpaca.trading.requests import ReplaceOrderRequest

        req = ReplaceOrderRequest(qty=qty, stop_price=stop_price)
        raw = self._retrying(
            lambda: self._call(
                "the stop replacement", self.client.replace_order_by_id, order_id, req
            ),
            "replacing a protective stop",
        )
        self._remember_old(order_id)
        return self._remember(wire.order_item(raw).raw)

    def _remember_old(self, order_id: str) -> None:
        raw = self._call("the order look-up", self.client.get_order_by_id, order_id)
        if self.log.get_order(self.name, str(wire.order_item(raw).get("client_order_id"))):
            self._remember(raw)

    def place_stop(
        self, symbol: str, asset_class: Any, qty: float, level: float, tag: str
    ) -> Order:
        """Place a standing ``gtc`` stop sell (crypto: stop_limit) for a held position."""
        request = stop_request(symbol, asset_class, qty, level, tag, band=self.crypto_stop_band)
        base = request.client_order_id

        def attempt() -> dict[str, Any]:
            # Look up first (a lost answer must not place a second stop). The same stop canceled
            # earlier the same day (by hand) keeps its id at Alpaca: the next suffix is used.
            for n in range(MAX_SAME_DAY):
                cid = base if n == 0 else f"{base}-{n}"
                existing = self._lookup(cid)
                if existing is None:
                    req = request.model_copy(update={"client_order_id": cid})
                    return self._call(
                        "the stop order", self.client.submit_order, req, submitting=True
                    )
                status = wire.status_of(existing)
                if not status.is_final or status is OrderStatus.FILLED:
                    return existing
            raise BrokerError(
                f"{MAX_SAME_DAY} stops of {symbol} at {level:g} today: not placing more"
            )

        raw = self._retrying(attempt, f"placing the stop of {symbol}")
        return self._remember(wire.order_item(raw).raw)

    def _cancel_stops_before_sell(self, symbol: str) -> None:
        for s in working_stops(self).get(symbol, []):
            if s.ours:
                self.cancel_order_id(s.order_id, f"the stop of {symbol}")
