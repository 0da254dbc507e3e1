"""The ``Bars`` panel: dates x symbols of float64 OHLCV with an asset class per symbol."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs
import numpy as np
import pandas as pd

from tsys.contracts import AssetClass

FIELDS = ("open", "high", "low", "close", "volume")


def _panel(a: Any) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.float64)


@attrs.frozen(eq=False)
class Bars:
    """A T x N panel of daily bars.

    ``index`` holds UTC-midnight session dates (tz-aware, ascending, unique); each field is a
    C-contiguous float64 array of shape ``(len(index), len(symbols))`` with NaN where a symbol
    has no bar. ``asset_classes`` gives each column's asset class. The panel is immutable by
    convention: methods return new panels.
    """

    index: pd.DatetimeIndex
    symbols: tuple[str, ...] = attrs.field(converter=tuple)
    open: np.ndarray = attrs.field(converter=_panel)
    high: np.ndarray = attrs.field(converter=_panel)
    low: np.ndarray = attrs.field(converter=_panel)
    close: np.ndarray = attrs.field(converter=_panel)
    volume: np.ndarray = attrs.field(converter=_panel)
    asset_classes: tuple[AssetClass, ...] = attrs.field(
        converter=lambda xs: tuple(AssetClass(x) for x in xs)
    )
    #: Free-form provenance ("demo seed 7", "csv /path"), shown wherever the data is shown.
    source: str = ""
    synthetic: bool = False

    def __attrs_post_init__(self) -> None:
        t, n = len(self.index), len(self.symbols)
        if self.index.tz is None:
            raise ValueError("Bars.index must be timezone-aware (UTC)")
        if not self.index.is_monotonic_increasing or not self.index.is_unique:
            raise ValueError("Bars.index must be ascending and unique")
        if len(set(self.symbols)) != n:
            raise ValueError("Bars.symbols must be unique")
        if len(self.asset_classes) != n:
            raise ValueError("Bars.asset_classes must have one entry per symbol")
        for f in FIELDS:
            if getattr(self, f).shape != (t, n):
                raise ValueError(f"Bars.{f} has shape {getattr(self, f).shape}, expected {(t, n)}")

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_frames(
        cls,
        frames: Mapping[str, pd.DataFrame],
        asset_classes: Mapping[str, AssetClass | str] | AssetClass | str,
        *,
        source: str = "",
        synthetic: bool = False,
    ) -> Bars:
        """Build from one DataFrame per symbol (DatetimeIndex, columns open..volume)."""
        symbols = list(frames)
        if not symbols:
            return cls.empty(source=source)
        idx = None
        for df in frames.values():
            idx = df.index if idx is None else idx.union(df.index)
        assert idx is not None
        idx = _utc_index(idx)
        arrays = {f: np.full((len(idx), len(symbols)), np.nan) for f in FIELDS}
        for j, sym in enumerate(symbols):
            df = frames[sym]
            df = df.set_axis(_utc_index(df.index))
            pos = idx.get_indexer(df.index)
            for f in FIELDS:
                arrays[f][pos, j] = df[f].to_numpy(dtype=np.float64)
        if isinstance(asset_classes, str | AssetClass):
            acs = [AssetClass(asset_classes)] * len(symbols)
        else:
            acs = [AssetClass(asset_classes[s]) for s in symbols]
        return cls(idx, symbols, **arrays, asset_classes=acs, source=source, synthetic=synthetic)

    @classmethod
    def empty(cls, *, source: str = "") -> Bars:
        z = np.empty((0, 0))
        return cls(pd.DatetimeIndex([], tz="UTC"), (), z, z, z, z, z, (), source=source)

    # ------------------------------------------------------------------ access
    @property
    def shape(self) -> tuple[int, int]:
        return (len(self.index), len(self.symbols))

    def column(self, symbol: str) -> int:
        try:
            return self.symbols.index(symbol)
        except ValueError:
            raise KeyError(f"{symbol!r} is not in this panel") from None

    def asset_class_of(self, symbol: str) -> AssetClass:
        return self.asset_classes[self.column(symbol)]

    def frame(self, field: str) -> pd.DataFrame:
        """One field as a DataFrame (dates x symbols)."""
        if field not in FIELDS:
            raise KeyError(field)
        return pd.DataFrame(getattr(self, field), index=self.index, columns=list(self.symbols))

    def symbol_frame(self, symbol: str) -> pd.DataFrame:
        """One symbol's OHLCV as a DataFrame (rows without a bar dropped)."""
        j = self.column(symbol)
        df = pd.DataFrame({f: getattr(self, f)[:, j] for f in FIELDS}, index=self.index)
        return df.dropna(how="all")

    # ------------------------------------------------------------------ derived panels
    def _replace(self, rows: Any = slice(None), cols: Sequence[int] | None = None) -> Bars:
        def take(a: np.ndarray) -> np.ndarray:
            out = a[rows]
            return out if cols is None else out[:, cols]

        symbols = self.symbols if cols is None else tuple(self.symbols[c] for c in cols)
        acs = self.asset_classes if cols is None else tuple(self.asset_classes[c] for c in cols)
        return Bars(
            self.index[rows],
            symbols,
            *(take(getattr(self, f)) for f in FIELDS),
            asset_classes=acs,
            source=self.source,
            synthetic=self.synthetic,
        )

    def select(self, symbols: Iterable[str]) -> Bars:
        """The panel restricted to ``symbols`` (in that order; unknown symbols raise)."""
        return self._replace(cols=[self.column(s) for s in symbols])

    def of_class(self, asset_class: AssetClass | str) -> Bars:
        ac = AssetClass(asset_class)
        return self._replace(cols=[j for j, a in enumerate(self.asset_classes) if a is ac])

    def between(self, start: Any = None, end: Any = None) -> Bars:
        """Rows with ``start <= date <= end`` (either bound may be None)."""
        mask = np.ones(len(self.index), dtype=bool)
        if start is not None:
            mask &= self.index >= _ts(start)
        if end is not None:
            mask &= self.index <= _ts(end)
        return self._replace(rows=np.flatnonzero(mask))

    def head(self, n: int) -> Bars:
        """The first ``n`` rows (for look-ahead audits: truncation)."""
        return self._replace(rows=slice(0, n))

    def with_fields(self, **fields: np.ndarray) -> Bars:
        """A copy with some fields replaced (for look-ahead audits: perturbation)."""
        return attrs.evolve(self, **fields)

    def merge(self, other: Bars) -> Bars:
        """Union of two panels on dates and symbols (symbols must not overlap)."""
        if not self.symbols:
            return other
        if not other.symbols:
            return self
        overlap = set(self.symbols) & set(other.symbols)
        if overlap:
            raise ValueError(f"cannot merge panels sharing symbols: {sorted(overlap)[:5]}")
        idx = self.index.union(other.index)
        a, b = self.index.get_indexer(idx), other.index.get_indexer(idx)
        out = {}
        for f in FIELDS:
            left = np.where(a[:, None] >= 0, getattr(self, f)[a], np.nan)
            right = np.where(b[:, None] >= 0, getattr(other, f)[b], np.nan)
            out[f] = np.hstack([left, right])
        return Bars(
            idx,
            self.symbols + other.symbols,
            **out,
            asset_classes=self.asset_classes + other.asset_classes,
            source=", ".join(s for s in {self.source: 0, other.source: 0} if s),
            synthetic=self.synthetic or other.synthetic,
        )


def _ts(x: Any) -> pd.Timestamp:
    t = pd.Timestamp(x)
    return t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")


def _utc_index(idx: pd.Index) -> pd.DatetimeIndex:
    di = pd.DatetimeIndex(idx)
    di = di.tz_localize("UTC") if di.tz is None else di.tz_convert("UTC")
    return di.normalize()
