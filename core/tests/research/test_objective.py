"""An objective that cannot win by hiding: exposure and CAGR-lag constraints on every trial."""

from __future__ import annotations

import math

import attrs
import numpy as np
import pytest
from research_market import PlantedBucket, hub_of, planted_market

from tsys.config import Config
from tsys.optimize.evaluate import Constraints, FoldResult, summarise
from tsys.research.lab import Lab
from tsys.research.loop import ResearchSpec, optimise


def _fold(r, exposure=None, bench=None):
    return FoldResult(returns=np.asarray(r), n_trades=20, turnover=1.0, exposure=exposure,
                      benchmark_returns=bench)  # fmt: skip


def test_summary_carries_exposure_and_the_benchmarks_cagr():
    a = _fold([0.01, 0.0], exposure=np.array([0.0, 0.5, 1.0]), bench=np.array([0.02, 0.02]))
    b = _fold([0.0], exposure=np.array([0.5, 0.5]), bench=np.array([0.0]))
    s = summarise([a, b], periods_per_year=3)
    assert s.exposure == pytest.approx(0.5)
    assert s.benchmark_cagr == pytest.approx(1.02**2 - 1.0)  # three bars = one year
    assert math.isnan(summarise([_fold([0.01])], 252).exposure)


def test_constraints_bind_on_exposure_and_cagr_lag():
    c = Constraints(min_exposure=0.6, max_cagr_lag=0.05)
    s = summarise(
        [_fold([0.001] * 252, exposure=np.full(253, 0.2), bench=np.full(252, 0.0006))], 252
    )
    v = c.values(s)
    assert v["min_exposure"] == pytest.approx(0.4)  # 20% invested against a 60% floor
    lag = s.benchmark_cagr - s.cagr  # negative: ahead of the benchmark
    assert v["max_cagr_lag"] == pytest.approx(lag - 0.05) and v["max_cagr_lag"] < 0
    unknown = c.values(summarise([_fold([0.001] * 10)], 252))
    assert unknown["min_exposure"] == 1.0  # a trial must show it is invested
    assert unknown["max_cagr_lag"] == 0.0  # no benchmark: nothing to lag


def test_a_trial_that_hides_in_cash_cannot_be_chosen(tmp_path):
    bucket = PlantedBucket()
    lab = Lab(bucket, hub_of(planted_market(), tmp_path), Config())
    base = attrs.asdict(bucket.default_params())
    lab.run(base)
    free = optimise(lab, ResearchSpec(trials=12, seed=5), base, 900, seed=5)
    exposures = {p.number: lab.fold(lab.runs()[p.number], 900).exposure.mean() for p in free.points}
    floor = float(np.median(list(exposures.values())))
    held = optimise(
        lab, ResearchSpec(trials=1, seed=5, constraints=Constraints(min_exposure=floor)), base,
        900, seed=5,
    )  # fmt: skip
    checked = [p for p in held.points if p.number in exposures]
    assert len(checked) == len(exposures)
    for p in checked:
        assert p.feasible == (exposures[p.number] >= floor)
    assert held.summary.exposure >= floor
    none = optimise(
        lab, ResearchSpec(trials=1, seed=5, constraints=Constraints(min_exposure=0.99)), base,
        900, seed=5,
    )  # fmt: skip
    assert none.plateau is None and none.chosen == base  # nothing feasible: keep today's
