"""The data-source interface and the hub that combines several sources.

A source provides bars and, optionally, more: index membership, market caps, fundamentals
(sector, shares float), news sentiment, earnings dates, options-flow alerts. Every optional
method returns ``None`` when the source does not provide it; the :class:`DataHub` then asks the
next source and, when nobody provides it, records a warning for the run.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import attrs
import pandas as pd

from tsys.contracts import AssetClass
from tsys.data.bars import Bars, VolumeUnit
from tsys.data.calendars import as_date
from tsys.options import Configurable, structure_options

#: Columns of the frames optional methods return.
NEWS_COLUMNS = ("date", "symbol", "sentiment", "relevance", "title", "url", "source")
EARNINGS_COLUMNS = ("symbol", "date")
FLOW_COLUMNS = ("timestamp", "symbol", "option_type", "premium", "volume", "open_interest", "rule")


@attrs.frozen
class Fundamentals:
    """What a source knows of a company or coin; None where it does not know."""

    symbol: str
    name: str | None = None
    sector: str | None = None
    shares_outstanding: float | None = None
    shares_float: float | None = None
    market_cap: float | None = None
    #: When these numbers were taken ("2023-08" from a float snapshot file's name): a float
    #: or a share count is a snapshot, not a history. None: not said.
    snapshot: str | None = None


@attrs.define
class SourceContext:
    """What a source gets when it is built: its cache folder, the run's warnings, strictness."""

    cache_dir: Path
    warnings: list[str] = attrs.field(factory=list)
    strict: bool = False
    config: Any = None
    #: The day the caller works on (a daily run's as-of), for sources whose answers depend
    #: on "today" (snapshots such as fundamentals); None: the real today.
    as_of: dt.date | None = None

    def warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)


def _symbol_tuple(symbols: Sequence[str] | None) -> tuple[str, ...] | None:
    return tuple(symbols) if symbols is not None else None


@attrs.frozen
class BarsRequest:
    """One :meth:`DataSource.bars` call with its arguments normalised, as
    :meth:`DataSource.read_bars` receives it."""

    #: The symbols asked for, in the caller's order; None: every symbol the source has.
    symbols: tuple[str, ...] | None = attrs.field(converter=_symbol_tuple)
    #: The first day; None: as far back as the source goes (or its own default span).
    start: dt.date | None = attrs.field(converter=attrs.converters.optional(as_date))
    #: The last day, inclusive.
    end: dt.date = attrs.field(converter=as_date)
    #: Only symbols of this asset class; None: every class.
    asset_class: AssetClass | None = attrs.field(
        default=None, converter=attrs.converters.optional(AssetClass)
    )

    def wanted(self, source: DataSource) -> list[str]:
        """The symbols asked for, or ``source.symbols(asset_class)`` when the call named none."""
        if self.symbols is not None:
            return list(self.symbols)
        return source.symbols(self.asset_class)

    def start_or(self, span: dt.timedelta) -> dt.date:
        """:attr:`start`, or ``span`` before :attr:`end` when the call gave no start."""
        return self.start if self.start is not None else self.end - span


#: What a source may provide besides ``bars``: one :class:`DataSource` method each.
OPTIONAL_DATA = (
    "universe",
    "market_caps",
    "excluded_coins",
    "fundamentals",
    "news",
    "earnings",
    "options_flow",
)


class DataSource(Configurable):
    """Base class of data sources. Subclass, set ``name``, override what you provide;
    ``from_config`` builds the source from its ``[data.options.<name>]`` table."""

    #: True for generated data; shown wherever the data is shown.
    synthetic: ClassVar[bool] = False
    #: True when what this source provides besides bars is a history it keeps locally (a
    #: record it builds, such as options-flow alerts in the store): backtests, optimisation
    #: and research open it as an extra source too, where other extras (network APIs that
    #: know only the present) are left out.
    recorded: ClassVar[bool] = False
    #: Capabilities this source provides (for ``tsys plugins`` and warnings).
    provides: ClassVar[frozenset[str]] = frozenset({"bars"})
    #: The unit of the volume in this source's bars, by asset class (base: shares or coins;
    #: quote: the currency, as most exchanges give it for a USD pair). A source whose unit is
    #: an option sets ``self.volume_units`` when it is built. Every panel it returns must say
    #: the same (:class:`DataHub` checks).
    volume_units: Mapping[AssetClass, VolumeUnit] = {
        AssetClass.EQUITY: VolumeUnit.BASE,
        AssetClass.CRYPTO: VolumeUnit.BASE,
    }

    @classmethod
    def options_from(cls, options: Mapping[str, Any] | None) -> Any:
        """Build :attr:`options_class` from this source's table, or raise one ConfigError.

        What ``from_config`` calls first: :func:`~tsys.options.structure_options` with every
        message located below ``$.data.options.<name>``.
        """
        if cls.options_class is None:
            raise TypeError(f"{cls.__name__} declares no options_class")
        return structure_options(cls.options_class, options, where=f"$.data.options.{cls.name}")

    def volume_unit(self, asset_class: AssetClass | str) -> VolumeUnit:
        """The unit of this source's volume for ``asset_class``."""
        return VolumeUnit(self.volume_units.get(AssetClass(asset_class), VolumeUnit.BASE))

    def symbols(self, asset_class: AssetClass | None = None) -> list[str]:
        """Every symbol this source has bars for (optionally of one asset class)."""
        raise NotImplementedError

    def bars(
        self,
        symbols: Sequence[str] | None,
        start: dt.date | None,
        end: dt.date,
        *,
        asset_class: AssetClass | None = None,
    ) -> Bars | None:
        """Daily bars of ``symbols`` (all when None) from ``start`` to ``end`` inclusive.

        Normalises the call into a :class:`BarsRequest` and answers :meth:`read_bars`;
        a source implements that method (a source that overrides ``bars`` itself still works).
        """
        return self.read_bars(BarsRequest(symbols, start, end, asset_class))

    def read_bars(self, request: BarsRequest) -> Bars | None:
        """The bars :meth:`bars` was asked for (None: this source provides no bars)."""
        return None

    def bars_from_frames(
        self, frames: Mapping[str, pd.DataFrame], classes: Mapping[str, AssetClass], *, source: str
    ) -> Bars:
        """:meth:`Bars.from_frames` with each symbol's volume in this source's declared unit
        (:meth:`volume_unit` of its asset class), as :class:`DataHub` requires."""
        units = {s: self.volume_unit(ac) for s, ac in classes.items()}
        return Bars.from_frames(frames, classes, source=source, volume_unit=units)

    def universe(self, name: str, as_of: dt.date) -> list[str] | None:
        """Members of a named universe ("sp500") as known on ``as_of`` (point in time)."""
        return None

    def market_caps(self, start: dt.date | None, end: dt.date) -> pd.DataFrame | None:
        """Market caps, dates x symbols, for ranking (crypto top-N)."""
        return None

    def excluded_coins(self) -> set[str] | None:
        """Symbols a crypto universe must exclude (stablecoins, wrapped tokens)."""
        return None

    def fundamentals(self, symbols: Sequence[str]) -> dict[str, Fundamentals] | None:
        """Sector, shares outstanding and float, market cap per symbol."""
        return None

    def news(self, symbols: Sequence[str], start: dt.date, end: dt.date) -> pd.DataFrame | None:
        """News sentiment, one row per article or day: :data:`NEWS_COLUMNS`, sentiment -1..1."""
        return None

    def earnings(self, symbols: Sequence[str], start: dt.date, end: dt.date) -> pd.DataFrame | None:
        """Earnings report dates: :data:`EARNINGS_COLUMNS`."""
        return None

    def news_coverage(self, symbols: Sequence[str]) -> dict[str, tuple[dt.date, dt.date]] | None:
        """The span of days :meth:`news` knows about, per symbol (absent: no news data for
        it). None: not known, or the source covers every symbol and day it is asked for."""
        return None

    def options_flow(self, start: dt.date, end: dt.date) -> pd.DataFrame | None:
        """Unusual options-flow alerts: :data:`FLOW_COLUMNS`."""
        return None


_FAILED = object()


def _has_gap(f: Fundamentals) -> bool:
    return any(getattr(f, a.name) is None for a in attrs.fields(Fundamentals))


def _fill(first: Fundamentals, other: Fundamentals) -> Fundamentals:
    """``first`` with its unknown fields taken from ``other``."""
    gaps = {
        a.name: getattr(other, a.name)
        for a in attrs.fields(Fundamentals)
        if getattr(first, a.name) is None and getattr(other, a.name) is not None
    }
    return attrs.evolve(first, **gaps) if gaps else first


class ApiSource(DataSource):
    """A data source over a web API: its client, a JSON cache, the build context and options.

    For sources of metadata (news, market caps, fundamentals) that have no bars: ``symbols()``
    is empty unless a subclass overrides it. ``now`` is the UTC clock, replaced in tests.
    """

    def __init__(self, client: Any, cache: Any, ctx: SourceContext, options: Any) -> None:
        self.client = client
        self.cache = cache
        self.ctx = ctx
        self.options = options
        #: The clock (UTC); tests replace it.
        self.now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)

    @classmethod
    def cache_folder(cls, ctx: SourceContext) -> Path:
        """This source's cache folder: ``ctx.cache_dir`` when it is already the per-source
        folder tsys hands each source it opens (named after the source), else
        ``<cache_dir>/<name>`` (a context shared by several sources)."""
        return ctx.cache_dir if ctx.cache_dir.name == cls.name else ctx.cache_dir / cls.name

    def today(self) -> dt.date:
        """The UTC date of :attr:`now`."""
        return self.now().astimezone(dt.UTC).date()

    def daily_payload(
        self,
        key: Sequence[str],
        fetch: Callable[[], Any],
        *,
        what: str,
        kept: str = "one",
        reraise: tuple[type[BaseException], ...] = (),
    ) -> Any:
        """The payload cached under ``key`` when it was fetched today (UTC), else ``fetch()``'s,
        written to the cache.

        When ``fetch`` raises a :class:`~tsys.errors.DataError` (not one of ``reraise``) and an
        older payload is cached, that one is used and the run's warnings say so: "<source>:
        <what> could not be refreshed (<why>); using the <kept> fetched <day>". Without one the
        error propagates.
        """
        from tsys.errors import DataError

        entry = self.cache.read(*key)
        if entry is not None and entry["fetched_at"].astimezone(dt.UTC).date() == self.today():
            return entry["payload"]
        try:
            payload = fetch()
        except DataError as exc:
            if entry is None or isinstance(exc, reraise):
                raise
            self.ctx.warn(
                f"{self.name}: {what} could not be refreshed ({exc.message}); using the {kept} "
                f"fetched {entry['fetched_at'].date()}"
            )
            return entry["payload"]
        self.cache.write(payload, *key, fetched_at=self.now())
        return payload

    def symbols(self, asset_class: AssetClass | None = None) -> list[str]:
        """No bars here, so no symbols with bars."""
        return []


class DataHub(DataSource):
    """Several sources behind one face: bars from the primary, extras from the first provider.

    Every capability nobody provides is recorded once in ``ctx.warnings`` so the run says what
    it is missing.
    """

    def __init__(self, primary: DataSource, extras: Sequence[DataSource], ctx: SourceContext):
        self.primary = primary
        self.extras = list(extras)
        self.ctx = ctx

    @property
    def volume_units(self) -> Mapping[AssetClass, VolumeUnit]:  # type: ignore[override]
        """The primary's: the hub's bars are the primary's, in its units."""
        return self.primary.volume_units

    def volume_unit(self, asset_class: AssetClass | str) -> VolumeUnit:
        return self.primary.volume_unit(asset_class)

    @property
    def sources(self) -> list[DataSource]:
        return [*self.extras, self.primary]

    @property
    def synthetic(self) -> bool:
        return self.primary.synthetic

    def _first(self, method: str, what: str, *args: Any, **kwargs: Any) -> Any:
        failed = []
        for src in self.sources:
            result = self._ask(src, method, what, *args, **kwargs)
            if result is _FAILED:
                failed.append(src.name)
                continue
            if result is not None:
                return result
        if not failed:
            self.ctx.warn(f"no installed data source provides {what}; running without it")
        return None

    def _ask(self, src: DataSource, method: str, what: str, *args: Any, **kwargs: Any) -> Any:
        """One source's answer, or ``_FAILED`` (with a run warning) when it raised."""
        from tsys.errors import TsysError

        try:
            return getattr(src, method)(*args, **kwargs)
        except TsysError as exc:
            # An extra input failing (quota, outage) must not cost the day its plan:
            # say so and ask the next source.
            self.ctx.warn(f"{src.name}: {what} unavailable: {exc.message}")
        except Exception as exc:
            self.ctx.warn(
                f"data source {src.name!r} failed providing {what}: {type(exc).__name__}: {exc}"
            )
        return _FAILED

    def symbols(self, asset_class: AssetClass | None = None) -> list[str]:
        return self.primary.symbols(asset_class)

    def _valid(self, symbols: Sequence[str]) -> list[str]:
        """``symbols`` that follow the symbol grammar; each other one is named in a warning
        (a held position's symbol reaches every source, and a source builds paths from it)."""
        from tsys.symbols import symbol_problem

        out = []
        for sym in symbols:
            problem = symbol_problem(sym)
            if problem is None:
                out.append(sym)
            else:
                self.ctx.warn(f"symbol {problem}; no data source is asked for it")
        return out

    def read_bars(self, request: BarsRequest) -> Bars:
        from tsys.errors import DataError

        symbols = self._valid(request.symbols) if request.symbols is not None else None
        out = self.primary.bars(
            symbols, request.start, request.end, asset_class=request.asset_class
        )
        if out is None:
            raise DataError(f"data source {self.primary.name!r} provides no bars")
        for sym, ac, unit in zip(out.symbols, out.asset_classes, out.volume_units, strict=True):
            declared = self.primary.volume_unit(ac)
            if unit is not declared:
                # Volume in the wrong unit silently mis-sizes every liquidity cap and fill.
                raise DataError(
                    f"data source {self.primary.name!r} declares {declared.value} volume for "
                    f"{ac.value}, but its bars for {sym} say {unit.value}",
                    hint="the source must build Bars with volume_unit=self.volume_unit(...)",
                )
        return out

    def universe(self, name: str, as_of: dt.date) -> list[str] | None:
        return self._first("universe", f"'{name}' membership", name, as_of)

    def market_caps(self, start: dt.date | None, end: dt.date) -> pd.DataFrame | None:
        return self._first("market_caps", "market caps", start, end)

    def excluded_coins(self) -> set[str] | None:
        return self._first("excluded_coins", "stablecoin/wrapped-token lists")

    def fundamentals(self, symbols: Sequence[str]) -> dict[str, Fundamentals] | None:
        """Fundamentals merged field by field: the first source that knows a value wins.

        An extra source often knows some symbols only in part (Alpha Vantage has no sector
        for an ETF or a coin); the next sources are asked for the symbols still missing a
        field, so one partial answer never hides the primary's sectors (and the sector cap).
        """
        what = "fundamentals (sector, float)"
        merged: dict[str, Fundamentals] = {}
        todo = self._valid(list(dict.fromkeys(symbols)))
        answered = failed = False
        for src in self.sources:
            if not todo:
                break
            result = self._ask(src, "fundamentals", what, todo)
            if result is _FAILED:
                failed = True
                continue
            if result is None:
                continue
            answered = True
            for sym in todo:
                got = result.get(sym)
                if got is not None:
                    merged[sym] = got if sym not in merged else _fill(merged[sym], got)
            todo = [s for s in todo if s not in merged or _has_gap(merged[s])]
        if not answered and not failed:
            self.ctx.warn(f"no installed data source provides {what}; running without it")
        return merged if answered else None

    def news(self, symbols: Sequence[str], start: dt.date, end: dt.date) -> pd.DataFrame | None:
        return self._first("news", "news sentiment", self._valid(symbols), start, end)

    def earnings(self, symbols: Sequence[str], start: dt.date, end: dt.date) -> pd.DataFrame | None:
        return self._first("earnings", "earnings dates", self._valid(symbols), start, end)

    def news_coverage(self, symbols: Sequence[str]) -> dict[str, tuple[dt.date, dt.date]] | None:
        """The news span per symbol, from the source that answers :meth:`news` (None: that
        source covers everything it is asked for, or says nothing about its coverage)."""
        from tsys.errors import TsysError

        for src in self.sources:
            if "news" not in src.provides:
                continue
            try:
                return src.news_coverage(self._valid(symbols))
            except (TsysError, OSError, ValueError) as exc:
                self.ctx.warn(f"{src.name}: news coverage unknown: {exc}")
                return None
        return None

    def options_flow(self, start: dt.date, end: dt.date) -> pd.DataFrame | None:
        return self._first("options_flow", "options-flow alerts", start, end)
