"""The ``demo`` data source: a seeded synthetic market that needs no network and no files.

Everything here is made up and labelled so (``Bars.synthetic``, ``source="demo (synthetic, seed
N)"``, news titles starting ``[synthetic]``). It is built to be "real enough" for the rest of tsys
to be exercised end to end:

* 540 equities with made-up four-letter tickers in the 11 GICS sectors: returns from a market
  factor (GARCH volatility, student-t shocks), sector factors and idiosyncratic GARCH noise;
  prices held in a $5-$800 band by slow mean reversion around a beta-scaled market path;
  earnings-day gaps; volume tied to float turnover and to the size of the move; a few halts per
  year (no bar on those sessions, which validation reports as gaps).
* "SPY" and the 11 sector ETFs (XLK, XLF, ...) built cap-weighted from the constituents.
* 26 coins ("BTC-USD", ...) on every UTC day with higher volatility, supplies and market caps,
  including stablecoins (USDT/USDC/DAI, pinned near $1) and a wrapped token (WBTC, tracking BTC)
  that universes must exclude.
* point-in-time "sp500" membership (quarterly cap-ranked swaps), fundamentals with some
  low-float names, daily news sentiment, quarterly earnings dates and unusual options-flow
  alerts.

Determinism: every random stream is prefix-stable (row-major draws from its own generator, causal
recursions, per-year generators for events), and generation always starts from a fixed epoch.
The data up to any date therefore does not depend on the end date asked for: a later as-of only
appends bars. Equities trade on real NYSE sessions (exchange_calendars XNYS).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Self

import attrs
import numpy as np
import pandas as pd

from tsys.contracts import AssetClass
from tsys.data.bars import Bars, VolumeUnit
from tsys.data.calendars import as_date
from tsys.data.demo_market import (
    COINS,
    DEFENSIVE_FUNDS,
    EPOCH,
    EXCLUDED_COINS,
    INDEX_ETF,
    SECTOR_ETFS,
    SECTORS,
    Market,
    _horizon,
    _rng,
    _tickers,
    generate_market,
)
from tsys.data.source import (
    EARNINGS_COLUMNS,
    FLOW_COLUMNS,
    NEWS_COLUMNS,
    OPTIONAL_DATA,
    BarsRequest,
    DataSource,
    Fundamentals,
    SourceContext,
)
from tsys.errors import DataError
from tsys.format import shortlist
from tsys.options import above

_FLOW_RULES = (
    "RepeatedHits",
    "FloorTradeLargeCap",
    "FloorTradeMidCap",
    "SweepsFollowedByFloor",
    "OtmEarningsFloor",
    "LowHistoricVolumeFloor",
)
_NEWS_UP = (
    "beats expectations",
    "raises guidance",
    "wins major contract",
    "upgraded",
    "shares rally on strong demand",
)
_NEWS_DOWN = (
    "misses estimates",
    "cuts outlook",
    "faces regulatory probe",
    "downgraded",
    "shares slide as margins shrink",
)
_NEWS_FLAT = (
    "announces conference call",
    "names new director",
    "files quarterly report",
    "holds investor day",
)


@attrs.frozen(eq=False)
class _NewsTable:
    """Every synthetic article of one market, as session x ticker panels (built once)."""

    has: np.ndarray  # T x N_EQUITIES bool: an article that session
    sentiment: np.ndarray  # T x N_EQUITIES, rounded to 3 decimals
    relevance: np.ndarray  # T x N_EQUITIES, rounded to 3 decimals
    phrase: np.ndarray  # T x N_EQUITIES index into _NEWS_PHRASES
    tickers: np.ndarray  # N_EQUITIES object
    titles: np.ndarray  # N_EQUITIES x len(_NEWS_PHRASES) object: "[synthetic] TICK phrase"


_NEWS_PHRASES = (*_NEWS_UP, *_NEWS_DOWN, *_NEWS_FLAT)
#: The derived news panels, per seed, for the market they were built from.
_NEWS: dict[int, tuple[Market, _NewsTable]] = {}


#: Validation reports per seed, for the market they came from: per (strict, symbols) of a
#: panel of it (a whole panel or the columns one load selected). Issues are frozen, so each
#: source's report may share them.
_VALIDATED: dict[int, tuple[Market, dict[tuple[bool, tuple[str, ...]], Any]]] = {}


def _validated(mk: Market, panel: Bars, strict: bool) -> Any:
    """The validation report of ``panel`` (taken from ``mk``), once per market and process:
    the panels never change once made. Strict mode raises on the issues it refuses."""
    from tsys.data.validate import validate_bars

    hit = _VALIDATED.get(mk.seed)
    if hit is None or hit[0] is not mk:
        hit = (mk, {})
        _VALIDATED[mk.seed] = hit
    key = (strict, panel.symbols)
    if key not in hit[1]:
        hit[1][key] = validate_bars(panel, strict=strict)[1]
    return hit[1][key]


#: Review dates and sorted member lists of each seed's market, for the market they came from.
_MEMBERS: dict[int, tuple[Market, np.ndarray, tuple[tuple[str, ...], ...]]] = {}


def _member_lists(mk: Market) -> tuple[np.ndarray, tuple[tuple[str, ...], ...]]:
    """The "sp500" review days (datetime64[D], ascending) and each review's sorted members."""
    hit = _MEMBERS.get(mk.seed)
    if hit is None or hit[0] is not mk:
        when = np.array([np.datetime64(w.date(), "D") for w, _ in mk.members])
        hit = (mk, when, tuple(tuple(sorted(m)) for _, m in mk.members))
        _MEMBERS[mk.seed] = hit
    return hit[1], hit[2]


def _text(values: np.ndarray, take: np.ndarray) -> Any:
    """``values[take]`` (Python strings) as the column pandas would build from those strings.

    With pandas' Arrow-backed string dtype the strings are taken on the Arrow side (no
    per-element conversion); otherwise the object array itself is the column.
    """
    dtype = pd.Series(["x"]).dtype
    if getattr(dtype, "storage", None) != "pyarrow":
        return values[take]
    import pyarrow as pa

    return pd.array(pa.array(values.tolist()).take(pa.array(take)), dtype=dtype)


def _news_table(mk: Market) -> _NewsTable:
    """The news of ``mk``, derived once: every element depends on its own session and ticker
    only, so a query is a slice of these panels (the same articles as drawing them per call)."""
    hit = _NEWS.get(mk.seed)
    if hit is not None and hit[0] is mk:
        return hit[1]
    eq = mk.equities
    n = len(mk.universe.tickers)
    u = _rng(mk.seed, 30).random((len(eq.index), n, 3))
    c = eq.close[:, :n]
    prev = np.vstack([c[:1], c[:-1]])
    with np.errstate(invalid="ignore"):
        surprise = np.log(c / prev) / mk.sigma
    p = 0.06 + 0.5 * np.tanh(np.abs(np.nan_to_num(surprise)) / 3) + 0.6 * mk.earnings
    has = (u[..., 0] < p) & ~np.isnan(surprise)
    sent = np.round(
        np.clip(np.tanh(0.5 * np.nan_to_num(surprise)) + 0.5 * (u[..., 1] - 0.5), -1, 1), 3
    )
    u2 = u[..., 2]
    # The phrase pool follows the rounded sentiment; the pick within it follows u2.
    n_up, n_down, n_flat = len(_NEWS_UP), len(_NEWS_DOWN), len(_NEWS_FLAT)
    phrase = np.where(
        sent > 0.2,
        (u2 * n_up).astype(np.int64),
        np.where(
            sent < -0.2,
            n_up + (u2 * n_down).astype(np.int64),
            n_up + n_down + (u2 * n_flat).astype(np.int64),
        ),
    ).astype(np.int8)
    tickers = np.array(mk.universe.tickers, dtype=object)
    titles = np.array(
        [[f"[synthetic] {t} {ph}" for ph in _NEWS_PHRASES] for t in tickers], dtype=object
    )
    table = _NewsTable(has, sent, np.round(0.5 + 0.5 * u2, 3), phrase, tickers, titles)
    _NEWS[mk.seed] = (mk, table)
    return table


@attrs.frozen
class DemoOptions:
    """``[data.options.demo]``."""

    #: None: ``[data] demo_seed``.
    seed: int | None = None
    #: The market's last day; None: the run's as-of date.
    as_of: dt.date | None = None
    history_years: float = attrs.field(default=20.0, validator=above(0))


class DemoSource(DataSource):
    """A synthetic, seeded market: equities, ETFs, crypto, and every optional capability."""

    name: ClassVar[str] = "demo"
    options_class: ClassVar[type] = DemoOptions
    synthetic: ClassVar[bool] = True
    provides: ClassVar[frozenset[str]] = frozenset({"bars", *OPTIONAL_DATA})
    #: The generator counts volume in shares and in coins (turnover of the float / supply).
    volume_units: Mapping[AssetClass, VolumeUnit] = {
        AssetClass.EQUITY: VolumeUnit.BASE,
        AssetClass.CRYPTO: VolumeUnit.BASE,
    }

    def __init__(
        self,
        seed: int = 7,
        *,
        as_of: dt.date | str | None = None,
        history_years: float = 20.0,
        ctx: SourceContext | None = None,
    ) -> None:
        self.seed = int(seed)
        self.as_of = as_date(as_of) if as_of is not None else dt.date.today()
        self.history_years = float(history_years)
        self.ctx = ctx
        self._reports: dict[dt.date, Any] = {}
        self.report: Any = None

    @classmethod
    def from_config(cls, options: dict[str, Any], ctx: SourceContext) -> Self:
        opts = cls.options_from(options)
        seed = opts.seed
        if seed is None and ctx.config is not None:
            seed = ctx.config.data.demo_seed
        return cls(
            7 if seed is None else seed,
            as_of=opts.as_of if opts.as_of is not None else ctx.as_of,
            history_years=opts.history_years,
            ctx=ctx,
        )

    @property
    def label(self) -> str:
        return f"demo (synthetic, seed {self.seed})"

    def market(self, end: dt.date | None = None) -> Market:
        end = as_date(end) if end is not None else self.as_of
        if end <= EPOCH:
            raise DataError(
                f"the demo market starts on {EPOCH.isoformat()}; {end.isoformat()} is before it",
                hint="pick a later --as-of (or --start)",
            )
        return generate_market(self.seed, _horizon(end))

    # ------------------------------------------------------------------ bars
    def symbols(self, asset_class: AssetClass | None = None) -> list[str]:
        eq = [*_tickers(), INDEX_ETF, *SECTOR_ETFS, *(f[0] for f in DEFENSIVE_FUNDS)]
        cr = [c[0] for c in COINS]
        if asset_class is None:
            return eq + cr
        return eq if AssetClass(asset_class) is AssetClass.EQUITY else cr

    def validate(self, end: dt.date | None = None):
        """Validation report of the generated panels (clean except the halts, seen as gaps)."""
        mk = self.market(end)
        if mk.horizon not in self._reports:
            self._reports[mk.horizon] = self._report(mk, (mk.equities, mk.crypto))
        return self._reports[mk.horizon]

    def _report(self, mk: Market, panels: Sequence[Bars]) -> Any:
        """One report over the validation of each of ``panels`` (panels of ``mk``)."""
        from tsys.data.validate import QualityReport

        strict = self.ctx is not None and self.ctx.strict
        report = QualityReport(source=self.label)
        for panel in panels:
            report.extend(_validated(mk, panel, strict))  # the shared parts are only read
        return report

    def read_bars(self, request: BarsRequest) -> Bars:
        symbols, end, ac = request.symbols, request.end, request.asset_class
        start = request.start_or(dt.timedelta(days=round(365.25 * self.history_years)))
        mk = self.market(end)
        panels = []
        for cls in (AssetClass.EQUITY, AssetClass.CRYPTO):
            if ac is not None and ac is not cls:
                continue
            if symbols is None:
                panels.append(_part(mk, cls))
                continue
            have = set(self.symbols(cls))
            wanted = [s for s in symbols if s in have]
            if wanted:  # a market part is generated only when a symbol of it is asked for
                panels.append(self._columns(mk, cls, wanted))
        # Validated like any load, the columns loaded (once per generated market): the halts
        # show up as gaps.
        self.report = self._report(mk, panels)
        if symbols is not None:
            known = set(self.symbols(ac))
            unknown = [s for s in symbols if s not in known]
            if unknown and self.ctx is not None:
                self.ctx.warn(f"demo: unknown symbol(s) left out: {shortlist(unknown)}")
        out = Bars.empty(source=self.label)
        for p in panels:
            out = out.merge(p.between(start, end))
        return attrs.evolve(out, source=self.label, synthetic=True)

    def _columns(self, mk: Market, cls: AssetClass, wanted: list[str]) -> Bars:
        """``wanted`` of the market part ``cls``: SPY, the sector ETFs and the defensive funds
        from the source's cache folder while the equities are not generated, else from the
        generated part (whose series are then kept there, see tsys.data.demo_cache)."""
        from tsys.data import demo_cache

        folder = self.ctx.cache_dir if self.ctx is not None else None
        if cls is AssetClass.EQUITY and folder is not None:
            if not mk.has_equities and demo_cache.is_series(wanted):
                kept = demo_cache.read_series(folder, mk.seed, mk.horizon)
                if kept is not None:
                    return kept.select(wanted)
            panel = mk.equities
            demo_cache.write_series(folder, mk)
            return panel.select(wanted)
        return _part(mk, cls).select(wanted)

    # ------------------------------------------------------------------ metadata
    def universe(self, name: str, as_of: dt.date) -> list[str] | None:
        if name != "sp500":
            return None
        as_of = as_date(as_of)
        mk = self.market(as_of)
        when, lists = _member_lists(mk)
        # The last review on or before the day (the first list before any review).
        k = max(int(np.searchsorted(when, np.datetime64(as_of, "D"), side="right")) - 1, 0)
        return list(lists[k])

    def membership_changes(self, end: dt.date | None = None) -> list[dt.date]:
        """Dates on which the synthetic "sp500" membership changed."""
        end = as_date(end)
        return [w.date() for w, _ in self.market(end).members[1:] if w.date() <= end]

    def market_caps(self, start: dt.date | None, end: dt.date) -> pd.DataFrame:
        mk = self.market(end)
        caps = pd.DataFrame(
            mk.crypto.close * mk.coin_supply, index=mk.crypto.index, columns=list(mk.crypto.symbols)
        )
        lo = pd.Timestamp(start, tz="UTC") if start is not None else caps.index[0]
        return caps[(caps.index >= lo) & (caps.index <= pd.Timestamp(end, tz="UTC"))]

    def excluded_coins(self) -> set[str]:
        return set(EXCLUDED_COINS)

    def fundamentals(self, symbols: Sequence[str]) -> dict[str, Fundamentals]:
        mk = self.market(self.as_of)
        pos = {s: j for j, s in enumerate(_tickers())}
        asof = pd.Timestamp(self.as_of, tz="UTC")

        def row(panel: Bars) -> int:
            return max(int(panel.index.searchsorted(asof, side="right")) - 1, 0)

        coins = {c[0]: j for j, c in enumerate(COINS)}
        out: dict[str, Fundamentals] = {}
        for s in symbols:
            if s in pos:
                u, erow = mk.universe, row(mk.equities)  # the equities only when asked for
                j = pos[s]
                px = _last_valid(mk.equities.close[: erow + 1, j])
                shares = float(u.shares[j])
                out[s] = Fundamentals(
                    symbol=s,
                    name=u.names[j],
                    sector=SECTORS[u.sector[j]][0],
                    shares_outstanding=shares,
                    shares_float=float(np.round(shares * u.float_frac[j], -3)),
                    market_cap=None if px is None else px * shares,
                    snapshot=f"{self.as_of.isoformat()} (synthetic)",
                )
            elif s in coins:
                j, crow = coins[s], row(mk.crypto)
                px = _last_valid(mk.crypto.close[: crow + 1, j])
                sup = mk.coin_supply[crow, j]
                out[s] = Fundamentals(
                    symbol=s,
                    name=f"{s.split('-')[0]} (synthetic)",
                    shares_outstanding=None if np.isnan(sup) else float(sup),
                    shares_float=None if np.isnan(sup) else float(sup),
                    market_cap=None if px is None or np.isnan(sup) else px * float(sup),
                )
            elif s == INDEX_ETF or s in SECTOR_ETFS or s in {f[0] for f in DEFENSIVE_FUNDS}:
                out[s] = Fundamentals(
                    symbol=s, name=f"{s} (synthetic ETF)", sector=SECTOR_ETFS.get(s)
                )
            else:
                out[s] = Fundamentals(symbol=s)
        return out

    def news(self, symbols: Sequence[str], start: dt.date, end: dt.date) -> pd.DataFrame:
        """Daily sentiment rows: more likely and more extreme on big moves and earnings days."""
        start, end = as_date(start), as_date(end)
        mk = self.market(end)
        pos = {s: j for j, s in enumerate(_tickers())}
        cols = np.array([pos[s] for s in symbols if s in pos], dtype=np.int64)
        if not len(cols):  # no stock asked for (an ETF has no news): the equities stay ungenerated
            return pd.DataFrame(columns=list(NEWS_COLUMNS))
        eq = mk.equities
        table = _news_table(mk)
        rows = np.flatnonzero(
            (eq.index >= pd.Timestamp(start, tz="UTC")) & (eq.index <= pd.Timestamp(end, tz="UTC"))
        )
        # Row-major over (session, requested symbol): the order articles are listed in.
        rr, kk = np.nonzero(table.has[rows[:, None], cols[None, :]])
        if not len(rr):
            return pd.DataFrame([], columns=list(NEWS_COLUMNS))
        r, j = rows[rr], cols[kk]
        n_titles = table.titles.shape[1]
        return pd.DataFrame(
            {
                "date": eq.index[r],
                "symbol": _text(table.tickers, j),
                "sentiment": table.sentiment[r, j],
                "relevance": table.relevance[r, j],
                "title": _text(table.titles.ravel(), j * n_titles + table.phrase[r, j]),
                "url": _text(np.array([""], dtype=object), np.zeros(len(r), dtype=np.int64)),
                "source": _text(np.array([self.label], dtype=object), np.zeros(len(r), np.int64)),
            },
            columns=list(NEWS_COLUMNS),
        )

    def earnings(self, symbols: Sequence[str], start: dt.date, end: dt.date) -> pd.DataFrame:
        """Quarterly report dates; dates after the as-of are the announced upcoming ones."""
        start, end = as_date(start), as_date(end)
        mk = self.market(end)
        pos = {s: j for j, s in enumerate(_tickers())}
        cols = np.array([pos[s] for s in symbols if s in pos], dtype=np.int64)
        if not len(cols):  # no stock asked for: the equities stay ungenerated
            return pd.DataFrame([], columns=list(EARNINGS_COLUMNS))
        idx = mk.equities.index
        rows = np.flatnonzero(
            (idx >= pd.Timestamp(start, tz="UTC")) & (idx <= pd.Timestamp(end, tz="UTC"))
        )
        rr, kk = np.nonzero(mk.earnings[rows[:, None], cols[None, :]])
        if not len(rr):
            return pd.DataFrame([], columns=list(EARNINGS_COLUMNS))
        tickers = np.array(mk.universe.tickers, dtype=object)
        df = pd.DataFrame({"symbol": tickers[cols[kk]], "date": idx[rows[rr]]})
        return df.sort_values(["date", "symbol"], ignore_index=True)

    def options_flow(self, start: dt.date, end: dt.date) -> pd.DataFrame:
        """Unusual options alerts (a few per session), leaning with the session's move."""
        start, end = as_date(start), as_date(end)
        mk = self.market(end)
        eq = mk.equities
        n = len(mk.universe.tickers)
        caps = eq.close[:, :n] * mk.universe.shares
        idx = eq.index
        rows = np.flatnonzero(
            (idx >= pd.Timestamp(start, tz="UTC")) & (idx <= pd.Timestamp(end, tz="UTC"))
        )
        epoch = pd.Timestamp(EPOCH, tz="UTC")
        out = []
        for r in rows:
            rng = _rng(self.seed, 40, int((idx[r] - epoch).days))
            k = int(rng.poisson(4))
            w = np.nan_to_num(caps[r]) ** 0.5
            picks = rng.choice(n, size=k, p=w / w.sum())
            for j in picks:
                c0 = eq.close[r - 1, j] if r else np.nan
                move = (
                    0.0
                    if np.isnan(c0) or np.isnan(eq.close[r, j])
                    else np.log(eq.close[r, j] / c0) / mk.sigma[r, j]
                )
                call = rng.random() < 0.5 + 0.35 * np.tanh(move)
                vol = int(rng.integers(500, 20000))
                out.append(
                    (
                        idx[r] + pd.Timedelta(hours=19, minutes=int(rng.integers(0, 59))),
                        mk.universe.tickers[j],
                        "call" if call else "put",
                        float(np.round(np.exp(rng.normal(np.log(4e5), 0.9)), -2)),
                        vol,
                        int(vol * rng.uniform(0.1, 0.9)),
                        _FLOW_RULES[int(rng.integers(0, len(_FLOW_RULES)))],
                    )
                )
        return pd.DataFrame(out, columns=list(FLOW_COLUMNS))


def _part(mk: Market, asset_class: AssetClass) -> Bars:
    return mk.equities if asset_class is AssetClass.EQUITY else mk.crypto


def _last_valid(col: np.ndarray) -> float | None:
    ok = np.flatnonzero(~np.isnan(col))
    return None if not len(ok) else float(col[ok[-1]])
