"""Issue 21.6: Alpaca payloads of unexpected shape are parsed at the boundary, never crash.

Every case is served by the loopback fake to the real alpaca-py client (``raw_data=True``):
a field tsys cannot read is a ``BrokerError`` naming the item and the field; a position in an
asset class tsys does not trade is listed as foreign, not parsed as stock.
"""

import datetime as dt

import pytest
from alpaca_helpers import make_plan
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tsys.brokers.common import reconcile
from tsys.brokers.payload import ForeignPosition
from tsys.contracts import OrderStatus
from tsys.errors import BrokerError, TemporaryBrokerError

OPTION = "AAPL240621C00190000"


_DROP = object()


def _apply(changes, payload):
    """Set each field of ``changes`` in one payload item; ``_DROP`` removes the field."""
    for k, v in changes.items():
        if v is _DROP:
            payload.pop(k, None)
        else:
            payload[k] = v


def _with_all(changes):
    """A mangle of GET /v2/positions: ``changes`` applied to the AAPL position."""

    def fn(payload):
        for p in payload:
            if p["symbol"] == "AAPL":
                _apply(changes, p)
        return payload

    return fn


def _with(field, value):
    return _with_all({field: value})


# (id, mangle of GET /v2/positions, the words the BrokerError must contain)
POSITION_CASES = [
    ("qty-null", _with("qty", None), ["position 1 (AAPL)", "'qty'", "empty"]),
    ("qty-abc", _with("qty", "abc"), ["position 1 (AAPL)", "'qty'", "'abc'"]),
    ("qty-nan", _with("qty", "NaN"), ["'qty'", "finite"]),
    ("qty-inf", _with("qty", "inf"), ["'qty'", "finite"]),
    ("qty-zero", _with("qty", "0"), ["'qty'", "is 0"]),
    ("qty-object", _with("qty", {"v": 1}), ["'qty'", "number"]),
    ("qty-bool", _with("qty", True), ["'qty'", "number"]),
    ("no-avg-entry-price", _with("avg_entry_price", _DROP), ["'avg_entry_price'", "missing"]),
    ("avg-entry-price-zero", _with("avg_entry_price", "0"), ["'avg_entry_price'", "above 0"]),
    ("avg-entry-price-negative", _with("avg_entry_price", "-3"), ["'avg_entry_price'"]),
    ("side-sideways", _with("side", "sideways"), ["'side'", "long, short", "'sideways'"]),
    ("no-asset-class", _with("asset_class", _DROP), ["'asset_class'", "missing"]),
    ("asset-class-number", _with("asset_class", 7), ["'asset_class'", "text"]),
    ("symbol-null", _with("symbol", None), ["position 1", "'symbol'", "empty"]),
    ("symbol-space", _with("symbol", "AA PL"), ["'symbol'"]),
    ("symbol-number", _with("symbol", 42), ["'symbol'"]),
    # 21.2: a broker's symbol is outside text like any other (it names cache and CSV files)
    ("symbol-path", _with("symbol", "../../../../PWNED"), ["'symbol'", "path separator"]),
    ("symbol-dotdot", _with("symbol", "..PWNED"), ["'symbol'", "'..'"]),
    ("symbol-backslash", _with("symbol", "A\\B"), ["'symbol'", "path separator"]),
    ("symbol-control", _with("symbol", "AA\x07PL"), ["'symbol'", "control characters"]),
    ("symbol-too-long", _with("symbol", "A" * 65), ["'symbol'", "at most"]),
    ("object-not-list", lambda p: {"positions": p}, ["positions request", "an object"]),
    ("null-not-list", lambda p: None, ["positions request", "null"]),
    ("string-not-list", lambda p: "oops", ["positions request", "str"]),
    ("item-is-string", lambda p: [*p, "AAPL"], ["position 3", "str"]),
    ("item-is-null", lambda p: [None, *p], ["position 1", "null"]),
    (
        "crypto-unsplittable",
        lambda p: [{**p[0], "symbol": "XYZ", "asset_class": "crypto"}],
        ["'symbol'", "cannot split"],
    ),
]


@pytest.fixture
def held(fake, make_broker):
    """A paper account holding AAPL (bought through tsys) and an option bought by hand."""
    b = make_broker()
    b.submit([make_plan("AAPL", 10)])
    fake.advance_day({"AAPL": 190.0})
    b.refresh()
    fake.add_position(OPTION, 2.0, 5.5, "us_option")
    return b


def test_broker_payload_option_position_is_foreign_not_stock(fake, held):
    records = held.positions()
    assert [(p.symbol, p.asset_class.value) for p in records] == [("AAPL", "equity")]
    (foreign,) = held.foreign_positions()
    assert foreign == ForeignPosition(OPTION, "us_option", "2", broker="alpaca")
    # a future asset class Alpaca may add is foreign too, and so are perpetual futures
    fake.mangle["positions"] = lambda p: [
        {**x, "asset_class": "us_future"} if x["symbol"] == OPTION else x for x in p
    ]
    held._foreign = None
    assert [f.asset_class for f in held.foreign_positions()] == ["us_future"]
    report = reconcile(held, held.log)
    # the option is not tsys's to reconcile as a position (its cost shows as cash moved) ...
    assert [d.symbol for d in report.differences] == ["cash"]
    assert OPTION not in report.actual_positions
    assert any(OPTION in n and "not traded by tsys" in n for n in report.notes)  # ... but shown


@pytest.mark.parametrize(
    ("mangle", "words"),
    [pytest.param(m, w, id=i) for i, m, w in POSITION_CASES],
)
def test_broker_payload_bad_position_is_a_broker_error_naming_the_field(held, fake, mangle, words):
    fake.mangle["positions"] = mangle
    with pytest.raises(BrokerError) as ei:
        held.positions()
    assert not isinstance(ei.value, TemporaryBrokerError)  # no retry loop on a bad shape
    for w in words:
        assert w in ei.value.message, (w, ei.value.message)
    # nothing is placed on a day whose positions cannot be read
    posts = fake.order_posts
    with pytest.raises(BrokerError, match="no order placed") as placed:
        held.submit([make_plan("MSFT", 1)])
    assert placed.value.orders == [] and fake.order_posts == posts


def _order_with(field, value):
    def fn(payload):
        _apply({field: value}, payload)
        return payload

    return fn


ORDER_CASES = [
    ("filled-at-yesterday", _order_with("filled_at", "yesterday"), ["'filled_at'", "yesterday"]),
    ("status-unknown", _order_with("status", "exploded"), ["'status'", "'exploded'"]),
    ("side-null", _order_with("side", None), ["'side'", "empty"]),
    ("qty-abc", _order_with("qty", "abc"), ["'qty'", "'abc'"]),
    ("filled-avg-price-x", _order_with("filled_avg_price", "x"), ["'filled_avg_price'"]),
    (
        "no-submitted-or-created-at",
        lambda o: _order_with("created_at", _DROP)(_order_with("submitted_at", None)(o)),
        ["'created_at'", "missing"],
    ),
    (
        "no-filled-or-updated-at",
        lambda o: _order_with("updated_at", _DROP)(_order_with("filled_at", _DROP)(o)),
        ["'filled_at'", "missing", "cannot date"],
    ),
    ("submitted-at-number", _order_with("submitted_at", 5), ["'submitted_at'", "ISO 8601"]),
    ("legs-string", _order_with("legs", "x"), ["'legs'", "list"]),
    ("tif-unknown", _order_with("time_in_force", "gtd"), ["'time_in_force'", "'gtd'"]),
    ("option-order", _order_with("asset_class", "us_option"), ["'asset_class'", "us_option"]),
    ("no-client-order-id", _order_with("client_order_id", _DROP), ["'client_order_id'"]),
    ("list-not-object", lambda o: [o], ["as a list instead of an object"]),
]


@pytest.mark.parametrize(("mangle", "words"), [pytest.param(m, w, id=i) for i, m, w in ORDER_CASES])
def test_broker_payload_bad_order_is_a_broker_error_naming_the_field(
    fake, make_broker, mangle, words
):
    b = make_broker()
    plans = [make_plan("AAPL", 2), make_plan("MSFT", 1)]
    b.submit(plans)
    fake.advance_day({"AAPL": 190.0, "MSFT": 400.0}, partial={"MSFT": 0.0})
    fake.mangle["order"] = lambda o: mangle(o) if o["symbol"] == "AAPL" else o
    with pytest.raises(BrokerError) as ei:
        b.refresh()
    assert not isinstance(ei.value, TemporaryBrokerError)
    for w in words:
        assert w in ei.value.message, (w, ei.value.message)
    assert "1 of 2 open orders not refreshed" in ei.value.message
    # the other order was still polled: MSFT expired unfilled and that is logged
    assert b.log.get_order("alpaca", plans[1].client_order_id).status is OrderStatus.EXPIRED


def test_broker_payload_good_answers_still_read(held, fake):
    """The strict reading accepts what alpaca-py's own models accept (numbers or strings)."""
    fake.mangle["positions"] = lambda p: [
        {**x, "qty": float(x["qty"]), "avg_entry_price": 190} for x in p
    ]
    (p,) = held.positions()
    assert (p.quantity, p.entry_price) == (10.0, 190.0)
    fake.mangle["account"] = lambda a: {**a, "equity": None}
    assert held.account().equity == pytest.approx(float(fake.account_json()["portfolio_value"]))


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)
FIELDS = ["asset_class", "symbol", "qty", "avg_entry_price", "side", "exchange", "cost_basis"]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(changes=st.dictionaries(st.sampled_from(FIELDS), JSON | st.just(_DROP), min_size=1))
def test_broker_payload_any_position_shape_is_read_or_named(held, fake, changes):
    """Whatever a position's fields hold, positions() returns contracts or a BrokerError that
    names one of the changed fields; never another exception."""

    fake.mangle["positions"] = _with_all(changes)
    held._foreign = None
    try:
        records = held.positions()
    except BrokerError as exc:
        assert any(f"'{k}'" in exc.message for k in changes), exc.message
        return
    for r in records:
        assert r.quantity > 0 and r.entry_price > 0
    cls = changes.get("asset_class", "us_equity")
    if cls not in ("us_equity", "crypto"):
        assert any(f.asset_class == cls for f in held.foreign_positions())


def test_broker_payload_error_body_never_carries_the_keys(fake, make_broker):
    """An error body that echoes the request headers: the message keeps neither key nor secret."""
    from fake_alpaca import KEY, SECRET

    b = make_broker()
    echo = {
        "code": 40010000,
        "message": f"bad request; headers: APCA-API-KEY-ID: {KEY} APCA-API-SECRET-KEY={SECRET}",
        "request": {"headers": {"APCA-API-KEY-ID": KEY, "APCA-API-SECRET-KEY": SECRET}},
    }
    fake.mangle["account"] = lambda a: a
    fake.fault_fn = lambda m, p: "echo" if p == "/v2/account" else None
    fake.echo_body = echo
    with pytest.raises(BrokerError) as ei:
        b.account()
    text = str(ei.value) + repr(ei.value.args)
    assert KEY not in text and SECRET not in text
    assert "headers" in text and "***" in text
    fake.echo_body = f"<html>debug: Authorization: Basic abc123xyz {SECRET}</html>"
    with pytest.raises(BrokerError) as ei:
        b.account()
    assert SECRET not in str(ei.value) and "abc123xyz" not in str(ei.value)


def test_broker_payload_times_are_read_once_at_the_boundary(fake, make_broker):
    b = make_broker()
    (o,) = b.submit([make_plan("AAPL", 2)])
    fake.advance_day({"AAPL": 190.0}, day=dt.date(2024, 5, 2))
    assert b.order(o.client_order_id).status is OrderStatus.FILLED
    (ev,) = [e for e in b.log.events("alpaca") if e.status is OrderStatus.FILLED]
    assert ev.timestamp == dt.datetime(2024, 5, 2, 13, 30, tzinfo=dt.UTC)


ORDER_FIELDS = [
    "status",
    "side",
    "qty",
    "filled_qty",
    "filled_avg_price",
    "time_in_force",
    "type",
    "symbol",
    "asset_class",
    "created_at",
    "submitted_at",
    "updated_at",
    "filled_at",
    "legs",
    "stop_price",
    "limit_price",
]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(changes=st.dictionaries(st.sampled_from(ORDER_FIELDS), JSON | st.just(_DROP), min_size=1))
@example(changes={"legs": [{}]})  # an empty leg: its error names the leg, not only its field
def test_broker_payload_any_order_shape_is_read_or_named(fake, make_broker, changes):
    """Whatever an order's fields hold, polling it logs a valid order or raises a BrokerError
    that names one of the changed fields (or the item); never another exception."""
    b = make_broker()
    (o,) = b.submit([make_plan("AAPL", 2, cid=f"h-{len(fake.orders)}")])

    def mangle(payload):
        if payload.get("client_order_id") == o.client_order_id:
            _apply(changes, payload)
        return payload

    fake.mangle["order"] = mangle
    try:
        got = b.order(o.client_order_id)
    except BrokerError as exc:
        assert not isinstance(exc, TemporaryBrokerError)
        assert any(f"'{k}'" in exc.message for k in changes) or "leg" in exc.message, exc.message
        return
    finally:
        fake.mangle.clear()
    assert got is not None and got.quantity > 0 and got.submitted_at.tzinfo is not None
