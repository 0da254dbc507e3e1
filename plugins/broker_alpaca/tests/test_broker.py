"""The Alpaca broker driven through the real alpaca-py client against the loopback fake."""

import contextlib
import datetime as dt
import random
from importlib.metadata import entry_points

import pytest
from alpaca_helpers import make_plan
from fake_alpaca import FAULT_KINDS, KEY, SECRET

from tsys.api import MemoryOrderLog, reconcile
from tsys.brokers import BrokerContext
from tsys.contracts import OrderStatus
from tsys.errors import BrokerError, ConfigError, TemporaryBrokerError


def test_discovered_through_entry_point():
    eps = {ep.name: ep.value for ep in entry_points(group="tsys")}
    assert eps.get("broker-alpaca") == "tsys_broker_alpaca"
    from tsys.plugins import build_plugin_manager, reset_plugin_manager

    pm = build_plugin_manager()
    reset_plugin_manager(pm)
    try:
        from tsys import plugins

        assert plugins.brokers().get("alpaca").__name__ == "AlpacaBroker"
        assert plugins.data_sources().get("alpaca").__name__ == "AlpacaDataSource"
        assert plugins.brokers().owner("alpaca") == "broker-alpaca"
    finally:
        reset_plugin_manager(None)


def test_fake_answers_parse_into_alpaca_py_models(fake):
    """The fake's JSON satisfies alpaca-py's strict pydantic models (not only raw dicts)."""
    from alpaca.common.exceptions import APIError
    from alpaca.trading.client import TradingClient
    from alpaca.trading.enums import OrderSide, QueryOrderStatus, TimeInForce
    from alpaca.trading.enums import OrderStatus as AStatus
    from alpaca.trading.requests import GetOrdersRequest, MarketOrderRequest

    def buy(symbol: str, qty: float, cid: str):
        order = MarketOrderRequest(
            symbol=symbol,
            qty=qty,
            side=OrderSide.BUY,
            time_in_force=TimeInForce.GTC,
            client_order_id=cid,
        )
        return c.submit_order(order)

    c = TradingClient(KEY, SECRET, paper=True, url_override=fake.url)
    assert c.get_account().status.value == "ACTIVE"
    o = buy("BTC/USD", 0.01, "m1")
    assert o.status is AStatus.ACCEPTED
    assert c.get_order_by_client_id("m1").id == o.id
    assert c.get_order_by_id(o.id).client_order_id == "m1"
    assert [x.id for x in c.get_orders(GetOrdersRequest(status=QueryOrderStatus.OPEN))] == [o.id]
    fake.advance_day({"BTC/USD": 61_000.0})
    pos = c.get_all_positions()
    assert [(p.symbol, p.exchange.value, float(p.qty)) for p in pos] == [("BTCUSD", "CRYPTO", 0.01)]
    o2 = buy("AAPL", 1, "m2")
    assert c.cancel_order_by_id(o2.id) is None  # 204, empty body
    assert c.get_order_by_id(o2.id).status is AStatus.CANCELED
    assert c.get_clock().is_open is False
    bad = TradingClient("wrong", "keys", url_override=fake.url)
    with pytest.raises(APIError) as ei:
        bad.get_account()
    assert ei.value.status_code == 401
    with pytest.raises(KeyError):  # the 401 body has no "code": the trap alpaca-py leaves open
        _ = ei.value.code


def test_submit_fill_positions_and_rerun_idempotent(fake, make_broker):
    b = make_broker()
    plans = [make_plan("AAPL", 10), make_plan("BTC-USD", 0.015), make_plan("MSFT", 3.7)]
    orders = b.submit(plans, decision_date=dt.date(2024, 5, 1))
    assert [o.status for o in orders] == [OrderStatus.ACCEPTED] * 3
    assert [o.quantity for o in orders] == [10.0, 0.015, 3.0]  # whole shares for equities
    sent = {o["client_order_id"]: o for o in fake.orders.values()}
    assert sent[plans[0].client_order_id]["time_in_force"] == "opg"
    assert sent[plans[1].client_order_id]["symbol"] == "BTC/USD"
    assert sent[plans[1].client_order_id]["time_in_force"] == "gtc"

    fake.advance_day({"AAPL": 191.5, "BTC/USD": 60_500.0, "MSFT": 401.0})
    events = b.events()
    filled = [e for e in events if e.status is OrderStatus.FILLED]
    assert {e.client_order_id for e in filled} == {p.client_order_id for p in plans}
    assert {e.client_order_id: e.filled_avg_price for e in filled}[
        plans[0].client_order_id
    ] == 191.5
    assert all(e.timestamp.tzinfo is not None for e in events)

    pos = {p.symbol: p for p in b.positions()}
    assert set(pos) == {"AAPL", "BTC-USD", "MSFT"}  # BTCUSD at Alpaca -> BTC-USD in tsys
    assert pos["BTC-USD"].quantity == pytest.approx(0.015)
    assert pos["BTC-USD"].entry_price == pytest.approx(60_500.0)
    acct = b.account()
    spent = 10 * 191.5 + 0.015 * 60_500.0 + 3 * 401.0
    assert acct.cash == pytest.approx(100_000.0 - spent)

    posts = fake.order_posts
    again = b.submit(plans)
    assert fake.order_posts == posts  # the re-run only looked the orders up
    assert [o.broker_order_id for o in again] == [o.broker_order_id for o in orders]
    assert all(n == 1 for n in fake.count_by_cid().values())

    report = reconcile(b, b.log)
    assert report.differences == []


def test_reconcile_reports_manual_trade_and_unfilled_order(fake, make_broker):
    b = make_broker()
    b.submit([make_plan("AAPL", 10), make_plan("MSFT", 2, entry="LIMIT", limit=350.0)])
    fake.advance_day({"AAPL": 190.0, "MSFT": 400.0})  # the limit is not reached: expires
    fake.add_position("ETHUSD", 1.0, 3_000.0, "crypto")  # bought by hand at the broker
    report = reconcile(b, b.log)
    by_symbol = {d.symbol: d for d in report.differences}
    assert set(by_symbol) == {"ETH-USD", "cash"}
    assert "outside tsys" in by_symbol["ETH-USD"].cause
    assert by_symbol["cash"].actual - by_symbol["cash"].expected == pytest.approx(-3_000.0)
    # The reconciliation only read: no order was placed or canceled.
    assert all(m == "GET" for m, _ in fake.requests[-4:])


def test_partial_fill_then_expiry_is_logged(fake, make_broker):
    b = make_broker()
    b.submit([make_plan("AAPL", 10)])
    fake.advance_day({"AAPL": 190.0}, partial={"AAPL": 0.4})
    statuses = [(e.status, e.filled_quantity) for e in b.events()]
    assert statuses == [
        (OrderStatus.ACCEPTED, 0.0),
        (OrderStatus.EXPIRED, 4.0),
    ]
    # The partial state between two polls is not seen; poll in between to log it.
    (o2,) = b.submit([make_plan("MSFT", 10)])
    fake.faults.clear()
    fake.advance_day({"MSFT": 400.0}, partial={"MSFT": 0.5})
    assert b.order(o2.client_order_id).status is OrderStatus.EXPIRED


def test_partial_fill_seen_while_working(fake, make_broker):
    b = make_broker()
    (o,) = b.submit([make_plan("ETH-USD", 2.0)])
    fake.advance_day({"ETH/USD": 3_000.0}, partial={"ETH/USD": 0.25})  # gtc: stays working
    assert b.order(o.client_order_id).status is OrderStatus.PARTIALLY_FILLED
    fake.advance_day({"ETH/USD": 3_100.0})
    b.refresh()
    evs = b.log.events("alpaca", client_order_id=o.client_order_id)
    assert [e.status for e in evs] == [
        OrderStatus.ACCEPTED,
        OrderStatus.PARTIALLY_FILLED,
        OrderStatus.FILLED,
    ]
    assert evs[-1].filled_avg_price == pytest.approx((0.5 * 3_000 + 1.5 * 3_100) / 2.0)


def test_insufficient_buying_power_is_a_rejected_order(fake, make_broker):
    b = make_broker()
    (o,) = b.submit([make_plan("MSFT", 1_000)])  # 400k > 100k cash
    assert o.status is OrderStatus.REJECTED
    (ev,) = b.log.events("alpaca", client_order_id=o.client_order_id)
    assert "insufficient buying power" in ev.message and "403" in ev.message
    assert fake.orders == {}


def test_bracket_orders_and_crypto_without(fake, make_broker):
    b = make_broker(brackets=True)
    b.submit(
        [
            make_plan("AAPL", 5, stop=180.123, target=210.0),
            make_plan("BTC-USD", 0.01, stop=50_000.0, target=70_000.0),
        ]
    )
    by_sym = {o["symbol"]: o for o in fake.orders.values() if "parent" not in o}
    assert by_sym["AAPL"]["order_class"] == "bracket"
    assert by_sym["AAPL"]["time_in_force"] == "day"  # Alpaca refuses opg brackets
    legs = fake.order_json(by_sym["AAPL"])["legs"]
    assert sorted(str(leg.get("stop_price")) for leg in legs) == ["180.12", "None"]
    assert by_sym["BTC/USD"]["order_class"] == ""  # crypto: no brackets at Alpaca
    (o,) = [x for x in b.open_orders() if x.symbol == "AAPL"]
    assert (o.stop_price, o.take_profit) == (180.12, 210.0)


def test_cancel_answers_204_and_logs(fake, make_broker):
    b = make_broker()
    (o,) = b.submit([make_plan("BTC-USD", 0.01, entry="LIMIT", limit=50_000.0)])
    b.cancel(o.client_order_id)
    assert b.order(o.client_order_id).status is OrderStatus.CANCELED
    assert ("DELETE", f"/v2/orders/{o.broker_order_id}") in fake.requests
    b.cancel(o.client_order_id)  # already final: nothing to do, no error
    with pytest.raises(BrokerError, match="no order"):
        b.cancel("never-sent")


@pytest.mark.parametrize("kind", FAULT_KINDS)
def test_each_fault_on_submit_gives_exactly_one_order(fake, make_broker, kind):
    b = make_broker()
    fake.faults.append(("POST", "/v2/orders", kind))
    (o,) = b.submit([make_plan("AAPL", 3)])
    assert o.status is OrderStatus.ACCEPTED
    assert fake.count_by_cid() == {o.client_order_id: 1}
    assert fake.duplicate_cid_posts == 0
    assert fake.faults_applied == [("POST", "/v2/orders", kind)]
    processed = kind.endswith("_after")
    posts = [r for r in fake.requests if r == ("POST", "/v2/orders")]
    assert len(posts) == (1 if processed else 2)
    assert fake.order_posts == 1  # requests that reached the order book


def test_lost_answer_then_unique_violation_fetches_existing(fake, make_broker):
    """A POST lands, the answer is lost, and the look-up also fails: the 422 path recovers."""
    b = make_broker()
    fake.faults += [
        ("POST", "/v2/orders", "drop_after"),
        ("GET", "/v2/orders:by_client_order_id", "503"),
    ]
    b.attempts = 2
    # attempt 1: look-up 404 -> POST dropped; attempt 2: look-up 503 -> temporary ... re-run:
    with pytest.raises(TemporaryBrokerError, match="re-run"):
        b.submit([make_plan("AAPL", 3)])
    (o,) = b.submit([make_plan("AAPL", 3)])
    assert fake.count_by_cid() == {o.client_order_id: 1}


def test_persistent_429_is_temporary_and_fast(fake, make_broker):
    import time

    b = make_broker()
    fake.fault_fn = lambda m, p: "429"
    t0 = time.perf_counter()
    with pytest.raises(TemporaryBrokerError) as ei:
        b.account()
    assert "429" in str(ei.value) and "4 attempts" in str(ei.value)
    assert time.perf_counter() - t0 < 2.0  # alpaca-py's own 3 x 3 s retry is off
    assert len(fake.requests) == 4


def test_fault_injection_many_daily_cycles(fake, make_broker):
    """30 faulted days: every plan ends up as exactly one order; none lost, none doubled."""
    rng = random.Random(20240501)
    b = make_broker()
    fault_rate = 0.35
    fake.fault_fn = lambda m, p: rng.choice(FAULT_KINDS) if rng.random() < fault_rate else None
    universe = ["AAPL", "MSFT", "BTC-USD", "ETH-USD"]
    prices = {"AAPL": 190.0, "MSFT": 400.0, "BTC/USD": 60_000.0, "ETH/USD": 3_000.0}
    all_plans = {}
    held: dict[str, float] = {}
    reruns = 0
    for day in range(30):
        plans = []
        for s in rng.sample(universe, 2):
            qty = round(rng.uniform(0.01, 0.2), 4) if "-" in s else rng.randint(1, 5)
            plans.append(make_plan(s, qty, cid=f"d{day}-{s}-buy"))
        for s, q in list(held.items()):
            if rng.random() < 0.3:
                plans.append(make_plan(s, q, action="sell", cid=f"d{day}-{s}-sell"))
        for p in plans:
            all_plans[p.client_order_id] = p
        for _ in range(8):  # the scheduler re-runs a failed day
            try:
                orders = b.submit(plans)
                break
            except TemporaryBrokerError:
                reruns += 1
        else:
            pytest.fail(f"day {day} never went through")
        for o in orders:
            if o.status is OrderStatus.REJECTED:
                assert o.client_order_id not in fake.by_cid
        for s in prices:
            prices[s] *= 1 + rng.uniform(-0.03, 0.03)
        with fake.lock:
            fake_fn, fake.fault_fn = fake.fault_fn, None
        fake.advance_day(dict(prices))
        fake.fault_fn = fake_fn
        with contextlib.suppress(TemporaryBrokerError):
            b.refresh()
        held = {}
        for o in fake.orders.values():
            sym_ = o["symbol"].replace("/", "-")
            sign = 1 if o["side"] == "buy" else -1
            held[sym_] = held.get(sym_, 0.0) + sign * o["filled_qty"]
        held = {s: round(q, 9) for s, q in held.items() if q > 1e-9}

    fake.fault_fn = None
    b.refresh()
    counts = fake.count_by_cid()
    assert fake.duplicate_cid_posts == 0
    assert all(n == 1 for n in counts.values()), "duplicate orders"
    rejected = {
        o.client_order_id for o in b.log.orders("alpaca") if o.status is OrderStatus.REJECTED
    }
    lost = set(all_plans) - set(counts) - rejected
    assert lost == set(), f"lost orders: {sorted(lost)}"
    assert rejected.isdisjoint(counts)
    for o in b.log.orders("alpaca"):
        if o.client_order_id in counts:
            raw = fake.orders[fake.by_cid[o.client_order_id]]
            assert o.filled_quantity == pytest.approx(raw["filled_qty"])
    kinds = {k for _, _, k in fake.faults_applied}
    assert kinds == set(FAULT_KINDS), f"not every fault was exercised: {kinds}"
    assert len(fake.faults_applied) > 60
    assert reconcile(b, b.log).differences == []


def test_live_needs_double_confirmation(monkeypatch):
    from tsys_broker_alpaca.broker import AlpacaBroker, live_requested

    monkeypatch.delenv("ALPACA_PAPER", raising=False)
    assert live_requested({}) is False
    with pytest.raises(ConfigError, match="ALPACA_PAPER is not false"):
        live_requested({"live": True})
    monkeypatch.setenv("ALPACA_PAPER", "false")
    with pytest.raises(ConfigError, match="live is not true"):
        live_requested({})
    assert live_requested({"live": True}) is True
    monkeypatch.setenv("ALPACA_API_KEY", KEY)
    monkeypatch.setenv("ALPACA_API_SECRET", SECRET)
    ctx = BrokerContext()
    b = AlpacaBroker.from_config({"live": True, "base_url": "http://127.0.0.1:9"}, ctx)
    assert b.paper is False
    assert any("REAL MONEY" in w for w in ctx.warnings)


def test_missing_keys_and_unknown_options(monkeypatch):
    from tsys_broker_alpaca.broker import AlpacaBroker

    monkeypatch.delenv("ALPACA_PAPER", raising=False)
    monkeypatch.delenv("ALPACA_API_KEY", raising=False)
    with pytest.raises(ConfigError, match="ALPACA_API_KEY"):
        AlpacaBroker.from_config({}, BrokerContext())
    monkeypatch.setenv("ALPACA_API_KEY", "k-should-not-leak")
    monkeypatch.setenv("ALPACA_API_SECRET", "s-should-not-leak")
    with pytest.raises(ConfigError, match="bracket") as ei:
        AlpacaBroker.from_config({"bracket": True}, BrokerContext())
    assert "leak" not in str(ei.value)


def test_no_secret_in_error_messages(fake, make_broker):
    b = make_broker(api_key="wrong-key-123", secret_key="wrong-secret-456")
    with pytest.raises(BrokerError) as ei:
        b.account()
    assert "401" in str(ei.value)
    assert "wrong-key-123" not in str(ei.value) and "wrong-secret-456" not in str(ei.value)


def test_memory_log_is_default(make_broker):
    assert isinstance(make_broker().log, MemoryOrderLog)


def test_lifecycle_log_persists_in_the_store(fake, make_broker, tmp_path):
    from tsys.store import open_store
    from tsys.store.paper import StoreOrderLog

    store = open_store(data_dir=tmp_path)
    b = make_broker(log=StoreOrderLog(store))
    (o,) = b.submit([make_plan("BTC-USD", 0.5)])
    fake.advance_day({"BTC/USD": 61_000.0})
    b.refresh()
    store.close()
    store2 = open_store(data_dir=tmp_path)
    log = StoreOrderLog(store2)
    assert [e.status for e in log.events("alpaca")] == [OrderStatus.ACCEPTED, OrderStatus.FILLED]
    assert log.baseline("alpaca").cash == 100_000.0
    assert log.get_order("alpaca", o.client_order_id).filled_avg_price == 61_000.0
    store2.close()
