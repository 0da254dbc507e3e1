"""Statistics of the validation suite, in plain numpy.

* the stationary block bootstrap of Politis & Romano (1994) and percentile confidence intervals;
* the probabilistic Sharpe ratio (Bailey & López de Prado 2012) and the deflated Sharpe ratio
  (Bailey & López de Prado 2014), which deflates for the number of strategies tried;
* a Monte Carlo of trade order for the drawdown distribution;
* a test against random entries with the same holding periods and position sizes.

Sharpe ratios are computed per period (e.g. per day) inside the PSR/DSR formulas, as the papers
do, and annualised (x sqrt(periods per year)) everywhere they are shown. The performance figures
themselves (Sharpe, CAGR, drawdowns: negative fractions) come from :mod:`tsys.metrics`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from statistics import NormalDist
from typing import Any

import attrs
import numpy as np

from tsys.metrics import checked_returns, equity_drawdowns, sharpe

_N = NormalDist()
EULER_GAMMA = 0.5772156649015329


# --------------------------------------------------------------------------- bootstrap


def default_block_length(n: int) -> float:
    """Mean block length for the stationary bootstrap: n^(1/3), at least 1.

    The n^(1/3) rate is the optimal order for variance-type statistics (Politis & White 2004);
    the constant is left at one rather than estimated, which errs towards shorter blocks.
    """
    return max(1.0, n ** (1.0 / 3.0))


def stationary_bootstrap_indices(
    n: int, mean_block: float, n_samples: int, rng: np.random.Generator
) -> np.ndarray:
    """Index arrays (n_samples x n) of the stationary bootstrap (Politis & Romano 1994).

    Each resample starts at a uniform random index; every following position either continues
    the current block (index + 1, wrapping around the end) with probability 1 - 1/mean_block,
    or starts a new block at a uniform random index with probability 1/mean_block. Block
    lengths are therefore geometric with mean ``mean_block``.
    """
    if n < 1:
        raise ValueError("need at least one observation to bootstrap")
    if mean_block < 1:
        raise ValueError(f"mean block length must be >= 1, got {mean_block}")
    p = 1.0 / mean_block
    starts = rng.integers(0, n, size=(n_samples, n))
    new_block = rng.random((n_samples, n)) < p
    new_block[:, 0] = True
    idx = np.empty((n_samples, n), dtype=np.int64)
    idx[:, 0] = starts[:, 0]
    for t in range(1, n):
        idx[:, t] = np.where(new_block[:, t], starts[:, t], (idx[:, t - 1] + 1) % n)
    return idx


@attrs.frozen
class Interval:
    """A point estimate with a two-sided confidence interval."""

    value: float
    low: float
    high: float
    level: float


def bootstrap_ci(
    returns: np.ndarray,
    statistic: Callable[[np.ndarray], float],
    *,
    n_samples: int = 1000,
    mean_block: float | None = None,
    level: float = 0.95,
    seed: int = 0,
) -> Interval:
    """Percentile confidence interval of ``statistic`` under the stationary block bootstrap."""
    r = checked_returns(returns)
    rng = np.random.default_rng(seed)
    b = default_block_length(len(r)) if mean_block is None else mean_block
    values = np.empty(n_samples)
    # Chunks keep memory bounded on long series (n_samples x n int64 indices).
    chunk = max(1, min(n_samples, 4_000_000 // max(1, len(r))))
    done = 0
    while done < n_samples:
        k = min(chunk, n_samples - done)
        idx = stationary_bootstrap_indices(len(r), b, k, rng)
        for i in range(k):
            values[done + i] = statistic(r[idx[i]])
        done += k
    a = (1.0 - level) / 2.0
    lo, hi = np.quantile(values, [a, 1.0 - a])
    return Interval(float(statistic(r)), float(lo), float(hi), level)


# --------------------------------------------------------------------------- PSR / DSR


def probabilistic_sharpe(
    sr: float, sr_benchmark: float, n: int, skew: float, kurtosis: float
) -> float:
    """Probability that the true Sharpe exceeds ``sr_benchmark`` (Bailey & López de Prado 2012).

    ``sr`` and ``sr_benchmark`` are per-period (not annualised) Sharpe ratios measured over
    ``n`` observations; ``kurtosis`` is the plain (non-excess) kurtosis, 3 for a normal series::

        PSR = Phi( (sr - sr*) sqrt(n - 1) / sqrt(1 - skew sr + (kurtosis - 1) / 4 sr^2) )
    """
    if n < 2:
        return float("nan")
    denom = 1.0 - skew * sr + (kurtosis - 1.0) / 4.0 * sr * sr
    if denom <= 0:
        # The variance estimate of the Sharpe broke down (extreme moments): no confidence.
        return float("nan")
    return _N.cdf((sr - sr_benchmark) * math.sqrt(n - 1) / math.sqrt(denom))


def expected_max_sharpe(n_trials: int, variance: float) -> float:
    """Expected maximum of ``n_trials`` Sharpe ratios with true mean 0 and the given variance.

    The False Strategy Theorem (Bailey & López de Prado 2014)::

        E[max SR] = sqrt(V) ((1 - gamma) Phi^-1(1 - 1/N) + gamma Phi^-1(1 - 1/(N e)))

    with gamma the Euler-Mascheroni constant. It is 0 for a single trial.
    """
    if n_trials < 1:
        raise ValueError("the number of trials must be at least 1")
    if n_trials == 1 or variance <= 0:
        return 0.0
    z1 = _N.inv_cdf(1.0 - 1.0 / n_trials)
    z2 = _N.inv_cdf(1.0 - 1.0 / (n_trials * math.e))
    return math.sqrt(variance) * ((1.0 - EULER_GAMMA) * z1 + EULER_GAMMA * z2)


def deflated_sharpe(
    sr: float, n: int, skew: float, kurtosis: float, n_trials: int, trials_variance: float
) -> tuple[float, float]:
    """Deflated Sharpe ratio and the benchmark it used: PSR against E[max SR] of the trials.

    All Sharpe figures per period; ``trials_variance`` is the variance of the per-period Sharpe
    ratios of the trials. Returns ``(dsr, sr0)``.
    """
    sr0 = expected_max_sharpe(n_trials, trials_variance)
    return probabilistic_sharpe(sr, sr0, n, skew, kurtosis), sr0


# --------------------------------------------------------------------------- Monte Carlo


def path_max_drawdown(trade_returns: np.ndarray) -> np.ndarray:
    """Max drawdown (<= 0) of the equity compounded through trades, row by row of a 2-D array."""
    tr = np.atleast_2d(np.asarray(trade_returns, dtype=np.float64))
    equity = np.concatenate([np.ones((tr.shape[0], 1)), np.cumprod(1.0 + tr, axis=1)], axis=1)
    return equity_drawdowns(equity, axis=1).min(axis=1)


@attrs.frozen
class DrawdownDistribution:
    """Max drawdowns (negative fractions) over reshuffled trade orders.

    ``p05``/``p50``/``p95`` are percentiles of the loss: ``p95`` is the deep tail (95% of the
    orders draw down less), so ``p05 >= p50 >= p95 >= worst``.
    """

    observed: float
    mean: float
    p05: float
    p50: float
    p95: float
    worst: float
    n_paths: int
    n_trades: int
    #: Share of paths whose drawdown is deeper than the gate's limit (a positive magnitude;
    #: None without a gate).
    p_exceeds: float | None = None


def trade_order_monte_carlo(
    trade_returns: np.ndarray,
    *,
    n_paths: int = 2000,
    seed: int = 0,
    threshold: float | None = None,
) -> DrawdownDistribution:
    """Drawdown distribution when the same trades happen in a random order.

    ``trade_returns`` are each trade's profit as a fraction of equity at its entry. Compounding
    is commutative, so every path ends at the same equity; only the path, and so the drawdown,
    changes. The observed order's drawdown is reported beside the distribution.
    """
    tr = np.asarray(trade_returns, dtype=np.float64)
    if tr.ndim != 1 or not np.all(np.isfinite(tr)):
        raise ValueError("trade returns must be a finite one-dimensional array")
    if np.any(tr <= -1.0):
        raise ValueError("a trade return of -100% or worse leaves nothing to compound")
    if len(tr) == 0:
        return DrawdownDistribution(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0, 0, None)
    rng = np.random.default_rng(seed)
    perms = np.argsort(rng.random((n_paths, len(tr))), axis=1)
    loss = -path_max_drawdown(tr[perms])  # magnitudes, so the percentiles read as losses
    return DrawdownDistribution(
        observed=float(path_max_drawdown(tr)[0]),
        mean=-float(loss.mean()),
        p05=-float(np.quantile(loss, 0.05)),
        p50=-float(np.quantile(loss, 0.5)),
        p95=-float(np.quantile(loss, 0.95)),
        worst=-float(loss.max()),
        n_paths=n_paths,
        n_trades=len(tr),
        p_exceeds=None if threshold is None else float(np.mean(loss > threshold)),
    )


# --------------------------------------------------------------------------- random entries


@attrs.frozen
class RandomEntryTest:
    """The real Sharpe against backtests that enter at random with the same trade shapes."""

    sharpe: float
    random_mean: float
    random_p95: float
    p_value: float
    n_backtests: int


def random_entry_returns(
    close: np.ndarray,
    bars_held: np.ndarray,
    weights: np.ndarray,
    cost: float,
    rng: np.random.Generator,
    n_backtests: int,
) -> np.ndarray:
    """Daily returns (n_backtests x T-1) of portfolios of randomly placed trades.

    Each real trade (holding ``bars_held[i]`` bars at a weight ``weights[i]`` of equity) is
    placed on a random symbol at a random start bar where that symbol has prices for the whole
    holding period; the portfolio return of a bar is the weighted sum of the active trades'
    close-to-close returns, minus ``cost`` (a fraction of the traded weight) at entry and exit.
    The number, length and size of trades, and so the average exposure, match the strategy;
    only the timing and choice of symbols are random.
    """
    c = np.asarray(close, dtype=np.float64)
    T, N = c.shape
    with np.errstate(invalid="ignore", divide="ignore"):
        rets = c[1:] / c[:-1] - 1.0
    valid = np.isfinite(rets)
    rets = np.where(valid, rets, 0.0)
    # run[t, j]: number of consecutive valid returns starting at bar t (forward).
    run = np.zeros((T, N), dtype=np.int64)
    for t in range(T - 2, -1, -1):
        run[t] = np.where(valid[t], run[t + 1] + 1, 0)
    out = np.zeros((n_backtests, T - 1))
    holds = np.clip(np.asarray(bars_held, dtype=np.int64), 1, T - 1)
    w = np.asarray(weights, dtype=np.float64)
    for h in np.unique(holds):
        starts_t, starts_j = np.nonzero(run[: T - 1] >= h)
        if len(starts_t) == 0:
            continue
        which = np.flatnonzero(holds == h)
        pick = rng.integers(0, len(starts_t), size=(n_backtests, len(which)))
        for k, i in enumerate(which):
            t0 = starts_t[pick[:, k]]
            j = starts_j[pick[:, k]]
            for d in range(h):
                out[np.arange(n_backtests), t0 + d] += w[i] * rets[t0 + d, j]
            out[np.arange(n_backtests), t0] -= w[i] * cost
            out[np.arange(n_backtests), t0 + h - 1] -= w[i] * cost
    return out


def trade_sizes(trades: Any, eq_entry: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """What a random-entry test keeps of each trade: its weight at entry (notional over the
    equity at its entry bar, ``eq_entry``) and its bars held (at least 1)."""
    weights = (
        trades["qty"].to_numpy(dtype=np.float64)
        * trades["entry_price"].to_numpy(dtype=np.float64)
        / eq_entry
    )
    held = np.maximum(trades["bars_held"].to_numpy(dtype=np.int64), 1)
    return weights, held


def random_entry_test(
    strategy_returns: np.ndarray,
    close: np.ndarray,
    bars_held: np.ndarray,
    weights: np.ndarray,
    *,
    cost: float = 0.0,
    n_backtests: int = 200,
    periods: float = 252.0,
    seed: int = 0,
) -> RandomEntryTest:
    """One-sided p-value of the strategy's Sharpe among random-entry backtests.

    ``p = (1 + #{random Sharpe >= real Sharpe}) / (n_backtests + 1)``, the usual Monte Carlo
    p-value that never reports zero.
    """
    real = sharpe(strategy_returns, periods)
    rng = np.random.default_rng(seed)
    rand = random_entry_returns(close, bars_held, weights, cost, rng, n_backtests)
    sr = np.array([sharpe(row, periods) for row in rand])
    p = (1.0 + float(np.sum(sr >= real))) / (n_backtests + 1.0)
    return RandomEntryTest(
        sharpe=real,
        random_mean=float(sr.mean()),
        random_p95=float(np.quantile(sr, 0.95)),
        p_value=p,
        n_backtests=n_backtests,
    )
