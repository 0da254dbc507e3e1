"""Issue 13.1 and 13.2 on the demo paper flow (`run-daily --demo --paper --buckets sp500` on
2024-03-12, then 2024-03-13): HOLD rows keep the stop of the BUY that opened them in plans.csv,
run.json and the newsletter, the paper account keeps protective stop orders, and `tsys
portfolio` counts every position once."""

from __future__ import annotations

import csv
import json

import pytest
from click.testing import CliRunner

from tsys.cli import cli

DAY1, DAY2 = "2024-03-12", "2024-03-13"


def tsys(*args: str) -> dict | list:
    res = CliRunner().invoke(cli, [*args, "--json"])
    assert res.exit_code == 0, res.output
    return json.loads(res.output)


def _plans(run_dir, action):
    with (run_dir / "plans.csv").open() as fh:
        return {r["symbol"]: r for r in csv.DictReader(fh) if r["action"] == action}


def test_paper_hold_rows_keep_their_stop(isolated):
    for day in (DAY1, DAY2):
        tsys("run-daily", "--demo", "--paper", "--buckets", "sp500", "--as-of", day)
    runs = isolated / "data" / "demo" / "runs"
    buys, holds = _plans(runs / DAY1, "buy"), _plans(runs / DAY2, "hold")
    assert holds, "day 2 should hold day 1's paper buys"
    for sym, row in holds.items():
        assert row["stop"], f"{sym}: the HOLD row lost its stop"
        assert float(row["stop"]) >= float(buys[sym]["stop"]) - 1e-9  # kept or trailed up
    run = json.loads((runs / DAY2 / "run.json").read_text())
    positions = run["portfolio"]["positions"]
    paper = [p for p in positions if p["source"] == "paper"]
    assert {p["symbol"] for p in paper} == set(holds)
    for p in paper:
        assert p["stop"] == pytest.approx(float(holds[p["symbol"]]["stop"]), abs=1e-4)
        assert p["opened_by"] == f"tsys-sp500-20240312-{p['symbol']}-buy"
        time_stop = buys[p["symbol"]]["time_stop_bars"]
        assert p["time_stop_bars"] == (int(time_stop) if time_stop else None)
    text = (runs / DAY2 / "newsletter.txt").read_text()
    assert "no stop" not in text

    orders = tsys("paper", "orders")
    stops = {
        o["order"]["symbol"]: o["order"]
        for o in orders
        if o["order"]["entry"] == "STOP" and o["order"]["status"] == "accepted"
    }
    assert set(stops) == set(holds)
    for sym, o in stops.items():
        assert o["stop_price"] == pytest.approx(float(holds[sym]["stop"]), abs=1e-4)

    # 13.2: one count of every position; gross never above what was bought
    view = tsys("portfolio", "--as-of", DAY2)
    keys = [(p["source"], p["symbol"]) for p in view["positions"]]
    assert len({s for _, s in keys}) == len(keys), keys
    assert {s for s, _ in keys} == {"paper"}
    bought = sum(
        o["order"]["filled_quantity"] * o["order"]["filled_avg_price"]
        for o in orders
        if o["order"]["side"] == "buy" and o["order"]["filled_avg_price"]
    )
    assert view["totals"]["cost"] <= bought + 1e-6
    assert all(p["stop"] is not None for p in view["positions"])
