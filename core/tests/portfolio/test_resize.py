"""Bucket slot counts and re-sizing of held positions (tsys.portfolio.resize), alone and inside
plan_positions, with hand-computed expectations and Hypothesis properties."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tsys.buckets import BucketOutput, PositionRules
from tsys.config import BucketConfig, OverridesConfig, RiskConfig
from tsys.contracts import AssetClass
from tsys.data import Bars
from tsys.portfolio import Candidate, plan_positions
from tsys.portfolio.resize import effective_settings, resize_held

from .test_plans import Scripted

LOOSE = RiskConfig(
    sector_cap=1.0, max_pairwise_correlation=1.0, max_adv_share=1.0, max_position_weight=1.0
)
DAILY_VOL_20 = 0.20 / math.sqrt(252)  # 20% a year


def cand(sym, vol=DAILY_VOL_20, adv=None, price=100.0):
    return Candidate(
        symbol=sym,
        score=1.0,
        price=price,
        asset_class=AssetClass.EQUITY,
        volatility=vol,
        adv_dollars=adv,
    )


def sized(held, *, regime=1.0, risk=LOOSE, band=0.2, target=0.10, max_positions=3):
    return resize_held(
        held,
        equity=100_000.0,
        settings=BucketConfig(capital_share=0.9, max_positions=max_positions),
        risk=risk,
        regime=regime,
        sizing="inverse_vol",
        target_volatility=target,
        band=band,
    )


def test_effective_settings_takes_the_smaller_slot_count():
    s = BucketConfig(max_positions=10)
    assert effective_settings(s, PositionRules(max_positions=3)).max_positions == 3
    assert effective_settings(s, PositionRules(max_positions=12)) is s
    assert effective_settings(s, PositionRules()) is s


def test_position_rules_validate_resize_and_band():
    with pytest.raises(ValueError):
        PositionRules(resize="yearly")
    with pytest.raises(ValueError):
        PositionRules(resize_band=1.5)
    with pytest.raises(ValueError):
        PositionRules(max_positions=0)


def test_volatility_target_resizes_and_the_band_keeps_small_moves():
    # slot = 0.9 x 100,000 / 3 = 30,000; target 10% on 20% vol -> 15,000
    got = sized([(cand("A"), 30_000.0), (cand("B"), 16_000.0)])
    assert got == {"A": pytest.approx(15_000.0)}  # B is 6.7% away: inside the 20% band


def test_caps_and_the_regime_scaled_budget():
    risk = RiskConfig(
        sector_cap=1.0, max_pairwise_correlation=1.0, max_adv_share=0.01, max_position_weight=0.12
    )
    low = DAILY_VOL_20 / 4  # 5% a year: no volatility cut, full slot 30,000
    got = sized(
        [(cand("A", vol=low), 1_000.0), (cand("B", vol=low, adv=500_000.0), 1_000.0)], risk=risk
    )
    assert got["A"] == pytest.approx(12_000.0)  # max_position_weight 12%
    assert got["B"] == pytest.approx(5_000.0)  # 1% of the dollar volume
    half = sized([(cand("A", vol=low), 30_000.0)], regime=0.5)
    assert half == {"A": pytest.approx(15_000.0)}  # slot shrinks with the regime
    assert sized([(cand("A"), 10_000.0)], regime=0.0) == {"A": 0.0}


def test_budget_overflow_scales_every_position_pro_rata():
    # one slot: each position sizes to the whole 90,000 budget, together 3 x 90,000
    got = sized(
        [(cand(s, vol=DAILY_VOL_20 / 4), 10_000.0) for s in "ABC"], max_positions=1, band=0.0
    )
    assert sum(got.values()) == pytest.approx(90_000.0)
    assert got["A"] == pytest.approx(30_000.0)


@settings(max_examples=60, deadline=None)
@given(
    vols=st.lists(st.floats(0.002, 0.08), min_size=1, max_size=6),
    held=st.lists(st.floats(100.0, 60_000.0), min_size=6, max_size=6),
    regime=st.floats(0.0, 1.0),
    band=st.floats(0.0, 0.5),
    cap=st.floats(0.05, 1.0),
)
def test_resized_positions_respect_caps_budget_and_band(vols, held, regime, band, cap):
    risk = RiskConfig(
        sector_cap=1.0, max_pairwise_correlation=1.0, max_adv_share=1.0, max_position_weight=cap
    )
    pairs = [(cand(f"S{i}", vol=v), held[i]) for i, v in enumerate(vols)]
    got = sized(pairs, regime=regime, risk=risk, band=band, target=0.15)
    budget = 100_000.0 * 0.9 * regime
    assert all(0.0 <= d <= cap * 100_000.0 + 1e-6 for d in got.values())
    # every position at its new size (or its old one, inside the band): the changed ones fit
    assert sum(got.values()) <= budget + 1e-6
    for c, current in pairs:
        if c.symbol in got and got[c.symbol] > 0:
            assert abs(got[c.symbol] / current - 1.0) >= band - 1e-12


def _panel():
    """Two calm months, then daily moves of 4% (volatility quadruples) for a month."""
    idx = pd.bdate_range("2020-01-01", "2020-04-30", tz="UTC")
    T = len(idx)
    rng = np.random.default_rng(3)
    r = rng.normal(0, 0.005, T)
    spike = (idx >= pd.Timestamp("2020-03-03", tz="UTC")) & (
        idx < pd.Timestamp("2020-04-01", tz="UTC")
    )
    r[spike] = np.where(np.arange(spike.sum()) % 2, 0.04, -0.038)
    close = 100 * np.cumprod(1 + r)[:, None]
    bars = Bars(
        idx,
        ["A"],
        close,
        close * 1.001,
        close * 0.999,
        close,
        np.full((T, 1), 1e7),
        [AssetClass.EQUITY],
    )
    entries = np.zeros((T, 1), dtype=bool)
    entries[25] = True  # enter once, in the calm part
    out = BucketOutput(
        score=np.ones((T, 1)),
        entries=entries,
        exits=np.zeros((T, 1), dtype=bool),
        stop=np.full((T, 1), np.nan),
        target=np.full((T, 1), np.nan),
    )
    return bars, out


def _weights(rules):
    bars, out = _panel()
    plan = plan_positions(
        Scripted(out, rules),
        None,
        bars,
        out,
        BucketConfig(capital_share=1.0, max_positions=10),
        LOOSE,
        OverridesConfig(),
        params={},
        sectors={},
    )
    return bars, plan


def test_plan_positions_resizes_at_month_starts_only_when_asked():
    rules = dict(target_volatility=0.10, max_positions=2)
    bars, fixed = _weights(PositionRules(**rules))
    w = fixed.weights[:, 0]
    assert w[25] == pytest.approx(0.5)  # calm: full slot of 1 / 2
    assert np.all(w[25:] == w[25])  # never re-sized
    _, plan = _weights(PositionRules(**rules, resize="monthly"))
    w = plan.weights[:, 0]
    april = int(bars.index.searchsorted(pd.Timestamp("2020-04-01", tz="UTC")))
    assert w[april] < 0.25 and w[april - 1] == pytest.approx(0.5)  # cut at the month start
    assert np.all(w[25:april] == w[25]) and np.all(w[april:] == w[april])
    assert plan.capped.get("resized", 0) == 1
