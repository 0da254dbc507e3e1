"""Round-trips and validation of every contract through the one converter."""

from __future__ import annotations

import datetime as dt
import json

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tsys import contracts as c
from tsys.errors import ContractError
from tsys.serialization import dumps, loads, structure, unstructure
from tsys.testing import sample_signal
from tsys.testing.positions import sample_position

symbols = st.from_regex(r"[A-Z]{1,5}(-USD)?", fullmatch=True)
names = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1).filter(
    str.strip
)
money = st.floats(min_value=0, max_value=1e12, allow_nan=False, allow_infinity=False)
pos_money = st.floats(min_value=1e-6, max_value=1e9, allow_nan=False, allow_infinity=False)
finite = st.floats(min_value=-1e9, max_value=1e9, allow_nan=False, allow_infinity=False)
tz = st.sampled_from(
    [dt.UTC, dt.timezone(dt.timedelta(hours=-5)), dt.timezone(dt.timedelta(hours=9))]
)
aware = st.datetimes(
    min_value=dt.datetime(1990, 1, 1), max_value=dt.datetime(2100, 1, 1), timezones=tz
)
dates = st.dates(min_value=dt.date(1990, 1, 1), max_value=dt.date(2100, 1, 1))
texts = st.text(max_size=30)
tags = st.lists(texts, max_size=3).map(tuple)

news = st.builds(
    c.NewsItem,
    title=names,
    url=texts,
    sentiment=st.none() | st.floats(-1, 1),
    published=st.none() | aware,
    source=texts,
)
signals = st.builds(
    c.Signal,
    symbol=symbols,
    asset_class=st.sampled_from(c.AssetClass),
    timestamp=aware,
    side=st.sampled_from(c.Side),
    intent=st.sampled_from(c.Intent),
    score=finite,
    bucket=names,
    strategy_version=names,
    rationale=tags,
    news=st.lists(news, max_size=2).map(tuple),
)
constraints = st.builds(
    c.Constraint,
    name=names,
    detail=texts,
    dollars_before=st.none() | finite,
    dollars_after=st.none() | finite,
)
allocations = st.builds(
    c.Allocation,
    signal=signals,
    dollars=money,
    weight=st.floats(0, 1),
    quantity=money,
    risk_budget=money,
    constraints=st.lists(constraints, max_size=2).map(tuple),
    adv_participation=st.none() | st.floats(0, 1),
    liquidity_flag=st.booleans(),
)
stops = st.one_of(
    st.builds(c.StopRule, kind=st.just(c.StopKind.FIXED), price=pos_money),
    st.builds(
        c.StopRule,
        kind=st.just(c.StopKind.ATR_TRAILING),
        atr_multiple=st.floats(0.1, 10),
        price=st.none() | pos_money,
    ),
)


@st.composite
def plans(draw):
    entry = draw(st.sampled_from(c.EntryMethod))
    return c.TradePlan(
        allocation=draw(allocations),
        action=draw(st.sampled_from(c.Action)),
        entry=entry,
        client_order_id=draw(names),
        valid_until=draw(aware),
        limit_price=draw(pos_money if entry is c.EntryMethod.LIMIT else st.none() | pos_money),
        stop=draw(st.none() | stops),
        take_profit=draw(st.none() | pos_money),
        signal_exit=draw(st.booleans()),
        time_stop_bars=draw(st.none() | st.integers(1, 500)),
    )


blockers = st.builds(c.Blocker, symbol=symbols, bucket=names, reason=names, kind=texts)
orders = st.builds(
    c.Order,
    client_order_id=names,
    symbol=symbols,
    asset_class=st.sampled_from(c.AssetClass),
    side=st.sampled_from(c.Side),
    quantity=pos_money,
    entry=st.just(c.EntryMethod.MOO),
    time_in_force=st.sampled_from(c.TimeInForce),
    submitted_at=aware,
    status=st.sampled_from(c.OrderStatus),
    broker_order_id=st.none() | texts,
    filled_quantity=money,
    filled_avg_price=st.none() | pos_money,
)
events = st.builds(
    c.OrderEvent,
    client_order_id=names,
    status=st.sampled_from(c.OrderStatus),
    timestamp=aware,
    broker_order_id=st.none() | texts,
    filled_quantity=money,
    filled_avg_price=st.none() | pos_money,
    message=texts,
)
fills = st.builds(
    c.Fill,
    symbol=symbols,
    side=st.sampled_from(c.Side),
    quantity=pos_money,
    price=pos_money,
    timestamp=aware,
    fee=money,
    slippage=finite,
    reason=texts,
    client_order_id=st.none() | names,
    unfilled_quantity=money,
)


@st.composite
def positions(draw):
    opened = draw(aware)
    closed = draw(st.none() | st.timedeltas(dt.timedelta(0), dt.timedelta(days=900)))
    return c.PositionRecord(
        id=draw(names),
        source=draw(st.sampled_from(c.PositionSource)),
        symbol=draw(symbols),
        asset_class=draw(st.sampled_from(c.AssetClass)),
        side=draw(st.sampled_from(c.Side)),
        quantity=draw(money),
        opened_at=opened,
        entry_price=draw(pos_money),
        closed_at=None if closed is None else opened + closed,
        exit_price=draw(st.none() | pos_money),
        stop=draw(st.none() | pos_money),
        target=draw(st.none() | pos_money),
        fills=tuple(draw(st.lists(fills, max_size=2))),
        realized_pnl=draw(finite),
        r_multiple=draw(st.none() | finite),
        bucket=draw(texts),
        notes=draw(texts),
        tags=draw(tags),
    )


exposures = st.dictionaries(texts, st.floats(0, 1), max_size=3)
snapshots = st.builds(
    c.PortfolioSnapshot,
    as_of=aware,
    account_equity=money,
    cash=finite,
    positions=st.lists(positions(), max_size=2).map(tuple),
    exposure_by_bucket=exposures,
    exposure_by_asset_class=exposures,
    exposure_by_sector=exposures,
    open_risk=money,
)
deliveries = st.builds(
    c.DeliveryResult, plugin=names, ok=st.booleans(), detail=texts, at=st.none() | aware
)
json_values = st.none() | st.booleans() | st.integers(-1000, 1000) | texts
bucket_runs = st.builds(
    c.BucketRun,
    bucket=names,
    version=names,
    asset_class=st.sampled_from(c.AssetClass),
    as_of=dates,
    params=st.dictionaries(texts, json_values, max_size=3),
    regime=texts,
    signals=st.lists(signals, max_size=2).map(tuple),
    allocations=st.lists(allocations, max_size=2).map(tuple),
    plans=st.lists(plans(), max_size=2).map(tuple),
    blockers=st.lists(blockers, max_size=2).map(tuple),
    warnings=tags,
    validated=st.none() | st.booleans(),
    error=st.none() | texts,
)
daily_runs = st.builds(
    c.DailyRun,
    as_of=dates,
    created_at=aware,
    config_digest=names,
    buckets=st.lists(bucket_runs, max_size=2).map(tuple),
    portfolio=st.none() | snapshots,
    warnings=tags,
    synthetic_data=st.booleans(),
    deliveries=st.lists(deliveries, max_size=2).map(tuple),
    orders=st.lists(orders, max_size=2).map(tuple),
)

STRATEGIES = {
    c.NewsItem: news,
    c.Signal: signals,
    c.Constraint: constraints,
    c.Allocation: allocations,
    c.StopRule: stops,
    c.TradePlan: plans(),
    c.Blocker: blockers,
    c.Order: orders,
    c.OrderEvent: events,
    c.Fill: fills,
    c.PositionRecord: positions(),
    c.PortfolioSnapshot: snapshots,
    c.DeliveryResult: deliveries,
    c.BucketRun: bucket_runs,
    c.DailyRun: daily_runs,
}


def test_every_contract_has_a_strategy():
    assert set(STRATEGIES) == set(c.ALL_CONTRACTS)


@pytest.mark.parametrize("cls", c.ALL_CONTRACTS, ids=lambda k: k.__name__)
def test_round_trip(cls):
    @given(STRATEGIES[cls])
    def check(obj):
        data = unstructure(obj)
        assert structure(data, cls) == obj
        # ... and through JSON text, which is what run.json and the store hold.
        assert loads(dumps(obj), cls) == obj

    check()


def test_daily_run_carries_schema_version():
    run = c.DailyRun(
        as_of=dt.date(2024, 1, 2),
        created_at=dt.datetime(2024, 1, 2, 22, tzinfo=dt.UTC),
        config_digest="abc",
    )
    assert json.loads(dumps(run))["schema_version"] == c.SCHEMA_VERSION


def test_newer_schema_version_is_refused():
    run = c.DailyRun(
        as_of=dt.date(2024, 1, 2),
        created_at=dt.datetime(2024, 1, 2, 22, tzinfo=dt.UTC),
        config_digest="abc",
    )
    data = json.loads(dumps(run))
    data["schema_version"] = c.SCHEMA_VERSION + 1
    with pytest.raises(ContractError, match="newer than this tsys"):
        loads(json.dumps(data), c.DailyRun)


NOW = dt.datetime(2024, 1, 2, 21, 0, tzinfo=dt.UTC)


def _signal(**kw):
    return sample_signal(**{"symbol": "AAPL", "at": NOW, "bucket": "sp500", **kw})


@pytest.mark.parametrize(
    ("mutate", "path", "words"),
    [
        (lambda d: d["signal"].update(symbol=""), "$.signal.symbol", "non-empty"),
        (lambda d: d["signal"].update(symbol="AA PL"), "$.signal.symbol", "white space"),
        (lambda d: d["signal"].update(side="hold"), "$.signal.side", ""),
        (
            lambda d: d["signal"].update(timestamp="2024-01-02T21:00:00"),
            "$.signal.timestamp",
            "timezone-aware",
        ),
        (lambda d: d.update(quantity=-3), "$.quantity", ">= 0"),
        (lambda d: d.update(dollars="lots"), "$.dollars", "float"),
        (lambda d: d.update(weight=float("nan")), "$.weight", "finite"),
        (lambda d: d.pop("dollars"), "$.dollars", "required"),
        (lambda d: d.update(surprise=1), "$", "surprise"),
    ],
)
def test_invalid_payloads_name_the_field_path(mutate, path, words):
    good = c.Allocation(signal=_signal(), dollars=100.0, weight=0.1, quantity=1.0)
    data = unstructure(good)
    mutate(data)
    with pytest.raises(ContractError) as info:
        structure(data, c.Allocation)
    message = str(info.value)
    assert path in message, message
    assert words in message, message


def test_direct_construction_validates():
    with pytest.raises(ValueError, match="timezone-aware"):
        _signal(timestamp=dt.datetime(2024, 1, 2))
    with pytest.raises(ValueError, match="one of"):
        _signal(intent="yolo")
    with pytest.raises(ValueError, match="limit_price"):
        c.TradePlan(
            allocation=c.Allocation(signal=_signal(), dollars=1, weight=0, quantity=1),
            action="buy",
            entry="LIMIT",
            client_order_id="x",
            valid_until=NOW,
        )
    with pytest.raises(ValueError, match="closed_at"):
        sample_position("X", 1, 1, opened_at=NOW, closed_at=NOW - dt.timedelta(days=1))


def test_contracts_are_frozen_and_evolve():
    s = _signal()
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        s.score = 2.0  # type: ignore[misc]
    assert attrs.evolve(s, score=2.0).score == 2.0


def test_position_record_from_row():
    class Row:
        id = "M-1"
        source = "manual"
        symbol = "MSFT"
        asset_class = "equity"
        side = "buy"
        quantity = 3
        opened_at = NOW
        entry_price = 300
        db_only_column = "ignored"

    rec = c.PositionRecord.from_row(Row)
    assert rec.quantity == 3.0 and rec.is_open and rec.source is c.PositionSource.MANUAL


def test_asset_class_owns_lot_size_and_periods_per_year():
    from tsys.contracts import AssetClass

    assert AssetClass.EQUITY.lot_size == 1.0 and AssetClass.CRYPTO.lot_size == 1e-8
    assert AssetClass("equity").periods_per_year == 252
    assert AssetClass("crypto").periods_per_year == 365
