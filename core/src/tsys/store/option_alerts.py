"""The recorded history of unusual options-flow alerts (``store.option_alerts``).

No public history of alerts exists, so a data plugin records every alert it fetches (or imports)
here, once per ``alert_id``, and backtests read them back. Rows speak :class:`OptionAlert`;
timestamps are aware UTC outside the store and naive UTC inside (as everywhere in the store).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import attrs
import peewee as pw

from tsys.store._model_base import model_base, model_namespace
from tsys.store._time import from_db, to_db

if TYPE_CHECKING:
    from tsys.store import Store

#: Rows written per INSERT statement (SQLite caps the variables of one statement).
_CHUNK = 25


@attrs.frozen
class OptionAlert:
    """One unusual options-flow alert, normalised.

    ``created_at`` is when the vendor raised the alert (aware UTC); ``session_date`` the
    exchange session it belongs to: the session of its New York date (after-hours alerts
    included), or the next session for an alert on a weekend or holiday (a bucket acts at the
    open after that session's close). Money and prices are plain floats (vendors send decimal strings);
    ``side`` is "ask", "bid" or "mixed" (where most of the premium traded); ``otm_pct`` the
    strike's distance from the underlying price, positive when out of the money.
    ``nonstandard`` flags an adjusted or unusual option root (``AAPL1``) whose contract may
    not be 100 shares of the underlying. ``raw`` is the payload as received, JSON text.
    """

    alert_id: str
    source: str
    created_at: dt.datetime
    session_date: dt.date
    symbol: str
    option_type: str
    premium: float
    option_symbol: str = ""
    root: str = ""
    nonstandard: bool = False
    expiry: dt.date | None = None
    strike: float | None = None
    dte: int | None = None
    rule: str = ""
    issue_type: str = ""
    ask_premium: float | None = None
    bid_premium: float | None = None
    side: str = ""
    size: int | None = None
    volume: int | None = None
    open_interest: int | None = None
    volume_oi_ratio: float | None = None
    price: float | None = None
    underlying_price: float | None = None
    otm_pct: float | None = None
    sweep: bool = False
    floor: bool = False
    opening: bool = False
    raw: str = "{}"

    def __attrs_post_init__(self) -> None:
        if self.created_at.tzinfo is None:
            raise ValueError(f"alert {self.alert_id}: created_at must be timezone-aware")
        if self.option_type not in ("call", "put"):
            raise ValueError(f"alert {self.alert_id}: option_type must be call or put")

    def payload(self) -> dict[str, Any]:
        """The raw payload, parsed (an empty dict when it is not a JSON object)."""
        try:
            value = json.loads(self.raw)
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}


_FIELDS = tuple(a.name for a in attrs.fields(OptionAlert))


def option_alert_models(db: Any) -> SimpleNamespace:
    """The live model of the ``option_alerts`` table (m0005) bound to ``db``."""

    class OptionAlertRow(model_base(db)):
        alert_id = pw.CharField(max_length=96, unique=True)
        source = pw.CharField(max_length=32)
        created_at = pw.DateTimeField(index=True)
        session_date = pw.DateField(index=True)
        symbol = pw.CharField(max_length=32, index=True)
        option_symbol = pw.CharField(max_length=48, default="")
        root = pw.CharField(max_length=16, default="")
        nonstandard = pw.BooleanField(default=False)
        option_type = pw.CharField(max_length=8)
        expiry = pw.DateField(null=True)
        strike = pw.DoubleField(null=True)
        dte = pw.IntegerField(null=True)
        rule = pw.CharField(max_length=64, default="")
        issue_type = pw.CharField(max_length=32, default="")
        premium = pw.DoubleField()
        ask_premium = pw.DoubleField(null=True)
        bid_premium = pw.DoubleField(null=True)
        side = pw.CharField(max_length=8, default="")
        size = pw.IntegerField(null=True)
        volume = pw.IntegerField(null=True)
        open_interest = pw.IntegerField(null=True)
        volume_oi_ratio = pw.DoubleField(null=True)
        price = pw.DoubleField(null=True)
        underlying_price = pw.DoubleField(null=True)
        otm_pct = pw.DoubleField(null=True)
        sweep = pw.BooleanField(default=False)
        floor = pw.BooleanField(default=False)
        opening = pw.BooleanField(default=False)
        raw = pw.TextField(default="{}")
        stored_at = pw.DateTimeField()

        class Meta:
            table_name = "option_alerts"

    return model_namespace(OptionAlertRow)


def _date(value: Any) -> dt.date | None:
    if value is None or (isinstance(value, dt.date) and not isinstance(value, dt.datetime)):
        return value
    if isinstance(value, dt.datetime):
        return value.date()
    return dt.date.fromisoformat(str(value)[:10])


@attrs.frozen
class AlertSpan:
    """How much history the store holds: alerts, first and last alert time (None: none)."""

    count: int
    first: dt.datetime | None
    last: dt.datetime | None
    sessions: int = 0


class OptionAlerts:
    """Add and read recorded options-flow alerts; every write is one transaction."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.model = store.models.option_alerts.OptionAlertRow

    def add(self, alerts: Iterable[OptionAlert]) -> int:
        """Store the alerts not stored yet (by ``alert_id``); return how many were new.

        Alerts repeated inside ``alerts`` count once. Existing rows are never changed: the
        first record of an alert is the history.
        """
        fresh: dict[str, OptionAlert] = {}
        for a in alerts:
            fresh.setdefault(a.alert_id, a)
        if not fresh:
            return 0
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        added = 0
        m = self.model
        with self.store.transaction():
            ids = list(fresh)
            known: set[str] = set()
            for i in range(0, len(ids), 500):
                chunk = ids[i : i + 500]
                known.update(r.alert_id for r in m.select(m.alert_id).where(m.alert_id.in_(chunk)))
            rows = []
            for aid, a in fresh.items():
                if aid in known:
                    continue
                row = {f: getattr(a, f) for f in _FIELDS}
                row["created_at"] = to_db(a.created_at)
                row["stored_at"] = now
                rows.append(row)
            for i in range(0, len(rows), _CHUNK):
                m.insert_many(rows[i : i + _CHUNK]).on_conflict_ignore().execute()
            added = len(rows)
        return added

    def between(
        self,
        start: dt.date | None,
        end: dt.date | None,
        *,
        symbols: Sequence[str] | None = None,
        source: str | None = None,
    ) -> list[OptionAlert]:
        """Alerts whose ``session_date`` is in ``start..end`` (inclusive; None: open), oldest
        first (ties by id)."""
        m = self.model
        q = m.select()
        if start is not None:
            q = q.where(m.session_date >= start)
        if end is not None:
            q = q.where(m.session_date <= end)
        if symbols is not None:
            q = q.where(m.symbol.in_(list(symbols)))
        if source is not None:
            q = q.where(m.source == source)
        return [self._record(r) for r in q.order_by(m.created_at, m.alert_id)]

    def latest(self, source: str | None = None) -> dt.datetime | None:
        """The newest alert time stored (of ``source``); None when there is none."""
        m = self.model
        q = m.select(pw.fn.MAX(m.created_at))
        if source is not None:
            q = q.where(m.source == source)
        return from_db(q.scalar())

    def span(self, source: str | None = None) -> AlertSpan:
        """Count, first and last alert time, and sessions covered."""
        m = self.model
        q = m.select(
            pw.fn.COUNT(m.id),
            pw.fn.MIN(m.created_at),
            pw.fn.MAX(m.created_at),
            pw.fn.COUNT(m.session_date.distinct()),
        )
        if source is not None:
            q = q.where(m.source == source)
        n, first, last, sessions = q.tuples().get()
        return AlertSpan(int(n or 0), from_db(first), from_db(last), int(sessions or 0))

    def _record(self, r: Any) -> OptionAlert:
        values = {f: getattr(r, f) for f in _FIELDS}
        values["created_at"] = from_db(r.created_at)
        values["session_date"] = _date(r.session_date)
        values["expiry"] = _date(r.expiry)
        for f in ("nonstandard", "sweep", "floor", "opening"):
            values[f] = bool(values[f])
        return OptionAlert(**values)
