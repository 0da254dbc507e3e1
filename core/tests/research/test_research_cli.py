"""`tsys research` end to end: a bucket plugin on a folder of CSV files, JSON, HTML, defaults."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from research_market import csv_folder, installed_bucket, planted_market

from tsys import plugins
from tsys.cli import cli


@pytest.fixture
def planted_plugin(tmp_path, monkeypatch):
    site = tmp_path / "site"
    with installed_bucket(site, monkeypatch, "planted", "research_market", "PlantedBucket") as pkg:
        yield pkg


@pytest.fixture
def csv_market(tmp_path):
    return csv_folder(planted_market(n_days=900), tmp_path / "csv")


def test_research_command_json_html_and_defaults(planted_plugin, csv_market, data_dir, tmp_path):
    shipped = tmp_path / "shipped.json"
    args = ["research", "planted", "--source", "csv", "--path", str(csv_market), "--folds", "3",
            "--trials", "3", "--random-backtests", "20", "--blocks", "8", "--json",
            "--write-defaults", str(shipped)]  # fmt: skip
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, res.output
    rep = json.loads(res.output[res.output.index("{") :])
    assert rep["kind"] == "research" and rep["bucket"] == "planted"
    assert len(rep["folds"]) == 3 and rep["spec"]["trials_per_optimisation"] == 3
    assert rep["parameter_set"]["origin"] == "defaults"
    assert rep["synthetic"] is False
    saved = json.loads(Path(rep["saved_to"]).read_text())
    assert saved["final"] == rep["final"]
    assert rep["saved_to"].startswith(str(data_dir / "research"))
    html = Path(rep["html"]).read_text()
    assert ("PASSED" if rep["passed"] else "FAILED") in html
    assert f'data-value="{rep["trials"]["distinct_configurations"]}"' in html
    doc = json.loads(shipped.read_text())
    assert doc["params"] == rep["final"]["chosen_params"]
    assert doc["n_trials"] == rep["trials"]["distinct_configurations"]
    assert doc["data_fingerprint"] == rep["data_fingerprint"]
    assert doc["research"]["passed"] == rep["passed"]
    # the shipped document names the report it came from (relative to the data dir)
    assert data_dir / doc["report"] == Path(rep["saved_to"])


def test_shipped_defaults_become_the_buckets_defaults(planted_plugin, csv_market, data_dir):
    from tsys.config import Config, DataConfig
    from tsys.paramsets import resolve_params

    args = ["research", "planted", "--source", "csv", "--path", str(csv_market), "--folds", "2",
            "--trials", "2", "--random-backtests", "10", "--blocks", "4", "--write-defaults"]  # fmt: skip
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, res.output
    target = planted_plugin / "params.json"
    assert f"defaults written to {target}" in " ".join(res.output.split())
    doc = json.loads(target.read_text())
    bucket = plugins.buckets().get("planted")
    real = Config(data=DataConfig(source="csv"))
    got = resolve_params(bucket, real)
    assert got.origin == "shipped" and got.path == str(target)
    assert got.values == doc["params"] == __import__("attrs").asdict(bucket.default_params())
    # a user's own file still wins over the shipped defaults
    (data_dir / "params").mkdir(parents=True)
    (data_dir / "params" / "planted.json").write_text(json.dumps({"params": {"hold": 12}}))
    mine = resolve_params(bucket, real)
    assert mine.origin == "data dir" and mine.values["hold"] == 12


def test_shipping_defaults_from_synthetic_data_is_refused():
    from tsys.cli.research import _ship
    from tsys.errors import ConfigError

    with pytest.raises(ConfigError, match="synthetic"):
        _ship(object(), {"synthetic": True}, "")


def test_research_report_renders_text_parameters(planted_plugin, csv_market, data_dir):
    """Regression: a research report whose parameters include text (a mode such as "trend")
    failed to render ("could not convert string to float"), losing the HTML and --json output
    of a finished run."""
    from tsys.report.research import render

    args = ["research", "planted", "--source", "csv", "--path", str(csv_market), "--folds", "2",
            "--trials", "1", "--random-backtests", "10", "--blocks", "4", "--json"]  # fmt: skip
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, res.output
    rep = json.loads(res.output[res.output.index("{") :])
    rep["final"]["chosen_params"] = {**rep["final"]["chosen_params"], "mode": "trend"}
    rep["start_params"] = {**rep["start_params"], "mode": "members", "flag": True}
    rep["folds"][0]["changed_from_current"] = {"mode": "trend", "window": 0.125}
    html = render(rep)
    assert "<td>mode</td><td>trend</td><td>members</td>" in html
    assert "mode=trend, window=0.125" in html


def test_research_credits_interest_on_idle_cash_apart(planted_plugin, csv_market, data_dir,
                                                       monkeypatch, tmp_path):  # fmt: skip
    """[account] cash_rate: the walk-forward account, the benchmark and the anchors all earn it
    on idle cash; the report gives the interest apart from trading PnL (JSON, text, HTML)."""
    from tsys.config import Config, config_from_dict
    from tsys.research.lab import Lab

    monkeypatch.setenv("TSYS__ACCOUNT__CASH_RATE", "0.05")
    args = ["research", "planted", "--source", "csv", "--path", str(csv_market), "--folds", "2",
            "--trials", "1", "--random-backtests", "10", "--blocks", "4"]  # fmt: skip
    res = CliRunner().invoke(cli, [*args, "--json"])
    assert res.exit_code == 0, res.output
    rep = json.JSONDecoder().raw_decode(res.output[res.output.index("{") :])[0]
    assert rep["cash_rate"] == 0.05
    oos = rep["out_of_sample"]
    assert oos["interest"] > 0
    eq = rep["curves"]["strategy"]
    assert oos["trading_pnl"] + oos["interest"] == pytest.approx(eq[-1] - eq[0], abs=0.01)
    html = Path(rep["html"]).read_text()
    assert f'data-interest="{oos["interest"]}"' in html and "idle cash earned 5.00%/yr" in html
    text = CliRunner().invoke(cli, args)
    assert text.exit_code == 0, text.output
    assert "out of sample, idle cash earned 5.00%/yr: interest $" in " ".join(text.output.split())
    # the anchors' idle cash earns the same rate: 10-month SMA timing ends higher with it
    from research_market import hub_of, planted_market

    bucket = plugins.buckets().get("planted")
    hub = hub_of(planted_market(n_days=900), tmp_path / "lab")
    paid = Lab(bucket, hub, config_from_dict({"account": {"cash_rate": 0.05}}))
    free = Lab(bucket, hub, Config())
    assert paid.cash_rate == 0.05 and free.cash_rate == 0.0
    a, b = paid.index[0], paid.index[-1]
    sma_paid = paid.anchors(a, b, names=["sma10"])[0].equity
    sma_free = free.anchors(a, b, names=["sma10"])[0].equity
    assert sma_paid[-1] > sma_free[-1]


def test_gate_thresholds_and_values_are_not_rounded_in_reports(planted_plugin, csv_market,
                                                               data_dir):  # fmt: skip
    """Regression (issue 15): the research HTML printed a gate threshold of 0.35 as "0.4"
    (one decimal); thresholds and values now keep 4 significant digits in the research and
    validation HTML and the CLI's gates table."""
    from rich.console import Console

    from tsys.cli.validate import gates_table
    from tsys.report.research import render

    args = ["research", "planted", "--source", "csv", "--path", str(csv_market), "--folds", "2",
            "--trials", "1", "--random-backtests", "10", "--blocks", "4", "--json"]  # fmt: skip
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, res.output
    rep = json.JSONDecoder().raw_decode(res.output[res.output.index("{") :])[0]
    gates = [{"name": "max drawdown", "value": 0.3449, "threshold": 0.35, "rule": "<=",
              "passed": True},
             {"name": "probability of backtest overfitting", "value": 0.3051, "threshold": 0.3,
              "rule": "<=", "passed": False}]  # fmt: skip
    html = render({**rep, "gates": gates})
    assert "&lt;= 0.35</td>" in html and "&lt;= 0.3</td>" in html
    assert ">0.3449<" in html and ">0.3051<" in html
    con = Console(width=200, record=True)
    con.print(gates_table(gates))
    text = con.export_text()
    assert "<= 0.35" in text and "0.3449" in text and "0.3051" in text
