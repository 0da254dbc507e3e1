"""Meta-model learners on the same folds: scikit-learn's HistGradientBoosting vs LightGBM.

Workload: the real data in ../shared/data, Buckets A (sp500) and B (crypto) with their current
parameters, the walk-forward of ``tsys ml train BUCKET --shared-data --folds 4`` (same folds,
embargo, features, purged CV, calibration and in-sample threshold); only the classifier
changes. LightGBM is not a dependency of tsys: this script needs it importable (e.g. installed
into a scratch folder and put on PYTHONPATH) and says so otherwise. Prints, per bucket and
learner: walk-forward out-of-sample Sharpe with the model (and without, the same for both),
precision of the kept test entries, the mean out-of-fold AUC and training seconds per fold.

    PYTHONPATH=/tmp/lgbpkg nice -n 5 uv run --no-sync python bench/ml_learners.py \
        [--buckets sp500,crypto] [--learners hgb,lightgbm]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

SHARED = "../shared/data"


#: scikit-learn's names of :func:`tsys.ml.model.tree_settings` -> LightGBM's.
LIGHTGBM_NAMES = {
    "max_iter": "n_estimators",
    "max_leaf_nodes": "num_leaves",
    "max_bins": "max_bin",
    "min_samples_leaf": "min_child_samples",
    "l2_regularization": "reg_lambda",
}


def lightgbm_classifier(spec: Any, n: int) -> Any:
    """LightGBM with the settings of :func:`tsys.ml.model.tree_settings` (one thread)."""
    from lightgbm import LGBMClassifier

    from tsys.ml.model import tree_settings

    settings = {LIGHTGBM_NAMES.get(k, k): v for k, v in tree_settings(spec, n).items()}
    return LGBMClassifier(**settings, n_jobs=1, verbose=-1)


def judge(bucket_name: str, learner: str) -> dict[str, Any]:
    from tsys import plugins
    from tsys.cli._options import open_data, resolve_cli_params
    from tsys.config import load_config
    from tsys.ml import model as ml_model
    from tsys.research.lab import Lab
    from tsys.research.loop import fold_windows, longest_holding
    from tsys.research.meta import MetaSpec, compare

    config = load_config(None)
    bucket = plugins.buckets().get(bucket_name)
    hub = open_data(config, None, None, SHARED)
    pset = resolve_cli_params(bucket, config, hub, None, ())
    lab = Lab(bucket, hub, config, values=pset.values)
    windows = fold_windows(lab.n_bars, 4, longest_holding(bucket, pset.values))
    original = ml_model._classifier
    if learner == "lightgbm":
        ml_model._classifier = lightgbm_classifier
    began = time.monotonic()
    try:
        j = compare(lab, windows, [pset.values] * len(windows), MetaSpec(mode="filter"))
    finally:
        ml_model._classifier = original
    folds = j["folds"]
    return {
        "bucket": bucket_name,
        "learner": learner,
        "oos": f"{j['start']}..{j['end']}",
        "sharpe_with_ml": j["with_ml"]["sharpe"],
        "sharpe_without_ml": j["without_ml"]["sharpe"],
        "precision_kept": j["with_ml"]["entry_precision"],
        "precision_all": j["without_ml"]["entry_precision"],
        "trades_with_ml": j["with_ml"]["trades"],
        "mean_oof_auc": sum(f["oof_auc"] for f in folds) / len(folds),
        "train_seconds_per_fold": [round(f["train_seconds"], 2) for f in folds],
        "kept_vs_dropped_t": j["kept_vs_dropped"]["t_stat"],
        "ml_on": j["decision"]["ml_on"],
        "seconds": round(time.monotonic() - began, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--buckets", default="sp500,crypto")
    ap.add_argument("--learners", default="hgb,lightgbm")
    args = ap.parse_args()
    learners = args.learners.split(",")
    if "lightgbm" in learners:
        try:
            import lightgbm  # noqa: F401
        except ImportError:
            sys.exit("lightgbm is not importable: install it into a scratch folder first")
    for b in args.buckets.split(","):
        for learner in learners:
            print(json.dumps(judge(b, learner)), flush=True)


if __name__ == "__main__":
    main()
