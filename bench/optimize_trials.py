"""Optimisation throughput: trials per second for Bucket A (sp500) with 1 and 2 worker processes.

Workload: the demo market, 100 symbols (the first 100 alphabetically, plus SPY) over 10 years
(2010-2019), the validation split, default costs, a SQLite study in a temporary folder. Each
configuration runs the same number of trials in a fresh study, in a fresh process (so neither
inherits a warm in-memory panel). Three figures per configuration: the whole process (what a
user waits for: imports, loading the panel once, the trials), the set-up alone (imports and
the evaluator with its data; the same work for 1 and 2 workers, since workers fork after it)
and the trials alone (``run_study``: with 2 workers, forking them, their warm-up and the
trials), with the ratios 2 workers / 1 worker of the last and of the whole process. CPU
seconds are those of the process and its workers; on a shared machine the wall clock also
counts the time other processes hold the cores.

    uv run --no-sync python bench/optimize_trials.py [--trials 24]
"""

from __future__ import annotations

import argparse
import json
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
    ap.add_argument("--trials", type=int, default=24)
    ap.add_argument(
        "--storage",
        default=None,
        help="the study's RDB URL (e.g. postgresql://...); default: the data dir's SQLite file",
    )
    ap.add_argument("--run", type=int, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--dir", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.run is not None:
        _one(args.run, args.trials, Path(args.dir), args.storage)
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
    runs = {}
    for jobs in (1, 2):
        t = time.perf_counter()
        out = subprocess.run(
            [sys.executable, __file__, "--run", str(jobs), "--trials", str(args.trials),
             "--dir", str(tmp), *(["--storage", args.storage] if args.storage else [])],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        whole = time.perf_counter() - t
        got = json.loads(out.stdout.strip().splitlines()[-1])
        runs[jobs] = {**got, "whole": whole}
        print(
            f"{jobs} worker(s): {args.trials} trials; whole process {whole:.1f} s "
            f"({args.trials / whole:.3f} trials/s); set-up {got['setup']:.1f} s wall; "
            f"trials {got['trials']:.1f} s wall = {args.trials / got['trials']:.2f} trials/s, "
            f"{got['cpu']:.1f} s CPU in all; {got['complete']} complete, {got['failed']} failed, "
            f"best Sharpe {got['best']:.3f}"
        )
        if got["worker_starts"]:
            print(
                "  workers began their first trial "
                + ", ".join(f"{s:.2f} s" for s in got["worker_starts"])
                + " after they were started"
            )
    one, two = runs[1], runs[2]
    print(
        f"ratio 2 workers / 1 worker: trials {one['trials'] / two['trials']:.2f}x, "
        f"whole process {one['whole'] / two['whole']:.2f}x on {os.cpu_count()} cores "
        f"(load average {' '.join(f'{x:.2f}' for x in os.getloadavg())})"
    )


def _one(jobs: int, trials: int, tmp: Path, storage: str | None) -> None:
    t0 = time.perf_counter()
    os.environ["TSYS_DATA_DIR"] = str(tmp / "data")
    os.environ.pop("TSYS_CONFIG", None)
    os.chdir(tmp)
    from tsys.optimize.bucket import BucketEvaluator
    from tsys.optimize.evaluate import Constraints
    from tsys.optimize.storage import default_storage_url
    from tsys.optimize.study import StudySpec, collect, run_study

    ev = BucketEvaluator(**KWARGS)
    spec = StudySpec(
        study=f"bench-{jobs}-{tmp.name}",
        storage=storage or default_storage_url(tmp / "data"),
        factory="tsys.optimize.bucket:bucket_evaluator",
        factory_kwargs=KWARGS,
        constraints=Constraints(),
        seed=jobs,
    )
    setup = time.perf_counter() - t0
    import datetime as dt

    import tsys.optimize.workers as workers

    started: list[dt.datetime] = []
    run_processes = workers.run_processes

    def timed(*a: object, **k: object) -> list[int]:  # when the workers are started
        started.append(dt.datetime.now())
        return run_processes(*a, **k)

    workers.run_processes = timed
    t1 = time.perf_counter()
    study = run_study(spec, n_trials=trials, jobs=jobs, evaluator=ev)
    wall = time.perf_counter() - t1
    out = collect(spec, study)
    # A worker's start: from starting the workers to the first trial it begins (the first
    # ``jobs`` trials to begin after that moment, one per worker).
    firsts = sorted(t.datetime_start for t in study.trials if started and t.datetime_start)
    firsts = [f for f in firsts if f >= started[0]][:jobs]
    starts = [(f - started[0]).total_seconds() for f in firsts] if started else []
    cpu = sum(os.times()[:4])  # this process and its finished workers
    print(
        json.dumps(
            {
                "setup": setup,
                "trials": wall,
                "cpu": cpu,
                "complete": out.n_complete,
                "failed": out.n_failed,
                "worker_starts": starts,
                "best": out.best_metrics.get("sharpe", float("nan")),
            }
        )
    )


if __name__ == "__main__":
    main()
