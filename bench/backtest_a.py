"""One backtest of Bucket A (sp500, the shipped parameters) over the whole shared history, in
process, with the data already loaded.

Workload: ``../shared/data`` (or ``--shared-data DIR``), the bucket's whole period as
``tsys backtest sp500 --shared-data`` runs it (from the warm-up after a quarter of the equity
symbols have bars to the data's end), default costs, the benchmark bought and held alongside.
The reference measured in the same run is the bare data load: opening the source and reading
the panels a backtest reads (every equity symbol for the period, then the bucket's own), which
every process pays once. Then ``--reps`` backtests run on the loaded data; the first one is
reported apart (nothing computed yet). Wall and CPU seconds are both printed: on a shared
machine the wall clock also counts the time other processes hold the cores.

    uv run --no-sync python bench/backtest_a.py [--reps 7] [--profile 25]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _clock() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def _since(t0: tuple[float, float]) -> tuple[float, float]:
    wall, cpu = _clock()
    return wall - t0[0], cpu - t0[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared-data", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--bucket", default="sp500")
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--profile", type=int, default=0, help="print the top N of a cProfile run")
    args = ap.parse_args()
    if not Path(args.shared_data).is_dir():
        print(f"no shared data at {args.shared_data}; nothing to measure")
        return
    os.environ.pop("TSYS_CONFIG", None)

    t0 = _clock()
    from tsys import plugins
    from tsys.backtest.bucket import backtest_bucket, period_sessions
    from tsys.config import load_config
    from tsys.data.memo import CachedHub
    from tsys.data.sources import open_hub
    from tsys.paramsets import resolve_params

    imports = _since(t0)
    config = load_config(None)
    bucket = plugins.buckets().get(args.bucket)
    t0 = _clock()
    hub = CachedHub(open_hub(config, shared_data=args.shared_data, extras=False))
    index = period_sessions(hub, bucket, None, None)
    start, end = index[0].date(), index[-1].date()
    pset = resolve_params(bucket, config)
    own = bucket.history_symbols(_Ctx(pset.params)) if hasattr(bucket, "history_symbols") else None
    hub.bars(own, None, end, asset_class=bucket.asset_class)
    load = _since(t0)
    panel = hub.bars(None, None, end, asset_class=bucket.asset_class)

    def run() -> object:
        return backtest_bucket(bucket, hub, config, params=pset.params, start=start, end=end)

    t0 = _clock()
    first = run()
    cold = _since(t0)
    times = []
    for _ in range(args.reps):
        t0 = _clock()
        bt = run()
        times.append(_since(t0))
        assert bt.metrics == first.metrics  # the same backtest every time
    wall = statistics.median(t[0] for t in times)
    cpu = statistics.median(t[1] for t in times)
    print(
        f"{bucket.name} over {panel.shape[1]} equity symbols x {panel.shape[0]} sessions; "
        f"period {start}..{end} ({len(index)} sessions), {len(first.trades)} trades, "
        f"Sharpe {first.metrics['sharpe']:.6f}"
    )
    print(pset.label())
    print(f"imports: {imports[0]:.2f} s wall, {imports[1]:.2f} s CPU")
    print(f"reference, data load: {load[0]:.2f} s wall, {load[1]:.2f} s CPU")
    print(f"first backtest: {cold[0]:.3f} s wall, {cold[1]:.3f} s CPU")
    print(
        f"backtest, median of {args.reps}: {wall:.3f} s wall, {cpu:.3f} s CPU "
        f"(range {min(t[0] for t in times):.3f}-{max(t[0] for t in times):.3f} s wall); "
        f"{wall / load[0]:.3f} x the data load (wall), {cpu / load[1]:.3f} x (CPU)"
    )
    print(
        f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} cores"
    )
    if args.profile:
        import cProfile
        import pstats

        prof = cProfile.Profile()
        prof.runcall(run)
        stats = pstats.Stats(prof, stream=sys.stdout)
        stats.sort_stats("tottime").print_stats(args.profile)


class _Ctx:
    """Just enough of a context for ``history_symbols`` (it reads the params)."""

    def __init__(self, params: object) -> None:
        self.params = params


if __name__ == "__main__":
    main()
