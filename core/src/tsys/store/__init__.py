"""The tsys store: one database for manual trades, paper broker state and the daily-run index.

:func:`open_store` opens a SQLite file ``<data_dir>/tsys.db`` by default (WAL journal, foreign
keys on, a busy timeout so concurrent writers wait instead of failing) or PostgreSQL when the URL
(or ``TSYS_DATABASE_URL``) starts with ``postgresql://``. Pending schema migrations
(:mod:`tsys.store.migrations`) are applied on open.

Peewee models never leave this package: the store's API speaks contracts
(:class:`~tsys.contracts.PositionRecord`, :class:`~tsys.contracts.Fill`). Feature areas hang off
the :class:`Store` as repositories (``store.manual``, ``store.runs``); a new area (the paper
broker's state) adds its tables in a migration and its own repository class that takes the
store, and writes with :meth:`Store.transaction` so every multi-row write is atomic.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tsys.errors import StoreError
from tsys.workspace import ENV_DATABASE_URL, database_url

if TYPE_CHECKING:
    from tsys.store.manual import ManualTrades
    from tsys.store.overrides import Overrides
    from tsys.store.runs import DailyRunsIndex

ENV_URL = ENV_DATABASE_URL
log = logging.getLogger(__name__)


def is_read_only(exc: BaseException) -> bool:
    """Whether a database error says the store cannot be written."""
    text = str(exc).lower()
    return "readonly" in text or "read-only" in text or "read only" in text


#: Milliseconds a SQLite writer waits for another writer's lock before giving up.
SQLITE_BUSY_TIMEOUT_MS = 30_000


def redact_url(url: str) -> str:
    """The URL with any password replaced, safe for messages and logs."""
    from tsys.redact import redact_url as _redact

    return _redact(url)


class Store:
    """An open database with its models; use :func:`open_store` to get one."""

    def __init__(self, db: Any, *, backend: str, location: str) -> None:
        from tsys.store.models import build_models

        self.db = db
        self.backend = backend
        #: Where the data lives, with any password redacted.
        self.location = location
        self.models = build_models(db)
        #: What opening the store found worth a warning (also logged).
        self.notes: list[str] = []

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """A write transaction; on SQLite it takes the write lock up front (BEGIN IMMEDIATE).

        Taking the lock at the start means a read-then-write transaction never fails halfway
        with "database is locked" when another process writes at the same time: it waits for
        the busy timeout instead. A store that cannot be written (a read-only file or folder,
        a read-only PostgreSQL session) is a :class:`StoreError` naming it.
        """
        import peewee as pw

        atomic = self.db.atomic(lock_type="IMMEDIATE") if self.backend == "sqlite" else None
        try:
            with atomic or self.db.atomic():
                yield
        except (pw.OperationalError, pw.InternalError) as exc:
            if not is_read_only(exc):
                raise
            raise StoreError(
                f"the store {self.location} is read-only: nothing was written ({exc})",
                hint="make the file and its folder writable (chmod u+w), or point "
                "TSYS_DATA_DIR or TSYS_DATABASE_URL at a writable store",
            ) from exc

    def schema_version(self) -> int:
        from tsys.store.migrations import current_version

        return current_version(self.db)

    @cached_property
    def manual(self) -> ManualTrades:
        """Manual positions: add, edit, close, delete, import and export."""
        from tsys.store.manual import ManualTrades

        return ManualTrades(self)

    @cached_property
    def runs(self) -> DailyRunsIndex:
        """The index of daily runs (as-of, created at, config digest, path)."""
        from tsys.store.runs import DailyRunsIndex

        return DailyRunsIndex(self)

    @cached_property
    def overrides(self) -> Overrides:
        """Discretionary rules set with ``tsys override`` (block, cap, pause), with history."""
        from tsys.store.overrides import Overrides

        return Overrides(self)

    def paper_record_counts(self, broker: str) -> dict[str, int]:
        """Rows the paper broker ``broker`` has in each paper table (empty tables left out)."""
        counts = {}
        for model in self.models.paper.all:
            n = model.select().where(model.broker == broker).count()
            if n:
                counts[model._meta.table_name] = n
        return counts

    def reset_paper_account(self, broker: str) -> dict[str, int]:
        """Delete every record of the paper broker ``broker`` (account, orders, their events,
        fills, positions, marks, ...) in one transaction; return the rows deleted per table.

        The next run opens the account afresh with its starting cash. Daily runs, manual
        trades and other brokers' records are kept.
        """
        deleted = {}
        with self.transaction():
            for model in self.models.paper.all:
                n = model.delete().where(model.broker == broker).execute()
                if n:
                    deleted[model._meta.table_name] = n
        return deleted

    def close(self) -> None:
        if not self.db.is_closed():
            self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({self.backend}: {self.location})"


def default_url(data_dir: Path | None = None) -> str:
    """``TSYS_DATABASE_URL`` if set, else the SQLite file in ``data_dir`` (the user data dir).

    Commands that work for a configuration open ``workspace(config).store_url`` instead, which
    keeps the demo sandbox apart (:mod:`tsys.workspace`).
    """
    if data_dir is None:
        from tsys.config import Config

        data_dir = Config().data_path
    return database_url(data_dir)


def open_store(
    url: str | None = None, *, data_dir: Path | None = None, migrate: bool = True
) -> Store:
    """Open (and migrate) the store.

    Parameters
    ----------
    url
        ``sqlite:///path/to/file.db`` or ``postgresql://user:pass@host:port/dbname[?options]``.
        None: ``TSYS_DATABASE_URL``, else ``<data_dir>/tsys.db``.
    data_dir
        The folder of the default SQLite file (default: the configured user data dir).
    migrate
        Apply pending migrations (the default). Tests turn it off to build old versions.
    """
    if url is None:
        url = default_url(data_dir)
    if url.startswith(("postgresql://", "postgres://")):
        store = _open_postgres(url)
    elif url.startswith("sqlite:///"):
        store = _open_sqlite(Path(url[len("sqlite:///") :]))
    else:
        raise StoreError(
            f"unsupported database URL {redact_url(url)!r}",
            hint="use sqlite:///path/to/tsys.db or postgresql://user@host:5432/dbname",
        )
    if migrate:
        from tsys.store.migrations import migrate as _migrate

        try:
            applied = _migrate(store.db)
        except StoreError:
            store.close()
            raise
        except Exception as exc:
            store.close()
            raise StoreError(
                f"cannot prepare the database at {store.location}: {type(exc).__name__}: {exc}"
            ) from exc
        if applied[:1] == [1] and store.backend == "sqlite":
            store.notes.extend(_fresh_store_notes(Path(store.location)))
    for note in store.notes:
        log.warning("%s", note)
    return store


def _fresh_store_notes(path: Path) -> list[str]:
    """A store file just created beside the daily runs of an earlier one: it was deleted,
    emptied or replaced (issue 21.11). Its runs are still there; its trades are not."""
    runs = path.parent / "runs"
    try:
        made = sum(1 for _ in runs.glob("*/run.json"))
    except OSError:
        return []
    if not made:
        return []
    return [
        f"the store {path} was just created empty, but {runs} holds {made} daily "
        f"run{'s' if made != 1 else ''} made with an earlier store: if the file was deleted, "
        "emptied or replaced, its manual trades, paper account and override rules are not in "
        "the new one (restore the file from a backup; the runs themselves are kept)"
    ]


def _open_sqlite(path: Path) -> Store:
    import peewee as pw

    path = path.expanduser()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"cannot create the data folder {path.parent}: {exc.strerror}") from exc
    db = pw.SqliteDatabase(
        str(path),
        pragmas={
            "journal_mode": "wal",
            "foreign_keys": 1,
            "busy_timeout": SQLITE_BUSY_TIMEOUT_MS,
            "synchronous": "normal",
        },
        timeout=SQLITE_BUSY_TIMEOUT_MS / 1000,
    )
    try:
        db.connect()
    except pw.DatabaseError as exc:  # OperationalError, and "file is not a database"
        if is_read_only(exc):  # a read-only folder: no journal can be made beside the file
            raise StoreError(
                f"the store {path} is read-only: it cannot be opened ({exc})",
                hint="make the file and its folder writable (chmod u+w), or point "
                "TSYS_DATA_DIR or TSYS_DATABASE_URL at a writable store",
            ) from exc
        raise StoreError(
            f"cannot open the SQLite database {path}: {exc}",
            hint="move the file aside to start a new store, or restore it from a backup",
        ) from exc
    return Store(db, backend="sqlite", location=str(path))


def _open_postgres(url: str) -> Store:
    import peewee as pw

    try:
        import psycopg2  # noqa: F401
    except ImportError as exc:
        raise StoreError(
            "PostgreSQL needs the psycopg2 driver",
            hint="pip install 'tsys[postgres]' (psycopg2-binary)",
        ) from exc
    from urllib.parse import urlsplit

    dbname = urlsplit(url).path.lstrip("/") or "postgres"
    # The whole URL goes to psycopg2 as the DSN, so query options (sslmode, options=-c ...)
    # keep working; peewee only needs the name.
    db = pw.PostgresqlDatabase(dbname, dsn=url)
    try:
        db.connect()
    except pw.OperationalError as exc:
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise StoreError(
            f"cannot connect to PostgreSQL at {redact_url(url)}: {msg}",
            hint=f"check {ENV_URL} and that the server is running",
        ) from exc
    return Store(db, backend="postgres", location=redact_url(url))
