"""As-of resolution: the day a run is about, the bar date of each asset class, the decision time."""

from __future__ import annotations

import datetime as dt

import attrs

from tsys.contracts import AssetClass
from tsys.errors import ConfigError

NY = "America/New_York"


@attrs.frozen
class AsOf:
    """The dates a run is about: its key, and the bar date each asset class uses."""

    key: dt.date
    equity: dt.date
    crypto: dt.date
    notes: tuple[str, ...] = ()

    def for_class(self, asset_class: AssetClass) -> dt.date:
        return self.crypto if asset_class is AssetClass.CRYPTO else self.equity


def resolve_as_of(requested: dt.date | None, now: dt.datetime | None = None) -> AsOf:
    """Resolve the run's as-of date per asset class.

    Without a request, the key is the later of the last completed NYSE session and the last full
    UTC day. Equities use the last NYSE session on or before the key; crypto uses the key's UTC
    day, or the last full UTC day when that one has not ended yet. A date in the future is an
    error; a weekend or holiday says what each asset class does instead. ``now`` (default: the
    wall clock) must be timezone-aware.
    """
    from zoneinfo import ZoneInfo

    from tsys.data import calendars

    now = now or dt.datetime.now(dt.UTC)
    last_session = calendars.last_completed_session(now)
    last_utc = calendars.last_full_utc_day(now)
    today_ny = now.astimezone(ZoneInfo(NY)).date()
    notes: list[str] = []
    if requested is None:
        key = max(last_session, last_utc)
    else:
        if requested > max(today_ny, now.date()):
            raise ConfigError(
                f"--as-of {requested.isoformat()} is in the future",
                hint=f"the latest complete day is {max(last_session, last_utc).isoformat()}",
            )
        key = requested
    if calendars.is_session(key):
        equity = key if key <= last_session else calendars.previous_session(key)
        if equity != key:
            notes.append(
                f"the NYSE session of {key.isoformat()} has not closed yet: equities use "
                f"{equity.isoformat()}"
            )
    else:
        equity = min(calendars.previous_session(key), last_session)
        notes.append(
            f"{key.isoformat()} is not an NYSE session ({key:%A}): equities use the close of "
            f"{equity.isoformat()}"
        )
    crypto = min(key, last_utc)
    if crypto != key:
        notes.append(
            f"the UTC day {key.isoformat()} has not ended yet: crypto uses {crypto.isoformat()}"
        )
    return AsOf(key=key, equity=equity, crypto=crypto, notes=tuple(notes))


def decision_time(as_of: AsOf) -> dt.datetime:
    """The moment the run's decisions are taken: the equity close, or the end of the UTC day."""
    from tsys.data import calendars

    equity_close = calendars.session_close(as_of.equity)
    crypto_end = dt.datetime.combine(as_of.crypto + dt.timedelta(days=1), dt.time(0), dt.UTC)
    return max(equity_close, crypto_end)
