"""PBO (CSCV) of the meta-model's walk-forward beside the bucket's own trial matrix.

The research loop's PBO (:mod:`tsys.research.pbo`) asks whether picking the best of the
configurations it tried overfits. Adding a meta-model adds choices: the filter's threshold is
picked in-sample among :data:`tsys.ml.model.KEEP_SHARES` (keep every entry, the best 80%, 65%,
50% or 35% by probability). Both PBOs are measured on the same rows, the out-of-sample sessions
of the walk-forward, with the same CSCV blocks:

- **without ML**: the trial matrix, i.e. every configuration the lab ran (its returns on those
  sessions) and the walk-forward without the model;
- **with ML**: the same columns plus the walk-forward with the model at each candidate
  threshold (each fold's model, its test entries kept above the quantile of its own
  out-of-fold probabilities; ``size`` mode: the sized walk-forward).

When the model's variants only fit noise, the in-sample winner of the wider matrix is more
often an ML column that then falls below the median out of sample, and PBO rises; a model
that carries information lowers it.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def _returns(eq: np.ndarray) -> np.ndarray:
    eq = np.asarray(eq, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = eq[1:] / eq[:-1] - 1.0
    return np.nan_to_num(r, nan=0.0, posinf=0.0, neginf=0.0)


def threshold_curves(lab: Any, windows: list, chosen: list, fits: list, mode: str) -> dict:
    """Out-of-sample equity of the walk-forward with the model at each candidate threshold
    (``fits``: per fold, the bucket step, its scored test events and the fold's model)."""
    from tsys.ml.apply import filtered_output, replan
    from tsys.ml.model import KEEP_SHARES
    from tsys.research.loop import out_of_sample

    if mode != "filter":
        return {}
    out = {}
    for share in KEEP_SHARES[1:]:
        steps = []
        for step, scored, model in fits:
            p = np.asarray(model.scores.get("oof_probability", []), dtype=np.float64)
            p = p[np.isfinite(p)]
            thr = float(np.quantile(p, 1.0 - share)) if len(p) else 0.0
            kept = filtered_output(step.output, scored, thr)
            steps.append(replan(step, kept, lab.config, lab.window))
        out[f"ml_keep_{round(share * 100)}"] = out_of_sample(
            lab, windows, chosen, steps=steps
        ).equity
    return out


def blocks_for(n_rows: int, wanted: int) -> int | None:
    """The largest even block count <= ``wanted`` with at least 20 rows a block (None: none)."""
    s = min(wanted, n_rows // 20)
    s -= s % 2
    return s if s >= 2 else None


def pbo_pair(
    lab: Any,
    sessions: slice,
    base_eq: np.ndarray,
    ml_eq: np.ndarray,
    variants: dict[str, np.ndarray],
    n_blocks: int = 16,
) -> dict[str, Any]:
    """PBO without and with the model on the out-of-sample ``sessions`` (see the module
    docstring); each with its columns and CSCV summary (None when it cannot be measured)."""
    from tsys.research.pbo import cscv

    base_cols = {"walk_forward": _returns(base_eq)}
    for k, run in enumerate(lab.runs()):
        base_cols[f"trial_{k}"] = _returns(run.equity[sessions])
    ml_cols = dict(base_cols)
    ml_cols["ml_walk_forward"] = _returns(ml_eq)
    ml_cols.update({k: _returns(v) for k, v in variants.items()})
    n = len(base_cols["walk_forward"])
    blocks = blocks_for(n, n_blocks)
    out: dict[str, Any] = {"blocks": blocks, "periods": n}
    for name, cols in (("without_ml", base_cols), ("with_ml", ml_cols)):
        if blocks is None or len(cols) < 2:
            out[name] = None
            continue
        res = cscv(
            np.column_stack(list(cols.values())), n_blocks=blocks, periods=lab.periods_per_year
        )
        s = res.summary()
        out[name] = {
            "pbo": s["pbo"],
            "columns": list(cols),
            "n_configs": s["n_configs"],
            "prob_loss": s["prob_loss"],
            "mean_oos_sharpe": s["mean_oos_sharpe"],
            "winners": {k: int((res.winners == i).sum()) for i, k in enumerate(cols)},
        }
    return out
