"""tsys trade plans as alpaca-py order requests (what is sent, and what is refused before)."""

from __future__ import annotations

import math
from typing import Any

from tsys.api import (
    Action,
    AssetClass,
    ConfigError,
    EntryMethod,
    OrderRejected,
    StopKind,
    TradePlan,
)
from tsys_broker_alpaca import symbols as sym

#: Alpaca limits client_order_id to 128 characters.
MAX_CID = 128


def round_price(price: float) -> float:
    """Alpaca rejects sub-penny prices at or above $1 (2 decimals), else 4 decimals."""
    return round(price, 2) if price >= 1.0 else round(price, 4)


def order_request(
    plan: TradePlan, *, crypto_tif: str = "gtc", brackets: bool = False, oto: bool = False
) -> Any:
    """Build the alpaca-py request for ``plan`` (raises :class:`OrderRejected` when impossible).

    Equities: MOO -> market ``opg``; MKT -> market ``day``; LIMIT -> limit ``day``; whole shares.
    Crypto: market or limit with ``gtc`` (or ``ioc``), quantity floored to 9 decimals.
    Brackets (equity buys with a fixed stop and a take-profit, when ``brackets``): Alpaca
    accepts bracket orders only with ``day``/``gtc``, so a MOO entry becomes market ``day``.
    OTO (``oto``, the default of the broker): an equity MOO/MKT buy with a stop carries its
    stop-loss leg, as a market ``gtc`` order so the leg stays working after the entry's day
    (see :mod:`.stops` for why; crypto has no OTO at Alpaca).
    """
    from alpaca.trading.enums import OrderClass, OrderSide
    from alpaca.trading.enums import TimeInForce as ATif
    from alpaca.trading.requests import (
        LimitOrderRequest,
        MarketOrderRequest,
        StopLossRequest,
        TakeProfitRequest,
    )

    cid = plan.client_order_id
    if len(cid) > MAX_CID:
        raise OrderRejected(f"client_order_id {cid[:40]}... is longer than Alpaca's {MAX_CID}")
    if plan.action not in (Action.BUY, Action.SELL):
        raise OrderRejected(f"plan {cid} is {plan.action.value}: only BUY and SELL become orders")
    sig = plan.allocation.signal
    ac = sig.asset_class
    if ac is AssetClass.EQUITY:
        qty = float(math.floor(plan.allocation.quantity + 1e-9))
    else:
        qty = math.floor(plan.allocation.quantity * 1e9 + 1e-6) / 1e9
    if qty <= 0:
        raise OrderRejected(
            f"plan {cid} for {sig.symbol}: quantity {plan.allocation.quantity} rounds to 0"
            + (" shares" if ac is AssetClass.EQUITY else "")
        )
    kw: dict[str, Any] = {
        "symbol": sym.to_alpaca(sig.symbol, ac),
        "qty": qty,
        "side": OrderSide.BUY if plan.action is Action.BUY else OrderSide.SELL,
        "client_order_id": cid,
    }
    bracket = (
        brackets
        and ac is AssetClass.EQUITY
        and plan.action is Action.BUY
        and plan.take_profit is not None
        and plan.stop is not None
        and plan.stop.kind is StopKind.FIXED
    )
    with_stop = (
        oto
        and not bracket
        and ac is AssetClass.EQUITY
        and plan.action is Action.BUY
        and plan.entry in (EntryMethod.MOO, EntryMethod.MKT)
        and plan.stop is not None
        and plan.stop.price is not None
    )
    if ac is AssetClass.CRYPTO:
        if crypto_tif not in ("gtc", "ioc"):
            raise ConfigError(f"crypto_time_in_force must be 'gtc' or 'ioc', got {crypto_tif!r}")
        kw["time_in_force"] = ATif(crypto_tif)
    elif with_stop:
        assert plan.stop is not None and plan.stop.price is not None
        kw["time_in_force"] = ATif.GTC
        kw["order_class"] = OrderClass.OTO
        kw["stop_loss"] = StopLossRequest(stop_price=round_price(plan.stop.price))
    elif plan.entry is EntryMethod.MOO and not bracket:
        kw["time_in_force"] = ATif.OPG
    else:
        kw["time_in_force"] = ATif.DAY
    if bracket:
        assert plan.stop is not None and plan.stop.price is not None
        assert plan.take_profit is not None
        kw["order_class"] = OrderClass.BRACKET
        kw["take_profit"] = TakeProfitRequest(limit_price=round_price(plan.take_profit))
        kw["stop_loss"] = StopLossRequest(stop_price=round_price(plan.stop.price))
    if plan.entry is EntryMethod.LIMIT:
        assert plan.limit_price is not None
        return LimitOrderRequest(limit_price=round_price(plan.limit_price), **kw)
    return MarketOrderRequest(**kw)
