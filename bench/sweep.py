"""Sweep benchmark: 100 SMA pairs over one panel (the shared peer workload ``d``) in one grid run.

Reads ``<repo>/../shared/bench`` at run time (never copies it). For each size (``checksweep``,
``d``) it runs the C reference's sweep (``ref_c.run_sweep``, the 100 pairs one after the other)
and tsys on the same generated data in this process: ``tsys.sim.signals.sma_cross_grid`` (the
K x T x N masks of every pair, each window's mean computed once per symbol) then one
``tsys.sim.simulate_grid`` call over the shared bars (read in place, never copied per pair). It
requires the same trades and final equity for every (pair, symbol) (relative difference below
1e-9; exit code 1 otherwise) and prints both times and their ratios (wall-clock and CPU time,
see ``parity.timing_fields``), the traced peak of one tsys run and the process peak RSS. Exits 0 with a note when the folder is absent.

    uv run --no-sync python bench/sweep.py [--sizes checksweep,d] [--reps 5]
"""

from __future__ import annotations

import time

T_START = time.perf_counter()

import sys  # noqa: E402
from functools import partial  # noqa: E402

import numpy as np  # noqa: E402
from parity import (  # noqa: E402
    interleaved,
    now,
    parity_costs,
    print_process_line,
    print_row,
    shared_sizes,
    shared_workload,
    traced_peak,
)

from tsys.sim import simulate_grid  # noqa: E402
from tsys.sim.signals import sma_cross_grid  # noqa: E402


def run_tsys(o, h, lo, c, v, combos, common):
    """Signals of every pair + one grid simulation; (equity K x N, trades K x N, seconds)."""
    t0 = now()
    up, down = sma_cross_grid(c, [f for f, _ in combos], [s for _, s in combos])
    t1 = now()
    g = simulate_grid(
        o, h, lo, c, v,
        entries=up, exits=down, target_weights=common.FRAC, costs=parity_costs(common),
        lot_size=1.0, cash=common.CASH0, cash_sharing=False,
    )  # fmt: skip
    t2 = now()
    fa = g.fill_arrays
    buys = (fa["side"] > 0) & (fa["qty"] > 0)
    N = c.shape[1]
    trades = np.bincount(fa["set"][buys] * N + fa["sym"][buys], minlength=len(combos) * N)
    return g.last_sub_equity, trades.reshape(len(combos), N), (t1 - t0, t2 - t1)


def main() -> int:
    if (shared := shared_workload("sweep", __doc__, sizes="checksweep,d", reps=5)) is None:
        return 0
    a, common, ref_c = shared
    t_import = time.perf_counter() - T_START
    combos = common.SWEEP_COMBOS
    ok = True
    for size, n_sym, n_bars, data, (o, h, lo, c, v) in shared_sizes(a.sizes, common, ref_c):
        run_tsys(o[:300, :2], h[:300, :2], lo[:300, :2], c[:300, :2], v[:300, :2], combos[:3],
                 common)  # fmt: skip
        (eq_c, tr_c), (eq_t, tr_t), times = interleaved(
            a.reps,
            partial(ref_c.run_sweep, data, combos),
            partial(run_tsys, o, h, lo, c, v, combos, common),
        )
        peak_traced = traced_peak(run_tsys, o, h, lo, c, v, combos, common)
        rel = float(np.max(np.abs(eq_t - eq_c) / np.abs(eq_c)))
        same_trades = bool(np.array_equal(tr_c, tr_t))
        match = same_trades and rel < 1e-9
        ok &= match
        print_row(
            times,
            len(combos) * n_sym * n_bars,
            peak_traced,
            size=size,
            pairs=len(combos),
            symbols=n_sym,
            bars=n_bars,
            trades_c=int(tr_c.sum()),
            trades_tsys=int(tr_t.sum()),
            trades_equal_per_pair_and_symbol=same_trades,
            equity_c=float(eq_c.sum()),
            equity_tsys=float(eq_t.sum()),
            equity_max_rel_diff=rel,
            match=match,
        )
    return print_process_line(T_START, t_import, ok)


if __name__ == "__main__":
    sys.exit(main())
