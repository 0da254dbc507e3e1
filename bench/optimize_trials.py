"""Optimisation throughput: trials per second for Bucket A (sp500) with 1 and 2 worker processes.

Workload: the demo market, 100 symbols (the first 100 alphabetically, plus SPY) over 10 years
(2010-2019), the validation split, default costs, a SQLite study in a temporary folder. Each
configuration runs the same number of trials in a fresh study, in a fresh process (so neither
inherits a warm in-memory panel); the timing includes each worker's start-up (imports,
loading the panel), which is what a user waits for, so few trials favour one worker.

    uv run --no-sync python bench/optimize_trials.py [--trials 8]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

KWARGS = {
    "bucket": "sp500",
    "source": "demo",
    "start": "2010-01-01",
    "end": "2019-12-31",
    "max_symbols": 100,
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=8)
    ap.add_argument("--run", type=int, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--dir", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.run is not None:
        _one(args.run, args.trials, Path(args.dir))
        return

    tmp = Path(tempfile.mkdtemp(prefix="tsys-bench-opt-"))
    os.environ["TSYS_DATA_DIR"] = str(tmp / "data")
    os.environ.pop("TSYS_CONFIG", None)
    os.chdir(tmp)

    from tsys.optimize.bucket import BucketEvaluator

    t0 = time.perf_counter()
    ev = BucketEvaluator(**KWARGS)  # fills the on-disk data cache both runs read
    panel = ev.hub.bars(None, None, ev.period.index[-1].date(), asset_class=ev.bucket.asset_class)
    print(
        f"panel: {panel.shape[1]} symbols x {len(ev.period.index)} sessions in the period; "
        f"validation split {ev.windows[0][0]}..{ev.windows[0][1]} "
        f"(set-up {time.perf_counter() - t0:.1f} s)"
    )
    rates = {}
    for jobs in (1, 2):
        t = time.perf_counter()
        subprocess.run(
            [sys.executable, __file__, "--run", str(jobs), "--trials", str(args.trials),
             "--dir", str(tmp)],
            check=True,
        )  # fmt: skip
        dt = time.perf_counter() - t
        rates[jobs] = args.trials / dt
        print(f"{jobs} worker(s): {args.trials} trials in {dt:.1f} s = {rates[jobs]:.3f} trials/s")
    print(f"ratio 2 workers / 1 worker: {rates[2] / rates[1]:.2f}x on {os.cpu_count()} cores")


def _one(jobs: int, trials: int, tmp: Path) -> None:
    os.environ["TSYS_DATA_DIR"] = str(tmp / "data")
    os.environ.pop("TSYS_CONFIG", None)
    os.chdir(tmp)
    from tsys.optimize.evaluate import Constraints
    from tsys.optimize.storage import default_storage_url
    from tsys.optimize.study import StudySpec, collect, run_study

    storage = default_storage_url(tmp / "data")
    if True:  # one configuration per process
        spec = StudySpec(
            study=f"bench-{jobs}",
            storage=storage,
            factory="tsys.optimize.bucket:bucket_evaluator",
            factory_kwargs=KWARGS,
            constraints=Constraints(),
            seed=jobs,
        )
        study = run_study(spec, n_trials=trials, jobs=jobs)
        out = collect(spec, study)
        print(
            f"  study bench-{jobs}: {out.n_complete} complete, {out.n_failed} failed, "
            f"best Sharpe {out.best_metrics.get('sharpe', float('nan')):.2f}"
        )


if __name__ == "__main__":
    main()
