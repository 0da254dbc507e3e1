"""Parity benchmark: the shared SMA 10/50 crossover workload through tsys.sim vs the C reference.

Reads ``<repo>/../shared/bench`` (README, ``common.py``, ``ref_c.py``) at run time; never copies
it. For each size (``check``, ``c``) it runs the C reference and tsys.sim on the same generated
data in this process, requires the same trade count and total final equity (relative difference
below 1e-9) and prints the times and their ratio. Exits 0 with a note when the folder is absent.

    uv run --no-sync python bench/parity.py [--sizes check,c] [--reps 3]
"""

from __future__ import annotations

import time

T_START = time.perf_counter()

import argparse  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
import tracemalloc  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from tsys.sim import Capacity, CostModel, FeeModel, FixedSlippage, simulate  # noqa: E402

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "bench"


def signals(
    close_tn: np.ndarray, fast: int, slow: int, block: int = 512
) -> tuple[np.ndarray, np.ndarray]:
    """Cross-up / cross-down masks (T x N) with common.py's exact definition.

    SMAs from running cumulative sums (float64), ``d = SMA_fast - SMA_slow``; a cross up at t is
    ``d[t-1] < 0 < d[t]`` (t >= slow), found as a jump of +2 in ``sign(d)`` (int8). Rows are
    processed in blocks that stay in cache, reusing a few small buffers, so no T x N float
    temporary is ever allocated; the cumulative sum carries from block to block and is
    bit-identical to one ``np.cumsum`` over the whole panel.
    """
    T, N = close_tn.shape
    w = max(fast, slow)
    B = max(block, w)
    up = np.zeros((T, N), dtype=bool)
    down = np.zeros((T, N), dtype=bool)
    if w >= T:
        return up, down
    cs = np.zeros((w + B, N))  # cumulative sums of rows a - w .. a + B - 1 (0 before row 0)
    f, s = np.empty((B, N)), np.empty((B, N))
    gt, lt = np.empty((B, N), dtype=bool), np.empty((B, N), dtype=bool)
    sg = np.zeros((B + 1, N), dtype=np.int8)  # sign(d); row 0 is the previous bar
    jump = np.empty((B, N), dtype=np.int8)
    for a in range(0, T, B):
        n = min(B, T - a)
        cur = cs[w : w + n]
        cur[...] = close_tn[a : a + n]
        np.cumsum(cs[w - 1 : w + n], axis=0, out=cs[w - 1 : w + n])
        np.subtract(cur, cs[w - fast : w - fast + n], out=f[:n])
        np.divide(f[:n], fast, out=f[:n])
        np.subtract(cur, cs[w - slow : w - slow + n], out=s[:n])
        np.divide(s[:n], slow, out=s[:n])
        np.subtract(f[:n], s[:n], out=f[:n])  # d = SMA_fast - SMA_slow
        np.greater(f[:n], 0.0, out=gt[:n])
        np.less(f[:n], 0.0, out=lt[:n])
        np.subtract(gt[:n].view(np.int8), lt[:n].view(np.int8), out=sg[1 : n + 1])
        np.subtract(sg[1 : n + 1], sg[:n], out=jump[:n])
        np.equal(jump[:n], 2, out=up[a : a + n])
        np.equal(jump[:n], -2, out=down[a : a + n])
        sg[0] = sg[n]
        cs[:w] = cs[n : n + w]
    up[:w] = False  # both SMAs must exist at t - 1
    down[:w] = False
    return up, down


def run_tsys(o, h, lo, c, v, fast, slow, common):
    """Signals + simulation; returns (equity per symbol, trades per symbol, seconds split)."""
    t0 = time.perf_counter()
    up, down = signals(c, fast, slow)
    t1 = time.perf_counter()
    costs = CostModel(
        fees=FeeModel(bps=common.COMM * 1e4),
        slippage=FixedSlippage(bps=common.SLIP * 1e4),
        capacity=Capacity(max_participation=None),
    )
    res = simulate(
        o, h, lo, c, v,
        entries=up, exits=down, target_weights=common.FRAC, costs=costs, lot_size=1.0,
        cash=common.CASH0, cash_sharing=False, record_positions=False,
    )  # fmt: skip
    t2 = time.perf_counter()
    fa = res.fill_arrays
    buys = (fa["side"] > 0) & (fa["qty"] > 0)
    trades = np.bincount(fa["sym"][buys], minlength=c.shape[1])
    return res.last_sub_equity, trades, (t1 - t0, t2 - t1)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="check,c")
    ap.add_argument("--reps", type=int, default=3)
    a = ap.parse_args()
    if not (SHARED / "common.py").exists():
        print(f"parity: shared benchmark folder {SHARED} is absent; nothing to compare, skipping")
        return 0
    sys.path.insert(0, str(SHARED))
    import common
    import ref_c

    t_import = time.perf_counter() - T_START
    ok = True
    for size in a.sizes.split(","):
        n_sym, n_bars, _ = common.SIZES[size]
        data = common.generate(n_sym, n_bars)
        ref_c.warmup(data)
        c_times, eq_c, tr_c = [], None, None
        for _ in range(a.reps):
            t0 = time.perf_counter()
            eq_c, tr_c = ref_c.run(data, common.FAST, common.SLOW)
            c_times.append(time.perf_counter() - t0)
        # tsys takes T x N panels (the Bars layout); the transpose is data preparation
        o, h, lo, c, v = (
            np.ascontiguousarray(x.T)
            for x in (data.open, data.high, data.low, data.close, data.volume)
        )
        run_tsys(o[:300, :2], h[:300, :2], lo[:300, :2], c[:300, :2], v[:300, :2], 10, 50, common)
        ts_times, sig_times, sim_times = [], [], []
        for _ in range(a.reps):
            t0 = time.perf_counter()
            eq_t, tr_t, (ts_sig, ts_sim) = run_tsys(
                o, h, lo, c, v, common.FAST, common.SLOW, common
            )
            ts_times.append(time.perf_counter() - t0)
            sig_times.append(ts_sig)
            sim_times.append(ts_sim)
        tracemalloc.start()
        run_tsys(o, h, lo, c, v, common.FAST, common.SLOW, common)
        _, peak_traced = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        tot_c, tot_t = float(np.sum(eq_c)), float(np.sum(eq_t))
        rel = abs(tot_t - tot_c) / abs(tot_c)
        same_trades = int(tr_c.sum()) == int(tr_t.sum())
        per_symbol = bool(np.array_equal(tr_c, tr_t))
        match = same_trades and rel < 1e-9
        ok &= match
        c_med, t_med = float(np.median(c_times)), float(np.median(ts_times))
        print(
            json.dumps(
                {
                    "size": size,
                    "symbols": n_sym,
                    "bars": n_bars,
                    "trades_c": int(tr_c.sum()),
                    "trades_tsys": int(tr_t.sum()),
                    "trades_equal_per_symbol": per_symbol,
                    "equity_c": tot_c,
                    "equity_tsys": tot_t,
                    "equity_rel_diff": rel,
                    "match": match,
                    "c_s": round(c_med, 5),
                    "tsys_s": round(t_med, 5),
                    "tsys_signals_s": round(float(np.median(sig_times)), 5),
                    "tsys_simulate_s": round(float(np.median(sim_times)), 5),
                    "ratio_tsys_over_c": round(t_med / c_med, 2),
                    "ratio_simulate_only_over_c": round(float(np.median(sim_times)) / c_med, 2),
                    "tsys_symbol_bars_per_s": round(n_sym * n_bars / t_med),
                    "tsys_peak_traced_mb_one_run": round(peak_traced / 2**20, 1),
                }
            )
        )
    print(
        json.dumps(
            {
                "imports_s": round(t_import, 3),
                "process_s": round(time.perf_counter() - T_START, 3),
                "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                "all_match": ok,
            }
        )
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
