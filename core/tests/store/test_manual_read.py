"""The fast read of manual trades equals rebuilding every position from its fills.

``list(as_of=..., with_fills=False)`` and ``book(as_of)`` take a position's stored row when it
has no fill after the moment, and read the fills of the others only; ``list(as_of=...,
with_fills=True)`` rebuilds every position from its fills (the old way of every read). Random
histories of adds, partial and full closes, edits, deletes and undos must give the same
records, as of any moment (fill times included: a fill at the moment itself counts).
"""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

import attrs
from hypothesis import given
from hypothesis import strategies as st

from tsys.store import open_store
from tsys.store.manual_trade import CloseInput, InvalidTrade, TradeInput

D0 = dt.datetime(2024, 3, 1, tzinfo=dt.UTC)
NOW = dt.datetime(2024, 9, 1, tzinfo=dt.UTC)


def at(step: int) -> dt.datetime:
    return D0 + dt.timedelta(hours=12 * step)  # coarse steps: many fills share a moment


_add = st.tuples(
    st.just("add"),
    st.sampled_from(["AAA", "BBB", "BTC-USD"]),
    st.sampled_from(["buy", "sell"]),
    st.floats(0.5, 100),
    st.floats(1, 500),
    st.integers(0, 20),
    st.lists(st.tuples(st.floats(0.05, 0.6), st.floats(1, 500), st.integers(0, 10)), max_size=3),
)
_op = (
    _add
    | st.tuples(st.just("close"), st.integers(1, 8), st.floats(0.05, 1.2), st.integers(0, 30))
    | st.tuples(st.just("edit"), st.integers(1, 8), st.floats(0.5, 150), st.integers(0, 20))
    | st.tuples(st.just("delete"), st.integers(1, 8))
    | st.tuples(st.just("undo"), st.integers(1, 8))
)


def apply(store, op) -> None:
    kind, *args = op
    m = store.manual
    try:
        if kind == "add":
            symbol, side, qty, price, opened, parts = args
            closes, step = [], opened
            for share, px, later in parts:
                step += later
                closes.append(CloseInput(qty * share, px, at(step), 0.5))
            m.add(
                TradeInput(symbol, side, qty, price, at(opened), closes=closes, fee=1.0),
                now=NOW,
            )
        elif kind == "close":
            pid, share, step = args
            rec = m.get(pid)
            qty = None if share > 1 else rec.quantity * share
            m.close(pid, price=100.0, at=at(step), quantity=qty, fee=0.25, now=NOW)
        elif kind == "edit":
            pid, qty, step = args
            m.edit(pid, quantity=qty, opened_at=at(step), now=NOW)
        elif kind == "delete":
            m.delete(args[0], now=NOW)
        else:
            m.undelete(args[0], now=NOW)
    except InvalidTrade:
        pass


def bare(records):
    return [attrs.evolve(r, fills=()) for r in records]


def check_same(store, moments) -> None:
    m = store.manual
    assert bare(m.list(with_fills=True)) == m.list(with_fills=False)
    for moment in moments:
        full = bare(m.list(as_of=moment, with_fills=True))
        opened = [r for r in full if r.is_open]
        closed = [r for r in full if not r.is_open]
        assert m.list(as_of=moment, with_fills=False) == full
        assert m.list(status="open", as_of=moment, with_fills=False) == opened
        assert m.list(status="closed", as_of=moment, with_fills=False) == closed
        assert m.book(moment) == (opened, closed)


@given(ops=st.lists(_op, min_size=1, max_size=14), probes=st.lists(st.integers(-1, 40), max_size=4))
def test_fast_read_equals_rebuild_from_fills(ops, probes):
    with (
        tempfile.TemporaryDirectory() as tmp,
        open_store(f"sqlite:///{Path(tmp) / 'tsys.db'}") as store,
    ):
        for op in ops:
            apply(store, op)
        check_same(store, [at(p) for p in probes] + [NOW])


def test_fast_read_on_both_backends(store):
    """A fixed history with fills exactly at the moments asked about (SQLite and PostgreSQL)."""
    ops = [
        ("add", "AAA", "buy", 10.0, 100.0, 0, [(0.3, 110.0, 2), (0.2, 90.0, 2)]),
        ("add", "BBB", "sell", 5.0, 50.0, 1, []),
        ("close", 2, 0.5, 3),
        ("close", 2, 2.0, 6),
        ("add", "BTC-USD", "buy", 0.5, 400.0, 4, [(0.6, 420.0, 0)]),
        ("edit", 3, 2.0, 2),
        ("delete", 1),
        ("undo", 1),
        ("add", "AAA", "sell", 3.0, 120.0, 5, []),
        ("delete", 4),
    ]
    for op in ops:
        apply(store, op)
    check_same(store, [at(s) for s in range(-1, 9)] + [at(3) + dt.timedelta(microseconds=1)])
