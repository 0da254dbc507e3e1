"""Choose the centre of a robust plateau among optimisation trials, not the single best trial.

A lone spike in a parameter space is usually noise: its neighbours score far lower, and so will
the future. Each feasible trial is scored by the mean objective of its ``k`` nearest trials in
the search space (itself included), and the trial with the best neighbourhood mean is chosen.

Distance: every searchable numeric parameter is scaled to [0, 1] over its declared range (on a
log scale when the range is logarithmic); a categorical parameter adds 0 when equal and 1 when
not; the distance is Euclidean over those coordinates. Infeasible or failed neighbours count
with the worst feasible objective, so a trial at the edge of the feasible region is marked
down. ``k`` defaults to max(3, round(sqrt(n))) for n trials, and never more than n.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import numpy as np


@attrs.frozen
class TrialPoint:
    """One evaluated configuration."""

    number: int
    params: dict[str, Any]
    value: float
    feasible: bool


@attrs.frozen
class Plateau:
    """The chosen trial, its neighbourhood, and the single best trial for comparison."""

    chosen: TrialPoint
    score: float
    neighbours: tuple[int, ...]
    best: TrialPoint
    k: int

    def to_json(self) -> dict[str, Any]:
        return {
            "chosen_trial": self.chosen.number,
            "chosen_value": self.chosen.value,
            "plateau_mean": self.score,
            "neighbours": list(self.neighbours),
            "k": self.k,
            "best_trial": self.best.number,
            "best_value": self.best.value,
        }


def coordinates(
    points: Sequence[Mapping[str, Any]], space: Mapping[str, Mapping[str, Any]]
) -> np.ndarray:
    """Points as rows of normalised coordinates (see the module docstring)."""
    cols: list[np.ndarray] = []
    for name, s in space.items():
        vals = [p.get(name) for p in points]
        if s["kind"] == "categorical":
            for choice in s["choices"]:
                # One-hot halves: two different choices are at distance 1 on this parameter.
                cols.append(np.array([1.0 if v == choice else 0.0 for v in vals]) / math.sqrt(2))
            continue
        lo, hi = float(s["low"]), float(s["high"])
        x = np.array([np.nan if v is None else float(v) for v in vals])
        if s.get("log") and lo > 0:
            x, lo, hi = np.log(np.maximum(x, lo)), math.log(lo), math.log(hi)
        cols.append(np.zeros(len(vals)) if hi <= lo else (x - lo) / (hi - lo))
    if not cols:
        return np.zeros((len(points), 0))
    out = np.column_stack(cols)
    return np.where(np.isfinite(out), out, 0.5)


def select_plateau(
    trials: Sequence[TrialPoint],
    space: Mapping[str, Mapping[str, Any]],
    *,
    k: int | None = None,
) -> Plateau | None:
    """The feasible trial with the best neighbourhood mean (None without a feasible trial)."""
    good = [t for t in trials if t.feasible and math.isfinite(t.value)]
    if not good:
        return None
    n = len(trials)
    k = min(n, max(3, round(math.sqrt(n)))) if k is None else max(1, min(k, n))
    worst = min(t.value for t in good)
    values = np.array(
        [t.value if t.feasible and math.isfinite(t.value) else worst for t in trials],
        dtype=np.float64,
    )
    xy = coordinates([t.params for t in trials], space)
    best_i, best_score, best_nb = -1, -math.inf, np.zeros(0, dtype=np.int64)
    for i, t in enumerate(trials):
        if not (t.feasible and math.isfinite(t.value)):
            continue
        d = np.sqrt(((xy - xy[i]) ** 2).sum(axis=1))
        d[i] = -1.0  # itself first, whatever duplicates exist
        nb = np.lexsort((np.arange(n), d))[:k]
        score = float(values[nb].mean())
        key = (score, t.value, -t.number)
        if best_i < 0 or key > (best_score, trials[best_i].value, -trials[best_i].number):
            best_i, best_score, best_nb = i, score, nb
    best = max(good, key=lambda t: (t.value, -t.number))
    return Plateau(
        chosen=trials[best_i],
        score=best_score,
        neighbours=tuple(int(trials[j].number) for j in best_nb),
        best=best,
        k=k,
    )
