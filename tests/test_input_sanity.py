"""Issues 21.7, 21.12 and 21.13: what a user types is checked at the door, never fatal later.

Manual trades (``trades add`` and ``trades import``) must hold finite, sane quantities, prices
and amounts, a protective stop and a date in range; a stored record that still fails to load is
skipped with a warning. The configuration refuses coerced numbers (3.5 positions, ``true``),
shares that add up to more than the account, and non-finite sizes.
"""

from __future__ import annotations

import contextlib
import json

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from tsys.cli import cli
from tsys.store.manual_files import parse_when
from tsys.store.manual_trade import TradeInput, validate_trade

BASE = ["--side", "buy", "--qty", "1", "--price", "10", "--date", "2024-01-02"]


def _add(*args: str):
    return CliRunner().invoke(cli, ["trades", "add", "IBM", *args])


def _with(option: str, value: str) -> list[str]:
    out = list(BASE)
    if option in out:
        out[out.index(option) + 1] = value
    else:
        out += [option, value]
    return out


#: (option, value, words of the message)
BAD_TRADES = [
    ("--qty", "1e308", "quantity must be between"),
    ("--price", "1e308", "price must be between"),
    ("--qty", "inf", "quantity must be a finite number"),
    ("--price", "nan", "price must be a finite number"),
    ("--qty", "1e-300", "quantity must be between"),
    ("--price", "-5", "price must be greater than zero"),
    ("--qty", "5e11", "quantity x price"),
    ("--stop", "11", "the stop 11 is at or above the entry 10 of a long position"),
    ("--date", "0001-01-01", "before 1900-01-01"),
    ("--date", "0001-01-01T00:00:00+05:00", "out of range"),
    ("--date", "1899-12-31", "before 1900-01-01"),
    ("--date", "9999-12-31", "in the future"),
]


@pytest.mark.parametrize(("option", "value", "words"), BAD_TRADES)
def test_trades_add_refuses(isolated, option, value, words):
    """Regression: 1e308 x 1e308 was stored and broke every later run (cash -inf)."""
    res = _add(*_with(option, value))
    assert res.exit_code == 2, res.output
    assert words in " ".join(res.output.split()) and "Traceback" not in res.output
    listed = CliRunner().invoke(cli, ["trades", "list", "--json"])
    assert json.loads(listed.output) == []


@pytest.mark.parametrize(("option", "value", "words"), BAD_TRADES)
def test_trades_import_refuses(isolated, option, value, words):
    row = {"--qty": "1", "--price": "10", "--stop": "", "--date": "2024-01-02"}
    row[option] = value
    f = isolated / "t.csv"
    f.write_text(
        "symbol,side,quantity,price,stop,date\n"
        f"IBM,buy,{row['--qty']},{row['--price']},{row['--stop']},{row['--date']}\n"
    )
    res = CliRunner().invoke(cli, ["trades", "import", str(f)])
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output


def test_short_stop_must_be_above_and_edit_may_trail(isolated):
    short = CliRunner().invoke(
        cli,
        ["trades", "add", "IBM", "--side", "sell", "--qty", "1", "--price", "10",
         "--date", "2024-01-02", "--stop", "9"],
    )  # fmt: skip
    assert short.exit_code == 2 and "short position" in short.output
    ok = _add(*_with("--stop", "9"))
    assert ok.exit_code == 0, ok.output
    trailed = CliRunner().invoke(cli, ["trades", "edit", "M-1", "--stop", "12"])
    assert trailed.exit_code == 0, trailed.output


@given(
    qty=st.floats(allow_nan=True, allow_infinity=True),
    price=st.floats(allow_nan=True, allow_infinity=True),
)
def test_a_valid_trade_has_a_finite_sane_amount(qty, price):
    """Invariant: whatever numbers come in, an accepted trade's amount is finite and bounded."""
    import datetime as dt

    t = TradeInput(
        symbol="IBM",
        side="buy",
        quantity=qty,
        price=price,
        opened_at=dt.datetime(2024, 1, 2, tzinfo=dt.UTC),
    )
    if not validate_trade(t):
        amount = qty * price
        assert amount == amount and 0 < amount <= 1e12 and qty >= 1e-8


@given(text=st.text(max_size=40))
def test_parse_when_never_crashes(text):
    from tsys.store.manual_trade import InvalidTrade

    with contextlib.suppress(InvalidTrade):
        parse_when(text)


@pytest.mark.parametrize(
    ("toml", "words"),
    [
        ("[buckets.sp500]\nmax_positions = 3.5\n", "expected int @ $.buckets.sp500.max_positions"),
        ("[buckets.sp500]\nmax_positions = true\n", "expected int @ $.buckets.sp500.max_positions"),
        (
            "[buckets.sp500]\ncapital_share = 0.9\n[buckets.crypto]\ncapital_share = 0.9\n",
            "add up to 1.8",
        ),
        ("[account]\nsize = inf\n", "size"),
        ("[account]\nsize = 1e400\n", "size"),
        ("[account]\nsize = true\n", "expected float @ $.account.size"),
        ("[data]\nhistory_years = inf\n", "history_years"),
        ("[data]\ndemo_seed = -1\n", "demo_seed"),
    ],
)
def test_config_refuses_coerced_and_edge_values(isolated, toml, words):
    """Regression: 3.5 became 3, true became 1, shares summing to 1.8 and size = inf passed."""
    (isolated / "tsys.toml").write_text(toml)
    res = CliRunner().invoke(cli, ["config", "show"])
    assert res.exit_code == 3, res.output
    assert words in " ".join(res.output.split()) and "Traceback" not in res.output


def test_config_non_utf8_file_is_a_config_error(isolated):
    (isolated / "tsys.toml").write_bytes(b"[account]\nsize = 1\n# \xff\xfe\n")
    res = CliRunner().invoke(cli, ["config", "show"])
    assert res.exit_code == 3, res.output
    assert "UTF-8" in res.output and "Traceback" not in res.output


def test_stored_infinite_trade_is_skipped_not_fatal(isolated):
    """Regression: a stored 1e308 trade made every later run-daily crash."""
    from tsys.config import load_config
    from tsys.store import open_store
    from tsys.workspace import workspace

    assert _add(*BASE).exit_code == 0
    with open_store(workspace(load_config()).store_url) as store:
        P = store.models.ManualPosition
        P.update(entry_price=float("inf")).execute()
        # the run rebuilds positions from their fills up to the as-of date: corrupt those too
        store.models.ManualFill.update(price=float("inf")).execute()
    res = CliRunner().invoke(cli, ["run-daily", "--demo", "--as-of", "2024-06-28", "--no-send"])
    assert res.exit_code == 0, res.output
    assert "M-000001 cannot be loaded" in " ".join(res.output.split())


def test_nul_in_an_imported_field_is_refused_on_every_database(isolated):
    """Regression (21.12): a NUL byte in an imported note was a traceback on PostgreSQL."""
    f = isolated / "t.json"
    row = {"symbol": "IBM", "side": "buy", "quantity": 1, "price": 10, "date": "2024-01-02"}
    f.write_text(json.dumps([{**row, "notes": "a\x00b"}]))
    res = CliRunner().invoke(cli, ["trades", "import", str(f)])
    assert res.exit_code == 2, res.output
    assert "NUL" in res.output and "Traceback" not in res.output


@pytest.mark.parametrize(
    ("as_of", "code", "words"),
    [
        ("0001-01-01", 2, "is before 1900-01-01"),
        ("1899-12-31", 2, "is before 1900-01-01"),
        ("1900-01-02", 4, "the demo market starts on 2000-01-01"),
    ],
)
def test_as_of_edge_dates_are_clear_errors(isolated, as_of, code, words):
    """Regression (21.12): --as-of 1900-01-02 and 0001-01-01 were tracebacks."""
    res = CliRunner().invoke(cli, ["run-daily", "--demo", "--as-of", as_of, "--no-send"])
    assert res.exit_code == code, res.output
    assert words in " ".join(res.output.split()) and "Traceback" not in res.output
