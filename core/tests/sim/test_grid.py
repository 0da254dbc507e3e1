"""simulate_grid: K decision sets over one panel equal K separate single runs, bit for bit."""

import os
import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sim_scenarios import COSTS, RULES, assert_same_run, random_bars, random_levels, same

from tsys.errors import ContractError
from tsys.sim import (
    Capacity,
    CostModel,
    FeeModel,
    FixedSlippage,
    StopRules,
    current_impl,
    simulate,
    simulate_grid,
)

EXAMPLES = 1000 if os.environ.get("CI") else 60


@st.composite
def grids(draw):
    """Bars, then K decision sets: each decision panel per set (K x T x N) or shared (T x N),
    in row-major or column-major layouts."""
    T, N, K = draw(st.integers(2, 20)), draw(st.integers(1, 3)), draw(st.integers(1, 4))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    bars = random_bars(rng, T, N)
    c = bars[3]
    mode = draw(st.sampled_from(["weights", "qty", "signals"]))
    per_set = {}

    def make(name, fn):
        # one panel per set, or one shared by every set
        if draw(st.booleans()):
            per_set[name] = np.stack([fn() for _ in range(K)])
        else:
            per_set[name] = fn()

    if mode == "weights":

        def w():
            a = rng.random((T, N)) * draw(st.sampled_from([0.4, 1.0, 2.0])) / N
            a[rng.random((T, N)) < 0.5] = np.nan
            a[rng.random((T, N)) < 0.1] = 0.0
            return a

        make("target_weights", w)
    elif mode == "qty":

        def q():
            a = np.floor(rng.random((T, N)) * 200)
            a[rng.random((T, N)) < 0.5] = np.nan
            return a

        make("target_qty", q)
    else:
        make("entries", lambda: rng.random((T, N)) < 0.3)
        make("exits", lambda: rng.random((T, N)) < 0.2)
        size = draw(st.sampled_from(["scalar", "per_symbol", "per_set"]))
        if size == "scalar":
            per_set["target_weights"] = draw(st.sampled_from([0.3, 0.95]))
        elif size == "per_symbol":
            per_set["target_weights"] = rng.random(N)
        else:
            per_set["target_weights"] = rng.random((K, 1, 1))
    if draw(st.booleans()):
        make("stop_price", lambda: random_levels(rng, c, -1))
    if draw(st.booleans()):
        make("target_price", lambda: random_levels(rng, c, 1))
    if mode != "signals" and draw(st.booleans()):
        make("limit_price", lambda: random_levels(rng, c, -0.3))
    kw = dict(per_set)
    kw["costs"] = draw(COSTS)
    if draw(st.booleans()):
        kw["stops_per_set"] = [draw(st.sampled_from(RULES)) or StopRules() for _ in range(K)]
    else:
        kw["stops"] = draw(st.sampled_from(RULES))
    if not any(isinstance(x, np.ndarray) and x.ndim == 3 for x in kw.values()) and (
        "stops_per_set" not in kw
    ):
        K = 1  # every panel shared: one set
    kw["lot_size"] = draw(st.sampled_from([1.0, 1e-8]))
    kw["cash"] = draw(st.sampled_from([1_000.0, 100_000.0]))
    kw["cash_sharing"] = draw(st.booleans())
    kw["record_positions"] = draw(st.booleans())
    if draw(st.booleans()):
        kw["cash_rate"] = draw(st.sampled_from([0.05, 0.2]))
        kw["cash_rate_periods"] = 252
    if draw(st.booleans()):
        bars = tuple(np.asfortranarray(a) for a in bars)
    if draw(st.booleans()):  # decisions symbol-major (each set's panel column-major)
        for k, x in kw.items():
            if isinstance(x, np.ndarray) and x.ndim == 3 and x.shape[1:] == (T, N):
                kw[k] = np.ascontiguousarray(x.transpose(0, 2, 1)).transpose(0, 2, 1)
            elif isinstance(x, np.ndarray) and x.ndim == 2:
                kw[k] = np.asfortranarray(x)
    return bars, kw, K


def _single(kw, k, K):
    """Set k's arguments for a single simulate call."""
    one = {}
    for name, x in kw.items():
        if name == "stops_per_set":
            one["stops"] = x[k]
        elif isinstance(x, np.ndarray) and x.ndim == 3 and x.shape[0] == K and x.shape[1] > 1:
            one[name] = x[k]
        elif isinstance(x, np.ndarray) and x.ndim == 3:  # K x 1 x 1 sizes
            one[name] = float(x[k, 0, 0])
        else:
            one[name] = x
    return one


@settings(max_examples=EXAMPLES, deadline=None)
@given(grids())
def test_grid_equals_separate_single_runs(sc):
    bars, kw, K = sc
    impl = current_impl()
    grid = simulate_grid(*bars, impl=impl, **kw)
    assert len(grid) == K and grid.equity.shape == (K, bars[0].shape[0])
    assert (np.diff(grid.fill_arrays["set"]) >= 0).all()
    for k in range(K):
        single = simulate(*bars, impl=impl, **_single(kw, k, K))
        assert_same_run(grid.result(k), single, kw)
        assert same(grid.final_equity[k], single.equity[-1])


@settings(max_examples=EXAMPLES, deadline=None)
@given(grids())
def test_grid_cython_and_reference_are_identical(sc):
    bars, kw, _ = sc
    g_py = simulate_grid(*bars, impl="python", **kw)
    g_cy = simulate_grid(*bars, impl="cython", **kw)
    for name in ("equity", "cash", "interest", "last_positions"):
        assert same(getattr(g_py, name), getattr(g_cy, name)), name
    assert g_py.fill_arrays.keys() == g_cy.fill_arrays.keys()
    for name in g_py.fill_arrays:
        assert same(g_py.fill_arrays[name], g_cy.fill_arrays[name]), name


def test_sma_sweep_grid_matches_single_runs_on_long_panels():
    # the parity workload's shape in small: K SMA-like signal sets, symbol-major bars, no
    # shared cash; every set's fills, equity and last values equal its own single run
    from tsys.sim.signals import sma_cross

    rng = np.random.default_rng(3)
    T, N = 600, 5
    o, h, lo, c, v = (np.asfortranarray(a) for a in random_bars(rng, T, N))
    c = np.asfortranarray(np.where(np.isfinite(c), c, 50.0))
    pairs = [(5, 20), (10, 50), (3, 7), (20, 60)]
    masks = [sma_cross(c, f, s) for f, s in pairs]
    ent = np.stack([m[0] for m in masks])
    ext = np.stack([m[1] for m in masks])
    kw = dict(target_weights=0.95, cash_sharing=False, lot_size=1.0,
              costs=CostModel(FeeModel(10.0), FixedSlippage(5.0), Capacity(None)))  # fmt: skip
    grid = simulate_grid(o, h, lo, c, v, entries=ent, exits=ext, **kw)
    assert grid.fill_arrays["set"].max() == len(pairs) - 1
    for k in range(len(pairs)):
        single = simulate(o, h, lo, c, v, entries=ent[k], exits=ext[k], record_positions=False,
                          **kw)  # fmt: skip
        assert_same_run(grid[k], single, {**kw, "record_positions": False})
        assert single.n_fills > 20


def test_grid_reads_the_bars_in_place():
    # K sets over one panel: the traced peak stays far below one copy of the bars per set
    rng = np.random.default_rng(1)
    T, N, K = 2000, 40, 25
    bars = [np.asfortranarray(a) for a in random_bars(rng, T, N)]
    ent = np.asfortranarray(rng.random((T, N)) < 0.05)
    ext = np.asfortranarray(rng.random((T, N)) < 0.05)
    ents = np.stack([np.roll(ent, k, axis=0) for k in range(K)])
    exts = np.stack([np.roll(ext, k, axis=0) for k in range(K)])
    ents = np.ascontiguousarray(ents.transpose(0, 2, 1)).transpose(0, 2, 1)
    exts = np.ascontiguousarray(exts.transpose(0, 2, 1)).transpose(0, 2, 1)
    kw = dict(entries=ents, exits=exts, target_weights=0.5, cash_sharing=False,
              impl="cython")  # fmt: skip
    simulate_grid(*bars, **kw)
    tracemalloc.start()
    try:
        grid = simulate_grid(*bars, **kw)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    one_panel = T * N * 8
    assert grid.fill_arrays["set"].max() == K - 1
    # what the grid returns (K x T equity and cash, the fills) and less than one T x N panel
    # besides: not one copy of the five bars (5 x 640 kB), let alone one per set
    kept = sum(a.nbytes for a in grid.fill_arrays.values()) + grid.equity.nbytes * 2
    assert peak - kept < one_panel, (peak, kept)


def test_grid_refuses_sets_that_disagree():
    rng = np.random.default_rng(2)
    bars = random_bars(rng, 10, 2)
    w3 = np.full((3, 10, 2), 0.1)
    with pytest.raises(ContractError, match="decision sets"):
        simulate_grid(*bars, target_weights=w3, stop_price=np.full((2, 10, 2), 1.0))
    with pytest.raises(ContractError, match="decision sets"):
        simulate_grid(*bars, target_weights=w3, stops_per_set=[StopRules()] * 2)
    with pytest.raises(ContractError, match="shape"):
        simulate(*bars, target_weights=w3)  # a single run takes T x N only
    with pytest.raises(ContractError, match="not both"):
        simulate_grid(*bars, target_weights=w3, stops=StopRules(), stops_per_set=[None] * 3)
    g = simulate_grid(*bars, target_weights=w3)
    with pytest.raises(IndexError):
        g.result(3)
    assert g[-1].equity.shape == (10,)


@pytest.mark.parametrize("layout", [np.ascontiguousarray, np.asfortranarray])
@pytest.mark.parametrize("sharing", [False, True])
def test_strided_and_missing_masks_read_like_plain_ones(layout, sharing):
    # broadcast views (zero strides) and a missing entries mask: the compiled loops read them
    # through their strides (or copy the decisions, never the bars) and agree with the oracle
    rng = np.random.default_rng(4)
    T, N, K = 120, 3, 2
    bars = [layout(np.where(np.isfinite(a), a, 50.0)) for a in random_bars(rng, T, N)]
    col = rng.random((T, 1)) < 0.1
    ent = np.broadcast_to(col, (T, N))  # strides (1, 0): every symbol the same column
    ext = np.broadcast_to(rng.random((1, T, N)) < 0.1, (K, T, N))  # shared over the sets
    for kw in (
        dict(entries=ent, exits=ext, target_weights=np.full((K, 1, 1), 0.5)),
        dict(exits=ext[0]),
        dict(entries=np.broadcast_to(col, (K, T, N)), target_qty=5.0),
    ):
        ref = simulate_grid(*bars, impl="python", cash_sharing=sharing, **kw)
        got = simulate_grid(*bars, impl="cython", cash_sharing=sharing, **kw)
        assert same(ref.equity, got.equity) and same(ref.cash, got.cash)
        for name in ref.fill_arrays:
            assert same(ref.fill_arrays[name], got.fill_arrays[name]), name
    assert simulate_grid(*bars, **kw).fill_arrays["qty"].sum() > 0
