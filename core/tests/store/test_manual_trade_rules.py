"""plainly_valid (the import's quick check) passes only trades validate_trade finds nothing in."""

from __future__ import annotations

import datetime as dt

import peewee as pw
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tsys.store.manual_bulk import db_values
from tsys.store.manual_trade import CloseInput, TradeInput, plainly_valid, validate_trade

NOW = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)
_num = (
    st.floats(allow_nan=True, allow_infinity=True)
    | st.floats(1e-10, 1e13)
    | st.sampled_from([0.0, -1.0, 1e-8, 1e12, 1e9, 1e-9, 5.0, 100.0])
    | st.integers(-5, 10**13)
    | st.booleans()
    | st.just("7")
)
_when = st.sampled_from(
    [
        dt.datetime(2024, 1, 2, tzinfo=dt.UTC),
        dt.datetime(1899, 12, 31, tzinfo=dt.UTC),
        dt.datetime(1, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=5))),
        dt.datetime(2024, 1, 2),
        dt.datetime(2030, 1, 1, tzinfo=dt.UTC),
        NOW,
        dt.datetime(2024, 5, 1, 12, tzinfo=dt.timezone(dt.timedelta(hours=-4))),
    ]
)
_text = st.sampled_from(["", "core", "a\x00b", 7])
_WILD = {
    "symbol": st.sampled_from(["AAA", "BTC-USD", "a/b", "", " AAA", "BRK.B", 5]),
    "side": st.sampled_from(["buy", "sell", "BUY", "Sell", "hold", 1]),
    "quantity": _num,
    "price": _num,
    "opened_at": _when,
    "asset_class": st.sampled_from([None, "equity", "Crypto", "bond", 3]),
    "stop": st.none() | _num,
    "target": st.none() | _num,
    "bucket": _text,
    "tags": st.lists(_text, max_size=2),
    "notes": _text,
    "fee": _num,
    "closes": st.lists(
        st.builds(
            CloseInput,
            quantity=_num,
            price=_num,
            at=_when,
            fee=st.sampled_from([0.0, 1.5, -1.0, float("nan"), 2]),
        ),
        min_size=1,
        max_size=3,
    ),
}
_PLAIN = {
    "symbol": st.sampled_from(["AAA", "BTC-USD"]),
    "side": st.sampled_from(["buy", "sell"]),
    "quantity": st.floats(1e-8, 1e3),
    "price": st.floats(1e-9, 1e9),
    "opened_at": st.just(dt.datetime(2024, 1, 2, tzinfo=dt.UTC)),
    "asset_class": st.none(),
    "stop": st.none(),
    "target": st.none() | st.floats(1e-9, 1e9),
    "bucket": st.just(""),
    "tags": st.just(()),
    "notes": st.just(""),
    "fee": st.floats(0, 1e6),
    "closes": st.just(())
    | st.lists(
        st.builds(
            CloseInput,
            quantity=st.floats(1e-8, 600.0),
            price=st.floats(1e-9, 1e9),
            at=st.sampled_from(
                [dt.datetime(2024, 1, 2, tzinfo=dt.UTC), dt.datetime(2024, 3, 1, tzinfo=dt.UTC)]
            ),
            fee=st.floats(0, 10),
        ),
        min_size=1,
        max_size=3,
    ),
}


@st.composite
def _trade(draw):
    """A plain, valid trade with up to three fields drawn from anything, broken or not."""
    wild = draw(st.sets(st.sampled_from(sorted(_WILD)), max_size=3))
    return TradeInput(**{k: draw(_WILD[k] if k in wild else _PLAIN[k]) for k in _WILD})


@settings(max_examples=300)
@given(_trade())
def test_a_plainly_valid_trade_breaks_no_rule(t):
    if plainly_valid(t, NOW):
        assert validate_trade(t, now=NOW) == []


def test_plain_trades_are_plainly_valid():
    at = dt.datetime(2024, 1, 2, tzinfo=dt.UTC)
    assert plainly_valid(TradeInput("AAA", "buy", 10.0, 100.0, at, stop=95.0), NOW)
    assert plainly_valid(TradeInput("BTC-USD", "SELL", 0.5, 40_000.0, at, stop=41_000.0), NOW)
    assert not plainly_valid(TradeInput("AAA", "buy", 10, 100.0, at), NOW)  # (an int: ask)


_value = st.none() | st.floats() | st.integers() | st.text(max_size=3) | st.booleans()
_value |= st.datetimes() | st.just(b"ab")


FIELDS = (
    pw.DoubleField,
    pw.CharField,
    pw.TextField,
    pw.DateTimeField,
    pw.IntegerField,
    pw.BooleanField,
)


@given(st.sampled_from(FIELDS), st.lists(_value, max_size=6))
def test_db_values_are_each_fields_db_value(field_cls, values):
    field = field_cls()
    try:
        want = [field.db_value(v) for v in values]
    except Exception as exc:  # (int(inf) of an integer field): the same error
        with pytest.raises(type(exc)):
            db_values(field, values)
        return
    assert [(type(x), x) for x in db_values(field, values)] == [(type(x), x) for x in want]


@given(st.lists(st.none() | st.datetimes() | st.floats() | st.text(max_size=3), max_size=6))
def test_sqlite_texts_are_what_sqlite_stores_for_the_values(values):
    import sqlite3
    import warnings

    from tsys.store.manual_bulk import _sqlite_texts

    con = sqlite3.connect(":memory:")
    con.execute("CREATE TABLE t (i INTEGER, x)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # (the default adapter, 3.12+)
        for i, (a, b) in enumerate(zip(values, _sqlite_texts(values), strict=True)):
            con.execute("INSERT INTO t VALUES (?, ?), (?, ?)", (2 * i, a, 2 * i + 1, b))
    rows = [x for _, x in con.execute("SELECT i, x FROM t ORDER BY i")]
    assert rows[0::2] == rows[1::2]


@settings(max_examples=300)
@given(_trade())
def test_validate_trade_answers_with_sentences_for_any_input(t):
    """Bad input gets a list of what is wrong, never an exception (a naive date beside an
    aware close raised TypeError comparing them)."""
    errors = validate_trade(t, now=NOW)
    assert isinstance(errors, list) and all(isinstance(e, str) for e in errors)


@pytest.mark.parametrize(
    ("opened", "closed"),
    [
        (dt.datetime(2024, 1, 2), dt.datetime(2024, 3, 1, tzinfo=dt.UTC)),
        (dt.datetime(2024, 1, 2, tzinfo=dt.UTC), dt.datetime(2024, 3, 1)),
    ],
)
def test_a_naive_date_beside_a_close_is_named_not_raised(opened, closed):
    t = TradeInput("AAA", "buy", 10.0, 100.0, opened, closes=(CloseInput(5.0, 110.0, closed),))
    errors = validate_trade(t, now=NOW)
    assert len(errors) == 1 and "must be a timezone-aware datetime" in errors[0]


def test_a_stored_row_with_closes_but_no_opening_fill_is_a_value_error():
    """A hand-edited row whose opening fill is dated after its close: the read leaves it out
    with a warning (``loadable`` catches ValueError) instead of stopping on StopIteration."""
    from types import SimpleNamespace

    from tsys.store.manual_read import state_from_fills

    close = SimpleNamespace(kind="close", quantity=5.0, price=110.0, fee=0.0,
                            timestamp=dt.datetime(2024, 3, 1))  # fmt: skip
    with pytest.raises(ValueError, match="no opening fill"):
        state_from_fills("buy", [close])
