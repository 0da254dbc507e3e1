"""Import and export: round trips, duplicates, per-row errors, all-or-nothing, crash safety,
and two processes writing at once."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from tsys.store import open_store
from tsys.store.manual_files import parse_file, to_csv, to_json
from tsys.store.manual_trade import InvalidTrade, TradeInput
from tsys.testing.processes import read_until

D0 = dt.datetime(2024, 3, 1, tzinfo=dt.UTC)
NOW = dt.datetime(2024, 7, 1, tzinfo=dt.UTC)


def _fill_some(store) -> None:
    a = store.manual.add(
        TradeInput(
            "AAPL",
            "buy",
            10,
            100.0,
            D0,
            stop=95.0,
            target=130.0,
            bucket="swing",
            tags=("x", "y"),
            notes='a "quoted", note',
            fee=1.25,
        ),
        now=NOW,
    )
    store.manual.close(
        a.id, price=110.0, at=D0 + dt.timedelta(days=3), quantity=4, fee=0.5, now=NOW
    )
    b = store.manual.add(TradeInput("ETH-USD", "buy", 0.123456789, 3000.5, D0), now=NOW)
    store.manual.close(b.id, price=3100.0, at=D0 + dt.timedelta(days=9), now=NOW)
    store.manual.add(TradeInput("TSLA", "sell", 5, 200.0, D0 + dt.timedelta(hours=15)), now=NOW)


def _comparable(records) -> list:
    return [
        (
            r.symbol,
            r.side,
            r.asset_class,
            r.quantity,
            r.entry_price,
            r.opened_at,
            r.closed_at,
            r.exit_price,
            r.stop,
            r.target,
            r.bucket,
            r.notes,
            r.tags,
            round(r.realized_pnl, 9),
            [(f.reason, f.side, f.quantity, f.price, f.fee, f.timestamp) for f in r.fills],
        )
        for r in records
    ]


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_export_import_round_trip(store, tmp_path, fmt):
    _fill_some(store)
    original = store.manual.list()
    text = to_csv(store.manual.export()) if fmt == "csv" else to_json(store.manual.export())
    with open_store(f"sqlite:///{tmp_path / 'empty.db'}") as empty:
        ids, skipped = empty.manual.import_trades(parse_file(f"t.{fmt}", text), now=NOW)
        assert len(ids) == 3 and skipped == []
        assert _comparable(empty.manual.list()) == _comparable(original)
    # Re-importing into the source database: every row is a duplicate.
    with pytest.raises(InvalidTrade) as err:
        store.manual.import_trades(parse_file(f"t.{fmt}", text), now=NOW)
    assert "duplicate of M-000001 already in the database" in str(err.value)
    ids, skipped = store.manual.import_trades(
        parse_file(f"t.{fmt}", text), skip_duplicates=True, now=NOW
    )
    assert ids == [] and len(skipped) == 3


def test_import_reports_every_bad_row_and_writes_nothing(store):
    store.manual.add(TradeInput("AAPL", "buy", 10, 100.0, D0), now=NOW)
    text = textwrap.dedent("""\
        symbol,side,qty,price,date,asset_class
        MSFT,buy,5,300,2024-03-02,
        AAPL,buy,10,100,2024-03-01,
        NVDA,buy,-3,400,2024-03-02,
        NVDA,buy,3,abc,2024-03-02,
        GLD,buy,3,180,2024-03-02,commodity
        MSFT,buy,5,300,2024-03-02,
        AMD,buy,1,100,2030-01-01,
        AMD,buy,1,100,yesterday,
        """)
    with pytest.raises(InvalidTrade) as err:
        store.manual.import_trades(parse_file("x.csv", text), now=NOW)
    msg = str(err.value)
    assert "import refused, nothing was written (7 problems)" in msg
    for expected in (
        "row 3: duplicate of M-000001 already in the database",
        "row 4: quantity must be greater than zero, got -3",
        "row 5: price must be a number, got 'abc'",
        "row 6: unknown asset class 'commodity'",
        "row 7: duplicate of row 2 in this file",
        "row 8: date 2030-01-01 is in the future",
        "row 9: date 'yesterday' is not a date; use YYYY-MM-DD",
    ):
        assert expected in msg
    assert [r.symbol for r in store.manual.list()] == ["AAPL"]


def test_import_close_rows_are_checked(store):
    text = textwrap.dedent("""\
        ref,action,symbol,side,quantity,price,date
        T1,open,AAPL,buy,10,100,2024-03-01
        T1,close,,,12,110,2024-03-05
        T2,open,MSFT,buy,1,100,2024-03-05
        T2,close,,,1,110,2024-03-01
        T9,close,,,1,110,2024-03-01
        """)
    with pytest.raises(InvalidTrade) as err:
        store.manual.import_trades(parse_file("x.csv", text), now=NOW)
    msg = str(err.value)
    assert "row 2: cannot close 12: only 10 is open" in msg
    assert "row 4: close date 2024-03-01 is before the trade opened (2024-03-05)" in msg
    assert "row 6: close refers to ref 'T9', which no open row has" in msg
    assert store.manual.count() == 0
    bad_json = json.dumps({"trades": [{"symbol": "A", "side": "buy", "quantity": 1}]})
    with pytest.raises(InvalidTrade, match="row 1: price is missing"):
        store.manual.import_trades(parse_file("x.json", bad_json), now=NOW)
    with pytest.raises(InvalidTrade, match=r"expected a \.csv or \.json file"):
        parse_file("x.xlsx", "")


def _env(db_url: str, tmp_path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "TSYS_DATABASE_URL": db_url,
            "TSYS_DATA_DIR": str(tmp_path / "data"),
            "TSYS_CONFIG": str(tmp_path / "empty.toml"),
        }
    )
    (tmp_path / "empty.toml").write_text("")
    return env


#: ``tsys`` with a pause inside the import transaction: after N inserted rows it says so on
#: stderr and sleeps, so the test can kill it mid-write (the pause is patched in here; the
#: production import has no test hook).
PAUSED_IMPORT = """
import sys, time
from tsys.store import manual_bulk
pause_after = int(sys.argv.pop(1))
manual_bulk.POSITION_CHUNK = 100  # inserts of 100 positions: the pause comes after whole ones
rows_of = manual_bulk.rows_of
done = 0
def paused_rows_of(*args, **kwargs):
    global done
    if done == pause_after:  # every earlier row was inserted (its chunk is complete)
        print(f"tsys-test: paused after {done} rows", file=sys.stderr, flush=True)
        time.sleep(600)
    done += 1
    return rows_of(*args, **kwargs)
manual_bulk.rows_of = paused_rows_of
from tsys.cli import main
main()
"""


@pytest.fixture
def paused_tsys():
    """``argv(n, *args)``: the command line of a tsys whose import pauses after ``n`` rows."""

    def argv(pause_after: int, *args: str) -> list[str]:
        return [sys.executable, "-c", PAUSED_IMPORT, str(pause_after), *args]

    return argv


def test_import_killed_halfway_leaves_database_as_before(store, db_url, tmp_path, paused_tsys):
    _fill_some(store)
    before = _comparable(store.manual.list())
    rows = ["symbol,side,quantity,price,date"] + [
        f"S{i},buy,{i + 1},{10 + i % 50},2024-02-{1 + i % 28:02d}" for i in range(400)
    ]
    big = tmp_path / "big.csv"
    big.write_text("\n".join(rows) + "\n")
    env = _env(db_url, tmp_path)
    proc = subprocess.Popen(
        paused_tsys(200, "trades", "import", str(big)),
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    try:
        line = read_until(proc.stderr, "paused after 200 rows", 60)
        assert "paused after 200 rows" in line, f"import did not reach the pause: {line!r}"
        # 200 rows are written inside the open transaction; kill the process there.
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    with open_store(db_url) as fresh:
        assert _comparable(fresh.manual.list()) == before
        # The database is usable afterwards: the same file imports completely.
        ids, _ = fresh.manual.import_trades(parse_file("big.csv", big.read_text()), now=NOW)
        assert len(ids) == 400 and fresh.manual.count() == 403


WORKER = """
import datetime as dt, sys
from tsys.store import open_store
from tsys.store.manual_trade import TradeInput
url, tag = sys.argv[1], sys.argv[2]
d = dt.datetime(2024, 3, 1, tzinfo=dt.UTC)
with open_store(url) as s:
    for i in range(200):
        s.manual.add(TradeInput(f"{tag}{i}", "buy", i + 1, 10.0, d, tags=(tag,)))
"""


def test_two_processes_adding_at_once_lose_nothing(store, db_url, tmp_path):
    env = _env(db_url, tmp_path)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, db_url, tag], env=env, stderr=subprocess.PIPE, text=True
        )
        for tag in ("P", "Q")
    ]
    errors = []
    for p in procs:
        _, err = p.communicate(timeout=120)
        if p.returncode != 0:
            errors.append(err)
    assert not errors, errors
    records = store.manual.list(with_fills=False)
    assert len(records) == 400
    assert len({r.id for r in records}) == 400
    for tag in ("P", "Q"):
        mine = {r.symbol: r.quantity for r in records if r.tags == (tag,)}
        assert mine == {f"{tag}{i}": float(i + 1) for i in range(200)}
