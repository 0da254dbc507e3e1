"""Offline end to end: three demo sessions with `--paper` trade the local paper account.

Day 1 places orders; day 2's run fills them at day 2's open through the simulator; day 3 fills
day 2's. Cash and positions are recomputed here from the fills and the demo bars, a forced
re-run must not duplicate an order, and `tsys paper report` / `tsys paper reconcile` must show
the paper account exactly where the model and the record say it is.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from click.testing import CliRunner

from tsys.cli import cli
from tsys.testing.isolation import isolate

DAYS = ("2024-03-12", "2024-03-13", "2024-03-14")  # consecutive NYSE sessions; sp500 buys on 1


def tsys(*args: str) -> dict | list:
    res = CliRunner().invoke(cli, [*args, "--json"])
    assert res.exit_code == 0, res.output
    return json.loads(res.output)


@pytest.fixture(scope="module")
def three_days(tmp_path_factory):
    """Run the three days once for the module (each run takes seconds)."""
    mp = pytest.MonkeyPatch()
    root = isolate(mp, tmp_path_factory.mktemp("paperdemo"))
    runs = {}
    orders_after = {}
    for day in DAYS:
        runs[day] = tsys("run-daily", "--demo", "--paper", "--buckets", "sp500", "--as-of", day)
        orders_after[day] = tsys("paper", "orders")
    yield {"root": root, "runs": runs, "orders_after": orders_after}
    mp.undo()


def demo_bars(symbols, start, end):
    from tsys.config import Config
    from tsys.data.sources import open_source

    return open_source("demo", Config()).bars(symbols, start, end)


def test_three_demo_days_trade_the_paper_account(three_days):
    from tsys.config import Config

    runs = three_days["runs"]
    for day in DAYS:
        assert runs[day]["exit_code"] == 0, runs[day]["messages"]
    day1 = runs[DAYS[0]]["run"]
    placed = [o for o in day1["orders"] if o["side"] == "buy"]
    # Bucket A (its trend book: SPY, TLT, GLD) buys the slots whose trend is on: TLT and GLD
    assert len(placed) >= 2, "the demo sp500 bucket should buy on the first day"
    assert all(o["status"] == "accepted" for o in day1["orders"])
    broker = [d for d in day1["deliveries"] if d["plugin"] == "broker:local"]
    assert broker and broker[0]["ok"], day1["deliveries"]

    # Day 2's run filled day 1's orders at day 2's open (the next session).
    after2 = {o["order"]["client_order_id"]: o for o in three_days["orders_after"][DAYS[1]]}
    report = tsys("paper", "report")
    fills = {f["client_order_id"]: f for f in report["fills"]}
    symbols = sorted({o["symbol"] for o in day1["orders"]})
    bars = demo_bars(symbols, dt.date(2024, 3, 1), dt.date.fromisoformat(DAYS[2]))
    row = list(bars.index.date).index(dt.date.fromisoformat(DAYS[1]))
    for o in day1["orders"]:
        cid = o["client_order_id"]
        assert after2[cid]["order"]["status"] == "filled", after2[cid]
        filled = [e for e in after2[cid]["events"] if e["status"] == "filled"]
        assert [e["timestamp"][:10] for e in filled] == [DAYS[1]]
        f = fills[cid]
        j = bars.symbols.index(o["symbol"])
        assert f["date"] == DAYS[1]
        assert f["reference_price"] == bars.open[row, j]
        assert bars.low[row, j] <= f["price"] <= bars.high[row, j]
        assert f["quantity"] == o["quantity"]

    # Cash and positions reconcile exactly with the fills.
    start = Config().account.size
    acct = tsys("paper", "account")
    spent = sum(
        (1 if f["side"] == "buy" else -1) * f["quantity"] * f["price"] + f["fee"]
        for f in report["fills"]
    )
    assert acct["cash"] == pytest.approx(start - spent, abs=1e-6)
    held: dict[str, float] = {}
    for f in report["fills"]:
        held[f["symbol"]] = held.get(f["symbol"], 0.0) + (
            f["quantity"] if f["side"] == "buy" else -f["quantity"]
        )
    positions = {p["symbol"]: p["quantity"] for p in tsys("paper", "positions")}
    assert positions == {s: q for s, q in held.items() if q > 0}

    # The report: modelled == realised for every fill, and no drift from the replayed plans.
    assert len(report["fills"]) >= len(placed)
    for f in report["fills"]:
        assert f["match"] is True, f
        assert f["modelled_price"] == pytest.approx(f["price"], rel=1e-12)
        assert f["modelled_fee"] == pytest.approx(f["fee"], rel=1e-12, abs=1e-12)
        assert f["realised_slippage"] == pytest.approx(f["modelled_slippage"], rel=1e-9)
    assert report["dates"] == list(DAYS)
    assert report["equity_curve"][0] == start
    assert report["equity_curve"][-1] == pytest.approx(acct["equity"], rel=1e-12)
    d = report["drift"]
    assert d is not None and d["dates"] == list(DAYS)
    assert d["max_abs_drift"] == pytest.approx(0.0, abs=1e-6)
    assert d["final_drift"] == pytest.approx(0.0, abs=1e-6)
    assert report["metrics"]["total_return"] == pytest.approx(acct["equity"] / start - 1)
    rec = tsys("paper", "reconcile")
    assert rec["ok"] is True and rec["differences"] == [], rec


def test_rerunning_a_day_places_no_duplicate(three_days):
    before = three_days["orders_after"][DAYS[2]]
    again = tsys(
        "run-daily", "--demo", "--paper", "--buckets", "sp500", "--as-of", DAYS[2], "--force"
    )
    assert again["exit_code"] == 0
    after = tsys("paper", "orders")
    ids = [o["order"]["client_order_id"] for o in after]
    assert len(ids) == len(set(ids))
    assert ids == [o["order"]["client_order_id"] for o in before]
    assert [o["order"]["status"] for o in after] == [o["order"]["status"] for o in before]
    first = {o["client_order_id"] for o in three_days["runs"][DAYS[2]]["run"]["orders"]}
    assert {o["client_order_id"] for o in again["run"]["orders"]} == first
