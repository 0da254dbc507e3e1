"""The worker processes of one study on one machine (``tsys optimize --jobs N``).

On Linux the workers are forked once the evaluator is built: the data is loaded, the study's
windows are cut and the evaluator's caches are warm (``warm_up()``, when it has one), so a
worker starts in a few milliseconds and shares those pages with its parent instead of
importing tsys and loading the panel again. The objects alive at that point are moved out of
the collector's reach (:func:`gc.freeze`): a collection in a worker never walks, and so never
copies, the parent's data, and the collections Optuna runs after each trial stay cheap (one
worker, in this process, runs under the same freeze).
Elsewhere (macOS, Windows: no safe fork) the workers are spawned and rebuild the evaluator
from the picklable study settings. Across machines nothing changes: each machine loads once
and runs its workers against the shared storage.
"""

from __future__ import annotations

import contextlib
import gc
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any


def start_method() -> str:
    """ "fork" on Linux, else "spawn" (the default start method of macOS and Windows)."""
    import multiprocessing as mp

    linux = sys.platform.startswith("linux")
    return "fork" if linux and "fork" in mp.get_all_start_methods() else "spawn"


def warm_up(evaluator: Any) -> None:
    """Let the evaluator load and compute what every trial reads (``warm_up()``, optional)."""
    warm = getattr(evaluator, "warm_up", None)
    if callable(warm):
        warm()


@contextlib.contextmanager
def frozen_heap() -> Iterator[None]:
    """Objects alive on entry are left alone by the collector until exit (:func:`gc.freeze`):
    the loaded data is not walked by the collection after every trial, nor copied into a
    forked worker by one."""
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def run_processes(
    method: str,
    target: Callable[..., None],
    args: Sequence[tuple[Any, ...]],
    poll: Callable[[], None],
    *,
    every: float = 0.5,
) -> list[int]:
    """Run ``target(*a)`` for each ``a`` in ``args`` in processes started with ``method``,
    calling ``poll()`` every ``every`` seconds until all have ended; their exit codes.

    Forked workers should start under :func:`frozen_heap`. Ctrl-C terminates the workers
    and is raised again.
    """
    import multiprocessing as mp

    ctx = mp.get_context(method)
    procs = [ctx.Process(target=target, args=a, daemon=False) for a in args]
    for p in procs:
        p.start()
    try:
        while any(p.is_alive() for p in procs):
            time.sleep(every)
            poll()
    except KeyboardInterrupt:
        for p in procs:
            p.terminate()
        raise
    for p in procs:
        p.join()
    poll()
    return [int(p.exitcode or 0) for p in procs]
