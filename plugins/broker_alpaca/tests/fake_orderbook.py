"""The order book of the loopback Alpaca fake: orders, legs, replacement, cancel, refusals.

Mixed into :class:`fake_alpaca.FakeAlpaca` (which owns the state: ``orders``, ``by_cid``,
``positions``, ``prices``, ``now``). What it implements, as Alpaca documents it:

- simple market/limit/stop/stop_limit orders; crypto only market, limit and stop_limit with
  ``gtc``/``ioc``; fractional equity quantities only as market ``day``;
- ``bracket`` and ``oto`` orders (equities only, ``day``/``gtc``): their legs are orders of their
  own, ``held`` until the entry fills, then working for the filled quantity; a filled leg
  cancels its sibling; with ``nested=true`` legs are listed inside a listed parent, and on their
  own once the parent is no longer open;
- ``PATCH /v2/orders/{id}``: a new order ``replaces`` the old one, which becomes ``replaced``
  with ``replaced_by``; ``DELETE`` cancels (204), a held leg with its entry;
- shares held for working sell orders (stops included) cannot be sold again (403).
"""

from __future__ import annotations

import datetime as dt
import math
import uuid
from typing import Any

_OPEN = ("accepted", "new", "partially_filled", "pending_new")


def _iso(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _fmt(x: float | None) -> str | None:
    if x is None:
        return None
    return format(x, ".9f").rstrip("0").rstrip(".") or "0"


def _opt_float(value: Any) -> float | None:
    return None if value is None else float(value)


def marketable(o: dict[str, Any], px: float) -> bool:
    """Whether a working order executes at the session's price ``px`` (the open).

    A stop sell triggers at or below its stop and, like the simulator's gap rule, fills at the
    open; a stop-limit sell then fills only at or above its limit.
    """
    buy = o["side"] == "buy"
    if o["type"] in ("stop", "stop_limit"):
        triggered = px >= o["stop_price"] if buy else px <= o["stop_price"]
        if not triggered:
            return False
    if o["type"] in ("limit", "stop_limit"):
        return px <= o["limit_price"] if buy else px >= o["limit_price"]
    return True


def _refusal(
    body: dict, crypto: bool, qty: float, typ: str, tif: str, order_class: str
) -> dict | None:
    """Alpaca's 422 for an order it will not take (as documented for equities and crypto)."""

    def no(message: str, code: int = 42210000) -> dict:
        return {"code": code, "message": message}

    if crypto and tif not in ("gtc", "ioc"):
        return no("invalid crypto time_in_force")
    if crypto and typ not in ("market", "limit", "stop_limit"):
        return no(f"invalid order type for crypto: {typ}")
    if not crypto and qty != math.floor(qty) and not (typ == "market" and tif == "day"):
        return no("fractional orders must be market and day")
    if typ == "limit" and body.get("limit_price") is None:
        return no("limit_price is required", 40010001)
    if typ in ("stop", "stop_limit") and body.get("stop_price") is None:
        return no("stop_price is required", 40010001)
    if typ == "stop_limit" and body.get("limit_price") is None:
        return no("limit_price is required", 40010001)
    if order_class in ("bracket", "oto", "oco"):
        if crypto:
            return no("crypto orders not allowed for advanced order_class: otoco")
        if tif not in ("day", "gtc"):
            return no(f"{order_class} orders must be day or gtc")
        need = ("take_profit", "stop_loss") if order_class == "bracket" else ()
        if any(k not in body for k in need):
            return no("bracket orders require take_profit and stop_loss", 40010001)
        if order_class == "oto" and not (body.get("take_profit") or body.get("stop_loss")):
            return no("oto orders require take_profit or stop_loss", 40010001)
    return None


class OrderBook:
    """Order endpoints and the order state machine of the fake (see the module docstring)."""

    orders: dict[str, dict[str, Any]]
    by_cid: dict[str, str]
    positions: dict[str, dict[str, Any]]
    now: dt.datetime

    def _post_order(self, body: Any) -> tuple[int, Any]:
        self.order_posts += 1
        if not isinstance(body, dict):
            return 400, {"code": 40010000, "message": "request body format is invalid"}
        cid = body.get("client_order_id") or str(uuid.uuid4())
        if cid in self.by_cid:
            self.duplicate_cid_posts += 1
            return 422, {"code": 40010001, "message": "client_order_id must be unique"}
        try:
            qty = float(body["qty"])
            symbol = str(body["symbol"])
            side = body["side"]
            typ = body.get("type", "market")
            tif = body["time_in_force"]
        except (KeyError, TypeError, ValueError):
            return 422, {
                "code": 40010001,
                "message": "qty, symbol, side and time_in_force are required",
            }
        crypto = "/" in symbol
        order_class = body.get("order_class", "simple") or "simple"
        refused = _refusal(body, crypto, qty, typ, tif, order_class)
        if refused is not None:
            return 422, refused
        o = self._new_order(
            cid=cid,
            symbol=symbol,
            qty=qty,
            side=side,
            typ=typ,
            tif=tif,
            limit=_opt_float(body.get("limit_price")),
            stop=_opt_float(body.get("stop_price")),
            order_class=order_class,
        )
        money = self._money_check(o)
        if money is not None:
            return 403, money
        self.orders[o["id"]] = o
        self.by_cid[cid] = o["id"]
        if order_class in ("bracket", "oto"):
            o["leg_ids"] = []
            exit_side = "sell" if side == "buy" else "buy"
            if body.get("take_profit"):
                tp = float(body["take_profit"]["limit_price"])
                self._leg(o, exit_side, "limit", limit=tp)
            if body.get("stop_loss"):
                sl = body["stop_loss"]
                kind = "stop_limit" if sl.get("limit_price") is not None else "stop"
                self._leg(
                    o,
                    exit_side,
                    kind,
                    stop=float(sl["stop_price"]),
                    limit=_opt_float(sl.get("limit_price")),
                )
        return 200, self.order_json(o)

    def _new_order(self, *, cid, symbol, qty, side, typ, tif, limit, stop, order_class) -> dict:
        return {
            "id": str(uuid.uuid4()),
            "client_order_id": cid,
            "symbol": symbol,
            "asset_class": "crypto" if "/" in symbol else "us_equity",
            "asset_id": uuid.uuid4(),
            "qty": qty,
            "filled_qty": 0.0,
            "filled_avg_price": None,
            "side": side,
            "type": typ,
            "time_in_force": tif,
            "limit_price": limit,
            "stop_price": stop,
            "status": "accepted",
            "order_class": "" if order_class == "simple" else order_class,
            "created": self.now,
            "updated_at": self.now,
        }

    def _leg(self, parent: dict, side: str, typ: str, *, stop=None, limit=None) -> None:
        leg = self._new_order(
            cid=str(uuid.uuid4()),
            symbol=parent["symbol"],
            qty=parent["qty"],
            side=side,
            typ=typ,
            tif=parent["time_in_force"],
            limit=limit,
            stop=stop,
            order_class=parent["order_class"] or "simple",
        )
        leg["status"] = "held"  # until the parent fills
        leg["parent"] = parent["id"]
        self.orders[leg["id"]] = leg
        self.by_cid[leg["client_order_id"]] = leg["id"]
        parent["leg_ids"].append(leg["id"])

    def _money_check(self, o: dict) -> dict | None:
        """Alpaca's 403s: a buy beyond buying power, a sell beyond the unreserved position."""
        if o["side"] == "buy":
            need = o["qty"] * self._ref_price(o)
            bp = float(self.account_json()["buying_power"])
            if need > bp + 1e-9:
                return {
                    "buying_power": _fmt(bp),
                    "code": 40310000,
                    "cost_basis": _fmt(need),
                    "message": "insufficient buying power",
                }
            return None
        available = self.available(o["symbol"])
        if o["qty"] > available + 1e-12:
            return {
                "code": 40310000,
                "message": f"insufficient qty available for order (requested: {_fmt(o['qty'])}, "
                f"available: {_fmt(max(available, 0.0))})",
            }
        return None

    def available(self, symbol: str, *, without: str | None = None) -> float:
        """Position quantity not held for working sell orders (stops included), like Alpaca."""
        held = self.positions.get(symbol.replace("/", ""), {}).get("qty", 0.0)
        pending = sum(
            x["qty"] - x["filled_qty"]
            for x in self.orders.values()
            if x["symbol"] == symbol
            and x["side"] == "sell"
            and x["status"] in _OPEN
            and x["id"] != without
        )
        return held - pending

    def _list_orders(self, query: dict[str, str]) -> list[dict[str, Any]]:
        status = query.get("status", "open")
        out = [
            o
            for o in self.orders.values()
            if status == "all" or (status == "open") == (o["status"] in _OPEN)
        ]
        if query.get("nested", "").lower() == "true":
            # legs come inside their parent when it is listed too; the legs of a filled entry
            # are working orders of their own and are listed as such
            listed = {o["id"] for o in out}
            out = [o for o in out if o.get("parent") not in listed]
        if query.get("symbols"):
            wanted = set(query["symbols"].split(","))
            out = [o for o in out if o["symbol"] in wanted]
        if query.get("after"):
            after = dt.datetime.fromisoformat(query["after"])
            out = [o for o in out if o["created"] > after]
        out.sort(key=lambda o: o["created"], reverse=query.get("direction", "desc") == "desc")
        return [self.order_json(o) for o in out[: int(query.get("limit", 50))]]

    def _order_by_id(self, method: str, oid: str, body: Any = None) -> tuple[int, Any]:
        try:
            uuid.UUID(oid)
        except ValueError:
            return 422, {"code": 40010001, "message": "order_id is missing"}
        o = self.orders.get(oid)
        if o is None:
            return 404, {"code": 40410000, "message": "order not found"}
        if method == "GET":
            return 200, self.order_json(o)
        if method in ("DELETE", "PATCH") and o["status"] not in (*_OPEN, "held"):
            return 422, {
                "code": 42210000,
                "message": f'order is already in "{o["status"]}" state',
            }
        if method == "DELETE":
            self._cancel(o)
            for leg_id in o.get("leg_ids") or []:
                if self.orders[leg_id]["status"] == "held":
                    self._cancel(self.orders[leg_id])
            return 204, None
        if method == "PATCH":
            return self._replace(o, body if isinstance(body, dict) else {})
        return 405, {"code": 40510000, "message": "method not allowed"}

    def _cancel(self, o: dict) -> None:
        o["status"] = "canceled"
        o["canceled_at"] = self.now
        o["updated_at"] = self.now

    def _replace(self, o: dict, body: dict) -> tuple[int, Any]:
        """PATCH /v2/orders/{id}: a new order replaces ``o`` (``replaces``/``replaced_by``)."""
        if not set(body) & {"qty", "stop_price", "limit_price", "time_in_force", "trail"}:
            return 422, {"code": 40010001, "message": "nothing to replace"}
        cid = body.get("client_order_id") or str(uuid.uuid4())
        if cid in self.by_cid:
            return 422, {"code": 40010001, "message": "client_order_id must be unique"}
        new = {
            **o,
            "id": str(uuid.uuid4()),
            "client_order_id": cid,
            "qty": float(body.get("qty", o["qty"])),
            "stop_price": _opt_float(body.get("stop_price", o.get("stop_price"))),
            "limit_price": _opt_float(body.get("limit_price", o.get("limit_price"))),
            "time_in_force": body.get("time_in_force", o["time_in_force"]),
            "status": "held" if o["status"] == "held" else "new",
            "replaces": o["id"],
            "created": self.now,
            "updated_at": self.now,
        }
        if new["qty"] <= 0 or (new["type"] in ("stop", "stop_limit") and not new["stop_price"]):
            return 422, {"code": 40010001, "message": "invalid qty or stop_price"}
        if new["side"] == "sell" and new["status"] != "held":
            available = self.available(o["symbol"], without=o["id"])
            if new["qty"] > available + 1e-12:
                return 403, {"code": 40310000, "message": "insufficient qty available for order"}
        o.update(
            status="replaced", replaced_at=self.now, updated_at=self.now, replaced_by=new["id"]
        )
        self.orders[new["id"]] = new
        self.by_cid[cid] = new["id"]
        parent = self.orders.get(o.get("parent") or "")
        if parent is not None:
            parent["leg_ids"] = [new["id"] if i == o["id"] else i for i in parent["leg_ids"]]
        self.replacements += 1
        return 200, self.order_json(new)

    def _after_fill(self, o: dict[str, Any]) -> None:
        """An entry done: its held legs start working for the quantity filled (or are
        canceled when nothing filled); a leg filled: its sibling is canceled (one cancels other)."""
        for leg_id in o.get("leg_ids") or []:
            leg = self.orders[leg_id]
            if leg["status"] != "held":
                continue
            if o["filled_qty"] > 0:
                leg.update(status="new", qty=o["filled_qty"], updated_at=self.now)
            else:
                self._cancel(leg)
        parent = self.orders.get(o.get("parent") or "")
        if parent is not None and o["status"] == "filled":
            for leg_id in parent["leg_ids"]:
                sib = self.orders[leg_id]
                if sib["id"] != o["id"] and sib["status"] in (*_OPEN, "held"):
                    self._cancel(sib)
