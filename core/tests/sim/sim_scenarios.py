"""Random panels, price levels, costs and stop rules shared by the simulator's property tests."""

import numpy as np
from hypothesis import strategies as st

from tsys.sim import Capacity, CostModel, FeeModel, FixedSlippage, ImpactSlippage, StopRules

RULES = [
    None,
    StopRules(stop_loss=0.05, take_profit=0.08),
    StopRules(atr_trailing=1.0, atr_window=3, time_stop_bars=3),
]

COSTS = st.builds(
    CostModel,
    st.sampled_from([FeeModel(), FeeModel(10.0), FeeModel(5.0, 0.01, 1.0)]),
    st.sampled_from([FixedSlippage(0.0), FixedSlippage(5.0), ImpactSlippage(2.0, 0.5, 5)]),
    st.sampled_from([Capacity(None), Capacity(0.025), Capacity(0.5)]),
)


def random_bars(rng, T, N):
    """Open, high, low, close and volume (T x N): some zero volume, some NaN prices."""
    c = 50 * np.exp(np.cumsum(rng.normal(0, 0.03, (T, N)), axis=0))
    o = c * np.exp(rng.normal(0, 0.02, (T, N)))
    h = np.maximum(o, c) * np.exp(np.abs(rng.normal(0, 0.02, (T, N))))
    lo = np.minimum(o, c) * np.exp(-np.abs(rng.normal(0, 0.02, (T, N))))
    v = np.floor(rng.lognormal(6, 1.5, (T, N)))
    holes = rng.random((T, N))
    v[holes < 0.07] = 0.0
    for a in (o, h, lo, c):
        a[(holes > 0.07) & (holes < 0.1)] = np.nan
    return o, h, lo, c, v


def random_levels(rng, c, side):
    """Price levels within 10% x side of the closes c, NaN (no level) on half the cells."""
    x = c * (1 + side * rng.random(c.shape) * 0.1)
    x[rng.random(c.shape) < 0.5] = np.nan
    return x


def same(a, b):
    """Equal arrays, NaN equal to NaN: the same run, bit for bit."""
    return np.array_equal(a, b, equal_nan=True)


def assert_same_run(a, b, kw):
    """Two simulations of one scenario (simulate's keywords kw) agree on every output."""
    assert same(a.equity, b.equity) and same(a.cash, b.cash)
    assert same(a.interest, b.interest)
    assert same(a.last_positions, b.last_positions)
    if not kw["cash_sharing"]:
        assert same(a.last_sub_equity, b.last_sub_equity)
    if kw.get("record_positions", True):
        assert same(a.positions, b.positions)
        if not kw["cash_sharing"]:
            assert same(a.sub_equity, b.sub_equity)
    assert a.fill_arrays.keys() == b.fill_arrays.keys()
    for name in b.fill_arrays:
        assert same(a.fill_arrays[name], b.fill_arrays[name]), name
