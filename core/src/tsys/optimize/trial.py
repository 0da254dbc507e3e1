"""What one Optuna trial does, whether it runs alone or in a batch.

A trial draws its parameters (:func:`draw`), is scored fold by fold (each fold reported for
pruning, :func:`after_fold`) and records its figures and returns its value(s)
(:func:`finish`). :func:`make_objective` chains them for ``study.optimize``, one trial at a
time; :mod:`tsys.optimize.batch` runs the same steps for K trials whose folds are evaluated
together.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tsys.errors import StrategyError
from tsys.optimize.evaluate import FoldResult, summarise

if TYPE_CHECKING:
    from tsys.optimize.evaluate import Evaluator
    from tsys.optimize.study import StudySpec

#: A bucket failing on one parameter set fails that trial (recorded FAIL), not the study.
CATCH = (StrategyError,)

#: User attribute marking the trial that evaluates the current parameters (trial 0).
BASELINE_ATTR = "tsys_baseline"

#: Metrics every trial records as user attributes (for reports, the DSR and the Pareto front).
METRICS = ("sharpe", "cagr", "calmar", "max_drawdown", "n_trades", "turnover", "n_bars")


def suggest(trial: Any, name: str, s: dict[str, Any]) -> Any:
    """Draw parameter ``name`` from its search spec ``s`` (see :func:`tsys.buckets.param`)."""
    if s["kind"] == "categorical":
        return trial.suggest_categorical(name, list(s["choices"]))
    if s["kind"] == "int":
        step = int(s.get("step") or 1)
        return trial.suggest_int(
            name, int(s["low"]), int(s["high"]), step=step, log=bool(s.get("log"))
        )
    return trial.suggest_float(
        name, float(s["low"]), float(s["high"]), step=s.get("step"), log=bool(s.get("log"))
    )


def draw(trial: Any, space: dict[str, dict[str, Any]], defaults: dict[str, Any]) -> dict[str, Any]:
    """The trial's parameters: ``defaults`` with every searched one drawn from ``space``."""
    params = dict(defaults)
    with warnings.catch_warnings():
        # trial 0 may hold current values off the search grid: they are evaluated as they are
        warnings.filterwarnings("ignore", message="Fixed parameter")
        for name, s in space.items():
            params[name] = suggest(trial, name, s)
    return params


def is_baseline(trial: Any) -> bool:
    """Trial 0 (the current parameters) is always evaluated in full: it is the yardstick."""
    return bool(trial.user_attrs.get(BASELINE_ATTR))


def after_fold(
    trial: Any, spec: StudySpec, folds: list[FoldResult], n_folds: int, ppy: float
) -> None:
    """Report the running value after the last of ``folds`` and raise ``TrialPruned`` (its
    figures recorded) when the pruner says so; single-fold and multi-objective studies do
    not prune."""
    import optuna

    if spec.multi_objective or n_folds == 1:
        return
    k = len(folds) - 1
    partial = summarise(folds, ppy)
    trial.report(partial.objective(spec.objective), k)
    if not is_baseline(trial) and trial.should_prune():
        record(trial, spec, partial, k + 1)
        raise optuna.TrialPruned(f"pruned after fold {k + 1} of {n_folds}")


def finish(trial: Any, spec: StudySpec, folds: list[FoldResult], ppy: float) -> Any:
    """Record the figures of all ``folds`` and return the trial's value(s)."""
    s = summarise(folds, ppy)
    record(trial, spec, s, len(folds))
    if spec.multi_objective:
        return s.cagr, -s.max_drawdown  # drawdown magnitude, minimised
    value = s.objective(spec.objective)
    return value if math.isfinite(value) else -1e9


def record(trial: Any, spec: StudySpec, s: Any, n_folds: int) -> None:
    """The trial's figures as user attributes and its constraint values."""
    for m in METRICS:
        trial.set_user_attr(m, float(getattr(s, m)))
    trial.set_user_attr("folds", n_folds)
    values = spec.constraints.values(s)
    trial.set_user_attr("constraints", values)
    # Optuna's samplers read these (system attrs "constraints:<name>") to prefer feasible trials.
    for name, v in values.items():
        trial.set_constraint(name, float(v))


def make_objective(spec: StudySpec, ev: Evaluator) -> Callable[[Any], Any]:
    """The Optuna objective: evaluate every fold, reporting the running value for pruning."""
    space = ev.search_space()
    defaults = ev.defaults()
    ppy = ev.periods_per_year

    def objective(trial: Any) -> Any:
        params = draw(trial, space, defaults)
        folds: list[FoldResult] = []
        for k in range(ev.n_folds):
            folds.append(ev.evaluate(params, k))
            after_fold(trial, spec, folds, ev.n_folds, ppy)
        return finish(trial, spec, folds, ppy)

    return objective
