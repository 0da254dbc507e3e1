"""The research loop: an anchored walk-forward with per-fold optimisation, judged out of sample.

1. The period is the bucket's whole history (as ``tsys backtest``). Its last ``folds x L`` bars
   form consecutive test folds; fold k optimises on every bar before its test start minus an
   embargo (anchored: from the first bar), the embargo being at least the longest holding
   window (the bucket's time stop, at the top of its search range when searched).
2. Each optimisation is an Optuna study (TPE) on the in-sample bars only. The current
   parameters are configuration 0; every configuration run earlier (in earlier folds) is told
   to the study first, scored on this fold's in-sample bars, so later folds start informed.
   Trials must respect the bucket's mandate (exposure floor, CAGR lag behind the benchmark)
   and the drawdown / trade-count limits, as Optuna constraints.
3. The fold's parameters are the centre of the best plateau (:mod:`tsys.research.plateau`),
   not the single best trial; they trade the fold's test bars.
4. The test folds are simulated as one account (each fold's plan takes over at its first bar)
   beside the benchmark and the anchors, through the same simulator and costs.
5. A last optimisation over the whole period gives the parameters to use from now on (what
   ``--write-defaults`` ships); the out-of-sample figures are the estimate of how that
   procedure does on data it has not seen.

Statistics (:mod:`tsys.research.figures`): PBO by CSCV over the period returns of every
distinct configuration, the deflated Sharpe with that real count, the random-entry test, and
the gates.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import attrs
import numpy as np

from tsys.errors import ConfigError, StrategyError
from tsys.optimize.evaluate import OBJECTIVES, Constraints, summarise
from tsys.research.plateau import Plateau, TrialPoint, select_plateau

#: A non-finite objective (no trades, a wiped-out account) scores this, and is infeasible.
WORST = -1e9


@attrs.frozen
class ResearchSpec:
    """How to research: folds, trials per optimisation, objective, limits, statistics."""

    folds: int = attrs.field(default=5, validator=attrs.validators.ge(2))
    trials: int = attrs.field(default=20, validator=attrs.validators.ge(1))
    objective: str = attrs.field(default="sharpe", validator=attrs.validators.in_(OBJECTIVES))
    #: Bars between each in-sample end and its test start (None: the longest holding window).
    embargo: int | None = None
    seed: int = 0
    blocks: int = 16
    random_backtests: int = 200
    constraints: Constraints = Constraints()
    plateau_k: int | None = None


@attrs.frozen
class FoldWindow:
    """Positions within the period: in-sample ``[0, is_stop)``, test ``[test_start, test_stop)``."""

    k: int
    is_stop: int
    test_start: int
    test_stop: int


@attrs.frozen(eq=False)
class Stage:
    """One optimisation on a prefix of the period."""

    stop: int
    points: list[TrialPoint]
    plateau: Plateau | None
    chosen: dict[str, Any]
    summary: Any
    n_new: int
    n_failed: int


def longest_holding(bucket: Any, values: dict[str, Any]) -> int:
    """The longest a position may be held, in bars: the bucket's time stop, at the top of its
    search range when a searched parameter moves it (21 bars when the bucket has none).

    Every searchable integer parameter is set to its upper bound in turn and the bucket's
    :meth:`~tsys.buckets.Bucket.position_rules` asked for the time stop it then uses.
    """
    from tsys.buckets import space_for

    def time_stop(v: dict[str, Any]) -> int:
        try:
            return int(bucket.position_rules(bucket.Params(**v)).time_stop_bars or 0)
        except (TypeError, ValueError):
            return 0

    got = time_stop(values)
    for name, s in space_for(bucket, values).items():
        if s["kind"] == "int":
            got = max(got, time_stop({**values, name: int(s["high"])}))
    return got if got > 0 else 21


def fold_windows(n_bars: int, folds: int, embargo: int) -> list[FoldWindow]:
    """Anchored walk-forward folds over ``n_bars`` (see :func:`tsys.backtest.walk_forward`)."""
    from tsys.backtest.splits import walk_forward

    out = []
    for k, (train, test) in enumerate(walk_forward(n_bars, folds, embargo_bars=embargo), 1):
        if len(train) < 20:
            raise ConfigError(
                f"fold {k} has only {len(train)} in-sample bars",
                hint="fewer --folds, a shorter --embargo, or a longer period",
            )
        out.append(FoldWindow(k, int(train[-1]) + 1, int(test[0]), int(test[-1]) + 1))
    return out


def _score(summary: Any, spec: ResearchSpec) -> tuple[float, dict[str, float], bool]:
    value = summary.objective(spec.objective)
    cons = spec.constraints.values(summary)
    finite = math.isfinite(value)
    feasible = finite and all(v <= 0 for v in cons.values())
    return (value if finite else WORST), cons, feasible


def optimise(
    lab: Any,
    spec: ResearchSpec,
    base: dict[str, Any],
    stop: int,
    *,
    seed: int,
    tick: Callable[[], None] = lambda: None,
) -> Stage:
    """Optimise on the first ``stop`` bars of the period: earlier configurations first, then
    ``spec.trials`` new TPE trials; choose the plateau centre."""
    import optuna

    from tsys.optimize.study import distributions, searchable, suggest

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    from tsys.buckets import space_for

    space = space_for(lab.bucket, base)
    dists = distributions(space)
    ppy = lab.periods_per_year
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))
    for run in lab.runs():
        point = searchable(run.params, space)
        if point is None:
            continue
        value, cons, _ = _score(summarise([lab.fold(run, stop)], ppy), spec)
        study.add_trial(
            optuna.trial.create_trial(
                params=point, distributions=dists, value=value, constraints=cons
            )
        )
    failed = 0

    def objective(trial: Any) -> float:
        values = {**base, **{n: suggest(trial, n, s) for n, s in space.items()}}
        value, cons, _ = _score(summarise([lab.fold(lab.run(values), stop)], ppy), spec)
        for name, v in cons.items():
            trial.set_constraint(name, float(v))
        return value

    def done(_study: Any, trial: Any) -> None:
        nonlocal failed
        failed += trial.state is optuna.trial.TrialState.FAIL
        tick()

    study.optimize(objective, n_trials=spec.trials, catch=(StrategyError,), callbacks=[done])
    points = []
    for i, run in enumerate(lab.runs()):
        value, _cons, feasible = _score(summarise([lab.fold(run, stop)], ppy), spec)
        points.append(TrialPoint(i, run.params, value, feasible))
    plateau = select_plateau(points, space, k=spec.plateau_k)
    chosen = dict(base) if plateau is None else dict(plateau.chosen.params)
    summary = summarise([lab.fold(lab.run(chosen), stop)], ppy)
    return Stage(stop, points, plateau, chosen, summary, spec.trials, failed)


def research(
    lab: Any,
    spec: ResearchSpec,
    start_values: dict[str, Any],
    *,
    progress: Callable[[int, int, str], None] | None = None,
) -> dict[str, Any]:
    """Run the research loop on a :class:`~tsys.research.lab.Lab`.

    Returns the JSON-ready report (see :func:`tsys.research.figures.assemble`).
    """
    from tsys.research.figures import assemble

    began = time.monotonic()
    say = progress or (lambda done, total, what: None)
    embargo = (
        spec.embargo if spec.embargo is not None else longest_holding(lab.bucket, start_values)
    )
    windows = fold_windows(lab.n_bars, spec.folds, embargo)
    total = (spec.folds + 1) * spec.trials + 1
    state = {"done": 0}

    def tick(what: str) -> Callable[[], None]:
        def _t() -> None:
            state["done"] += 1
            say(state["done"], total, what)

        return _t

    say(0, total, "current parameters")
    lab.run(start_values)  # configuration 0: the parameters in use today
    tick("current parameters")()
    stages = []
    for w in windows:
        what = f"fold {w.k}/{spec.folds}"
        stages.append(
            optimise(lab, spec, start_values, w.is_stop, seed=spec.seed + w.k, tick=tick(what))
        )
    final = optimise(lab, spec, start_values, lab.n_bars, seed=spec.seed, tick=tick("final"))
    say(total, total, "out of sample")
    oos = out_of_sample(lab, windows, [s.chosen for s in stages])
    return assemble(
        lab,
        spec,
        start_values=start_values,
        embargo=embargo,
        windows=windows,
        stages=stages,
        final=final,
        oos=oos,
        seconds=time.monotonic() - began,
    )


@attrs.frozen(eq=False)
class OutOfSample:
    """The test folds traded as one account.

    ``sessions`` are positions in the lab's period; ``bars``/``rows`` what was simulated (the
    union of the folds' panels); ``equity`` is on the sessions; ``fold_rows`` are positions
    relative to the first out-of-sample session.
    """

    sessions: slice
    bars: Any
    rows: slice
    result: Any
    result_costs_x2: Any
    equity: np.ndarray
    fold_rows: list[slice]


def out_of_sample(
    lab: Any,
    windows: list[FoldWindow],
    chosen: list[dict[str, Any]],
    *,
    steps: list[Any] | None = None,
) -> OutOfSample:
    """Each fold's plan over its test sessions, stitched into one simulation (and at 2x costs).

    At each fold's first session its plan takes over: every weight it holds is sent, and
    anything held that its panel does not have is sold. ``steps`` replaces the folds' bucket
    steps (e.g. with a meta-model applied, :mod:`tsys.research.meta`).
    """
    from tsys.backtest.bucket import order_panels
    from tsys.research.lab import carried, union
    from tsys.validate.stress import scaled_costs

    steps = steps if steps is not None else [lab.step(v) for v in chosen]
    big = union([st.bars for st in steps])
    idx = lab.index
    sessions = slice(windows[0].test_start, windows[-1].test_stop)
    rows = lab.rows(big, idx[sessions.start], idx[sessions.stop - 1])
    n, N = rows.stop - rows.start, big.shape[1]
    tw = np.full((n, N), np.nan)
    stop = np.full((n, N), np.nan)
    fold_rows = []
    for w, st in zip(windows, steps, strict=True):
        r = lab.rows(st.bars, idx[w.test_start], idx[w.test_stop - 1])
        weights, levels = order_panels(st.plan, r)
        rr = big.index.get_indexer(st.bars.index[r]) - rows.start
        cc = np.array([big.column(sym) for sym in st.bars.symbols], dtype=np.int64)
        others = np.setdiff1d(np.arange(N), cc)
        tw[rr[0], others] = 0.0
        tw[np.ix_(rr, cc)] = weights
        stop[np.ix_(rr, cc)] = levels
        fold_rows.append(slice(w.test_start - sessions.start, w.test_stop - sessions.start))
    res = lab.simulate(big, tw, stop, rows)
    res2 = lab.simulate(big, tw, stop, rows, costs=scaled_costs(lab.costs, 2.0))
    equity = carried(big.index[rows], np.asarray(res.equity), idx[sessions], lab.cash)
    return OutOfSample(sessions, big, rows, res, res2, equity, fold_rows)
