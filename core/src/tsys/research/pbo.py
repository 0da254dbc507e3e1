"""The Probability of Backtest Overfitting by combinatorially symmetric cross-validation.

Bailey, Borwein, López de Prado and Zhu, "The Probability of Backtest Overfitting" (Journal of
Computational Finance, 2017), as summarised in ``shared/reference/RESEARCH.md``:

1. ``M`` is the T x N matrix of per-period returns of the N configurations tried.
2. Its rows are split into S equal blocks (S even). When S does not divide T, the oldest
   ``T mod S`` rows are left out so that every block has the same length.
3. For each of the C(S, S/2) ways to choose S/2 blocks as in-sample (the rest out-of-sample),
   n* is the configuration with the best in-sample Sharpe ratio (the lowest index on a tie).
4. w = rank of n* among the N out-of-sample Sharpe ratios / (N + 1), ranks 1 (worst) to N
   (best), ties sharing their average rank; the logit is lambda = ln(w / (1 - w)).
5. PBO = the share of combinations with lambda <= 0 (the in-sample winner is at or below the
   out-of-sample median).

Also reported: the performance degradation (the least-squares line of the winner's
out-of-sample Sharpe on its in-sample Sharpe across combinations, and both means) and the
probability of loss (the share of combinations where the winner's out-of-sample Sharpe is
negative). Sharpe ratios are annualised with ``periods``; a configuration without variance in a
half (e.g. always in cash) has Sharpe 0 there.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import attrs
import numpy as np

from tsys.errors import ConfigError


@attrs.frozen(eq=False)
class PBOResult:
    """What CSCV found (see the module docstring)."""

    pbo: float
    n_blocks: int
    n_combinations: int
    n_configs: int
    n_periods: int
    #: Rows left out at the start so the blocks are equal.
    dropped_rows: int
    #: Per combination: the logit of the winner's relative OOS rank.
    logits: np.ndarray
    #: Per combination: the winner's in-sample and out-of-sample Sharpe (annualised).
    is_sharpe: np.ndarray
    oos_sharpe: np.ndarray
    #: Per combination: index of the in-sample winner.
    winners: np.ndarray
    degradation_slope: float
    degradation_intercept: float
    prob_loss: float

    def summary(self) -> dict[str, Any]:
        """The figures for reports (JSON-ready; no per-combination arrays but a histogram)."""
        lo, hi = -4.0, 4.0
        counts, edges = np.histogram(np.clip(self.logits, lo, hi), bins=16, range=(lo, hi))
        return {
            "pbo": self.pbo,
            "n_blocks": self.n_blocks,
            "n_combinations": self.n_combinations,
            "n_configs": self.n_configs,
            "n_periods": self.n_periods,
            "dropped_rows": self.dropped_rows,
            "mean_is_sharpe": float(np.mean(self.is_sharpe)),
            "mean_oos_sharpe": float(np.mean(self.oos_sharpe)),
            "degradation_slope": self.degradation_slope,
            "degradation_intercept": self.degradation_intercept,
            "prob_loss": self.prob_loss,
            "logit_median": float(np.median(self.logits)),
            "logit_histogram": {
                "edges": [float(e) for e in edges],
                "counts": [int(c) for c in counts],
            },
            "distinct_winners": len(set(self.winners.tolist())),
        }


def _block_sums(m: np.ndarray, n_blocks: int) -> tuple[np.ndarray, np.ndarray, int, int]:
    T = m.shape[0]
    size = T // n_blocks
    drop = T - size * n_blocks
    blocks = m[drop:].reshape(n_blocks, size, m.shape[1])
    return blocks.sum(axis=1), (blocks**2).sum(axis=1), size, drop


def _sharpe(s1: np.ndarray, s2: np.ndarray, n: int, periods: float) -> np.ndarray:
    """Annualised Sharpe from sums of returns and of squares over ``n`` rows (ddof 1)."""
    mean = s1 / n
    var = (s2 - n * mean * mean) / (n - 1)
    # Rounding can leave a tiny positive variance on a constant series: treat it as none.
    scale = np.maximum(s2 / n, 1e-300)
    ok = var > 1e-12 * scale
    sd = np.sqrt(np.where(ok, var, 1.0))
    return np.where(ok, mean / sd * math.sqrt(periods), 0.0)


def _avg_rank(values: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Average rank (1 = lowest) of ``target[c]`` within row ``c`` of ``values``."""
    less = (values < target[:, None]).sum(axis=1)
    equal = (values == target[:, None]).sum(axis=1)  # includes the target itself
    return less + (equal + 1) / 2.0


def cscv(matrix: Any, *, n_blocks: int = 16, periods: float = 252.0) -> PBOResult:
    """PBO of the T x N return matrix ``matrix`` by CSCV with ``n_blocks`` blocks.

    Parameters
    ----------
    matrix
        Per-period simple returns, one column per configuration tried (T x N, N >= 2).
    n_blocks
        S, even, at least 2; each block needs at least two rows.
    periods
        Periods per year, to annualise the Sharpe ratios reported.
    """
    m = np.asarray(matrix, dtype=np.float64)
    if m.ndim != 2:
        raise ConfigError(f"the return matrix must be T x N, got shape {m.shape}")
    T, N = m.shape
    if N < 2:
        raise ConfigError("PBO needs at least two configurations")
    if n_blocks < 2 or n_blocks % 2:
        raise ConfigError(f"the number of CSCV blocks must be even and >= 2, got {n_blocks}")
    if 2 * n_blocks > T:
        raise ConfigError(f"{T} periods are too few for {n_blocks} blocks of two or more rows")
    if not np.all(np.isfinite(m)):
        raise ConfigError("the return matrix holds NaN or infinite values")
    s1, s2, size, drop = _block_sums(m, n_blocks)
    half = n_blocks // 2
    combos = np.array(list(itertools.combinations(range(n_blocks), half)), dtype=np.int64)
    mask = np.zeros((len(combos), n_blocks), dtype=np.float64)
    mask[np.arange(len(combos))[:, None], combos] = 1.0
    n_half = size * half
    is_sr = _sharpe(mask @ s1, mask @ s2, n_half, periods)
    oos_sr = _sharpe((1.0 - mask) @ s1, (1.0 - mask) @ s2, n_half, periods)
    winners = np.argmax(is_sr, axis=1)  # first index on ties
    rows = np.arange(len(combos))
    win_oos = oos_sr[rows, winners]
    w = _avg_rank(oos_sr, win_oos) / (N + 1.0)
    logits = np.log(w / (1.0 - w))
    win_is = is_sr[rows, winners]
    if np.ptp(win_is) > 0:
        slope, intercept = np.polyfit(win_is, win_oos, 1)
    else:
        slope, intercept = math.nan, float(np.mean(win_oos))
    return PBOResult(
        pbo=float(np.mean(logits <= 0.0)),
        n_blocks=n_blocks,
        n_combinations=len(combos),
        n_configs=N,
        n_periods=T,
        dropped_rows=drop,
        logits=logits,
        is_sharpe=win_is,
        oos_sharpe=win_oos,
        winners=winners,
        degradation_slope=float(slope),
        degradation_intercept=float(intercept),
        prob_loss=float(np.mean(win_oos < 0.0)),
    )
