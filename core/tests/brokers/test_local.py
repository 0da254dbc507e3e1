"""The local paper broker on hand-made bars: fills equal tsys.sim's, the book reconciles."""

import datetime as dt
import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tsys.brokers.common import reconcile
from tsys.brokers.local import LocalPaperBroker, place_run_orders
from tsys.contracts import (
    Allocation,
    BucketRun,
    DailyRun,
    OrderStatus,
    TradePlan,
)
from tsys.data.bars import Bars
from tsys.sim import simulate
from tsys.sim.models import CostModel, FeeModel, FixedSlippage
from tsys.store import open_store
from tsys.store.paper import PaperLedger
from tsys.testing import sample_signal

COSTS = CostModel(fees=FeeModel(bps=10.0, minimum=1.0), slippage=FixedSlippage(bps=5.0))


def make_bars(opens, symbols=("AAA", "BTC-USD"), start="2024-05-01"):
    o = np.asarray(opens, dtype=float)
    idx = pd.date_range(start, periods=len(o), tz="UTC")
    acs = ["crypto" if "-" in s else "equity" for s in symbols]
    return Bars(
        idx, symbols, o, o * 1.02, o * 0.98, o * 1.01, np.full(o.shape, 1e7), asset_classes=acs
    )


def plan(symbol, qty, day, action="buy", cid=None, entry="MOO", limit=None):
    ts = dt.datetime.combine(day, dt.time(21), dt.UTC)
    sig = sample_signal(
        symbol, at=ts, bucket="b", asset_class="crypto" if "-" in symbol else "equity"
    )
    return TradePlan(
        allocation=Allocation(signal=sig, dollars=1.0, weight=0.01, quantity=qty),
        action=action,
        entry=entry,
        limit_price=limit,
        client_order_id=cid or f"{day}-{symbol}-{action}",
        valid_until=ts + dt.timedelta(days=1),
    )


@pytest.fixture
def broker(tmp_path):
    store = open_store(data_dir=tmp_path)
    yield LocalPaperBroker(ledger=PaperLedger(store), cash=10_000.0, costs=COSTS)
    store.close()


def test_three_days_fill_at_next_open_exactly_like_the_simulator(broker, tmp_path):
    bars = make_bars([[100.0, 50.0], [101.0, 51.0], [99.0, 52.5]])
    d0, d1 = dt.date(2024, 5, 1), dt.date(2024, 5, 2)
    run0 = DailyRun(
        as_of=d0,
        created_at=dt.datetime(2024, 5, 1, 22, tzinfo=dt.UTC),
        config_digest="x",
        buckets=[
            BucketRun(
                bucket="b",
                version="1",
                asset_class="equity",
                as_of=d0,
                plans=[plan("AAA", 10, d0), plan("BTC-USD", 2.5, d0)],
            )
        ],
    )
    orders = place_run_orders(run0, broker, bars=bars.head(1))
    assert [o.status for o in orders] == [OrderStatus.ACCEPTED] * 2
    assert broker.sync(bars.head(1)) == []  # the next open is not known yet

    fills = broker.sync(bars.head(2))
    # The same orders straight through the simulator, with the same costs.
    tq = np.full((2, 2), np.nan)
    tq[0] = [10.0, 2.5]
    ref = simulate(
        bars.open[:2],
        bars.high[:2],
        bars.low[:2],
        bars.close[:2],
        bars.volume[:2],
        target_qty=tq,
        costs=COSTS,
        lot_size=[1.0, 1e-8],
        cash=10_000.0,
    )
    f = ref.fills
    assert [(x.symbol, x.quantity, x.price, x.fee) for x in fills] == [
        ("AAA", f.qty[0], f.price[0], f.fee[0]),
        ("BTC-USD", f.qty[1], f.price[1], f.fee[1]),
    ]
    assert fills[0].price == pytest.approx(101.0 * 1.0005)
    assert broker.account().cash == pytest.approx(ref.cash[1], abs=1e-9)

    # Day 2: sell part of AAA; a re-run of day 1 changes nothing.
    assert place_run_orders(run0, broker) == broker.submit(run0.plans)
    broker.submit([plan("AAA", 4, d1, action="sell")], decision_date=d1)
    (sell,) = broker.sync(bars)
    tq3 = np.full((3, 2), np.nan)
    tq3[0] = [10.0, 2.5]
    tq3[1, 0] = 6.0
    ref3 = simulate(
        bars.open,
        bars.high,
        bars.low,
        bars.close,
        bars.volume,
        target_qty=tq3,
        costs=COSTS,
        lot_size=[1.0, 1e-8],
        cash=10_000.0,
    )
    f3 = ref3.fills
    row = f3[(f3.bar == 2) & (f3.qty > 0)].iloc[0]
    assert (sell.quantity, sell.price, sell.fee) == (row.qty, row.price, row.fee)
    assert broker.account().cash == pytest.approx(ref3.cash[2], abs=1e-9)
    pos = {p.symbol: p.quantity for p in broker.positions()}
    assert pos == {"AAA": 6.0, "BTC-USD": 2.5}
    assert reconcile(broker, broker.log).differences == []
    statuses = [e.status for e in broker.events() if e.client_order_id == sell.client_order_id]
    assert statuses == [OrderStatus.ACCEPTED, OrderStatus.FILLED]


def test_state_persists_across_processes(tmp_path):
    bars = make_bars([[100.0, 50.0], [101.0, 51.0]])
    store = open_store(data_dir=tmp_path)
    b = LocalPaperBroker(ledger=PaperLedger(store), cash=5_000.0, costs=COSTS)
    b.submit([plan("AAA", 3, dt.date(2024, 5, 1))])
    b.sync(bars)
    cash = b.account().cash
    store.close()
    store2 = open_store(data_dir=tmp_path)
    b2 = LocalPaperBroker(ledger=PaperLedger(store2), cash=999.0, costs=COSTS)  # cash kept
    assert b2.account().cash == cash
    assert [p.quantity for p in b2.positions()] == [3.0]
    store2.close()


def test_rejections_and_unfilled_limit(broker):
    bars = make_bars([[100.0, 50.0], [101.0, 51.0]])
    d0 = dt.date(2024, 5, 1)
    (sell,) = broker.submit([plan("AAA", 1, d0, action="sell")])
    assert sell.status is OrderStatus.REJECTED
    (lim,) = broker.submit([plan("AAA", 1, d0, entry="LIMIT", limit=95.0, cid="lim")])
    assert lim.limit_price == 95.0
    broker.sync(bars)  # low is 98.98 > 95: the limit is not reached
    assert broker.order("lim").status is OrderStatus.EXPIRED
    assert broker.account().cash == 10_000.0


# random orders (symbol, buy or sell, quantity), one a day, on 9 days of random opens
ORDERS = st.lists(
    st.tuples(st.sampled_from(["AAA", "BTC-USD"]), st.booleans(), st.floats(0.1, 30.0)),
    min_size=1,
    max_size=8,
)
OPENS = st.lists(st.floats(20.0, 200.0), min_size=18, max_size=18)


def _submit(b, bars, k, symbol, buy, qty):
    """Submit the k-th random order, decided on the k-th day of bars."""
    day = bars.index[k].date()
    b.submit(
        [plan(symbol, qty, day, action="buy" if buy else "sell", cid=f"c{k}")], decision_date=day
    )


def _assert_book_matches_fills(b, cash):
    """Cash = cash - buys + sells - fees (never negative), positions = the fills, reconciled."""
    held = {}
    for f in b.ledger.fills("local"):
        sign = 1 if f.side.value == "buy" else -1
        cash -= sign * f.quantity * f.price + f.fee
        held[f.symbol] = held.get(f.symbol, 0.0) + sign * f.quantity
    assert b.account().cash == pytest.approx(cash, abs=1e-6)
    assert b.account().cash >= -1e-9  # never negative
    book = {p.symbol: p.quantity for p in b.positions()}
    assert book == pytest.approx({s: q for s, q in held.items() if q > 1e-9})
    assert reconcile(b, b.log).differences == []


@given(ORDERS, OPENS)
@settings(max_examples=25, deadline=None)
def test_cash_and_positions_reconcile_after_random_orders(tmp_path_factory, seq, prices):
    store = open_store(data_dir=tmp_path_factory.mktemp("paper"))
    b = LocalPaperBroker(ledger=PaperLedger(store), cash=5_000.0, costs=COSTS)
    bars = make_bars(np.array(prices, dtype=float).reshape(9, 2))
    for k, order in enumerate(seq):
        _submit(b, bars, k, *order)
        b.sync(bars.head(k + 2))
    _assert_book_matches_fills(b, 5_000.0)
    store.close()


@given(
    ORDERS,
    OPENS,
    st.sampled_from([0.0, 0.02, 0.05, 0.25]),
    st.lists(st.booleans(), min_size=8, max_size=8),
)
@settings(max_examples=25, deadline=None)
def test_interest_on_idle_cash_and_the_book_reconcile(tmp_path_factory, seq, prices, rate, skip):
    """[account] cash_rate in the local paper account: each mark credits the previous mark's
    cash x rate x calendar days / 365 (days skipped accrue at the next mark, a re-run day
    credits nothing twice), and cash = start + interest - buys + sells - fees still holds,
    positions match the fills and reconcile() finds no difference."""
    store = open_store(data_dir=tmp_path_factory.mktemp("paper"))
    b = LocalPaperBroker(ledger=PaperLedger(store), cash=5_000.0, costs=COSTS, cash_rate=rate)
    bars = make_bars(np.array(prices, dtype=float).reshape(9, 2))
    for k, order in enumerate(seq):
        _submit(b, bars, k, *order)
        if not skip[k] or k == len(seq) - 1:
            b.sync(bars.head(k + 2))
            b.sync(bars.head(k + 2))  # the same day again: no second credit
    marks = b.ledger.marks("local")
    expected = [0.0] + [
        p.cash * rate * (m.date - p.date).days / 365.0 for p, m in itertools.pairwise(marks)
    ]
    assert [m.interest for m in marks] == pytest.approx(expected, rel=1e-12, abs=1e-9)
    interest = sum(expected)
    assert (interest > 0) == (rate > 0 and len(marks) > 1)
    _assert_book_matches_fills(b, 5_000.0 + interest)
    store.close()


def test_paper_interest_from_config_and_in_the_report(tmp_path):
    from tsys.brokers import BrokerContext
    from tsys.brokers.report import paper_report, render_html
    from tsys.config import config_from_dict

    store = open_store(data_dir=tmp_path)
    cfg = config_from_dict({"account": {"size": 10_000, "cash_rate": 0.0365}})
    b = LocalPaperBroker.from_config({}, BrokerContext(config=cfg, store=store))
    assert b.cash_rate == 0.0365
    mine = LocalPaperBroker.from_config({"cash_rate": 0.01}, BrokerContext(config=cfg, store=store))
    assert mine.cash_rate == 0.01  # [broker.options] cash_rate wins
    bars = make_bars(np.full((11, 2), 100.0))
    days = [d.date() for d in bars.index]
    assert b.mark_to(days[0]) and b.mark_to(days[10])  # a flat book: ten days of interest
    assert b.account().cash == pytest.approx(10_000.0 * (1 + 0.0365 * 10 / 365))
    rep = paper_report(b)
    assert rep["interest"] == pytest.approx(10.0) and rep["cash_rate"] == 0.0365
    assert rep["trading_pnl"] == pytest.approx(0.0, abs=1e-9)
    page = render_html(rep)
    assert "idle cash earned 3.65%/yr: interest $10.00, trading PnL $0.00" in page
    store.close()
