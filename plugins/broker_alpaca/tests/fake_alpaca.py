"""A loopback Alpaca server speaking the wire format of ``EXTERNAL_APIS.md`` section 1.

Trading (``/v2``): account, orders (POST, GET list, GET by id, GET by client_order_id, DELETE
-> 204), positions, clock. Market data: ``/v2/stocks/bars`` and ``/v1beta3/crypto/us/bars``
with ``next_page_token`` pagination. Shapes follow what alpaca-py 0.44 requires: numbers as
strings in trading objects, UPPER-case account status, ``exchange: "CRYPTO"`` and slash-less
position symbols for crypto, ``n`` and ``vw`` in every bar, errors as ``{"code", "message"}``.

Order state machine: ``accepted`` at submit; :meth:`FakeAlpaca.advance_day` opens a simulated
session: working orders fill at that open (limit orders only when the open is at or through the
limit), optionally partially (``partial={"AAPL": 0.5}``); ``opg`` and ``day`` orders still
unfilled then expire, ``gtc`` stay. Buys beyond buying power and sells beyond the position are
refused with HTTP 403, like Alpaca. ``client_order_id`` is unique (422 on reuse).

Faults (``fault_fn(method, path) -> kind | None`` or the ``faults`` queue), applied per request:
``429``, ``500``, ``503`` (HTML body), ``drop_before`` (connection closed, nothing done),
``504_after`` / ``timeout_after`` / ``drop_after`` / ``malformed_after`` (the request IS
processed -- an order is stored -- then the answer is a 504, a hang past the client timeout, a
closed connection, or a truncated JSON body); ``echo``: a 400 with ``echo_body``.
``mangle[route]`` rewrites a GET answer (``positions``, ``orders``, ``order``, ``account``)
to serve shapes tsys must survive.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import json
import math
import re
import threading
import time
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from fake_orderbook import _OPEN, OrderBook, _fmt, _iso, marketable

KEY, SECRET = "test-key-id", "test-secret-key"
FAULT_KINDS = (
    "429",
    "500",
    "503",
    "drop_before",
    "504_after",
    "timeout_after",
    "drop_after",
    "malformed_after",
)
_CRYPTO_RE = re.compile(r"^[A-Z]+/[A-Z]+$")


class FakeAlpaca(OrderBook):
    """State and control of the fake; :meth:`start` serves it on 127.0.0.1."""

    def __init__(self, *, cash: float = 100_000.0, hang_seconds: float = 1.0) -> None:
        self.lock = threading.RLock()
        self.cash = cash
        self.orders: dict[str, dict[str, Any]] = {}  # id -> internal order
        self.by_cid: dict[str, str] = {}
        self.positions: dict[str, dict[str, Any]] = {}  # position symbol -> {qty, avg, cls}
        self.prices: dict[str, float] = {}  # order symbol -> last price
        self.now = dt.datetime(2024, 5, 1, 20, 0, tzinfo=dt.UTC)
        self.hang_seconds = hang_seconds
        self.fault_fn: Callable[[str, str], str | None] | None = None
        self.faults: list[tuple[str, str, str]] = []  # (method, path prefix, kind), consumed
        self.requests: list[tuple[str, str]] = []
        #: The query of every market-data bars request (first page and continuations).
        self.bar_queries: list[dict[str, str]] = []
        self.faults_applied: list[tuple[str, str, str]] = []
        self.order_posts = 0
        self.replacements = 0
        self.duplicate_cid_posts = 0
        self.bars: dict[str, list[dict[str, Any]]] = {}  # data symbol -> raw bars (t asc)
        self.page_size = 10_000
        self.sip_allowed = True
        self.server: ThreadingHTTPServer | None = None
        #: Rewrites of answers, by route (``positions``, ``orders``, ``order``, ``account``):
        #: ``fn(payload) -> payload``, to serve shapes Alpaca may send (or a broken server).
        self.mangle: dict[str, Callable[[Any], Any]] = {}
        #: The body of the ``echo`` fault (a 400): e.g. an error that echoes request headers.
        self.echo_body: Any = None

    # ------------------------------------------------------------------ server
    def start(self) -> FakeAlpaca:
        fake = self

        class Handler(_Handler):
            pass

        Handler.fake = fake
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    @property
    def url(self) -> str:
        assert self.server is not None
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    # ------------------------------------------------------------------ control
    def advance_day(
        self,
        prices: dict[str, float],
        *,
        partial: dict[str, float] | None = None,
        day: dt.date | None = None,
    ) -> list[dict[str, Any]]:
        """Open the next session at ``prices`` (order symbols): fill, then expire day orders.

        Returns the orders that changed. ``partial[symbol]`` fills only that share of each
        working order in the symbol (the rest stays ``partially_filled`` until it expires).
        """
        partial = partial or {}
        with self.lock:
            self.now = (
                dt.datetime.combine(day, dt.time(13, 30), dt.UTC)
                if day is not None
                else self.now + dt.timedelta(days=1)
            ).replace(hour=13, minute=30)
            self.prices.update(prices)
            changed = []
            for o in sorted(self.orders.values(), key=lambda o: o["created"]):
                if o["status"] not in _OPEN:
                    continue
                px = prices.get(o["symbol"])
                if px is None:
                    continue
                if not marketable(o, px):
                    continue
                remaining = o["qty"] - o["filled_qty"]
                share = partial.get(o["symbol"], 1.0)
                q = remaining * share
                q = q if o["asset_class"] == "crypto" else float(math.floor(q))
                if q <= 0:
                    continue
                self._execute(o, q, px)
                changed.append(self.order_json(o))
                if o["status"] == "filled":
                    self._after_fill(o)
            self.now = self.now.replace(hour=20, minute=0)
            for o in list(self.orders.values()):
                if o["status"] in _OPEN and o["time_in_force"] in ("opg", "day"):
                    o["status"] = "expired"
                    o["expired_at"] = self.now
                    o["updated_at"] = self.now
                    changed.append(self.order_json(o))
                    self._after_fill(o)
            return changed

    def _execute(self, o: dict[str, Any], q: float, px: float) -> None:
        cost = q * px
        pos_sym = o["symbol"].replace("/", "")
        pos = self.positions.setdefault(
            pos_sym, {"qty": 0.0, "avg": 0.0, "asset_class": o["asset_class"], "id": uuid.uuid4()}
        )
        if o["side"] == "buy":
            new_qty = pos["qty"] + q
            pos["avg"] = (pos["avg"] * pos["qty"] + cost) / new_qty
            pos["qty"] = new_qty
            self.cash -= cost
        else:
            pos["qty"] -= q
            self.cash += cost
            if pos["qty"] <= 1e-12:
                del self.positions[pos_sym]
        prev = o["filled_qty"] * (o["filled_avg_price"] or 0.0)
        o["filled_qty"] += q
        o["filled_avg_price"] = (prev + cost) / o["filled_qty"]
        full = o["filled_qty"] >= o["qty"] - 1e-12
        o["status"] = "filled" if full else "partially_filled"
        o["updated_at"] = self.now
        if full:
            o["filled_at"] = self.now

    def add_position(self, symbol: str, qty: float, avg: float, asset_class: str) -> None:
        """A position opened outside tsys (a manual trade at the broker)."""
        with self.lock:
            self.positions[symbol] = {
                "qty": qty,
                "avg": avg,
                "asset_class": asset_class,
                "id": uuid.uuid4(),
            }
            self.cash -= qty * avg

    def count_by_cid(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for o in self.orders.values():
            out[o["client_order_id"]] = out.get(o["client_order_id"], 0) + 1
        return out

    # ------------------------------------------------------------------ JSON shapes
    def order_json(self, o: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": o["id"],
            "client_order_id": o["client_order_id"],
            "created_at": _iso(o["created"]),
            "updated_at": _iso(o["updated_at"]),
            "submitted_at": _iso(o["created"]),
            "filled_at": _iso(o["filled_at"]) if o.get("filled_at") else None,
            "expired_at": _iso(o["expired_at"]) if o.get("expired_at") else None,
            "canceled_at": _iso(o["canceled_at"]) if o.get("canceled_at") else None,
            "failed_at": None,
            "replaced_at": _iso(o["replaced_at"]) if o.get("replaced_at") else None,
            "replaced_by": o.get("replaced_by"),
            "replaces": o.get("replaces"),
            "asset_id": str(o["asset_id"]),
            "symbol": o["symbol"],
            "asset_class": o["asset_class"],
            "notional": None,
            "qty": _fmt(o["qty"]),
            "filled_qty": _fmt(o["filled_qty"]),
            "filled_avg_price": _fmt(o["filled_avg_price"]),
            "order_class": o["order_class"],
            "order_type": o["type"],
            "type": o["type"],
            "side": o["side"],
            "position_intent": "buy_to_open" if o["side"] == "buy" else "sell_to_close",
            "time_in_force": o["time_in_force"],
            "limit_price": _fmt(o.get("limit_price")),
            "stop_price": _fmt(o.get("stop_price")),
            "status": o["status"],
            "extended_hours": False,
            "legs": [self.order_json(self.orders[i]) for i in o["leg_ids"]]
            if o.get("leg_ids")
            else None,
            "trail_percent": None,
            "trail_price": None,
            "hwm": None,
            "expires_at": None,
            "source": None,
            "subtag": None,
        }

    def account_json(self) -> dict[str, Any]:
        mv = sum(
            p["qty"] * self.prices.get(self._order_symbol(s, p), p["avg"])
            for s, p in self.positions.items()
        )
        reserved = sum(
            (o["qty"] - o["filled_qty"]) * self._ref_price(o)
            for o in self.orders.values()
            if o["status"] in _OPEN and o["side"] == "buy"
        )
        bp = max(self.cash - reserved, 0.0)
        return {
            "id": "3f1a2b7c-0000-4000-8000-000000000001",
            "account_number": "PA3FAKE0001",
            "status": "ACTIVE",
            "crypto_status": "ACTIVE",
            "currency": "USD",
            "buying_power": _fmt(bp),
            "regt_buying_power": _fmt(bp),
            "daytrading_buying_power": "0",
            "non_marginable_buying_power": _fmt(bp),
            "options_buying_power": _fmt(bp),
            "cash": _fmt(self.cash),
            "accrued_fees": "0",
            "pending_transfer_in": "0",
            "portfolio_value": _fmt(self.cash + mv),
            "equity": _fmt(self.cash + mv),
            "last_equity": _fmt(self.cash + mv),
            "long_market_value": _fmt(mv),
            "short_market_value": "0",
            "initial_margin": "0",
            "maintenance_margin": "0",
            "last_maintenance_margin": "0",
            "sma": "0",
            "multiplier": "1",
            "pattern_day_trader": False,
            "trading_blocked": False,
            "transfers_blocked": False,
            "account_blocked": False,
            "trade_suspended_by_user": False,
            "shorting_enabled": False,
            "daytrade_count": 0,
            "created_at": "2024-01-02T15:00:00.000000Z",
        }

    def _order_symbol(self, pos_sym: str, p: dict[str, Any]) -> str:
        if p["asset_class"] != "crypto":
            return pos_sym
        for q in ("USDT", "USDC", "USD", "BTC"):
            if pos_sym.endswith(q):
                return f"{pos_sym[: -len(q)]}/{q}"
        return pos_sym

    def _ref_price(self, o: dict[str, Any]) -> float:
        if o.get("limit_price"):
            return float(o["limit_price"])
        return self.prices.get(o["symbol"], 0.0)

    def position_json(self, sym: str, p: dict[str, Any]) -> dict[str, Any]:
        px = self.prices.get(self._order_symbol(sym, p), p["avg"])
        crypto = p["asset_class"] == "crypto"
        option = p["asset_class"] == "us_option"
        return {
            "asset_id": str(p["id"]),
            "symbol": sym,
            "exchange": "CRYPTO" if crypto else ("" if option else "NASDAQ"),
            "asset_class": p["asset_class"] if option else ("crypto" if crypto else "us_equity"),
            "asset_marginable": not crypto,
            "avg_entry_price": _fmt(p["avg"]),
            "qty": _fmt(p["qty"]),
            "qty_available": _fmt(p["qty"]),
            "side": "long",
            "market_value": _fmt(p["qty"] * px),
            "cost_basis": _fmt(p["qty"] * p["avg"]),
            "unrealized_pl": _fmt(p["qty"] * (px - p["avg"]))
            if px >= p["avg"]
            else "-" + (_fmt(p["qty"] * (p["avg"] - px)) or "0"),
            "unrealized_plpc": "0",
            "unrealized_intraday_pl": "0",
            "unrealized_intraday_plpc": "0",
            "current_price": _fmt(px),
            "lastday_price": _fmt(px),
            "change_today": "0",
        }

    # ------------------------------------------------------------------ routes
    def handle(self, method: str, path: str, query: dict[str, str], body: Any) -> tuple[int, Any]:
        status, payload = self._route(method, path, query, body)
        if status == 200 and method == "GET":
            if path == "/v2/positions":
                route = "positions"
            elif path == "/v2/orders":
                route = "orders"
            elif path.startswith("/v2/orders"):
                route = "order"
            else:
                route = path.rsplit("/", 1)[-1]
            if route in self.mangle:
                payload = self.mangle[route](json.loads(json.dumps(payload)))
        return status, payload

    def _route(self, method: str, path: str, query: dict[str, str], body: Any) -> tuple[int, Any]:
        with self.lock:
            if path == "/v2/account" and method == "GET":
                return 200, self.account_json()
            if path == "/v2/clock" and method == "GET":
                et = dt.timezone(dt.timedelta(hours=-4))
                return 200, {
                    "timestamp": self.now.astimezone(et).isoformat(timespec="milliseconds"),
                    "is_open": False,
                    "next_open": "2024-05-02T09:30:00-04:00",
                    "next_close": "2024-05-02T16:00:00-04:00",
                }
            if path == "/v2/positions" and method == "GET":
                return 200, [self.position_json(s, p) for s, p in sorted(self.positions.items())]
            if path == "/v2/orders" and method == "POST":
                return self._post_order(body)
            if path == "/v2/orders" and method == "GET":
                return 200, self._list_orders(query)
            if path == "/v2/orders:by_client_order_id" and method == "GET":
                oid = self.by_cid.get(query.get("client_order_id", ""))
                if oid is None:
                    return 404, {"code": 40410000, "message": "order not found"}
                return 200, self.order_json(self.orders[oid])
            m = re.fullmatch(r"/v2/orders/([^/]+)", path)
            if m:
                return self._order_by_id(method, m.group(1), body)
            if path in ("/v2/stocks/bars", "/v1beta3/crypto/us/bars") and method == "GET":
                return self._bars(path, query)
            return 404, {"code": 40410000, "message": "endpoint not found"}

    def _bars(self, path: str, query: dict[str, str]) -> tuple[int, Any]:
        self.bar_queries.append({"path": path, **query})
        symbols = [s for s in query.get("symbols", "").split(",") if s]
        crypto = path.startswith("/v1beta3")
        if query.get("timeframe") not in ("1Day", "1D"):
            return 400, {"message": f"invalid timeframe {query.get('timeframe')!r}"}
        for s in symbols:
            if crypto and not _CRYPTO_RE.match(s):
                return 400, {"message": f"invalid symbol: {s} does not match ^[A-Z]+/[A-Z]+$"}
        if not crypto and query.get("feed") == "sip" and not self.sip_allowed:
            return 403, {"message": "subscription does not permit querying recent SIP data"}
        start = dt.datetime.fromisoformat(query["start"]) if query.get("start") else None
        end = dt.datetime.fromisoformat(query["end"]) if query.get("end") else None
        rows = []
        for s in sorted(symbols):
            for b in self.bars.get(s, []):
                t = dt.datetime.fromisoformat(b["t"])
                if (start is None or t >= start) and (end is None or t <= end):
                    rows.append((s, b))
        offset = 0
        if query.get("page_token"):
            offset = int(base64.urlsafe_b64decode(query["page_token"]).decode())
        limit = min(int(query.get("limit", 1000)), self.page_size)
        page = rows[offset : offset + limit]
        token = None
        if offset + limit < len(rows):
            token = base64.urlsafe_b64encode(str(offset + limit).encode()).decode()
        bars: dict[str, list[dict[str, Any]]] = {}
        for s, b in page:
            bars.setdefault(s, []).append(b)
        return 200, {
            "bars": bars,
            "next_page_token": token,
            **({} if crypto else {"currency": "USD"}),
        }


class _Handler(BaseHTTPRequestHandler):
    fake: FakeAlpaca
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; without this, Nagle + delayed ACK add 40 ms each.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _dispatch(self, method: str) -> None:
        fake = self.fake
        parts = urlsplit(self.path)
        path = parts.path
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        with fake.lock:
            fake.requests.append((method, path))
            kind = None
            for i, (m, prefix, k) in enumerate(fake.faults):
                if m == method and path.startswith(prefix):
                    kind = k
                    del fake.faults[i]
                    break
            if kind is None and fake.fault_fn is not None:
                kind = fake.fault_fn(method, path)
            if kind is not None:
                fake.faults_applied.append((method, path, kind))
        if kind in ("429", "500", "503"):
            if kind == "429":
                return self._send(429, {"code": 42910000, "message": "rate limit exceeded"})
            return self._send_raw(
                int(kind), b"<html><body><h1>%s</h1></body></html>" % kind.encode(), "text/html"
            )
        if kind == "drop_before":
            return self._drop()
        if kind == "echo":  # a 400 whose body is ``fake.echo_body`` (dict: JSON, str: text)
            body = fake.echo_body
            if isinstance(body, str):
                return self._send_raw(400, body.encode(), "text/html")
            return self._send(400, body)
        is_data = path.startswith(("/v2/stocks", "/v1beta3"))
        if not is_data and (
            self.headers.get("APCA-API-KEY-ID") != KEY
            or self.headers.get("APCA-API-SECRET-KEY") != SECRET
        ):
            return self._send(401, {"message": "unauthorized"})
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            return self._send(400, {"code": 40010000, "message": "request body format is invalid"})
        status, payload = fake.handle(method, path, query, body)
        if kind == "504_after":
            return self._send_raw(504, b"<html>504 Gateway Time-out</html>", "text/html")
        if kind == "timeout_after":
            time.sleep(fake.hang_seconds)
            return self._drop()
        if kind == "drop_after":
            return self._drop()
        if kind == "malformed_after":
            text = json.dumps(payload).encode()
            return self._send_raw(200, text[: max(len(text) // 2, 1)], "application/json")
        if status == 204:
            return self._send_raw(204, b"", None)
        return self._send(status, payload)

    def _drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(2)

    def _send(self, status: int, payload: Any) -> None:
        self._send_raw(status, json.dumps(payload).encode(), "application/json; charset=UTF-8")

    def _send_raw(self, status: int, data: bytes, ctype: str | None) -> None:
        try:
            self.send_response(status)
            if ctype:
                self.send_header("Content-Type", ctype)
            if status != 204:
                self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if status != 204:
                self.wfile.write(data)
        except OSError:
            self.close_connection = True

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")
