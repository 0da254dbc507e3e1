"""Issue 9, integration: manual trades count against every cap of the next daily run.

A dry run shows what the S&P 500 bucket would buy on the day. Then, through `tsys trades add`,
the user holds (a) a large position in the sector of one of those buys, worth most of the sector
cap, and (b) one of the symbols the bucket would buy. The real run must respect the caps with
those holdings included (checked here from the demo market's own closes and sectors), must not
buy the held symbol again, and must never plan a SELL of a manual position. `tsys portfolio
--json` then shows manual and system positions with totals that add up.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from tsys.cli import cli
from tsys.config import load_config
from tsys.data.demo import DemoSource
from tsys.data.source import SourceContext

AS_OF = "2024-06-28"
FILL_DAY = "2024-06-03"
SECTOR_SHARE = 0.8  # the manual sector position is worth this share of the sector cap


def _invoke(*args: str):
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 0, result.output
    return result


def _buys(run: dict, bucket: str | None = None) -> list[dict]:
    return [
        p
        for b in run["buckets"]
        if bucket is None or b["bucket"] == bucket
        for p in b["plans"]
        if p["action"] == "buy"
    ]


def _symbol(plan: dict) -> str:
    return plan["allocation"]["signal"]["symbol"]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("e2e-manual")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)
        mp.setenv("TSYS_DATA_DIR", str(root / "data"))
        mp.setenv("XDG_CONFIG_HOME", str(root / "xdg-config"))
        mp.setenv("XDG_DATA_HOME", str(root / "xdg-data"))
        mp.delenv("TSYS_CONFIG", raising=False)
        # the portfolio view prices positions with the configured source: the demo market
        # ... and Bucket A picks stocks (its members mode), so a sector can be crowded
        (root / "tsys.toml").write_text(
            '[data]\nsource = "demo"\n\n[buckets.sp500.params]\nmode = "members"\n'
        )
        cfg = load_config()
        src = DemoSource.from_config(
            {"seed": cfg.data.demo_seed}, SourceContext(cache_dir=root / "c", as_of=None)
        )
        src.as_of = dt.date.fromisoformat(AS_OF)

        dry = json.loads(
            _invoke("run-daily", "--demo", "--as-of", AS_OF, "--dry-run", "--json").output
        )["run"]
        buys = sorted(_buys(dry, "sp500"), key=lambda p: -p["allocation"]["dollars"])
        assert len(buys) >= 2, "the demo day needs two S&P buys"
        held = _symbol(buys[0])
        members = src.universe("sp500", src.as_of)
        funds = src.fundamentals(members)
        target_sector = funds[_symbol(buys[1])].sector
        bought = {_symbol(p) for p in _buys(dry)}
        # a member of that sector the bucket does not buy today: the user's big position
        big = next(
            s for s in members if funds[s].sector == target_sector and s not in bought | {held}
        )
        bars = src.bars([held, big], None, src.as_of)
        close = {s: float(bars.close[-1, bars.column(s)]) for s in (held, big)}
        equity = cfg.account.size
        big_qty = math.floor(SECTOR_SHARE * cfg.risk.sector_cap * equity / close[big])
        held_qty = 7
        entry = {big: round(close[big], 2), held: round(close[held] * 0.95, 2)}
        _invoke(
            "trades", "add", big, "--side", "buy", "--qty", str(big_qty), "--price",
            str(entry[big]), "--date", FILL_DAY, "--asset-class", "equity", "--stop",
            f"{close[big] * 0.8:.2f}",
        )  # fmt: skip
        _invoke(
            "trades", "add", held, "--side", "buy", "--qty", str(held_qty), "--price",
            str(entry[held]), "--date", FILL_DAY, "--asset-class", "equity",
        )  # fmt: skip
        result = _invoke("run-daily", "--demo", "--as-of", AS_OF)
        run = json.loads((root / "data" / "demo" / "runs" / AS_OF / "run.json").read_text())
        view = json.loads(_invoke("portfolio", "--json", "--as-of", AS_OF).output)
        yield {
            "dry": dry,
            "run": run,
            "view": view,
            "output": result.output,
            "cfg": cfg,
            "src": src,
            "held": held,
            "big": big,
            "big_qty": big_qty,
            "held_qty": held_qty,
            "close": close,
            "entry": entry,
            "sector": target_sector,
            "funds": funds,
        }


def test_the_held_symbol_is_not_bought_again(world):
    held = world["held"]
    assert held in {_symbol(p) for p in _buys(world["dry"])}  # it would have been
    assert held not in {_symbol(p) for p in _buys(world["run"])}


def test_no_sell_is_planned_for_a_manual_position(world):
    for b in world["run"]["buckets"]:
        for p in b["plans"]:
            if _symbol(p) in (world["held"], world["big"]):
                assert p["action"] != "sell", p


def test_no_cap_is_breached_counting_the_manual_positions(world):
    cfg, src, run = world["cfg"], world["src"], world["run"]
    equity = cfg.account.size
    close = world["close"]
    manual_value = {
        world["big"]: world["big_qty"] * close[world["big"]],
        world["held"]: world["held_qty"] * close[world["held"]],
    }
    buys = _buys(run)
    syms = sorted(
        {_symbol(p) for p in buys if p["allocation"]["signal"]["asset_class"] == "equity"}
    )
    funds = {**world["funds"], **src.fundamentals(syms)}
    sector: dict[str, float] = {}
    for sym, value in manual_value.items():
        sector[funds[sym].sector] = sector.get(funds[sym].sector, 0.0) + value
    for p in buys:
        a = p["allocation"]
        if a["signal"]["asset_class"] != "equity":
            continue
        s = funds[_symbol(p)].sector
        sector[s] = sector.get(s, 0.0) + a["dollars"]
        assert a["dollars"] <= cfg.risk.max_position_weight * equity * (1 + 1e-9)
    limit = cfg.risk.sector_cap * equity
    for s, value in sector.items():
        assert value <= limit * (1 + 1e-9), (s, value, limit)
    # the dry run (no holdings) bought more in that sector than the room the user left
    target = world["sector"]
    room = (
        limit
        - manual_value[world["big"]]
        - (manual_value[world["held"]] if funds[world["held"]].sector == target else 0.0)
    )
    dry_in_sector = sum(
        p["allocation"]["dollars"]
        for p in _buys(world["dry"], "sp500")
        if world["funds"][_symbol(p)].sector == target and _symbol(p) != world["held"]
    )
    now_in_sector = sum(
        p["allocation"]["dollars"]
        for p in _buys(run, "sp500")
        if funds[_symbol(p)].sector == target
    )
    print(
        f"\nsector {target}: cap {limit:,.2f}, manual {limit - room:,.2f}, room {room:,.2f}, "
        f"bought without holdings {dry_in_sector:,.2f}, with {now_in_sector:,.2f}"
    )
    assert now_in_sector <= room * (1 + 1e-9) + 1e-6
    assert now_in_sector < dry_in_sector or dry_in_sector <= room
    # the run's own snapshot counts the manual positions in that sector (at their cost)
    entry = world["entry"]
    at_cost = sum(
        q * entry[sym]
        for sym, q in ((world["big"], world["big_qty"]), (world["held"], world["held_qty"]))
        if funds[sym].sector == target
    )
    snap = run["portfolio"]
    assert snap["exposure_by_sector"][target] == pytest.approx(at_cost + now_in_sector, abs=0.01)


def test_portfolio_json_shows_manual_and_system_with_totals(world):
    view = world["view"]
    positions = view["positions"]
    by_source: dict[str, list[dict]] = {}
    for p in positions:
        by_source.setdefault(p["source"], []).append(p)
    manual = {p["symbol"]: p for p in by_source.get("manual", [])}
    assert set(manual) == {world["held"], world["big"]}
    assert manual[world["big"]]["quantity"] == world["big_qty"]
    assert manual[world["held"]]["quantity"] == world["held_qty"]
    for sym, p in manual.items():
        assert p["last_price"] == pytest.approx(world["close"][sym], rel=1e-9)
        assert p["market_value"] == pytest.approx(p["quantity"] * world["close"][sym], rel=1e-9)
    system = {p["symbol"] for p in by_source.get("system", [])}
    planned = {
        _symbol(p)
        for b in world["run"]["buckets"]
        for p in b["plans"]
        if p["action"] in ("buy", "hold")
    }
    assert system == planned  # manual trades carry no bucket, so no HOLD plan repeats them
    totals = view["totals"]
    values = [p["market_value"] for p in positions if p["market_value"] is not None]
    assert totals["positions"] == len(positions)
    assert totals["market_value"] == pytest.approx(float(np.sum(values)), rel=1e-9)
    costs = [p["cost"] for p in positions if p["cost"] is not None]
    assert totals["cost"] == pytest.approx(float(np.sum(costs)), rel=1e-9)


def test_portfolio_from_the_kept_demo_market_is_the_same(world):
    """The demo market's answer for the book is kept in the workspace's cache and read back
    by the next valuation; with the file or without it the view is byte for byte the same."""
    cache = Path(os.environ["TSYS_DATA_DIR"]) / "demo" / "cache" / "demo"
    kept = sorted(cache.glob("portfolio-*.npz"))
    assert kept, "the first valuation keeps the demo market's answer"
    again = _invoke("portfolio", "--json", "--as-of", AS_OF).output
    assert json.loads(again) == world["view"]
    for path in kept:
        path.unlink()
    fresh = _invoke("portfolio", "--json", "--as-of", AS_OF).output
    assert fresh == again
