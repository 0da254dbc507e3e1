"""Issue 13.5, "the demo is a sandbox": demo runs, paper account, studies, params and caches live
under ``<data dir>/demo/`` and never enter a real run.

"Real" data here is a non-synthetic source registered by the test (the demo generator under
another name and seed, with ``synthetic = False``), so the story runs offline.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from tsys.cli import cli

DAY1, DAY2 = "2024-03-12", "2024-03-13"


@pytest.fixture
def real_source(isolated, real_like_source):
    return isolated


def tsys(*args: str, config: str | None = None) -> dict | list:
    pre = ["--config", config] if config else []
    res = CliRunner().invoke(cli, [*pre, *args, "--json"])
    assert res.exit_code == 0, res.output
    return json.loads(res.output)


def _real_config(root) -> str:
    path = root / "real.toml"
    path.write_text('[data]\nsource = "reallike"\n[data.options.reallike]\nseed = 11\n')
    return str(path)


def test_demo_is_a_sandbox_paper_then_real_run_on_the_same_day(real_source):
    root = real_source
    data = root / "data"
    for day in (DAY1, DAY2):
        out = tsys("run-daily", "--demo", "--paper", "--buckets", "sp500", "--as-of", day)
        assert out["exit_code"] == 0 and out["run"]["synthetic_data"] is True
    demo_positions = tsys("paper", "positions")  # no config: the built-in demo configuration
    assert demo_positions, "the demo paper account should hold day 1's buys"
    # everything the demo made is under <data dir>/demo
    assert (data / "demo" / "runs" / DAY2 / "run.json").is_file()
    assert (data / "demo" / "tsys.db").is_file()
    assert not (data / "runs").exists() and not (data / "tsys.db").exists()

    cfg = _real_config(root)
    real = tsys("run-daily", "--paper", "--buckets", "sp500", "--as-of", DAY2, config=cfg)
    assert real["already_ran"] is False, real["messages"]
    run = real["run"]
    assert run["synthetic_data"] is False
    assert not any("SYNTHETIC" in w for w in run["warnings"])
    assert real["run_dir"] == str(data / "runs" / DAY2)
    plans = [p for b in run["buckets"] for p in b["plans"]]
    # no demo position became a real holding: nothing to hold, nothing pushed to WATCH by them
    assert [p for p in plans if p["action"] == "buy"], "the real-like market should buy on day 2"
    assert not [p for p in plans if p["action"] == "hold"]
    assert run["portfolio"]["positions"] == [
        p for p in run["portfolio"]["positions"] if p["id"].startswith("planned:")
    ]
    # the real paper account has only the real run's orders; the demo one is untouched
    real_orders = tsys("paper", "orders", config=cfg)
    real_ids = {o["order"]["client_order_id"] for o in real_orders if o["order"]["entry"] != "STOP"}
    assert real_ids == {o["client_order_id"] for o in run["orders"]}
    # ... plus the protective stops of the real run's own buys (issue 13.1)
    bought = {o["symbol"] for o in run["orders"] if o["side"] == "buy"}
    stops = {o["order"]["symbol"] for o in real_orders if o["order"]["entry"] == "STOP"}
    assert stops <= bought
    assert tsys("paper", "positions") == demo_positions
    assert tsys("paper", "positions", config=cfg) == []
    # each workspace lists its own runs
    assert [r["as_of"] for r in tsys("runs", "list", config=cfg)] == [DAY2]
    demo_runs = tsys("runs", "list")
    assert [r["as_of"] for r in demo_runs] == [DAY1, DAY2]
    assert all(r["synthetic"] for r in demo_runs)


def test_demo_is_a_sandbox_workspace_paths(tmp_path, monkeypatch):
    from tsys.config import config_from_dict
    from tsys.workspace import workspace

    monkeypatch.setenv("TSYS_DATABASE_URL", "postgresql://u:pw@db.example:5432/tsys")
    data = tmp_path / "d"
    real = workspace(config_from_dict({"data_dir": str(data), "data": {"source": "csv"}}))
    demo = workspace(config_from_dict({"data_dir": str(data)}))  # the built-in source: demo
    assert (real.demo, demo.demo) == (False, True)
    assert real.root == data and demo.root == data / "demo"
    assert real.store_url == "postgresql://u:pw@db.example:5432/tsys"
    # synthetic rows never reach the shared database
    assert demo.store_url == f"sqlite:///{data / 'demo' / 'tsys.db'}"
    assert demo.runs_dir == data / "demo" / "runs"
    assert demo.params_file("sp500") == data / "demo" / "params" / "sp500.json"
    assert demo.studies_url == f"sqlite:///{(data / 'demo' / 'optuna.db').resolve()}"
    assert demo.cache_dir == data / "demo" / "cache"
    assert (demo.label, real.label) == ("SYNTHETIC", "")
    # a command's own --source decides, and the demo can be asked for explicitly
    csv_cfg = config_from_dict({"data_dir": str(data), "data": {"source": "csv"}})
    assert workspace(csv_cfg, source="demo").demo is True
    assert workspace(csv_cfg, demo=True).root == data / "demo"


def test_demo_is_a_sandbox_a_stored_run_is_reused_only_when_its_inputs_match(isolated):
    base = ["run-daily", "--demo", "--as-of", DAY2, "--no-send"]
    run_dir = isolated / "data" / "demo" / "runs" / DAY2
    first = tsys(*base)
    assert sorted(b["bucket"] for b in first["run"]["buckets"]) == ["crypto", "sp500"]
    assert tsys(*base)["already_ran"] is True
    # --buckets on a day that already ran is honoured; the earlier run is kept
    only = tsys(*base, "--buckets", "sp500")
    assert only["already_ran"] is False
    assert [b["bucket"] for b in only["run"]["buckets"]] == ["sp500"]
    kept = json.loads((run_dir / "history" / "001" / "run.json").read_text())
    assert sorted(b["bucket"] for b in kept["buckets"]) == ["crypto", "sp500"]
    assert any("history/001" in m for m in only["messages"])
    assert json.loads((run_dir / "run.json").read_text())["buckets"][0]["bucket"] == "sp500"
    # other parameters: recomputed, and the sp500-only run kept too
    (isolated / "tsys.toml").write_text("[buckets.sp500.params]\natr_stop = 4.25\n")
    changed = tsys(*base, "--buckets", "sp500")
    assert changed["already_ran"] is False
    assert changed["run"]["buckets"][0]["params"]["atr_stop"] == 4.25
    kept2 = json.loads((run_dir / "history" / "002" / "run.json").read_text())
    assert kept2["buckets"][0]["params"]["atr_stop"] != 4.25
    again = tsys(*base, "--buckets", "sp500")
    assert again["already_ran"] is True and again["run"] == changed["run"]
    # the list shows one run per day, labelled
    listed = CliRunner().invoke(cli, ["runs", "list"])
    assert listed.exit_code == 0 and f"{DAY2}" in listed.output and "SYNTHETIC" in listed.output


def test_demo_is_a_sandbox_paper_reset(isolated):
    tsys("run-daily", "--demo", "--paper", "--buckets", "sp500", "--as-of", DAY1)
    orders = tsys("paper", "orders")
    assert orders
    refused = CliRunner().invoke(cli, ["paper", "reset", "--demo"], input="n\n")
    assert refused.exit_code == 1 and "Aborted" in refused.output
    assert tsys("paper", "orders") == orders
    asked = CliRunner().invoke(cli, ["paper", "reset", "--demo"], input="y\n")
    assert asked.exit_code == 0, asked.output
    assert "SYNTHETIC demo paper account" in asked.output and "paper_orders" in asked.output
    assert tsys("paper", "orders") == [] and tsys("paper", "positions") == []
    # the next paper run opens the account afresh: only its own orders, all of the cash
    day2 = tsys("run-daily", "--demo", "--paper", "--buckets", "sp500", "--as-of", DAY2)
    after = tsys("paper", "orders")
    # (the protective stops of its buys are the paper account's own orders: issue 13.1)
    assert {o["order"]["client_order_id"] for o in after if o["order"]["entry"] != "STOP"} == {
        o["client_order_id"] for o in day2["run"]["orders"]
    }
    assert tsys("paper", "account")["cash"] == pytest.approx(100_000.0)
    scripted = tsys("paper", "reset", "--demo", "--yes")
    assert scripted["deleted"]["paper_orders"] == len(after)


def test_demo_is_a_sandbox_a_real_brokers_account_is_not_reset_here(isolated):
    (isolated / "tsys.toml").write_text(
        '[data]\nsource = "csv"\npath = "nowhere"\n[broker]\nname = "alpaca"\n'
    )
    res = CliRunner().invoke(cli, ["paper", "reset", "--yes"])
    assert res.exit_code == 3 and "cannot be reset here" in res.output


def test_demo_is_a_sandbox_the_demo_never_trades_a_real_broker(isolated):
    (isolated / "tsys.toml").write_text('[broker]\nname = "alpaca"\n')
    out = tsys("run-daily", "--demo", "--paper", "--buckets", "sp500", "--as-of", DAY1)
    assert out["exit_code"] == 0
    assert out["run"]["deliveries"][0]["plugin"] == "broker:local"
    assert any("not broker 'alpaca'" in w for w in out["run"]["warnings"])


def test_demo_is_a_sandbox_a_legacy_demo_run_never_enters_a_real_run(real_source):
    """Runs made by tsys before the sandbox sit beside real ones: a real run passes them over."""
    import shutil

    root = real_source
    tsys("run-daily", "--demo", "--buckets", "sp500", "--as-of", DAY1, "--no-send")
    legacy = root / "data" / "runs" / DAY1
    shutil.copytree(root / "data" / "demo" / "runs" / DAY1, legacy)
    cfg = _real_config(root)
    real = tsys("run-daily", "--buckets", "sp500", "--as-of", DAY2, "--no-send", config=cfg)
    run = real["run"]
    assert not [p for b in run["buckets"] for p in b["plans"] if p["action"] == "hold"]
    assert any("SYNTHETIC demo market" in w for w in run["warnings"])
