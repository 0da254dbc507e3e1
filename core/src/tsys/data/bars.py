"""The ``Bars`` panel: dates x symbols of float64 OHLCV with an asset class per symbol.

Volume has a unit, declared per column by the source that made the panel: ``base`` (shares,
coins) or ``quote`` (the quote currency, e.g. USD for a ``-USD`` pair, as most exchanges and
the shared crypto files give it). Code that needs one or the other asks for it:
:meth:`Bars.base_volume` (what a fill cap counts) and :meth:`Bars.dollar_volume` (what a
liquidity rank or cap counts); :attr:`Bars.volume` is the raw column as the source gave it.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs
import numpy as np
import pandas as pd

from tsys.contracts import AssetClass

FIELDS = ("open", "high", "low", "close", "volume")


class VolumeUnit(enum.StrEnum):
    """What a volume figure counts: units of the asset, or of the currency it is quoted in."""

    BASE = "base"  # shares, coins
    QUOTE = "quote"  # dollars (the quote currency)


def volume_unit(value: Any) -> VolumeUnit:
    """``"base"``/``"quote"`` (any case) as a :class:`VolumeUnit`; anything else raises."""
    try:
        return VolumeUnit(str(value.value if isinstance(value, enum.Enum) else value).lower())
    except ValueError:
        raise ValueError(f"volume unit must be 'base' or 'quote', got {value!r}") from None


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
    #: The unit of each column's volume (one value: every column); see :class:`VolumeUnit`.
    volume_units: tuple[VolumeUnit, ...] = attrs.field(default=VolumeUnit.BASE)

    def __attrs_post_init__(self) -> None:
        t, n = len(self.index), len(self.symbols)
        units = self.volume_units
        if isinstance(units, str | VolumeUnit):
            units = (volume_unit(units),) * n
        else:
            units = tuple(volume_unit(u) for u in units)
        if len(units) != n:
            raise ValueError("Bars.volume_units must have one entry per symbol")
        object.__setattr__(self, "volume_units", units)
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
        volume_unit: Mapping[str, VolumeUnit | str] | VolumeUnit | str = VolumeUnit.BASE,
    ) -> Bars:
        """Build from one DataFrame per symbol (DatetimeIndex, columns open..volume).

        ``volume_unit`` is the unit of every frame's volume, or a mapping symbol -> unit.
        """
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
        if isinstance(volume_unit, str | VolumeUnit):
            units: Any = volume_unit
        else:
            units = [volume_unit[s] for s in symbols]
        return cls(
            idx,
            symbols,
            **arrays,
            asset_classes=acs,
            source=source,
            synthetic=synthetic,
            volume_units=units,
        )

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

    def _quote_columns(self) -> np.ndarray:
        return np.array([u is VolumeUnit.QUOTE for u in self.volume_units], dtype=bool)

    def base_volume(self) -> np.ndarray:
        """Volume in units of the asset (shares, coins): a quote volume divided by the close.

        This is what a participation cap counts (the simulator's ``max_participation`` of a
        bar's volume). NaN where a quote volume has no positive close to convert with.
        """
        quote = self._quote_columns()
        if not quote.any():
            return self.volume
        with np.errstate(divide="ignore", invalid="ignore"):
            converted = np.where(self.close > 0, self.volume / self.close, np.nan)
        return np.ascontiguousarray(np.where(quote[None, :], converted, self.volume))

    def dollar_volume(self) -> np.ndarray:
        """Volume in the quote currency (close x volume for a base volume): what liquidity
        ranks and caps count."""
        quote = self._quote_columns()
        traded = self.close * self.volume
        if not quote.any():
            return traded
        return np.ascontiguousarray(np.where(quote[None, :], self.volume, traded))

    def ohlcv(self, rows: Any = slice(None)) -> dict[str, np.ndarray]:
        """Copies of open..close and the **base** volume for ``rows``, the panels a
        simulation takes (its participation cap counts units of the asset)."""
        out = {f: np.array(getattr(self, f)[rows], dtype=np.float64) for f in FIELDS[:4]}
        out["volume"] = np.array(self.base_volume()[rows], dtype=np.float64)
        return out

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
        units = self.volume_units if cols is None else tuple(self.volume_units[c] for c in cols)
        return Bars(
            self.index[rows],
            symbols,
            *(take(getattr(self, f)) for f in FIELDS),
            asset_classes=acs,
            source=self.source,
            synthetic=self.synthetic,
            volume_units=units,
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
            volume_units=self.volume_units + other.volume_units,
        )


def _ts(x: Any) -> pd.Timestamp:
    t = pd.Timestamp(x)
    return t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")


def _utc_index(idx: pd.Index) -> pd.DatetimeIndex:
    di = pd.DatetimeIndex(idx)
    di = di.tz_localize("UTC") if di.tz is None else di.tz_convert("UTC")
    return di.normalize()
