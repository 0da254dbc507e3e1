"""Trials in batches (``tsys optimize --batch K``): K trials asked, scored in one pass, each told.

Optuna's ask-and-tell: K trials are asked (a queued trial, e.g. the baseline, comes first, as
in ``study.optimize``), each draws its parameters as a lone trial would
(:func:`tsys.optimize.trial.draw`), and fold by fold the K parameter sets are evaluated
together, ``evaluator.evaluate_batch(params, fold)`` when the evaluator has it (the bucket
evaluator: every set's bucket step, then one simulation pass over the shared panel,
:func:`tsys.backtest.grid.backtest_many`), else one ``evaluate`` per set. Each trial then
reports, is pruned, records its figures and is told its own value exactly as a lone trial
(:mod:`tsys.optimize.trial`): its figures are those of a lone evaluation of its parameters,
bit for bit. The storage is the study's (SQLite or PostgreSQL), with the same heartbeats
while the batch runs and the same sweep of stale trials before each batch.

What differs from one trial at a time is the sampler's sequence: the K trials of a batch are
drawn before any of them is told, so the sampler does not learn from the batch's own results
(TPE treats the batch's running trials as unknown) and a study run in batches visits other
points than the same study run one trial at a time, even with the same seed.
"""

from __future__ import annotations

import contextlib
import gc
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from tsys.optimize.trial import CATCH, after_fold, draw, finish

if TYPE_CHECKING:
    from tsys.optimize.evaluate import Evaluator, FoldResult
    from tsys.optimize.study import StudySpec


def evaluate_many(ev: Evaluator, params: Sequence[dict[str, Any]], fold: int) -> list[Any]:
    """Each parameter set's :class:`FoldResult` on ``fold``, or the exception evaluating it
    raised: ``ev.evaluate_batch`` when the evaluator has one, else ``ev.evaluate`` per set."""
    batch = getattr(ev, "evaluate_batch", None)
    if callable(batch):
        return list(batch(list(params), fold))
    out: list[Any] = []
    for p in params:
        try:
            out.append(ev.evaluate(p, fold))
        except Exception as exc:  # that trial fails, not the batch
            out.append(exc)
    return out


def score_many(
    ev: Evaluator, metric: str, batch: int
) -> Callable[[list[dict[str, Any]]], list[float]]:
    """``points -> objectives``: each point's ``metric`` over every fold, exactly what
    ``summarise`` of lone ``evaluate`` calls gives, the points scored ``batch`` at a time;
    the first point's error (in order) is raised, as a loop over the points would raise it."""
    from tsys.optimize.evaluate import summarise

    def many(points: list[dict[str, Any]]) -> list[float]:
        out: list[float] = []
        for i in range(0, len(points), batch):
            chunk = points[i : i + batch]
            folds: list[list[Any]] = [[] for _ in chunk]
            for k in range(ev.n_folds):
                for f, r in zip(folds, evaluate_many(ev, chunk, k), strict=True):
                    f.append(r)
            for f in folds:
                bad = next((r for r in f if isinstance(r, BaseException)), None)
                if bad is not None:
                    raise bad
                out.append(summarise(f, ev.periods_per_year).objective(metric))
        return out

    return many


@attrs.define(eq=False)
class _Running:
    """One asked trial of a batch, until it is told."""

    trial: Any
    params: dict[str, Any]
    folds: list[FoldResult] = attrs.Factory(list)
    told: bool = False


@contextlib.contextmanager
def _heartbeats(study: Any, trials: Sequence[Any]) -> Iterator[None]:
    """Beat for every trial of the batch while it runs (what ``study.optimize`` does for its
    one trial): a worker that dies mid-batch leaves stale trials that are failed and retried."""
    storage = study._storage
    interval = getattr(storage, "get_heartbeat_interval", lambda: None)()
    if not interval:
        yield
        return
    stop = threading.Event()

    def beat() -> None:
        while True:
            for t in trials:
                storage.record_heartbeat(t._trial_id)
            if stop.wait(timeout=interval):
                return

    thread = threading.Thread(target=beat, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def _fail_stale(study: Any) -> None:
    """Fail (and requeue) trials whose worker stopped beating, as ``study.optimize`` does
    before each trial."""
    import optuna
    from optuna.exceptions import ExperimentalWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)


def _ask(study: Any, k: int) -> list[Any]:
    with warnings.catch_warnings():
        # heartbeats are kept by _heartbeats, not by study.optimize
        warnings.filterwarnings("ignore", message="Heartbeat of storage")
        return [study.ask() for _ in range(k)]


def run_batch(study: Any, spec: StudySpec, ev: Evaluator, k: int) -> list[Any]:
    """Ask ``k`` trials, score them together and tell each its own outcome; the trials.

    A trial whose evaluation fails is told FAIL; when the error is not one a study survives
    (:data:`~tsys.optimize.trial.CATCH`), the other trials of the batch are finished and
    told first, then the error is raised. An interruption fails every trial not yet told.
    """
    import optuna

    S = optuna.trial.TrialState
    space, defaults, ppy = ev.search_space(), ev.defaults(), ev.periods_per_year
    trials = _ask(study, k)
    running = [_Running(t, draw(t, space, defaults)) for t in trials]
    fatal: BaseException | None = None

    def tell(r: _Running, values: Any = None, state: Any = None) -> None:
        r.told = True
        study.tell(r.trial, values, state=state)

    def fail(r: _Running, exc: BaseException) -> None:
        nonlocal fatal
        tell(r, state=S.FAIL)
        if not isinstance(exc, CATCH) and fatal is None:
            fatal = exc
        optuna.logging.get_logger("optuna").warning(
            f"Trial {r.trial.number} failed with parameters: {r.trial.params} because of the "
            f"following error: {exc!r}."
        )

    try:
        with _heartbeats(study, trials):
            for fold in range(ev.n_folds):
                live = [r for r in running if not r.told]
                if not live:
                    break
                outs = evaluate_many(ev, [r.params for r in live], fold)
                for r, out in zip(live, outs, strict=True):
                    if isinstance(out, BaseException):
                        fail(r, out)
                        continue
                    r.folds.append(out)
                    try:
                        after_fold(r.trial, spec, r.folds, ev.n_folds, ppy)
                    except optuna.TrialPruned:
                        tell(r, state=S.PRUNED)
                    except Exception as exc:
                        fail(r, exc)
            for r in running:
                if not r.told:
                    try:
                        values = finish(r.trial, spec, r.folds, ppy)
                    except Exception as exc:
                        fail(r, exc)
                        continue
                    tell(r, values)
    except BaseException:  # an interruption (or a bug here): no trial is left RUNNING
        for r in running:
            if not r.told:
                with contextlib.suppress(Exception):
                    tell(r, state=S.FAIL)
        raise
    if fatal is not None:
        raise fatal
    return trials


def run_batches(
    study: Any,
    spec: StudySpec,
    ev: Evaluator,
    *,
    n_trials: int | None,
    timeout: float | None,
    batch: int,
    on_trials: Callable[[], None] | None = None,
) -> None:
    """Run ``n_trials`` trials (or batches until ``timeout`` seconds have passed; a batch
    started is finished) in batches of up to ``batch``; ``on_trials()`` after each batch."""
    if batch < 1:
        raise ValueError(f"batch must be at least 1, got {batch}")
    t0 = time.monotonic()
    done = 0
    while n_trials is None or done < n_trials:
        if timeout is not None and time.monotonic() - t0 >= timeout:
            break
        k = batch if n_trials is None else min(batch, n_trials - done)
        _fail_stale(study)
        try:
            run_batch(study, spec, ev, k)
        finally:
            gc.collect()
        done += k
        if on_trials is not None:
            on_trials()
