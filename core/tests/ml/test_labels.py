"""Triple-barrier labels against trades computed by hand, and against the simulator."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tsys.buckets import BucketOutput, PositionRules
from tsys.contracts import AssetClass
from tsys.data import Bars
from tsys.ml.labels import side_costs, triple_barrier
from tsys.sim import Capacity, CostModel, FeeModel, FixedSlippage, simulate

COSTS = CostModel(
    fees=FeeModel(bps=10.0), slippage=FixedSlippage(bps=10.0), capacity=Capacity(None)
)
FEE = SLIP = 0.001


def _bars(rows: dict[str, list[tuple[float, float, float, float]]]) -> Bars:
    """Columns of (open, high, low, close) bars, one list per symbol."""
    syms = list(rows)
    T = len(next(iter(rows.values())))
    a = np.array([[rows[s][t] for s in syms] for t in range(T)], dtype=np.float64)
    return Bars(
        pd.bdate_range("2020-01-01", periods=T, tz="UTC"),
        tuple(syms),
        a[:, :, 0].copy(),
        a[:, :, 1].copy(),
        a[:, :, 2].copy(),
        a[:, :, 3].copy(),
        np.full((T, len(syms)), 1e6),
        [AssetClass.EQUITY] * len(syms),
    )


FLAT = (100.0, 101.0, 99.0, 100.0)
# (open, high, low, close) per bar; every symbol is signalled at the close of bar 0 with
# stop 95 and target 105, and (rules below) a time stop of 3 bars.
MARKET = {
    # bar 1 touches the stop (low 94) and the target (high 106): the stop, inside the bar
    "BOTH": [FLAT, (100.0, 106.0, 94.0, 100.0), FLAT, FLAT, FLAT, FLAT],
    # bar 2 opens at 90, below the stop: filled at that open
    "GAP": [FLAT, FLAT, (90.0, 91.0, 88.0, 90.0), FLAT, FLAT, FLAT],
    # bar 2 reaches the target: the planner closes at that close, sold at the open of bar 3
    "TGT": [FLAT, FLAT, (100.0, 106.0, 99.0, 105.0), (104.0, 104.0, 103.0, 103.0), FLAT, FLAT],
    # nothing touched: the time stop closes at the close of bar 3, sold at the open of bar 4
    "TIME": [FLAT, FLAT, FLAT, FLAT, (102.0, 102.0, 101.0, 101.0), FLAT],
}


def _output(bars: Bars, t: int = 0) -> BucketOutput:
    T, N = bars.shape
    entries = np.zeros((T, N), dtype=bool)
    entries[t] = True
    return BucketOutput(
        score=np.where(entries, 1.0, np.nan),
        entries=entries,
        exits=np.zeros((T, N), dtype=bool),
        stop=np.full((T, N), 95.0),
        target=np.full((T, N), 105.0),
    )


def _net(entry_open: float, exit_px: float) -> float:
    return exit_px * (1 - SLIP) * (1 - FEE) / (entry_open * (1 + SLIP) * (1 + FEE)) - 1.0


@pytest.fixture(scope="module")
def labelled():
    bars = _bars(MARKET)
    ev = triple_barrier(bars, _output(bars), PositionRules(time_stop_bars=3), COSTS)
    return bars, {bars.symbols[j]: k for k, j in enumerate(ev.j)}, ev


def test_side_costs_read_the_cost_model():
    assert side_costs(COSTS) == pytest.approx((FEE, SLIP))


@pytest.mark.parametrize(
    ("sym", "exit_bar", "exit_px", "reason"),
    [
        ("BOTH", 1, 95.0, "stop"),  # stop first when stop and target share a bar
        ("GAP", 2, 90.0, "stop_gap"),  # a gap through the stop fills at the open
        ("TGT", 3, 104.0, "target"),
        ("TIME", 4, 102.0, "time"),
    ],
)
def test_labels_match_hand_computed_trades(labelled, sym, exit_bar, exit_px, reason):
    _, at, ev = labelled
    k = at[sym]
    assert ev.t[k] == 0 and ev.entry_bar[k] == 1  # decided at the close, filled next open
    assert ev.exit_bar[k] == exit_bar
    assert ev.reasons()[k] == reason
    want = _net(100.0, exit_px)
    assert ev.ret[k] == pytest.approx(want, rel=1e-12)
    assert ev.label[k] == int(want > 0)


def test_label_is_unknown_while_the_trade_is_open():
    bars = _bars({"OPEN": [FLAT] * 4})
    ev = triple_barrier(bars, _output(bars), PositionRules(time_stop_bars=10), COSTS)
    assert ev.exit_bar.tolist() == [-1] and ev.label.tolist() == [-1]
    assert np.isnan(ev.ret).all() and not ev.known.any()


def test_an_event_on_the_last_bar_has_no_entry():
    bars = _bars({"LATE": [FLAT] * 3})
    ev = triple_barrier(bars, _output(bars, t=2), PositionRules(time_stop_bars=2), COSTS)
    assert len(ev) == 0


def test_trailing_stop_closes_at_the_close_and_sells_next_open():
    # an atr_trailing bucket raises its stop to 99.5 at the close of bar 1; bar 2's low 99
    # touches it (the simulator's entry stop, 95, is not): sold at the open of bar 3
    bars = _bars({"TRL": [FLAT, (100.0, 103.0, 100.0, 102.0), FLAT, (98.0, 99.0, 97.0, 98.0)]})
    out = _output(bars)
    out.stop[1, 0] = 99.5
    rules = PositionRules(stop_kind="atr_trailing", time_stop_bars=10)
    ev = triple_barrier(bars, out, rules, COSTS)
    assert ev.reasons() == ["trailing"] and ev.exit_bar.tolist() == [3]
    assert ev.ret[0] == pytest.approx(_net(100.0, 98.0))


@pytest.mark.parametrize("sym", ["BOTH", "GAP"])
def test_stop_exits_agree_with_the_simulator(labelled, sym):
    """The simulator, given the same entry and stop, sells on the same bar at the same price."""
    bars, at, ev = labelled
    j = bars.column(sym)
    T = bars.shape[0]
    w = np.full((T, 1), np.nan)
    w[0, 0] = 0.5
    stop = np.full((T, 1), np.nan)
    stop[0, 0] = 95.0
    res = simulate(
        bars.open[:, [j]], bars.high[:, [j]], bars.low[:, [j]], bars.close[:, [j]],
        bars.volume[:, [j]], target_weights=w, stop_price=stop, costs=COSTS, cash=1e6,
    )  # fmt: skip
    fills = res.fills
    buy, sell = fills[fills["qty"] > 0].iloc[0], fills[fills["qty"] > 0].iloc[1]
    k = at[sym]
    assert int(buy["bar"]) == ev.entry_bar[k]
    assert int(sell["bar"]) == ev.exit_bar[k]
    want = float(sell["price"]) * (1 - FEE) / (float(buy["price"]) * (1 + FEE)) - 1
    assert ev.ret[k] == pytest.approx(want, rel=1e-12)
