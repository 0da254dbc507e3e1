"""SMA crossover masks: hand-computed cases, the definition, and compiled == NumPy twin."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tsys.errors import ContractError
from tsys.sim.signals import sma_cross, sma_cross_grid, sma_cross_numpy

IMPLS = ("cython", "python")


def as_layout(a, layout):
    return np.asfortranarray(a) if layout == "F" else np.ascontiguousarray(a)


def random_closes(T, N, seed, layout, flat):
    """A random walk of closes (T x N) in layout; flat: rounded from T/2 on, so averages tie."""
    rng = np.random.default_rng(seed)
    c = 50 * np.exp(np.cumsum(rng.normal(0, 0.03, (T, N)), axis=0))
    if flat and T > 0:
        c[T // 2 :] = np.round(c[T // 2 :])  # plateaus: equal averages, exact zeros
    return as_layout(c, layout)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("layout", ["C", "F"])
def test_hand_computed_fast_1_slow_2(impl, layout):
    # SMA_1 - SMA_2 = (c[t] - c[t-1]) / 2: its sign is the direction of the last move
    c = np.array([10.0, 9.0, 11.0, 12.0, 8.0, 8.0, 9.0]).reshape(-1, 1)
    up, down = sma_cross(as_layout(c, layout), 1, 2, impl=impl)
    # d from t=1: -0.5, +1, +0.5, -2, 0, +0.5; bar 6 follows a zero difference: no cross
    assert np.flatnonzero(up[:, 0]).tolist() == [2]
    assert np.flatnonzero(down[:, 0]).tolist() == [4]
    assert up.dtype == bool and up.shape == c.shape
    assert up.flags.f_contiguous == (layout == "F" or c.shape[1] == 1)


@pytest.mark.parametrize("impl", IMPLS)
def test_first_cross_needs_both_averages_at_the_previous_bar(impl):
    # slow = 3: d exists from t=2, so the earliest cross is at t=3 even though the move at
    # t=2 would already be one against an undefined d[1]
    c = np.array([[5.0], [4.0], [3.0], [9.0], [9.0]])
    up, down = sma_cross(c, 1, 3, impl=impl)
    # SMA1 - SMA3 at t=2: 3 - 4 = -1; t=3: 9 - 16/3 > 0 -> cross up at 3
    assert np.flatnonzero(up[:, 0]).tolist() == [3]
    assert not down.any()


def _direct(c, fast, slow):
    """The definition with exact window means (np.convolve), for comparison."""
    T, N = c.shape
    w = max(fast, slow)
    d = np.full((T, N), np.nan)
    for j in range(N):
        f = np.convolve(c[:, j], np.ones(fast) / fast, "valid")
        s = np.convolve(c[:, j], np.ones(slow) / slow, "valid")
        d[w - 1 :, j] = f[w - fast :] - s[w - slow :]
    up = np.zeros((T, N), bool)
    down = np.zeros((T, N), bool)
    up[w:] = (d[w - 1 : -1] < 0) & (d[w:] > 0)
    down[w:] = (d[w - 1 : -1] > 0) & (d[w:] < 0)
    return up, down, d


@pytest.mark.parametrize("fast,slow", [(10, 50), (50, 10), (3, 4), (7, 7)])
def test_matches_the_definition_with_exact_means(fast, slow):
    rng = np.random.default_rng(5)
    c = 100 * np.exp(np.cumsum(rng.normal(0, 0.02, (1500, 6)), axis=0))
    up, down = sma_cross(c, fast, slow)
    eu, ed, d = _direct(c, fast, slow)
    # running sums differ from exact means in the last bits: compare where d is not tiny
    clear = np.ones_like(up)
    clear[1:] = (np.abs(d[1:]) > 1e-9) & (np.abs(d[:-1]) > 1e-9)
    clear[: max(fast, slow)] = True  # no signal there either way
    assert np.array_equal(up[clear], eu[clear]) and np.array_equal(down[clear], ed[clear])
    if fast != slow:
        assert up.sum() > 10 and down.sum() > 10
    else:
        assert not up.any() and not down.any()


@settings(deadline=None)
@given(
    T=st.integers(0, 90),
    N=st.integers(0, 9),
    fast=st.integers(1, 30),
    slow=st.integers(1, 30),
    seed=st.integers(0, 2**32 - 1),
    layout=st.sampled_from(["C", "F"]),
    flat=st.booleans(),
)
def test_compiled_and_numpy_twin_are_identical(T, N, fast, slow, seed, layout, flat):
    c = random_closes(T, N, seed, layout, flat)
    up_c, down_c = sma_cross(c, fast, slow, impl="cython")
    up_p, down_p = sma_cross_numpy(c, fast, slow)
    assert np.array_equal(up_c, up_p) and np.array_equal(down_c, down_p)
    assert up_c.shape == down_c.shape == (T, N)
    assert not (up_c & down_c).any()
    assert not up_c[: max(fast, slow)].any() and not down_c[: max(fast, slow)].any()


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("layout", ["C", "F"])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_close_is_refused_with_its_position(impl, layout, bad):
    c = np.full((60, 5), 10.0)
    c[37, 3] = bad
    with pytest.raises(ContractError, match=r"close\[37, 3\]"):
        sma_cross(as_layout(c, layout), 5, 20, impl=impl)


@pytest.mark.parametrize("impl", IMPLS)
def test_bad_windows_and_shapes_are_refused(impl):
    c = np.ones((10, 2))
    with pytest.raises(ContractError, match="fast"):
        sma_cross(c, 0, 5, impl=impl)
    with pytest.raises(ContractError, match="slow"):
        sma_cross(c, 2, 2.5, impl=impl)
    with pytest.raises(ContractError, match="2-D"):
        sma_cross(np.ones(10), 2, 5, impl=impl)


@settings(deadline=None)
@given(
    T=st.integers(0, 90),
    N=st.integers(0, 7),
    pairs=st.lists(st.tuples(st.integers(1, 30), st.integers(1, 30)), min_size=1, max_size=7),
    seed=st.integers(0, 2**32 - 1),
    layout=st.sampled_from(["C", "F"]),
    flat=st.booleans(),
    impl=st.sampled_from(IMPLS),
)
def test_grid_equals_one_sma_cross_per_pair(T, N, pairs, seed, layout, flat, impl):
    c = random_closes(T, N, seed, layout, flat)
    fasts, slows = [p[0] for p in pairs], [p[1] for p in pairs]
    up, down = sma_cross_grid(c, fasts, slows, impl=impl)
    assert up.shape == down.shape == (len(pairs), T, N) and up.dtype == bool
    for k, (f, s) in enumerate(pairs):
        u, d = sma_cross_numpy(c, f, s)
        assert np.array_equal(up[k], u) and np.array_equal(down[k], d), (k, f, s)
        if layout == "F" and T > 1 and N > 1:
            assert up[k].flags.f_contiguous  # each set's panel in the layout of close


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("layout", ["C", "F"])
def test_grid_refuses_bad_closes_and_pairs(impl, layout):
    c = np.full((60, 5), 10.0)
    c[37, 3] = np.nan
    with pytest.raises(ContractError, match=r"close\[37, 3\]"):
        sma_cross_grid(as_layout(c, layout), [5, 3], [20, 9], impl=impl)
    with pytest.raises(ContractError, match="equally long"):
        sma_cross_grid(np.ones((10, 2)), [2, 3], [5], impl=impl)
    with pytest.raises(ContractError, match="fast"):
        sma_cross_grid(np.ones((10, 2)), [0], [5], impl=impl)
