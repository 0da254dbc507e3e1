"""Sample weights by label uniqueness and purged k-fold cross-validation with an embargo.

Lopez de Prado, Advances in Financial Machine Learning: ch. 4 (labels that overlap in time
share information; each sample is weighted by its average uniqueness over its label window)
and ch. 7 (k-fold on time-ordered samples: drop from training every sample whose label window
overlaps the test fold's span, and the samples that start within an embargo after it).

A sample's label window is ``[start, end]`` in bars, both included: from the decision bar
(its features are read at that close) to the bar its trade exits on.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np


def concurrency(start: np.ndarray, end: np.ndarray, n_bars: int | None = None) -> np.ndarray:
    """Per bar, how many label windows cover it."""
    start = np.asarray(start, dtype=np.int64)
    end = np.asarray(end, dtype=np.int64)
    n = int(n_bars if n_bars is not None else (end.max() + 1 if len(end) else 0))
    diff = np.zeros(n + 1, dtype=np.int64)
    np.add.at(diff, start, 1)
    np.add.at(diff, end + 1, -1)
    return np.cumsum(diff)[:n]


def uniqueness(start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Average uniqueness of each sample: the mean of ``1 / concurrency`` over its window."""
    start = np.asarray(start, dtype=np.int64)
    end = np.asarray(end, dtype=np.int64)
    if not len(start):
        return np.zeros(0)
    if np.any(end < start):
        raise ValueError("a label window ends before it starts")
    c = concurrency(start, end)
    inv = np.zeros(len(c) + 1)
    inv[1:] = np.cumsum(np.where(c > 0, 1.0 / np.maximum(c, 1), 0.0))
    return (inv[end + 1] - inv[start]) / (end - start + 1)


def balanced(weights: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``weights`` rescaled so both classes carry the same total weight (mean weight kept)."""
    w = np.asarray(weights, dtype=np.float64).copy()
    y = np.asarray(y)
    total = w.sum()
    classes = np.unique(y)
    for c in classes:
        m = y == c
        s = w[m].sum()
        if s > 0:
            w[m] *= total / (len(classes) * s)
    return w * (len(w) / w.sum()) if w.sum() > 0 else w


def purged_kfold(
    start: np.ndarray, end: np.ndarray, n_splits: int = 5, embargo: int = 0
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(train, test) positions of ``n_splits`` contiguous folds of samples ordered by start.

    A training sample is dropped when its window ``[start, end]`` overlaps the test span
    ``[min test start, max test end]`` (purging), or when it starts within ``embargo`` bars
    after the test span ends (the embargo).
    """
    start = np.asarray(start, dtype=np.int64)
    end = np.asarray(end, dtype=np.int64)
    n = len(start)
    if n_splits < 2 or n < n_splits:
        raise ValueError(f"need at least {n_splits} samples for {n_splits} folds, got {n}")
    order = np.argsort(start, kind="stable")
    for chunk in np.array_split(order, n_splits):
        test = np.sort(chunk)
        lo, hi = int(start[test].min()), int(end[test].max())
        overlaps = (start <= hi) & (end >= lo)
        embargoed = (start > hi) & (start <= hi + embargo)
        train_mask = ~(overlaps | embargoed)
        train_mask[test] = False
        yield np.flatnonzero(train_mask), test
