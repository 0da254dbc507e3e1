"""Alpaca's wire format read into tsys contracts, at the boundary (``tsys.brokers.payload``).

Responses come as raw JSON (``raw_data=True``), so a new enum value at Alpaca (it has happened:
``CRYPTO``, ``ASCX``, ``crypto_perp``) cannot break alpaca-py's models; every field tsys uses is
read here, and one that cannot be read is a :class:`~tsys.errors.BrokerError` naming the item
and the field. Positions in an asset class tsys does not trade (``us_option``) are
:class:`~tsys.brokers.payload.ForeignPosition`\\ s, not stock.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, TypeVar

from tsys.api import (
    AssetClass,
    EntryMethod,
    FieldError,
    ForeignPosition,
    Order,
    OrderStatus,
    PayloadItem,
    PositionRecord,
    PositionSource,
    Side,
    TimeInForce,
    payload_items,
    symbol_problem,
)
from tsys_broker_alpaca import symbols as sym

T = TypeVar("T")
BROKER = "Alpaca"

#: Alpaca order status -> tsys status (alpaca-py's OrderStatus values; others are unreadable).
STATUS_MAP: dict[str, OrderStatus] = {
    "pending_new": OrderStatus.SUBMITTED,
    "accepted": OrderStatus.ACCEPTED,
    "new": OrderStatus.ACCEPTED,
    "accepted_for_bidding": OrderStatus.ACCEPTED,
    "pending_review": OrderStatus.ACCEPTED,
    "held": OrderStatus.ACCEPTED,
    "calculated": OrderStatus.ACCEPTED,
    "stopped": OrderStatus.ACCEPTED,
    "suspended": OrderStatus.ACCEPTED,
    "pending_cancel": OrderStatus.ACCEPTED,
    "pending_replace": OrderStatus.ACCEPTED,
    "done_for_day": OrderStatus.ACCEPTED,
    "partially_filled": OrderStatus.PARTIALLY_FILLED,
    "filled": OrderStatus.FILLED,
    "canceled": OrderStatus.CANCELED,
    "replaced": OrderStatus.CANCELED,
    "expired": OrderStatus.EXPIRED,
    "rejected": OrderStatus.REJECTED,
}
TIF_MAP = {
    "opg": TimeInForce.OPG,
    "day": TimeInForce.DAY,
    "gtc": TimeInForce.GTC,
    "ioc": TimeInForce.IOC,
    "fok": TimeInForce.IOC,
    "cls": TimeInForce.DAY,
}
#: Alpaca asset classes tsys trades; any other (``us_option``, a future new one) is foreign.
TRADED = {"us_equity": AssetClass.EQUITY, "crypto": AssetClass.CRYPTO}
POSITION_SIDES = {"long": Side.BUY, "short": Side.SELL}
ORDER_SIDES = {"buy": Side.BUY, "sell": Side.SELL}
#: When an order reached its status, by status; others use ``updated_at``.
_EVENT_FIELD = {
    "filled": "filled_at",
    "canceled": "canceled_at",
    "expired": "expired_at",
    "rejected": "failed_at",
    "replaced": "replaced_at",
}


def _symbol(item: PayloadItem, ac: AssetClass) -> str:
    return item.parsed("symbol", lambda s: _grammar(sym.from_alpaca(_plain(s), ac)))


def _grammar(symbol: str) -> str:
    """``symbol`` when it follows tsys's symbol grammar (no path, no control characters)."""
    problem = symbol_problem(symbol)
    if problem is not None:
        raise ValueError(problem)
    return symbol


def _plain(value: Any) -> str:
    if not isinstance(value, str) or not value.strip() or any(c.isspace() for c in value):
        raise ValueError("not a symbol")
    return value


def position_items(payload: Any) -> list[Any]:
    """The answer to ``GET /v2/positions``: a list, else a :class:`BrokerError`."""
    return payload_items(payload, broker=BROKER, what="the positions request")


def parse_position(
    raw: Any, index: int, *, paper: bool, opened: dict[str, dt.datetime], now: dt.datetime
) -> PositionRecord | ForeignPosition:
    """One position of ``GET /v2/positions`` (``index`` counts from 1, for messages)."""
    label = raw.get("symbol") if isinstance(raw, dict) else None
    what = f"position {index}" + (f" ({label})" if isinstance(label, str) and label else "")
    item = PayloadItem(raw, broker=BROKER, what=what)
    cls = item.text("asset_class")
    assert cls is not None
    if cls not in TRADED:
        return ForeignPosition(
            symbol=str(item.text("symbol")),
            asset_class=cls,
            quantity=str(item.get("qty")),
            broker="alpaca",
        )
    ac = TRADED[cls]
    symbol = _symbol(item, ac)
    qty = item.number("qty")
    assert qty is not None
    if qty == 0:
        raise item.error("qty", "is 0 for an open position")
    side = item.choice("side", POSITION_SIDES, required=False) or (
        Side.BUY if qty > 0 else Side.SELL
    )
    entry = item.number("avg_entry_price", positive=True)
    note = "" if symbol in opened else "opened outside tsys or before its order log"
    return _build(
        item,
        PositionRecord,
        id=f"alpaca:{symbol}",
        source=PositionSource.PAPER if paper else PositionSource.SYSTEM,
        symbol=symbol,
        asset_class=ac,
        side=side,
        quantity=abs(qty),
        opened_at=opened.get(symbol, now),
        entry_price=entry,
        notes=note,
    )


def parse_account(raw: Any) -> tuple[float, float, float, str]:
    """Cash, equity, buying power and currency of ``GET /v2/account``."""
    item = PayloadItem(raw, broker=BROKER, what="the account")
    cash = item.number("cash")
    equity = item.number("equity", required=False)
    if equity is None:
        equity = item.number("portfolio_value")
    bp = item.number("buying_power")
    assert cash is not None and equity is not None and bp is not None
    return cash, equity, bp, item.text("currency", required=False) or "USD"


def order_item(raw: Any, *, leg_of: str | None = None) -> PayloadItem:
    """``raw`` as a payload item named by its client order id (a leg: by its parent's too)."""
    cid = raw.get("client_order_id") if isinstance(raw, dict) else None
    what = f"order {cid}" if isinstance(cid, str) and cid else "an order"
    if leg_of is not None:
        what = f"a leg of order {leg_of} ({what})"
    return PayloadItem(raw, broker=BROKER, what=what)


def _entry(item: PayloadItem) -> tuple[EntryMethod, str]:
    typ = item.text("type", required=False) or item.text("order_type", required=False) or "market"
    tif = item.choice("time_in_force", {k: k for k in TIF_MAP})
    assert tif is not None
    if typ in ("limit", "stop_limit"):
        return EntryMethod.LIMIT, tif
    return (EntryMethod.MOO if tif == "opg" else EntryMethod.MKT), tif


def _legs(item: PayloadItem) -> tuple[float | None, float | None]:
    """The stop and take-profit prices of a bracket/OTO order's legs (or of the order)."""
    stop = item.number("stop_price", required=False)
    take_profit = None
    legs = item.get("legs") or []
    if not isinstance(legs, list):
        raise item.error("legs", "must be a list")
    for n, raw in enumerate(legs, 1):
        leg = PayloadItem(raw, broker=BROKER, what=f"{item.what}, leg {n}")
        kind = leg.text("type", required=False) or leg.text("order_type", required=False)
        if kind in ("stop", "stop_limit"):
            stop = leg.number("stop_price", required=False) or stop
        elif kind == "limit":
            take_profit = leg.number("limit_price", required=False)
    return stop, take_profit


def parse_order(raw: Any, *, bucket: str = "", leg_of: str | None = None) -> Order:
    """An Alpaca order (raw JSON) as a tsys :class:`Order`; unreadable -> :class:`BrokerError`
    (naming the parent order when ``raw`` is one of its legs)."""
    item = order_item(raw, leg_of=leg_of)
    cls = item.text("asset_class", required=False)
    if cls is not None and cls not in TRADED:
        raise item.error("asset_class", f"is {cls!r}, which tsys does not trade")
    ac = TRADED[cls] if cls is not None else item.parsed("symbol", sym.asset_class_of)
    entry, tif = _entry(item)
    stop_price, take_profit = _legs(item)
    filled = item.number("filled_qty", required=False) or 0.0
    qty = item.number("qty", required=False) or filled
    if filled < 0:
        raise item.error("filled_qty", f"must not be negative, got {filled:g}")
    if qty <= 0:
        raise item.error("qty", "is missing or not above 0 (notional orders are not tsys orders)")
    avg = item.number("filled_avg_price", required=False)
    submitted = item.time("submitted_at", required=False) or item.time("created_at")
    assert submitted is not None
    event_time(raw)  # every time tsys reads later must be readable now
    return _build(
        item,
        Order,
        client_order_id=str(item.text("client_order_id")),
        symbol=_symbol(item, ac),
        asset_class=ac,
        side=item.choice("side", ORDER_SIDES),
        quantity=qty,
        entry=entry,
        time_in_force=TIF_MAP[tif],
        submitted_at=submitted,
        status=item.choice("status", STATUS_MAP),
        limit_price=item.number("limit_price", required=False),
        stop_price=stop_price,
        take_profit=take_profit,
        broker_order_id=str(item.text("id")),
        filled_quantity=filled,
        filled_avg_price=avg if avg else None,
        bucket=bucket,
    )


def _build(item: PayloadItem, cls: type[T], **fields: Any) -> T:
    """``cls(**fields)``; a broken contract invariant is reported at the broker's field."""
    try:
        return cls(**fields)
    except FieldError as exc:
        raise item.error(_WIRE_NAME.get(exc.field, exc.field), exc.detail) from None


#: tsys contract field -> the Alpaca field it was read from (for messages).
_WIRE_NAME = {
    "quantity": "qty",
    "entry_price": "avg_entry_price",
    "filled_quantity": "filled_qty",
    "broker_order_id": "id",
    "submitted_at": "submitted_at",
}


def event_time(raw: Any) -> dt.datetime:
    """When the order reached its current status, as Alpaca stamps it."""
    item = order_item(raw)
    key = _EVENT_FIELD.get(str(item.get("status")), "updated_at")
    at = item.time(key, required=False) or item.time("updated_at", required=False)
    if at is None:
        raise item.error(key, "is missing: tsys cannot date the order's status")
    return at


def status_of(raw: Any) -> OrderStatus:
    """The tsys status of an Alpaca order (unknown: :class:`BrokerError`)."""
    status = order_item(raw).choice("status", STATUS_MAP)
    assert status is not None
    return status
