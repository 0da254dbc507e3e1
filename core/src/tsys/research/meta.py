"""Meta-labelling judged out of sample: the same walk-forward folds with and without the model.

For each fold (its parameters as the research loop chose them, or the current ones):

1. the bucket step over the whole history (a prefix of a run is the run of the prefix);
2. triple-barrier labels and point-in-time features of every primary entry
   (:func:`tsys.ml.dataset.dataset`);
3. a meta-model trained on the entries decided *and closed* by the fold's in-sample end
   (purged k-fold with an embargo inside, uniqueness weights, calibration, threshold: all
   in-sample, :func:`tsys.ml.model.train`);
4. the fold's test entries scored; ``filter`` drops those below the threshold before the
   portfolio is built, ``size`` scales their allocations (:func:`tsys.ml.apply.applied`).

The test folds are then traded as one account, exactly as :func:`tsys.research.loop.
out_of_sample` trades them without the model, beside the same anchors (same simulator, costs
and window). The decision (:func:`decide`): the model is switched on for the bucket only when
its out-of-sample Sharpe beats the bucket without it by ``min_gain``, it is better in more
than half of the folds, and (filter mode) the test entries it kept earned more than those it
dropped, by a t-statistic of at least ``min_t``; otherwise ML stays off.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import attrs
import numpy as np

from tsys.research.figures import _window_metrics

#: Out-of-sample Sharpe the model must add before it is switched on.
MIN_GAIN = 0.10
#: Kept-minus-dropped t-statistic the model's out-of-sample entries must reach (filter mode).
MIN_T = 2.0


@attrs.frozen
class MetaSpec:
    mode: str = "filter"
    train: Any = None
    min_gain: float = MIN_GAIN
    #: t-statistic the kept entries' excess return over the dropped ones must reach.
    min_t: float = MIN_T
    #: CSCV blocks of the PBO with and without the model (fewer when the span is short).
    blocks: int = 16


def _rows(index: Any, first: Any, last: Any) -> slice:
    return slice(int(index.searchsorted(first)), int(index.searchsorted(last, "right")))


def fold_models(
    lab: Any,
    windows: list,
    chosen: list[dict[str, Any]],
    spec: MetaSpec,
    progress: Callable[[str], None] | None = None,
) -> tuple[list[Any], list[dict[str, Any]], dict[str, Any], list[tuple]]:
    """Per fold: the step with the model applied over the test rows, and the fold's figures;
    then the kept-vs-dropped separation and per fold (bucket step, scored test events, model)."""
    from tsys.ml.apply import applied
    from tsys.ml.dataset import dataset
    from tsys.ml.sampling import uniqueness

    say = progress or (lambda _m: None)
    steps, folds, pooled, fits = [], [], [], []
    for w, values in zip(windows, chosen, strict=True):
        say(f"ML fold {w.k}/{len(windows)}")
        step = lab.step(values)
        began = time.monotonic()
        ds = dataset(step, lab.costs)
        idx = step.bars.index
        last = int(idx.searchsorted(lab.index[w.is_stop - 1], "right")) - 1
        test = _rows(idx, lab.index[w.test_start], lab.index[w.test_stop - 1])
        train_mask = ds.trainable(last)
        model = ds.fit(train_mask, spec.train)
        seconds = time.monotonic() - began
        new, scored = applied(step, model, spec.mode, lab.config, lab.window, rows=test)
        steps.append(new)
        fits.append((step, scored, model))
        e = ds.events
        in_test = (e.t >= test.start) & (e.t < test.stop) & e.known
        p = model.predict(ds.X[in_test])
        kept = model.keep(p)
        y = e.label[in_test]
        u = uniqueness(e.t[in_test], e.exit_bar[in_test])
        pooled.append((e.ret[in_test], kept, u))
        folds.append(
            {
                "fold": w.k,
                "train_events": int(train_mask.sum()),
                "train_seconds": seconds,
                "threshold": model.threshold,
                "oof_auc": model.scores["oof_auc"],
                "base_rate_in_sample": model.scores["base_rate"],
                "test_events": int(in_test.sum()),
                "test_kept": int(kept.sum()),
                "precision_all": float(y.mean()) if len(y) else math.nan,
                "precision_kept": float(y[kept].mean()) if kept.any() else math.nan,
                "mean_return_all": float(e.ret[in_test].mean()) if len(y) else math.nan,
                "mean_return_kept": float(e.ret[in_test][kept].mean()) if kept.any() else math.nan,
                "top_features": list(model.importance)[:5],
            }
        )
    return steps, folds, separation(pooled), fits


def separation(pooled: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> dict[str, Any]:
    """Do the kept test entries earn more than the dropped ones? A Welch t-statistic of the
    difference of their mean net returns, each group's sample size being the sum of its
    uniqueness weights (overlapping trades count less than separate ones)."""
    r = np.concatenate([p[0] for p in pooled]) if pooled else np.zeros(0)
    k = np.concatenate([p[1] for p in pooled]) if pooled else np.zeros(0, dtype=bool)
    u = np.concatenate([p[2] for p in pooled]) if pooled else np.zeros(0)

    def stats_of(m: np.ndarray) -> tuple[float, float, float]:
        if m.sum() < 2:
            return math.nan, math.nan, 0.0
        w = u[m]
        mean = float(np.average(r[m], weights=w))
        var = float(np.average((r[m] - mean) ** 2, weights=w))
        return mean, var, float(w.sum())

    mk, vk, nk = stats_of(k)
    md, vd, nd = stats_of(~k)
    t = math.nan
    if nk >= 2 and nd >= 2 and (vk / nk + vd / nd) > 0:
        t = (mk - md) / math.sqrt(vk / nk + vd / nd)
    return {
        "kept_mean_return": mk,
        "dropped_mean_return": md,
        "kept_effective_n": nk,
        "dropped_effective_n": nd,
        "t_stat": t,
    }


def _oos_json(lab: Any, oos: Any) -> dict[str, Any]:
    from tsys.backtest.bucket import performance

    ppy = lab.periods_per_year
    cap = lab.costs.capacity.max_participation
    m = performance(
        oos.result, oos.bars.volume[oos.rows], periods_per_year=ppy, max_participation=cap
    )
    eq = oos.equity
    per_fold = []
    for r in oos.fold_rows:
        a = max(r.start - 1, 0)
        per_fold.append(_window_metrics(eq[a : r.stop], ppy)["sharpe"])
    return {
        "sharpe": m.get("sharpe"),
        "cagr": m.get("cagr"),
        "max_drawdown": m.get("max_drawdown"),
        "trades": m.get("trade_count"),
        "exposure": m.get("exposure"),
        "fold_sharpe": per_fold,
    }


def decide(
    base: dict[str, Any],
    ml: dict[str, Any],
    folds: list[dict],
    sep: dict[str, Any],
    spec: MetaSpec,
) -> dict:
    """On only when the model adds ``min_gain`` Sharpe, wins more than half of the folds, and
    the entries it kept out of sample earned more than those it dropped (t >= ``min_t``).

    The last condition is what tells a model from luck: dropping entries at random from a
    losing bucket also "improves" its Sharpe (fewer trades, fewer costs), but the kept and
    dropped entries then earn the same.
    """
    min_gain = spec.min_gain

    def f(x: Any) -> float:
        return float(x) if x is not None and math.isfinite(float(x)) else -math.inf

    gain = f(ml["sharpe"]) - f(base["sharpe"])
    wins = sum(
        f(a) > f(b) + 1e-12 for a, b in zip(ml["fold_sharpe"], base["fold_sharpe"], strict=True)
    )
    n = len(folds)
    filters = sum(fd["threshold"] > 0 for fd in folds)
    reasons = []
    if filters == 0:
        reasons.append("the in-sample threshold kept every entry in every fold")
    if not gain >= min_gain:
        reasons.append(f"out-of-sample Sharpe gain {gain:+.3f} < {min_gain:.2f}")
    if not wins * 2 > n:
        reasons.append(f"better in {wins} of {n} folds (needs more than half)")
    t = sep.get("t_stat")
    if spec.mode == "filter" and not (t is not None and math.isfinite(t) and t >= spec.min_t):
        reasons.append(
            f"kept vs dropped entries: t = {t:.2f} < {spec.min_t:g}"
            if t is not None and math.isfinite(t)
            else "kept vs dropped entries: too few to compare"
        )
    on = not reasons
    return {
        "ml_on": on,
        "sharpe_gain": gain if math.isfinite(gain) else None,
        "folds_better": wins,
        "folds": n,
        "reasons": reasons
        or [f"Sharpe +{gain:.3f}, better in {wins} of {n} folds, kept vs dropped t = {t:.2f}"],
    }


def deflated_ml(lab: Any, returns: np.ndarray, extra_trials: int) -> dict[str, Any]:
    """The deflated Sharpe of the ML curve, trials = every configuration the research lab ran
    plus the threshold candidates of the model."""
    from tsys import metrics as mx
    from tsys.validate import stats

    ppy = lab.periods_per_year
    r = np.asarray(returns, dtype=np.float64)
    sharpes = [mx.sharpe(run.returns, ppy) for run in lab.runs()] + [mx.sharpe(r, ppy)]
    n_trials = max(1, len(lab.runs()) + extra_trials)
    var = float(np.var(sharpes, ddof=1)) / ppy if len(sharpes) > 1 else 0.0
    skew, kurt = mx.moments(r)
    sr_p = mx.sharpe(r, ppy) / math.sqrt(ppy)
    dsr, _sr0 = stats.deflated_sharpe(sr_p, len(r), skew, kurt, n_trials, var)
    return {"deflated_sharpe": dsr, "n_trials": n_trials}


def compare(
    lab: Any,
    windows: list,
    chosen: list[dict[str, Any]],
    spec: MetaSpec = MetaSpec(),
    *,
    base_oos: Any = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """The walk-forward with and without the meta-model (see the module docstring)."""
    from tsys.ml.model import KEEP_SHARES
    from tsys.research.loop import out_of_sample
    from tsys.research.meta_pbo import pbo_pair, threshold_curves

    began = time.monotonic()
    steps, folds, sep, fits = fold_models(lab, windows, chosen, spec, progress)
    base_oos = base_oos or out_of_sample(lab, windows, chosen)
    ml_oos = out_of_sample(lab, windows, chosen, steps=steps)
    variants = threshold_curves(lab, windows, chosen, fits, spec.mode)
    pbo = pbo_pair(lab, base_oos.sessions, base_oos.equity, ml_oos.equity, variants, spec.blocks)
    base, ml = _oos_json(lab, base_oos), _oos_json(lab, ml_oos)
    for name, rows in (("precision_all", "test_events"), ("precision_kept", "test_kept")):
        n = sum(fd[rows] for fd in folds)
        tot = sum(fd[name] * fd[rows] for fd in folds if fd[rows])
        (base if name == "precision_all" else ml)["entry_precision"] = tot / n if n else None
    if spec.mode == "size":  # every entry is traded, only smaller: its precision is all's
        ml["entry_precision"] = base["entry_precision"]
    index = lab.index[base_oos.sessions]
    anchors = lab.anchors(index[0], index[-1])
    eq = ml_oos.equity
    decision = decide(base, ml, folds, sep, spec)
    return {
        "mode": spec.mode,
        "start": index[0].date().isoformat(),
        "end": index[-1].date().isoformat(),
        "without_ml": base,
        "with_ml": ml,
        "anchors": [
            {
                "name": a.name,
                "label": a.label,
                **{k: a.metrics.get(k) for k in ("sharpe", "cagr", "max_drawdown", "trades")},
            }
            for a in anchors
        ],
        "folds": folds,
        "kept_vs_dropped": sep,
        "deflated": deflated_ml(lab, eq[1:] / eq[:-1] - 1.0, len(KEEP_SHARES)),
        "pbo": pbo,
        "decision": decision,
        "seconds": time.monotonic() - began,
        "curves": {
            "dates": [d.date().isoformat() for d in index],
            "without_ml": [float(v) for v in base_oos.equity],
            "with_ml": [float(v) for v in eq],
            **{a.name: [float(v) for v in a.equity] for a in anchors},
        },
    }


def train_current(lab: Any, values: dict[str, Any], spec: Any = None) -> Any:
    """The model to use from now on: trained on every entry of the lab's history whose trade
    has closed (the same procedure as each fold's), with its provenance in ``model.meta``."""
    import datetime as dt

    from tsys import __version__
    from tsys.ml.dataset import dataset
    from tsys.paramsets import params_digest

    step = lab.step(values)
    ds = dataset(step, lab.costs)
    idx = step.bars.index
    last = int(idx.searchsorted(lab.index[-1], "right")) - 1
    mask = ds.trainable(last)
    model = ds.fit(mask, spec)
    first = int(ds.events.t[mask].min()) if mask.any() else 0
    import sklearn

    from tsys.ml.store import data_signature

    bars = step.bars
    names = {bars.symbols[j] for j in np.unique(ds.events.j[mask]).tolist()}
    if lab.bucket.benchmark in bars.symbols:
        names.add(lab.bucket.benchmark)

    model.meta = {
        "bucket": lab.bucket.name,
        "bucket_version": lab.bucket.version,
        "params": dict(values),
        "params_digest": params_digest(lab.params_object(values)),
        "data_fingerprint": lab.fingerprint,
        "data_check": data_signature(bars, last, sorted(names)),
        "source": lab.bars.source,
        "synthetic": bool(lab.bars.synthetic or lab.hub.synthetic),
        "training": {
            "start": idx[first].date().isoformat(),
            "end": idx[last].date().isoformat(),
            "events": int(mask.sum()),
        },
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "tsys_version": __version__,
        "sklearn_version": sklearn.__version__,
    }
    return model
