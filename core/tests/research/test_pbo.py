"""PBO by CSCV: exact values on matrices small enough to work out by hand, and a brute force."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from tsys.errors import ConfigError
from tsys.research.pbo import cscv


def test_two_blocks_two_configs_by_hand():
    # Block 0 = rows 0-1, block 1 = rows 2-3. Per-period Sharpe (mean / sd, ddof 1):
    #   A: block 0 [0.01, 0.03] -> 0.02 / 0.014142 = 1.4142; block 1 [-0.01, 0.01] -> 0
    #   B: block 0 [0.00, 0.02] -> 0.7071;                  block 1 [0.01, 0.03] -> 1.4142
    m = np.array([[0.01, 0.00], [0.03, 0.02], [-0.01, 0.01], [0.01, 0.03]])
    got = cscv(m, n_blocks=2, periods=1.0)
    assert got.n_combinations == 2
    # IS block 0: A wins (1.414 > 0.707); OOS block 1: A 0 < B 1.414 -> rank 1 of 2, w = 1/3.
    # IS block 1: B wins (1.414 > 0); OOS block 0: B 0.707 < A 1.414 -> rank 1, w = 1/3.
    assert got.winners.tolist() == [0, 1]
    np.testing.assert_allclose(got.logits, [math.log(0.5), math.log(0.5)])
    assert got.pbo == 1.0
    np.testing.assert_allclose(got.is_sharpe, [math.sqrt(2), math.sqrt(2)])
    np.testing.assert_allclose(got.oos_sharpe, [0.0, math.sqrt(2) / 2])
    assert got.prob_loss == 0.0  # the winner's OOS Sharpe is never below zero
    assert math.isnan(got.degradation_slope)  # both IS Sharpes equal: no line to fit


def test_a_dominant_configuration_is_never_overfit():
    rng = np.random.default_rng(3)
    noise = rng.normal(0, 0.01, (64, 3))
    m = noise.copy()
    m[:, 2] = np.abs(noise[:, 2]) + 0.02  # always positive, larger and steadier than the others
    got = cscv(m, n_blocks=4, periods=1.0)
    assert got.n_combinations == 6
    assert set(got.winners.tolist()) == {2}
    # rank N = 3 of 3 -> w = 3/4 -> lambda = ln 3 in every split
    np.testing.assert_allclose(got.logits, math.log(3.0))
    assert got.pbo == 0.0 and got.prob_loss == 0.0


def test_ties_share_their_average_rank():
    # Two identical configurations and one worse: the winner (first of the twins) ranks
    # (2 + 3) / 2 = 2.5 of 3 out of sample -> w = 2.5 / 4 -> lambda = ln(5/3) > 0.
    rng = np.random.default_rng(0)
    good = np.abs(rng.normal(0, 0.01, 32)) + 0.01
    m = np.column_stack([good, good, rng.normal(-0.01, 0.01, 32)])
    got = cscv(m, n_blocks=4, periods=1.0)
    assert set(got.winners.tolist()) == {0}
    np.testing.assert_allclose(got.logits, math.log(2.5 / 1.5))
    assert got.pbo == 0.0


def _brute(m: np.ndarray, s: int, periods: float) -> tuple[float, list[float]]:
    """An independent, slow CSCV: concatenate the rows, rank with sorted lists."""
    T = m.shape[0]
    size = T // s
    rows = m[T - size * s :]
    blocks = [rows[i * size : (i + 1) * size] for i in range(s)]

    def sharpe(x: np.ndarray) -> np.ndarray:
        sd = x.std(axis=0, ddof=1)
        return np.where(sd > 0, x.mean(axis=0) / np.where(sd > 0, sd, 1) * math.sqrt(periods), 0)

    logits = []
    for combo in itertools.combinations(range(s), s // 2):
        ins = np.vstack([blocks[i] for i in combo])
        outs = np.vstack([blocks[i] for i in range(s) if i not in combo])
        sr_is, sr_oos = sharpe(ins), sharpe(outs)
        n_star = int(np.argmax(sr_is))
        below = sum(v < sr_oos[n_star] for v in sr_oos)
        same = sum(v == sr_oos[n_star] for v in sr_oos)
        w = (below + (same + 1) / 2) / (m.shape[1] + 1)
        logits.append(math.log(w / (1 - w)))
    return float(np.mean([lg <= 0 for lg in logits])), logits


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_a_brute_force_on_random_matrices(seed):
    rng = np.random.default_rng(seed)
    m = rng.normal(0.0005, 0.01, (203, 7))  # 203 rows: 3 are left out for 8 equal blocks
    m[:, 3] += np.linspace(-0.004, 0.004, 203)  # one configuration that changes over time
    got = cscv(m, n_blocks=8, periods=252.0)
    pbo, logits = _brute(m, 8, 252.0)
    assert got.dropped_rows == 3
    assert got.pbo == pytest.approx(pbo)
    np.testing.assert_allclose(got.logits, logits, rtol=1e-9, atol=1e-12)


def test_pure_noise_is_overfit_about_half_the_time():
    rng = np.random.default_rng(11)
    m = rng.normal(0.0, 0.01, (1600, 60))
    got = cscv(m, n_blocks=16, periods=252.0)
    assert got.n_combinations == 12870
    assert 0.3 < got.pbo < 0.7
    # the in-sample winner's Sharpe falls back towards zero out of sample
    assert got.summary()["mean_oos_sharpe"] < 0.5 * got.summary()["mean_is_sharpe"]


@pytest.mark.parametrize(
    ("shape", "blocks", "message"),
    [((40, 1), 4, "at least two"), ((40, 3), 3, "even"), ((6, 3), 4, "too few")],
)
def test_rejects_what_cscv_cannot_do(shape, blocks, message):
    with pytest.raises(ConfigError, match=message):
        cscv(np.zeros(shape), n_blocks=blocks)
