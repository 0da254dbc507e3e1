"""Hypothesis properties of the simulator on random panels, random targets and random rules."""

import importlib
import os

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st
from sim_scenarios import COSTS, RULES, assert_same_run, random_bars, random_levels, same

from tsys.sim import Capacity, CostModel, FeeModel, FixedSlippage, StopRules, current_impl, simulate

EQUIV_EXAMPLES = 2000 if os.environ.get("CI") else 100


@st.composite
def scenarios(draw):
    T = draw(st.integers(2, 24))
    N = draw(st.integers(1, 3))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    o, h, lo, c, v = random_bars(rng, T, N)
    mode = draw(st.sampled_from(["weights", "qty", "signals"]))
    kw = {}
    if mode == "weights":
        w = rng.random((T, N)) * draw(st.sampled_from([0.4, 1.0, 2.0])) / N
        w[rng.random((T, N)) < 0.5] = np.nan
        w[rng.random((T, N)) < 0.1] = 0.0
        kw["target_weights"] = w
    elif mode == "qty":
        q = np.floor(rng.random((T, N)) * 200)
        q[rng.random((T, N)) < 0.5] = np.nan
        kw["target_qty"] = q
    else:
        kw["entries"] = rng.random((T, N)) < 0.3
        kw["exits"] = rng.random((T, N)) < 0.2
        kw["target_weights"] = draw(st.sampled_from([0.3, 0.95]))
    if draw(st.booleans()):
        kw["stop_price"] = random_levels(rng, c, -1)
    if draw(st.booleans()):
        kw["target_price"] = random_levels(rng, c, 1)
    if mode != "signals" and draw(st.booleans()):
        kw["limit_price"] = random_levels(rng, c, -0.3)
    kw["costs"] = draw(COSTS)
    kw["stops"] = draw(st.sampled_from(RULES))
    kw["lot_size"] = draw(st.sampled_from([1.0, 1e-8]))
    kw["cash"] = draw(st.sampled_from([1_000.0, 100_000.0]))
    kw["cash_sharing"] = draw(st.booleans())
    # idle cash earning interest: by calendar days (dates with weekends and holidays) or per bar
    rate = draw(st.sampled_from([None, 0.05, "per_bar"]))
    if rate is not None:
        kw["cash_rate"] = rng.random(T) * 0.1 if rate == "per_bar" else rate
        if draw(st.booleans()):
            kw["cash_rate_periods"] = draw(st.sampled_from([252, 365]))
        else:
            days = np.cumsum(rng.integers(1, 5, T))
            kw["index"] = pd.DatetimeIndex(np.datetime64("2020-01-02") + days.astype("m8[D]"))
    # row-major (bar-major) or column-major (symbol-major) bars, and independently the other
    # panels: without shared cash, column-major bars run the compiled symbol-major loop
    bars = (o, h, lo, c, v)
    if draw(st.booleans()):
        bars = tuple(np.asfortranarray(a) for a in bars)
    if draw(st.booleans()):
        for k, x in kw.items():
            if isinstance(x, np.ndarray) and x.ndim == 2:
                kw[k] = np.asfortranarray(x)
    return bars, kw


@settings(max_examples=EQUIV_EXAMPLES, deadline=None)
@given(scenarios())
def test_cython_and_reference_are_identical(sc):
    bars, kw = sc
    r_py = simulate(*bars, impl="python", **kw)
    r_cy = simulate(*bars, impl="cython", **kw)
    assert_same_run(r_py, r_cy, kw)
    # without the T x N panels: the same run, and the same last bar
    r_np = simulate(*bars, impl="cython", record_positions=False, **kw)
    assert_same_run(r_np, r_cy, {**kw, "record_positions": False})


@settings(max_examples=EQUIV_EXAMPLES, deadline=None)
@given(scenarios(), st.integers(1, 7))
def test_symbol_major_blocks_of_bars_match_the_reference(sc, block):
    # the compiled symbol-major loop (column-major bars, no shared cash) runs the bars in
    # blocks, every symbol through one block before the next block; blocks of a few bars
    # make every scenario cross several
    bars, kw = sc
    bars = tuple(np.asfortranarray(a) for a in bars)
    kw = {**kw, "cash_sharing": False}
    fill = importlib.import_module("tsys.sim._fill")
    ref = simulate(*bars, impl="python", **kw)
    old = fill.block_bars(block)
    try:
        res = simulate(*bars, impl="cython", **kw)
    finally:
        fill.block_bars(old)
    for name in ("equity", "cash", "interest", "positions", "sub_equity", "last_sub_equity"):
        assert same(getattr(res, name), getattr(ref, name)), name
    for k in ref.fill_arrays:
        assert same(res.fill_arrays[k], ref.fill_arrays[k]), k


def _mark(c):
    m = np.where(np.isfinite(c) & (c > 0), c, np.nan)
    out = m.copy()
    for t in range(1, len(m)):
        out[t] = np.where(np.isnan(m[t]), out[t - 1], m[t])
    return out


@given(scenarios())
def test_accounting_and_fairness_invariants(sc):
    (o, h, lo, c, v), kw = sc
    res = simulate(o, h, lo, c, v, impl=current_impl(), **kw)
    mark = _mark(c)
    held = np.where(res.positions > 0, res.positions * np.nan_to_num(mark), 0.0)
    # equity = cash + marked positions, every bar
    np.testing.assert_allclose(res.equity, res.cash + held.sum(axis=1), rtol=1e-9, atol=1e-6)
    # interest only on cash, never negative with rates >= 0; none without a rate
    assert (res.interest >= 0).all()
    if "cash_rate" not in kw:
        assert not res.interest.any()
    assert (res.cash >= 0).all(), "cash went negative"
    assert (res.positions >= 0).all(), "short position"
    f = res.fills
    done = f[f.qty > 0]
    t, j = done.bar.to_numpy(), done.symbol_index.to_numpy()
    # fees and slippage never favour the trader
    assert (done.fee >= 0).all() and (done.slippage >= 0).all()
    buys = done.side == "buy"
    assert (done.price[buys] >= done.ref_price[buys]).all()
    assert (done.price[~buys] <= done.ref_price[~buys]).all()
    # the reference price lies inside the bar
    assert (done.ref_price.to_numpy() >= lo[t, j]).all()
    assert (done.ref_price.to_numpy() <= h[t, j]).all()
    # nothing trades on a bar without volume or a valid price
    ok = (v[t, j] > 0) & np.isfinite(o[t, j] + h[t, j] + lo[t, j] + c[t, j])
    assert ok.all()
    # no (bar, symbol) trades more than its participation cap
    mp = kw["costs"].capacity.max_participation
    if mp is not None:
        per = done.groupby(["bar", "symbol_index"]).qty.sum()
        for (tb, js), q in per.items():
            assert q <= mp * v[tb, js] * (1 + 1e-12)
    # a fill never leaves more than was asked for
    assert (f.unfilled_qty >= -1e-9).all()


@given(scenarios(), st.data())
def test_future_data_never_changes_the_past(sc, data):
    (o, h, lo, c, v), kw = sc
    T = c.shape[0]
    cut = data.draw(st.integers(0, T - 2))
    base = simulate(o, h, lo, c, v, impl=current_impl(), **kw)
    rng = np.random.default_rng(cut)

    def perturb(a, scale):
        b = a.copy()
        b[cut + 1 :] = b[cut + 1 :] * np.exp(rng.normal(0, scale, b[cut + 1 :].shape))
        return b

    p_bars = [perturb(x, 0.2) for x in (o, h, lo, c)] + [perturb(v, 1.0)]
    kw2 = dict(kw)
    for k in ("target_weights", "target_qty", "stop_price", "target_price", "limit_price"):
        if isinstance(kw.get(k), np.ndarray):
            kw2[k] = perturb(kw[k], 0.5)
    for k in ("entries", "exits"):
        if k in kw:
            m = kw[k].copy()
            m[cut + 1 :] = ~m[cut + 1 :]
            kw2[k] = m
    other = simulate(*p_bars, impl=current_impl(), **kw2)
    assert same(base.equity[: cut + 1], other.equity[: cut + 1])
    assert same(base.positions[: cut + 1], other.positions[: cut + 1])
    fa, fb = base.fill_arrays, other.fill_arrays
    ia, ib = fa["bar"] <= cut, fb["bar"] <= cut
    for k in fa:
        assert same(fa[k][ia], fb[k][ib]), k


def test_symbol_major_loop_on_long_sparse_signals_matches_the_reference():
    # long runs of bars without a decision (the symbol-major loop skips them eight at a time
    # and fetches the bars of orders ahead), gaps, stops and capacity, in both layouts
    rng = np.random.default_rng(11)
    T, N = 700, 7
    c = 50 * np.exp(np.cumsum(rng.normal(0, 0.02, (T, N)), axis=0))
    o = c * np.exp(rng.normal(0, 0.01, (T, N)))
    h = np.maximum(o, c) * 1.01
    lo = np.minimum(o, c) * 0.99
    v = np.floor(rng.lognormal(8, 1, (T, N)))
    v[rng.random((T, N)) < 0.02] = 0.0
    c[rng.random((T, N)) < 0.01] = np.nan
    ent = rng.random((T, N)) < 0.02
    ext = rng.random((T, N)) < 0.02
    runs = [
        {},
        {"stops": StopRules(stop_loss=0.03, time_stop_bars=20)},
        {"costs": CostModel(FeeModel(10.0), FixedSlippage(5.0), Capacity(0.01))},
    ]
    for extra in runs:
        kw = dict(entries=ent, exits=ext, target_weights=0.95, cash_sharing=False, **extra)
        ref = simulate(o, h, lo, c, v, impl="python", **kw)
        assert ref.n_fills > 50
        for layout in (np.ascontiguousarray, np.asfortranarray):
            bars = [layout(x) for x in (o, h, lo, c, v)]
            masks = {"entries": layout(ent), "exits": layout(ext)}
            for rec in (True, False):
                r = simulate(*bars, impl="cython", record_positions=rec, **{**kw, **masks})
                assert same(r.equity, ref.equity) and same(r.cash, ref.cash)
                assert same(r.last_sub_equity, ref.last_sub_equity)
                for k in ref.fill_arrays:
                    assert same(r.fill_arrays[k], ref.fill_arrays[k]), k
                if rec:
                    assert same(r.positions, ref.positions)
                    assert same(r.sub_equity, ref.sub_equity)
