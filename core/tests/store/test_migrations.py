"""Schema migrations: discovery rules, order, locking, and upgrades from every earlier version."""

from __future__ import annotations

import datetime as dt
import sys
import textwrap
import uuid

import pytest

from tsys.errors import StoreError
from tsys.store import open_store
from tsys.store.migrations import current_version, discover, is_postgres, migrate


def _ph(db) -> str:
    return "%s" if is_postgres(db) else "?"


def seed_v1(db) -> None:
    p = _ph(db)
    db.execute_sql(
        "INSERT INTO manual_positions (id, symbol, asset_class, side, initial_quantity, quantity,"
        " entry_price, opened_at, closed_at, exit_price, stop, target, bucket, notes, tags,"
        " realized_pnl, created_at, updated_at, deleted_at) VALUES "
        f"({', '.join([p] * 19)})",
        (
            7,
            "AAPL",
            "equity",
            "buy",
            10.0,
            6.0,
            100.0,
            "2024-01-02 00:00:00",
            None,
            None,
            95.0,
            None,
            "swing",
            "kept",
            '["a"]',
            40.0,
            "2024-01-02 00:00:00",
            "2024-01-02 00:00:00",
            None,
        ),
    )
    for fid, kind, side, q, px, ts in (
        (1, "open", "buy", 10.0, 100.0, "2024-01-02 00:00:00"),
        (2, "close", "sell", 4.0, 110.0, "2024-01-05 00:00:00"),
    ):
        db.execute_sql(
            "INSERT INTO manual_fills (id, position_id, kind, side, quantity, price, fee,"
            f" timestamp, created_at) VALUES ({', '.join([p] * 9)})",
            (fid, 7, kind, side, q, px, 0.0, ts, "2024-01-05 00:00:00"),
        )
    db.execute_sql(
        f"INSERT INTO daily_runs (as_of, created_at, config_digest, path) VALUES ({p}, {p}, {p}, {p})",
        ("2024-01-05", "2024-01-05 21:00:00", "abc123", "/runs/2024-01-05"),
    )


#: version -> a function inserting rows into the tables that version created.
SEEDS = {1: seed_v1}


def _tables(db) -> list[str]:
    if is_postgres(db):
        rows = db.execute_sql(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
        ).fetchall()
    else:
        rows = db.execute_sql("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    return sorted(r[0] for r in rows if r[0] != "schema_version" and not r[0].startswith("sqlite_"))


def _snapshot(db) -> dict[str, list[dict]]:
    out = {}
    for t in _tables(db):
        cur = db.execute_sql(f'SELECT * FROM "{t}"')
        cols = [c[0] for c in cur.description]
        out[t] = sorted(
            (dict(zip(cols, map(str, r), strict=True)) for r in cur.fetchall()), key=repr
        )
    return out


def test_every_migration_is_well_formed():
    migs = discover()
    assert [m.version for m in migs] == list(range(1, len(migs) + 1))
    assert all(m.name for m in migs)
    assert set(SEEDS) <= {m.version for m in migs}


@pytest.mark.parametrize("start", range(len(discover())))
def test_upgrade_from_every_earlier_version_keeps_data(db_url, start):
    latest = discover()[-1].version
    s = open_store(db_url, migrate=False)
    try:
        migrate(s.db, target=start)
        assert current_version(s.db) == start
        for v in range(1, start + 1):
            if v in SEEDS:
                SEEDS[v](s.db)
        before = _snapshot(s.db)
        assert migrate(s.db) == list(range(start + 1, latest + 1))
        assert current_version(s.db) == latest
        after = _snapshot(s.db)
        for table, rows in before.items():
            kept = [{k: r[k] for k in rows[0]} for r in after[table]] if rows else []
            assert kept == rows, f"rows of {table} changed while migrating from {start}"
        for v in range(start + 1, latest + 1):
            if v in SEEDS:
                SEEDS[v](s.db)
        assert migrate(s.db) == []
    finally:
        s.close()
    # The live API reads what the old schema held.
    with open_store(db_url) as s2:
        rec = s2.manual.get("M-000007")
        assert (rec.symbol, rec.quantity, rec.realized_pnl, rec.tags) == ("AAPL", 6.0, 40.0, ("a",))
        assert rec.opened_at == dt.datetime(2024, 1, 2, tzinfo=dt.UTC)
        assert [f.reason for f in rec.fills] == ["open", "close"]
        assert s2.runs.latest().config_digest == "abc123"


def test_models_match_migrated_schema(store):
    db = store.db
    schema = None
    if is_postgres(db):
        schema = db.execute_sql("SELECT current_schema()").fetchone()[0]
    for model in store.models.all:
        cols = {c.name for c in db.get_columns(model._meta.table_name, schema=schema)}
        fields = {f.column_name for f in model._meta.sorted_fields}
        assert cols == fields, model.__name__


def _package(tmp_path, files: dict[str, str]) -> str:
    name = f"tsys_testmig_{uuid.uuid4().hex[:8]}"
    pkg = tmp_path / name
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    for fname, body in files.items():
        (pkg / fname).write_text(textwrap.dedent(body))
    sys.path.insert(0, str(tmp_path))
    return name


M1 = """
    VERSION = 1
    NAME = "things"
    def up(db):
        db.execute_sql("CREATE TABLE things (id INTEGER PRIMARY KEY, label VARCHAR(20) NOT NULL)")
"""
M2_ADD_COLUMN = """
    from playhouse.migrate import SchemaMigrator, migrate
    import peewee as pw
    VERSION = 2
    NAME = "things get a size"
    def up(db):
        m = SchemaMigrator.from_database(db)
        migrate(m.add_column("things", "size", pw.IntegerField(default=3)))
"""
M2_BROKEN = """
    VERSION = 2
    NAME = "half done"
    def up(db):
        db.execute_sql("CREATE TABLE half (id INTEGER PRIMARY KEY)")
        db.execute_sql("INSERT INTO things (id, label) VALUES (99, 'ghost')")
        raise RuntimeError("boom")
"""


def test_runner_applies_in_order_and_keeps_rows(tmp_path, db_url):
    pkg = _package(tmp_path, {"m0001_things.py": M1, "m0002_size.py": M2_ADD_COLUMN})
    migs = discover(pkg)
    s = open_store(db_url, migrate=False)
    try:
        assert migrate(s.db, migs, target=1) == [1]
        s.db.execute_sql("INSERT INTO things (id, label) VALUES (1, 'kept')")
        assert migrate(s.db, migs) == [2]
        rows = s.db.execute_sql("SELECT id, label, size FROM things").fetchall()
        assert [tuple(r) for r in rows] == [(1, "kept", 3)]
        names = s.db.execute_sql("SELECT version, name FROM schema_version ORDER BY version")
        assert [tuple(r) for r in names.fetchall()] == [(1, "things"), (2, "things get a size")]
    finally:
        s.close()


def test_failed_migration_leaves_database_as_before(tmp_path, db_url):
    pkg = _package(tmp_path, {"m0001_things.py": M1, "m0002_broken.py": M2_BROKEN})
    migs = discover(pkg)
    s = open_store(db_url, migrate=False)
    try:
        migrate(s.db, migs, target=1)
        with pytest.raises(
            StoreError, match=r"migration 2 \(half done\) failed: RuntimeError: boom"
        ):
            migrate(s.db, migs)
        assert current_version(s.db) == 1
        assert [r[0] for r in s.db.execute_sql("SELECT id FROM things").fetchall()] == []
        assert "half" not in _tables(s.db)
    finally:
        s.close()


def test_discovery_refuses_duplicates_gaps_and_malformed(tmp_path):
    dup = _package(tmp_path, {"m0001_a.py": M1, "m0001_b.py": M1})
    with pytest.raises(StoreError, match="two migrations claim version 1"):
        discover(dup)
    gap = _package(tmp_path, {"m0001_a.py": M1, "m0003_c.py": M1.replace("= 1", "= 3")})
    with pytest.raises(StoreError, match="without gaps; found 3"):
        discover(gap)
    bad = _package(tmp_path, {"m0001_a.py": "VERSION = 2\nNAME = 'x'\ndef up(db): pass\n"})
    with pytest.raises(StoreError, match="malformed: it needs VERSION = 1"):
        discover(bad)


def test_newer_database_is_refused(db_url):
    with open_store(db_url) as s:
        latest = current_version(s.db)
        p = _ph(s.db)
        s.db.execute_sql(
            f"INSERT INTO schema_version (version, name, applied_at) VALUES ({p}, {p}, {p})",
            (latest + 1, "from the future", "2099-01-01"),
        )
    with pytest.raises(StoreError, match=f"version {latest + 1}, newer than this tsys knows"):
        open_store(db_url)


def test_unknown_url_and_unreachable_postgres_are_clear():
    with pytest.raises(StoreError, match="unsupported database URL 'mysql://u:\\*\\*\\*@h/db'"):
        open_store("mysql://u:secret@h/db")
    with pytest.raises(StoreError) as err:
        open_store("postgresql://nobody:hunter2@127.0.0.1:1/none")
    assert "hunter2" not in str(err.value) and "cannot connect to PostgreSQL" in str(err.value)


def test_sqlite_pragmas(tmp_path):
    with open_store(f"sqlite:///{tmp_path / 'x.db'}") as s:
        assert s.db.execute_sql("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert s.db.execute_sql("PRAGMA foreign_keys").fetchone()[0] == 1
        assert s.db.execute_sql("PRAGMA busy_timeout").fetchone()[0] == 30000
