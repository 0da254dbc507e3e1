"""Issues 21.6 and 13.1 through the CLI, against the loopback fake (real alpaca-py client).

21.6: ``run-daily --paper``, ``paper positions``, ``paper orders`` and ``paper reconcile`` with
positions and orders Alpaca may send in a shape tsys cannot read, and with an option position
(an asset class tsys does not trade): never a traceback.
13.1: the paper run's equity buys carry their stop at Alpaca; a stop missing there is reported
by ``paper reconcile`` and placed again by the next paper run.
"""

import json
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from tsys.cli import cli

sys.path.insert(0, str(Path(__file__).parents[1] / "plugins" / "broker_alpaca" / "tests"))
from fake_alpaca import KEY, SECRET, FakeAlpaca

DAY1, DAY2 = "2024-03-12", "2024-03-13"
OPTION = "AAPL240621C00190000"


@pytest.fixture
def world(isolated, real_like_source, monkeypatch):
    """A paper account at the fake Alpaca after day 1's run filled: (fake, symbols bought)."""
    fake = FakeAlpaca(hang_seconds=0.6).start()
    monkeypatch.delenv("ALPACA_PAPER", raising=False)
    monkeypatch.setenv("ALPACA_API_KEY", KEY)
    monkeypatch.setenv("ALPACA_API_SECRET", SECRET)
    (isolated / "tsys.toml").write_text(
        f'[data]\nsource = "{real_like_source}"\n[data.options.{real_like_source}]\nseed = 11\n'
        f'[broker]\nname = "alpaca"\n[broker.options]\nbase_url = "{fake.url}"\n'
        "timeout = 2\nattempts = 1\nbackoff = 0\n"
    )
    try:
        out = tsys("run-daily", "--paper", "--buckets", "sp500", "--as-of", DAY1, "--json")
        assert out.exit_code == 0, out.output
        bought = sorted({o["symbol"] for o in fake.orders.values()})
        assert bought, "day 1 should place buys at the fake"
        stops = {o["symbol"]: o["stop_price"] for o in fake.orders.values() if o.get("stop_price")}
        fake.advance_day({s: 1.2 * stops.get(s, 100.0) for s in bought})  # above every stop
        yield fake, bought
    finally:
        fake.stop()


def tsys(*args):
    return CliRunner().invoke(cli, list(args))


def _clean(res, code):
    assert res.exit_code == code, res.output
    assert "Traceback" not in res.output
    assert KEY not in res.output and SECRET not in res.output


def _first(field, value, symbol):
    def fn(payload):
        for p in payload:
            if p["symbol"] == symbol:
                if value is None and field == "avg_entry_price":
                    del p[field]
                else:
                    p[field] = value
        return payload

    return fn


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("qty", None, "field 'qty' is empty"),
        ("qty", "abc", "field 'qty' must be a number, got 'abc'"),
        ("avg_entry_price", None, "field 'avg_entry_price' is missing"),
        ("side", "flat", "field 'side' must be one of long, short"),
    ],
)
def test_broker_payload_cli_bad_position_is_named_never_a_traceback(world, field, value, words):
    fake, bought = world
    fake.mangle["positions"] = _first(field, value, bought[0])
    res = tsys("paper", "positions")
    _clean(res, 8)
    assert f"position 1 ({bought[0]})" in res.output and words in res.output
    res = tsys("paper", "reconcile")
    _clean(res, 8)
    assert words in res.output
    res = tsys("paper", "orders")  # the log is listed; the positions are not needed
    _clean(res, 0)
    posts = fake.order_posts
    res = tsys("run-daily", "--paper", "--buckets", "sp500", "--as-of", DAY2, "--json")
    _clean(res, 10)
    run = json.loads(res.output)["run"]
    assert any(w.startswith("paper positions not counted") and words in w for w in run["warnings"])
    (broker,) = [d for d in run["deliveries"] if d["plugin"] == "broker:alpaca"]
    assert not broker["ok"] and "no order placed" in broker["detail"]
    assert fake.order_posts == posts  # plans sized without the holdings never reach Alpaca


def test_broker_payload_cli_positions_object_not_list(world):
    fake, _ = world
    fake.mangle["positions"] = lambda p: {"data": p}
    res = tsys("paper", "positions")
    _clean(res, 8)
    assert "answered the positions request with an object instead of a list" in res.output


def test_broker_payload_cli_order_filled_at_yesterday(world):
    fake, bought = world
    fake.mangle["order"] = lambda o: {**o, "filled_at": "yesterday"}
    res = tsys("paper", "orders")
    _clean(res, 0)
    assert "field 'filled_at' must be an ISO 8601 time, got 'yesterday'" in res.output
    assert "listing the orders as last seen" in res.output
    assert all(s in res.output for s in bought)  # nothing lost: every order still listed
    res = tsys("paper", "reconcile", "--json")
    _clean(res, 0)
    assert "orders not refreshed" in res.output and "yesterday" in res.output


def test_broker_payload_cli_option_position_listed_as_foreign(world):
    fake, bought = world
    fake.add_position(OPTION, 2.0, 5.5, "us_option")
    res = tsys("paper", "positions")
    _clean(res, 0)
    assert f"{OPTION}" in res.output and "foreign (us_option): not traded by tsys" in res.output
    assert all(s in res.output for s in bought)
    res = tsys("paper", "positions", "--json")
    _clean(res, 0)
    listed = json.loads(res.stdout)
    assert sorted(p["symbol"] for p in listed) == bought
    res = tsys("paper", "reconcile")
    _clean(res, 0)
    assert f"{OPTION} (us_option, quantity 2) is held at the broker but not traded" in res.output
    res = tsys("run-daily", "--paper", "--buckets", "sp500", "--as-of", DAY2, "--json")
    _clean(res, 0)
    run = json.loads(res.output)["run"]
    assert any(OPTION in w and "not traded by tsys: not counted" in w for w in run["warnings"])
    symbols = {p["allocation"]["signal"]["symbol"] for b in run["buckets"] for p in b["plans"]}
    assert OPTION not in symbols


def test_protective_stop_cli_missing_stop_reported_then_placed_by_the_next_run(world):
    fake, bought = world
    legs = {
        o["symbol"]: o
        for o in fake.orders.values()
        if o.get("parent") and o["type"] == "stop" and o["status"] == "new"
    }
    assert set(legs) == set(bought), "every equity buy of day 1 carries a working stop leg"
    res = tsys("paper", "reconcile")
    _clean(res, 0)
    assert "broker and record agree" in res.output
    victim = bought[0]
    with fake.lock:
        fake._cancel(legs[victim])  # canceled by hand at the broker
    res = tsys("paper", "reconcile", "--json")
    _clean(res, 0)
    diffs = {d["symbol"]: d for d in json.loads(res.stdout)["differences"]}
    assert diffs[f"{victim} stop"]["actual"] == 0.0
    assert "no protective stop" in diffs[f"{victim} stop"]["cause"]
    res = tsys("run-daily", "--paper", "--buckets", "sp500", "--as-of", DAY2, "--json")
    _clean(res, 0)
    run = json.loads(res.output)["run"]
    (stops,) = [d for d in run["deliveries"] if d["plugin"] == "broker:alpaca:stops"]
    assert stops["ok"] and f"{victim} stop placed at" in stops["detail"]
    working = [
        o
        for o in fake.orders.values()
        if o["symbol"] == victim and o["type"] == "stop" and o["status"] in ("new", "accepted")
    ]
    assert len(working) == 1 and working[0]["time_in_force"] == "gtc"
    res = tsys("paper", "reconcile", "--json")
    _clean(res, 0)
    assert not [d for d in json.loads(res.stdout)["differences"] if d["symbol"].endswith("stop")]
