"""Full workload: 500 symbols x 5,000 bars, one shared-cash portfolio, top-20 momentum rebalanced
monthly, fees, impact slippage, a 2.5% participation cap and ATR trailing stops.

Data: a seeded geometric random walk with gaps and lognormal volume (generated here, outside the
timing). Prints one JSON line: times (signals, simulation, trades table), symbol-bars per second,
the simulation's peak traced memory (tracemalloc, separate run) and the process peak RSS.

    uv run --no-sync python bench/full_workload.py [--symbols 500] [--bars 5000] [--reps 3]
"""

from __future__ import annotations

import time

T_START = time.perf_counter()

import argparse  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import tracemalloc  # noqa: E402

import numpy as np  # noqa: E402

from tsys.sim import Capacity, CostModel, FeeModel, ImpactSlippage, StopRules, simulate  # noqa: E402

LOOKBACK, SKIP, TOP, EVERY = 126, 5, 20, 21


def generate(n: int, t: int, seed: int = 7):
    rng = np.random.default_rng(seed)
    sigma = rng.uniform(0.01, 0.03, n)
    mu = rng.uniform(-0.0002, 0.0006, n)
    gap = rng.normal(0, 1, (t, n)) * (0.3 * sigma)
    intra = mu + rng.normal(0, 1, (t, n)) * (0.95 * sigma)
    logc = np.log(rng.uniform(10, 300, n)) + np.cumsum(gap + intra, axis=0)
    close = np.exp(logc)
    open_ = np.exp(logc - intra)
    high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0, 1, (t, n))) * (0.5 * sigma))
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0, 1, (t, n))) * (0.5 * sigma))
    volume = np.floor(np.exp(rng.normal(np.log(2e5), 1.0, n)) * rng.lognormal(0, 0.4, (t, n)))
    return open_, high, low, close, volume


def momentum_targets(close: np.ndarray) -> np.ndarray:
    """Weights 1/TOP for the TOP best LOOKBACK-bar returns (skipping SKIP bars), monthly."""
    T, N = close.shape
    w = np.full((T, N), np.nan)
    rows = np.arange(LOOKBACK + SKIP, T, EVERY)
    mom = close[rows - SKIP] / close[rows - SKIP - LOOKBACK]
    top = np.argpartition(-mom, TOP - 1, axis=1)[:, :TOP]
    w[rows] = 0.0
    w[rows[:, None], top] = 1.0 / TOP
    return w


COSTS = CostModel(
    fees=FeeModel(bps=1.0, per_share=0.005, minimum=1.0),
    slippage=ImpactSlippage(half_spread_bps=2.0, impact=0.1, vol_window=20),
    capacity=Capacity(max_participation=0.025),
)
STOPS = StopRules(atr_trailing=3.0, atr_window=14)


def once(o, h, lo, c, v):
    t0 = time.perf_counter()
    w = momentum_targets(c)
    t1 = time.perf_counter()
    res = simulate(o, h, lo, c, v, target_weights=w, costs=COSTS, stops=STOPS, cash=1_000_000.0)
    t2 = time.perf_counter()
    return res, t1 - t0, t2 - t1


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--symbols", type=int, default=500)
    ap.add_argument("--bars", type=int, default=5000)
    ap.add_argument("--reps", type=int, default=3)
    a = ap.parse_args()
    t_import = time.perf_counter() - T_START
    t0 = time.perf_counter()
    o, h, lo, c, v = generate(a.symbols, a.bars)
    t_gen = time.perf_counter() - t0
    once(o[:300, :30], h[:300, :30], lo[:300, :30], c[:300, :30], v[:300, :30])  # warm-up
    sig, sim, tot = [], [], []
    res = None
    for _ in range(a.reps):
        res, ts, tm = once(o, h, lo, c, v)
        sig.append(ts)
        sim.append(tm)
        tot.append(ts + tm)
    t0 = time.perf_counter()
    trades = res.trades
    t_trades = time.perf_counter() - t0
    tracemalloc.start()
    once(o, h, lo, c, v)
    _, peak_traced = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    f = res.fill_arrays
    sb = a.symbols * a.bars
    med = float(np.median(tot))
    print(
        json.dumps(
            {
                "symbols": a.symbols,
                "bars": a.bars,
                "symbol_bars": sb,
                "signals_s": round(float(np.median(sig)), 4),
                "simulate_s": round(float(np.median(sim)), 4),
                "signals_plus_simulate_s": round(med, 4),
                "symbol_bars_per_s": round(sb / med),
                "trades_table_s": round(t_trades, 4),
                "fills": int((f["qty"] > 0).sum()),
                "capacity_limited_fills": int(((f["qty"] > 0) & (f["unfilled_qty"] > 0)).sum()),
                "trailing_stops": int((f["reason"] == 5).sum()),
                "trades": len(trades),
                "final_equity": round(float(res.equity[-1]), 2),
                "peak_traced_mb_one_run": round(peak_traced / 2**20, 1),
                "datagen_s": round(t_gen, 3),
                "imports_s": round(t_import, 3),
                "process_s": round(time.perf_counter() - T_START, 3),
                "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
