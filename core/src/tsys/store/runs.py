"""Daily runs as kept: the artifacts on disk (the source of truth) and the index in the store.

A workspace's runs live in ``<workspace>/runs/<as-of>/`` (see :mod:`tsys.workspace`); this
module reads them back (:func:`list_runs`, :func:`load_run`, :func:`latest_run`) for anything
above the store that needs the run history, and keeps the one-row-per-run index table.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from tsys.contracts import DailyRun
from tsys.errors import DataError, StoreError
from tsys.store._time import from_db, to_db

if TYPE_CHECKING:
    from tsys.store import Store


def list_runs(runs_dir: Path) -> list[dt.date]:
    """As-of dates of the runs with a ``run.json`` in ``runs_dir``, oldest first."""
    base = Path(runs_dir)
    if not base.is_dir():
        return []
    out = []
    for p in base.iterdir():
        try:
            d = dt.date.fromisoformat(p.name)
        except ValueError:
            continue
        if (p / "run.json").is_file():
            out.append(d)
    return sorted(out)


def latest_run(runs_dir: Path) -> dt.date | None:
    """The as-of date of the newest run in ``runs_dir`` (None: no run yet)."""
    runs = list_runs(runs_dir)
    return runs[-1] if runs else None


def load_run(runs_dir: Path, as_of: dt.date) -> DailyRun:
    """Load ``<runs_dir>/<as_of>/run.json``; a missing run says which runs exist."""
    from tsys.serialization import loads

    path = Path(runs_dir) / as_of.isoformat() / "run.json"
    if not path.is_file():
        known = list_runs(runs_dir)
        hint = (
            "known runs: " + ", ".join(d.isoformat() for d in known[-5:])
            if known
            else ("run `tsys run-daily` first")
        )
        raise DataError(f"no daily run for {as_of.isoformat()} in {runs_dir}", hint=hint)
    return loads(path.read_bytes(), DailyRun, what=str(path))


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
        """Insert or replace the entry of ``as_of`` (a re-run of a day replaces it).

        A database that refuses the write (read-only, locked, gone) raises
        :class:`~tsys.errors.StoreError` naming the store.
        """
        import peewee as pw

        try:
            with self._store.transaction():
                self._m.delete().where(self._m.as_of == as_of).execute()
                self._m.create(
                    as_of=as_of,
                    created_at=to_db(created_at),
                    config_digest=config_digest,
                    path=path,
                )
        except pw.PeeweeException as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise StoreError(
                f"cannot record the run of {as_of.isoformat()} in the store at "
                f"{self._store.location}: {reason}"
            ) from exc

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
