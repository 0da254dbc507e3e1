"""`tsys trades` and `tsys portfolio` end to end (CliRunner, real database, test source)."""

from __future__ import annotations

import datetime as dt
import json
import time

import pytest
from click.testing import CliRunner

from tsys.cli import cli
from tsys.contracts import (
    Action,
    Allocation,
    AssetClass,
    BucketRun,
    DailyRun,
    EntryMethod,
    Intent,
    Side,
    Signal,
    StopKind,
    StopRule,
    TradePlan,
)
from tsys.testing.positions import sample_position

from .conftest import LAST_DAY, SECTORS, last_prices


def run(args, input=None):
    result = CliRunner().invoke(cli, args, input=input)
    return result


def add_trade(symbol, qty, price, date, *more, side="buy"):
    """`tsys trades add SYMBOL --side SIDE --qty QTY --price PRICE --date DATE [more options]`."""
    opts = ["--side", side, "--qty", str(qty), "--price", str(price), "--date", date]
    return run(["trades", "add", symbol, *opts, *more])


def test_trades_cli_lifecycle(cli_env, tmp_path):
    r = add_trade("aaa", 10, 100, "2024-03-01", "--stop", "95", "--tag", "core", "--note", "first")
    assert r.exit_code == 0, r.output
    assert "added M-000001: buy 10 AAA @ 100.0000 on 2024-03-01" in r.stdout
    assert r.stderr == ""
    r = add_trade("ZZZ", 1, 5, "2024-03-02")
    assert r.exit_code == 0
    assert "data source 'testprices' does not know ZZZ" in r.stderr
    r = add_trade("BTC-USD", -1, 5, "2024-03-02")
    assert r.exit_code == 2 and "quantity must be greater than zero, got -1" in r.output
    r = add_trade("AAA", 1, 5, "2024-03-02", "--asset-class", "bond")
    assert r.exit_code == 2 and "unknown asset class 'bond'" in r.output
    r = add_trade("AAA", 1, 5, "2999-01-01")
    assert r.exit_code == 2 and "is in the future" in r.output

    r = run(
        [
            "trades",
            "close",
            "M-000001",
            "--price",
            "110",
            "--date",
            "2024-03-10",
            "--qty",
            "4",
            "--fee",
            "1",
        ]
    )
    assert r.exit_code == 0, r.output
    assert "M-000001 partially closed, 6 still open; realised PnL 39.00" in r.stdout
    r = run(["trades", "close", "M-1", "--price", "110", "--date", "2024-03-11", "--qty", "7"])
    assert r.exit_code == 2 and "cannot close 7 of M-000001: only 6 is open" in r.output
    r = run(["trades", "close", "M-1", "--price", "110", "--date", "2024-02-01"])
    assert r.exit_code == 2 and "is before M-000001 opened" in r.output

    r = run(["trades", "edit", "M-1", "--stop", "101", "--tag", "a", "--tag", "b"])
    assert r.exit_code == 0 and "updated M-000001" in r.stdout
    r = run(["trades", "show", "M-1", "--json"])
    shown = json.loads(r.stdout)
    assert shown["stop"] == 101.0 and shown["tags"] == ["a", "b"] and shown["quantity"] == 6.0
    r = run(["trades", "show", "M-1"])
    assert "realised PnL 39.00" in r.stdout and "close sell 4 @ 110.0000 fee 1.00" in r.stdout

    r = run(["trades", "list", "--open", "--json"])
    assert [t["id"] for t in json.loads(r.stdout)] == ["M-000001", "M-000002"]
    r = run(["trades", "list", "--tag", "a"])
    assert r.exit_code == 0 and "M-000001" in r.stdout and "M-000002" not in r.stdout
    assert max(len(line) for line in r.stdout.splitlines()) <= 80

    r = run(["trades", "delete", "M-2"], input="n\n")
    assert "nothing deleted" in r.stdout
    r = run(["trades", "delete", "M-2", "--yes"])
    assert r.exit_code == 0 and "deleted M-000002" in r.stdout
    assert [t["id"] for t in json.loads(run(["trades", "list", "--json"]).stdout)] == ["M-000001"]
    r = run(["trades", "delete", "M-2", "--undo"])
    assert r.exit_code == 0 and "restored M-000002" in r.stdout

    out = tmp_path / "backup.json"
    r = run(["trades", "export", "--format", "json", "--output", str(out)])
    assert r.exit_code == 0 and len(json.loads(out.read_text())["trades"]) == 2
    r = run(["trades", "import", str(out)])
    assert r.exit_code == 2 and "duplicate of M-000001 already in the database" in r.output
    r = run(["trades", "import", str(out), "--skip-duplicates"])
    assert r.exit_code == 0 and "imported 0 trades; skipped 2 duplicate(s)" in r.stdout
    csv_text = run(["trades", "export"]).stdout
    assert csv_text.splitlines()[0].startswith("ref,action,symbol,side")


def test_unknown_data_source_is_only_a_warning(cli_env, monkeypatch):
    monkeypatch.setenv("TSYS__DATA__SOURCE", '"nosuch"')
    r = add_trade("AAA", 1, 5, "2024-03-02")
    assert r.exit_code == 0
    assert "could not check AAA against data source 'nosuch'" in r.stderr


def _write_run(data_dir, as_of: dt.date) -> None:
    from tsys.config import config_from_dict
    from tsys.files import atomic_write_text
    from tsys.serialization import dumps
    from tsys.workspace import workspace

    ts = dt.datetime.combine(as_of, dt.time(21), tzinfo=dt.UTC)

    def plan(symbol, ac, action, qty, dollars, stop, limit=None):
        sig = Signal(symbol, ac, ts, Side.BUY, Intent.ENTER_NEXT_OPEN, 1.0, "testb", "1")
        alloc = Allocation(sig, dollars=dollars, weight=dollars / 1e5, quantity=qty)
        return TradePlan(
            alloc,
            action,
            EntryMethod.LIMIT if limit else EntryMethod.MOO,
            f"cid-{symbol}",
            ts + dt.timedelta(days=1),
            limit_price=limit,
            stop=StopRule(StopKind.FIXED, price=stop),
        )

    plans = (
        plan("BTC-USD", AssetClass.CRYPTO, Action.BUY, 0.1, 6000.0, 50000.0),
        plan("CCC", AssetClass.EQUITY, Action.HOLD, 100, 2000.0, 15.0, limit=19.5),
        plan("DDD", AssetClass.EQUITY, Action.SELL, 5, 400.0, 70.0),
    )
    brun = BucketRun("testb", "1", AssetClass.EQUITY, as_of, plans=plans)
    daily = DailyRun(as_of, ts, "digest", buckets=(brun,))
    ws = workspace(config_from_dict({"data_dir": str(data_dir), "data": {"source": "testprices"}}))
    atomic_write_text(ws.run_dir(as_of) / "run.json", dumps(daily))


def test_portfolio_json_totals_by_independent_arithmetic(cli_env):
    for args in (
        ["AAA", "--qty", "10", "--price", "90", "--stop", "85", "--bucket", "swing"],
        ["BBB", "--qty", "20", "--price", "55", "--stop", "50"],
        ["ZZZ", "--qty", "3", "--price", "7"],
        ["AAA", "--qty", "4", "--price", "95"],
    ):
        r = run(["trades", "add", *args[:1], "--side", "buy", "--date", "2024-04-01", *args[1:]])
        assert r.exit_code == 0, r.output
    # a stop trailed above the entry is set by edit (a new trade's stop must be below it)
    assert run(["trades", "edit", "M-2", "--stop", "60"]).exit_code == 0
    r = add_trade("CCC", 50, 25, "2024-04-01", "--stop", "30", side="sell")
    assert r.exit_code == 0
    assert run(["trades", "close", "M-4", "--price", "99", "--date", "2024-05-01"]).exit_code == 0
    assert (
        run(
            ["trades", "close", "M-1", "--price", "100", "--date", "2024-05-01", "--qty", "2"]
        ).exit_code
        == 0
    )
    opened = dt.datetime(2024, 5, 1, tzinfo=dt.UTC)
    cli_env["plugin"].paper_positions = [
        sample_position(
            "DDD", 7, 75.0, id="P-1", source="paper", opened_at=opened, stop=70.0, bucket="testb"
        )
    ]
    _write_run(cli_env["data_dir"], LAST_DAY - dt.timedelta(days=1))

    r = run(["portfolio", "--json", "--as-of", LAST_DAY.isoformat()])
    assert r.exit_code == 0, r.output
    view = json.loads(r.stdout)
    px = last_prices()
    # (source, symbol, side, qty, entry, stop, bucket, asset class)
    held = [
        ("manual", "AAA", 1, 8, 90.0, 85.0, "swing", "equity"),
        ("manual", "BBB", 1, 20, 55.0, 60.0, "", "equity"),
        ("manual", "ZZZ", 1, 3, 7.0, None, "", "equity"),
        ("manual", "CCC", -1, 50, 25.0, 30.0, "", "equity"),
        ("paper", "DDD", 1, 7, 75.0, 70.0, "testb", "equity"),
        ("system", "BTC-USD", 1, 0.1, 60000.0, 50000.0, "testb", "crypto"),
        ("system", "CCC", 1, 100, 19.5, 15.0, "testb", "equity"),
    ]
    got = sorted((p["source"], p["symbol"], p["quantity"]) for p in view["positions"])
    assert got == sorted((s, sym, float(q)) for s, sym, _, q, *_ in held)
    priced = [h for h in held if h[1] in px]
    mv = sum(d * q * px[sym] for _, sym, d, q, *_ in priced)
    gross = sum(q * px[sym] for _, sym, d, q, *_ in priced)
    upnl = sum(d * q * (px[sym] - e) for _, sym, d, q, e, *_ in priced)
    risk = sum(
        max(0.0, d * q * (px[sym] - st)) for _, sym, d, q, _, st, *_ in priced if st is not None
    )
    cost = sum(q * e for _, _, _, q, e, *_ in held)
    realised_closed = 4 * (99 - 95)
    realised_all = realised_closed + 2 * (100 - 90)
    t = view["totals"]
    assert t["positions"] == 7 and t["priced"] == 6
    assert t["market_value"] == pytest.approx(mv)
    assert t["gross_exposure"] == pytest.approx(gross)
    assert t["unrealized_pnl"] == pytest.approx(upnl)
    assert t["money_at_risk"] == pytest.approx(risk)
    assert t["cost"] == pytest.approx(cost)
    assert t["realized_pnl"] == pytest.approx(realised_all)
    assert t["realized_pnl_closed"] == pytest.approx(realised_closed)
    assert t["closed_trades"] == 1
    by_source = {k: v["value"] for k, v in view["exposure"]["source"].items()}
    for src in ("manual", "paper", "system"):
        assert by_source[src] == pytest.approx(
            sum(q * px[sym] for s, sym, _, q, *_ in priced if s == src)
        )
    sectors = {k: v["value"] for k, v in view["exposure"]["sector"].items()}
    assert sectors["Tech"] == pytest.approx(8 * px["AAA"] + 20 * px["BBB"])
    assert sectors["unknown"] == pytest.approx(0.1 * px["BTC-USD"])
    assert set(sectors) == {SECTORS[s] for s in ("AAA", "BBB", "CCC", "DDD")} | {"unknown"}
    assert view["exposure"]["asset_class"]["crypto"]["weight"] == pytest.approx(
        0.1 * px["BTC-USD"] / 100000
    )
    aaa = next(p for p in view["positions"] if p["symbol"] == "AAA")
    assert aaa["r_multiple"] == pytest.approx((px["AAA"] - 90) / 5)
    assert [c["symbols"] for c in view["clusters"]] == [["AAA", "BBB"]]
    assert any("no price for 1 symbol(s) (ZZZ)" in w for w in view["warnings"])

    r = run(["portfolio", "--as-of", LAST_DAY.isoformat()])
    assert r.exit_code == 0, r.output
    assert max(len(line) for line in r.stdout.splitlines()) <= 80
    assert "Correlated holdings" in r.stdout and "AAA, BBB" in r.stdout
    assert "warning: no price for 1 symbol(s) (ZZZ)" in r.stderr


def test_portfolio_survives_a_broken_broker(cli_env, monkeypatch):
    monkeypatch.setenv("TSYS__BROKER__NAME", '"nosuch"')
    assert add_trade("AAA", 1, 5, "2024-03-02").exit_code == 0
    r = run(["portfolio", "--json", "--as-of", LAST_DAY.isoformat()])
    assert r.exit_code == 0, r.output
    view = json.loads(r.stdout)
    assert [p["symbol"] for p in view["positions"]] == ["AAA"]
    assert any("paper positions unavailable from broker 'nosuch'" in w for w in view["warnings"])


def test_portfolio_10k_trades(tmp_path, monkeypatch, test_plugins):
    from tsys.store import open_store
    from tsys.store.manual_trade import TradeInput

    url = f"sqlite:///{tmp_path / 'big.db'}"
    cfg = tmp_path / "tsys.toml"
    cfg.write_text('[data]\nsource = "testprices"\n[broker]\nname = "testpaper"\n')
    monkeypatch.setenv("TSYS_DATABASE_URL", url)
    monkeypatch.setenv("TSYS_CONFIG", str(cfg))
    monkeypatch.setenv("TSYS_DATA_DIR", str(tmp_path / "data"))
    syms = ["AAA", "BBB", "CCC", "DDD"]
    d0 = dt.datetime(2024, 1, 2, tzinfo=dt.UTC)
    n = 10_000
    with open_store(url) as s:
        s.manual.bulk_add(
            TradeInput(syms[i % 4], "buy", 1 + i % 7, 10 + i % 13, d0) for i in range(n)
        )
    t0 = time.perf_counter()
    r = run(["portfolio", "--json", "--as-of", LAST_DAY.isoformat()])
    elapsed = time.perf_counter() - t0
    assert r.exit_code == 0, r.output
    view = json.loads(r.stdout)
    px = last_prices()
    assert view["totals"]["positions"] == n
    assert view["totals"]["market_value"] == pytest.approx(
        sum((1 + i % 7) * px[syms[i % 4]] for i in range(n))
    )
    assert view["totals"]["cost"] == pytest.approx(
        sum((1 + i % 7) * (10 + i % 13) for i in range(n))
    )
    print(f"\n10k trades: tsys portfolio --json in {elapsed:.2f} s")
    assert elapsed < 30
