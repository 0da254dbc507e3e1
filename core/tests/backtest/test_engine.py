import json
import math

import numpy as np
import pandas as pd
import pytest

from tsys.backtest import Splits, holdout_uses, run
from tsys.data import Bars
from tsys.errors import ConfigError
from tsys.sim import Capacity, CostModel, FeeModel, FixedSlippage, simulate

FREE = CostModel(FeeModel(), FixedSlippage(0.0), Capacity(None))


def make_bars(asset_classes=("equity", "equity"), T=40):
    rng = np.random.default_rng(3)
    N = len(asset_classes)
    c = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, (T, N)), axis=0))
    idx = pd.date_range("2021-01-04", periods=T, freq="B", tz="UTC")
    return Bars(
        idx,
        [f"S{j}" for j in range(N)],
        c,
        c * 1.01,
        c * 0.99,
        c,
        np.full((T, N), 1e6),
        asset_classes,
    )


def test_run_labels_dates_and_matches_the_simulator():
    bars = make_bars()
    w = pd.DataFrame({"S0": [0.5] + [np.nan] * 39, "S1": [0.4] + [np.nan] * 39}, index=bars.index)
    bt = run(bars, w, costs=FREE, benchmark="S0")
    direct = simulate(
        bars.open,
        bars.high,
        bars.low,
        bars.close,
        bars.volume,
        target_weights=w.to_numpy(),
        costs=FREE,
    )
    assert np.array_equal(bt.equity.to_numpy(), direct.equity)
    assert bt.equity.index.equals(bars.index)
    assert set(bt.fills.symbol) == {"S0", "S1"} and (bt.fills.date == bars.index[1]).all()
    assert bt.trades.entry_date.iloc[0] == bars.index[1]
    assert bt.metrics["total_return"] == pytest.approx(bt.equity.iloc[-1] / 100_000 - 1)
    assert bt.benchmark_equity.iloc[-1] == pytest.approx(
        100_000 * bars.close[-1, 0] / bars.close[0, 0]
    )
    payload = json.loads(bt.to_json())
    assert payload["metrics"]["trade_count"] == 0  # both positions still open
    assert len(payload["equity"]) == 40 and len(payload["trades"]) == 2


def test_lot_sizes_default_from_asset_class():
    bars = make_bars(("equity", "crypto"))
    w = np.full(bars.shape, np.nan)
    w[0] = [0.3, 0.3]
    bt = run(bars, w, costs=FREE)
    q = bt.sim.positions[-1]
    assert q[0] == math.floor(q[0]) and q[1] != math.floor(q[1])
    assert bt.metrics["capacity_estimate"] > 0


def test_date_range_and_sealed_holdout(tmp_path):
    bars = make_bars()
    w = np.full(bars.shape, 0.3)
    bt = run(bars, w, costs=FREE, start=bars.index[5], end=bars.index[20])
    assert len(bt.equity) == 16 and bt.equity.index[0] == bars.index[5]
    sp = Splits.from_fractions(bars.index)
    assert len(run(bars, w, costs=FREE, split=sp, segment="validation").equity) == 8
    with pytest.raises(ConfigError, match="sealed"):
        run(bars, w, costs=FREE, split=sp, segment="holdout")
    bt = run(
        bars,
        w,
        costs=FREE,
        split=sp,
        segment="holdout",
        allow_holdout=True,
        data_dir=tmp_path,
        config={"a": 1},
    )
    assert len(bt.equity) == 8 and bt.segment == "holdout"
    assert len(holdout_uses(tmp_path)) == 1
