"""Optuna studies over a bucket's search space: one process, several, or many machines.

A :class:`StudySpec` says everything a worker needs to rebuild the evaluator and join the study
(it is picklable, so ``--jobs N`` can hand it to N spawned processes); :func:`run_study` creates or
resumes the study, runs the trials (in this process or in workers) while showing progress, and
:func:`collect` reads the outcome back from the storage, whoever ran the trials.
"""

from __future__ import annotations

import datetime as dt
import importlib
import math
from collections.abc import Callable
from typing import Any

import attrs

from tsys.errors import ConfigError, TsysError
from tsys.optimize.evaluate import OBJECTIVES, Constraints, Evaluator
from tsys.optimize.trial import BASELINE_ATTR as BASELINE_ATTR
from tsys.optimize.trial import CATCH as CATCH
from tsys.optimize.trial import METRICS as METRICS
from tsys.optimize.trial import make_objective as make_objective
from tsys.optimize.trial import suggest as suggest


@attrs.frozen
class StudySpec:
    """A study's identity and settings; identical in every worker that joins it."""

    study: str
    storage: str
    #: ``"module:function"`` returning an :class:`Evaluator` from ``factory_kwargs``.
    factory: str
    factory_kwargs: dict[str, Any]
    objective: str = "sharpe"
    multi_objective: bool = False
    constraints: Constraints = Constraints()
    prune: bool = True
    heartbeat: float | None = 30.0
    grace: float | None = 90.0
    seed: int | None = None
    #: Fingerprint of the data and the fixed (not searched) parameters the trials run on
    #: (:func:`study_key`): a study never mixes trials on other data, e.g. demo and real.
    data_key: str = ""
    #: Trials asked together and scored in one simulation pass (:mod:`tsys.optimize.batch`);
    #: 1: one trial at a time (``study.optimize``). Not part of the study's identity.
    batch: int = 1

    def __attrs_post_init__(self) -> None:
        if self.batch < 1:
            raise ConfigError(f"--batch must be at least 1, got {self.batch}")
        if self.objective not in OBJECTIVES:
            raise ConfigError(
                f"unknown objective {self.objective!r}",
                hint="choose one of " + ", ".join(OBJECTIVES),
            )

    def directions(self) -> list[str]:
        return ["maximize", "minimize"] if self.multi_objective else ["maximize"]

    def identity(self) -> dict[str, Any]:
        """What must match when a study is resumed or joined."""
        out = {
            "objective": self.objective,
            "multi_objective": self.multi_objective,
            "constraints": self.constraints.describe(),
        }
        if self.data_key:
            out["data"] = self.data_key
        return out


def study_key(ev: Evaluator) -> str:
    """A short fingerprint of what a study's trials are scored on: the evaluator's name,
    split and data (``data_fingerprint()``, when it has one) and the values of the parameters
    the study does not search (they are the same in every trial)."""
    import hashlib
    import json

    fixed = {k: v for k, v in ev.defaults().items() if k not in ev.search_space()}
    data = getattr(ev, "data_fingerprint", None)
    blob = {
        "name": ev.name,
        "split": ev.split,
        "data": data() if callable(data) else None,
        "fixed": fixed,
    }
    raw = json.dumps(blob, sort_keys=True, default=str).encode()
    return hashlib.sha256(raw).hexdigest()[:12]


def build_evaluator(spec: StudySpec) -> Evaluator:
    """Import ``spec.factory`` and call it with ``spec.factory_kwargs``."""
    mod_name, _, attr = spec.factory.partition(":")
    if not attr:
        raise ConfigError(f"objective module {spec.factory!r} must look like 'package.module:fn'")
    try:
        fn = getattr(importlib.import_module(mod_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"cannot import the evaluator {spec.factory!r}: {exc}") from exc
    return fn(**spec.factory_kwargs)


def distributions(space: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Optuna distributions of a search space (what :func:`suggest` draws from)."""
    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    out: dict[str, Any] = {}
    for name, s in space.items():
        if s["kind"] == "categorical":
            out[name] = CategoricalDistribution(list(s["choices"]))
        elif s["kind"] == "int":
            step = int(s.get("step") or 1)
            out[name] = IntDistribution(
                int(s["low"]), int(s["high"]), step=step, log=bool(s.get("log"))
            )
        else:
            out[name] = FloatDistribution(
                float(s["low"]), float(s["high"]), step=s.get("step"), log=bool(s.get("log"))
            )
    return out


def searchable(values: dict[str, Any], space: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
    """The searchable part of ``values`` when every value lies in its distribution, else None
    (a value off the grid cannot be told to Optuna, e.g. to enqueue or seed a trial)."""
    dists = distributions(space)
    out = {}
    for name, d in dists.items():
        v = values.get(name)
        try:
            if not d._contains(d.to_internal_repr(v)):
                return None
        except (ValueError, TypeError):
            return None
        out[name] = v
    return out


def is_feasible(trial: Any) -> bool:
    return all(c <= 0 for c in trial.user_attrs.get("constraints", {}).values())


def _sampler(spec: StudySpec, worker: int) -> Any:
    import optuna

    seed = None if spec.seed is None else spec.seed + 7919 * worker
    if spec.multi_objective:
        return optuna.samplers.NSGAIISampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed)


def _pruner(spec: StudySpec) -> Any:
    import optuna

    if spec.prune and not spec.multi_objective:
        return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=0)
    return optuna.pruners.NopPruner()


def open_study(spec: StudySpec, worker: int = 0) -> Any:
    """Create the study or join/resume it; refuse one created with other settings."""
    import optuna

    from tsys.optimize.storage import open_storage, redact

    storage = open_storage(spec.storage, heartbeat=spec.heartbeat, grace=spec.grace)
    study = optuna.create_study(
        study_name=spec.study,
        storage=storage,
        directions=spec.directions(),
        sampler=_sampler(spec, worker),
        pruner=_pruner(spec),
        load_if_exists=True,
    )
    want = [optuna.study.StudyDirection.MAXIMIZE] * (1 if not spec.multi_objective else 0)
    if spec.multi_objective:
        want = [optuna.study.StudyDirection.MAXIMIZE, optuna.study.StudyDirection.MINIMIZE]
    ident = spec.identity()
    have = study.user_attrs.get("tsys")
    if have is None:
        study.set_user_attr("tsys", ident)
    elif have != ident or list(study.directions) != want:
        raise ConfigError(
            f"study {spec.study!r} in {redact(spec.storage)} was created with other settings "
            f"({have}), not ({ident})",
            hint="resume it with the same --objective/constraints, or pass a new --study NAME",
        )
    return study


def baseline_point(ev: Evaluator) -> dict[str, Any]:
    """The searched part of the current parameters (``ev.defaults()``): trial 0's point."""
    defaults = ev.defaults()
    return {name: defaults[name] for name in ev.search_space()}


def enqueue_baseline(study: Any, ev: Evaluator) -> dict[str, Any]:
    """Queue the current parameters (``ev.defaults()``) as the study's next trial, unless a
    trial with exactly these values is already in it; return the queued point."""
    point = baseline_point(ev)
    study.enqueue_trial(point, user_attrs={BASELINE_ATTR: True}, skip_if_exists=True)
    return point


def run_worker(
    spec: StudySpec,
    n_trials: int | None,
    timeout: float | None,
    worker: int,
    evaluator: Evaluator | None = None,
) -> None:
    """One worker process: join the study and run up to ``n_trials`` trials (or until
    ``timeout``), with ``evaluator`` (a forked worker's, inherited) or one built from ``spec``.
    A :class:`TsysError` is printed and ends the process with its exit code."""
    try:
        study = open_study(spec, worker)
        ev = evaluator if evaluator is not None else build_evaluator(spec)
        optimize(study, spec, ev, n_trials, timeout)
    except TsysError as exc:
        import sys

        print(f"tsys optimize worker {worker}: {exc}", file=sys.stderr)
        raise SystemExit(exc.exit_code) from None


def optimize(
    study: Any,
    spec: StudySpec,
    ev: Evaluator,
    n_trials: int | None,
    timeout: float | None,
    on_trials: Callable[[], None] | None = None,
) -> None:
    """Run ``n_trials`` trials (or until ``timeout``) in this process: one at a time
    (``study.optimize``), or ``spec.batch`` at a time (:func:`tsys.optimize.batch.run_batches`);
    ``on_trials()`` whenever trials have been told."""
    if spec.batch > 1:
        from tsys.optimize.batch import run_batches

        run_batches(
            study, spec, ev, n_trials=n_trials, timeout=timeout, batch=spec.batch,
            on_trials=on_trials,
        )  # fmt: skip
        return
    callbacks = None if on_trials is None else [lambda _st, _trial: on_trials()]
    study.optimize(
        make_objective(spec, ev),
        n_trials=n_trials,
        timeout=timeout,
        callbacks=callbacks,
        gc_after_trial=True,
        catch=CATCH,
    )


def split_trials(n_trials: int | None, jobs: int) -> list[int | None]:
    """Trials per worker so that they add up exactly to ``n_trials``."""
    if n_trials is None:
        return [None] * jobs
    base, extra = divmod(n_trials, jobs)
    return [base + (1 if i < extra else 0) for i in range(jobs) if base or i < extra]


def _waiting(study: Any) -> bool:
    import optuna

    return bool(study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.WAITING,)))


def _finished(study: Any) -> int:
    import optuna

    states = (
        optuna.trial.TrialState.COMPLETE,
        optuna.trial.TrialState.PRUNED,
        optuna.trial.TrialState.FAIL,
    )
    return len(study.get_trials(deepcopy=False, states=states))


def run_study(
    spec: StudySpec,
    *,
    n_trials: int | None,
    timeout: float | None = None,
    jobs: int = 1,
    progress: Callable[[int, int | None], None] | None = None,
    evaluator: Evaluator | None = None,
) -> Any:
    """Run ``n_trials`` more trials (split over ``jobs`` processes) and return the study.

    With ``jobs > 1`` the workers are processes sharing the storage, forked once the data is
    loaded (Linux) or spawned (:mod:`tsys.optimize.workers`); this process only watches the
    storage to report progress. ``progress(done, total)`` is called as trials
    finish. Trials already in the study (a resumed run) are kept and count towards nothing.
    The first new trial evaluates the current parameters (:func:`enqueue_baseline`), unless
    the study already holds them.
    """
    if n_trials is None and timeout is None:
        raise ConfigError("give --trials N or --timeout SECONDS (or both)")
    if jobs < 1:
        raise ConfigError(f"--jobs must be at least 1, got {jobs}")
    study = open_study(spec)
    before = _finished(study)
    say = progress or (lambda done, total: None)
    say(0, n_trials)
    ev = evaluator if evaluator is not None else build_evaluator(spec)
    enqueue_baseline(study, ev)
    from tsys.optimize.workers import frozen_heap, run_processes, start_method, warm_up

    method = start_method()
    if jobs > 1 and method == "fork":  # the workers inherit the evaluator, warm
        warm_up(ev)

    def here(n: int | None) -> None:  # trials run in this process
        optimize(study, spec, ev, n, timeout, lambda: say(_finished(study) - before, n_trials))

    with frozen_heap():  # the loaded data is no garbage: no collection walks it
        if jobs == 1:
            here(n_trials)
            return study
        left = n_trials
        if n_trials != 0 and _waiting(study):
            # The queued baseline is evaluated here, before the workers start: on SQLite two
            # workers that start together can both pop one waiting trial (Optuna's row lock
            # is a no-op there) and one then fails with "Cannot tell a COMPLETE trial".
            here(1)
            left = None if n_trials is None else n_trials - 1
        counts = split_trials(left, jobs)
        if method == "fork":
            args = [(spec, n, timeout, i, ev) for i, n in enumerate(counts)]
        else:  # each spawned worker rebuilds the evaluator from the spec
            args = [(spec, n, timeout, i) for i, n in enumerate(counts)]
        codes = run_processes(
            method, run_worker, args, lambda: say(_finished(study) - before, n_trials)
        )
    bad = [c for c in codes if c != 0]
    if bad:
        raise TsysError(
            f"{len(bad)} of {len(codes)} optimisation workers failed (exit codes {bad})",
            hint="their messages are printed above; finished trials are kept in the study",
        )
    return study


# --------------------------------------------------------------------------- outcome


@attrs.define
class Outcome:
    """What a study found, read back from its storage."""

    study: str
    storage: str
    objective: str
    multi_objective: bool
    n_complete: int
    n_total: int
    n_pruned: int
    n_failed: int
    best_params: dict[str, Any] | None
    best_value: float | None
    best_number: int | None
    best_metrics: dict[str, float]
    trials_sharpe_variance: float | None
    pareto_front: list[dict[str, Any]]
    feasible: int
    #: The trial that evaluated the current parameters (None: it did not complete).
    baseline_number: int | None = None
    #: Its score, comparable with ``best_value`` (calmar for a multi-objective study).
    baseline_value: float | None = None
    baseline_feasible: bool | None = None
    #: What the choice maximises (the objective; calmar on a Pareto front), for both trials.
    best_rank: float | None = None
    baseline_rank: float | None = None

    @property
    def scores_below_baseline(self) -> bool:
        """True when the chosen parameters score below the current ones (feasible or not)."""
        if self.baseline_rank is None or self.best_rank is None:
            return False
        return self.best_rank < self.baseline_rank

    @property
    def worse_than_baseline(self) -> bool:
        """True when the chosen parameters score below current ones that meet every
        constraint (current parameters that break one are no yardstick)."""
        return self.scores_below_baseline and bool(self.baseline_feasible)


def collect(spec: StudySpec, study: Any, baseline: dict[str, Any] | None = None) -> Outcome:
    """Best feasible trial, trial counts, the Pareto front, the spread of trial Sharpes and,
    given the current parameters' ``baseline`` point, the trial that evaluated them."""
    import numpy as np
    import optuna

    from tsys.optimize.storage import redact

    S = optuna.trial.TrialState
    trials = study.get_trials(deepcopy=False)
    complete = [t for t in trials if t.state is S.COMPLETE]
    feasible = [t for t in complete if is_feasible(t)]
    best = None
    front: list[dict[str, Any]] = []
    if spec.multi_objective:
        pareto = _pareto(feasible)
        front = [
            {
                "number": t.number,
                "cagr": t.values[0],
                "max_drawdown": -t.values[1],
                "sharpe": t.user_attrs.get("sharpe"),
                "params": dict(t.params),
            }
            for t in sorted(pareto, key=lambda t: t.values[1])
        ]
        if pareto:
            # One point must be saved: the best return per unit of drawdown on the front.
            best = max(pareto, key=lambda t: t.user_attrs.get("calmar", -math.inf))
    elif feasible:
        best = max(feasible, key=lambda t: t.value)
    sharpes = [t.user_attrs["sharpe"] for t in complete if "sharpe" in t.user_attrs]
    var = float(np.var(sharpes, ddof=1)) if len(sharpes) > 1 else None
    value = None
    if best is not None:
        value = _score(spec, best)
    base = None
    if baseline is not None:
        base = next((t for t in complete if _same_point(t.params, baseline)), None)
    return Outcome(
        study=spec.study,
        storage=redact(spec.storage),
        objective=spec.objective,
        multi_objective=spec.multi_objective,
        n_complete=len(complete),
        n_total=sum(t.state in (S.COMPLETE, S.PRUNED, S.FAIL) for t in trials),
        n_pruned=sum(t.state is S.PRUNED for t in trials),
        n_failed=sum(t.state is S.FAIL for t in trials),
        best_params=None if best is None else dict(best.params),
        best_value=value,
        best_number=None if best is None else best.number,
        best_metrics={} if best is None else {m: best.user_attrs.get(m) for m in METRICS},
        trials_sharpe_variance=var,
        pareto_front=front,
        feasible=len(feasible),
        baseline_number=None if base is None else base.number,
        baseline_value=None if base is None else _score(spec, base),
        baseline_feasible=None if base is None else is_feasible(base),
        best_rank=None if best is None else _rank(spec, best),
        baseline_rank=None if base is None else _rank(spec, base),
    )


def _rank(spec: StudySpec, trial: Any) -> float:
    """What the choice of the best trial maximises."""
    if spec.multi_objective:
        return trial.user_attrs.get("calmar", -math.inf)
    return trial.value


def _score(spec: StudySpec, trial: Any) -> float:
    if spec.multi_objective:
        return trial.user_attrs.get(spec.objective)
    return trial.value


def _same_point(a: dict[str, Any], b: dict[str, Any]) -> bool:
    if set(a) != set(b):
        return False
    for k, v in b.items():
        w = a[k]
        if isinstance(v, float | int) and not isinstance(v, bool) and isinstance(w, float | int):
            if not math.isclose(float(w), float(v), rel_tol=1e-12, abs_tol=1e-12):
                return False
        elif w != v:
            return False
    return True


def _pareto(trials: list[Any]) -> list[Any]:
    """Non-dominated trials for (maximise CAGR, minimise the drawdown's magnitude)."""
    out = []
    for t in trials:
        dominated = any(
            (u.values[0] >= t.values[0] and u.values[1] <= t.values[1])
            and (u.values[0] > t.values[0] or u.values[1] < t.values[1])
            for u in trials
        )
        if not dominated:
            out.append(t)
    return out


def params_document(
    bucket: str,
    outcome: Outcome,
    params: dict[str, Any],
    split: str,
    *,
    sensitivity: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The params file written by ``tsys optimize`` (read by the daily run and ``validate``)."""
    return {
        "bucket": bucket,
        "params": params,
        "study": outcome.study,
        "storage": outcome.storage,
        "n_trials": outcome.n_complete,
        "n_trials_total": outcome.n_total,
        "objective": outcome.objective,
        "value": outcome.best_value,
        "split": split,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "multi_objective": outcome.multi_objective,
        "best_trial": outcome.best_number,
        "metrics": outcome.best_metrics,
        "trials_sharpe_variance": outcome.trials_sharpe_variance,
        "pareto_front": outcome.pareto_front,
        "sensitivity": sensitivity,
        "baseline_trial": outcome.baseline_number,
        "baseline_value": outcome.baseline_value,
        "baseline_feasible": outcome.baseline_feasible,
    }
