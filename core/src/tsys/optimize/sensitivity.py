"""How sharp is the peak? A neighbourhood scan around the chosen parameters.

Each searchable parameter is moved one step down and one step up while the others stay put:
floats by 10% of their value (10% of the range when the value is 0), integers by 10% rounded,
at least 1; categorical parameters try every other choice. Moves are clipped to the declared
range, and a move that clipping turns into no move is skipped. Two scores summarise it:

* ``ratio`` = mean neighbour objective / chosen objective (1 = flat plateau, near 0 or negative
  = a spike that falls off at once);
* ``robust_value`` = mean neighbour objective - k x their standard deviation (k = 1), the
  objective one can expect when the "true" optimum is a little off.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs
import numpy as np


@attrs.frozen
class Neighbour:
    param: str
    direction: str  # "down", "up" or the categorical value tried
    value: Any
    objective: float


@attrs.frozen
class Sensitivity:
    base_objective: float
    neighbours: tuple[Neighbour, ...]
    mean: float
    std: float
    ratio: float
    robust_value: float
    k: float

    def to_json(self) -> dict[str, Any]:
        return attrs.asdict(self)

    def table(self) -> list[dict[str, Any]]:
        """One row per parameter: down value/objective, chosen, up value/objective."""
        rows: dict[str, dict[str, Any]] = {}
        for n in self.neighbours:
            row = rows.setdefault(n.param, {"param": n.param})
            key = n.direction if n.direction in ("down", "up") else "other"
            if key == "other":
                row.setdefault("other", []).append((n.value, n.objective))
            else:
                row[key] = n.value
                row[f"{key}_objective"] = n.objective
        return list(rows.values())


def neighbours(value: Any, spec: dict[str, Any], rel: float = 0.10) -> list[tuple[str, Any]]:
    """The values one step away from ``value`` within the declared range."""
    if spec["kind"] == "categorical":
        return [(str(c), c) for c in spec["choices"] if c != value]
    low, high = float(spec["low"]), float(spec["high"])
    if spec["kind"] == "int":
        step = max(1, round(abs(value) * rel))
        if spec.get("step"):
            step = max(step, int(spec["step"]))
        cand = [("down", int(max(low, value - step))), ("up", int(min(high, value + step)))]
    else:
        step = abs(value) * rel if value != 0 else (high - low) * rel
        cand = [("down", max(low, value - step)), ("up", min(high, value + step))]
    return [(d, v) for d, v in cand if v != value]


def scan(
    params: dict[str, Any],
    space: dict[str, dict[str, Any]],
    objective: Callable[[dict[str, Any]], float],
    *,
    base_objective: float | None = None,
    only: list[str] | None = None,
    k: float = 1.0,
    progress: Callable[[int, int], None] | None = None,
    many: Callable[[list[dict[str, Any]]], list[float]] | None = None,
) -> Sensitivity:
    """Evaluate ``objective`` at every one-step neighbour of ``params`` (or ``many`` at all of
    them at once: the objective of each point, in order, e.g. scored in batches)."""
    base = objective(params) if base_objective is None else base_objective
    moves = [
        (name, d, v)
        for name, s in space.items()
        if only is None or name in only
        for d, v in neighbours(params[name], s)
    ]
    out = []
    if many is not None:
        values = many([{**params, name: v} for name, _d, v in moves])
        out = [Neighbour(n, d, v, float(x)) for (n, d, v), x in zip(moves, values, strict=True)]
        if progress is not None:
            progress(len(moves), len(moves))
    else:
        for i, (name, d, v) in enumerate(moves):
            out.append(Neighbour(name, d, v, float(objective({**params, name: v}))))
            if progress is not None:
                progress(i + 1, len(moves))
    vals = np.array([n.objective for n in out], dtype=np.float64)
    vals = vals[np.isfinite(vals)]
    mean = float(vals.mean()) if len(vals) else float(base)
    std = float(vals.std(ddof=0)) if len(vals) else 0.0
    ratio = mean / base if base not in (0.0,) and np.isfinite(base) else float("nan")
    return Sensitivity(
        base_objective=float(base),
        neighbours=tuple(out),
        mean=mean,
        std=std,
        ratio=float(ratio),
        robust_value=mean - k * std,
        k=k,
    )
