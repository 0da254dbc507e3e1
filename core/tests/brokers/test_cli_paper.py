"""`tsys paper` against a local paper account in a real SQLite store."""

import datetime as dt
import json

import pytest
from click.testing import CliRunner
from test_local import COSTS, make_bars, plan

from tsys.brokers.local import LocalPaperBroker
from tsys.cli import cli
from tsys.store import open_store
from tsys.store.paper import PaperLedger


@pytest.fixture
def account(tmp_path, monkeypatch):
    cfg = tmp_path / "tsys.toml"
    cfg.write_text(
        f'data_dir = "{tmp_path}"\n[account]\nsize = 10000\n'
        '[broker]\nname = "local"\n[broker.options]\nfee_bps = 10.0\n'
        "fee_minimum = 1.0\nslippage_bps = 5.0\n"
    )
    monkeypatch.setenv("TSYS_CONFIG", str(cfg))
    monkeypatch.delenv("TSYS_DATABASE_URL", raising=False)
    store = open_store(data_dir=tmp_path)
    b = LocalPaperBroker(ledger=PaperLedger(store), cash=10_000.0, costs=COSTS)
    d0 = dt.date(2024, 5, 1)
    b.submit([plan("AAA", 10, d0), plan("BTC-USD", 2.5, d0)])
    b.sync(make_bars([[100.0, 50.0], [101.0, 51.0]]))
    cash = b.account().cash
    store.close()
    return cash


def run(*args):
    res = CliRunner().invoke(cli, ["paper", *args])
    assert res.exit_code == 0, res.output
    return res.output


def test_paper_commands(account, tmp_path):
    acct = json.loads(run("account", "--json"))
    assert acct["cash"] == pytest.approx(account)
    pos = json.loads(run("positions", "--json"))
    assert sorted((p["symbol"], p["quantity"]) for p in pos) == [("AAA", 10.0), ("BTC-USD", 2.5)]
    orders = json.loads(run("orders", "--json", "--status", "filled"))
    assert [[e["status"] for e in o["events"]] for o in orders] == [["accepted", "filled"]] * 2
    rec = json.loads(run("reconcile", "--json"))
    assert rec["ok"] is True and rec["differences"] == []
    rep = json.loads(run("report", "--json", "--html", str(tmp_path / "r.html")))
    assert [r["realised_slippage"] for r in rep["fills"]] == pytest.approx(
        [r["modelled_slippage"] for r in rep["fills"]]
    )
    assert rep["fills"][0]["realised_slippage"] == pytest.approx(10 * 101.0 * 0.0005)
    assert "AAA" in (tmp_path / "r.html").read_text()
    assert "likely cause" not in run("reconcile")
