"""``[account] cash_rate``: idle cash earns interest in backtest, research, validate and optimize,
reported apart from trading PnL (text, --json, HTML)."""

from __future__ import annotations

import json
import re

import attrs
import numpy as np
import pytest
from click.testing import CliRunner

from tsys.cli import cli
from tsys.config import DEFAULT_CASH_RATE, STARTER, Config, config_from_dict, load_config
from tsys.errors import ConfigError

DEMO = ["--source", "demo", "--start", "2021-01-01", "--end", "2021-12-31"]


@pytest.fixture
def sandbox(tmp_path, monkeypatch):
    monkeypatch.setenv("TSYS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("TSYS_CONFIG", raising=False)
    monkeypatch.delenv("TSYS__ACCOUNT__CASH_RATE", raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_cash_rate_default_file_env_and_bounds(tmp_path, monkeypatch):
    assert Config().account.cash_rate == DEFAULT_CASH_RATE == 0.0
    assert "cash_rate = 0.0" in STARTER  # the starter file documents the key and its default
    assert config_from_dict({"account": {"cash_rate": 0.04}}).account.cash_rate == 0.04
    assert config_from_dict({"account": {"cash_rate": 0}}).account.cash_rate == 0.0
    for bad in (0.9, -0.5, float("nan"), True, "four"):
        with pytest.raises(ConfigError):
            config_from_dict({"account": {"cash_rate": bad}})
    monkeypatch.setenv("TSYS__ACCOUNT__CASH_RATE", "0.035")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TSYS_CONFIG", raising=False)
    assert load_config().account.cash_rate == 0.035


def _backtest(rate: float | None, monkeypatch, *extra: str) -> tuple[dict, str]:
    if rate is None:
        monkeypatch.delenv("TSYS__ACCOUNT__CASH_RATE", raising=False)
    else:
        monkeypatch.setenv("TSYS__ACCOUNT__CASH_RATE", str(rate))
    res = CliRunner().invoke(cli, ["backtest", "crypto", *DEMO, "--json", *extra])
    assert res.exit_code == 0, res.output
    payload = json.loads(res.output[res.output.index("{") :])
    text = CliRunner().invoke(cli, ["backtest", "crypto", *DEMO])
    assert text.exit_code == 0, text.output
    return payload, " ".join(text.output.split())


def test_backtest_reports_interest_apart_from_trading_pnl(sandbox, monkeypatch):
    none, none_text = _backtest(None, monkeypatch)
    assert none["cash_rate"] == 0.0 and none["interest"] == 0.0
    assert none["trading_pnl"] == pytest.approx(none["equity"][-1] - none["cash"])
    assert "idle cash earned nothing" in none_text

    html = sandbox / "bt.html"
    paid, text = _backtest(0.05, monkeypatch, "--report", str(html))
    assert paid["cash_rate"] == 0.05
    # a bucket in cash much of the time earns something, never more than all of it would
    days = (np.datetime64(paid["dates"][-1]) - np.datetime64(paid["dates"][0])).astype(int)
    assert 0 < paid["interest"] <= paid["equity"][-1] * 0.05 * days / 365 * 1.01
    # final equity = start cash + interest + trading PnL, to the cent
    total = paid["cash"] + paid["interest"] + paid["trading_pnl"]
    assert total == pytest.approx(paid["equity"][-1], abs=0.01)
    # the benchmark keeps 1% in cash, which earns the same rate
    assert paid["benchmark_equity"][-1] > none["benchmark_equity"][-1]
    m = re.search(r"idle cash earned 5\.00%/yr: interest \$([\d,\.]+), trading PnL", text)
    assert m and float(m.group(1).replace(",", "")) == pytest.approx(paid["interest"], abs=0.01)
    page = html.read_text()
    got = re.search(r'data-interest="([^"]+)" data-trading-pnl="([^"]+)"', page)
    assert got and float(got.group(1)) == pytest.approx(paid["interest"])
    assert float(got.group(2)) == pytest.approx(paid["trading_pnl"])
    assert "idle cash earned 5.00%/yr" in page


def test_validate_and_optimize_use_the_configured_rate(sandbox, monkeypatch):
    from tsys.optimize.bucket import BucketEvaluator

    monkeypatch.setenv("TSYS__ACCOUNT__CASH_RATE", "0.04")
    args = ["validate", "crypto", *DEMO, "--max-symbols", "4", "--bootstrap", "60",
            "--random-backtests", "10", "--json", "--html", str(sandbox / "v.html")]  # fmt: skip
    res = CliRunner().invoke(cli, args)
    assert res.exit_code in (0, 1), res.output  # 1: gates failed, the report is still there
    rep = json.loads(res.output[res.output.index("{") :])
    assert rep["cash_rate"] == 0.04 and rep["interest"] > 0
    page = (sandbox / "v.html").read_text()
    assert "idle cash earned 4.00%/yr" in page and f'data-interest="{rep["interest"]}"' in page
    # the default drawdown gate, 0.35, reads as configured (it printed as 0.3 or 0.4 before)
    assert '<td data-threshold="0.35">&lt;= 0.35</td>' in page

    ev = BucketEvaluator("crypto", source="demo", start="2020-01-01", end="2021-12-31")
    params = attrs.asdict(ev.bucket.default_params())
    fold = ev.evaluate(params, 0)
    assert fold.extra["cash_rate"] == 0.04 and fold.extra["interest"] > 0
    assert ev.data_fingerprint()["cash_rate"] == 0.04  # a study never mixes rates
    monkeypatch.delenv("TSYS__ACCOUNT__CASH_RATE")
    ev0 = BucketEvaluator("crypto", source="demo", start="2020-01-01", end="2021-12-31")
    assert "cash_rate" not in ev0.data_fingerprint()  # studies at 0% keep their old keys
    assert ev0.evaluate(params, 0).extra["interest"] == 0.0
