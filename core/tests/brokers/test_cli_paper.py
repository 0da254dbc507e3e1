"""`tsys paper` against a local paper account in a real SQLite store, bars from a csv folder."""

import datetime as dt
import json
import re

import pytest
from click.testing import CliRunner
from test_local import COSTS, make_bars, plan

from tsys.brokers.local import LocalPaperBroker
from tsys.cli import cli
from tsys.store import open_store
from tsys.store.paper import PaperLedger

OPENS = [[100.0, 50.0], [101.0, 51.0], [99.0, 52.5]]


def write_csv(bars, folder):
    folder.mkdir()
    for j, s in enumerate(bars.symbols):
        lines = ["date,open,high,low,close,volume"]
        for i, ts in enumerate(bars.index):
            row = [getattr(bars, f)[i, j] for f in ("open", "high", "low", "close", "volume")]
            lines.append(ts.date().isoformat() + "," + ",".join(repr(float(x)) for x in row))
        (folder / f"{s}.csv").write_text("\n".join(lines) + "\n")


@pytest.fixture
def account(tmp_path, monkeypatch):
    bars = make_bars(OPENS)
    write_csv(bars, tmp_path / "bars")
    cfg = tmp_path / "tsys.toml"
    cfg.write_text(
        f'data_dir = "{tmp_path}"\n[account]\nsize = 10000\n'
        f'[data]\nsource = "csv"\npath = "{tmp_path / "bars"}"\n'
        '[broker]\nname = "local"\n[broker.options]\nfee_bps = 10.0\n'
        "fee_minimum = 1.0\nslippage_bps = 5.0\n"
    )
    monkeypatch.setenv("TSYS_CONFIG", str(cfg))
    monkeypatch.delenv("TSYS_DATABASE_URL", raising=False)
    store = open_store(data_dir=tmp_path)
    b = LocalPaperBroker(ledger=PaperLedger(store), cash=10_000.0, costs=COSTS)
    d0 = dt.date(2024, 5, 1)
    b.submit([plan("AAA", 10, d0), plan("BTC-USD", 2.5, d0)], decision_date=d0)
    b.sync(bars.head(1))  # marks day 0: all cash
    b.sync(bars.head(2))  # fills at day 1's open, marks day 1
    b.sync(bars)  # marks day 2
    cash = b.account().cash
    store.close()
    return cash, bars


def run(*args):
    res = CliRunner().invoke(cli, ["paper", *args])
    assert res.exit_code == 0, res.output
    return res.output


def test_paper_commands(account, tmp_path):
    cash, _ = account
    acct = json.loads(run("account", "--json"))
    assert acct["cash"] == pytest.approx(cash)
    pos = json.loads(run("positions", "--json"))
    assert sorted((p["symbol"], p["quantity"]) for p in pos) == [("AAA", 10.0), ("BTC-USD", 2.5)]
    orders = json.loads(run("orders", "--json", "--status", "filled"))
    assert [[e["status"] for e in o["events"]] for o in orders] == [["accepted", "filled"]] * 2
    rec = json.loads(run("reconcile", "--json"))
    assert rec["ok"] is True and rec["differences"] == []
    assert "likely cause" not in run("reconcile")


def test_paper_report(account, tmp_path):
    cash, bars = account
    rep = json.loads(run("report", "--json", "--html", str(tmp_path / "r.html")))
    # 3 sessions: no CAGR of 75% over 3 days (issue 13.7)
    assert rep["warnings"] == [
        "3 session(s) of paper trading: too short to annualise (CAGR, Sharpe, volatility "
        "need at least 60)"
    ]
    assert rep["metrics"]["cagr"] is None and rep["metrics"]["sharpe"] is None
    html = (tmp_path / "r.html").read_text()
    assert "too short to annualise" in html and "0 closed, 2 still open" in html
    assert "too short to annualise" in run("report")
    # Fills: 5 bps over the open, fee 10 bps with a $1 minimum, modelled == realised.
    aaa, btc = rep["fills"]
    assert aaa["price"] == pytest.approx(101.0 * 1.0005)
    assert aaa["realised_slippage"] == pytest.approx(10 * 101.0 * 0.0005)
    assert btc["realised_slippage"] == pytest.approx(2.5 * 51.0 * 0.0005)
    fee_aaa = max(1.0, 10 * 101.0 * 1.0005 * 0.001)  # 10 bps of 1010.5: above the minimum
    fee_btc = max(1.0, 2.5 * 51.0 * 1.0005 * 0.001)  # 10 bps of 127.6: the $1 minimum
    assert (aaa["fee"], btc["fee"]) == pytest.approx((fee_aaa, 1.0))
    for f in rep["fills"]:
        assert f["match"] is True and f["note"] == ""
        assert f["modelled_price"] == pytest.approx(f["price"], rel=1e-12)
        assert f["realised_slippage_bps"] == pytest.approx(5.0)
        assert f["modelled_slippage_bps"] == pytest.approx(5.0)
    # Equity: one mark a day, cash + quantity x close.
    closes = bars.close
    paid = 10 * 101.0 * 1.0005 + fee_aaa + 2.5 * 51.0 * 1.0005 + fee_btc
    expect = [
        10_000.0,
        10_000.0 - paid + 10 * closes[1, 0] + 2.5 * closes[1, 1],
        10_000.0 - paid + 10 * closes[2, 0] + 2.5 * closes[2, 1],
    ]
    assert rep["dates"] == ["2024-05-01", "2024-05-02", "2024-05-03"]
    assert rep["equity_curve"] == pytest.approx(expect, rel=1e-12)
    assert rep["cash_curve"][-1] == pytest.approx(cash)
    assert rep["metrics"]["total_return"] == pytest.approx(expect[-1] / 10_000.0 - 1)
    assert rep["metrics"]["max_drawdown"] == pytest.approx(min(0.0, expect[2] / expect[1] - 1))
    # Both positions are still open, marked at the last close.
    assert [(t["symbol"], t["exit_reason"]) for t in rep["trades"]] == [
        ("AAA", "open"),
        ("BTC-USD", "open"),
    ]
    assert rep["trades"][0]["pnl"] == pytest.approx(10 * (closes[2, 0] - 101.0 * 1.0005) - fee_aaa)
    # The replayed plans end exactly where the paper account is.
    d = rep["drift"]
    assert d["backtest_equity"] == pytest.approx(expect, rel=1e-12)
    assert d["max_abs_drift"] == pytest.approx(0.0, abs=1e-6)
    html = (tmp_path / "r.html").read_text()
    assert "AAA" in html and "<svg" in html and "Drift" in html
    # the page is the jinja template's: each metric cell shows its value as the other reports do
    from tsys.format import figure

    cell = re.search(r'data-metric="total_return".*?data-value="([^"]*)">([^<]*)<', html)
    assert float(cell.group(1)) == pytest.approx(rep["metrics"]["total_return"])
    assert cell.group(2) == figure(rep["metrics"]["total_return"], "pct")
    text = run("report")
    assert "2 as modelled" in text and "DIFFERS" not in text
