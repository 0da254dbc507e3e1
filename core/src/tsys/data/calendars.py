"""Market calendars: which days are sessions and which session is the last completed one.

Equities follow an exchange calendar from :mod:`exchange_calendars` (holidays, early closes and
ad-hoc closures come from the library, never from hand-written lists); crypto trades every UTC
day. ``exchange_calendars`` is imported lazily because it takes a moment to load.
"""

from __future__ import annotations

import datetime as dt
from functools import cache
from typing import Any

import pandas as pd

#: Calendars are built over this range by default and widened on demand.
_DEFAULT_START_YEAR = 1990


def as_date(x: Any) -> dt.date:
    """``x`` (a date, a datetime or anything pandas reads as one) as a date."""
    if isinstance(x, dt.datetime):
        return x.date()
    if isinstance(x, dt.date):
        return x
    return pd.Timestamp(x).date()


@cache
def _calendar(name: str, start_year: int, end_year: int) -> Any:
    import warnings

    import exchange_calendars as xc

    with warnings.catch_warnings():
        # exchange_calendars 4.x trips a pandas 3.1 deprecation (Series.values on tz-aware
        # data) while building; nothing we can act on.
        warnings.simplefilter("ignore", category=FutureWarning)
        warnings.simplefilter("ignore", category=DeprecationWarning)
        try:
            from pandas.errors import Pandas4Warning

            warnings.simplefilter("ignore", category=Pandas4Warning)
        except ImportError:  # pandas < 3.1
            pass
        return xc.get_calendar(name, start=f"{start_year}-01-01", end=f"{end_year}-12-31")


def get_calendar(name: str = "XNYS", *, start: Any = None, end: Any = None) -> Any:
    """Return an ``exchange_calendars`` calendar covering ``start``..``end``.

    Parameters
    ----------
    name
        Exchange code ("XNYS" for the New York Stock Exchange).
    start, end
        Dates the calendar must cover; the default range runs from 1990 to two years after
        today. Calendars are cached per year range.
    """
    today = dt.date.today()
    start_year = min(_DEFAULT_START_YEAR, as_date(start).year) if start is not None else None
    end_year = max(today.year + 2, as_date(end).year + 1) if end is not None else today.year + 2
    return _calendar(name, start_year or _DEFAULT_START_YEAR, end_year)


def sessions(start: Any, end: Any, calendar: str = "XNYS") -> pd.DatetimeIndex:
    """Sessions from ``start`` to ``end`` inclusive, as tz-naive midnight timestamps."""
    s, e = as_date(start), as_date(end)
    if e < s:
        return pd.DatetimeIndex([])
    cal = get_calendar(calendar, start=s, end=e)
    return cal.sessions_in_range(pd.Timestamp(s), pd.Timestamp(e))


def is_session(date: Any, calendar: str = "XNYS") -> bool:
    """True when ``date`` is a trading session of ``calendar``."""
    d = as_date(date)
    return bool(get_calendar(calendar, start=d, end=d).is_session(pd.Timestamp(d)))


def next_session(date: Any, calendar: str = "XNYS") -> dt.date:
    """The first session strictly after ``date``."""
    d = as_date(date)
    cal = get_calendar(calendar, start=d, end=d + dt.timedelta(days=30))
    ts = pd.Timestamp(d)
    nxt = cal.next_session(ts) if cal.is_session(ts) else cal.date_to_session(ts, "next")
    return nxt.date()


def previous_session(date: Any, calendar: str = "XNYS") -> dt.date:
    """The last session strictly before ``date``."""
    d = as_date(date)
    cal = get_calendar(calendar, start=d - dt.timedelta(days=30), end=d)
    ts = pd.Timestamp(d)
    prev = cal.previous_session(ts) if cal.is_session(ts) else cal.date_to_session(ts, "previous")
    return prev.date()


def session_close(date: Any, calendar: str = "XNYS") -> dt.datetime:
    """The close of the session ``date`` (early closes included), timezone-aware in UTC.

    The one place a session's closing time is computed: a daily run's decision time and a
    plan's validity use it. ``date`` must be a session of ``calendar`` (a ``ValueError``
    subclass from exchange_calendars says so otherwise).
    """
    d = as_date(date)
    cal = get_calendar(calendar, start=d, end=d)
    return cal.session_close(pd.Timestamp(d)).to_pydatetime().astimezone(dt.UTC)


def _aware(now: dt.datetime) -> pd.Timestamp:
    ts = pd.Timestamp(now)
    if ts.tzinfo is None:
        raise ValueError(
            f"'now' must be timezone-aware (got naive {now!r}); pass e.g. "
            "datetime.now(timezone.utc)"
        )
    return ts.tz_convert("UTC")


def last_completed_session(
    now: dt.datetime, calendar: str = "XNYS", close_buffer_minutes: int = 15
) -> dt.date:
    """The latest session whose close (plus a buffer) is at or before ``now``.

    Parameters
    ----------
    now
        A timezone-aware moment.
    calendar
        Exchange code.
    close_buffer_minutes
        Minutes after the close before a session counts as completed, so that the last bars
        have settled at the data vendor. Early closes (13:00 New York) use their real close.
    """
    ts = _aware(now)
    cal = get_calendar(calendar, start=ts.date() - dt.timedelta(days=30), end=ts.date())
    local_day = ts.tz_convert(cal.tz).normalize().tz_localize(None)
    buffer = pd.Timedelta(minutes=close_buffer_minutes)
    if cal.is_session(local_day):
        if cal.session_close(local_day) + buffer <= ts:
            return local_day.date()
        return cal.previous_session(local_day).date()
    return cal.date_to_session(local_day, "previous").date()


def last_full_utc_day(now: dt.datetime) -> dt.date:
    """The last UTC calendar day that has fully ended at ``now`` (crypto's daily bar)."""
    return _aware(now).date() - dt.timedelta(days=1)


def crypto_days(start: Any, end: Any) -> pd.DatetimeIndex:
    """Every calendar day from ``start`` to ``end`` inclusive (crypto trades daily)."""
    return pd.date_range(as_date(start), as_date(end), freq="D")
