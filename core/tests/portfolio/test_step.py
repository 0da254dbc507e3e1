"""The one bucket step: what it loads, how it computes, what it hands to the portfolio."""

from __future__ import annotations

import datetime as dt

import attrs
import numpy as np
import pytest

from tsys.buckets import Bucket, BucketOutput
from tsys.config import BucketConfig, Config
from tsys.contracts import AssetClass
from tsys.errors import DataError, StrategyError
from tsys.portfolio.step import History, LastBar, bucket_step, load_bars
from tsys.testing import InMemorySource, memory_context, synthetic_bars


@attrs.frozen
class ToyParams:
    n: int = 2
    fail: str = ""


class Toy(Bucket):
    name = "toy"
    asset_class = AssetClass.EQUITY
    version = "1"
    Params = ToyParams
    benchmark = "SPY"
    warmup_bars = 10

    def universe(self, ctx):
        if ctx.params.fail == "universe":
            raise RuntimeError("no list today")
        return ["A", "B", "C"][: ctx.params.n]

    def compute(self, ctx, bars, params):
        if params.fail == "compute":
            raise ValueError("bad math")
        close = bars.close
        ok = np.isfinite(close)
        return BucketOutput(
            score=np.where(ok, close, np.nan),
            entries=ok,
            exits=np.zeros(bars.shape, dtype=bool),
            stop=close * 0.9,
            target=np.full(bars.shape, np.nan),
        )


class NarrowToy(Toy):
    def history_symbols(self, ctx):
        return ["A"]


BARS = synthetic_bars(["A", "B", "C", "SPY"], n_bars=80, seed=3)
LAST = BARS.index[-1].date()


def _ctx(params=None, as_of=LAST, **settings):
    return memory_context(
        InMemorySource(BARS), as_of, BucketConfig(**settings), params=params or ToyParams()
    )


def test_last_bar_loads_the_universe_and_benchmark_and_plans_today():
    said = []
    ctx = _ctx(max_positions=1)
    step = bucket_step(Toy(), ctx, Config(), LastBar(equity=100_000.0), progress=said.append)
    assert step.bars.symbols == ("A", "B", "SPY")  # C is outside the universe (n=2)
    assert step.plan is None and step.decisions is not None
    bought = [p for p in step.decisions.plans if p.action.value == "buy"]
    assert len(bought) == 1  # max_positions comes from ctx.settings
    assert step.output.score.shape == step.bars.shape
    assert said == ["loading bars", "computing signals", "building the portfolio"]
    assert ctx.warnings == []


def test_last_bar_warns_on_stale_bars_and_fails_without_any():
    ctx = _ctx(as_of=LAST + dt.timedelta(days=5))
    bucket_step(Toy(), ctx, Config(), LastBar(equity=1e5))
    assert any("newest bar is" in w and "stale" in w for w in ctx.warnings)
    empty = _ctx(as_of=BARS.index[0].date() - dt.timedelta(days=3000))
    with pytest.raises(DataError, match=r"memory data starts 2020-01-01; as-of .* is before it"):
        bucket_step(Toy(), empty, Config(), LastBar(equity=1e5))


def test_history_loads_every_symbol_of_the_class_with_warm_up():
    start = BARS.index[40].date()
    ctx = _ctx(as_of=LAST)
    span = History(start=start, end=LAST, equity=1e5)
    assert span.load_start(Toy()) == start - dt.timedelta(days=45)  # 10 bars x 1.5 + 30
    step = bucket_step(Toy(), ctx, Config(), span)
    assert step.bars.symbols == BARS.symbols and step.decisions is None
    assert step.bars.index[0].date() >= span.load_start(Toy()) > BARS.index[0].date()
    assert step.plan.weights.shape == step.bars.shape
    assert History(start=None, end=LAST, equity=1.0).load_start(Toy()) is None


def test_history_symbols_narrow_the_panel_and_the_benchmark_is_merged():
    bars = load_bars(NarrowToy(), _ctx(), Config(), History(start=None, end=LAST, equity=1e5))
    assert bars.symbols == ("A", "SPY")


def test_failures_name_the_stage_and_keep_the_plugins_message():
    with pytest.raises(DataError, match=r"failed in Toy\.universe: RuntimeError: no list today"):
        bucket_step(Toy(), _ctx(ToyParams(fail="universe")), Config(), LastBar(equity=1e5))
    with pytest.raises(StrategyError, match=r"failed in Toy\.compute: ValueError: bad math"):
        bucket_step(Toy(), _ctx(ToyParams(fail="compute")), Config(), LastBar(equity=1e5))
    no_params = attrs.evolve(_ctx(), params=None)
    with pytest.raises(TypeError, match=r"ctx\.params"):
        bucket_step(Toy(), no_params, Config(), LastBar(equity=1e5))
