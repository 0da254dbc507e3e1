"""Optimisation throughput: trials per second for Bucket A (sp500) with 1 and 2 worker processes.

Workload: the demo market, 100 symbols (the first 100 alphabetically, plus SPY) over 10 years
(2010-2019), the validation split, default costs, a SQLite study in a temporary folder. Each
configuration runs the same number of trials in a fresh study; the timing includes each
worker's start-up (imports, loading the panel), which is what a user waits for.

    uv run --no-sync python bench/optimize_trials.py [--trials 8]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=8)
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="tsys-bench-opt-"))
    os.environ["TSYS_DATA_DIR"] = str(tmp / "data")
    os.environ.pop("TSYS_CONFIG", None)
    os.chdir(tmp)

    from tsys.optimize.bucket import BucketEvaluator
    from tsys.optimize.evaluate import Constraints
    from tsys.optimize.storage import default_storage_url
    from tsys.optimize.study import StudySpec, collect, run_study

    kwargs = {
        "bucket": "sp500",
        "source": "demo",
        "start": "2010-01-01",
        "end": "2019-12-31",
        "max_symbols": 100,
    }
    t0 = time.perf_counter()
    ev = BucketEvaluator(**kwargs)  # warms the demo data cache for both runs
    panel = ev.hub.bars(None, None, ev.period.index[-1].date(), asset_class=ev.bucket.asset_class)
    print(
        f"panel: {panel.shape[1]} symbols x {len(ev.period.index)} sessions in the period; "
        f"validation split {ev.windows[0][0]}..{ev.windows[0][1]} "
        f"(set-up {time.perf_counter() - t0:.1f} s)"
    )
    storage = default_storage_url(tmp / "data")
    rates = {}
    for jobs in (1, 2):
        spec = StudySpec(
            study=f"bench-{jobs}",
            storage=storage,
            factory="tsys.optimize.bucket:bucket_evaluator",
            factory_kwargs=kwargs,
            constraints=Constraints(),
            seed=jobs,
        )
        t = time.perf_counter()
        study = run_study(spec, n_trials=args.trials, jobs=jobs)
        dt = time.perf_counter() - t
        out = collect(spec, study)
        rates[jobs] = out.n_total / dt
        print(
            f"{jobs} worker(s): {out.n_total} trials in {dt:.1f} s = {rates[jobs]:.3f} trials/s "
            f"(best Sharpe {out.best_metrics.get('sharpe', float('nan')):.2f})"
        )
    print(f"ratio 2 workers / 1 worker: {rates[2] / rates[1]:.2f}x on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
