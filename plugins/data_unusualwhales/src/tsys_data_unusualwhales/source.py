"""The ``unusualwhales`` data source: options-flow alerts from the recorded history, and float.

``options_flow`` reads the alerts recorded in the tsys store (``tsys options sync`` fetches
them, ``tsys options import`` loads exports). In a daily run (the context has an as-of) asking
for recent alerts, with a token in ``UNUSUAL_WHALES_API_TOKEN`` and ``auto_sync`` on, it syncs
first, once per process, so a scheduled daily run keeps the history growing. Backtests open
this source too (``recorded``) and read the history without syncing. ``fundamentals`` answers
the share float (``/api/shorts/{ticker}/interest-float/v2``), cached for ``float_max_age_days``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar, Self

import attrs
import pandas as pd

from tsys.api import (
    FLOW_COLUMNS,
    DataError,
    DataSource,
    Fundamentals,
    JsonCache,
    OptionAlerts,
    SourceContext,
    above,
    at_least,
    between,
    http_url,
    open_workspace_store,
    secret_field,
)
from tsys_data_unusualwhales.client import (
    BASE_URL,
    TOKEN_ENV,
    UnusualWhalesClient,
    UnusualWhalesError,
)
from tsys_data_unusualwhales.sync import FlowFilters, SyncReport, sync_alerts

#: Columns ``options_flow`` returns beyond :data:`FLOW_COLUMNS`.
EXTRA_COLUMNS = (
    "session",
    "side",
    "sweep",
    "floor",
    "opening",
    "dte",
    "expiry",
    "strike",
    "otm_pct",
    "volume_oi_ratio",
    "underlying_price",
    "issue_type",
    "nonstandard",
    "alert_id",
)
#: A request whose end is this close to today counts as current (a daily run): sync first.
CURRENT = dt.timedelta(days=5)


@attrs.frozen
class UnusualWhalesOptions(FlowFilters):
    """``[data.options.unusualwhales]``: the flow filters (:class:`FlowFilters`, sent with every
    request) and these; the token comes from UNUSUAL_WHALES_API_TOKEN only."""

    base_url: str = attrs.field(default=BASE_URL, validator=http_url())
    timeout: float = attrs.field(default=20.0, validator=above(0))
    max_retries: int = attrs.field(default=3, validator=at_least(0))
    backoff_seconds: float = attrs.field(default=2.0, validator=at_least(0))
    max_backoff_seconds: float = attrs.field(default=60.0, validator=at_least(0))
    #: Sync before answering a current request (a daily run), once per process.
    auto_sync: bool = True
    #: Alerts per request (the spec's maximum is 200).
    limit: int = attrs.field(default=200, validator=between(1, 500))
    #: Requests one sync may spend at most.
    max_pages: int = attrs.field(default=50, validator=at_least(1))
    #: How far back a first sync reaches (the plan may allow less).
    backfill_days: int = attrs.field(default=30, validator=at_least(1))
    #: Days a share-float answer is reused.
    float_max_age_days: int = attrs.field(default=7, validator=at_least(0))
    #: Float look-ups one call may make (each is a request against the quota).
    float_max_symbols: int = attrs.field(default=50, validator=at_least(0))
    token: str | None = secret_field(TOKEN_ENV)


class UnusualWhalesSource(DataSource):
    """Options-flow alerts (recorded) and share float from Unusual Whales."""

    name: ClassVar[str] = "unusualwhales"
    provides: ClassVar[frozenset[str]] = frozenset({"options_flow", "fundamentals"})
    options_class: ClassVar[type] = UnusualWhalesOptions
    #: Backtests read the recorded alerts too (they never sync: only a daily run does).
    recorded: ClassVar[bool] = True

    def __init__(self, options: UnusualWhalesOptions, ctx: SourceContext) -> None:
        self.options = options
        self.ctx = ctx
        self.cache = JsonCache(Path(ctx.cache_dir))
        self._client: UnusualWhalesClient | None = None
        self._synced: SyncReport | None = None
        #: The clock (UTC); tests replace it.
        self.now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)
        self.sleep: Callable[[float], None] | None = None

    @classmethod
    def from_config(cls, options: dict[str, Any], ctx: SourceContext) -> Self:
        return cls(cls.options_from(options), ctx)

    def __repr__(self) -> str:
        return f"UnusualWhalesSource(base_url={self.options.base_url!r})"

    # ------------------------------------------------------------------ plumbing
    @property
    def client(self) -> UnusualWhalesClient:
        """The HTTP client (a DataError naming the variable when no token is set)."""
        if self._client is None:
            o = self.options
            kwargs: dict[str, Any] = {}
            if self.sleep is not None:
                kwargs["sleep"] = self.sleep
            self._client = UnusualWhalesClient(
                token=o.token or "",
                base_url=o.base_url,
                timeout=o.timeout,
                max_retries=o.max_retries,
                backoff_seconds=o.backoff_seconds,
                max_backoff_seconds=o.max_backoff_seconds,
                **kwargs,
            )
        return self._client

    def open_store(self) -> Any:
        """The configuration's real store (``TSYS_DATABASE_URL`` or ``<data dir>/tsys.db``),
        never the demo sandbox: recorded alerts are real data. The caller closes it."""
        if self.ctx.config is None:
            raise DataError(
                "unusualwhales: no configuration, so no store to keep alerts in",
                hint="open the source through tsys (open_source / a data hub)",
            )
        return open_workspace_store(self.ctx.config, demo=False)

    def _demo_run(self) -> bool:
        """True when the run's bars come from the synthetic demo market: real alerts do not
        belong there (the demo market has its own synthetic flow)."""
        config = self.ctx.config
        if config is None:
            return False
        try:
            Path(self.ctx.cache_dir).resolve().relative_to(
                (Path(config.data_path) / "demo").resolve()
            )
        except ValueError:
            return False
        return True

    # ------------------------------------------------------------------ sync
    def sync(
        self,
        *,
        since: dt.datetime | None = None,
        max_pages: int | None = None,
        progress: Callable[[SyncReport], None] | None = None,
    ) -> SyncReport:
        """Fetch the alerts newer than the history (or ``since``) into the store."""
        o = self.options
        with self.open_store() as store:
            return sync_alerts(
                self.client,
                OptionAlerts(store),
                o,
                since=since,
                backfill=dt.timedelta(days=o.backfill_days),
                limit=o.limit,
                max_pages=max_pages or o.max_pages,
                now=self.now,
                progress=progress,
            )

    def _auto_sync(self, end: dt.date) -> None:
        if self._synced is not None or not self.options.auto_sync or not self.options.token:
            return
        if self.ctx.as_of is None:  # not a daily run: a backtest reads what is recorded
            return
        if self.now().date() - end > CURRENT:
            return
        try:
            self._synced = self.sync()
        except DataError as exc:
            self._synced = SyncReport(newer_than=self.now())
            self.ctx.warn(
                f"unusualwhales: sync failed ({exc.message}); using the recorded alerts only"
            )
            return
        r = self._synced
        if r.stopped and "start of the window" not in r.stopped:
            self.ctx.warn(f"unusualwhales: sync stopped early: {r.stopped}")

    # ------------------------------------------------------------------ capabilities
    def options_flow(self, start: dt.date, end: dt.date) -> pd.DataFrame | None:
        """Recorded alerts whose session is in ``start..end``: :data:`FLOW_COLUMNS` plus
        :data:`EXTRA_COLUMNS`. None when nothing is recorded at all (or in a demo run), so
        another source may answer."""
        if self._demo_run():
            return None
        self._auto_sync(end)
        with self.open_store() as store:
            repo = OptionAlerts(store)
            if repo.span().count == 0:
                self.ctx.warn(
                    "unusualwhales: no alerts recorded yet (run `tsys options sync` or "
                    "`tsys options import FILE`)"
                )
                return None
            rows = repo.between(start, end)
        return alerts_frame(rows)

    def fundamentals(self, symbols: Sequence[str]) -> dict[str, Fundamentals] | None:
        """The share float of each symbol (``total_float``), from interest-float/v2."""
        if not self.options.token or self.options.float_max_symbols == 0:
            return None
        now = self.now()
        max_age = dt.timedelta(days=self.options.float_max_age_days)
        out: dict[str, Fundamentals] = {}
        fetched = 0
        skipped = []
        for sym in dict.fromkeys(s.strip().upper() for s in symbols if s.strip()):
            entry = self.cache.read("float", sym)
            if entry is not None and now - entry["fetched_at"] < max_age:
                raw = entry["payload"]
            elif fetched >= self.options.float_max_symbols:
                skipped.append(sym)
                continue
            else:
                fetched += 1
                try:
                    raw = self.client.get_json(f"/api/shorts/{sym}/interest-float/v2")
                except UnusualWhalesError as exc:
                    if "refused the token" in exc.message:
                        raise
                    self.ctx.warn(f"unusualwhales: no float for {sym} ({exc.message})")
                    continue
                if not isinstance(raw, dict):
                    self.ctx.warn(f"unusualwhales: unexpected float answer for {sym}")
                    continue
                self.cache.write(raw, "float", sym, fetched_at=now)
            shares = _float(raw.get("total_float"))
            if shares is not None:
                out[sym] = Fundamentals(symbol=sym, shares_float=shares)
        if skipped:
            self.ctx.warn(
                f"unusualwhales: float of {len(skipped)} symbol(s) not fetched "
                f"(float_max_symbols = {self.options.float_max_symbols})"
            )
        return out


def _float(value: Any) -> float | None:
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return x if x > 0 else None


def alerts_frame(rows: Sequence[Any]) -> pd.DataFrame:
    """Recorded alerts as the flow frame buckets read (times aware UTC, oldest first)."""
    cols = [*FLOW_COLUMNS, *EXTRA_COLUMNS]
    if not rows:
        return pd.DataFrame([], columns=cols)
    df = pd.DataFrame(
        {
            "timestamp": pd.to_datetime([a.created_at for a in rows], utc=True),
            "symbol": [a.symbol for a in rows],
            "option_type": [a.option_type for a in rows],
            "premium": [a.premium for a in rows],
            "volume": [a.volume for a in rows],
            "open_interest": [a.open_interest for a in rows],
            "rule": [a.rule for a in rows],
            "session": pd.to_datetime([a.session_date for a in rows]),
            "side": [a.side for a in rows],
            "sweep": [a.sweep for a in rows],
            "floor": [a.floor for a in rows],
            "opening": [a.opening for a in rows],
            "dte": [a.dte for a in rows],
            "expiry": [a.expiry for a in rows],
            "strike": [a.strike for a in rows],
            "otm_pct": [a.otm_pct for a in rows],
            "volume_oi_ratio": [a.volume_oi_ratio for a in rows],
            "underlying_price": [a.underlying_price for a in rows],
            "issue_type": [a.issue_type for a in rows],
            "nonstandard": [a.nonstandard for a in rows],
            "alert_id": [a.alert_id for a in rows],
        }
    )
    return df[cols]
