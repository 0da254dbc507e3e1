"""Benchmark: generating the demo market (540 equities + 12 ETFs + 26 coins) over 20 years.

Prints seconds and the ratio against a plain numpy random-normal fill of the same size (five
float64 panels, sessions x equities), measured in the same run so the ratio is comparable
across machines. Run: ``uv run --no-sync python bench/demo_generation.py``.
"""

from __future__ import annotations

import datetime as dt
import time

import numpy as np


def best_of(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    from tsys.data import calendars, demo

    end = dt.date(2019, 12, 31)  # the epoch is 2000-01-01: exactly 20 years
    t0 = time.perf_counter()
    sessions = calendars.sessions(demo.EPOCH, end)
    cal_s = time.perf_counter() - t0
    t, n = len(sessions), demo.N_EQUITIES

    def generate() -> None:
        mk = demo._generate_market(7, end)  # uncached: the cost a process pays once
        mk.equities, mk.crypto  # noqa: B018 - the parts are generated on first use

    def reference() -> None:
        rng = np.random.default_rng(0)
        for _ in range(5):
            rng.standard_normal((t, n))

    gen = best_of(generate)
    ref = best_of(reference)
    demo.generate_market(7, end)  # fill the in-process cache
    t0 = time.perf_counter()
    demo.generate_market(7, end)
    cached = time.perf_counter() - t0
    print(f"demo market: {t} sessions x {n} equities (+12 ETFs, 26 coins), 20 years")
    print(f"calendar (first use, exchange_calendars): {cal_s:.3f} s")
    print(f"generation (best of 3):                   {gen:.3f} s")
    print(f"numpy normal fill, 5 x {t} x {n} (best of 3): {ref:.3f} s")
    print(f"ratio generation / normal fill:           {gen / ref:.1f}x")
    print(f"cached call:                              {cached * 1e3:.3f} ms")
    src = demo.DemoSource(7, as_of=end)
    t0 = time.perf_counter()
    src.bars(None, None, end)
    print(f"first DemoSource.bars() (all symbols, validated): {time.perf_counter() - t0:.3f} s")


if __name__ == "__main__":
    main()
