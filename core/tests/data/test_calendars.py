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


@pytest.mark.parametrize(
    ("day", "close_ny"),
    [
        (dt.date(2024, 7, 3), ny(2024, 7, 3, 13, 0)),  # early close
        (dt.date(2024, 7, 5), ny(2024, 7, 5, 16, 0)),  # EDT: 20:00 UTC
        (dt.date(2024, 12, 20), ny(2024, 12, 20, 16, 0)),  # EST: 21:00 UTC
        (dt.date(1999, 11, 26), ny(1999, 11, 26, 13, 0)),  # before exchange_calendars' default
        (dt.date(1995, 6, 1), ny(1995, 6, 1, 16, 0)),  # 20-year window: no fallback needed
    ],
)
def test_session_close_is_the_one_place_closes_come_from(day, close_ny):
    got = calendars.session_close(day)
    assert got == close_ny and got.tzinfo is UTC


def test_session_close_refuses_a_day_without_a_session():
    with pytest.raises(ValueError):
        calendars.session_close(dt.date(2024, 7, 4))


def test_only_the_calendars_module_asks_exchange_calendars():
    """Session close is computed in exactly one place: nothing else imports the library."""
    import ast
    from pathlib import Path

    import tsys

    root = Path(tsys.__file__).parent
    users = []
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            if any(n.split(".")[0] == "exchange_calendars" for n in names):
                users.append(path.relative_to(root).as_posix())
    assert sorted(set(users)) == ["data/calendars.py"]
