"""Versioned schema migrations of the tsys store, applied in order at start-up.

How to add a migration (read this before writing one)
-----------------------------------------------------
1. Add a module ``mNNNN_<name>.py`` in this package, NNNN the next free number (zero-padded,
   four digits, no gaps: ``m0001_manual.py``, ``m0002_paper.py``, ...). Discovery is automatic;
   two modules with the same number, a gap, or a file number that differs from ``VERSION`` stop
   the store from opening, so a clash between two branches is found at once.
2. The module defines ``VERSION: int`` (equal to NNNN), ``NAME: str`` (a few words) and
   ``up(db)`` which receives the open peewee ``Database`` (SQLite or PostgreSQL) inside the
   migration transaction. ``up`` must not commit, must not open its own transaction, and must
   work on both backends.
3. Freeze the schema inside the migration: declare the tables it creates as peewee models
   *local to the migration module* (or plain SQL that both backends accept). Never import the
   live models from :mod:`tsys.store.models`: they describe the latest schema and will drift
   from what this migration created. Change an existing table with
   ``playhouse.migrate.SchemaMigrator.from_database(db)`` in a new migration; never edit a
   migration that has been released.
4. Keep data: a migration transforms existing rows, it never drops user data silently. The test
   ``core/tests/store/test_migrations.py`` creates the database at every earlier version, inserts
   rows, migrates to the latest and checks the rows survive; add a seed for the new version
   there (``SEEDS``) when your migration creates tables.
5. Update the live models in :mod:`tsys.store.models` to match; a test compares the migrated
   columns with the models' fields.

All pending migrations run in one transaction, under a lock (``BEGIN IMMEDIATE`` on SQLite, an
advisory transaction lock on PostgreSQL) so that two processes starting at once apply each
migration exactly once. The ``schema_version`` table records what ran and when.
"""

from __future__ import annotations

import datetime as dt
import importlib
import pkgutil
import re
from collections.abc import Callable, Sequence
from typing import Any

import attrs

from tsys.errors import StoreError

_MODULE_RE = re.compile(r"^m(\d{4})_([a-z0-9_]+)$")
#: Key of the PostgreSQL advisory lock taken while migrating ("tsys" in ASCII).
PG_LOCK_KEY = 0x74737973


@attrs.frozen
class Migration:
    """One schema step: its version, a short name and the function that applies it."""

    version: int
    name: str
    up: Callable[[Any], None]
    module: str = ""


def discover(package: str = __name__) -> list[Migration]:
    """Find the migrations of ``package``, checked for duplicates and gaps, in order."""
    pkg = importlib.import_module(package)
    found: dict[int, Migration] = {}
    for info in pkgutil.iter_modules(pkg.__path__):
        m = _MODULE_RE.match(info.name)
        if m is None:
            continue
        modname = f"{package}.{info.name}"
        mod = importlib.import_module(modname)
        version = getattr(mod, "VERSION", None)
        name = getattr(mod, "NAME", None)
        up = getattr(mod, "up", None)
        if version != int(m.group(1)) or not isinstance(name, str) or not callable(up):
            raise StoreError(
                f"migration {modname} is malformed: it needs VERSION = {int(m.group(1))}, "
                "NAME (a string) and up(db)",
                hint="see the docstring of tsys.store.migrations",
            )
        if version in found:
            raise StoreError(
                f"two migrations claim version {version}: {found[version].module} and {modname}",
                hint="renumber the newer one to the next free number",
            )
        found[version] = Migration(version, name, up, modname)
    ordered = [found[v] for v in sorted(found)]
    for expected, mig in enumerate(ordered, start=1):
        if mig.version != expected:
            raise StoreError(
                f"migration versions must run 1, 2, 3, ... without gaps; "
                f"found {mig.version} ({mig.module}) where {expected} was expected"
            )
    return ordered


def is_postgres(db: Any) -> bool:
    import peewee

    return isinstance(db, peewee.PostgresqlDatabase)


def _begin_locked(db: Any):
    if is_postgres(db):
        return db.atomic()
    return db.atomic(lock_type="IMMEDIATE")


def _ensure_version_table(db: Any) -> None:
    db.execute_sql(
        "CREATE TABLE IF NOT EXISTS schema_version ("
        " version INTEGER PRIMARY KEY,"
        " name VARCHAR(200) NOT NULL,"
        " applied_at VARCHAR(40) NOT NULL)"
    )


def _read_version(db: Any) -> int:
    row = db.execute_sql("SELECT MAX(version) FROM schema_version").fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def current_version(db: Any) -> int:
    """The schema version of ``db`` (0 for a database tsys has never touched)."""
    if is_postgres(db):
        row = db.execute_sql("SELECT to_regclass('schema_version')").fetchone()
        exists = row is not None and row[0] is not None
    else:
        row = db.execute_sql(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
        ).fetchone()
        exists = row is not None
    return _read_version(db) if exists else 0


def migrate(
    db: Any, migrations: Sequence[Migration] | None = None, *, target: int | None = None
) -> list[int]:
    """Apply the pending migrations (up to ``target``) in one locked transaction.

    Returns the versions applied (empty when the schema was already current). A database newer
    than the newest migration known here is refused rather than touched.
    """
    migrations = list(discover() if migrations is None else migrations)
    latest = migrations[-1].version if migrations else 0
    target = latest if target is None else target
    if target > latest:
        raise StoreError(f"cannot migrate to version {target}: the newest known is {latest}")
    # A plain read first: a current schema (nearly every open) takes no write lock, so a
    # read-only command never waits behind an import holding the lock (issue 21.10).
    have = current_version(db)
    if have > latest:
        raise StoreError(
            f"the database schema is at version {have}, newer than this tsys knows ({latest})",
            hint="upgrade tsys, or point TSYS_DATABASE_URL at another database",
        )
    if have >= target:
        return []
    applied: list[int] = []
    with _begin_locked(db):
        if is_postgres(db):
            db.execute_sql("SELECT pg_advisory_xact_lock(%s)", (PG_LOCK_KEY,))
        _ensure_version_table(db)
        have = _read_version(db)
        if have > latest:
            raise StoreError(
                f"the database schema is at version {have}, newer than this tsys knows ({latest})",
                hint="upgrade tsys, or point TSYS_DATABASE_URL at another database",
            )
        for mig in migrations:
            if have < mig.version <= target:
                try:
                    mig.up(db)
                except StoreError:
                    raise
                except Exception as exc:
                    raise StoreError(
                        f"migration {mig.version} ({mig.name}) failed: {type(exc).__name__}: "
                        f"{exc}; the database was left at version {have}"
                    ) from exc
                now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
                db.execute_sql(
                    "INSERT INTO schema_version (version, name, applied_at) VALUES "
                    + ("(%s, %s, %s)" if is_postgres(db) else "(?, ?, ?)"),
                    (mig.version, mig.name, now),
                )
                applied.append(mig.version)
    return applied
