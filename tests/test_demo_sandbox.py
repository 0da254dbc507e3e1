"""Issue 13.5, "the demo is a sandbox": demo runs, paper account, studies, params and caches live
under ``<data dir>/demo/`` and never enter a real run.

"Real" data here is a non-synthetic source registered by the test (the demo generator under
another name and seed, with ``synthetic = False``), so the story runs offline.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from tsys import plugins
from tsys.cli import cli
from tsys.hookspecs import hookimpl

DAY1, DAY2 = "2024-03-12", "2024-03-13"


class _RealSource:
    @hookimpl
    def register_data_sources(self, register):
        from tsys.data.demo import DemoSource

        class RealLike(DemoSource):
            """Stands in for a real vendor: not labelled synthetic."""

            name = "reallike"
            synthetic = False

        register(RealLike)


@pytest.fixture
def real_source(isolated):
    pm = plugins.build_plugin_manager()
    pm.register(_RealSource(), name="reallike-test-plugin")
    plugins.reset_plugin_manager(pm)
    yield isolated
    plugins.reset_plugin_manager()


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
    real_ids = {o["order"]["client_order_id"] for o in real_orders}
    assert real_ids == {o["client_order_id"] for o in run["orders"]}
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
