"""Issue 13.1 (Alpaca): a paper position at Alpaca is never unprotected between runs.

Driven through the real alpaca-py client against the loopback fake, which implements what the
broker uses: OTO orders with a held stop-loss leg that starts working when the entry fills,
standing stop and stop_limit orders, ``PATCH`` replacement (``replaces``/``replaced_by``),
cancel, and Alpaca's reservation of shares held for a working sell.
"""

import pytest
from alpaca_helpers import make_plan
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tsys.brokers.common import reconcile
from tsys.contracts import OrderStatus


def _stops(fake, symbol):
    return [
        o
        for o in fake.orders.values()
        if o["symbol"] == symbol and o["type"] in ("stop", "stop_limit") and o["side"] == "sell"
    ]


def _working(fake, symbol):
    return [o for o in _stops(fake, symbol) if o["status"] in ("new", "accepted")]


def test_protective_stop_equity_entry_carries_its_stop_leg(fake, make_broker):
    b = make_broker()
    (o,) = b.submit([make_plan("AAPL", 10, stop=180.0)])
    sent = fake.orders[o.broker_order_id]
    assert (sent["order_class"], sent["time_in_force"], sent["type"]) == ("oto", "gtc", "market")
    (leg,) = _stops(fake, "AAPL")
    assert leg["status"] == "held" and leg["stop_price"] == 180.0  # waits for the entry
    fake.advance_day({"AAPL": 190.0})  # the entry fills at the open ...
    (leg,) = _stops(fake, "AAPL")
    assert (leg["status"], leg["qty"], leg["time_in_force"]) == ("new", 10.0, "gtc")
    fake.advance_day({"AAPL": 185.0})  # ... and the stop works from then on, day after day
    assert _working(fake, "AAPL")
    assert b.protective_stops()["AAPL"][0].stop_price == 180.0


def test_protective_stop_gap_through_fills_at_the_open_and_is_logged(fake, make_broker):
    b = make_broker()
    b.submit([make_plan("AAPL", 10, stop=180.0)])
    fake.advance_day({"AAPL": 190.0})
    b.refresh()
    fake.advance_day({"AAPL": 170.0})  # gaps through the stop: filled at the open, 170
    assert "AAPL" not in fake.positions
    b.refresh()
    fills = [o for o in b.log.orders("alpaca") if o.side.value == "sell"]
    assert [(o.status, o.filled_avg_price) for o in fills] == [(OrderStatus.FILLED, 170.0)]
    assert reconcile(b, b.log).differences == []  # the stop's fill is tsys's own


def test_protective_stop_moves_with_the_plan_and_is_replaced(fake, make_broker):
    b = make_broker()
    buy = make_plan("AAPL", 10, stop=180.0)
    b.submit([buy])
    fake.advance_day({"AAPL": 190.0})
    (first,) = _working(fake, "AAPL")
    hold = make_plan("AAPL", 10, action="hold", stop=184.5)  # a trailing stop moved up
    (act,) = b.protect([hold])
    assert (act.action, act.level, act.previous) == ("replaced", 184.5, 180.0)
    (now,) = _working(fake, "AAPL")
    assert now["replaces"] == first["id"] and first["status"] == "replaced"
    assert fake.orders[first["id"]]["replaced_by"] == now["id"]
    (act,) = b.protect([hold])  # the same level again: nothing sent
    assert act.action == "kept" and fake.replacements == 1


def test_protective_stop_missing_is_placed_then_reconciled(fake, make_broker):
    b = make_broker()
    b.submit([make_plan("MSFT", 3, entry="LIMIT", limit=401.0, stop=380.0)])  # no OTO for LIMIT
    fake.advance_day({"MSFT": 400.0})
    b.refresh()
    assert _working(fake, "MSFT") == []
    report = reconcile(b, b.log, stops={"MSFT": 380.0})
    (d,) = report.differences
    assert d.symbol == "MSFT stop" and "no protective stop" in d.cause
    (act,) = b.protect([make_plan("MSFT", 3, action="hold", stop=380.0)])
    assert act.action == "placed"
    (stop,) = _working(fake, "MSFT")
    assert (stop["type"], stop["time_in_force"], stop["qty"]) == ("stop", "gtc", 3.0)
    assert reconcile(b, b.log, stops={"MSFT": 380.0}).differences == []
    stale = reconcile(b, b.log, stops={"MSFT": 385.0}).differences
    assert [d.symbol for d in stale] == ["MSFT stop"] and "stale" in stale[0].cause


def test_protective_stop_crypto_is_a_standing_stop_limit(fake, make_broker):
    b = make_broker(crypto_stop_band=0.05)
    (o,) = b.submit([make_plan("BTC-USD", 0.5, stop=55_000.0)])
    assert fake.orders[o.broker_order_id]["order_class"] == ""  # Alpaca: no OTO for crypto
    fake.advance_day({"BTC/USD": 60_000.0})
    (act,) = b.protect([make_plan("BTC-USD", 0.5, action="hold", stop=55_000.0)])
    assert act.action == "placed"
    (stop,) = _working(fake, "BTC/USD")
    assert (stop["type"], stop["stop_price"], stop["limit_price"]) == (
        "stop_limit",
        55_000.0,
        52_250.0,
    )
    # the level moves: crypto stops are canceled and placed again (no fractional replace)
    (act,) = b.protect([make_plan("BTC-USD", 0.5, action="hold", stop=57_000.0)])
    assert (act.action, act.previous) == ("replaced", 55_000.0)
    assert [s["stop_price"] for s in _working(fake, "BTC/USD")] == [57_000.0]
    assert stop["status"] == "canceled"


def test_protective_stop_canceled_before_the_sell_and_when_closed(fake, make_broker):
    b = make_broker()
    b.submit([make_plan("AAPL", 10, stop=180.0), make_plan("MSFT", 2, stop=380.0)])
    fake.advance_day({"AAPL": 190.0, "MSFT": 400.0})
    # a SELL would be refused while the stop holds the shares: the stop is canceled first
    (sell,) = b.submit([make_plan("AAPL", 10, action="sell", cid="aapl-exit")])
    assert sell.status is OrderStatus.ACCEPTED
    assert _working(fake, "AAPL") == []
    # MSFT closed by hand at the broker: its stop is canceled by the next management pass
    with fake.lock:
        del fake.positions["MSFT"]
    acts = b.protect([make_plan("MSFT", 2, action="hold", stop=380.0)])
    assert [(a.symbol, a.action) for a in acts] == [("MSFT", "canceled")]
    assert _working(fake, "MSFT") == []


def test_protective_stop_off_sends_plain_orders(fake, make_broker):
    b = make_broker(protective_stops=False)
    (o,) = b.submit([make_plan("AAPL", 10, stop=180.0)])
    assert fake.orders[o.broker_order_id]["time_in_force"] == "opg"
    fake.advance_day({"AAPL": 190.0})
    assert b.protect([make_plan("AAPL", 10, action="hold", stop=180.0)]) == []
    assert _stops(fake, "AAPL") == []


@pytest.mark.parametrize("bad", [0.0, 0.5, -0.1])
def test_protective_stop_band_is_checked(bad):
    from tsys_broker_alpaca.options import AlpacaOptions

    from tsys.api import ConfigError, structure_options

    with pytest.raises(
        ConfigError, match=r"below 0.5, got .* @ \$\.broker\.options\.crypto_stop_band"
    ):
        structure_options(AlpacaOptions, {"crypto_stop_band": bad}, where="$.broker.options")


def test_protective_stop_level_of_the_opening_plan_when_no_plan_moves_it(fake, make_broker):
    """A held position whose latest plan carries no stop keeps the stop of the plan that
    opened it: a stop canceled by hand at Alpaca is reported, then placed again there."""
    b = make_broker()
    b.submit([make_plan("AAPL", 10, stop=180.0)])
    fake.advance_day({"AAPL": 190.0})
    b.refresh()
    (leg,) = _working(fake, "AAPL")
    with fake.lock:
        fake._cancel(leg)  # canceled by hand in Alpaca's dashboard
    (d,) = reconcile(b, b.log, stops={}).differences
    assert (d.symbol, d.expected, d.actual) == ("AAPL stop", 180.0, 0.0)
    (act,) = b.protect([])  # no plan today names AAPL's stop
    assert (act.action, act.level, act.quantity) == ("placed", 180.0, 10.0)
    assert reconcile(b, b.log, stops={}).differences == []


def test_protective_stop_canceled_by_hand_same_day_is_placed_again(fake, make_broker):
    """The same stop (symbol, day, level, quantity) canceled by hand: its id is taken at
    Alpaca, so the new one gets the next id instead of being mistaken for the old."""
    b = make_broker()
    b.submit([make_plan("MSFT", 3, entry="LIMIT", limit=401.0, stop=380.0)])
    fake.advance_day({"MSFT": 400.0})
    hold = [make_plan("MSFT", 3, action="hold", stop=380.0)]
    b.protect(hold)
    (first,) = _working(fake, "MSFT")
    with fake.lock:
        fake._cancel(first)
    (act,) = b.protect(hold)
    (second,) = _working(fake, "MSFT")
    assert act.action == "placed" and second["client_order_id"] == first["client_order_id"] + "-1"
    posts = fake.order_posts
    b.protect(hold)  # working: kept, nothing sent
    assert fake.order_posts == posts


def test_protective_stop_one_failure_leaves_the_others_managed(fake, make_broker):
    from tsys.errors import BrokerError

    b = make_broker()
    b.submit(
        [
            make_plan("AAPL", 5, entry="LIMIT", limit=191.0, stop=180.0),
            make_plan("MSFT", 3, entry="LIMIT", limit=401.0, stop=380.0),
        ]
    )
    fake.advance_day({"AAPL": 190.0, "MSFT": 400.0})
    fake.echo_body = {"code": 42210000, "message": "stop price too far from market"}
    fake.faults.append(("POST", "/v2/orders", "echo"))  # AAPL's stop (the first) is refused
    holds = [
        make_plan("AAPL", 5, action="hold", stop=180.0),
        make_plan("MSFT", 3, action="hold", stop=380.0),
    ]
    with pytest.raises(BrokerError) as ei:
        b.protect(holds)
    assert "1 protective stop(s) not updated" in ei.value.message
    assert "AAPL" in ei.value.message and "too far from market" in ei.value.message
    assert [(a.symbol, a.action) for a in ei.value.actions] == [("MSFT", "placed")]
    assert _working(fake, "AAPL") == [] and len(_working(fake, "MSFT")) == 1
    assert [d.symbol for d in reconcile(b, b.log, stops={}).differences] == ["AAPL stop"]
    (_, act) = b.protect(holds)  # the next run retries: both protected
    assert act.symbol == "MSFT" and act.action == "kept" and len(_working(fake, "AAPL")) == 1


OPS = st.lists(
    st.tuples(
        st.sampled_from(["move", "cancel_by_hand", "close_by_hand", "nothing"]),
        st.sampled_from(["AAPL", "BTC-USD"]),
        st.floats(0.80, 0.99),
    ),
    min_size=1,
    max_size=6,
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=OPS, oto=st.booleans())
def test_protective_stop_property_one_stop_per_position_at_the_plan_level(
    fake, make_broker, ops, oto
):
    """Whatever happens between runs (levels move, stops canceled or positions closed by hand),
    after a paper run's management every held position has exactly one working stop of tsys's,
    at the plan's level, for the held quantity; nothing works for what is no longer held; and
    reconcile then reports no stop difference."""
    from tsys_broker_alpaca.orders import round_price

    with fake.lock:
        fake.orders.clear()
        fake.by_cid.clear()
        fake.positions.clear()
        fake.cash = 100_000.0
    b = make_broker()
    entry = "MOO" if oto else "LIMIT"
    b.submit(
        [
            make_plan("AAPL", 5, entry=entry, limit=191.0, stop=180.0, cid=f"a{len(ops)}{oto}"),
            make_plan("BTC-USD", 0.5, entry="LIMIT", limit=60_500.0, stop=55_000.0),
        ]
    )
    fake.advance_day({"AAPL": 190.0, "BTC/USD": 60_000.0})
    price = {"AAPL": 190.0, "BTC-USD": 60_000.0}
    levels = {"AAPL": 180.0, "BTC-USD": 55_000.0}
    b.protect([make_plan(s, 1, action="hold", stop=v) for s, v in levels.items()])
    for op, symbol, factor in ops:
        wire_sym = symbol.replace("-", "/")
        with fake.lock:
            if op == "move":
                levels[symbol] = round_price(price[symbol] * factor)
            elif op == "cancel_by_hand":
                for o in _working(fake, wire_sym):
                    fake._cancel(o)
            elif op == "close_by_hand":
                fake.positions.pop(wire_sym.replace("/", ""), None)
        held = {p.symbol: p.quantity for p in b.positions()}
        plans = [make_plan(s, 1, action="hold", stop=v) for s, v in levels.items() if s in held]
        b.protect(plans)
        for s in ("AAPL", "BTC-USD"):
            working = _working(fake, s.replace("-", "/"))
            if s in held:
                assert len(working) == 1, (s, working)
                (w,) = working
                assert w["stop_price"] == round_price(levels[s])
                assert w["qty"] - w["filled_qty"] == pytest.approx(held[s])
            else:
                assert working == []
        stop_diffs = [
            d for d in reconcile(b, b.log, stops=levels).differences if "stop" in d.symbol
        ]
        assert stop_diffs == []
