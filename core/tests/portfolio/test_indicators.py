"""Cross-sectional ranks: the same numbers as pandas' row ranks, ties, NaN and infinities included."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tsys.portfolio import indicators as ind

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
