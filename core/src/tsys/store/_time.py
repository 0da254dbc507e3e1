"""Timestamps cross the database boundary as naive UTC; contracts want aware UTC."""

from __future__ import annotations

import datetime as dt


def to_db(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError(f"refusing to store a naive timestamp {value!r}")
    return value.astimezone(dt.UTC).replace(tzinfo=None)


def from_db(value: object) -> dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if not isinstance(value, dt.datetime):
        raise ValueError(f"corrupt timestamp in the store: {value!r}")
    if value.tzinfo is not None:
        return value.astimezone(dt.UTC)
    return value.replace(tzinfo=dt.UTC)
