"""The golden path: every workspace plugin installed, one demo day end to end.

The constraints are checked here independently of tsys.portfolio: from the demo market's own
bars and fundamentals, with plain arithmetic.
"""

from __future__ import annotations

import datetime as dt
import json
import math

import numpy as np
import pytest
from click.testing import CliRunner

from tsys import plugins
from tsys.cli import cli
from tsys.config import load_config
from tsys.contracts import Action, AssetClass, DailyRun
from tsys.serialization import dumps, loads, structure, unstructure

AS_OF = "2024-06-28"


def _run(*args):
    result = CliRunner().invoke(cli, ["run-daily", "--demo", "--as-of", AS_OF, *args])
    return result


@pytest.fixture
def golden(isolated):
    result = _run("--json")
    assert result.exit_code == 0, result.output
    run_dir = isolated / "data" / "demo" / "runs" / AS_OF  # --demo runs live in the sandbox
    return isolated, run_dir, json.loads(result.output)


def test_run_json_round_trips_and_has_both_buckets(golden):
    _, run_dir, printed = golden
    raw = (run_dir / "run.json").read_text()
    run = loads(raw, DailyRun)
    assert structure(unstructure(run), DailyRun) == run
    assert dumps(run) + "\n" == raw
    assert run.synthetic_data and any("SYNTHETIC" in w for w in run.warnings)
    by_bucket = {b.bucket: b for b in run.buckets}
    assert {"sp500", "crypto"} <= set(by_bucket)
    for name in ("sp500", "crypto"):
        assert by_bucket[name].error is None, by_bucket[name].error
        assert by_bucket[name].signals, f"{name} produced no signal on {AS_OF}"
    for f in ("signals.csv", "plans.csv", "summary.txt", "newsletter.html", "newsletter.txt"):
        assert (run_dir / f).is_file(), f
    assert printed["run"]["as_of"] == AS_OF


def test_every_constraint_holds(golden):
    _, run_dir, _ = golden
    run = loads((run_dir / "run.json").read_text(), DailyRun)
    cfg = load_config()
    equity = cfg.account.size
    from tsys.data.demo import DemoSource

    src = DemoSource()
    held_value = 0.0
    sector_value: dict[str, float] = {}
    crypto_value = 0.0
    for br in run.buckets:
        # the bucket's own defaults where the file is silent (lowfloat: 5%, five positions)
        settings = cfg.bucket(plugins.buckets().get(br.bucket))
        holding = [p for p in br.plans if p.action in (Action.BUY, Action.HOLD)]
        assert len(holding) <= settings.max_positions
        bucket_dollars = sum(p.allocation.dollars for p in holding)
        assert bucket_dollars <= settings.capital_share * equity * (1 + 1e-9)
        symbols = [p.allocation.signal.symbol for p in br.plans]
        if not symbols:
            continue
        start = br.as_of - dt.timedelta(days=60)
        bars = src.bars(symbols, start, br.as_of)
        funds = src.fundamentals(symbols) or {}
        for p in holding:
            a = p.allocation
            sym = a.signal.symbol
            assert sym not in cfg.overrides.blocked_symbols
            assert a.dollars <= cfg.risk.max_position_weight * equity * (1 + 1e-9)
            j = bars.symbols.index(sym)
            close = bars.close[:, j]
            price = close[np.isfinite(close)][-1]
            # dollars = quantity x the as-of close
            assert math.isclose(a.dollars, a.quantity * price, rel_tol=1e-6)
            if a.signal.asset_class is AssetClass.EQUITY:
                assert a.quantity == int(a.quantity)
            if p.action is Action.BUY:
                dv = (bars.close[:, j] * bars.volume[:, j])[np.isfinite(bars.close[:, j])]
                adv = np.mean(dv[-20:])
                assert a.dollars <= cfg.risk.max_adv_share * adv * (1 + 1e-6), sym
            held_value += a.dollars
            if a.signal.asset_class is AssetClass.CRYPTO:
                crypto_value += a.dollars
            else:
                sector = funds[sym].sector
                sector_value[sector] = sector_value.get(sector, 0.0) + a.dollars
    assert held_value <= equity
    for sector, value in sector_value.items():
        assert value <= cfg.risk.sector_cap * equity * (1 + 1e-9), sector
    assert crypto_value <= cfg.overrides.crypto_exposure_cap * equity * (1 + 1e-9)


def test_rerun_says_it_already_ran_and_force_is_byte_identical(golden):
    _, run_dir, _ = golden
    first = {f: (run_dir / f).read_bytes() for f in ("run.json", "signals.csv", "plans.csv")}
    again = _run()
    assert again.exit_code == 0
    assert "already ran" in again.output
    forced = _run("--force", "--json")
    assert forced.exit_code == 0, forced.output
    for f, content in first.items():
        assert (run_dir / f).read_bytes() == content, f"{f} changed on a forced re-run"


def test_runs_list_and_show(golden):
    runner = CliRunner()
    listed = runner.invoke(cli, ["runs", "list", "--json"])
    assert listed.exit_code == 0
    rows = json.loads(listed.output)
    assert [r["as_of"] for r in rows] == [AS_OF]
    shown = runner.invoke(cli, ["runs", "show", AS_OF, "--json"])
    run = json.loads(shown.output)
    assert run["as_of"] == AS_OF
    # the one-line summary (also the dashboard's runs page) counts what run.json holds
    actions = [p["action"] for b in run["buckets"] for p in b["plans"]]
    assert {k: v for k, v in rows[0].items() if k != "path"} == {
        "as_of": AS_OF,
        "buckets": [b["bucket"] for b in run["buckets"]],
        "plans": len(actions),
        "buys": actions.count("buy"),
        "sells": actions.count("sell"),
        "failed": [],
        "synthetic": True,
        "pending": [],
    }
