"""Issue 23: the user's caps (equity, a bucket, a sector) in the daily run's one portfolio path.

A ``tsys override cap`` rule merged into ``[overrides]`` (:func:`tsys.overrides.merge`) reaches
:func:`build_allocations` -> :func:`select_and_size`; a cap that binds shrinks the BUY and
carries the constraint naming the rule's id, and a candidate it leaves no room for becomes a
WATCH plan saying why.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from tsys.config import BucketConfig, OverridesConfig, RiskConfig
from tsys.contracts import Action
from tsys.overrides import merge
from tsys.portfolio import build_allocations
from tsys.testing import InMemorySource, memory_context

from ..store.override_rules import rule as _rule
from .test_plans import Scripted, _rec, flat_bars, output

LOOSE = RiskConfig(
    sector_cap=1.0, max_pairwise_correlation=1.0, max_adv_share=1.0, max_position_weight=1.0
)


def _cap(target, target_type, share):
    kw = dict(id="O-0009", target_type=target_type, reason="test")
    return _rule(target=target, ac="equity", share=share, starts=dt.date(2024, 1, 1), **kw)


@pytest.mark.parametrize(
    ("target", "target_type", "name", "words"),
    [
        ("equity", "asset_class", "equity_exposure_cap", "equity exposure is capped at 4%"),
        ("scripted", "bucket", "bucket_exposure_cap", "bucket scripted is capped at 4%"),
        ("Energy", "sector", "sector_exposure_cap", "sector Energy is capped at 4%"),
    ],
)
def test_a_cap_rule_shrinks_todays_buys_and_names_its_id(target, target_type, name, words):
    bars = flat_bars(T=10, syms=("A", "B", "C", "D"))
    T, N = bars.shape
    out = output(T, N, regime=np.ones(T))
    out.score[-1] = [4.0, 3.0, 2.0, 1.0]
    out.entries[-1] = True
    src = InMemorySource(bars, sectors=dict.fromkeys("ABCD", "Energy"))
    ctx = memory_context(src, bars.index[-1].date())
    # $90 of Energy already held by this bucket (10 shares of H at $9, H has no bar today)
    holdings = [_rec("H", "system", qty=10.0, bucket="scripted")]
    merged = merge(OverridesConfig(), [_cap(target, target_type, 0.04)], bars.index[-1].date())
    settings = BucketConfig(capital_share=1.0, max_positions=5, sizing="equal")
    res = build_allocations(
        Scripted(out),
        ctx,
        bars,
        out,
        settings,
        LOOSE,
        merged.overrides,
        equity=10_000.0,
        holdings=holdings,
        sectors=dict.fromkeys("ABCDH", "Energy"),
    )
    buys = [p for p in res.plans if p.action is Action.BUY]
    # 4% of $10,000 is $400, less the $90 held: $310 (31 shares at $10), all to A
    assert [p.symbol for p in buys] == ["A"]
    assert buys[0].allocation.dollars == pytest.approx(310.0)
    con = buys[0].allocation.constraints[-1]
    assert con.name == name and words in con.detail and "by override O-0009" in con.detail
    assert f"capped: {name}" in buys[0].allocation.signal.rationale
    watched = {p.symbol: p for p in res.plans if p.action is Action.WATCH}
    assert watched["B"].allocation.constraints[0].name == name
    assert watched["B"].allocation.signal.rationale[0].startswith("not bought: ")


def _equal_pair(out, bars, overrides, **kw):
    """Today's plans of a bucket holding at most two names, sized equally, with $10,000."""
    ctx = memory_context(InMemorySource(bars), bars.index[-1].date())
    settings = BucketConfig(capital_share=1.0, max_positions=2, sizing="equal")
    args = (Scripted(out), ctx, bars, out, settings, LOOSE, overrides)
    return build_allocations(*args, equity=10_000.0, sectors={}, **kw)


def test_without_the_rule_the_same_day_buys_more():
    bars = flat_bars(T=10, syms=("A", "B"))
    T, N = bars.shape
    out = output(T, N, regime=np.ones(T))
    out.score[-1] = [2.0, 1.0]
    out.entries[-1] = True
    res = _equal_pair(out, bars, OverridesConfig())
    assert sum(p.allocation.dollars for p in res.plans if p.action is Action.BUY) == 10_000.0


@pytest.mark.parametrize(
    ("sources", "reason"),
    [
        ({}, "blocked by the user (tsys.toml's [overrides] blocked_symbols)"),
        ({"A": "O-0004"}, "blocked by the user (override O-0004)"),
    ],
)
def test_a_blocked_holding_is_sold_with_a_reason_a_user_reads(sources, reason):
    bars = flat_bars(T=10, syms=("A", "B"))
    T, N = bars.shape
    out = output(T, N, regime=np.ones(T))
    overrides = OverridesConfig(blocked_symbols=["A"], sources=sources)
    res = _equal_pair(out, bars, overrides, holdings=[_rec("A", "system")])
    [sell] = [p for p in res.plans if p.action is Action.SELL]
    assert sell.allocation.signal.rationale[0] == reason
    assert "overrides.blocked_symbols" not in reason
