"""Issue 23: `tsys backtest --overrides FILE` replays rules on the bars they hold on only.

The rules file is read into the same rule records the store keeps (:mod:`tsys.backtest.replay`)
and merged bar by bar with tsys.toml's ``[overrides]`` (:func:`tsys.portfolio.step.replay_overrides`
-> ``plan_positions(overrides_at=...)``): a block closes and keeps out a symbol between its
dates, a pause opens nothing, a cap shrinks sizes, and outside the dates nothing changes.
"""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from tsys.backtest.replay import read_rules
from tsys.buckets import BucketContext
from tsys.cli import cli
from tsys.config import BucketConfig, Config, OverridesConfig, RiskConfig
from tsys.contracts import AssetClass
from tsys.data import Bars
from tsys.errors import ConfigError
from tsys.portfolio import plan_positions
from tsys.portfolio.step import replay_overrides

from ..portfolio.test_plans import P, Scripted, output

LOOSE = RiskConfig(
    sector_cap=1.0, max_pairwise_correlation=1.0, max_adv_share=1.0, max_position_weight=1.0
)
BUCKETS = {"scripted": "equity", "sp500": "equity", "crypto": "crypto"}


def _bars():
    # 2024-03-04 (Monday) .. 2024-03-22: fifteen NYSE sessions, no holiday among them
    idx = pd.date_range("2024-03-04", periods=15, freq="B", tz="UTC")
    c = np.full((15, 3), 10.0)
    syms = ("A", "B", "C")
    return Bars(idx, syms, c, c * 1.01, c * 0.99, c, np.full_like(c, 1e6), [AssetClass.EQUITY] * 3)


def _plan(rules_json, tmp_path, **kw):
    bars = _bars()
    T, N = bars.shape
    out = output(T, N)
    out.score[:] = [3.0, 2.0, 1.0]
    out.entries[:] = True
    path = tmp_path / "rules.json"
    path.write_text(json.dumps(rules_json), encoding="utf-8")
    rules = read_rules(path, buckets=BUCKETS, default_class="equity")
    settings = BucketConfig(capital_share=0.9, max_positions=3, sizing="equal")
    bucket = Scripted(out)
    ctx = BucketContext(as_of=dt.date(2024, 3, 22), data=None, settings=settings, params=P())
    at = replay_overrides(bucket, ctx, Config(), rules)
    plan = plan_positions(
        bucket, None, bars, out, settings, LOOSE, OverridesConfig(), overrides_at=at, **kw
    )
    return bars, plan


def test_a_block_between_dates_closes_and_keeps_out_then_lets_back(tmp_path):
    rules = [{"kind": "block", "target": "c", "since": "2024-03-11", "until": "2024-03-15"}]
    bars, plan = _plan(rules, tmp_path)
    held_c = plan.weights[:, 2] > 0
    days = [d.date().isoformat() for d in bars.index]
    assert held_c[: days.index("2024-03-11")].all()  # before: held
    assert plan.exit_reasons[(days.index("2024-03-11"), 2)] == "user blocked"
    blocked = slice(days.index("2024-03-11"), days.index("2024-03-15") + 1)
    assert not held_c[blocked].any()  # while it holds: out
    assert held_c[days.index("2024-03-18") :].all()  # after its last day: bought again
    assert plan.rejections.get("user_blocked", 0) >= 1
    assert plan.weights[:, :2].min() > 0  # A and B never touched


def test_a_pause_opens_nothing_while_it_holds(tmp_path):
    rules = [{"kind": "pause", "target": "scripted", "until": "2024-03-08"}]
    bars, plan = _plan(rules, tmp_path)
    days = [d.date().isoformat() for d in bars.index]
    first = days.index("2024-03-11")
    assert plan.weights[:first].sum() == 0 and (plan.weights[first] > 0).all()


def test_a_cap_shrinks_sizes_from_its_first_day(tmp_path):
    rules = [{"kind": "cap", "target": "equity", "share": 0.3, "since": "2024-03-11"}]
    bars, plan = _plan(rules, tmp_path, rebalance="daily")
    days = [d.date().isoformat() for d in bars.index]
    # before the cap: three slots of 30% each; the cap binds only on entries from its day
    assert plan.weights[0].sum() == pytest.approx(0.9)
    assert plan.capped.get("equity_exposure_cap", 0) == 0  # all held before the cap began
    # an entry after the cap began: free C first, then watch it come back capped
    rules.append({"kind": "block", "target": "C", "since": "2024-03-11", "until": "2024-03-11"})
    bars, plan = _plan(rules, tmp_path)
    after = days.index("2024-03-12")
    assert plan.weights[after, 2] == pytest.approx(0.0)  # A and B use 60%: no room under 30%
    assert plan.rejections.get("equity_exposure_cap", 0) >= 1


@pytest.mark.parametrize(
    ("rules", "words"),
    [
        ({"kind": "ban", "target": "X"}, "kind must be one of"),
        ({"kind": "cap", "target": "crypto", "share": 1.5}, "share lies in 0..1"),
        ({"kind": "cap", "target": "Moon", "share": 0.1}, "neither an asset class"),
        ({"kind": "pause", "target": "nope"}, "unknown bucket"),
        ({"kind": "block", "target": "X", "since": "2024-13-01"}, "is not a date"),
        (
            {"kind": "block", "target": "X", "since": "2024-03-02", "until": "2024-03-01"},
            "is before since",
        ),
        ("block X", "is a JSON object"),
    ],
)
def test_a_bad_rule_is_named_with_its_number(tmp_path, rules, words):
    path = tmp_path / "r.json"
    path.write_text(json.dumps([rules]), encoding="utf-8")
    with pytest.raises(ConfigError, match=words) as err:
        read_rules(path, buckets=BUCKETS, default_class="equity")
    assert "r.json rule 1" in err.value.message


def test_the_store_export_replays_as_is(tmp_path, monkeypatch):
    """`tsys override list --all --json` is a valid rules file."""
    monkeypatch.setenv("TSYS_DATA_DIR", str(tmp_path / "data"))
    (tmp_path / "tsys.toml").write_text('[data]\nsource = "demo"\n', encoding="utf-8")
    monkeypatch.setenv("TSYS_CONFIG", str(tmp_path / "tsys.toml"))
    r = CliRunner().invoke(
        cli, ["override", "block", "BTC-USD", "--until", "2024-03-15", "--as-of", "2024-03-11"]
    )
    assert r.exit_code == 0, r.output
    exported = CliRunner().invoke(cli, ["override", "list", "--all", "--json"])
    path = tmp_path / "rules.json"
    path.write_text(exported.stdout, encoding="utf-8")
    [rule] = read_rules(path, buckets=BUCKETS, default_class="crypto")
    assert (rule.id, rule.kind, rule.target, rule.asset_class) == (
        "O-0001",
        "block",
        "BTC-USD",
        "crypto",
    )
    from tsys.overrides import in_force_at

    assert in_force_at([rule], dt.date(2024, 3, 15)) == [rule]
    assert in_force_at([rule], dt.date(2024, 3, 16)) == []
    assert in_force_at([rule], dt.date(2024, 3, 10)) == []


def test_backtest_cli_replays_a_block_on_its_dates_only(tmp_path, monkeypatch):
    """`tsys backtest crypto --overrides rules.json` on the demo market: BTC-USD's 2024 trade
    is gone, the trades outside the rule's dates are the same, and the rule is reported."""
    monkeypatch.setenv("TSYS_DATA_DIR", str(tmp_path / "data"))
    (tmp_path / "tsys.toml").write_text("[account]\nsize = 100000\n", encoding="utf-8")
    monkeypatch.setenv("TSYS_CONFIG", str(tmp_path / "tsys.toml"))
    rules = tmp_path / "rules.json"
    rules.write_text(
        json.dumps(
            [{"kind": "block", "target": "BTC-USD", "since": "2024-01-01", "until": "2024-12-31"}]
        ),
        encoding="utf-8",
    )
    base = ["backtest", "crypto", "--source", "demo", "--start", "2023-01-01"]
    base += ["--end", "2025-06-30"]

    def btc(payload, inside):
        return [
            (t["entry_date"], t["exit_date"])
            for t in payload["trades"]
            if t["symbol"] == "BTC-USD" and (t["entry_date"][:4] == "2024") == inside
        ]

    r0 = CliRunner().invoke(cli, [*base, "--json"])
    assert r0.exit_code == 0, r0.output
    without = json.loads(r0.stdout)
    assert btc(without, inside=True)  # the demo buys BTC-USD in 2024
    r1 = CliRunner().invoke(cli, [*base, "--overrides", str(rules), "--json"])
    assert r1.exit_code == 0, r1.output
    replay = json.loads(r1.stdout)
    assert btc(replay, inside=True) == []
    assert btc(replay, inside=False) == btc(without, inside=False)
    [o] = replay["plan"]["overrides"]
    assert (o["id"], o["rule"], o["bars"]) == ("R-0001", "block BTC-USD", 366)  # 2024's days
    table = CliRunner().invoke(cli, [*base, "--overrides", str(rules)])
    assert "override R-0001 replayed: block BTC-USD, in force on 366 bars" in table.output
    bad = tmp_path / "bad.json"
    bad.write_text('[{"kind": "cap", "target": "crypto", "share": 5}]', encoding="utf-8")
    r2 = CliRunner().invoke(cli, [*base, "--overrides", str(bad)])
    assert r2.exit_code != 0 and "bad.json rule 1" in r2.output and "Traceback" not in r2.output
