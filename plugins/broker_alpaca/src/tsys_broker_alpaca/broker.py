"""The Alpaca broker: tsys trade plans as Alpaca orders, idempotent by ``client_order_id``.

Paper trading is the default. Live trading needs BOTH ``live = true`` in ``[broker.options]``
AND ``ALPACA_PAPER=false`` in the environment; either one alone is a configuration error, so a
typo can never move real money.

How an order is placed (:meth:`AlpacaBroker.submit`), per plan:

1. ``GET /v2/orders:by_client_order_id``: if Alpaca knows the id, that order is the answer.
2. Only after a 404 there: ``POST /v2/orders``.
3. A timeout, a dropped connection, a 429/5xx or a malformed answer is temporary: wait, and go
   back to step 1 (never straight to a second POST), at most ``attempts`` times.
4. A 422 "client_order_id must be unique" means an earlier POST did land: fetch that order.

alpaca-py's own retry loop (429/504, three times, 3 s apart) is switched off (``_retry = 0``,
a private attribute: alpaca-py 0.44 has no public switch) because it would re-POST without the
look-up of step 1. alpaca-py also sets no HTTP timeout at all, so every request of this broker
gets ``timeout`` seconds through a wrapper around the client's ``requests`` session.

Responses are read with ``raw_data=True`` and parsed field by field in :mod:`.wire`, so a new
enum value at Alpaca (it has happened: ``CRYPTO``, ``ASCX``, ``crypto_perp``) cannot break the
broker, and a field tsys cannot read is a :class:`BrokerError` naming it, never a traceback.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any, Self

import attrs

from tsys.api import (
    AccountState,
    Action,
    Baseline,
    Broker,
    BrokerContext,
    BrokerError,
    ConfigError,
    ForeignPosition,
    MemoryOrderLog,
    Order,
    OrderLog,
    OrderRejected,
    OrderStatus,
    PositionRecord,
    Side,
    TemporaryBrokerError,
    TimeInForce,
    TradePlan,
    event_for,
    log_order,
    payload_items,
    plan_order,
    retry,
    structure_options,
    tradable,
    utcnow,
)
from tsys_broker_alpaca import wire
from tsys_broker_alpaca.apierror import error_parts
from tsys_broker_alpaca.compat import require_private, set_private
from tsys_broker_alpaca.options import AlpacaOptions
from tsys_broker_alpaca.orders import order_request
from tsys_broker_alpaca.stops import StopDesk

_UNIQUE_CID = "client_order_id must be unique"


def _install_timeout(client: Any, timeout: float) -> None:
    # alpaca-py calls session.request(...) without a timeout: a hung connection would block
    # the daily run forever. Give every request ours.
    session = require_private(client, "_session")
    original = session.request

    def request(method: str, url: str, **kwargs: Any) -> Any:
        kwargs.setdefault("timeout", timeout)
        return original(method, url, **kwargs)

    session.request = request


def live_requested(options: dict[str, Any]) -> bool:
    """Decide paper or live from ``options["live"]`` and ``ALPACA_PAPER`` (both must agree)."""
    live_opt = options.get("live", False)
    if not isinstance(live_opt, bool):
        raise ConfigError(f"[broker.options] live must be true or false, got {live_opt!r}")
    env = os.environ.get("ALPACA_PAPER", "true").strip().lower()
    if env not in ("true", "false", "1", "0", "yes", "no"):
        raise ConfigError(f"ALPACA_PAPER must be true or false, got {env!r}")
    env_paper = env in ("true", "1", "yes")
    if live_opt and env_paper:
        raise ConfigError(
            "[broker.options] live = true, but ALPACA_PAPER is not false: refusing to guess",
            hint="LIVE trading moves real money; set ALPACA_PAPER=false as well to confirm, "
            "or remove live = true to paper trade",
        )
    if not live_opt and not env_paper:
        raise ConfigError(
            "ALPACA_PAPER=false, but [broker.options] live is not true: refusing to guess",
            hint="LIVE trading moves real money; set live = true in [broker.options] as well "
            "to confirm, or unset ALPACA_PAPER to paper trade",
        )
    return bool(live_opt)


class AlpacaBroker(StopDesk, Broker):
    """Alpaca trading (paper by default) behind the tsys :class:`Broker` interface.

    Parameters
    ----------
    api_key, secret_key
        Alpaca keys (from ``ALPACA_API_KEY`` / ``ALPACA_API_SECRET`` via ``from_config``).
    paper
        False trades real money; ``from_config`` only sets it after a double confirmation.
    base_url
        Host override (``http://127.0.0.1:PORT`` for a test server; no trailing ``/v2``).
    log
        Where orders and lifecycle events are kept (the store's paper log, else memory).
    crypto_time_in_force
        ``gtc`` (default) or ``ioc`` for crypto orders.
    brackets
        Send equity buys with a fixed stop and a take-profit as bracket orders.
    protective_stops
        Keep each position's stop at Alpaca: OTO entries for equities, standing stops managed
        by :meth:`protect` every paper run (see :mod:`.stops`).
    crypto_stop_band
        A crypto stop is a stop_limit whose limit is this share below the stop.
    timeout
        Seconds to wait for each HTTP answer.
    attempts, backoff
        Temporary failures are retried ``attempts`` times, waiting ``backoff`` seconds,
        doubling; every retry of a submission looks the order up first.
    """

    name = "alpaca"
    options_class = AlpacaOptions

    def __init__(
        self,
        *,
        api_key: str,
        secret_key: str,
        paper: bool = True,
        base_url: str | None = None,
        log: OrderLog | None = None,
        crypto_time_in_force: str = "gtc",
        brackets: bool = False,
        protective_stops: bool = True,
        crypto_stop_band: float = 0.02,
        timeout: float = 15.0,
        attempts: int = 4,
        backoff: float = 2.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        from alpaca.trading.client import TradingClient

        self.paper = paper
        self.log: OrderLog = log if log is not None else MemoryOrderLog()
        self.crypto_tif = crypto_time_in_force
        self.brackets = brackets
        self.protective_stops_on = protective_stops
        self.crypto_stop_band = crypto_stop_band
        self.timeout = timeout
        self.attempts = attempts
        self.backoff = backoff
        self.sleep = sleep
        self.client = TradingClient(
            api_key, secret_key, paper=paper, raw_data=True, url_override=base_url or None
        )
        set_private(self.client, "_retry", 0)  # see the module docstring: we retry, with a look-up

        _install_timeout(self.client, timeout)
        self._foreign: list[ForeignPosition] | None = None
        #: Redacted from every error message this broker makes (see ``apierror``).
        self._secrets = (api_key, secret_key)

    @classmethod
    def from_config(cls, options: dict[str, Any], ctx: BrokerContext) -> Self:
        """Build from ``[broker.options]`` and the environment (keys never come from the file)."""
        opts = structure_options(AlpacaOptions, options, where="$.broker.options")
        live = live_requested({"live": opts.live})
        if opts.api_key is None or opts.secret_key is None:
            raise ConfigError(
                "the alpaca broker needs ALPACA_API_KEY and ALPACA_API_SECRET in the environment",
                hint="create paper keys at https://app.alpaca.markets (Paper account, API keys)",
            )
        log = None
        if ctx.store is not None:
            from tsys.api import StoreOrderLog

            log = StoreOrderLog(ctx.store)
        if live:
            msg = "ALPACA LIVE TRADING: orders from tsys will move REAL MONEY"
            print(f"WARNING: {msg}", file=sys.stderr)
            ctx.warnings.append(msg)
        return cls(
            api_key=opts.api_key,
            secret_key=opts.secret_key,
            paper=not live,
            log=log,
            **opts.broker_kwargs(),
        )

    # ----------------------------------------------------------------- low level
    def _retrying(self, fn: Callable[[], Any], what: str) -> Any:
        """``fn()`` retried on temporary errors with this broker's attempts and back-off."""
        return retry(fn, attempts=self.attempts, backoff=self.backoff, sleep=self.sleep, what=what)

    def _call(self, what: str, fn: Callable[..., Any], *args: Any, submitting: bool = False) -> Any:
        import requests
        from alpaca.common.exceptions import APIError

        try:
            return fn(*args)
        except APIError as exc:
            raise self._map_error(exc, what, submitting) from None
        except requests.exceptions.Timeout:
            raise TemporaryBrokerError(
                f"Alpaca did not answer {what} within {self.timeout:g} s"
            ) from None
        except (requests.exceptions.RequestException, ValueError) as exc:
            # ConnectionError, a dropped connection, or a body that is not JSON.
            raise TemporaryBrokerError(f"Alpaca {what} failed: {type(exc).__name__}") from None

    def _map_error(self, exc: Any, what: str, submitting: bool) -> BrokerError:
        status, message = error_parts(exc, self._secrets)
        text = f"Alpaca refused {what} (HTTP {status}): {message}"
        if status is None or status in (408, 429) or status >= 500:
            return TemporaryBrokerError(text)
        if status == 401:
            return BrokerError(
                text,
                hint="check ALPACA_API_KEY / ALPACA_API_SECRET, and that paper keys go with "
                "paper trading (ALPACA_PAPER)",
            )
        if submitting and status in (400, 403, 422):
            return OrderRejected(text)
        return BrokerError(text)

    def _lookup(self, cid: str) -> dict[str, Any] | None:
        try:
            return self._call("the order look-up", self._lookup_raw, cid)
        except _NotFound:
            return None

    def _lookup_raw(self, cid: str) -> dict[str, Any] | None:
        from alpaca.common.exceptions import APIError

        try:
            raw = self.client.get_order_by_client_id(cid)
        except APIError as exc:
            if exc.status_code == 404:
                raise _NotFound(cid) from None
            raise
        return wire.order_item(raw).raw  # an answer that is not an object: BrokerError

    def _remember(
        self,
        raw: dict[str, Any],
        *,
        bucket: str | None = None,
        decision_date: dt.date | None = None,
        stop: float | None = None,
        leg_of: str | None = None,
    ) -> Order:
        cid = str(raw.get("client_order_id"))
        known = self.log.get_order(self.name, cid)
        if bucket is None:
            bucket = known.bucket if known is not None else ""
        order = wire.parse_order(raw, bucket=bucket, leg_of=leg_of)
        if order.stop_price is None:
            # the stop of the plan that opened the position, kept with its entry order (for an
            # entry Alpaca took without a stop leg: a LIMIT or crypto buy)
            kept = stop if stop is not None else (known.stop_price if known else None)
            order = attrs.evolve(order, stop_price=kept)
        self.log.save_order(self.name, order, decision_date=decision_date)
        for leg in raw.get("legs") or []:  # a stop-loss leg's fill is tsys's fill too
            if wire.order_item(leg).get("status") != "held":
                self._remember(leg, bucket=bucket, leg_of=cid)
        raw_status = str(raw.get("status"))
        note = "" if raw_status == order.status.value else f"alpaca status {raw_status}"
        self.log.record_event(self.name, event_for(order, wire.event_time(raw), note))
        return order

    # ----------------------------------------------------------------- Broker interface
    def account(self) -> AccountState:
        raw = self._retrying(
            lambda: self._call("the account request", self.client.get_account),
            "reading the Alpaca account",
        )
        cash, equity, bp, currency = wire.parse_account(raw)
        return AccountState(
            cash=cash, equity=equity, buying_power=bp, currency=currency, as_of=utcnow()
        )

    def positions(self) -> list[PositionRecord]:
        """Positions tsys trades (equities, crypto); see :meth:`foreign_positions` for others.

        One position Alpaca sends in a shape tsys cannot read makes the whole answer a
        :class:`BrokerError` naming the position and the field: a partial book would be sized
        against as if complete.
        """
        return self._read_positions()[0]

    def foreign_positions(self) -> list[ForeignPosition]:
        """Positions in asset classes tsys does not trade (``us_option``): listed, never sized."""
        if self._foreign is None:
            self._read_positions()
        return list(self._foreign or [])

    def _read_positions(self) -> tuple[list[PositionRecord], list[ForeignPosition]]:
        payload = self._retrying(
            lambda: self._call("the positions request", self.client.get_all_positions),
            "reading Alpaca positions",
        )
        now = utcnow()
        opened = self._first_fills()
        held: list[PositionRecord] = []
        foreign: list[ForeignPosition] = []
        for n, raw in enumerate(wire.position_items(payload), 1):
            p = wire.parse_position(raw, n, paper=self.paper, opened=opened, now=now)
            (foreign if isinstance(p, ForeignPosition) else held).append(p)
        self._foreign = foreign
        return held, foreign

    def _first_fills(self) -> dict[str, dt.datetime]:
        first: dict[str, dt.datetime] = {}
        for o in self.log.orders(self.name):
            if o.filled_quantity > 0 and (
                o.symbol not in first or o.submitted_at < first[o.symbol]
            ):
                first[o.symbol] = o.submitted_at
        return first

    def submit(
        self, plans: Sequence[TradePlan], *, decision_date: dt.date | None = None
    ) -> list[Order]:
        """Submit BUY/SELL plans idempotently; one order per plan, in order.

        A plan Alpaca (or tsys, before sending) refuses comes back as a REJECTED order with the
        reason in its lifecycle log. When some plans still fail temporarily after every
        attempt, the others are submitted first, then :class:`TemporaryBrokerError` is raised
        naming them, with the orders placed so far in its ``orders`` attribute.
        """
        orders: list[Order] = []
        failed: list[str] = []
        permanent = False
        todo = tradable(plans)
        if not todo:
            return []
        held = self._held_before_orders()
        if self.log.baseline(self.name) is None:
            # What the account held before tsys's first order: reconciliation starts here.
            acct = self.account()
            self.log.set_baseline(self.name, Baseline(cash=acct.cash, positions=held, at=utcnow()))
        for plan in todo:
            try:
                orders.append(self._submit_one(plan, decision_date, held))
            except OrderRejected as exc:
                orders.append(self._rejected(plan, exc.message, decision_date))
            except TemporaryBrokerError as exc:
                failed.append(f"{plan.client_order_id}: {exc.message}")
            except BrokerError as exc:  # e.g. an answer tsys cannot read: the others go on
                failed.append(f"{plan.client_order_id}: {exc.message}")
                permanent = True
        if failed:
            err = (BrokerError if permanent else TemporaryBrokerError)(
                f"{len(failed)} of {len(orders) + len(failed)} orders could not be confirmed "
                "at Alpaca:\n  " + "\n  ".join(failed),
                hint="re-run the same day: orders already placed are found by client_order_id "
                "and never placed twice",
            )
            err.orders = orders  # type: ignore[attr-defined]
            raise err
        return orders

    def _held_before_orders(self) -> dict[str, float]:
        """Signed quantities held now; unreadable positions stop every order of the day.

        The day's plans were sized against these positions: when Alpaca's answer cannot be
        read, the plans were made without them ("paper positions not counted") and a BUY may
        be for a symbol already held, so nothing is placed.
        """
        try:
            positions = self.positions()
        except BrokerError as exc:
            err = type(exc)(
                "no order placed: the Alpaca positions cannot be read, so the day's plans were "
                f"sized without them ({exc.message})",
                hint="fix or report the broker data, then run the day again with --force",
            )
            err.orders = []  # type: ignore[attr-defined]
            raise err from None
        held: dict[str, float] = {}
        for p in positions:
            held[p.symbol] = held.get(p.symbol, 0.0) + (
                p.quantity if p.side is Side.BUY else -p.quantity
            )
        return held

    def _submit_one(
        self, plan: TradePlan, decision_date: dt.date | None, held: dict[str, float]
    ) -> Order:
        cid = plan.client_order_id
        bucket = plan.allocation.signal.bucket
        request = order_request(
            plan, crypto_tif=self.crypto_tif, brackets=self.brackets, oto=self.protective_stops_on
        )
        symbol = plan.allocation.signal.symbol

        def attempt() -> dict[str, Any]:
            existing = self._lookup(cid)
            if existing is not None:
                return existing
            if plan.action is Action.SELL and self.protective_stops_on:
                # Alpaca reserves shares for a working stop sell: free them for the exit.
                self._cancel_stops_before_sell(symbol)
            if plan.action is Action.BUY and held.get(symbol, 0.0) > 0:
                raise OrderRejected(
                    f"{symbol} is already held at Alpaca ({held[symbol]:g}): a BUY plan is for "
                    "a symbol not held, so this one was made without counting that position"
                )
            try:
                raw = self._call("the order", self.client.submit_order, request, submitting=True)
            except OrderRejected as exc:
                if _UNIQUE_CID not in exc.message:
                    raise
                # An earlier POST of ours landed although we did not see its answer.
                found = self._lookup(cid)
                if found is None:
                    raise TemporaryBrokerError(
                        f"Alpaca says {cid} exists but cannot find it yet"
                    ) from None
                return found
            if not isinstance(raw, dict):
                raise TemporaryBrokerError("Alpaca answered the order with a non-object")
            return raw

        raw = self._retrying(attempt, f"submitting {cid}")
        level = plan.stop.price if plan.stop is not None and plan.action is Action.BUY else None
        return self._remember(raw, bucket=bucket, decision_date=decision_date, stop=level)

    def _rejected(self, plan: TradePlan, reason: str, decision_date: dt.date | None) -> Order:
        now = utcnow()
        qty = plan.allocation.quantity if plan.allocation.quantity > 0 else 1e-9
        order = plan_order(
            plan,
            quantity=qty,
            time_in_force=TimeInForce.DAY,
            submitted_at=now,
            status=OrderStatus.REJECTED,
            limit_price=plan.limit_price,
        )
        log_order(self.log, self.name, order, now, reason, decision_date=decision_date)
        return order

    def order(self, client_order_id: str) -> Order | None:
        raw = self._retrying(lambda: self._lookup(client_order_id), "looking up an order")
        if raw is None:
            return self.log.get_order(self.name, client_order_id)
        return self._remember(raw)

    def open_order_payloads(self) -> list[Any]:
        """The raw open orders (legs nested in their parent), as a list."""
        from alpaca.trading.enums import QueryOrderStatus
        from alpaca.trading.requests import GetOrdersRequest

        req = GetOrdersRequest(status=QueryOrderStatus.OPEN, limit=500, nested=True)
        raws = self._retrying(
            lambda: self._call("the open-orders request", self.client.get_orders, req),
            "listing open Alpaca orders",
        )
        return payload_items(raws, broker="Alpaca", what="the open-orders request")

    def open_orders(self) -> list[Order]:
        out = []
        for raw in self.open_order_payloads():
            order = wire.parse_order(raw)
            known = self.log.get_order(self.name, order.client_order_id)
            out.append(self._remember(raw) if known is not None else order)
        return out

    def cancel(self, client_order_id: str) -> None:
        raw = self._retrying(lambda: self._lookup(client_order_id), "looking up an order")
        if raw is None:
            raise BrokerError(f"Alpaca has no order with client_order_id {client_order_id}")
        if wire.status_of(raw).is_final:
            self._remember(raw)
            return
        oid = str(wire.order_item(raw).text("id"))
        self._retrying(
            lambda: self._call("the cancel", self.client.cancel_order_by_id, oid),
            f"canceling {client_order_id}",
        )
        self.order(client_order_id)

    def refresh(self) -> list[Order]:
        """Poll every order of ours that is not final; log each status change seen.

        An order Alpaca answers for in a shape tsys cannot read does not stop the others: they
        are all polled, then one :class:`BrokerError` names every order that could not be read
        (a :class:`TemporaryBrokerError` when every failure was temporary).
        """
        out: list[Order] = []
        problems: list[BrokerError] = []
        for known in self.log.orders(self.name, final=False):
            try:
                out.append(self.order(known.client_order_id) or known)
            except BrokerError as exc:
                problems.append(exc)
                out.append(known)
        if problems:
            cls = (
                TemporaryBrokerError
                if all(isinstance(p, TemporaryBrokerError) for p in problems)
                else BrokerError
            )
            raise cls(
                f"{len(problems)} of {len(out)} open orders not refreshed from Alpaca: "
                + "; ".join(p.message for p in problems),
                hint=problems[0].hint,
            )
        return out

    def events(self, since: dt.datetime | None = None):
        """Poll open orders (:meth:`refresh`), then return the logged events since ``since``."""
        self.refresh()
        return self.log.events(self.name, since=since)


class _NotFound(Exception):
    pass
