"""The manual book read as columns equals the per-row read, and values the same portfolio.

``store.manual.columns(as_of)`` checks the stored rows in bulk and builds a record only on
demand (:mod:`tsys.store.manual_columns`); ``manual_read.read`` builds and validates one record
per row. On random books, with rows broken after they were stored (a rule they no longer meet,
a value of the wrong type, a timestamp that does not parse), both must keep the same records
and leave the same rows out with the same warnings. ``build_view`` given the book as columns
must give the view, ``to_dict`` and ``--json`` text of ``build_view`` given the records.
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from pathlib import Path

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tsys.contracts import PositionRecord
from tsys.portfolio.view import build_view
from tsys.store import manual_read, open_store
from tsys.store.manual_columns import fast_rows
from tsys.store.manual_trade import CloseInput, TradeInput

D0 = dt.datetime(2024, 3, 1, tzinfo=dt.UTC)
NOW = dt.datetime(2024, 9, 1, tzinfo=dt.UTC)
SYMBOLS = ["AAA", "BBB", "CCC", "BTC-USD"]

_money = st.floats(0.01, 1e5, allow_subnormal=False)
_trade = st.builds(
    lambda sym, side, qty, px, day, stop_off, bucket, closes: (
        sym,
        side,
        qty,
        px,
        day,
        stop_off,
        bucket,
        closes,
    ),
    st.sampled_from(SYMBOLS),
    st.sampled_from(["buy", "sell"]),
    _money,
    _money,
    st.integers(0, 150),
    st.none() | st.floats(0.01, 0.9),
    st.sampled_from(["", "A", "B"]),
    st.lists(st.tuples(st.floats(0.05, 0.45), _money, st.integers(0, 40)), max_size=2)
    | st.lists(st.tuples(st.floats(0.05, 0.45), _money, st.integers(0, 40)), min_size=1).map(
        lambda cs: [*cs[:2], (None, cs[-1][1], 5)]  # None: the rest, the trade closed
    ),
)
#: Ways a stored row can break a rule after it was written (column, SQL value).
BREAKS = [
    ("stop", "-1.0"),
    ("stop", "'abc'"),
    ("target", "0.0"),
    ("quantity", "-2.0"),
    ("quantity", "'x'"),
    ("entry_price", "0.0"),
    ("entry_price", "'1e3'"),
    ("realized_pnl", "'nan'"),
    ("realized_pnl", "9e999"),
    ("exit_price", "-3.0"),
    ("opened_at", "'yesterday'"),
    ("opened_at", "'2024-03-05 00:00:00+02:00'"),
    ("closed_at", "'2000-01-01 00:00:00'"),
    ("closed_at", "'garbage'"),
    ("symbol", "'A/B'"),
    ("symbol", "''"),
    ("side", "'hold'"),
    ("side", "'BUY'"),
    ("asset_class", "'bond'"),
    ("tags", "'[unclosed'"),
    ("tags", '\'["x", "y"]\''),
    ("tags", "'5'"),
    ("initial_quantity", "0.0"),
    ("bucket", "7"),
]


def add_trades(store, trades) -> None:
    todo = []
    for sym, side, qty, px, day, stop_off, bucket, closes in trades:
        opened = D0 + dt.timedelta(days=day)
        stop = None
        if stop_off is not None:
            stop = px * (1 - stop_off) if side == "buy" else px * (1 + stop_off)
        cs, at = [], opened
        for share, cpx, later in closes:
            at = at + dt.timedelta(days=later)
            rest = qty - sum(c.quantity for c in cs)
            cs.append(CloseInput(rest if share is None else qty * share, cpx, at, 0.25))
        todo.append(
            TradeInput(
                sym,
                side,
                qty,
                px,
                opened,
                stop=stop,
                bucket=bucket,
                closes=cs,
                fee=0.5,
                tags=(bucket, "x") if bucket else (),
            )
        )
    store.manual.bulk_add(todo, now=NOW)


def break_rows(store, breaks) -> None:
    for pid, (col, value) in breaks:
        store.db.execute_sql(f'UPDATE manual_positions SET "{col}" = {value} WHERE id = {pid}')


def old_book(store, as_of):
    store.manual.skipped.clear()
    both = manual_read.read(store.manual, with_fills=False, as_of=as_of)
    return both, list(store.manual.skipped)


def new_book(store, as_of):
    store.manual.skipped.clear()
    book = store.manual.columns(as_of)
    return book, list(store.manual.skipped)


@settings(max_examples=40, deadline=None)
@given(
    trades=st.lists(_trade, min_size=1, max_size=12),
    breaks=st.lists(st.tuples(st.integers(1, 12), st.sampled_from(BREAKS)), max_size=5),
    probe=st.integers(0, 200),
)
def test_columns_equal_per_row_read(trades, breaks, probe):
    with tempfile.TemporaryDirectory() as tmp, open_store(f"sqlite:///{Path(tmp)}/t.db") as s:
        add_trades(s, trades)
        break_rows(s, breaks)
        for as_of in (NOW, D0 + dt.timedelta(days=probe, hours=12)):
            try:
                old, old_skipped = old_book(s, as_of)
            except Exception as exc:  # (a row rebuilt from fills that lack their opening one)
                with pytest.raises(type(exc)):
                    new_book(s, as_of)
                continue
            book, new_skipped = new_book(s, as_of)
            assert book.records() == old
            assert new_skipped == old_skipped
            opened = [r for r in old if r.is_open]
            assert book.records(book.open_indices()) == opened
            assert [book.symbol[i] for i in book.open_indices()] == [r.symbol for r in opened]
            assert book.quantity[book.open_indices()].tolist() == [r.quantity for r in opened]
            assert s.manual.book(as_of) == (opened, [r for r in old if not r.is_open])


@settings(max_examples=40, deadline=None)
@given(trades=st.lists(_trade, min_size=1, max_size=12))
def test_bulk_check_never_passes_a_row_whose_record_fails(trades):
    """Every break, one at a time: a row the bulk check passes builds its record."""
    with tempfile.TemporaryDirectory() as tmp, open_store(f"sqlite:///{Path(tmp)}/t.db") as s:
        add_trades(s, trades)
        for brk in BREAKS:
            s.db.execute_sql("SAVEPOINT b")
            break_rows(s, [(1, brk)])
            P = s.models.ManualPosition
            rows = s.db.execute(
                P.select(*[getattr(P, f) for f in manual_read.PositionRow._fields]).order_by(P.id)
            ).fetchall()
            for row, ok in zip(rows, fast_rows(rows).tolist(), strict=True):
                if ok:
                    manual_read.record(manual_read.PositionRow(*row), [], with_fills=False)
            s.db.execute_sql("ROLLBACK TO b")


_price = st.none() | st.sampled_from([float("nan"), -1.0, 0.0]) | st.floats(0.01, 1e5)


@settings(max_examples=60, deadline=None)
@given(
    trades=st.lists(_trade, min_size=0, max_size=14),
    prices=st.fixed_dictionaries({s: _price for s in SYMBOLS}),
    equity=st.sampled_from([0.0, 100_000.0, 12_345.67]),
    paper=st.booleans(),
)
def test_view_from_columns_equals_view_from_records(trades, prices, equity, paper):
    from tsys.jsontext import dumps_indented

    prices = {k: v for k, v in prices.items() if v is not None}
    sectors = {"AAA": "Tech", "BBB": "Energy"}
    with tempfile.TemporaryDirectory() as tmp, open_store(f"sqlite:///{Path(tmp)}/t.db") as s:
        add_trades(s, trades)
        opened, closed = s.manual.book(NOW)
        book = s.manual.columns(NOW)
    others = []
    if paper:
        others.append(
            PositionRecord(
                id="paper-AAA", source="paper", symbol="AAA", asset_class="equity",
                side="buy", quantity=3.0, opened_at=D0, entry_price=50.0, stop=49.0,
            )
        )  # fmt: skip
    old = build_view([*opened, *others, *closed], prices, sectors, None, equity, as_of=NOW.date())
    new = build_view(others, prices, sectors, None, equity, as_of=NOW.date(), manual=book)
    assert tuple(new.lines) == old.lines
    assert new.totals == old.totals
    assert [list(v.items()) for v in new.exposure.values()] == [
        list(v.items()) for v in old.exposure.values()
    ]
    assert new.warnings == old.warnings
    assert new.to_dict() == old.to_dict()
    assert (
        new.tags_by_id()
        == old.tags_by_id()
        == {ln.position.id: ln.position.tags for ln in old.lines}
    )
    text = new.to_json()
    assert text == dumps_indented(old.to_dict()) == json.dumps(old.to_dict(), indent=2)
    if len(new.lines):
        assert new.lines[-1] == old.lines[-1]
        key = lambda ln: (ln.market_value is None, -abs(ln.market_value or 0.0))  # noqa: E731
        assert new.lines.largest(5) == sorted(old.lines, key=key)[:5]


TIME_STOP_RULE = (
    "<optional validator for _AndValidator(_validators=(<instance_of validator for type "
    "<class 'int'>>, <Validator for x >= 1>)) or None>"
)


def test_record_rules_are_the_ones_the_bulk_check_knows():
    """A new field or rule on PositionRecord must be taught to ``fast_rows`` first: a stored
    row that breaks it would otherwise be shown instead of left out with a warning."""
    rules = [
        (f.name, getattr(f.converter, "__name__", type(f.converter).__name__),
         getattr(f.validator, "__name__", repr(f.validator).split(" at ")[0]))
        for f in attrs.fields(PositionRecord)
    ]  # fmt: skip
    assert rules == [
        ("id", "NoneType", "_non_empty_str"),
        ("source", "Converter", "<instance_of validator for type <enum 'PositionSource'>>"),
        ("symbol", "NoneType", "_symbol"),
        ("asset_class", "Converter", "<instance_of validator for type <enum 'AssetClass'>>"),
        ("side", "Converter", "<instance_of validator for type <enum 'Side'>>"),
        ("quantity", "_float", "_non_negative"),
        ("opened_at", "NoneType", "_aware"),
        ("entry_price", "_float", "_positive"),
        ("closed_at", "NoneType", "_aware"),
        ("exit_price", "_opt_float", "_positive"),
        ("stop", "_opt_float", "_positive"),
        ("target", "_opt_float", "_positive"),
        ("fills", "_as_tuple", "None"),
        ("realized_pnl", "_float", "_finite"),
        ("r_multiple", "_opt_float", "_finite"),
        ("bucket", "NoneType", "None"),
        ("notes", "NoneType", "None"),
        ("tags", "_as_tuple", "None"),
        ("time_stop_bars", "NoneType", TIME_STOP_RULE),
        ("opened_by", "NoneType", "None"),
    ]
    import inspect

    post_init = inspect.getsource(PositionRecord.__attrs_post_init__)
    assert "closed_at" in post_init and post_init.count("raise") == 1


def test_columns_on_both_backends(store):
    """A fixed book with rows broken after storing, read both ways (SQLite and PostgreSQL:
    timestamps come back as text from one and as datetimes from the other)."""
    trades = [
        ("AAA", "buy", 10.0, 100.0, 0, 0.1, "A", [(0.3, 110.0, 2), (None, 90.0, 3)]),
        ("BBB", "sell", 5.0, 50.0, 1, 0.2, "", []),
        ("BTC-USD", "buy", 0.5, 400.0, 4, None, "B", [(0.4, 420.0, 1)]),
        ("CCC", "sell", 3.0, 120.0, 5, None, "", [(None, 100.0, 2)]),
        ("AAA", "buy", 2.0, 90.0, 9, 0.05, "", []),
    ]
    add_trades(store, trades)
    store.db.execute_sql("UPDATE manual_positions SET stop = -1.0 WHERE id = 2")
    store.db.execute_sql("UPDATE manual_positions SET side = 'hold' WHERE id = 5")
    for as_of in (NOW, D0 + dt.timedelta(days=4, hours=12), D0 + dt.timedelta(days=2)):
        old, old_skipped = old_book(store, as_of)
        book, new_skipped = new_book(store, as_of)
        assert book.records() == old
        assert new_skipped == old_skipped
        assert [book.tags(i) for i in range(len(book))] == [r.tags for r in old]
        if as_of == NOW:
            assert len(new_skipped) == 2 and len(old) == 3
