"""Cross-sectional ranks: the same numbers as pandas' row ranks, ties, NaN and infinities included."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tsys import indicators as ind

# Few distinct values so ties are common; NaN, both infinities and -0.0 among them.
VALUES = st.sampled_from([np.nan, -np.inf, np.inf, -0.0, 0.0, 1.0, -2.5, 3.0, 1e-300, -7.0])
PANELS = hnp.arrays(
    np.float64,
    hnp.array_shapes(min_dims=2, max_dims=2, min_side=0, max_side=12),
    elements=VALUES | st.floats(-1e6, 1e6),
)


def _pandas_ranks(a):
    df = pd.DataFrame(a)
    return (
        df.rank(axis=1, pct=True).to_numpy(np.float64),
        df.rank(axis=1, ascending=False, method="first").to_numpy(np.float64),
    )


@given(PANELS)
def test_cross_ranks_equal_pandas_row_ranks(a):
    pct, pos = ind.cross_ranks(a)
    want_pct, want_pos = _pandas_ranks(a)
    assert np.array_equal(pct, want_pct, equal_nan=True)
    assert np.array_equal(pos, want_pos, equal_nan=True)
    assert np.array_equal(ind.cross_rank(a), pct, equal_nan=True)
    assert np.array_equal(ind.cross_position(a), pos, equal_nan=True)


def test_cross_ranks_by_hand():
    a = np.array([[3.0, np.nan, 1.0, 3.0, -np.inf], [np.nan, np.nan, np.nan, np.nan, np.nan]])
    pct, pos = ind.cross_ranks(a)
    # Row 0, ascending: -inf 1st, 1.0 2nd, the two 3.0 share 3.5; four finite-or-inf values.
    assert np.array_equal(pct[0], [3.5 / 4, np.nan, 2 / 4, 3.5 / 4, 1 / 4], equal_nan=True)
    # Descending, ties in column order: the first 3.0 is 1, the second 2.
    assert np.array_equal(pos[0], [1, np.nan, 3, 2, 4], equal_nan=True)
    assert np.isnan(pct[1]).all() and np.isnan(pos[1]).all()


# Runs of one value (pandas short-cuts those), NaN gaps, infinities and a wide range of scales.
ROLL_VALUES = st.sampled_from([np.nan, np.inf, -np.inf, 5.0, 5.0, 5.0, 0.0]) | st.floats(
    -1e9, 1e9, allow_subnormal=False
)


@given(
    hnp.arrays(
        np.float64,
        hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=40),
        elements=ROLL_VALUES,
    ),
    st.integers(1, 30),
    st.data(),
)
def test_rolling_equals_pandas_column_by_column(a, n, data):
    mp = data.draw(st.integers(1, n))
    df = pd.DataFrame(a)
    for how in ("mean", "std", "max", "min"):
        want = getattr(df.rolling(n, min_periods=mp), how)().to_numpy(np.float64)
        got = ind._rolling(a, n, mp, how)
        assert got.flags.c_contiguous and got.shape == a.shape
        assert np.array_equal(got, want, equal_nan=True), how


def test_indicators_keep_pandas_results_on_a_market_panel():
    rng = np.random.default_rng(3)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.02, (600, 30)), axis=0))
    close[rng.random(close.shape) < 0.03] = np.nan
    close[:150, 0] = np.nan  # listed late
    df = pd.DataFrame(close)
    assert np.array_equal(ind.sma(close, 50), df.rolling(50).mean().to_numpy(), equal_nan=True)
    assert np.array_equal(
        ind.rolling_max(close, 20), df.rolling(20).max().to_numpy(), equal_nan=True
    )
    logret = pd.DataFrame(ind.log_returns(close))
    assert np.array_equal(
        ind.volatility(close, 20),
        logret.rolling(20, min_periods=10).std().to_numpy(),
        equal_nan=True,
    )
