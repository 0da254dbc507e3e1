"""Manual trades in the store: CRUD, every validation rule, partial-close arithmetic."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tsys.contracts import AssetClass, PositionSource, Side
from tsys.store.manual import UNDO_WINDOW
from tsys.store.manual_trade import (
    InvalidTrade,
    TradeInput,
    compute_state,
    default_asset_class,
    format_id,
    parse_id,
)

D0 = dt.datetime(2024, 3, 1, tzinfo=dt.UTC)
NOW = dt.datetime(2024, 7, 1, tzinfo=dt.UTC)


def day(n: int) -> dt.datetime:
    return D0 + dt.timedelta(days=n)


def trade(**kw) -> TradeInput:
    base = dict(symbol="AAPL", side="buy", quantity=10.0, price=100.0, opened_at=D0)
    base.update(kw)
    return TradeInput(**base)


def test_add_get_list_roundtrip(store):
    rec = store.manual.add(
        trade(
            stop=95.0,
            target=120.0,
            bucket="swing",
            tags=("earnings", "x", "x"),
            notes="hi",
            fee=1.5,
        ),
        now=NOW,
    )
    assert rec.id == "M-000001"
    assert rec.source is PositionSource.MANUAL
    assert rec.asset_class is AssetClass.EQUITY and rec.side is Side.BUY
    assert (rec.quantity, rec.entry_price, rec.stop, rec.target) == (10.0, 100.0, 95.0, 120.0)
    assert rec.tags == ("earnings", "x") and rec.notes == "hi" and rec.bucket == "swing"
    assert rec.opened_at == D0 and rec.closed_at is None and rec.realized_pnl == 0.0
    assert [(f.reason, f.quantity, f.price, f.fee) for f in rec.fills] == [("open", 10, 100, 1.5)]
    assert store.manual.get("m-1") == rec == store.manual.get(1)
    second = store.manual.add(trade(symbol="btc-usd", quantity=0.5, price=60000.0), now=NOW)
    assert second.id == "M-000002" and second.symbol == "BTC-USD"
    assert second.asset_class is AssetClass.CRYPTO
    assert [r.id for r in store.manual.list()] == ["M-000001", "M-000002"]
    assert [r.id for r in store.manual.list(tag="earnings")] == ["M-000001"]


def test_ids_and_default_asset_class():
    assert format_id(42) == "M-000042"
    assert parse_id("M-000042") == parse_id("m-42") == parse_id("42") == 42
    with pytest.raises(InvalidTrade, match="not a manual trade id"):
        parse_id("X-1")
    assert default_asset_class("ETH/USD") is AssetClass.CRYPTO
    assert default_asset_class("SOL-USD") is AssetClass.CRYPTO
    assert default_asset_class("MSFT") is AssetClass.EQUITY


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"asset_class": "bond"}, "unknown asset class 'bond'; expected 'equity' or 'crypto'"),
        ({"quantity": -5.0}, "quantity must be greater than zero, got -5"),
        ({"quantity": 0.0}, "quantity must be greater than zero, got 0"),
        ({"price": 0.0}, "price must be greater than zero, got 0"),
        ({"price": -1.25}, "price must be greater than zero, got -1.25"),
        ({"fee": -1.0}, "fee must not be negative, got -1"),
        ({"stop": -3.0}, "stop must be greater than zero, got -3"),
        ({"side": "hold"}, "side must be 'buy' or 'sell', got 'hold'"),
        ({"symbol": "BRK B"}, "symbol must not contain white space"),
        (
            {"opened_at": dt.datetime(2024, 8, 1, tzinfo=dt.UTC)},
            "date 2024-08-01 is in the future; record trades once they have happened",
        ),
    ],
)
def test_add_validation_messages(store, changes, message):
    with pytest.raises(InvalidTrade) as err:
        store.manual.add(trade(**changes), now=NOW)
    assert message in str(err.value)
    assert store.manual.count() == 0


def test_partial_close_arithmetic(store):
    # Long 10 @ 100, open fee 2. Close 4 @ 112 (fee 1), then 6 @ 90 (fee 0.5).
    rec = store.manual.add(trade(fee=2.0, stop=95.0), now=NOW)
    rec = store.manual.close(rec.id, price=112.0, at=day(5), quantity=4, fee=1.0, now=NOW)
    first = 4 * (112 - 100) - 1.0 - 2.0 * 4 / 10  # 46.2
    assert rec.quantity == pytest.approx(6.0)
    assert rec.closed_at is None and rec.exit_price is None and rec.is_open
    assert rec.realized_pnl == pytest.approx(first)
    assert rec.r_multiple is None
    rec = store.manual.close(rec.id, price=90.0, at=day(9), fee=0.5, now=NOW)
    second = 6 * (90 - 100) - 0.5 - 2.0 * 6 / 10  # -61.7
    assert rec.quantity == 0.0 and not rec.is_open
    assert rec.closed_at == day(9)
    assert rec.exit_price == pytest.approx((4 * 112 + 6 * 90) / 10)
    assert rec.realized_pnl == pytest.approx(first + second)
    assert rec.r_multiple == pytest.approx((first + second) / (10 * 5))
    assert [f.side for f in rec.fills] == [Side.BUY, Side.SELL, Side.SELL]
    assert [r.id for r in store.manual.list(status="closed")] == [rec.id]
    assert store.manual.list(status="open") == []


def test_short_position_pnl(store):
    rec = store.manual.add(trade(side="sell", quantity=3.0, price=50.0), now=NOW)
    rec = store.manual.close(rec.id, price=40.0, at=day(2), quantity=1.0, now=NOW)
    assert rec.realized_pnl == pytest.approx(10.0)
    assert rec.fills[-1].side is Side.BUY


def test_close_validation(store):
    rec = store.manual.add(trade(), now=NOW)
    with pytest.raises(InvalidTrade, match=r"cannot close 15 of M-000001: only 10 is open"):
        store.manual.close(rec.id, price=1.0, at=day(1), quantity=15, now=NOW)
    with pytest.raises(
        InvalidTrade, match=r"close date 2024-02-29 is before M-000001 opened \(2024-03-01\)"
    ):
        store.manual.close(rec.id, price=1.0, at=day(-1), now=NOW)
    with pytest.raises(InvalidTrade, match="close date 2024-08-01 is in the future"):
        store.manual.close(rec.id, price=1.0, at=dt.datetime(2024, 8, 1, tzinfo=dt.UTC), now=NOW)
    with pytest.raises(InvalidTrade, match="price must be greater than zero, got 0"):
        store.manual.close(rec.id, price=0.0, at=day(1), now=NOW)
    with pytest.raises(InvalidTrade, match="quantity must be greater than zero, got -1"):
        store.manual.close(rec.id, price=1.0, at=day(1), quantity=-1, now=NOW)
    store.manual.close(rec.id, price=101.0, at=day(3), quantity=2, now=NOW)
    with pytest.raises(InvalidTrade, match=r"before the previous close \(2024-03-04\)"):
        store.manual.close(rec.id, price=1.0, at=day(2), now=NOW)
    store.manual.close(rec.id, price=101.0, at=day(3), now=NOW)
    with pytest.raises(InvalidTrade, match="M-000001 is already closed"):
        store.manual.close(rec.id, price=1.0, at=day(4), now=NOW)
    with pytest.raises(InvalidTrade, match="no manual trade M-000009"):
        store.manual.close("M-9", price=1.0, at=day(4), now=NOW)


def test_edit_recomputes_from_fills(store):
    rec = store.manual.add(trade(), now=NOW)
    store.manual.close(rec.id, price=110.0, at=day(4), quantity=4, now=NOW)
    rec = store.manual.edit(
        rec.id,
        price=105.0,
        quantity=12.0,
        stop=99.0,
        tags=["a"],
        notes="fixed",
        bucket="b",
        now=NOW,
    )
    assert rec.entry_price == 105.0 and rec.quantity == pytest.approx(8.0)
    assert rec.realized_pnl == pytest.approx(4 * (110 - 105))
    assert (rec.stop, rec.tags, rec.notes, rec.bucket) == (99.0, ("a",), "fixed", "b")
    with pytest.raises(
        InvalidTrade, match="cannot set the quantity of M-000001 to 3: 4 has already been closed"
    ):
        store.manual.edit(rec.id, quantity=3.0, now=NOW)
    with pytest.raises(InvalidTrade, match=r"is after the first close of M-000001 \(2024-03-05\)"):
        store.manual.edit(rec.id, opened_at=day(6), now=NOW)
    with pytest.raises(InvalidTrade, match="nothing to change"):
        store.manual.edit(rec.id, now=NOW)
    with pytest.raises(InvalidTrade, match="stop must be greater than zero"):
        store.manual.edit(rec.id, stop=0.0, now=NOW)
    rec = store.manual.edit(rec.id, opened_at=day(-3), now=NOW)
    assert rec.opened_at == day(-3)


def test_soft_delete_and_undo_window(store):
    a = store.manual.add(trade(), now=NOW)
    b = store.manual.add(trade(symbol="MSFT"), now=NOW)
    store.manual.delete(a.id, now=NOW)
    assert [r.id for r in store.manual.list()] == [b.id]
    with pytest.raises(InvalidTrade) as err:
        store.manual.get(a.id)
    assert "--undo" in str(err.value)
    restored = store.manual.undelete(a.id, now=NOW + dt.timedelta(days=29))
    assert restored == a
    with pytest.raises(InvalidTrade, match="is not deleted"):
        store.manual.undelete(a.id, now=NOW)
    store.manual.delete(b.id, now=NOW)
    with pytest.raises(InvalidTrade, match="more than 30 days ago"):
        store.manual.undelete(b.id, now=NOW + UNDO_WINDOW + dt.timedelta(days=1))
    # The next delete purges b for good.
    store.manual.delete(a.id, now=NOW + UNDO_WINDOW + dt.timedelta(days=1))
    with pytest.raises(InvalidTrade, match=r"no manual trade M-000002 \(deleted or not\)"):
        store.manual.undelete(b.id, now=NOW)


def test_as_of_rebuilds_history(store):
    rec = store.manual.add(trade(), now=NOW)
    store.manual.close(rec.id, price=110.0, at=day(10), quantity=4, now=NOW)
    store.manual.close(rec.id, price=120.0, at=day(20), now=NOW)
    store.manual.add(trade(symbol="LATE", opened_at=day(30)), now=NOW)
    then = store.manual.list(as_of=day(15))
    assert [r.symbol for r in then] == ["AAPL"]
    assert then[0].quantity == pytest.approx(6.0) and then[0].is_open
    assert then[0].realized_pnl == pytest.approx(40.0)
    assert store.manual.list(as_of=day(15), status="closed") == []
    assert [r.symbol for r in store.manual.list(status="open")] == ["LATE"]


@given(
    qty=st.floats(0.01, 1e6),
    entry=st.floats(0.01, 1e5),
    fee=st.floats(0, 100),
    parts=st.lists(
        st.tuples(st.floats(0.01, 1.0), st.floats(0.01, 1e5), st.floats(0, 10)),
        min_size=1,
        max_size=6,
    ),
    short=st.booleans(),
)
def test_compute_state_matches_independent_sum(qty, entry, fee, parts, short):
    total_w = sum(w for w, _, _ in parts)
    closes = [(qty * w / total_w, p, f, day(i + 1)) for i, (w, p, f) in enumerate(parts)]
    state = compute_state("sell" if short else "buy", qty, entry, fee, closes)
    d = -1 if short else 1
    expected = (
        sum(d * q * (p - entry) for q, p, _, _ in closes) - sum(f for *_, f, _ in closes) - fee
    )
    scale = max(1.0, qty * (entry + max(p for _, p, _ in parts)) + fee + 10 * len(parts))
    assert state.realized_pnl == pytest.approx(expected, abs=1e-9 * scale)
    assert state.quantity == 0.0 and state.closed_at == closes[-1][3]
    vwap = sum(q * p for q, p, _, _ in closes) / sum(q for q, *_ in closes)
    assert state.exit_price == pytest.approx(vwap, rel=1e-9)
    # Closing a little more than the rest must be refused.
    with pytest.raises(InvalidTrade, match="cannot close"):
        compute_state("buy", qty, entry, fee, [(qty * 1.001, entry, 0.0, day(1))])
