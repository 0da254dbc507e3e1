"""Data that means what it says: is the universe there, is a carried value still fresh.

:func:`universe_coverage` measures how much of a wanted universe has bars over a window;
research calls :meth:`UniverseCoverage.require` so a trial whose universe is mostly missing is
infeasible, with the reason, instead of a strategy scored on the two symbols that were there.
:func:`carry_forward` carries slow data (market caps) forward point in time, but only for a
stated age: older values are unknown, not silently reused for months.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import attrs
import numpy as np
import pandas as pd

from tsys.data.bars import Bars
from tsys.data.calendars import as_date
from tsys.errors import DataError
from tsys.format import shortlist

#: How long a market cap may be carried forward before it counts as unknown.
MARKET_CAP_MAX_AGE = dt.timedelta(days=10)
#: A symbol is "there" when it has bars on at least this share of the window's rows.
COVERED_ROWS_SHARE = 0.5
#: Research needs at least this share of the universe to be there.
MIN_UNIVERSE_SHARE = 0.5


class UniverseMissing(DataError):
    """Most of a universe has no bars over the window: results on it would not mean much."""


@attrs.frozen
class UniverseCoverage:
    """Which symbols of a wanted universe have bars over a window (see :func:`universe_coverage`)."""

    wanted: tuple[str, ...]
    present: tuple[str, ...]
    missing: tuple[str, ...]
    start: dt.date | None
    end: dt.date | None

    @property
    def share(self) -> float:
        """Share of the wanted symbols that are there (1.0 for an empty universe)."""
        return len(self.present) / len(self.wanted) if self.wanted else 1.0

    def describe(self) -> str:
        """``"10 of 11 symbols have no bars for most of 2020-01-02..2025-07-31: XLB, ..."``."""
        if not self.missing:
            return f"all {len(self.wanted)} symbols of the universe have bars"
        when = (
            f" for most of {self.start}..{self.end}"
            if self.start is not None and self.end is not None
            else ""
        )
        return (
            f"{len(self.missing)} of {len(self.wanted)} symbols have no bars{when}: "
            f"{shortlist(self.missing)}"
        )

    def require(self, min_share: float = MIN_UNIVERSE_SHARE, *, what: str = "universe") -> None:
        """Raise :class:`UniverseMissing` when less than ``min_share`` of it is there."""
        if self.share < min_share:
            raise UniverseMissing(
                f"the {what} is mostly missing: {self.describe()}",
                hint="use a data source that has these symbols over the period, or another "
                "universe (mode) of the bucket",
            )


def universe_coverage(
    wanted: Sequence[str],
    bars: Bars,
    start: Any = None,
    end: Any = None,
    *,
    rows_share: float = COVERED_ROWS_SHARE,
) -> UniverseCoverage:
    """How much of ``wanted`` has bars in ``bars`` between ``start`` and ``end`` (inclusive).

    A symbol counts as present when it has a close on at least ``rows_share`` of the window's
    rows, so a file that ends years before the window (or starts near its end) is missing.
    """
    window = bars.between(start, end)
    rows = window.shape[0]
    wanted = tuple(dict.fromkeys(wanted))
    present, missing = [], []
    for sym in wanted:
        ok = False
        if rows and sym in window.symbols:
            n = int(np.isfinite(window.close[:, window.column(sym)]).sum())
            ok = n >= max(1, rows_share * rows)
        (present if ok else missing).append(sym)
    first = window.index[0].date() if rows else (as_date(start) if start is not None else None)
    last = window.index[-1].date() if rows else (as_date(end) if end is not None else None)
    return UniverseCoverage(wanted, tuple(present), tuple(missing), first, last)


def carry_forward(
    frame: pd.DataFrame, index: pd.DatetimeIndex, max_age: dt.timedelta
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``frame`` (dates x columns, numbers) on ``index``, each value carried forward at most
    ``max_age``.

    Returns the aligned values (NaN where nothing observed is young enough) and, aligned the
    same way, the date each value was observed (NaT where none). Values are never carried
    backward: a row sees only observations dated on or before it.
    """
    frame = frame.sort_index()
    src, dst = _naive(frame.index), _naive(index)
    vals = frame.to_numpy(dtype=np.float64)
    ncol = vals.shape[1]
    # For each source row and column: the row of the last finite observation so far.
    last = np.where(np.isfinite(vals), np.arange(len(src))[:, None], -1)
    last = np.maximum.accumulate(last, axis=0) if len(src) else last
    at = np.searchsorted(src, dst, side="right") - 1  # last source row on or before each row
    k = (
        np.where(at[:, None] >= 0, last[np.maximum(at, 0)], -1)
        if len(src)
        else np.full((len(dst), ncol), -1)
    )
    seen = np.where(k >= 0, src[np.maximum(k, 0)], np.datetime64("NaT"))
    fresh = (k >= 0) & ((dst[:, None] - seen) <= np.timedelta64(max_age))
    got = vals[np.maximum(k, 0), np.arange(ncol)[None, :]] if len(src) else np.full(k.shape, 0.0)
    values = pd.DataFrame(np.where(fresh, got, np.nan), index=index, columns=frame.columns)
    observed = pd.DataFrame(
        np.where(fresh, seen, np.datetime64("NaT")), index=index, columns=frame.columns
    )
    return values, observed


def _naive(idx: pd.Index) -> np.ndarray:
    di = pd.DatetimeIndex(idx)
    if di.tz is not None:
        di = di.tz_convert("UTC").tz_localize(None)
    return di.to_numpy(dtype="datetime64[ns]")
