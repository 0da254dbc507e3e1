"""tsys.testing: the look-ahead audit catches leaks, the contract suite names broken rules."""

from __future__ import annotations

import datetime as dt

import attrs
import numpy as np
import pandas as pd
import pytest

from tsys import indicators as ind
from tsys.buckets import Bucket, BucketOutput, param
from tsys.contracts import AssetClass
from tsys.testing import (
    InMemorySource,
    LookaheadError,
    bucket_contract_suite,
    lookahead_audit,
    memory_context,
    range_ends,
    synthetic_bars,
)


@attrs.frozen
class P:
    window: int = param(10, low=5, high=30)


class Honest(Bucket):
    """Close above its trailing average: causal by construction."""

    name = "honest"
    asset_class = AssetClass.EQUITY
    version = "1"
    Params = P
    leak = 0  # rows of future data the score peeks at

    def universe(self, ctx):
        return ["A"]

    def compute(self, ctx, bars, params):
        c = bars.close
        avg = ind.sma(c, params.window)
        if self.leak:
            avg = np.vstack([avg[self.leak :], np.full((self.leak, c.shape[1]), np.nan)])
        with np.errstate(invalid="ignore"):
            score = np.where(c > avg, c / avg - 1, np.nan)
        entries = np.isfinite(score)
        return BucketOutput(
            score=score,
            entries=entries,
            exits=np.zeros_like(entries),
            stop=np.where(np.isfinite(c), c * 0.9, np.nan),
            target=np.full(c.shape, np.nan),
            regime=np.ones(len(c)),
        )

    def explain(self, ctx, bars, output, symbol, t):
        return ["above average"]


class Leaky(Honest):
    name = "leaky"
    leak = 1


class Centred(Honest):
    """Uses a centred rolling mean (a classic leak) only in an extras panel."""

    name = "centred"

    def compute(self, ctx, bars, params):
        out = super().compute(ctx, bars, params)
        import pandas as pd

        out.extras["centred"] = pd.DataFrame(bars.close).rolling(5, center=True).mean().to_numpy()
        return out


def _ctx(bars):
    return memory_context(InMemorySource(bars), bars.index[-1].date())


def test_audit_passes_a_causal_bucket_and_returns_cut_points():
    bars = synthetic_bars(["A", "B", "C"], n_bars=120, seed=1)
    assert lookahead_audit(Honest(), _ctx(bars), bars, cut_points=[30, 60, 118]) == [30, 60, 118]


@pytest.mark.parametrize("bucket", [Leaky(), Centred()])
def test_audit_catches_future_data(bucket):
    bars = synthetic_bars(["A", "B", "C"], n_bars=120, seed=1)
    with pytest.raises(LookaheadError, match="look-ahead in"):
        lookahead_audit(bucket, _ctx(bars), bars, cut_points=[60])


def test_contract_suite_passes_and_lists_checks():
    bars = synthetic_bars(["A", "B", "C"], n_bars=150, seed=2)
    results = bucket_contract_suite(Honest(), _ctx(bars), bars)
    assert [r.name for r in results] == [
        "metadata",
        "search_space",
        "universe",
        "shapes_and_dtypes",
        "range_ends",
        "nan_safe",
        "deterministic",
        "explain",
        "lookahead_audit",
    ]
    assert all(r.ok for r in results)


class EntriesWithoutScore(Honest):
    name = "broken"

    def compute(self, ctx, bars, params):
        out = super().compute(ctx, bars, params)
        out.entries[:] = True
        out.stop[:] = bars.close * 2  # a stop above the price
        return out

    def explain(self, ctx, bars, output, symbol, t):
        return [""]


def _broken_rules(bucket, seed):
    """What the contract suite says is broken about ``bucket`` on two symbols."""
    bars = synthetic_bars(["A", "B"], n_bars=80, seed=seed)
    with pytest.raises(AssertionError) as info:
        bucket_contract_suite(bucket, _ctx(bars), bars)
    return str(info.value)


def test_contract_suite_names_each_broken_rule():
    text = _broken_rules(EntriesWithoutScore(), seed=3)
    assert "shapes_and_dtypes: an entry needs a finite score" in text
    assert "nan_safe: entries on bars that do not exist" in text
    assert "explain: explain must return a list of non-empty strings" in text
    assert "lookahead_audit" not in text


def test_bad_search_space_is_reported():
    @attrs.frozen
    class BadP:
        window: int = attrs.field(
            default=10, metadata={"tsys_search": {"kind": "int", "low": 20, "high": 30}}
        )

    class Bad(Honest):
        name = "badspace"
        Params = BadP

    bars = synthetic_bars(["A"], n_bars=60, seed=4)
    with pytest.raises(AssertionError, match="window: default outside range"):
        bucket_contract_suite(Bad(), _ctx(bars), bars)


def test_range_ends_lists_both_ends_and_every_choice():
    @attrs.frozen
    class Q:
        n: int = param(10, low=5, high=30)
        x: float = param(0.5, low=0.0, high=1.0)
        mode: str = param("a", choices=("a", "b", "c"))
        fixed: int = 3  # not searchable

    assert range_ends(Q) == [("n", 5), ("n", 30), ("x", 0.0), ("x", 1.0)] + [
        ("mode", m) for m in "abc"
    ]


class FillsWithinWindow(Honest):
    """Forward-fills gaps of up to ``window - 5`` bars: pandas refuses a limit of 0 at window=5."""

    name = "fills"

    def compute(self, ctx, bars, params):
        filled = pd.DataFrame(bars.close).ffill(limit=params.window - 5).to_numpy()
        return super().compute(ctx, bars.with_fields(close=filled), params)


def test_contract_suite_computes_at_every_range_end():
    text = _broken_rules(FillsWithinWindow(), seed=6)
    assert "range_ends: window=5: ValueError: Limit must be greater than 0" in text
    # The default (window=10) computes, so only the range-end check fails.
    assert "shapes_and_dtypes" not in text and "deterministic" not in text


def test_in_memory_source_membership_is_point_in_time():
    bars = synthetic_bars(["A", "B"], n_bars=30, seed=5)
    src = InMemorySource(bars, members={dt.date(2020, 1, 1): ["A"], dt.date(2020, 1, 20): ["B"]})
    assert src.universe("sp500", dt.date(2020, 1, 10)) == ["A"]
    assert src.universe("sp500", dt.date(2020, 1, 25)) == ["B"]
