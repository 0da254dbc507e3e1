"""Issue 13.4, "one parameter story": backtest, validate, optimize and run-daily take the same
parameters (--params FILE, [buckets.NAME] params_file relative to the data dir,
<data dir>/params/NAME.json, the defaults; --param KEY=VALUE on top) and say which, with the
file's hash. Each test is named after a defect the issue reproduced.

No configuration file here means the built-in one: the demo market (``run-daily`` asks for it
with ``--demo``), whose workspace (and so its params folder) is ``<data dir>/demo``.
"""

from __future__ import annotations

import hashlib
import json

import pytest
from click.testing import CliRunner

from tsys.cli import cli

DAY = "2024-03-12"


def tsys(*args: str, code: int = 0):
    res = CliRunner().invoke(cli, list(args))
    assert res.exit_code == code, res.output
    return res


def tsys_json(*args: str) -> dict:
    return json.loads(tsys(*args, "--json").stdout)


def _sha12(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


@pytest.fixture
def params_file(isolated):
    """An optimised parameter set where `tsys optimize` writes it (the demo workspace)."""
    path = isolated / "data" / "demo" / "params" / "sp500.json"
    path.parent.mkdir(parents=True)
    doc = {"bucket": "sp500", "params": {"mode": "etf", "atr_stop": 4.25}, "n_trials": 7}
    path.write_text(json.dumps(doc))
    return path


def test_backtest_reads_the_optimised_params_file(params_file):
    # issue: `tsys backtest` had no way to read <data dir>/params/BUCKET.json
    out = tsys_json("backtest", "sp500", "--start", "2023-06-01")
    assert out["params"]["atr_stop"] == 4.25 and out["params"]["mode"] == "etf"
    ps = out["param_set"]
    assert ps["origin"] == "data dir" and ps["path"] == str(params_file)
    assert ps["file_sha256"] == _sha12(params_file)
    text = " ".join(tsys("backtest", "sp500", "--start", "2023-06-01").output.split())
    assert f"parameters: data-dir file {params_file} (sha256 {_sha12(params_file)})" in text


def test_backtest_honours_the_configured_params_file(isolated, params_file):
    # issue: `tsys backtest` silently ignored [buckets.X] params_file
    mine = params_file.parent / "mine.json"
    mine.write_text(json.dumps({"bucket": "sp500", "params": {"mode": "etf", "atr_stop": 2.5}}))
    cfg = isolated / "tsys.toml"
    cfg.write_text('[buckets.sp500]\nparams_file = "params/mine.json"\n')
    out = tsys_json("backtest", "sp500", "--start", "2023-06-01")
    assert out["param_set"]["origin"] == "params_file" and out["param_set"]["path"] == str(mine)
    assert out["params"]["atr_stop"] == 2.5


def test_starter_params_file_resolves_against_the_data_dir(isolated, params_file, monkeypatch):
    # issue: uncommenting the starter's params_file failed (it resolved against the cwd)
    cfg = isolated / "conf" / "tsys.toml"
    tsys("config", "init", "--path", str(cfg))
    text = cfg.read_text()
    line = next(ln for ln in text.splitlines() if "params_file" in ln)
    cfg.write_text(text.replace(line, line.lstrip("# ")))
    elsewhere = isolated / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    out = tsys_json(
        "--config", str(cfg), "run-daily", "--buckets", "sp500", "--as-of", DAY, "--dry-run"
    )
    (bucket,) = out["run"]["buckets"]
    assert bucket["error"] is None, bucket["error"]
    assert bucket["param_set"]["origin"] == "params_file"
    assert bucket["param_set"]["path"] == str(params_file)
    assert bucket["params"]["atr_stop"] == 4.25


def test_validate_and_run_daily_use_the_same_parameter_set(params_file):
    # issue: a user validated one parameter set and traded another
    val = tsys_json(
        "validate", "sp500", "--start", "2023-01-01", "--bootstrap", "50",
        "--random-backtests", "10",
    )  # fmt: skip
    run = tsys_json("run-daily", "--demo", "--buckets", "sp500", "--as-of", DAY, "--dry-run")
    (bucket,) = run["run"]["buckets"]
    assert val["param_set"]["digest"] == bucket["param_set"]["digest"]
    assert val["param_set"]["file_sha256"] == bucket["param_set"]["file_sha256"]
    assert val["params"] == bucket["params"]
    assert val["n_trials"] == 7  # deflated by the file's own study
    shown = tsys(
        "validate", "sp500", "--start", "2023-01-01", "--bootstrap", "50",
        "--random-backtests", "10",
    ).output  # fmt: skip
    assert f"(sha256 {_sha12(params_file)})" in shown.splitlines()[1]  # one line, never cut


def test_params_and_param_work_on_every_command(isolated, params_file):
    other = isolated / "other.json"
    other.write_text(json.dumps({"bucket": "sp500", "params": {"mode": "etf", "atr_stop": 3.5}}))
    given = ("--params", str(other), "--param", "atr_stop=4.5")
    bt = tsys_json("backtest", "sp500", "--start", "2023-06-01", *given)
    val = tsys_json(
        "validate", "sp500", "--start", "2023-01-01", "--bootstrap", "50",
        "--random-backtests", "10", *given,
    )  # fmt: skip
    run = tsys_json(
        "run-daily", "--demo", "--buckets", "sp500", "--as-of", DAY, "--dry-run", *given
    )
    for ps, values in (
        (bt["param_set"], bt["params"]),
        (val["param_set"], val["params"]),
        (run["run"]["buckets"][0]["param_set"], run["run"]["buckets"][0]["params"]),
    ):
        assert ps["origin"] == "--params" and ps["path"] == str(other)
        assert ps["overrides"] == {"atr_stop": "4.5"} and "with atr_stop=4.5" in ps["label"]
        assert values["atr_stop"] == 4.5 and values["mode"] == "etf"
    opt = tsys_json(
        "optimize", "sp500", "--trials", "1", "--no-sensitivity", "--start", "2022-01-01",
        "--output", str(isolated / "out.json"), *given,
    )  # fmt: skip
    assert opt["started_from"]["origin"] == "--params"
    assert opt["baseline_trial"] == 0 and opt["params"]["atr_stop"] == 4.5
    assert opt["params"]["mode"] == "etf"


def test_run_daily_param_without_bucket_needs_one_bucket(isolated):
    res = tsys("run-daily", "--demo", "--as-of", DAY, "--dry-run", "--param", "atr_stop=4", code=3)
    assert "which bucket?" in res.output and "BUCKET.atr_stop=4" in res.output
    res = tsys(
        "run-daily", "--demo", "--as-of", DAY, "--dry-run", "--param", "nosuch.atr_stop=4", code=3
    )
    assert "nosuch" in res.output and "does not include" in res.output


def test_run_daily_recomputes_when_the_params_file_changes(isolated):
    first = tsys_json("run-daily", "--demo", "--buckets", "sp500", "--as-of", DAY)
    # no params file: the researched defaults shipped inside the sp500 package
    assert first["run"]["buckets"][0]["param_set"]["origin"] == "shipped"
    path = isolated / "data" / "demo" / "params" / "sp500.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"bucket": "sp500", "params": {"atr_stop": 4.25}}))
    again = tsys_json("run-daily", "--demo", "--buckets", "sp500", "--as-of", DAY)
    assert again["already_ran"] is False
    assert again["run"]["buckets"][0]["param_set"]["path"] == str(path)
    assert any("kept in" in m for m in again["messages"])
    same = tsys_json("run-daily", "--demo", "--buckets", "sp500", "--as-of", DAY)
    assert same["already_ran"] is True
