"""Issue 13.1: the local paper broker keeps a protective stop order for every position and
enforces it on the next bars exactly as the simulator does (a gap through the stop fills at
the open), on a real SQLite store."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tsys.brokers.local import LocalPaperBroker
from tsys.brokers.local import place_run_orders as _place
from tsys.contracts import EntryMethod, OrderStatus
from tsys.data.bars import Bars
from tsys.sim import simulate
from tsys.store import open_store
from tsys.store.paper import PaperLedger

from .paper_plans import COSTS, D0, daily_run
from .paper_plans import plan as paper_plan


def bars_of(o, h, lo, c, start="2024-05-01"):
    arr = [np.asarray(x, dtype=float).reshape(-1, 1) for x in (o, h, lo, c)]
    idx = pd.date_range(start, periods=len(arr[0]), tz="UTC")
    vol = np.full(arr[0].shape, 1e7)
    return Bars(idx, ("AAA",), *arr, vol, asset_classes=["equity"])


def plan(day, action="buy", qty=10, stop=None, target=None):
    """The day's plan for AAA (one tenth of the account)."""
    return paper_plan("AAA", qty, day, action, weight=0.1, stop=stop, target=target)


def place_run_orders(run, broker, *, bars=None):
    """As the daily run's orders stage: the day's orders, then its protective stops."""
    orders = _place(run, broker, bars=bars)
    broker.protect(run.plans, decision_date=run.as_of)
    return [*orders, *(o for o in broker.open_orders() if o.entry is EntryMethod.STOP)]


@pytest.fixture
def broker(tmp_path):
    store = open_store(data_dir=tmp_path)
    yield LocalPaperBroker(ledger=PaperLedger(store), cash=10_000.0, costs=COSTS)
    store.close()


def sim_fills(bars, qty, stop, target=None):
    T = len(bars.index)
    tq, sp, tp = (np.full((T, 1), np.nan) for _ in range(3))
    tq[0, 0], sp[0, 0] = qty, stop
    if target is not None:
        tp[0, 0] = target
    res = simulate(
        *bars.ohlcv().values(),
        target_qty=tq,
        stop_price=sp,
        target_price=tp,
        costs=COSTS,
        cash=10_000.0,
    )
    f = res.fills
    return [(r.side, r.qty, r.price, r.fee, r.reason) for r in f.itertuples() if r.qty > 0]


def booked(broker):
    return [
        (f.side.value, f.quantity, f.price, f.fee, f.reason) for f in broker.ledger.fills("local")
    ]


def test_paper_stop_order_is_listed_and_follows_the_level(broker):
    """`tsys paper orders` shows a working protective stop next to the entry; a HOLD at a new
    (trailed) level replaces it; the position carries the level."""
    bars = bars_of([100, 101, 103], [101, 104, 106], [99, 100, 102], [100, 103, 105])
    orders = place_run_orders(daily_run(D0, [plan(D0, stop=95.0)]), broker, bars=bars.head(1))
    stop = [o for o in orders if o.entry is EntryMethod.STOP]
    assert [(o.stop_price, o.status, o.side.value) for o in stop] == [
        (95.0, OrderStatus.ACCEPTED, "sell")
    ]
    d1 = D0 + dt.timedelta(days=1)
    place_run_orders(daily_run(d1, [plan(d1, "hold", stop=98.0)]), broker, bars=bars.head(2))
    working = [o for o in broker.open_orders() if o.entry is EntryMethod.STOP]
    assert [(o.client_order_id, o.stop_price) for o in working] == [
        ("tsys-b-20240502-AAA-stop", 98.0)
    ]
    old = broker.order("tsys-b-20240501-AAA-stop")
    assert old.status is OrderStatus.CANCELED
    assert "replaced by tsys-b-20240502-AAA-stop" in broker.events()[-2].message or any(
        "replaced by" in e.message for e in broker.events()
    )


def test_stop_touched_sells_next_day(broker):
    """Bought at the open of day 1; the stop decided on day 1 is touched inside day 2's bar:
    sold at the stop less slippage on day 2, exactly the simulator's fills."""
    o = [100.0, 100.0, 99.0, 97.0]
    h = [101.0, 101.0, 100.0, 98.0]
    lo = [99.0, 99.0, 94.0, 96.0]
    c = [100.0, 100.0, 95.0, 97.0]
    bars = bars_of(o, h, lo, c)
    place_run_orders(daily_run(D0, [plan(D0, stop=95.5)]), broker, bars=bars.head(1))
    d1 = D0 + dt.timedelta(days=1)
    place_run_orders(daily_run(d1, [plan(d1, "hold", stop=95.5)]), broker, bars=bars.head(2))
    assert broker.positions()[0].quantity == 10
    broker.sync(bars.head(3))
    assert broker.positions() == []
    assert booked(broker) == sim_fills(bars.head(3), 10, 95.5)
    assert booked(broker)[-1][2] == pytest.approx(95.5 * (1 - 5e-4))
    assert booked(broker)[-1][4] == "stop"


def test_gap_through_stop_fills_at_the_open(broker):
    bars = bars_of([100, 100, 90, 91], [101, 101, 92, 92], [99, 99, 89, 90], [100, 100, 91, 91])
    place_run_orders(daily_run(D0, [plan(D0, stop=95.0)]), broker, bars=bars.head(1))
    broker.sync(bars)
    assert booked(broker) == sim_fills(bars, 10, 95.0)
    assert booked(broker)[-1][2] == pytest.approx(90.0 * (1 - 5e-4))


def test_stop_closes_then_exit_order_expires(broker):
    """The stop sells first; the exit planned for a later open has nothing left to sell."""
    bars = bars_of([100, 100, 94, 95], [101, 101, 95, 96], [99, 99, 93, 94], [100, 100, 94, 95])
    place_run_orders(daily_run(D0, [plan(D0, stop=96.0)]), broker, bars=bars.head(1))
    broker.sync(bars.head(2))
    d2 = D0 + dt.timedelta(days=2)
    broker.submit([plan(d2, "sell")], decision_date=d2)
    broker.sync(bars)
    assert broker.order("tsys-b-20240503-AAA-sell").status is OrderStatus.EXPIRED
    assert [f[4] for f in booked(broker)] == ["entry", "stop"]


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    path=st.lists(st.floats(80.0, 120.0), min_size=3, max_size=8),
    stop=st.floats(85.0, 99.0),
    target=st.one_of(st.none(), st.floats(101.0, 115.0)),
)
def test_property_paper_stop_fills_equal_the_simulators(tmp_path_factory, path, stop, target):
    """Random bars, one position with a stop and target renewed by a HOLD every day: the paper
    fills are the simulator's, fills lie inside their bar, and cash reconciles."""
    tmp = tmp_path_factory.mktemp("stops")
    store = open_store(data_dir=tmp)
    try:
        b = LocalPaperBroker(ledger=PaperLedger(store), cash=10_000.0, costs=COSTS)
        o = np.asarray([100.0, *path])
        c = np.roll(o, -1)
        c[-1] = o[-1]
        h, lo = np.maximum(o, c) * 1.01, np.minimum(o, c) * 0.99
        bars = bars_of(o, h, lo, c)
        place_run_orders(daily_run(D0, [plan(D0, stop=stop, target=target)]), b, bars=bars.head(1))
        for i in range(1, len(o) - 1):
            d = D0 + dt.timedelta(days=i)
            b.sync(bars.head(i + 1))
            if b.positions():
                hold = plan(d, "hold", stop=stop, target=target)
                place_run_orders(daily_run(d, [hold]), b, bars=bars.head(i + 1))
        b.sync(bars)
        got = booked(b)
        want = sim_fills(bars, 10, stop, target)
        assert [(g[0], g[4]) for g in got] == [(w[0], w[4]) for w in want]
        flat = [x for g in got for x in g[1:4]]
        assert flat == pytest.approx([x for w in want for x in w[1:4]], rel=1e-12)
        fills = b.ledger.fills("local")
        for f in fills:
            t = list(bars.index.date).index(f.timestamp.date())
            slip = 1 + 5e-4
            assert bars.low[t, 0] * (2 - slip) - 1e-9 <= f.price <= bars.high[t, 0] * slip + 1e-9
        spent = sum(
            (1 if f.side.value == "buy" else -1) * f.quantity * f.price + f.fee for f in fills
        )
        assert b.ledger.cash("local") == pytest.approx(10_000.0 - spent)
    finally:
        store.close()
