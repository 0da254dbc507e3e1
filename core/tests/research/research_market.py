"""Synthetic markets and tiny buckets for research tests: a planted edge, and pure noise.

``planted_market``: on a few random days a symbol's volume jumps 2.5x, and its next
``EDGE_DAYS`` closes drift up by ``EDGE`` a day; on every other day it drifts down just enough
that the unconditional drift is about zero, so holding everything (the equal-weight anchor)
earns nothing. ``BENCH`` is an unrelated random walk. :class:`PlantedBucket` buys volume
spikes and holds ``hold`` bars: a real, economically plain edge that a sound research loop must
find and confirm out of sample.

``noise_market``: random walks without any edge; :class:`NoiseBucket` enters at random days
drawn from its many parameters (each configuration is another coin flip). A sound loop must
find it overfit.
"""

from __future__ import annotations

import hashlib
import json

import attrs
import numpy as np
import pandas as pd

from tsys.buckets import Bucket, BucketOutput, PositionRules, param
from tsys.contracts import AssetClass
from tsys.data import Bars, DataHub, SourceContext
from tsys.testing import InMemorySource

EDGE = 0.004
EDGE_DAYS = 10
SYMBOLS = ("AAA", "BBB", "CCC", "DDD", "EEE")
BENCH = "BENCH"


def _ohlcv(r: np.ndarray, volume: np.ndarray) -> dict[str, np.ndarray]:
    close = 100.0 * np.cumprod(1.0 + r, axis=0)
    open_ = np.vstack([close[:1] / (1.0 + r[:1]), close[:-1]])
    return {
        "open": open_,
        "high": np.maximum(open_, close) * 1.002,
        "low": np.minimum(open_, close) * 0.998,
        "close": close,
        "volume": volume,
    }


def _bars(index: pd.DatetimeIndex, symbols: list[str], r: np.ndarray, vol: np.ndarray) -> Bars:
    f = _ohlcv(r, vol)
    return Bars(
        index,
        tuple(symbols),
        f["open"],
        f["high"],
        f["low"],
        f["close"],
        f["volume"],
        [AssetClass.EQUITY] * len(symbols),
        source="research test market",
        synthetic=True,
    )


def planted_market(seed: int = 0, n_days: int = 1500, spike_p: float = 0.03) -> Bars:
    rng = np.random.default_rng(seed)
    index = pd.bdate_range("2010-01-04", periods=n_days, tz="UTC")
    n = len(SYMBOLS)
    spikes = rng.random((n_days, n)) < spike_p
    in_edge = np.zeros((n_days, n), dtype=bool)
    for t, j in zip(*np.nonzero(spikes), strict=True):
        in_edge[t + 1 : t + 1 + EDGE_DAYS, j] = True
    frac = in_edge.mean()
    base = -EDGE * frac / (1.0 - frac)  # unconditional drift about zero
    r = np.where(in_edge, EDGE, base) + rng.normal(0.0, 0.01, (n_days, n))
    vol = 1e6 * (1.0 + 0.1 * rng.random((n_days, n)))
    vol = np.where(spikes, vol * 2.5, vol)
    bench_r = rng.normal(0.0001, 0.008, (n_days, 1))
    bench_v = np.full((n_days, 1), 5e7)
    return _bars(index, [*SYMBOLS, BENCH], np.hstack([r, bench_r]), np.hstack([vol, bench_v]))


def noise_market(seed: int = 1, n_days: int = 1500) -> Bars:
    rng = np.random.default_rng(seed)
    index = pd.bdate_range("2010-01-04", periods=n_days, tz="UTC")
    n = len(SYMBOLS)
    r = rng.normal(0.0, 0.012, (n_days, n))
    bench_r = rng.normal(0.0004, 0.008, (n_days, 1))
    vol = np.full((n_days, n + 1), 1e7)
    return _bars(index, [*SYMBOLS, BENCH], np.hstack([r, bench_r]), vol)


def hub_of(bars: Bars, tmp_path) -> DataHub:
    return DataHub(InMemorySource(bars), [], SourceContext(cache_dir=tmp_path / "cache"))


def _rolling_mean_prior(a: np.ndarray, window: int) -> np.ndarray:
    """Mean of the ``window`` bars before t (t excluded)."""
    out = pd.DataFrame(a).rolling(window).mean().shift(1).to_numpy()
    return out


@attrs.frozen
class PlantedParams:
    threshold: float = param(1.8, low=0.5, high=3.0, help="volume over its average")
    hold: int = param(10, low=1, high=40, help="bars to hold")
    window: int = param(20, low=5, high=60, help="volume average window")


class PlantedBucket(Bucket):
    name = "planted"
    asset_class = AssetClass.EQUITY
    version = "1.0"
    Params = PlantedParams
    benchmark = BENCH
    warmup_bars = 60

    def position_rules(self, params: PlantedParams) -> PositionRules:
        return PositionRules(time_stop_bars=params.hold)

    def universe(self, ctx) -> list[str]:
        return [s for s in ctx.data.symbols(AssetClass.EQUITY) if s != BENCH]

    def compute(self, ctx, bars: Bars, params: PlantedParams) -> BucketOutput:
        T, N = bars.shape
        ratio = bars.volume / _rolling_mean_prior(bars.volume, params.window)
        tradable = np.array([s != BENCH for s in bars.symbols])[None, :]
        with np.errstate(invalid="ignore"):
            entries = (ratio > params.threshold) & tradable
        return BucketOutput(
            score=np.where(entries, ratio, np.nan),
            entries=entries,
            exits=np.zeros((T, N), dtype=bool),
            stop=np.full((T, N), np.nan),
            target=np.full((T, N), np.nan),
        )


@attrs.frozen
class NoiseParams:
    a: float = param(0.5, low=0.0, high=1.0)
    b: float = param(0.5, low=0.0, high=1.0)
    c: float = param(0.5, low=0.0, high=1.0)
    d: float = param(0.5, low=0.0, high=1.0)
    e: float = param(0.5, low=0.0, high=1.0)
    f: float = param(0.5, low=0.0, high=1.0)
    hold: int = param(10, low=2, high=30)
    rate: float = param(0.02, low=0.005, high=0.05)


class NoiseBucket(Bucket):
    """Entries at random days: every configuration draws other ones (no edge anywhere)."""

    name = "noise"
    asset_class = AssetClass.EQUITY
    version = "1.0"
    Params = NoiseParams
    benchmark = BENCH
    warmup_bars = 20

    def position_rules(self, params: NoiseParams) -> PositionRules:
        return PositionRules(time_stop_bars=params.hold)

    def universe(self, ctx) -> list[str]:
        return [s for s in ctx.data.symbols(AssetClass.EQUITY) if s != BENCH]

    def compute(self, ctx, bars: Bars, params: NoiseParams) -> BucketOutput:
        T, N = bars.shape
        key = json.dumps(attrs.asdict(params), sort_keys=True).encode()
        rng = np.random.default_rng(int(hashlib.sha256(key).hexdigest()[:12], 16))
        draws = rng.random((T, N))  # row t never depends on later rows
        tradable = np.array([s != BENCH for s in bars.symbols])[None, :]
        entries = (draws < params.rate) & tradable
        return BucketOutput(
            score=np.where(entries, 1.0 - draws, np.nan),
            entries=entries,
            exits=np.zeros((T, N), dtype=bool),
            stop=np.full((T, N), np.nan),
            target=np.full((T, N), np.nan),
        )
