"""Synthetic markets for the meta-labelling tests: a planted feature, and none.

Every symbol has "hot" episodes (starting on about 3% of days, lasting ``HOT_DAYS``) during
which its volume runs at 2.5x its usual level. In the planted market a hot symbol's closes
drift up by ``EDGE`` a day and drift down slightly otherwise (unconditional drift about
zero); in the null market the episodes change the volume only. :class:`CoinBucket` (the
primary model) enters at random days, blind to the episodes, and holds ``hold`` bars: its
entries make money only when they fall in a hot episode, which the volume features show.

Its base class and ``hub_of`` come from the research tests' ``research_market``, the one home of
the synthetic test buckets.
"""

from __future__ import annotations

import attrs
import numpy as np
import pandas as pd
from research_market import BENCH, RandomEntryBucket, hub_of

from tsys.buckets import param
from tsys.contracts import AssetClass
from tsys.data import Bars

__all__ = ["BENCH", "EDGE", "SYMBOLS", "CoinBucket", "CoinParams", "hub_of", "market"]

EDGE = 0.006
HOT_DAYS = 12
SYMBOLS = ("AAA", "BBB", "CCC", "DDD", "EEE", "FFF")


def market(*, planted: bool, seed: int = 0, n_days: int = 1600) -> Bars:
    rng = np.random.default_rng(seed)
    index = pd.bdate_range("2012-01-02", periods=n_days, tz="UTC")
    n = len(SYMBOLS)
    starts = rng.random((n_days, n)) < 0.03
    hot = np.zeros((n_days, n), dtype=bool)
    for t, j in zip(*np.nonzero(starts), strict=True):
        hot[t : t + HOT_DAYS, j] = True
    drift = np.zeros((n_days, n))
    if planted:
        frac = hot.mean()
        drift = np.where(hot, EDGE, -EDGE * frac / (1.0 - frac))
    r = drift + rng.normal(0.0, 0.01, (n_days, n))
    vol = 1e6 * (1.0 + 0.2 * rng.random((n_days, n)))
    vol = np.where(hot, vol * 3.0, vol)
    r = np.hstack([r, rng.normal(0.0002, 0.008, (n_days, 1))])
    vol = np.hstack([vol, np.full((n_days, 1), 5e7)])
    close = 100.0 * np.cumprod(1.0 + r, axis=0)
    open_ = np.vstack([close[:1] / (1.0 + r[:1]), close[:-1]]) * (
        1.0 + rng.normal(0, 0.001, r.shape)
    )
    return Bars(
        index,
        (*SYMBOLS, BENCH),
        open_,
        np.maximum(open_, close) * 1.004,
        np.minimum(open_, close) * 0.996,
        close,
        vol,
        [AssetClass.EQUITY] * (n + 1),
        source="ml test market",
        synthetic=True,
    )


@attrs.frozen
class CoinParams:
    rate: float = param(0.12, low=0.01, high=0.3, help="entry probability per symbol and day")
    hold: int = param(6, low=2, high=20, help="bars to hold")


class CoinBucket(RandomEntryBucket):
    """Random entries (row t never depends on later rows), a time stop and a loose stop."""

    name = "coin"
    Params = CoinParams
    warmup_bars = 30
    stop_at = 0.9
