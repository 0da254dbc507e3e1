"""`tsys ml train` and `tsys ml report` end to end, and `tsys research --ml`, on CSV files."""

from __future__ import annotations

import json
import textwrap

import pytest
from click.testing import CliRunner
from ml_market import market

from tsys import plugins
from tsys.cli import cli

PLUGIN = """
from ml_market import CoinBucket
from tsys.hookspecs import hookimpl


class Coin(CoinBucket):
    name = "coin"


@hookimpl
def register_buckets(register):
    register(Coin())
"""


@pytest.fixture
def coin_plugin(tmp_path, monkeypatch):
    site = tmp_path / "site"
    pkg = site / "tsysfake_coin"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text(textwrap.dedent(PLUGIN))
    info = site / "tsys_fake_coin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: tsys-fake-coin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[tsys]\nfake-coin = tsysfake_coin\n")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("TSYS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("TSYS_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    plugins.reset_plugin_manager()
    yield pkg
    import sys

    sys.modules.pop("tsysfake_coin", None)
    plugins.reset_plugin_manager()


@pytest.fixture
def csv_market(tmp_path):
    folder = tmp_path / "csv"
    folder.mkdir()
    bars = market(planted=True, n_days=900)
    for s in bars.symbols:
        df = bars.symbol_frame(s)
        df.index = df.index.strftime("%Y-%m-%d")
        df.to_csv(folder / f"{s}.csv", index_label="date")
    return folder


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
