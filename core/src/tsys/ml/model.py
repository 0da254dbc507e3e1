"""The meta-model: gradient boosting on entry features, calibrated out of fold, with a threshold.

:func:`train` (Lopez de Prado, AFML ch. 3.6, 4, 7):

1. sample weights = average label uniqueness (:func:`tsys.ml.sampling.uniqueness`), rescaled
   so both classes weigh the same for the classifier (class balance);
2. out-of-fold raw probabilities from purged k-fold with an embargo
   (:func:`tsys.ml.sampling.purged_kfold`), scikit-learn's ``HistGradientBoostingClassifier``
   (NaN-aware, small and regularised);
3. calibration: a logistic (Platt) map from the out-of-fold raw scores to the labels, weighted
   by uniqueness only (so the probabilities keep the true base rate);
4. the filter threshold, chosen on the out-of-fold calibrated probabilities: the one whose kept
   trades have the best t-statistic of net return (uniqueness-weighted), "keep everything"
   (threshold 0) being one of the candidates - a model that cannot beat it filters nothing;
5. the final classifier refitted on every sample; permutation importance on the training set.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable
from typing import Any

import attrs
import numpy as np

from tsys.ml.sampling import balanced, purged_kfold, uniqueness

#: Shares of the out-of-fold events a candidate threshold keeps (1.0: the model is off).
KEEP_SHARES = (1.0, 0.8, 0.65, 0.5, 0.35)
#: Fewer kept out-of-fold events than this and a threshold is not a candidate.
MIN_KEPT = 20
#: The "size" mode scales by p / (this quantile of the out-of-fold probabilities), in [floor, 1].
SIZE_QUANTILE = 0.8
SIZE_FLOOR = 0.25


@attrs.frozen
class TrainSpec:
    n_splits: int = 5
    #: Bars after each test fold whose samples are dropped from training (None: 1% of the bars).
    embargo: int | None = None
    seed: int = 0
    max_iter: int = 150
    learning_rate: float = 0.05
    max_leaf_nodes: int = 15
    l2: float = 1.0
    #: Few bins: sample-weighted binning is slow per bin, and daily features are noisy.
    max_bins: int = 32


@attrs.define(eq=False)
class MetaModel:
    """A trained meta-model (see the module docstring). ``meta`` is free-form provenance."""

    features: list[str]
    estimator: Any
    calib: tuple[float, float]
    threshold: float
    size_ref: float
    medians: np.ndarray
    scores: dict[str, Any]
    importance: dict[str, float]
    #: Columns of ``features`` the classifier reads (the others were constant in training).
    used: np.ndarray = attrs.field(factory=lambda: np.zeros(0, dtype=np.int64))
    meta: dict[str, Any] = attrs.field(factory=dict)

    def raw(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        return self.estimator.predict_proba(X[:, self.used])[:, 1]

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Calibrated probabilities that each event's trade makes money after costs."""
        if not len(X):
            return np.zeros(0)
        return platt(self.raw(X), self.calib)

    def keep(self, p: np.ndarray) -> np.ndarray:
        return np.asarray(p) >= self.threshold

    def size_factor(self, p: np.ndarray) -> np.ndarray:
        """Allocation multipliers in [SIZE_FLOOR, 1]: never above the bucket's own size."""
        ref = self.size_ref if self.size_ref > 0 else 1.0
        return np.clip(np.asarray(p, dtype=np.float64) / ref, SIZE_FLOOR, 1.0)

    def explain(self, x: np.ndarray, top: int = 3) -> list[tuple[str, float, float]]:
        """The ``top`` features moving one event's probability the most: (name, value, change
        of probability against that feature at its training median)."""
        x = np.asarray(x, dtype=np.float64).reshape(1, -1)
        base = float(self.predict(x)[0])
        alt = np.repeat(x, x.shape[1], axis=0)
        alt[np.arange(x.shape[1]), np.arange(x.shape[1])] = self.medians
        deltas = base - self.predict(alt)
        order = np.argsort(-np.abs(deltas))[:top]
        return [(self.features[k], float(x[0, k]), float(deltas[k])) for k in order]


def varying(X: np.ndarray) -> np.ndarray:
    """Columns with at least two distinct finite values (the others cannot split anything)."""
    out = []
    for k in range(X.shape[1]):
        col = X[:, k]
        col = col[np.isfinite(col)]
        if len(col) and col.min() < col.max():
            out.append(k)
    return np.asarray(out, dtype=np.int64)


def _medians(X: np.ndarray) -> np.ndarray:
    """Each column's median over its finite values (0 for a column without any, e.g. news
    features of symbols without news)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns
        return np.nan_to_num(np.nanmedian(np.where(np.isfinite(X), X, np.nan), axis=0))


def platt(raw: np.ndarray, calib: tuple[float, float]) -> np.ndarray:
    a, b = calib
    z = a * _logit(raw) + b
    return 1.0 / (1.0 + np.exp(-z))


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def tree_settings(spec: TrainSpec, n: int) -> dict[str, Any]:
    """The boosted-tree settings of ``spec`` for ``n`` training rows, in scikit-learn's names
    (trees, learning rate, leaves, bins, leaf size, L2, seed); ``bench/ml_learners.py`` gives
    the same settings to LightGBM."""
    return dict(
        max_iter=spec.max_iter,
        learning_rate=spec.learning_rate,
        max_leaf_nodes=spec.max_leaf_nodes,
        max_bins=spec.max_bins,
        min_samples_leaf=max(20, n // 50),
        l2_regularization=spec.l2,
        random_state=spec.seed,
    )


def _classifier(spec: TrainSpec, n: int) -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(early_stopping=False, **tree_settings(spec, n))


def _fit(clf: Any, X: np.ndarray, y: np.ndarray, w: np.ndarray) -> Any:
    """Fit, with any all-missing column set to 0 (scikit-learn's weighted binning fails on a
    column without a single value; a constant column splits nothing either way)."""
    empty = ~np.isfinite(X).any(axis=0)
    if empty.any():
        X = X.copy()
        X[:, empty] = 0.0
    return clf.fit(X, y, sample_weight=w)


def _fit_platt(raw: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    from sklearn.linear_model import LogisticRegression

    if len(np.unique(y)) < 2:
        rate = float(np.clip(np.average(y, weights=w), 1e-3, 1 - 1e-3))
        return 0.0, math.log(rate / (1 - rate))
    lr = LogisticRegression(C=1.0)
    lr.fit(_logit(raw).reshape(-1, 1), y, sample_weight=w)
    return float(lr.coef_[0, 0]), float(lr.intercept_[0])


def _tstat(r: np.ndarray, w: np.ndarray) -> float:
    if len(r) < 2 or w.sum() <= 0:
        return -math.inf
    m = np.average(r, weights=w)
    sd = math.sqrt(max(np.average((r - m) ** 2, weights=w), 1e-18))
    return float(m / sd * math.sqrt(w.sum()))


def choose_threshold(p: np.ndarray, ret: np.ndarray, w: np.ndarray) -> tuple[float, list[dict]]:
    """The threshold whose kept trades have the best weighted t-statistic (see the module
    docstring); returns it and every candidate's figures."""
    cands = []
    best, best_stat = 0.0, -math.inf
    for share in KEEP_SHARES:
        thr = 0.0 if share >= 1.0 else float(np.quantile(p, 1.0 - share))
        kept = p >= thr
        if kept.sum() < MIN_KEPT and share < 1.0:
            continue
        stat = _tstat(ret[kept], w[kept])
        cands.append(
            {
                "keep_share": float(kept.mean()),
                "threshold": thr,
                "t_stat": stat,
                "mean_return": float(np.average(ret[kept], weights=w[kept])),
                "precision": float(np.average(ret[kept] > 0, weights=w[kept])),
            }
        )
        if stat > best_stat + 1e-12:
            best, best_stat = thr, stat
    return best, cands


def _auc(y: np.ndarray, p: np.ndarray, w: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    if len(np.unique(y)) < 2:
        return math.nan
    return float(roc_auc_score(y, p, sample_weight=w))


def _one_thread(f: Callable[..., MetaModel]) -> Callable[..., MetaModel]:
    """Run ``f`` on one thread: the models are small, and OpenMP threads competing for busy
    cores are far slower than one."""

    @functools.wraps(f)
    def run(*args: Any, **kwargs: Any) -> MetaModel:
        import sklearn.ensemble  # noqa: F401 - load its OpenMP runtime before limiting it
        from threadpoolctl import threadpool_limits

        with threadpool_limits(1):
            return f(*args, **kwargs)

    return run


@_one_thread
def train(
    X: np.ndarray,
    y: np.ndarray,
    ret: np.ndarray,
    start: np.ndarray,
    end: np.ndarray,
    features: list[str],
    spec: TrainSpec = TrainSpec(),
) -> MetaModel:
    """Train a meta-model on events (features ``X``, labels ``y``, net returns ``ret``, label
    windows ``[start, end]`` in bars), on one thread. See the module docstring."""
    from tsys.errors import ConfigError

    began = time.monotonic()
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.int64)
    n = len(y)
    if n < max(50, 4 * spec.n_splits):
        raise ConfigError(
            f"only {n} labelled entries to train on",
            hint="a longer history or a bucket that trades more",
        )
    used = varying(X)
    if not len(used):
        raise ConfigError("every feature is constant or missing over the training entries")
    Xu = X[:, used]
    w = uniqueness(start, end)
    wb = balanced(w, y)
    span = int(np.max(end) - np.min(start) + 1)
    embargo = spec.embargo if spec.embargo is not None else max(1, span // 100)
    oof = np.full(n, np.nan)
    for tr, te in purged_kfold(start, end, spec.n_splits, embargo):
        if len(np.unique(y[tr])) < 2 or len(tr) < 20:
            continue
        clf = _fit(_classifier(spec, len(tr)), Xu[tr], y[tr], wb[tr])
        oof[te] = clf.predict_proba(Xu[te])[:, 1]
    done = np.isfinite(oof)
    calib = _fit_platt(oof[done], y[done], w[done]) if done.sum() >= 10 else (0.0, 0.0)
    p_oof = np.where(done, platt(np.where(done, oof, 0.5), calib), np.nan)
    thr, cands = choose_threshold(p_oof[done], ret[done], w[done])
    clf = _fit(_classifier(spec, n), Xu, y, wb)
    model = MetaModel(
        features=list(features),
        estimator=clf,
        calib=calib,
        threshold=thr,
        size_ref=float(np.quantile(p_oof[done], SIZE_QUANTILE)) if done.any() else 1.0,
        medians=_medians(X),
        scores={
            "n_events": n,
            "n_out_of_fold": int(done.sum()),
            "base_rate": float(np.average(y, weights=w)),
            "oof_auc": _auc(y[done], p_oof[done], w[done]),
            "oof_brier": float(np.average((p_oof[done] - y[done]) ** 2, weights=w[done]))
            if done.any()
            else math.nan,
            "mean_uniqueness": float(w.mean()),
            "embargo_bars": embargo,
            "thresholds": cands,
            "oof_probability": p_oof.tolist(),
            "oof_label": y.tolist(),
        },
        importance={},
        used=used,
    )
    model.importance = permutation_importance(model, X, y, w, seed=spec.seed)
    model.scores["seconds"] = time.monotonic() - began
    return model


def permutation_importance(
    model: MetaModel, X: np.ndarray, y: np.ndarray, w: np.ndarray, *, seed: int = 0
) -> dict[str, float]:
    """Drop of the weighted AUC when each feature's column is shuffled (mean of 3 shuffles)."""
    rng = np.random.default_rng(seed)
    base = _auc(y, model.predict(X), w)
    out = {name: 0.0 for name in model.features}
    for k in model.used.tolist():
        name = model.features[k]
        drops = []
        for _ in range(3):
            Xp = X.copy()
            Xp[:, k] = X[rng.permutation(len(X)), k]
            drops.append(base - _auc(y, model.predict(Xp), w))
        out[name] = float(np.mean(drops))
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))
