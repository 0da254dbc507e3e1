"""`tsys validate` end to end on a tiny demo panel: report, HTML, saved file, sealed holdout."""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner

from tsys.backtest.splits import holdout_uses
from tsys.cli import cli

ARGS = [
    "validate", "crypto", "--source", "demo", "--start", "2019-01-01", "--end", "2021-12-31",
    "--max-symbols", "6", "--bootstrap", "60", "--random-backtests", "20", "--json",
]  # fmt: skip


def test_validate_report_and_sealed_holdout(tmp_path, monkeypatch):
    monkeypatch.setenv("TSYS_DATA_DIR", str(tmp_path / "data"))
    data = tmp_path / "data" / "demo"  # --source demo: reports and holdout log in the sandbox
    monkeypatch.delenv("TSYS_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    # a params file as tsys optimize writes it: 40 trials with a known spread of Sharpes
    import attrs

    from tsys import plugins

    bucket = plugins.buckets().get("crypto")
    params = {**attrs.asdict(bucket.default_params()), "chandelier_atr": 3.0}
    pfile = tmp_path / "crypto.json"
    pfile.write_text(
        json.dumps(
            {"bucket": "crypto", "params": params, "study": "st", "n_trials": 38,
             "n_trials_total": 40, "trials_sharpe_variance": 0.25}
        )
    )  # fmt: skip
    html = tmp_path / "v.html"
    res = CliRunner().invoke(cli, [*ARGS, "--params", str(pfile), "--html", str(html)])
    assert res.exit_code == 0, res.output
    rep = json.loads(res.output[res.output.index("{") :])
    assert holdout_uses(data) == []  # never touched without --holdout
    assert rep["period"] == "train+validation" and rep["holdout"] is False
    assert rep["params"] == params
    assert rep["n_trials"] == 40 and rep["study"] == "st"
    f = rep["figures"]
    # the deflated Sharpe is deflated: 40 trials -> below the PSR against zero
    assert f["deflated_sharpe"] < f["psr"]
    assert rep["sharpe_ci"]["low"] <= f["sharpe"] <= rep["sharpe_ci"]["high"]
    assert {s["name"] for s in rep["stress"]} >= {
        "costs x2", "costs x3", "execution one bar late", "random half of the universe",
        "account x10",
    }  # fmt: skip
    by = {s["name"]: s for s in rep["stress"]}
    # more costs can only hurt: the same decisions filled at worse prices
    assert by["costs x3"]["cagr"] <= by["costs x2"]["cagr"] <= f["cagr"] + 1e-12
    assert rep["passed"] == all(g["passed"] for g in rep["gates"])
    saved = json.loads((data / "validation" / f"crypto-{rep['params_digest']}.json").read_text())
    assert saved["figures"] == rep["figures"]
    text = html.read_text()
    assert "http://" not in text and "https://" not in text and "<script" not in text
    shown = re.search(r'id="figures".*?data-value="([^"]+)"', text, re.S).group(1)
    assert float(shown) == pytest.approx(f["sharpe"])

    res = CliRunner().invoke(cli, [*ARGS, "--params", str(pfile), "--holdout"])
    assert res.exit_code == 0, res.output
    hold = json.loads(res.output[res.output.index("{") :])
    uses = holdout_uses(data)
    assert len(uses) == 1 and "tsys validate crypto --holdout" in uses[0]["what"]
    assert hold["period"] == "holdout" and hold["start"] > rep["end"]
