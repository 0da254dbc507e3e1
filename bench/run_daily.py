"""The daily run end to end on the demo universe, with a warm cache.

Prints the total time, the time per stage, and the ratio of the total to the floor: the time
spent only loading the bars every bucket needs. Figures are printed, never asserted.

    uv run --no-sync python bench/run_daily.py [--years 10] [--repeat 3]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import tempfile
import time


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--years", type=float, default=10.0)
    ap.add_argument("--as-of", default="2024-06-28")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    os.environ["TSYS_DATA_DIR"] = tempfile.mkdtemp(prefix="tsys-bench-")

    import attrs

    from tsys import plugins
    from tsys.buckets import BucketContext
    from tsys.config import load_config
    from tsys.daily.asof import resolve_as_of
    from tsys.daily.pipeline import run_daily
    from tsys.data.sources import open_hub
    from tsys.paramsets import resolve_params
    from tsys.portfolio.step import LastBar, load_bars

    cfg = load_config(env=False)
    cfg = attrs.evolve(cfg, data=attrs.evolve(cfg.data, source="demo", history_years=args.years))
    as_of = dt.date.fromisoformat(args.as_of)

    # Warm-up: plugin discovery, imports, the generated market (the demo's in-process cache).
    run_daily(cfg, as_of=as_of, dry_run=True)

    totals, stages = [], []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        out = run_daily(cfg, as_of=as_of, force=True, send=False)
        totals.append(time.perf_counter() - t0)
        stages.append(dict(out.timings))

    # The floor: load exactly the bars the buckets loaded, nothing else.
    dates = resolve_as_of(as_of)
    floors = []
    for _ in range(args.repeat):
        hub = open_hub(cfg, as_of=dates.key)
        t0 = time.perf_counter()
        n_symbols = 0
        for bucket in plugins.buckets():
            settings = cfg.bucket(bucket.name)
            day = dates.for_class(bucket.asset_class)
            params = resolve_params(bucket, cfg).params
            ctx = BucketContext(as_of=day, data=hub, settings=settings, params=params)
            bars = load_bars(bucket, ctx, cfg, LastBar(equity=cfg.account.size))
            n_symbols += bars.shape[1]
        floors.append(time.perf_counter() - t0)

    total = statistics.median(totals)
    floor = statistics.median(floors)
    print(f"demo universe, {args.years:g} years, as of {as_of}, {n_symbols} symbols loaded")
    print(f"total (median of {args.repeat}): {total:.3f} s")
    for stage in stages[0]:
        print(f"  {stage:10s} {statistics.median(s.get(stage, 0.0) for s in stages):8.3f} s")
    print(f"floor, loading the bars only: {floor:.3f} s")
    print(f"ratio total / floor: {total / floor:.1f}x")


if __name__ == "__main__":
    main()
