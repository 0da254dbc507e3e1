"""Calendar helpers with fixed datetimes: holidays, early closes, weekends, the close buffer."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from tsys.data import calendars

NY = ZoneInfo("America/New_York")
UTC = dt.UTC


def ny(*args):
    return dt.datetime(*args, tzinfo=NY)


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (ny(2024, 7, 5, 16, 14), dt.date(2024, 7, 3)),  # before close + 15 min; 4th a holiday
        (ny(2024, 7, 5, 16, 15), dt.date(2024, 7, 5)),  # exactly close + buffer
        (ny(2024, 7, 4, 12, 0), dt.date(2024, 7, 3)),  # Independence Day
        (ny(2024, 7, 3, 13, 14), dt.date(2024, 7, 2)),  # early close 13:00
        (ny(2024, 7, 3, 13, 16), dt.date(2024, 7, 3)),
        (ny(2024, 11, 29, 13, 20), dt.date(2024, 11, 29)),  # day after Thanksgiving, 13:00
        (ny(2024, 11, 29, 12, 0), dt.date(2024, 11, 27)),  # Thanksgiving 28th closed
        (ny(2024, 7, 6, 10, 0), dt.date(2024, 7, 5)),  # Saturday
        (ny(2024, 7, 8, 9, 0), dt.date(2024, 7, 5)),  # Monday before the open
        (dt.datetime(2024, 7, 6, 0, 30, tzinfo=UTC), dt.date(2024, 7, 5)),  # 20:30 NY Friday
        (dt.datetime(2024, 7, 5, 20, 10, tzinfo=UTC), dt.date(2024, 7, 3)),  # 16:10 NY
    ],
)
def test_last_completed_session(now, expected):
    assert calendars.last_completed_session(now) == expected


def test_buffer_is_configurable():
    now = ny(2024, 7, 5, 16, 1)
    assert calendars.last_completed_session(now, close_buffer_minutes=0) == dt.date(2024, 7, 5)
    assert calendars.last_completed_session(now, close_buffer_minutes=5) == dt.date(2024, 7, 3)


def test_naive_datetime_rejected():
    with pytest.raises(ValueError, match="timezone-aware"):
        calendars.last_completed_session(dt.datetime(2024, 7, 5, 17, 0))


def test_sessions_and_neighbours():
    assert not calendars.is_session(dt.date(2024, 7, 4))
    assert calendars.is_session("2024-11-29")
    assert not calendars.is_session(dt.date(2024, 7, 6))
    assert calendars.next_session(dt.date(2024, 7, 3)) == dt.date(2024, 7, 5)
    assert calendars.next_session(dt.date(2024, 7, 6)) == dt.date(2024, 7, 8)
    assert calendars.previous_session(dt.date(2024, 7, 5)) == dt.date(2024, 7, 3)
    s = calendars.sessions("2024-07-01", "2024-07-08")
    assert [d.day for d in s] == [1, 2, 3, 5, 8]
    assert len(calendars.sessions("2024-01-01", "2024-12-31")) == 252
    assert len(calendars.sessions("2024-07-08", "2024-07-01")) == 0


def test_crypto_days():
    assert calendars.last_full_utc_day(dt.datetime(2024, 7, 4, 0, 30, tzinfo=UTC)) == dt.date(
        2024, 7, 3
    )
    # 23:30 in New York on the 4th is already the 5th in UTC: the 4th is complete.
    assert calendars.last_full_utc_day(ny(2024, 7, 4, 23, 30)) == dt.date(2024, 7, 4)
    assert len(calendars.crypto_days("2024-02-01", "2024-03-01")) == 30
