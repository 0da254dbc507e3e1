"""Every statistic of the validation suite against hand-computed or textbook values."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from tsys import metrics
from tsys.validate import stats


def test_probabilistic_sharpe_hand_computed():
    # normal moments: z = 0.1 * sqrt(100) / sqrt(1 + 2/4 * 0.01) = 0.997509; Phi(z) = 0.84067
    assert stats.probabilistic_sharpe(0.1, 0.0, 101, 0.0, 3.0) == pytest.approx(0.84067, abs=1e-4)
    # at the benchmark itself the probability is one half, whatever the moments
    assert stats.probabilistic_sharpe(0.05, 0.05, 500, -1.0, 8.0) == pytest.approx(0.5)
    # negative skew and fat tails widen the Sharpe's error: lower confidence
    assert stats.probabilistic_sharpe(0.1, 0.0, 101, -2.0, 10.0) < 0.84


def test_deflated_sharpe_matches_the_paper_example():
    # Bailey & López de Prado (2014), "The Deflated Sharpe Ratio", numerical example:
    # 100 trials, annualised SR 2.5 over 1250 days, V[SR] = 1/2 (annual), skew -3, kurtosis 10
    # -> SR0 = 0.1132 (daily) and DSR = 0.9004.
    dsr, sr0 = stats.deflated_sharpe(2.5 / math.sqrt(250), 1250, -3.0, 10.0, 100, 0.5 / 250)
    assert sr0 == pytest.approx(0.1132, abs=1e-4)
    assert dsr == pytest.approx(0.9004, abs=1e-4)


def test_one_trial_is_not_deflated():
    assert stats.expected_max_sharpe(1, 0.3) == 0.0
    dsr, sr0 = stats.deflated_sharpe(0.08, 400, 0.1, 4.0, 1, 0.3)
    assert sr0 == 0.0
    assert dsr == pytest.approx(stats.probabilistic_sharpe(0.08, 0.0, 400, 0.1, 4.0))
    # more trials -> a higher bar -> lower DSR
    assert stats.deflated_sharpe(0.08, 400, 0.1, 4.0, 50, 0.001)[0] < dsr


def test_expected_max_sharpe_is_close_to_simulated_maxima():
    rng = np.random.default_rng(1)
    sims = rng.normal(0.0, 0.2, size=(20000, 30)).max(axis=1).mean()
    assert stats.expected_max_sharpe(30, 0.04) == pytest.approx(sims, rel=0.03)


def test_stationary_bootstrap_blocks_have_the_requested_mean_length():
    rng = np.random.default_rng(3)
    n, b = 400, 8.0
    idx = stats.stationary_bootstrap_indices(n, b, 300, rng)
    assert idx.min() >= 0 and idx.max() < n
    cont = idx[:, 1:] == (idx[:, :-1] + 1) % n
    # a new block starts with probability 1/b; continuing by chance happens with 1/n
    p_new = 1.0 - cont.mean()
    assert p_new == pytest.approx(1.0 / b - (1.0 / b) / n, rel=0.05)


def test_bootstrap_ci_of_sharpe_on_iid_series_matches_the_analytical_interval():
    rng = np.random.default_rng(11)
    n = 1500
    r = rng.normal(0.001, 0.01, n)
    ci = stats.bootstrap_ci(r, lambda x: metrics.sharpe(x), n_samples=600, mean_block=1.0, seed=5)
    sr = ci.value / math.sqrt(252)
    # Lo (2002): SE of the per-period Sharpe of iid normal returns = sqrt((1 + SR^2/2) / n)
    se = math.sqrt((1 + sr * sr / 2) / n) * math.sqrt(252)
    width = ci.high - ci.low
    assert width == pytest.approx(2 * 1.959964 * se, rel=0.12)
    assert ci.low < ci.value < ci.high
    # blocks do not change the width much for an iid series
    ci_b = stats.bootstrap_ci(r, lambda x: metrics.sharpe(x), n_samples=600, seed=5)
    assert ci_b.high - ci_b.low == pytest.approx(width, rel=0.2)


def test_bootstrap_ci_of_the_mean_on_iid_series():
    rng = np.random.default_rng(2)
    r = rng.normal(0.0, 1.0, 1000)
    ci = stats.bootstrap_ci(r, np.mean, n_samples=800, mean_block=1.0, seed=1)
    assert ci.high - ci.low == pytest.approx(2 * 1.959964 / math.sqrt(1000), rel=0.12)


def test_monte_carlo_drawdown_distribution_properties():
    trades = np.array([0.05, -0.03, 0.02, -0.04, 0.06, -0.02])
    mc = stats.trade_order_monte_carlo(trades, n_paths=3000, seed=4, threshold=0.05)
    # every order compounds to the same end; the worst drawdown is all losses in a row
    bound = 1 - np.prod(1 + trades[trades < 0])
    assert mc.worst == pytest.approx(-bound)  # 720 orders, 3000 paths: the worst one appears
    assert 0 >= mc.p05 >= mc.p50 >= mc.p95 >= mc.worst  # drawdowns are negative fractions
    # exhaustive distribution for comparison
    all_dd = np.array(
        [stats.path_max_drawdown(trades[list(p)])[0] for p in itertools.permutations(range(6))]
    )
    assert mc.mean == pytest.approx(all_dd.mean(), rel=0.03)
    assert mc.p_exceeds == pytest.approx(np.mean(all_dd < -0.05), abs=0.03)
    assert mc.observed == pytest.approx(metrics.max_drawdown(trades))
    only_gains = stats.trade_order_monte_carlo(np.array([0.01, 0.02]), n_paths=50)
    assert only_gains.worst == 0.0


def test_random_entry_returns_keep_exposure_and_costs():
    # every symbol gains exactly 1% per bar: each random path earns sum(w * h) % minus costs
    T, N = 60, 5
    close = 100 * 1.01 ** np.arange(T)[:, None] * np.ones((1, N))
    holds = np.array([3, 5, 10])
    w = np.array([0.2, 0.3, 0.1])
    out = stats.random_entry_returns(close, holds, w, 0.001, np.random.default_rng(0), 40)
    expected = float(np.sum(w * holds) * 0.01 - 2 * 0.001 * np.sum(w))
    np.testing.assert_allclose(out.sum(axis=1), expected)


def test_random_entry_test_detects_a_real_edge():
    rng = np.random.default_rng(7)
    T, N = 500, 20
    rets = rng.normal(0.0, 0.02, (T - 1, N))
    rets[:, 0] += 0.004  # symbol 0 drifts up; the others do not
    close = 100 * np.vstack([np.ones(N), np.cumprod(1 + rets, axis=0)])
    holds = np.full(10, 49)
    w = np.full(10, 0.5)
    edge = np.zeros(T - 1)
    for k in range(10):  # the "strategy" holds symbol 0 in ten back-to-back trades
        edge[k * 49 : (k + 1) * 49] += 0.5 * rets[k * 49 : (k + 1) * 49, 0]
    res = stats.random_entry_test(edge, close, holds, w, n_backtests=200, seed=1)
    assert res.p_value < 0.05
    assert res.sharpe > res.random_p95
    # a strategy that holds a driftless symbol is not better than chance
    noise = np.zeros(T - 1)
    for k in range(10):
        noise[k * 49 : (k + 1) * 49] += 0.5 * rets[k * 49 : (k + 1) * 49, 3]
    res = stats.random_entry_test(noise, close, holds, w, n_backtests=200, seed=1)
    assert res.p_value > 0.05
