"""The ``alphavantage`` data source: news sentiment, earnings calendar, company overview."""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
from collections.abc import Sequence
from typing import Any, ClassVar, Self

import attrs
import pandas as pd

from tsys.api import (
    EARNINGS_COLUMNS,
    NEWS_COLUMNS,
    ApiSource,
    DataError,
    Fundamentals,
    JsonCache,
    SourceContext,
    above,
    at_least,
    between,
    http_url,
    one_of,
    secret_field,
)
from tsys_data_alphavantage.client import (
    DEFAULT_BASE_URL,
    EMPTY,
    AlphaVantageClient,
    AlphaVantageError,
    BadKey,
    CallBudget,
)

_HORIZONS = ("3month", "6month", "12month")


@attrs.frozen
class AlphaVantageOptions:
    """``[data.options.alphavantage]``; the key comes from ALPHAVANTAGE_API_KEY only."""

    base_url: str = attrs.field(default=DEFAULT_BASE_URL, validator=http_url())
    timeout: float = attrs.field(default=20.0, validator=above(0))
    calls_per_minute: int = attrs.field(default=5, validator=at_least(1))
    daily_budget: int = attrs.field(default=25, validator=at_least(0))
    max_wait_seconds: float = attrs.field(default=90.0, validator=at_least(0))
    burst_retry_wait: float = attrs.field(default=2.0, validator=at_least(0))
    news_limit: int = attrs.field(default=1000, validator=between(1, 1000))
    horizon: str = attrs.field(default="3month", validator=one_of(*_HORIZONS))
    overview_max_age_days: int = attrs.field(default=7, validator=at_least(1))
    block_below: float = attrs.field(default=-0.5, validator=between(-1, 1))
    block_lookback_days: int = attrs.field(default=3, validator=at_least(1))
    api_key: str | None = secret_field("ALPHAVANTAGE_API_KEY")


_MISSING = {"", "none", "-", "null", "n/a", "nan"}


def parse_text(value: Any) -> str | None:
    """Alpha Vantage text field: ``"None"``, ``"-"`` and empty mean unknown."""
    if value is None:
        return None
    text = str(value).strip()
    return None if text.lower() in _MISSING else text


def parse_positive(value: Any) -> float | None:
    """A count or amount that must be positive; ``"0"`` is how Alpha Vantage says unknown."""
    text = parse_text(value)
    if text is None:
        return None
    try:
        number = float(text.replace(",", ""))
    except ValueError:
        return None
    if not math.isfinite(number) or number <= 0:
        return None
    return number


def _parse_time(value: Any) -> dt.datetime | None:
    for fmt in ("%Y%m%dT%H%M%S", "%Y%m%dT%H%M"):
        try:
            return dt.datetime.strptime(str(value), fmt).replace(tzinfo=dt.UTC)
        except ValueError:
            continue
    return None


def _score(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


class AlphaVantageSource(ApiSource):
    """News sentiment, earnings dates and fundamentals from Alpha Vantage, cached on disk.

    Cache layout under ``<cache>/alphavantage`` (each name slugged and hashed by
    :class:`~tsys.api.JsonCache`): ``news/<SYMBOL>/<YYYY-MM-DD>`` (one per symbol and day; a
    past day is final, today's is refreshed the next day), ``overview/<SYMBOL>`` (refreshed
    after ``overview_max_age_days``), ``earnings/calendar-<horizon>`` (refreshed daily) and
    ``calls.json`` (the call budget).
    """

    name: ClassVar[str] = "alphavantage"
    provides: ClassVar[frozenset[str]] = frozenset({"news", "earnings", "fundamentals"})
    options_class: ClassVar[type] = AlphaVantageOptions
    client: AlphaVantageClient
    options: AlphaVantageOptions

    # ------------------------------------------------------------------------------ building
    @classmethod
    def from_config(cls, options: dict[str, Any], ctx: SourceContext) -> Self:
        """Build from ``[data.options.alphavantage]``; the key comes from ALPHAVANTAGE_API_KEY."""
        opts = cls.options_from(options)
        root = cls.cache_folder(ctx)
        budget = CallBudget(
            root / "calls.json",
            calls_per_minute=opts.calls_per_minute,
            daily_budget=opts.daily_budget,
            max_wait_seconds=opts.max_wait_seconds,
        )
        client = AlphaVantageClient(
            api_key=opts.api_key,
            budget=budget,
            base_url=opts.base_url,
            timeout=opts.timeout,
            burst_retry_wait=opts.burst_retry_wait,
        )
        source = cls(client, JsonCache(root), ctx, opts)
        # The budget's day and minute follow the source's clock, so one "now" rules both.
        budget.clock = lambda: source.now().timestamp()
        return source

    # ---------------------------------------------------------------------------------- news
    def news(self, symbols: Sequence[str], start: dt.date, end: dt.date) -> pd.DataFrame:
        """One row per article and symbol: :data:`~tsys.data.source.NEWS_COLUMNS`.

        ``sentiment`` is Alpha Vantage's ``ticker_sentiment_score`` for that symbol (-1..1),
        ``relevance`` its ``relevance_score`` (0..1). Days already cached make no call; one
        call per symbol covers all of its missing days. A symbol that fails is reported in the
        run's warnings; when every symbol fails and nothing is cached, DataError is raised.
        """
        today = self.today()
        end = min(end, today)
        wanted = list(dict.fromkeys(s.strip().upper() for s in symbols if s.strip()))
        rows: list[dict[str, Any]] = []
        failures: dict[str, DataError] = {}
        for sym in wanted if start <= end else []:
            try:
                rows.extend(self._news_for(sym, start, end, today))
            except BadKey:
                raise
            except DataError as exc:
                failures[sym] = exc
        self._report_failures("news", wanted, failures)
        return _news_frame(rows)

    def _news_for(
        self, sym: str, start: dt.date, end: dt.date, today: dt.date
    ) -> list[dict[str, Any]]:
        days = [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]
        entries = {d: self.cache.read("news", sym, d.isoformat()) for d in days}
        fresh = {
            d: e
            for d, e in entries.items()
            if e is not None
            and (e["payload"].get("complete") or e["fetched_at"].astimezone(dt.UTC).date() == today)
        }
        missing = [d for d in days if d not in fresh]
        by_day: dict[dt.date, list[dict[str, Any]]] = {
            d: list(e["payload"].get("rows", [])) for d, e in fresh.items()
        }
        if missing:
            lo, hi = missing[0], missing[-1]
            limit = self.options.news_limit
            try:
                data = self.client.query(
                    "NEWS_SENTIMENT",
                    {
                        "tickers": sym,
                        "time_from": lo.strftime("%Y%m%dT0000"),
                        "time_to": hi.strftime("%Y%m%dT2359"),
                        "sort": "LATEST",
                        "limit": str(limit),
                    },
                )
            except BadKey:
                raise
            except AlphaVantageError as exc:
                stale = {d: e for d, e in entries.items() if e is not None and d in missing}
                if not stale and not fresh:
                    raise
                for d, e in stale.items():
                    by_day[d] = list(e["payload"].get("rows", []))
                when = sorted({e["fetched_at"].date().isoformat() for e in stale.values()})
                self.ctx.warn(
                    f"alphavantage: news for {sym} could not be refreshed ({exc.message}); "
                    + (
                        f"using cached news fetched {', '.join(when)}"
                        if stale
                        else f"{len(missing)} day(s) from {lo} to {hi} have no news"
                    )
                )
            else:
                fetched_at = self.now()
                new, oldest, truncated = self._parse_feed(sym, data, lo, hi, limit)
                for d in missing:
                    if truncated and oldest is not None and d <= oldest:
                        by_day[d] = new.get(d, [])  # partial: shown, never cached as final
                        continue
                    by_day[d] = new.get(d, [])
                    self.cache.write(
                        {"complete": d < fetched_at.date(), "rows": by_day[d]},
                        "news",
                        sym,
                        d.isoformat(),
                        fetched_at=fetched_at,
                    )
                if truncated:
                    self.ctx.warn(
                        f"alphavantage: news for {sym} hit the limit of {limit} articles; "
                        f"days up to {oldest} may be incomplete"
                    )
        out = []
        for d in sorted(by_day):
            for row in by_day[d]:
                out.append({"date": d, "symbol": sym, **row})
        return out

    def _parse_feed(
        self, sym: str, data: Any, lo: dt.date, hi: dt.date, limit: int
    ) -> tuple[dict[dt.date, list[dict[str, Any]]], dt.date | None, bool]:
        if data is EMPTY:
            return {}, None, False
        feed = data.get("feed") if isinstance(data, dict) else None
        if not isinstance(feed, list):
            raise AlphaVantageError(
                f"Alpha Vantage NEWS_SENTIMENT for {sym} sent an unexpected shape (no 'feed' list)",
                hint="the API may have changed; please report it",
            )
        out: dict[dt.date, list[dict[str, Any]]] = {}
        skipped = 0
        oldest: dt.date | None = None
        for item in feed:
            when = _parse_time(item.get("time_published")) if isinstance(item, dict) else None
            if when is None:
                skipped += 1
                continue
            day = when.date()
            oldest = day if oldest is None else min(oldest, day)
            ts = item.get("ticker_sentiment")
            match = next(
                (
                    t
                    for t in ts or []
                    if isinstance(t, dict) and str(t.get("ticker")).upper() == sym
                ),
                None,
            )
            if match is None:
                continue  # the article is about other tickers only
            score = _score(match.get("ticker_sentiment_score"))
            if score is None or not -1.0 <= score <= 1.0:
                skipped += 1
                continue
            if not lo <= day <= hi:
                continue
            rel = _score(match.get("relevance_score"))
            out.setdefault(day, []).append(
                {
                    "time": when.isoformat(),
                    "sentiment": score,
                    "relevance": rel,
                    "title": parse_text(item.get("title")) or "",
                    "url": parse_text(item.get("url")) or "",
                    "source": parse_text(item.get("source")) or "",
                }
            )
        if skipped:
            self.ctx.warn(
                f"alphavantage: skipped {skipped} news article(s) for {sym} with an unreadable "
                "time or sentiment score"
            )
        for rows in out.values():
            rows.sort(key=lambda r: r["time"])
        return out, oldest, len(feed) >= limit

    # ------------------------------------------------------------------------------ earnings
    def earnings(self, symbols: Sequence[str], start: dt.date, end: dt.date) -> pd.DataFrame:
        """Upcoming report dates from EARNINGS_CALENDAR (one call a day covers every symbol)."""
        horizon = self.options.horizon
        today = self.today()
        rows = self.daily_payload(
            ("earnings", f"calendar-{horizon}"),
            lambda: _parse_calendar(
                self.client.query("EARNINGS_CALENDAR", {"horizon": horizon}, csv=True)
            ),
            what="earnings calendar",
            reraise=(BadKey,),
        )
        months = int(horizon.removesuffix("month"))
        if end > today + dt.timedelta(days=30 * months):
            self.ctx.warn(
                f"alphavantage: the earnings calendar covers about {months} months ahead; "
                f"report dates after that are unknown"
            )
        wanted = {s.strip().upper() for s in symbols}
        out = [
            {"symbol": r["symbol"], "date": pd.Timestamp(r["date"])}
            for r in rows
            if r["symbol"] in wanted and start <= dt.date.fromisoformat(r["date"]) <= end
        ]
        frame = pd.DataFrame(out, columns=list(EARNINGS_COLUMNS))
        frame["date"] = pd.to_datetime(frame["date"])
        return frame.sort_values(["date", "symbol"], ignore_index=True)

    # -------------------------------------------------------------------------- fundamentals
    def fundamentals(self, symbols: Sequence[str]) -> dict[str, Fundamentals]:
        """Name, sector, shares outstanding and float, market cap from OVERVIEW (weekly cache)."""
        now = self.now()
        max_age = dt.timedelta(days=self.options.overview_max_age_days)
        wanted = list(dict.fromkeys(s.strip().upper() for s in symbols if s.strip()))
        out: dict[str, Fundamentals] = {}
        failures: dict[str, DataError] = {}
        for sym in wanted:
            entry = self.cache.read("overview", sym)
            if entry is not None and now - entry["fetched_at"] < max_age:
                raw = entry["payload"]
            else:
                try:
                    data = self.client.query("OVERVIEW", {"symbol": sym})
                    if not isinstance(data, dict):
                        raise AlphaVantageError(
                            f"Alpha Vantage OVERVIEW for {sym} sent an unexpected shape "
                            f"({type(data).__name__} instead of an object)"
                        )
                except BadKey:
                    raise
                except DataError as exc:
                    if entry is None:
                        failures[sym] = exc
                        continue
                    self.ctx.warn(
                        f"alphavantage: overview of {sym} could not be refreshed "
                        f"({exc.message}); using the one fetched {entry['fetched_at'].date()}"
                    )
                    raw = entry["payload"]
                else:
                    raw = {k: data.get(k) for k in _OVERVIEW_KEYS if k in data}
                    self.cache.write(raw, "overview", sym, fetched_at=now)
            if not raw:
                self.ctx.warn(f"alphavantage: no company overview for {sym} (unknown or an ETF)")
            out[sym] = _fundamentals(sym, raw)
        self._report_failures("company overviews", wanted, failures)
        return out

    # ------------------------------------------------------------------------------ blockers
    def news_blockers(self, symbols: Sequence[str], as_of: dt.date) -> dict[str, str]:
        """Symbols with strongly negative recent news, using ``block_below``/``block_lookback_days``."""
        from tsys_data_alphavantage.blockers import negative_news_blockers

        lookback = self.options.block_lookback_days
        frame = self.news(symbols, as_of - dt.timedelta(days=lookback - 1), as_of)
        return negative_news_blockers(frame, as_of, lookback, self.options.block_below)

    def _report_failures(
        self, what: str, wanted: list[str], failures: dict[str, DataError]
    ) -> None:
        if not failures:
            return
        first = next(iter(failures.values()))
        if len(wanted) == 1:
            raise first
        if len(failures) == len(wanted):
            raise DataError(
                f"alphavantage: no {what} for {', '.join(failures)}: {first.message}",
                hint=first.hint,
            )
        for sym, exc in failures.items():
            self.ctx.warn(f"alphavantage: no {what} for {sym}: {exc.message}")


_OVERVIEW_KEYS = (
    "Symbol",
    "Name",
    "AssetType",
    "Exchange",
    "Sector",
    "Industry",
    "MarketCapitalization",
    "SharesOutstanding",
    "SharesFloat",
)


def _fundamentals(sym: str, raw: dict[str, Any]) -> Fundamentals:
    sector = parse_text(raw.get("Sector"))
    return Fundamentals(
        symbol=sym,
        name=parse_text(raw.get("Name")),
        # Alpha Vantage sends sectors UPPER-CASE ("TECHNOLOGY"); show them as words.
        sector=sector.title() if sector is not None else None,
        shares_outstanding=parse_positive(raw.get("SharesOutstanding")),
        shares_float=parse_positive(raw.get("SharesFloat")),
        market_cap=parse_positive(raw.get("MarketCapitalization")),
    )


def _parse_calendar(text: str) -> list[dict[str, Any]]:
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    fields = set(reader.fieldnames or [])
    if not {"symbol", "reportDate"} <= fields:
        raise AlphaVantageError(
            "Alpha Vantage EARNINGS_CALENDAR sent CSV without the expected 'symbol' and "
            f"'reportDate' columns (got {sorted(fields)})",
            hint="the API may have changed; please report it",
        )
    rows = []
    for rec in reader:
        sym = parse_text(rec.get("symbol"))
        try:
            day = dt.date.fromisoformat(str(rec.get("reportDate")).strip())
        except ValueError:
            continue
        if sym is None:
            continue
        rows.append(
            {
                "symbol": sym.upper(),
                "date": day.isoformat(),
                "time_of_day": parse_text(rec.get("timeOfTheDay")),
            }
        )
    return rows


def _news_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=[*NEWS_COLUMNS, "time"])
    frame["date"] = pd.to_datetime(frame["date"])
    frame["sentiment"] = frame["sentiment"].astype("float64")
    frame["relevance"] = frame["relevance"].astype("float64")
    frame = frame.sort_values(["date", "symbol", "time"], ignore_index=True)
    return frame[list(NEWS_COLUMNS)]
