"""Build the recorded history: page flow alerts back in time, store each alert once.

``GET /api/option-trades/flow-alerts`` answers newest first, at most ``limit`` alerts per call.
A sync asks for everything newer than ``newer_than`` (the last stored alert, less an overlap,
or ``--since``), then pages back with ``older_than`` set just past the oldest alert of the last
page, until a short page, a page that reaches ``newer_than``, a page that does not move back,
the page budget, or the day's quota ends it. Pages overlap on purpose (equal timestamps must not
be skipped); the store keeps each alert id once, so overlaps and reruns add nothing twice. More
alerts at one instant than fit a page cannot all be reached (the API has no offset): paging
steps past that instant and the report says so.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import attrs

from tsys.api import OptionAlert, OptionAlerts, at_least, non_empty
from tsys_data_unusualwhales.client import QuotaExhausted, UnusualWhalesClient, UnusualWhalesError
from tsys_data_unusualwhales.normalize import MalformedAlert, SessionCalendar, normalize

log = logging.getLogger(__name__)

FLOW_ALERTS = "/api/option-trades/flow-alerts"
SOURCE = "unusualwhales"
#: A daily sync re-asks this much before the newest stored alert (late or equal-time alerts).
OVERLAP = dt.timedelta(minutes=10)


_NAMES = attrs.validators.deep_iterable(member_validator=non_empty())


def _optional_limit() -> Any:
    return attrs.field(default=None, validator=at_least(0))


def _names() -> Any:
    return attrs.field(default=(), converter=tuple, validator=_NAMES)


@attrs.frozen
class FlowFilters:
    """The flow-alert filters sent with every request (None / True: the API's default); the
    ``[data.options.unusualwhales]`` options extend them."""

    min_premium: int | None = _optional_limit()
    max_premium: int | None = _optional_limit()
    min_dte: int | None = _optional_limit()
    max_dte: int | None = _optional_limit()
    min_volume_oi_ratio: float | None = _optional_limit()
    min_marketcap: int | None = _optional_limit()
    max_marketcap: int | None = _optional_limit()
    calls: bool = True
    puts: bool = True
    ask_side: bool = True
    bid_side: bool = True
    sweeps: bool = True
    floors: bool = True
    opening_only: bool = False
    rule_names: tuple[str, ...] = _names()
    issue_types: tuple[str, ...] = _names()
    tickers: tuple[str, ...] = _names()

    def params(self) -> list[tuple[str, Any]]:
        """Query parameters (a list: array filters repeat their key, ``rule_name[]=...``)."""
        out: list[tuple[str, Any]] = []
        for name in (
            "min_premium",
            "max_premium",
            "min_dte",
            "max_dte",
            "min_volume_oi_ratio",
            "min_marketcap",
            "max_marketcap",
        ):
            value = getattr(self, name)
            if value is not None:
                out.append((name, value))
        for attr, key in (
            ("calls", "is_call"),
            ("puts", "is_put"),
            ("ask_side", "is_ask_side"),
            ("bid_side", "is_bid_side"),
            ("sweeps", "is_sweep"),
            ("floors", "is_floor"),
        ):
            if not getattr(self, attr):
                out.append((key, "false"))
        if self.opening_only:
            out.append(("all_opening", "true"))
        out += [("rule_name[]", r) for r in self.rule_names]
        out += [("issue_types[]", t) for t in self.issue_types]
        if self.tickers:
            out.append(("ticker_symbol", ",".join(self.tickers)))
        return out


@attrs.define
class SyncReport:
    """What one sync did."""

    newer_than: dt.datetime
    pages: int = 0
    calls: int = 0
    received: int = 0
    stored: int = 0
    malformed: int = 0
    problems: list[str] = attrs.field(factory=list)
    oldest: dt.datetime | None = None
    newest: dt.datetime | None = None
    stopped: str = ""

    @property
    def duplicates(self) -> int:
        return self.received - self.malformed - self.stored

    def as_dict(self) -> dict[str, Any]:
        iso = lambda t: None if t is None else t.isoformat()  # noqa: E731
        return {
            "newer_than": iso(self.newer_than),
            "pages": self.pages,
            "calls": self.calls,
            "received": self.received,
            "stored": self.stored,
            "duplicates": self.duplicates,
            "malformed": self.malformed,
            "problems": self.problems[:10],
            "oldest": iso(self.oldest),
            "newest": iso(self.newest),
            "stopped": self.stopped,
        }


def normalize_all(
    items: Iterable[Any], *, source: str, calendar: SessionCalendar, report: Any
) -> list[OptionAlert]:
    """The alerts that normalise; each malformed one is counted and its reason kept."""
    out = []
    for item in items:
        try:
            out.append(normalize(item, source=source, calendar=calendar))
        except MalformedAlert as exc:
            report.malformed += 1
            if len(report.problems) < 20:
                report.problems.append(str(exc))
    return out


def sync_alerts(
    client: UnusualWhalesClient,
    alerts: OptionAlerts,
    filters: FlowFilters,
    *,
    since: dt.datetime | None = None,
    backfill: dt.timedelta = dt.timedelta(days=30),
    limit: int = 200,
    max_pages: int = 50,
    now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    progress: Callable[[SyncReport], None] | None = None,
) -> SyncReport:
    """Fetch and store the alerts newer than ``since`` (default: the newest stored alert less
    :data:`OVERLAP`, or ``backfill`` before now for an empty history)."""
    if since is None:
        last = alerts.latest(SOURCE)
        since = last - OVERLAP if last is not None else now() - backfill
    report = SyncReport(newer_than=since)
    calendar = SessionCalendar()
    newer = int(since.timestamp())
    older_ms: int | None = None
    calls0 = client.calls
    try:
        while True:
            if report.pages >= max_pages:
                report.stopped = f"page budget ({max_pages}) reached; run again to go further"
                break
            params: Sequence[tuple[str, Any]] = [
                *filters.params(),
                ("limit", limit),
                ("newer_than", newer),
            ]
            if older_ms is not None:
                params = [*params, ("older_than", older_ms)]
            page = client.get_json(FLOW_ALERTS, params)
            report.pages += 1
            if not isinstance(page, list):
                raise UnusualWhalesError(
                    f"Unusual Whales {FLOW_ALERTS} sent {type(page).__name__} instead of a list"
                )
            report.received += len(page)
            got = normalize_all(page, source=SOURCE, calendar=calendar, report=report)
            report.stored += alerts.add(got)
            if got:
                lo = min(a.created_at for a in got)
                hi = max(a.created_at for a in got)
                report.oldest = lo if report.oldest is None else min(report.oldest, lo)
                report.newest = hi if report.newest is None else max(report.newest, hi)
            if progress is not None:
                progress(report)
            if len(page) < limit:
                report.stopped = "reached the start of the window"
                break
            if not got:
                report.stopped = "a full page held no readable alert; stopped paging"
                break
            oldest = min(a.created_at for a in got)
            step = int(oldest.timestamp() * 1000) + 1
            if older_ms is not None and step >= older_ms:
                # A whole page at one instant: step past it (the API has no offset), say so.
                report.problems.append(
                    f"more than {limit} alerts at {oldest.isoformat()}; some of them may be "
                    "missing (raise limit)"
                )
                step = older_ms - 2
            if step / 1000 <= newer:
                report.stopped = "reached the start of the window"
                break
            older_ms = step
    except QuotaExhausted as exc:
        report.stopped = exc.message
    finally:
        report.calls = client.calls - calls0
    log.info("unusualwhales sync: %s", report.as_dict())
    return report
