"""Many parameter sets of one bucket backtested with one simulation pass per shared panel.

:func:`backtest_many` runs, for each parameter set, the bucket step a backtest runs
(:func:`tsys.backtest.bucket.plan_backtest`: the bucket's compute and the portfolio's plan,
turned into order panels), then simulates the plans that share a price panel (the same bars,
window, costs, cash and interest) in one :func:`tsys.sim.simulate_grid` call, the prices read
in place, and finishes each (:func:`~tsys.backtest.bucket.finish_backtest`). The benchmark's
buy and hold, the same for every plan of a panel, is simulated once per panel. Each result is
exactly :func:`~tsys.backtest.bucket.backtest_bucket` of its parameters, bit for bit.

A parameter set that fails (its bucket step, its simulation or its figures) yields its
exception in its place; the other sets go on.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from tsys.backtest.bucket import PlannedBacktest, _sim, finish_backtest, plan_backtest

if TYPE_CHECKING:
    from tsys.backtest.bucket import BucketBacktest
    from tsys.sim import SimResult

__all__ = ["backtest_many", "same_panel", "simulate_plans"]


def _bits(a: np.ndarray) -> np.ndarray:
    """The bytes of a float panel as integers: equal exactly when bit for bit equal."""
    return np.ascontiguousarray(a).view(np.uint8)


def same_panel(a: PlannedBacktest, b: PlannedBacktest) -> bool:
    """True when ``a`` and ``b`` simulate over the same bars with the same settings (so one
    :func:`~tsys.sim.simulate_grid` call gives each exactly its own result)."""
    if (a.rows.start, a.rows.stop) != (b.rows.start, b.rows.stop):
        return False
    if (a.costs, a.cash, a.rate) != (b.costs, b.cash, b.rate):
        return False
    x, y = a.bars, b.bars
    if x is y:
        return True
    if x.symbols != y.symbols or x.asset_classes != y.asset_classes:
        return False
    r = a.rows
    if not x.index[r].equals(y.index[r]):
        return False
    pairs = [(getattr(x, f)[r], getattr(y, f)[r]) for f in ("open", "high", "low", "close")]
    pairs.append((x.base_volume()[r], y.base_volume()[r]))
    return all(np.array_equal(_bits(u), _bits(v)) for u, v in pairs)


def _groups(plans: Sequence[PlannedBacktest]) -> list[list[int]]:
    """Indices of ``plans`` grouped by shared panel, in order of first appearance."""
    groups: list[list[int]] = []
    for i, p in enumerate(plans):
        for g in groups:
            if same_panel(plans[g[0]], p):
                g.append(i)
                break
        else:
            groups.append([i])
    return groups


def _one(p: PlannedBacktest) -> SimResult | Exception:
    try:
        return p.simulate()
    except Exception as exc:  # that set fails, not the batch
        return exc


def simulate_plans(
    plans: Sequence[PlannedBacktest],
) -> tuple[list[SimResult | Exception], list[list[int]]]:
    """Each plan's simulation (one :func:`~tsys.sim.simulate_grid` pass per shared panel) and
    the groups of plans that shared one. A grid the simulator refuses is run plan by plan,
    so only the offending plan gets the error."""
    groups = _groups(plans)
    out: list[SimResult | Exception] = [None] * len(plans)  # type: ignore[list-item]
    for g in groups:
        first = plans[g[0]]
        if len(g) == 1:
            out[g[0]] = _one(first)
            continue
        tw = np.stack([plans[i].tw for i in g])
        stop = np.stack([plans[i].stop for i in g])
        try:
            grid = _sim(
                first.bars, first.rows, tw, stop, first.costs, first.cash, first.rate, grid=True
            )
        except Exception:
            for i in g:
                out[i] = _one(plans[i])
            continue
        for k, i in enumerate(g):
            out[i] = grid.result(k)
    return out, groups


def backtest_many(
    bucket: Any,
    hub: Any,
    config: Any,
    params: Sequence[Any],
    **kwargs: Any,
) -> list[BucketBacktest | Exception]:
    """:func:`~tsys.backtest.bucket.backtest_bucket` of ``bucket`` for every parameter set in
    ``params`` (Params instances), the simulations batched (see the module docstring);
    ``kwargs`` are the other arguments of ``backtest_bucket``, the same for every set."""
    plans: list[PlannedBacktest | Exception] = []
    for p in params:
        try:
            plans.append(plan_backtest(bucket, hub, config, params=p, **kwargs))
        except Exception as exc:  # that set fails, not the batch
            plans.append(exc)
    ok = [i for i, p in enumerate(plans) if isinstance(p, PlannedBacktest)]
    ready = [plans[i] for i in ok]
    sims, groups = simulate_plans(ready)  # type: ignore[arg-type]
    out: list[Any] = list(plans)
    for g in groups:
        bench: Any = None
        for k in g:
            i, res = ok[k], sims[k]
            if isinstance(res, Exception):
                out[i] = res
                continue
            try:
                if bench is None:  # one buy and hold per panel, as each backtest would make it
                    bench = (ready[k].benchmark(),)
                out[i] = finish_backtest(ready[k], res, bench[0])
            except Exception as exc:
                out[i] = exc
    return out
