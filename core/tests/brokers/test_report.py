"""The paper report finds differences: another cost model, a broker filling off the model."""

import datetime as dt

import pytest
from test_local import COSTS, make_bars, plan

from tsys.brokers import AccountState, Broker
from tsys.brokers.local import LocalPaperBroker, place_run_orders
from tsys.brokers.report import default_costs_for, paper_report
from tsys.contracts import BucketRun, DailyRun, OrderStatus
from tsys.orderlog import Baseline, event_for
from tsys.sim.models import CostModel, FeeModel, FixedSlippage
from tsys.store import open_store
from tsys.store.paper import PaperLedger, StoreOrderLog

OPENS = [[100.0, 50.0], [101.0, 51.0], [99.0, 52.5], [98.0, 53.0]]
WIDE = CostModel(fees=FeeModel(bps=10.0, minimum=1.0), slippage=FixedSlippage(bps=50.0))


class Source:
    def __init__(self, bars):
        self.b = bars

    def bars(self, symbols, start, end):
        return self.b.select(symbols).between(start, end)


def run_of(day, plans):
    return DailyRun(
        as_of=day,
        created_at=dt.datetime.combine(day, dt.time(22), dt.UTC),
        config_digest="x",
        buckets=[BucketRun(bucket="b", version="1", asset_class="equity", as_of=day, plans=plans)],
    )


@pytest.fixture
def store(tmp_path):
    s = open_store(data_dir=tmp_path)
    yield s
    s.close()


def test_other_costs_show_as_differences_and_drift(store):
    bars = make_bars(OPENS)
    days = [d.date() for d in bars.index]
    b = LocalPaperBroker(ledger=PaperLedger(store), cash=10_000.0, costs=COSTS, data=Source(bars))
    b.data = Source(bars.head(1))
    place_run_orders(run_of(days[0], [plan("AAA", 10, days[0]), plan("BTC-USD", 2.5, days[0])]), b)
    for k in (2, 3):
        b.data = Source(bars.head(k))
        place_run_orders(run_of(days[k - 1], []), b)
    assert [m.date for m in b.ledger.marks("local")] == days[:3]

    same = paper_report(b, data=Source(bars))
    assert same["all_fills_match"] and same["drift"]["max_abs_drift"] == pytest.approx(0, abs=1e-9)

    rep = paper_report(b, data=Source(bars), costs_for=lambda ac: WIDE)
    aaa, btc = rep["fills"]
    assert not aaa["match"] and "price" in aaa["note"]
    assert aaa["modelled_price"] == pytest.approx(101.0 * 1.005)
    assert aaa["realised_slippage_bps"] == pytest.approx(5.0)
    assert aaa["modelled_slippage_bps"] == pytest.approx(50.0)
    assert btc["modelled_slippage"] == pytest.approx(2.5 * 51.0 * 0.005)

    def cost(q, px, slip):
        p = px * (1 + slip)
        return q * p + max(1.0, q * p * 0.001)

    extra = (
        cost(10, 101.0, 0.005)
        - cost(10, 101.0, 0.0005)
        + cost(2.5, 51.0, 0.005)
        - cost(2.5, 51.0, 0.0005)
    )
    d = rep["drift"]
    assert d["drift"] == pytest.approx([0.0, extra, extra], rel=1e-9, abs=1e-9)
    assert d["final_drift"] == pytest.approx(extra, rel=1e-9)
    assert d["max_abs_drift_pct"] == pytest.approx(extra / d["backtest_equity"][1], rel=1e-9)


def test_old_day_rerun_keeps_the_newer_marks(store):
    bars = make_bars(OPENS)
    days = [d.date() for d in bars.index]
    b = LocalPaperBroker(ledger=PaperLedger(store), cash=10_000.0, costs=COSTS)
    b.submit([plan("AAA", 10, days[0])], decision_date=days[0])
    b.sync(bars.head(3))
    marks = b.ledger.marks("local")
    b.sync(bars.head(2))  # a re-run of day 2 after day 3
    assert b.ledger.marks("local") == marks
    assert b.ledger.book("local")["AAA"].last_price == bars.close[2, 0]


class OffModelBroker(Broker):
    """A remote-like broker (no fill rows, no cost model): fills at a price of its own."""

    name = "remote"

    def __init__(self, store):
        self.log = StoreOrderLog(store)
        self.cash = 10_000.0
        self.held = {}

    def account(self):
        value = sum(q * 101.5 for q in self.held.values())
        return AccountState(cash=self.cash, equity=self.cash + value, buying_power=self.cash)

    def positions(self):
        return []

    def submit(self, plans, *, decision_date=None):
        import attrs

        from tsys.contracts import Order

        out = []
        for p in plans:
            sig = p.allocation.signal
            o = Order(
                client_order_id=p.client_order_id,
                symbol=sig.symbol,
                asset_class=sig.asset_class,
                side="buy",
                quantity=p.allocation.quantity,
                entry="MOO",
                time_in_force="opg",
                submitted_at=sig.timestamp,
                status="accepted",
            )
            self.log.save_order(self.name, o, decision_date=decision_date)
            self.log.record_event(self.name, event_for(o, sig.timestamp))
            # Filled at the next open, 20 bps worse than the open, by the "broker".
            px = 101.0 * 1.002
            o = attrs.evolve(
                o, status=OrderStatus.FILLED, filled_quantity=10.0, filled_avg_price=px
            )
            self.log.save_order(self.name, o)
            self.log.record_event(
                self.name, event_for(o, dt.datetime(2024, 5, 2, 13, 30, tzinfo=dt.UTC))
            )
            self.cash -= 10 * px
            self.held[o.symbol] = 10.0
            out.append(o)
        return out

    def order(self, client_order_id):
        return self.log.get_order(self.name, client_order_id)

    def open_orders(self):
        return []

    def cancel(self, client_order_id):
        return None

    def events(self, since=None):
        return self.log.events(self.name, since=since)


def test_remote_fills_against_the_model(store):
    bars = make_bars(OPENS)
    days = [d.date() for d in bars.index]
    b = OffModelBroker(store)
    b.log.set_baseline("remote", Baseline(10_000.0))
    place_run_orders(run_of(days[0], [plan("AAA", 10, days[0])]), b)
    (mark,) = b.log.marks("remote")  # the account as reported, recorded for the run's day
    assert (mark.date, mark.cash) == (days[0], pytest.approx(10_000.0 - 10 * 101.0 * 1.002))
    assert mark.positions_value == pytest.approx(10 * 101.5)

    costs = CostModel(slippage=FixedSlippage(bps=5.0))
    rep = paper_report(b, data=Source(bars), costs_for=lambda ac: costs)
    (f,) = rep["fills"]
    assert f["date"] == "2024-05-02" and f["decision_date"] == "2024-05-01"
    assert f["realised_slippage"] == pytest.approx(10 * 101.0 * 0.002)
    assert f["realised_slippage_bps"] == pytest.approx(20.0)
    assert f["modelled_price"] == pytest.approx(101.0 * 1.0005)
    assert f["modelled_slippage_bps"] == pytest.approx(5.0)
    assert f["match"] is False
    assert rep["starting_cash"] == 10_000.0


def test_default_costs_for_remote_brokers(store):
    from tsys.contracts import AssetClass
    from tsys.sim import default_costs

    f = default_costs_for(OffModelBroker(store))
    assert f(AssetClass.CRYPTO) == default_costs(AssetClass.CRYPTO)
    loc = LocalPaperBroker(ledger=PaperLedger(store), cash=1.0, costs=COSTS)
    assert default_costs_for(loc)(AssetClass.EQUITY) is COSTS
