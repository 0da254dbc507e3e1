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

The meta-labelling tests (``core/tests/ml/ml_market.py``) build their bucket on
:class:`RandomEntryBucket`; the CLI tests of both install theirs with :func:`installed_bucket`
and read their market from :func:`csv_folder`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import attrs
import numpy as np
import pandas as pd

from tsys import plugins
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


class MarketBucket(Bucket):
    """What the test buckets share: every equity but ``BENCH``, a time stop of ``hold`` bars."""

    asset_class = AssetClass.EQUITY
    version = "1.0"
    benchmark = BENCH

    def position_rules(self, params) -> PositionRules:
        return PositionRules(time_stop_bars=params.hold)

    def universe(self, ctx) -> list[str]:
        return [s for s in ctx.data.symbols(AssetClass.EQUITY) if s != BENCH]

    @staticmethod
    def tradable(bars: Bars) -> np.ndarray:
        """A 1 x N row: True but for the benchmark's column."""
        return np.array([s != BENCH for s in bars.symbols])[None, :]


class RandomEntryBucket(MarketBucket):
    """Entries at random days (``params.rate`` a symbol and day), drawn from the parameters:
    every configuration draws other ones, and row t never depends on later rows."""

    #: The stop as a share of the entry close (None: no stop).
    stop_at: float | None = None

    def compute(self, ctx, bars: Bars, params) -> BucketOutput:
        T, N = bars.shape
        key = json.dumps(attrs.asdict(params), sort_keys=True).encode()
        rng = np.random.default_rng(int(hashlib.sha256(key).hexdigest()[:12], 16))
        draws = rng.random((T, N))
        entries = (draws < params.rate) & self.tradable(bars)
        stop = np.nan if self.stop_at is None else bars.close * self.stop_at
        return BucketOutput(
            score=np.where(entries, 1.0 - draws, np.nan),
            entries=entries,
            exits=np.zeros((T, N), dtype=bool),
            stop=np.where(entries, stop, np.nan),
        )


@attrs.frozen
class PlantedParams:
    threshold: float = param(1.8, low=0.5, high=3.0, help="volume over its average")
    hold: int = param(10, low=1, high=40, help="bars to hold")
    window: int = param(20, low=5, high=60, help="volume average window")


class PlantedBucket(MarketBucket):
    """Buys volume spikes (the planted edge)."""

    name = "planted"
    Params = PlantedParams
    warmup_bars = 60

    def compute(self, ctx, bars: Bars, params: PlantedParams) -> BucketOutput:
        T, N = bars.shape
        ratio = bars.volume / _rolling_mean_prior(bars.volume, params.window)
        with np.errstate(invalid="ignore"):
            entries = (ratio > params.threshold) & self.tradable(bars)
        return BucketOutput(
            score=np.where(entries, ratio, np.nan),
            entries=entries,
            exits=np.zeros((T, N), dtype=bool),
            stop=np.full((T, N), np.nan),
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


class NoiseBucket(RandomEntryBucket):
    """Entries at random days: every configuration draws other ones (no edge anywhere)."""

    name = "noise"
    Params = NoiseParams
    warmup_bars = 20


# ---------------------------------------------------------------- for the CLI tests (and ml's)
_PLUGIN = """
from {module} import {cls}
from tsys.hookspecs import hookimpl


class Registered({cls}):
    \"\"\"Defined in the plugin, so its package is the bucket's (where params.json ships).\"\"\"


@hookimpl
def register_buckets(register):
    register(Registered())
"""


@contextlib.contextmanager
def installed_bucket(site: Path, monkeypatch, name: str, module: str, cls: str) -> Iterator[Path]:
    """Install ``tsysfake_<name>`` in ``site`` as pip would (distribution ``tsys-fake-<name>``,
    entry point ``fake-<name>``), registering a subclass of ``module.cls``; yield its folder."""
    pkg = site / f"tsysfake_{name}"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text(_PLUGIN.format(module=module, cls=cls))
    info = site / f"tsys_fake_{name}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: tsys-fake-{name}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[tsys]\nfake-{name} = tsysfake_{name}\n")
    monkeypatch.syspath_prepend(str(site))
    plugins.reset_plugin_manager()
    try:
        yield pkg
    finally:
        sys.modules.pop(f"tsysfake_{name}", None)
        plugins.reset_plugin_manager()


def csv_folder(bars: Bars, folder: Path) -> Path:
    """Write ``bars`` as one ``<SYMBOL>.csv`` a symbol (what the csv source reads)."""
    folder.mkdir()
    for s in bars.symbols:
        df = bars.symbol_frame(s)
        df.index = df.index.strftime("%Y-%m-%d")
        df.to_csv(folder / f"{s}.csv", index_label="date")
    return folder
