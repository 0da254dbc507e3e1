"""The daily-runs index: one row per run (as-of, created at, config digest, artifact path)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import attrs

from tsys.store._time import from_db, to_db

if TYPE_CHECKING:
    from tsys.store import Store


@attrs.frozen
class RunIndexEntry:
    """Where a daily run's artifacts are and which configuration produced them."""

    as_of: dt.date
    created_at: dt.datetime
    config_digest: str
    path: str


class DailyRunsIndex:
    """Record and list daily runs; the artifacts on disk stay the source of truth."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._m = store.models.DailyRunIndex

    def record(
        self, as_of: dt.date, created_at: dt.datetime, config_digest: str, path: str
    ) -> None:
        """Insert or replace the entry of ``as_of`` (a re-run of a day replaces it)."""
        with self._store.transaction():
            self._m.delete().where(self._m.as_of == as_of).execute()
            self._m.create(
                as_of=as_of, created_at=to_db(created_at), config_digest=config_digest, path=path
            )

    def list(self) -> list[RunIndexEntry]:
        """Every recorded run, oldest first."""
        rows = self._m.select().order_by(self._m.as_of)
        return [
            RunIndexEntry(
                as_of=_date(r.as_of),
                created_at=from_db(r.created_at),
                config_digest=r.config_digest,
                path=r.path,
            )
            for r in rows
        ]

    def latest(self) -> RunIndexEntry | None:
        entries = self.list()
        return entries[-1] if entries else None


def _date(value: object) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))
