"""``tsys data ...`` through click's runner on the real CLI group."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from tsys.cli import cli
from tsys.data import demo, demo_market


@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no ./tsys.toml
    monkeypatch.setenv("TSYS_CONFIG", str(tmp_path / "tsys.toml"))
    (tmp_path / "tsys.toml").write_text('[data]\nsource = "demo"\ndemo_seed = 7\n')
    monkeypatch.setenv("TSYS_DATA_DIR", str(tmp_path / "data"))

    def invoke(*args):
        return CliRunner().invoke(cli, list(args), catch_exceptions=False)

    return invoke


def folder(tmp_path: Path) -> Path:
    d = tmp_path / "prices"
    d.mkdir()
    rows = [
        "2024-01-02,10,11,9,10.5,100",
        "2024-01-03,10,11,9,0,100",
        "2024-01-05,10,11,9,10.5,100",
        "2024-01-08,10,11,9,10.5,100",
    ]
    (d / "BAD.csv").write_text("date,open,high,low,close,volume\n" + "\n".join(rows) + "\n")
    (d / "OK.csv").write_text("Date,Open,High,Low,Close,Volume\n2024-01-02,1,2,0.5,1.5,10\n")
    return d


def test_validate_csv_summary(run, tmp_path):
    d = folder(tmp_path)
    res = run("data", "validate", "--source", "csv", "--path", str(d))
    assert res.exit_code == 0, res.output
    assert "symbols: 2" in res.output and "rows dropped: 1" in res.output
    assert "nonpositive_price" in res.output and "2024-01-03" in res.output
    # The dropped 01-03 row is not a gap (it was in the file); 01-04 was missing.
    assert "gap" in res.output and "2024-01-04" in res.output


def test_validate_strict_exits_with_data_error_code(run, tmp_path):
    d = folder(tmp_path)
    res = run("data", "validate", "--source", "csv", "--path", str(d), "--strict")
    assert res.exit_code == 4
    assert "strict" in res.output


def test_validate_json(run, tmp_path):
    d = folder(tmp_path)
    res = run("data", "validate", "--source", "csv", "--path", str(d), "--json")
    data = json.loads(res.output)
    assert data["rows_dropped"] == 1 and data["symbols"] == 2
    bad = [i for i in data["issues"] if i["rule"] == "nonpositive_price"]
    assert bad == [
        {
            "symbol": "BAD",
            "rule": "nonpositive_price",
            "severity": "error",
            "count": 1,
            "dropped": 1,
            "examples": ["2024-01-03"],
            "message": "open/high/low/close zero or negative",
        }
    ]


def test_csv_without_path_is_a_config_error(run):
    res = run("data", "validate", "--source", "csv")
    assert res.exit_code == 3 and "--path" in res.output


def test_bars_demo_json(run):
    res = run("data", "bars", "SPY", "--source", "demo", "--end", "2021-03-31", "--json")
    data = json.loads(res.output)
    assert data["synthetic"] is True and data["source"] == "demo (synthetic, seed 7)"
    assert len(data["bars"]) == 10 and data["bars"][-1]["date"] == "2021-03-31"
    res = run("data", "bars", "SPY", "--end", "2021-03-31")
    assert "SYNTHETIC" in res.output and "2021-03-31" in res.output


def test_bars_csv_and_unknown_symbol(run, tmp_path):
    d = folder(tmp_path)
    res = run("data", "bars", "BAD", "--source", "csv", "--path", str(d), "--end", "2024-01-31")
    assert res.exit_code == 0
    assert "2024-01-03" not in res.stdout and "2024-01-08" in res.stdout
    assert "dropped 1 row(s)" in res.stderr  # the warning names the date and reason
    res = run("data", "bars", "NOPE", "--source", "csv", "--path", str(d), "--end", "2024-01-31")
    assert res.exit_code == 4


def test_universe_crypto_excludes_stablecoins(run):
    res = run("data", "universe", "crypto", "--as-of", "2021-03-31", "--top", "8", "--json")
    data = json.loads(res.output)
    syms = [m["symbol"] for m in data["members"]]
    assert len(syms) == 8 and syms[0] == "BTC-USD"
    assert not set(syms) & demo.EXCLUDED_COINS
    caps = [m["market_cap"] for m in data["members"]]
    assert caps == sorted(caps, reverse=True)


def test_universe_sp500_point_in_time(run):
    res = run("data", "universe", "sp500", "--as-of", "2021-03-31", "--json")
    members = json.loads(res.output)["members"]
    assert len(members) == demo_market.N_MEMBERS
    src = demo.DemoSource(7)
    import datetime as dt

    assert members == src.universe("sp500", dt.date(2021, 3, 31))
    res = run("data", "universe", "nasdaq", "--as-of", "2021-03-31")
    assert res.exit_code == 4 and "does not provide" in res.output


def test_news_demo(run):
    sym = demo._tickers()[0]
    res = run("data", "news", sym, "--days", "60", "--end", "2021-03-31", "--json")
    rows = json.loads(res.output)["news"]
    assert rows and all(r["title"].startswith("[synthetic]") for r in rows)
    assert all(-1 <= r["sentiment"] <= 1 for r in rows)


def test_help_teaches(run):
    res = run("data", "--help")
    assert "validate" in res.output and "universe" in res.output
    res = run("data", "validate", "--help")
    assert "--strict" in res.output and "gap" in res.output
