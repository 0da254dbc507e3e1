"""Normalisation: OCC symbols, roots, times and sessions, decimal strings; imports and the CLI."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st
from tsys_data_unusualwhales.normalize import (
    MalformedAlert,
    SessionCalendar,
    normalize,
    parse_occ,
    parse_time,
    underlying_of,
)
from uw_fake import START, TOKEN, flow_alert

CAL = SessionCalendar()


@given(
    root=st.from_regex(r"[A-Z]{1,5}[0-9]?", fullmatch=True),
    expiry=st.dates(dt.date(2001, 1, 1), dt.date(2049, 12, 31)),
    kind=st.sampled_from(["C", "P"]),
    strike_milli=st.integers(0, 99_999_999),
)
def test_occ_symbols_round_trip(root, expiry, kind, strike_milli):
    sym = f"{root}{expiry:%y%m%d}{kind}{strike_milli:08d}"
    occ = parse_occ(sym)
    assert occ is not None
    assert (occ.root, occ.expiry, occ.option_type) == (
        root,
        expiry,
        "call" if kind == "C" else "put",
    )
    assert occ.strike == strike_milli / 1000
    assert parse_occ(f"O:{root}  {expiry:%y%m%d}{kind}{strike_milli:08d}") == occ


@pytest.mark.parametrize(
    "bad", ["", "MSFT", "MSFT231222X00375000", "MSFT231322C00375000", "MSFT231222C0037500"]
)
def test_not_occ_symbols(bad):
    assert parse_occ(bad) is None


def test_roots_index_etf_and_adjusted():
    assert underlying_of("SPXW", "SPX") == ("SPY", False, "Index")
    assert underlying_of("NDXP", None) == ("QQQ", False, "Index")
    assert underlying_of("VIXW", "VIX") == ("VIX", False, "Index")
    assert underlying_of("SPY", "SPY") == ("SPY", False, "")
    assert underlying_of("AAPL1", "AAPL") == ("AAPL", True, "")
    assert underlying_of("AAPL1", None) == ("AAPL", True, "")
    assert underlying_of("MSFT", "MSFT") == ("MSFT", False, "")


def test_time_forms():
    want = dt.datetime(2023, 12, 12, 16, 35, 52, 168490, tzinfo=dt.UTC)
    assert parse_time("2023-12-12 16:35:52.168490+00:00") == want
    assert parse_time("2023-12-12T16:35:52.168490Z") == want
    assert parse_time("2023-12-12T11:35:52.168490-05:00") == want
    assert parse_time(int(want.timestamp() * 1000)) == want.replace(microsecond=168000)
    assert parse_time(str(int(want.timestamp()))) == want.replace(microsecond=0)
    with pytest.raises(MalformedAlert):
        parse_time("last tuesday")


@pytest.mark.parametrize(
    ("utc", "session"),
    [
        (dt.datetime(2024, 5, 2, 19, 59), dt.date(2024, 5, 2)),  # 15:59 New York (EDT)
        (dt.datetime(2024, 5, 2, 20, 1), dt.date(2024, 5, 2)),  # 16:01, after hours
        (dt.datetime(2024, 5, 3, 3, 30), dt.date(2024, 5, 2)),  # 23:30 the same New York day
        (dt.datetime(2024, 5, 3, 12, 0), dt.date(2024, 5, 3)),  # 08:00 pre-market: its day
        (dt.datetime(2024, 5, 4, 15, 0), dt.date(2024, 5, 6)),  # Saturday -> Monday
        (dt.datetime(2024, 7, 4, 15, 0), dt.date(2024, 7, 5)),  # Independence Day -> the 5th
        (dt.datetime(2024, 1, 2, 20, 59), dt.date(2024, 1, 2)),  # 15:59 New York (EST)
    ],
)
def test_session_of_an_alert(utc, session):
    item = flow_alert(1, utc.replace(tzinfo=dt.UTC))
    assert normalize(item, source="t", calendar=CAL).session_date == session


def test_decimal_strings_become_numbers_and_side_is_derived():
    item = flow_alert(
        3,
        START,
        total_ask_side_prem="1,000",
        total_bid_side_prem="9000",
        total_premium="10000.50",
        volume_oi_ratio=None,
        open_interest=100,
        volume=250,
    )
    a = normalize(item, source="t", calendar=CAL)
    assert (a.premium, a.ask_premium, a.bid_premium, a.side) == (10000.5, 1000.0, 9000.0, "bid")
    assert a.volume_oi_ratio == 2.5
    mixed = normalize(
        flow_alert(4, START, total_ask_side_prem="5", total_bid_side_prem="5"),
        source="t",
        calendar=CAL,
    )
    assert mixed.side == "mixed"
    with pytest.raises(MalformedAlert, match="not a number"):
        normalize(flow_alert(5, START, total_premium="lots"), source="t", calendar=CAL)


def test_the_same_alert_gets_the_same_id_and_a_vendor_id_wins():
    a = normalize(flow_alert(1, START), source="x", calendar=CAL)
    b = normalize(json.loads(json.dumps(flow_alert(1, START))), source="y", calendar=CAL)
    assert a.alert_id == b.alert_id
    c = normalize(flow_alert(2, START), source="x", calendar=CAL)
    assert c.alert_id != a.alert_id
    ws = normalize({**flow_alert(1, START), "id": "a1b2"}, source="x", calendar=CAL)
    assert ws.alert_id == "uw:a1b2"


def _cli(args, env):
    from tsys.cli import cli

    return CliRunner().invoke(cli, args, catch_exceptions=False)


def _config(env, httpserver):
    (env / "tsys.toml").write_text(
        "[data.options.unusualwhales]\n"
        f'base_url = "{httpserver.url_for("/")}"\n'
        "limit = 10\nbackoff_seconds = 0.01\nmax_backoff_seconds = 0.05\n"
    )


def test_cli_sync_twice_stores_once(env, uw, httpserver):
    _config(env, httpserver)
    uw.alerts = [flow_alert(i, START + dt.timedelta(minutes=9 * i)) for i in range(25)]
    first = _cli(["options", "sync", "--since", "2024-05-01", "--json"], env)
    assert first.exit_code == 0, first.output
    data = json.loads(first.output)
    assert (data["stored"], data["history"]["count"]) == (25, 25)
    second = _cli(["options", "sync", "--since", "2024-05-01"], env)
    assert second.exit_code == 0
    assert "0 new alert(s) stored" in second.output and "history: 25 alert(s)" in second.output
    status = _cli(["options", "status", "--json"], env)
    assert json.loads(status.output)["count"] == 25
    assert TOKEN not in first.output + second.output + status.output


def test_cli_sync_without_token_is_a_clear_error(env, uw, httpserver, monkeypatch):
    _config(env, httpserver)
    monkeypatch.delenv("UNUSUAL_WHALES_API_TOKEN")
    result = CliRunner().invoke(__import__("tsys.cli", fromlist=["cli"]).cli, ["options", "sync"])
    assert result.exit_code != 0 and "UNUSUAL_WHALES_API_TOKEN" in result.output


def test_import_csv_and_json_normalise_alike(env, uw, httpserver):
    _config(env, httpserver)
    items = [flow_alert(i, START + dt.timedelta(minutes=i)) for i in range(6)]
    (env / "a.json").write_text(json.dumps({"data": items[:4]}))
    lines = "\n".join(json.dumps(["flow-alerts", it]) for it in items[3:])
    (env / "b.jsonl").write_text(lines)
    cols = ["created_at", "ticker", "option_chain", "type", "total_premium", "alert_rule"]
    csv_rows = [",".join(cols)] + [",".join(str(it[c]) for c in cols) for it in items[:2]]
    csv_rows.append("2024-05-01T14:00:00Z,MSFT,BAD,call,100,RepeatedHits")
    (env / "c.csv").write_text("\n".join(csv_rows) + "\n")
    a = json.loads(_cli(["options", "import", "a.json", "--json"], env).output)
    b = json.loads(_cli(["options", "import", "b.jsonl", "--json"], env).output)
    c = json.loads(_cli(["options", "import", "c.csv", "--json"], env).output)
    assert (a["stored"], b["stored"], b["duplicates"]) == (4, 2, 1)
    # CSV rows of alerts already imported from JSON are the same alerts: nothing new
    assert (c["stored"], c["duplicates"], c["malformed"]) == (0, 2, 1)
    assert c["history"]["count"] == 6
    missing = _cli(["options", "import", "nope.csv"], env)
    assert missing.exit_code != 0 and "no such file" in missing.output
