"""Parity benchmark: the shared SMA 10/50 crossover workload through tsys.sim vs the C reference.

Reads ``<repo>/../shared/bench`` (README, ``common.py``, ``ref_c.py``) at run time; never copies
it. For each size (``check``, ``c``) it runs the C reference and tsys.sim on the same generated
data in this process (interleaved rep by rep, so a change of the machine's load hits both
alike), requires the same trade count and total final equity (relative difference
below 1e-9) and prints the times and their ratios, in wall-clock time and in CPU time (see
``timing_fields``). Exits 0 with a note when the folder is absent.

    uv run --no-sync python bench/parity.py [--sizes check,c] [--reps 3]

The tsys run is ``tsys.sim.signals.sma_cross`` (the crossover masks) then ``tsys.sim.simulate``
on T x N views of the shared N x T arrays, so nothing is copied or transposed.
"""

from __future__ import annotations

import time

T_START = time.perf_counter()

import argparse  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
import tracemalloc  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from functools import partial  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

from tsys.sim import Capacity, CostModel, FeeModel, FixedSlippage, simulate  # noqa: E402
from tsys.sim.signals import sma_cross  # noqa: E402

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "bench"


def parity_costs(common):
    """The shared workload's costs: 10 bps fees, 5 bps slippage, no capacity cap."""
    return CostModel(
        fees=FeeModel(bps=common.COMM * 1e4),
        slippage=FixedSlippage(bps=common.SLIP * 1e4),
        capacity=Capacity(max_participation=None),
    )


def traced_peak(run, *args) -> int:
    """The peak of Python-traced memory (bytes) while ``run(*args)`` runs once."""
    tracemalloc.start()
    run(*args)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


def now() -> np.ndarray:
    """Wall-clock time and this thread's CPU time (s). On a shared machine the CPU time leaves
    out the waits for a core, which the wall-clock time of a loaded machine is mostly made of."""
    return np.array([time.perf_counter(), time.thread_time()])


def timing_fields(c_times, ts_times, sig_times, sim_times, symbol_bars, peak_traced) -> dict:
    """The times of one size, their ratios and the tsys throughput. Each list holds one
    ``now()`` difference (wall, CPU) per rep: medians over the reps, and the median of the
    reps' own ratios (``paired``: each tsys rep against the C rep just before it)."""
    c, ts, sig, sim = (
        np.asarray(x, dtype=float).reshape(-1, 2) for x in (c_times, ts_times, sig_times, sim_times)
    )
    med = {k: np.median(x, axis=0) for k, x in (("c", c), ("ts", ts), ("sig", sig), ("sim", sim))}
    out = {
        "c_s": round(float(med["c"][0]), 5),
        "tsys_s": round(float(med["ts"][0]), 5),
        "tsys_signals_s": round(float(med["sig"][0]), 5),
        "tsys_simulate_s": round(float(med["sim"][0]), 5),
        "ratio_tsys_over_c": round(float(med["ts"][0] / med["c"][0]), 2),
        "ratio_simulate_only_over_c": round(float(med["sim"][0] / med["c"][0]), 2),
        "ratio_paired": round(float(np.median(ts[:, 0] / c[:, 0])), 2),
        "ratio_simulate_only_paired": round(float(np.median(sim[:, 0] / c[:, 0])), 2),
        "tsys_symbol_bars_per_s": round(symbol_bars / float(med["ts"][0])),
        "tsys_peak_traced_mb_one_run": round(peak_traced / 2**20, 1),
    }
    out["cpu"] = {
        "c_s": round(float(med["c"][1]), 5),
        "tsys_s": round(float(med["ts"][1]), 5),
        "tsys_signals_s": round(float(med["sig"][1]), 5),
        "tsys_simulate_s": round(float(med["sim"][1]), 5),
        "ratio_paired": round(float(np.median(ts[:, 1] / c[:, 1])), 2),
        "ratio_simulate_only_paired": round(float(np.median(sim[:, 1] / c[:, 1])), 2),
    }
    return out


def print_process_line(t_start: float, t_import: float, ok: bool) -> int:
    """The last line: import and process times, the peak RSS and whether every size matched;
    returns the exit code (1 when a size did not match)."""
    print(
        json.dumps(
            {
                "imports_s": round(t_import, 3),
                "process_s": round(time.perf_counter() - t_start, 3),
                "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                "all_match": ok,
            }
        )
    )
    return 0 if ok else 1


def run_tsys(o, h, lo, c, v, fast, slow, common):
    """Signals + simulation; returns (equity per symbol, trades per symbol, seconds split).

    The panels are T x N views of the shared N x T arrays (column-major, no copy): tsys.sim
    takes them as they are and runs its symbol-major loops on them.
    """
    t0 = now()
    up, down = sma_cross(c, fast, slow)
    t1 = now()
    res = simulate(
        o, h, lo, c, v,
        entries=up, exits=down, target_weights=common.FRAC, costs=parity_costs(common),
        lot_size=1.0,
        cash=common.CASH0, cash_sharing=False, record_positions=False,
    )  # fmt: skip
    t2 = now()
    fa = res.fill_arrays
    buys = (fa["side"] > 0) & (fa["qty"] > 0)
    trades = np.bincount(fa["sym"][buys], minlength=c.shape[1])
    return res.last_sub_equity, trades, (t1 - t0, t2 - t1)


def shared_workload(name: str, doc: str, *, sizes: str, reps: int) -> tuple[Any, Any, Any] | None:
    """The command line (``--sizes``, ``--reps``) and the shared workload's ``common`` and
    ``ref_c`` modules; None, after saying so, when the shared folder is absent."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--sizes", default=sizes)
    ap.add_argument("--reps", type=int, default=reps)
    a = ap.parse_args()
    if not (SHARED / "common.py").exists():
        print(f"{name}: shared benchmark folder {SHARED} is absent; nothing to compare, skipping")
        return None
    sys.path.insert(0, str(SHARED))
    import common
    import ref_c

    return a, common, ref_c


def shared_sizes(sizes: str, common: Any, ref_c: Any) -> Iterator[tuple[Any, ...]]:
    """Per size of ``sizes`` (comma-separated): its name, symbols, bars, the shared data (the C
    reference warmed up on it) and tsys's T x N views of its N x T arrays (o, h, l, c, v)."""
    for size in sizes.split(","):
        n_sym, n_bars, _ = common.SIZES[size]
        data = common.generate(n_sym, n_bars)
        ref_c.warmup(data)
        panels = tuple(x.T for x in (data.open, data.high, data.low, data.close, data.volume))
        yield size, n_sym, n_bars, data, panels


def interleaved(reps: int, run_c: Any, run_t: Any) -> tuple[Any, Any, list[list[Any]]]:
    """``reps`` runs of the C reference and of tsys, interleaved so a change of load hits both
    alike: the last result of each (tsys's without its times) and the lists of times (C,
    tsys, tsys signals, tsys simulation), as :func:`timing_fields` takes them."""
    times: list[list[Any]] = [[], [], [], []]
    out_c = out_t = None
    for _ in range(reps):
        t0 = now()
        out_c = run_c()
        times[0].append(now() - t0)
        t0 = now()
        *out_t, (t_signals, t_simulate) = run_t()
        times[1].append(now() - t0)
        times[2].append(t_signals)
        times[3].append(t_simulate)
    return out_c, out_t, times


def print_row(times: list[list[Any]], symbol_bars: int, peak_traced: int, **fields: Any) -> None:
    """One size's result: a JSON line, ``fields`` in the order given, then the
    :func:`timing_fields` of ``times``."""
    print(json.dumps({**fields, **timing_fields(*times, symbol_bars, peak_traced)}))


def main() -> int:
    if (shared := shared_workload("parity", __doc__, sizes="check,c", reps=3)) is None:
        return 0
    a, common, ref_c = shared
    t_import = time.perf_counter() - T_START
    ok = True
    for size, n_sym, n_bars, data, (o, h, lo, c, v) in shared_sizes(a.sizes, common, ref_c):
        run_tsys(o[:300, :2], h[:300, :2], lo[:300, :2], c[:300, :2], v[:300, :2], 10, 50, common)
        (eq_c, tr_c), (eq_t, tr_t), times = interleaved(
            a.reps,
            partial(ref_c.run, data, common.FAST, common.SLOW),
            partial(run_tsys, o, h, lo, c, v, common.FAST, common.SLOW, common),
        )
        peak_traced = traced_peak(run_tsys, o, h, lo, c, v, common.FAST, common.SLOW, common)
        tot_c, tot_t = float(np.sum(eq_c)), float(np.sum(eq_t))
        rel = abs(tot_t - tot_c) / abs(tot_c)
        same_trades = int(tr_c.sum()) == int(tr_t.sum())
        per_symbol = bool(np.array_equal(tr_c, tr_t))
        match = same_trades and rel < 1e-9
        ok &= match
        print_row(
            times,
            n_sym * n_bars,
            peak_traced,
            size=size,
            symbols=n_sym,
            bars=n_bars,
            trades_c=int(tr_c.sum()),
            trades_tsys=int(tr_t.sum()),
            trades_equal_per_symbol=per_symbol,
            equity_c=tot_c,
            equity_tsys=tot_t,
            equity_rel_diff=rel,
            match=match,
        )
    return print_process_line(T_START, t_import, ok)


if __name__ == "__main__":
    sys.exit(main())
