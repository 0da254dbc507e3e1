"""Uniqueness weights and purged k-fold with an embargo (AFML ch. 4 and 7)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tsys.ml.sampling import balanced, concurrency, purged_kfold, uniqueness


def test_uniqueness_by_hand():
    # windows [0,2], [1,3], [4,4]: concurrency 1,2,2,1,1
    start, end = np.array([0, 1, 4]), np.array([2, 3, 4])
    assert concurrency(start, end).tolist() == [1, 2, 2, 1, 1]
    u = uniqueness(start, end)
    assert u == pytest.approx([(1 + 0.5 + 0.5) / 3, (0.5 + 0.5 + 1) / 3, 1.0])


def test_balanced_gives_both_classes_the_same_weight():
    w = balanced(np.ones(10), np.array([1] * 8 + [0] * 2))
    assert w[:8].sum() == pytest.approx(w[8:].sum())
    assert w.mean() == pytest.approx(1.0)


windows = st.lists(
    st.tuples(st.integers(0, 300), st.integers(0, 40)), min_size=10, max_size=80
).map(lambda xs: (np.array([a for a, _ in xs]), np.array([a + d for a, d in xs])))


@settings(max_examples=60, deadline=None)
@given(windows, st.integers(2, 6), st.integers(0, 15))
def test_no_training_label_window_overlaps_a_test_window(w, k, embargo):
    start, end = w
    if len(start) < k:
        return
    seen = []
    for train, test in purged_kfold(start, end, k, embargo):
        seen.extend(test.tolist())
        assert not set(train) & set(test)
        lo, hi = start[test].min(), end[test].max()
        for i in train:
            # purged: no overlap with any test window, nor with the span they cover
            assert end[i] < lo or start[i] > hi
            for t in test:
                assert end[i] < start[t] or start[i] > end[t]
            # embargoed: nothing starts within `embargo` bars after the test span
            assert not (hi < start[i] <= hi + embargo)
    assert sorted(seen) == list(range(len(start)))  # every sample is tested once


@settings(max_examples=40, deadline=None)
@given(windows)
def test_uniqueness_lies_in_0_1_and_is_1_for_isolated_samples(w):
    start, end = w
    u = uniqueness(start, end)
    assert np.all((u > 0) & (u <= 1 + 1e-12))
    c = concurrency(start, end)
    for i in range(len(start)):
        if (c[start[i] : end[i] + 1] == 1).all():
            assert u[i] == pytest.approx(1.0)
