"""Issue 13.2: one count of every position (tsys.holdings.open_positions), on a real SQLite store,
the real local paper broker and daily runs written as run.json files."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tsys.brokers.local import LocalPaperBroker, place_run_orders
from tsys.contracts import PositionSource
from tsys.data.bars import Bars
from tsys.holdings import open_positions
from tsys.portfolio.view import build_view
from tsys.serialization import dumps
from tsys.store import open_store
from tsys.store.manual_trade import TradeInput
from tsys.store.paper import PaperLedger

from ..brokers.paper_plans import COSTS, D0, daily_run, plan


def make_bars(opens, symbols=("AAA", "BBB"), start="2024-05-01", low=0.98):
    o = np.asarray(opens, dtype=float)
    idx = pd.date_range(start, periods=len(o), tz="UTC")
    v = np.full(o.shape, 1e7)
    return Bars(
        idx, symbols, o, o * 1.02, o * low, o * 1.01, v, asset_classes=["equity"] * len(symbols)
    )


def save(runs_dir, run):
    folder = runs_dir / run.as_of.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "run.json").write_text(dumps(run))


@pytest.fixture
def store(tmp_path):
    s = open_store(data_dir=tmp_path)
    yield s
    s.close()


def test_paper_run_positions_counted_once(store, tmp_path):
    """A paper run as the latest run: its BUY is one position (paper, linked to its plan), not
    a paper one plus a system one (issue 13.2: `pap BOKE 58` and `sys BOKE 58`, gross 139.8%)."""
    runs = tmp_path / "runs"
    broker = LocalPaperBroker(ledger=PaperLedger(store), cash=10_000.0, costs=COSTS)
    bars = make_bars([[100.0, 50.0], [101.0, 51.0]])
    buy = plan("AAA", 10, D0, stop=95.0, target=120.0, time_stop=20)
    run0 = daily_run(D0, [buy])
    orders = place_run_orders(run0, broker, bars=bars.head(1))
    save(runs, daily_run(D0, [buy], orders=orders))
    broker.sync(bars)

    held = open_positions(D0, runs_dir=runs, store=store, broker=broker, inclusive=True)
    (p,) = held.positions
    assert p.source is PositionSource.PAPER
    assert (p.symbol, p.quantity, p.opened_by) == ("AAA", 10, buy.client_order_id)
    assert (p.stop, p.target, p.time_stop_bars) == (95.0, 120.0, 20)
    bought = sum(f.quantity * f.price for f in broker.ledger.fills("local"))
    view = build_view(held.positions, {"AAA": 101.0 * 1.01}, {}, None, 10_000.0)
    assert view.totals.cost == pytest.approx(bought)
    assert view.exposure["source"] == {"paper": pytest.approx(10 * 101.0 * 1.01)}


def test_system_run_without_broker_orders_is_not_counted_twice(store, tmp_path):
    """A run made without --paper: its plans are system positions, except a symbol the paper
    broker already holds (that is one position, the paper one)."""
    runs = tmp_path / "runs"
    broker = LocalPaperBroker(ledger=PaperLedger(store), cash=10_000.0, costs=COSTS)
    bars = make_bars([[100.0, 50.0], [101.0, 51.0]])
    place_run_orders(daily_run(D0, [plan("AAA", 10, D0)]), broker, bars=bars.head(1))
    broker.sync(bars)
    d1 = D0 + dt.timedelta(days=1)
    save(runs, daily_run(d1, [plan("AAA", 10, d1, "hold"), plan("BBB", 5, d1, price=51.0)]))
    held = open_positions(d1, runs_dir=runs, store=store, broker=broker, inclusive=True)
    assert sorted((p.source.value, p.symbol) for p in held.positions) == [
        ("paper", "AAA"),
        ("system", "BBB"),
    ]


def test_manual_trade_after_asof_does_not_exist(store, tmp_path):
    """A trade dated 2024-06-03 is not held in a 2019-12-31 run (it used to remove AAPL from
    that run's buys)."""
    store.manual.add(
        TradeInput(
            symbol="AAPL",
            side="buy",
            quantity=5,
            price=190.0,
            opened_at=dt.datetime(2024, 6, 3, 15, tzinfo=dt.UTC),
            stop=180.0,
        )
    )
    early = open_positions(dt.date(2019, 12, 31), runs_dir=tmp_path / "runs", store=store)
    assert early.positions == ()
    late = open_positions(dt.date(2024, 6, 3), runs_dir=tmp_path / "runs", store=store)
    assert [(p.symbol, p.stop) for p in late.positions] == [("AAPL", 180.0)]


def test_system_hold_keeps_entry_date_and_plan_of_its_buy(tmp_path):
    """A HOLD's dollars are today's value: the position keeps the price and date of the BUY that
    opened it (the time stop counts from there) and the HOLD's (trailed) stop."""
    runs = tmp_path / "runs"
    d1, d2 = D0 + dt.timedelta(days=1), D0 + dt.timedelta(days=2)
    buy = plan("AAA", 10, D0, price=100.0, stop=90.0, time_stop=5)
    save(runs, daily_run(D0, [buy]))
    save(runs, daily_run(d1, [plan("AAA", 10, d1, "hold", price=110.0, stop=99.0, time_stop=5)]))
    (p,) = open_positions(d2, runs_dir=runs).positions
    assert p.source is PositionSource.SYSTEM
    assert (p.entry_price, p.opened_at) == (100.0, buy.allocation.signal.timestamp)
    assert (p.stop, p.time_stop_bars, p.opened_by) == (99.0, 5, buy.client_order_id)
    # The day's own run counts only when asked (tsys portfolio), not for sizing that day.
    assert open_positions(d1, runs_dir=runs).positions[0].stop == 90.0
    assert open_positions(d1, runs_dir=runs, inclusive=True).positions[0].stop == 99.0


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    days=st.lists(
        st.tuples(
            st.integers(0, 30),
            st.integers(0, 30),
            st.floats(40.0, 160.0),
            st.floats(40.0, 160.0),
        ),
        min_size=2,
        max_size=6,
    )
)
def test_property_cash_and_positions_reconcile_gross_within_bought(tmp_path_factory, days):
    """Random buys and sells through the paper broker, each day's run saved: every symbol is
    counted once, quantities are the fills' net, cash + cost basis reconciles with the fills,
    and the gross cost of what is held never exceeds what was bought."""
    tmp = tmp_path_factory.mktemp("prop")
    runs = tmp / "runs"
    store = open_store(data_dir=tmp)
    try:
        broker = LocalPaperBroker(ledger=PaperLedger(store), cash=100_000.0, costs=COSTS)
        opens = [[a, b] for _, _, a, b in days]
        bars = make_bars(opens)
        for i, (qa, qb, _, _) in enumerate(days[:-1]):
            day = D0 + dt.timedelta(days=i)
            broker.sync(bars.head(i + 1))  # as a daily run: fill, then plan on the book
            book = broker.ledger.book("local")
            plans = []
            for sym, q in (("AAA", qa), ("BBB", qb)):
                have = book[sym].quantity if sym in book else 0.0
                if q > have:
                    plans.append(plan(sym, q - have, day, stop=30.0))
                elif q < have:
                    plans.append(plan(sym, have - q, day, "sell"))
                elif have:
                    plans.append(plan(sym, have, day, "hold", stop=30.0))
            orders = place_run_orders(daily_run(day, plans), broker, bars=bars.head(i + 1))
            save(runs, daily_run(day, plans, orders=orders))
        broker.sync(bars)
        last = D0 + dt.timedelta(days=len(days) - 1)
        held = open_positions(last, runs_dir=runs, store=store, broker=broker, inclusive=True)
        fills = broker.ledger.fills("local")
        syms = [p.symbol for p in held.positions]
        assert len(syms) == len(set(syms))
        bought = sum(f.quantity * f.price for f in fills if f.side.value == "buy")
        for p in held.positions:
            net = sum(
                (1 if f.side.value == "buy" else -1) * f.quantity
                for f in fills
                if f.symbol == p.symbol
            )
            assert p.quantity == pytest.approx(net)
            assert p.stop == 30.0
        cost = sum(p.quantity * p.entry_price for p in held.positions)
        assert cost <= bought + 1e-6
        fees = sum(f.fee for f in fills)
        cash = broker.ledger.cash("local")
        # What was paid in (start) = cash + cost basis of what is held + fees - realised gains.
        assert cash + cost + fees == pytest.approx(100_000.0 + _closed_pnl(fills), abs=1e-6)
    finally:
        store.close()


def _closed_pnl(fills):
    """Gains of the sells against the running average cost (what the ledger books)."""
    qty: dict[str, float] = {}
    avg: dict[str, float] = {}
    pnl = 0.0
    for f in fills:
        q = qty.get(f.symbol, 0.0)
        if f.side.value == "buy":
            avg[f.symbol] = (avg.get(f.symbol, 0.0) * q + f.quantity * f.price) / (q + f.quantity)
            qty[f.symbol] = q + f.quantity
        else:
            pnl += f.quantity * (f.price - avg[f.symbol])
            qty[f.symbol] = q - f.quantity
    return pnl
