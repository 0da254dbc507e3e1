"""The ``csv`` data source: a folder (or several) of per-symbol CSV or Parquet files.

Each file holds one symbol's daily bars, named ``<SYMBOL>.csv`` / ``.parquet``, with columns
``date,open,high,low,close,volume`` in any letter case. yfinance exports ("Date", "Open", ...,
"Adj Close", "Volume") are accepted: when an adjusted close is present, open/high/low/close are
scaled by ``adj_close / close`` so that splits and dividends do not show up as jumps. Symbols
ending in ``-USD`` are crypto unless the ``asset_class`` option says otherwise.

Volume has a unit (:class:`~tsys.data.bars.VolumeUnit`): the ``volume_unit`` option is
``"base"`` or ``"quote"`` for every file, or a table by asset class
(``volume_unit = {equity = "base", crypto = "quote"}``). The default is shares for equities and
the quote currency for crypto, as yfinance's ``-USD`` pairs, most exchanges' USD pairs and the
shared crypto files give it.

Every file is validated when it is loaded (:mod:`tsys.data.validate`): untrusted rows are
dropped with a warning, or raise in strict mode.

Optional metadata files make the real-data layout usable by buckets (all paths optional,
read by :class:`~tsys.data.meta_files.MetaFiles`): ``constituents_dir`` (point-in-time
``universe("sp500")``), ``sectors_file``, ``market_caps_file``, ``news_dir`` and ``float_file``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, Self

import attrs
import numpy as np
import pandas as pd

from tsys.contracts import AssetClass
from tsys.data.bars import FIELDS, Bars, VolumeUnit, volume_unit
from tsys.data.meta_files import KNOWN_EXCLUDED_COINS, MetaFiles
from tsys.data.price_files import UnreadableFile, read_price_file
from tsys.data.source import BarsRequest, DataSource, Fundamentals, SourceContext
from tsys.data.validate import QualityReport, unreadable_issue, validate_frame
from tsys.errors import ConfigError, DataError
from tsys.format import shortlist
from tsys.options import non_empty, one_of
from tsys.symbols import symbol_problem

_EXTS = (".csv", ".parquet", ".pq")
_EMPTY = pd.DataFrame(
    {f: pd.Series(dtype=np.float64) for f in FIELDS}, index=pd.DatetimeIndex([], name="date")
)


#: The csv source's default: shares for equities, dollars for crypto pairs.
DEFAULT_VOLUME_UNITS = {AssetClass.EQUITY: VolumeUnit.BASE, AssetClass.CRYPTO: VolumeUnit.QUOTE}


def _volume_units(option: Any) -> dict[AssetClass, VolumeUnit]:
    """The ``volume_unit`` option as a unit per asset class (see the module docstring)."""
    units = dict(DEFAULT_VOLUME_UNITS)
    if option is None:
        return units
    try:
        if isinstance(option, dict):
            for key, value in option.items():
                units[AssetClass(str(key).lower())] = volume_unit(value)
        else:
            units = {ac: volume_unit(option) for ac in units}
    except ValueError as exc:
        raise ConfigError(
            f"csv option volume_unit: {exc}",
            hint='use "base" or "quote", or a table like {equity = "base", crypto = "quote"}',
        ) from None
    return units


@attrs.frozen
class CsvOptions:
    """``[data.options.csv]``; ``path`` may also come from ``[data] path`` or ``--path``."""

    #: One folder of per-symbol files, or several.
    path: str | list[str] = attrs.field(validator=non_empty())
    asset_class: str | None = attrs.field(
        default=None, validator=one_of(*(a.value for a in AssetClass))
    )
    #: "base" or "quote", or per asset class: ``{ crypto = "quote" }``.
    volume_unit: str | dict[str, str] | None = None
    constituents_dir: str | None = None
    sectors_file: str | None = None
    market_caps_file: str | None = None
    news_dir: str | None = None
    float_file: str | None = None
    calendar: str = "XNYS"
    #: None: ``[data] strict``.
    strict: bool | None = None


class CsvSource(DataSource):
    """Bars from per-symbol files, validated on load, with optional metadata files."""

    name: ClassVar[str] = "csv"
    options_class: ClassVar[type] = CsvOptions
    synthetic: ClassVar[bool] = False
    provides: ClassVar[frozenset[str]] = frozenset(
        {"bars", "universe", "market_caps", "excluded_coins", "fundamentals", "news"}
    )

    def __init__(
        self,
        path: str | Path | Sequence[str | Path],
        *,
        asset_class: str | None = None,
        volume_unit: str | dict[str, str] | None = None,
        constituents_dir: str | Path | None = None,
        sectors_file: str | Path | None = None,
        market_caps_file: str | Path | None = None,
        news_dir: str | Path | None = None,
        float_file: str | Path | None = None,
        calendar: str = "XNYS",
        strict: bool = False,
        ctx: SourceContext | None = None,
    ) -> None:
        paths = [path] if isinstance(path, str | Path) else list(path)
        self.paths = [Path(p).expanduser() for p in paths]
        for p in self.paths:
            if not p.is_dir():
                raise ConfigError(
                    f"csv data folder {p} does not exist",
                    hint="set [data] path in tsys.toml or pass --path DIR",
                )
        self.asset_class = AssetClass(asset_class) if asset_class else None
        self.volume_units = _volume_units(volume_unit)
        self.calendar = calendar
        self.strict = strict
        self.ctx = ctx or SourceContext(cache_dir=Path(".tsys-cache"))
        self.meta = MetaFiles(
            constituents_dir=constituents_dir,
            sectors_file=sectors_file,
            market_caps_file=market_caps_file,
            news_dir=news_dir,
            float_file=float_file,
            warn=self.ctx.warn,
        )
        self.report = QualityReport(source=self.describe())
        self._files: dict[str, Path] = {}
        for p in self.paths:
            for f in sorted(p.iterdir()):
                if f.suffix.lower() not in _EXTS or f.name.startswith("."):
                    continue
                sym = f.stem.upper()
                problem = symbol_problem(sym)
                if problem is not None:
                    self.ctx.warn(f"csv: {f} skipped: its name is no symbol (a symbol {problem})")
                    continue
                if sym in self._files:
                    self.ctx.warn(
                        f"{sym}: found in {self._files[sym].parent} and {p}; using the first"
                    )
                    continue
                self._files[sym] = f
        self._loaded: dict[str, pd.DataFrame] = {}
        self._raw_rows: dict[str, int] = {}

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_config(cls, options: dict[str, Any], ctx: SourceContext) -> Self:
        if not options.get("path"):
            raise ConfigError(
                "the csv data source needs a folder of per-symbol files",
                hint="set [data] path (or [data.options.csv] path) in tsys.toml, or pass --path",
            )
        opts = attrs.asdict(cls.options_from(options), recurse=False)
        path, strict = opts.pop("path"), opts.pop("strict")
        return cls(path, ctx=ctx, strict=ctx.strict if strict is None else strict, **opts)

    @classmethod
    def shared_data(
        cls, root: str | Path, *, ctx: SourceContext | None = None, strict: bool = False
    ) -> Self:
        """Wire the ``shared/data`` layout: equities, delisted names, crypto, meta and news."""
        r = Path(root)
        dirs = [r / "equities" / "daily", r / "equities" / "stooq_to_2017", r / "crypto" / "daily"]

        def opt(p: Path) -> Path | None:
            return p if p.exists() else None

        floats = sorted((r / "meta").glob("float_snapshot*.csv"))
        return cls(
            [d for d in dirs if d.is_dir()],
            constituents_dir=opt(r / "meta" / "sp500_constituents_history"),
            sectors_file=opt(r / "meta" / "sp500_constituents.csv"),
            market_caps_file=opt(r / "crypto" / "market_caps.csv"),
            news_dir=opt(r / "news" / "daily_sentiment"),
            float_file=floats[-1] if floats else None,
            # The shared files give crypto volume in USD (see their README), shares for equities.
            volume_unit={"equity": "base", "crypto": "quote"},
            strict=strict,
            ctx=ctx,
        )

    def describe(self) -> str:
        return "csv " + ", ".join(str(p) for p in self.paths)

    def describe_volume(self) -> str:
        """The volume units, in words: ``"volume: equity base, crypto quote"``."""
        return "volume: " + ", ".join(
            f"{ac.value} {self.volume_unit(ac).value}"
            for ac in (AssetClass.EQUITY, AssetClass.CRYPTO)
        )

    # ------------------------------------------------------------------ bars
    def _class_of(self, symbol: str) -> AssetClass:
        if self.asset_class is not None:
            return self.asset_class
        return AssetClass.CRYPTO if symbol.endswith("-USD") else AssetClass.EQUITY

    def symbols(self, asset_class: AssetClass | None = None) -> list[str]:
        ac = AssetClass(asset_class) if asset_class is not None else None
        return [s for s in sorted(self._files) if ac is None or self._class_of(s) is ac]

    def load(self, symbol: str) -> pd.DataFrame:
        """One symbol's validated rows (index: tz-naive dates); loaded once per source."""
        if symbol in self._loaded:
            return self._loaded[symbol]
        path = self._files.get(symbol)
        if path is None:
            raise DataError(f"no file for {symbol!r} in {self.describe()}")
        try:
            raw = read_price_file(path)
        except UnreadableFile as exc:
            # One bad file costs its symbol, never the others (issue 21.5).
            self.ctx.warn(f"{symbol}: skipped: {exc.path} {exc.reason}")
            self.report.issues.append(unreadable_issue(symbol, exc))
            self._raw_rows[symbol] = 0
            self._loaded[symbol] = _EMPTY.copy()
            return self._loaded[symbol]
        df, report = validate_frame(
            symbol,
            raw,
            self._class_of(symbol),
            strict=self.strict,
            warn=self.ctx.warn,
            calendar=self.calendar,
            source=str(path),
        )
        self.report.extend(report)
        self._raw_rows[symbol] = len(raw)
        self._loaded[symbol] = df
        return df

    def validate(self, symbols: Sequence[str] | None = None) -> QualityReport:
        """Load (and so validate) ``symbols`` (all when None); return their combined report."""
        syms = list(symbols) if symbols is not None else self.symbols()
        for s in syms:
            self.load(s)
        wanted = set(syms)
        return QualityReport(
            source=self.describe(),
            symbols=len(syms),
            rows=sum(self._raw_rows[s] for s in syms),
            issues=[i for i in self.report.issues if i.symbol in wanted],
            notes=list(self.report.notes),
        )

    def read_bars(self, request: BarsRequest) -> Bars:
        ac = request.asset_class
        wanted = [s for s in request.wanted(self) if ac is None or self._class_of(s) is ac]
        absent = [s for s in wanted if s not in self._files]
        if absent:
            self.ctx.warn(
                f"csv: no file for {len(absent)} symbol(s), left out: {shortlist(absent)}"
            )
        frames: dict[str, pd.DataFrame] = {}
        lo = pd.Timestamp(request.start) if request.start is not None else None
        hi = pd.Timestamp(request.end)
        for s in wanted:
            if s not in self._files:
                continue
            df = self.load(s)
            sel = df[(df.index <= hi) & ((df.index >= lo) if lo is not None else True)]
            if len(sel):
                frames[s] = sel[list(FIELDS)]
        classes = {s: self._class_of(s) for s in frames}
        return self.bars_from_frames(frames, classes, source=self._label(frames, classes))

    def _label(self, frames: dict[str, Any], classes: dict[str, AssetClass]) -> str:
        """What this panel was read from: its folders only (a crypto panel names the crypto
        files, not the equity folders beside them) and its volume units."""
        if not frames:
            return self.describe()
        used = {self._files[s].parent for s in frames}
        folders = [str(p) for p in self.paths if p in used]
        units = ", ".join(
            f"{ac.value} volume in {self.volume_unit(ac).value} units"
            for ac in sorted(set(classes.values()), key=lambda a: a.value)
        )
        return f"csv {', '.join(folders)} ({units})"

    # ------------------------------------------------------------------ metadata
    def universe(self, name: str, as_of: dt.date) -> list[str] | None:
        return self.meta.universe(name, as_of)

    def market_caps(self, start: dt.date | None, end: dt.date) -> pd.DataFrame | None:
        return self.meta.market_caps(start, end)

    def excluded_coins(self) -> set[str] | None:
        if not any(self._class_of(s) is AssetClass.CRYPTO for s in self._files):
            return None
        return set(KNOWN_EXCLUDED_COINS)

    def fundamentals(self, symbols: Sequence[str]) -> dict[str, Fundamentals] | None:
        return self.meta.fundamentals(symbols)

    def news_coverage(self, symbols: Sequence[str]) -> dict[str, tuple[dt.date, dt.date]] | None:
        """First and last day of each symbol's news file (no file: no news for it)."""
        return self.meta.news_coverage(symbols)

    def news(self, symbols: Sequence[str], start: dt.date, end: dt.date) -> pd.DataFrame | None:
        return self.meta.news(symbols, start, end)
