"""`tsys ml train` and `tsys ml report` end to end, and `tsys research --ml`, on CSV files."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from ml_market import market
from research_market import csv_folder, installed_bucket

from tsys.cli import cli


@pytest.fixture
def coin_plugin(tmp_path, monkeypatch):
    monkeypatch.setenv("TSYS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("TSYS_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    with installed_bucket(tmp_path / "site", monkeypatch, "coin", "ml_market", "CoinBucket") as pkg:
        yield pkg


@pytest.fixture
def csv_market(tmp_path):
    return csv_folder(market(planted=True, n_days=900), tmp_path / "csv")


def test_train_saves_a_judged_model_and_report_renders_it(coin_plugin, csv_market, tmp_path):
    run = CliRunner().invoke(
        cli, ["ml", "train", "coin", "--path", str(csv_market), "--folds", "3", "--json"]
    )
    assert run.exit_code == 0, run.output
    got = json.loads(run.output)
    j = got["judgement"]
    assert set(j) >= {"with_ml", "without_ml", "anchors", "folds", "decision"}
    assert j["anchors"][0]["name"] == "buy_and_hold"
    assert got["model"]["training"]["events"] > 100
    assert got["model"]["features"][0] == "score"
    out = tmp_path / "ml.html"
    rep = CliRunner().invoke(cli, ["ml", "report", "coin", "--html", str(out)])
    assert rep.exit_code == 0, rep.output
    html = out.read_text()
    for part in ("Calibration", "Precision and recall", "Feature importance", "with ML",
                 "without ML", "buy and hold", "ML ON" if j["decision"]["ml_on"] else "ML OFF"):  # fmt: skip
        assert part in html, part


def test_report_without_a_model_says_how_to_train(coin_plugin):
    run = CliRunner().invoke(cli, ["ml", "report", "coin"])
    assert run.exit_code != 0
    assert "tsys ml train coin" in run.output


def test_research_ml_compares_on_the_same_folds(coin_plugin, csv_market):
    run = CliRunner().invoke(
        cli,
        ["research", "coin", "--path", str(csv_market), "--folds", "3", "--trials", "2",
         "--random-backtests", "10", "--ml", "filter", "--json"],
    )  # fmt: skip
    assert run.exit_code == 0, run.output
    rep = json.loads(run.output[run.output.index("{") :])
    ml = rep["ml"]
    assert ml["start"] == rep["out_of_sample"]["start"] and ml["end"] == rep["out_of_sample"]["end"]
    # without ML it is the research's own out-of-sample account
    assert ml["without_ml"]["sharpe"] == pytest.approx(rep["out_of_sample"]["metrics"]["sharpe"])
    assert [a["name"] for a in ml["anchors"]] == [a["name"] for a in rep["anchors"]]
    assert len(ml["folds"]) == 3
