"""Stress variants used by the validation suite: delayed execution, scaled costs, half universe."""

import numpy as np
import pytest

from tsys.buckets import BucketOutput
from tsys.sim import Capacity, CostModel, FeeModel, FixedSlippage, ImpactSlippage
from tsys.validate.stress import DelayedBucket, one_way_cost, random_half, scaled_costs


class _Fixed:
    name = "fixed"
    warmup_bars = 3

    def compute(self, ctx, bars, params):
        score = np.arange(6.0).reshape(3, 2)
        entries = np.array([[True, False], [False, True], [True, True]])
        return BucketOutput(
            score=score,
            entries=entries,
            exits=~entries,
            stop=score - 1,
            target=score + 1,
            regime=np.array([1.0, 0.5, 0.0]),
            block_reasons={(0, 1): "earnings"},
            extras={"atr": score * 2, "n": np.array([1, 2, 3])},
        )


def test_delayed_bucket_shifts_every_panel_one_row():
    inner = _Fixed()
    out = DelayedBucket(inner).compute(None, None, None)
    ref = inner.compute(None, None, None)
    assert np.isnan(out.score[0]).all() and (out.score[1:] == ref.score[:-1]).all()
    assert not out.entries[0].any() and (out.entries[1:] == ref.entries[:-1]).all()
    assert np.isnan(out.regime[0]) and (out.regime[1:] == ref.regime[:-1]).all()
    assert (out.extras["n"] == [0, 1, 2]).all() and np.isnan(out.extras["atr"][0]).all()
    assert out.block_reasons == {}
    assert DelayedBucket(inner).warmup_bars == 3  # everything else is the wrapped bucket's


def test_scaled_costs_and_one_way_cost():
    base = CostModel(
        FeeModel(bps=1.0, per_share=0.01, minimum=1.0),
        ImpactSlippage(half_spread_bps=2.0, impact=0.1),
        Capacity(0.05),
    )
    two = scaled_costs(base, 2.0)
    assert (two.fees.bps, two.fees.per_share, two.fees.minimum) == (2.0, 0.02, 2.0)
    assert (two.slippage.half_spread_bps, two.slippage.impact) == (4.0, 0.2)
    assert two.capacity == base.capacity
    assert one_way_cost(base) == pytest.approx(3e-4)
    fixed = CostModel(FeeModel(bps=5.0), FixedSlippage(bps=3.0))
    assert scaled_costs(fixed, 3.0).slippage.bps == 9.0
    assert one_way_cost(fixed) == pytest.approx(8e-4)


def test_random_half_is_seeded_and_sorted():
    syms = [f"S{i:02d}" for i in range(10)]
    a = random_half(4)(list(reversed(syms)))
    assert a == random_half(4)(syms) and len(a) == 5 and a == sorted(a)
    assert set(a) <= set(syms)
    assert random_half(4)(["ONLY"]) == ["ONLY"]
