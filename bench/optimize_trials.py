"""Optimisation throughput: trials per second for Bucket A (sp500), 1 and 2 workers or batches.

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

With ``--batch K`` the two configurations are one worker scoring one trial at a time and one
worker scoring batches of K trials (``tsys optimize --batch K``: K trials asked, their decision
sets simulated in one pass), with the per-trial time of each and their ratio. Before them, in
this process, the same points (the baseline and random draws of the search space) are scored
by the evaluator alone, ``evaluate`` per point against ``evaluate_batch`` per K points,
alternating rep by rep: the per-trial time of scoring without the study's storage, and a check
that every batched result equals the lone one bit for bit (exit code 1 otherwise).
``--rounds N`` runs the two configurations N times, alternating, each time in a new study,
and prints the median of the ratios (single runs swing on a shared machine).

    uv run --no-sync python bench/optimize_trials.py [--trials 24] [--batch 8] [--rounds 3]
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
    ap.add_argument(
        "--batch",
        type=int,
        default=None,
        help="compare one trial at a time with batches of this many (1 worker each)",
    )
    ap.add_argument("--reps", type=int, default=5, help="reps of the in-process scoring")
    ap.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="run the two configurations this many times, alternating (medians of the ratios)",
    )
    ap.add_argument("--run", type=int, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--run-batch", type=int, default=1, help=argparse.SUPPRESS)
    ap.add_argument("--dir", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.run is not None:
        _one(args.run, args.trials, Path(args.dir), args.storage, args.run_batch)
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
    if args.batch is not None and not _scoring(ev, args.trials, args.batch, args.reps):
        raise SystemExit(1)
    configs = [(1, 1), (2, 1)] if args.batch is None else [(1, 1), (1, args.batch)]
    what = "2 workers / 1 worker" if args.batch is None else f"batches of {args.batch} / one"
    ratios: dict[str, list[float]] = {"trials": [], "whole": []}
    for r in range(args.rounds):  # the two configurations alternate, round after round
        if args.rounds > 1:
            print(f"round {r + 1} of {args.rounds}:")
        one, two = (_study_run(jobs, batch, args, tmp) for jobs, batch in configs)
        for k in ratios:
            ratios[k].append(one[k] / two[k])
        print(
            f"ratio {what}: trials {ratios['trials'][-1]:.2f}x, "
            f"whole process {ratios['whole'][-1]:.2f}x on {os.cpu_count()} cores "
            f"(load average {' '.join(f'{x:.2f}' for x in os.getloadavg())})"
        )
    if args.rounds > 1:
        import statistics

        t, w = (sorted(ratios[k]) for k in ("trials", "whole"))
        print(
            f"ratio {what}, median of {args.rounds} rounds: trials "
            f"{statistics.median(t):.2f}x (range {t[0]:.2f}-{t[-1]:.2f}), whole process "
            f"{statistics.median(w):.2f}x (range {w[0]:.2f}-{w[-1]:.2f})"
        )


def _study_run(jobs: int, batch: int, args: argparse.Namespace, tmp: Path) -> dict:
    """One configuration's study in a fresh process; prints its line and returns its figures."""
    t = time.perf_counter()
    out = subprocess.run(
        [sys.executable, __file__, "--run", str(jobs), "--trials", str(args.trials),
         "--run-batch", str(batch), "--dir", str(tmp),
         *(["--storage", args.storage] if args.storage else [])],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    whole = time.perf_counter() - t
    got = {**json.loads(out.stdout.strip().splitlines()[-1]), "whole": whole}
    what = f"{jobs} worker(s)" + (f", batches of {batch}" if batch > 1 else "")
    n = args.trials
    print(
        f"{what}: {n} trials; whole process {whole:.1f} s ({n / whole:.3f} trials/s); "
        f"set-up {got['setup']:.1f} s wall; trials {got['trials']:.1f} s wall = "
        f"{n / got['trials']:.2f} trials/s ({1000 * got['trials'] / n:.0f} ms a trial), "
        f"{got['cpu']:.1f} s CPU in all; {got['complete']} complete, {got['failed']} failed, "
        f"best Sharpe {got['best']:.3f}"
    )
    if got["worker_starts"]:
        print(
            "  workers began their first trial "
            + ", ".join(f"{s:.2f} s" for s in got["worker_starts"])
            + " after they were started"
        )
    return got


def _scoring(ev: object, n: int, batch: int, reps: int) -> bool:
    """Per-point time of ``evaluate`` and of ``evaluate_batch`` on the same ``n`` points,
    alternating rep by rep (medians); False when a batched result differs from a lone one."""
    import statistics

    import numpy as np
    import optuna

    from tsys.optimize.trial import draw

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    space, defaults = ev.search_space(), ev.defaults()
    points = [defaults] + [draw(study.ask(), space, defaults) for _ in range(n - 1)]
    lone_t, batch_t = [], []
    for rep in range(reps + 1):  # rep 0 warms both paths up and is not counted
        t = time.perf_counter()
        lone = [ev.evaluate(p, 0) for p in points]
        lone_t.append(time.perf_counter() - t)
        t = time.perf_counter()
        batched = [
            f for i in range(0, n, batch) for f in ev.evaluate_batch(points[i : i + batch], 0)
        ]
        batch_t.append(time.perf_counter() - t)
        if rep == 0:
            lone_t.clear()
            batch_t.clear()
    same = all(
        np.array_equal(a.returns, b.returns)
        and (a.n_trades, a.turnover, a.extra) == (b.n_trades, b.turnover, b.extra)
        for a, b in zip(lone, batched, strict=True)
    )
    a, b = statistics.median(lone_t), statistics.median(batch_t)
    ratio = statistics.median(x / y for x, y in zip(lone_t, batch_t, strict=True))
    print(
        f"scoring alone (no storage), {n} points, median of {reps}: one at a time "
        f"{1000 * a / n:.1f} ms a point, batches of {batch} {1000 * b / n:.1f} ms a point; "
        f"ratio {a / b:.2f}x (paired {ratio:.2f}x); results bit-identical: {same} "
        f"(load average {' '.join(f'{x:.2f}' for x in os.getloadavg())})"
    )
    return same


def _one(jobs: int, trials: int, tmp: Path, storage: str | None, batch: int = 1) -> None:
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
        study=f"bench-{jobs}-{batch}-{tmp.name}-{os.getpid()}",  # a new study each run
        storage=storage or default_storage_url(tmp / "data"),
        factory="tsys.optimize.bucket:bucket_evaluator",
        factory_kwargs=KWARGS,
        constraints=Constraints(),
        seed=jobs,
        batch=batch,
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
