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


def _insert(db, table: str, row: dict) -> None:
    cols = ", ".join(row)
    marks = ", ".join([_ph(db)] * len(row))
    db.execute_sql(f"INSERT INTO {table} ({cols}) VALUES ({marks})", tuple(row.values()))


def seed_v2(db) -> None:
    """A local paper account that bought 10 AAA, and an Alpaca log with a baseline."""
    t0, t1 = "2024-05-01 21:00:00", "2024-05-02 00:00:00"
    _insert(
        db,
        "paper_accounts",
        dict(
            id=1,
            broker="local",
            starting_cash=10000.0,
            cash=8989.0,
            baseline_cash=10000.0,
            baseline_positions="{}",
            baseline_at=t0,
            created_at=t0,
            updated_at=t1,
        ),
    )
    _insert(
        db,
        "paper_accounts",
        dict(
            id=2,
            broker="alpaca",
            starting_cash=None,
            cash=None,
            baseline_cash=5000.0,
            baseline_positions='{"MSFT": 2.0}',
            baseline_at=t0,
            created_at=t0,
            updated_at=t0,
        ),
    )
    _insert(
        db,
        "paper_orders",
        dict(
            id=3,
            broker="local",
            client_order_id="tsys-b-20240501-AAA-buy",
            symbol="AAA",
            asset_class="equity",
            side="buy",
            quantity=10.0,
            entry="MOO",
            time_in_force="opg",
            status="filled",
            submitted_at=t0,
            decision_date="2024-05-01",
            limit_price=None,
            stop_price=90.0,
            take_profit=None,
            broker_order_id="tsys-b-20240501-AAA-buy",
            filled_quantity=10.0,
            filled_avg_price=101.0,
            bucket="b",
            updated_at=t1,
        ),
    )
    for eid, status, ts, q, px in ((1, "accepted", t0, 0.0, None), (2, "filled", t1, 10.0, 101.0)):
        _insert(
            db,
            "paper_order_events",
            dict(
                id=eid,
                broker="local",
                client_order_id="tsys-b-20240501-AAA-buy",
                status=status,
                timestamp=ts,
                broker_order_id="tsys-b-20240501-AAA-buy",
                filled_quantity=q,
                filled_avg_price=px,
                message="",
                recorded_at=ts,
            ),
        )
    _insert(
        db,
        "paper_fills",
        dict(
            id=1,
            broker="local",
            client_order_id="tsys-b-20240501-AAA-buy",
            symbol="AAA",
            side="buy",
            quantity=10.0,
            price=101.0,
            reference_price=100.95,
            fee=1.0,
            slippage=0.5,
            unfilled_quantity=0.0,
            reason="entry",
            timestamp=t1,
        ),
    )
    _insert(
        db,
        "paper_positions",
        dict(
            id=1,
            broker="local",
            symbol="AAA",
            asset_class="equity",
            quantity=10.0,
            avg_price=101.0,
            opened_at=t1,
            last_price=102.0,
            realized_pnl=-1.0,
            bucket="b",
        ),
    )


def seed_v3(db) -> None:
    _insert(
        db,
        "paper_marks",
        dict(
            id=1,
            broker="local",
            date="2024-05-02",
            cash=8989.0,
            positions_value=1020.0,
            equity=10009.0,
            positions='{"AAA": [10.0, 102.0]}',
            recorded_at="2024-05-02 22:00:00",
        ),
    )


def seed_v4(db) -> None:
    _insert(
        db,
        "override_rules",
        dict(
            id=1,
            kind="cap",
            target="crypto",
            target_type="asset_class",
            asset_class="crypto",
            share=0.05,
            reason="volatile week",
            created_by="ann",
            created_at="2024-05-02 10:00:00",
            starts_at="2024-05-02 10:00:00",
            expires_at="2024-05-04 00:00:00",
            removed_at=None,
            removed_by="",
        ),
    )


def seed_v5(db) -> None:
    _insert(
        db,
        "option_alerts",
        dict(
            id=1,
            alert_id="uw:seed",
            source="unusualwhales",
            created_at="2024-05-02 19:49:11.468550",
            session_date="2024-05-02",
            symbol="MSFT",
            option_symbol="MSFT240517C00420000",
            root="MSFT",
            nonstandard=False,
            option_type="call",
            expiry="2024-05-17",
            strike=420.0,
            dte=15,
            rule="RepeatedHits",
            issue_type="Common Stock",
            premium=186705.0,
            ask_premium=151875.0,
            bid_premium=405.0,
            side="ask",
            size=461,
            volume=2442,
            open_interest=7913,
            volume_oi_ratio=0.3086,
            price=4.05,
            underlying_price=409.9,
            otm_pct=0.0246,
            sweep=True,
            floor=False,
            opening=True,
            raw='{"ticker": "MSFT"}',
            stored_at="2024-05-02 20:00:00",
        ),
    )


#: version -> a function inserting rows into the tables that version created.
SEEDS = {1: seed_v1, 2: seed_v2, 3: seed_v3, 4: seed_v4, 5: seed_v5}


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
        _check_paper_rows(s2)
        (alert,) = s2.option_alerts.between(None, None)
        assert (alert.symbol, alert.premium, alert.side, alert.sweep) == (
            "MSFT",
            186705.0,
            "ask",
            True,
        )
        assert alert.created_at == dt.datetime(2024, 5, 2, 19, 49, 11, 468550, tzinfo=dt.UTC)


def _check_paper_rows(store) -> None:
    """The paper seeds read back through the live paper API."""
    from tsys.store.paper import Mark, PaperLedger

    led = PaperLedger(store)
    assert led.cash("local") == 8989.0 and led.starting_cash("local") == 10000.0
    (order,) = led.orders("local")
    assert (order.symbol, order.status.value, order.filled_avg_price) == ("AAA", "filled", 101.0)
    assert led.decision_date("local", order.client_order_id) == dt.date(2024, 5, 1)
    assert [e.status.value for e in led.events("local")] == ["accepted", "filled"]
    (fill,) = led.fills("local")
    assert (fill.quantity, fill.price, fill.fee) == (10.0, 101.0, 1.0)
    assert fill.timestamp == dt.datetime(2024, 5, 2, tzinfo=dt.UTC)
    (pos,) = led.positions("local")
    assert (pos.symbol, pos.quantity, pos.entry_price) == ("AAA", 10.0, 101.0)
    assert led.baseline("alpaca").positions == {"MSFT": 2.0}
    assert led.marks("local") == [
        Mark(dt.date(2024, 5, 2), 8989.0, 1020.0, 10009.0, {"AAA": (10.0, 102.0)})
    ]


def test_models_match_migrated_schema(store):
    db = store.db
    schema = None
    if is_postgres(db):
        schema = db.execute_sql("SELECT current_schema()").fetchone()[0]
    # Every migrated table has a live model (the paper tables included), and no model lacks one.
    assert sorted(m._meta.table_name for m in store.models.all) == _tables(db)
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
