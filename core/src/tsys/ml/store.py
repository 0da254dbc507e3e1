"""Model files under the data dir: versioned, with their provenance, and the guards to use them.

``<data dir>/ml/<bucket>/model-<UTC stamp>-<fingerprint>.pkl`` holds a pickled
:class:`~tsys.ml.model.MetaModel`; beside it a ``.json`` with what it was trained on (data
fingerprint, source, feature list, training window, parameter digest, scores, the walk-forward
decision) and ``current.json`` naming the file to use. Old versions stay (they are small).

:func:`load_current` applies the guards of the daily run: the model is used only when its file
exists, it was trained on the same data (fingerprint) when one is given, it is not older than
``max_age_days`` at the as-of date, and it was trained with the parameters the bucket runs
with; otherwise it returns no model and the reason, and the bucket runs without ML.
Pickle files are trusted like the code: they are written by ``tsys ml train`` on this machine.
"""

from __future__ import annotations

import datetime as dt
import json
import pickle
from pathlib import Path
from typing import Any

import attrs

#: Default age after which a model is stale (its training window ended this long ago).
MAX_AGE_DAYS = 120
#: Out-of-fold probabilities kept in the JSON (for the calibration curve of the report).
SAMPLE = 5000
#: Sessions at the end of the training window whose returns identify the training data.
CHECK_SESSIONS = 20
#: Largest difference of one daily return that still counts as the same data.
CHECK_TOLERANCE = 1e-6


def model_dir(root: Path, bucket: str) -> Path:
    return Path(root) / "ml" / bucket


def public_meta(model: Any) -> dict[str, Any]:
    """The model's JSON description (its provenance, scores and importance)."""
    scores = {k: v for k, v in model.scores.items() if k not in ("oof_probability", "oof_label")}
    p = model.scores.get("oof_probability", [])
    y = model.scores.get("oof_label", [])
    step = max(1, len(p) // SAMPLE)
    scores["oof_probability_sample"] = [None if v != v else v for v in p[::step]]
    scores["oof_label_sample"] = list(y[::step])
    return {
        **model.meta,
        "features": list(model.features),
        "threshold": model.threshold,
        "size_ref": model.size_ref,
        "scores": scores,
        "importance": model.importance,
    }


def save(model: Any, root: Path, bucket: str) -> Path:
    """Write ``model`` as a new version and make it current; returns the model file."""
    from tsys.files import write_json

    folder = model_dir(root, bucket)
    folder.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
    fp = str(model.meta.get("data_fingerprint", "nofp"))[:12]
    path = folder / f"model-{stamp}-{fp}.pkl"
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL))
    tmp.replace(path)
    meta = public_meta(model)
    write_json(path.with_suffix(".json"), meta)
    write_json(folder / "current.json", {"file": path.name, **meta})
    return path


def current_meta(root: Path, bucket: str) -> dict[str, Any] | None:
    p = model_dir(root, bucket) / "current.json"
    return json.loads(p.read_text()) if p.exists() else None


def set_decision(root: Path, bucket: str, decision: dict[str, Any]) -> None:
    """Record the walk-forward decision (``ml_on`` and why) beside the current model."""
    from tsys.files import write_json

    meta = current_meta(root, bucket)
    if meta is None:
        return
    meta["decision"] = decision
    write_json(model_dir(root, bucket) / "current.json", meta)


def data_signature(bars: Any, last: int, symbols: list[str]) -> dict[str, Any]:
    """What the daily run can recompute to tell the training data from other data: the dates
    of the :data:`CHECK_SESSIONS` sessions ending at row ``last`` and the close-to-close
    returns of ``symbols`` over them (returns, not prices: a later dividend or split
    adjustment rescales old prices but keeps their returns). A digest of them (returns rounded
    to 1e-6) names it."""
    import hashlib

    import numpy as np

    lo = max(0, last - CHECK_SESSIONS)
    dates = [d.date().isoformat() for d in bars.index[lo : last + 1]]
    cols = [bars.column(s) for s in symbols]
    close = np.asarray(bars.close[lo : last + 1][:, cols], dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = close[1:] / close[:-1] - 1.0
    returns = [[None if not np.isfinite(x) else round(float(x), 9) for x in col] for col in r.T]
    text = json.dumps([dates, list(symbols), np.round(np.nan_to_num(r, nan=9.0), 6).tolist()])
    return {
        "digest": hashlib.sha256(text.encode()).hexdigest()[:16],
        "dates": dates,
        "symbols": list(symbols),
        "returns": returns,
    }


def data_check(sig: dict[str, Any] | None, bars: Any) -> str | None:
    """Why today's ``bars`` are not the data the model was trained on (None: they are).

    The returns of the model's symbols over the last sessions of its training window
    (:func:`data_signature`) are recomputed from today's bars; a session missing or added, or
    a return differing by more than :data:`CHECK_TOLERANCE`, is other data. When today's bars
    do not reach back to those sessions, or hold fewer than half of the symbols, the data
    cannot be checked, and that is said too (the model is not used unchecked).
    """
    import numpy as np

    if not sig:
        return "the model file has no data signature to check today's data against (retrain it)"
    dates = sig["dates"]
    days = [d.date().isoformat() for d in bars.index]
    if dates[0] not in days or dates[-1] not in days:
        return (
            f"today's bars ({days[0] if days else '-'}..{days[-1] if days else '-'}) do not "
            f"cover the model's training sessions {dates[0]}..{dates[-1]}, so its data "
            "cannot be checked"
        )
    lo, hi = days.index(dates[0]), days.index(dates[-1])
    if days[lo : hi + 1] != dates:
        return (
            f"the ML model was trained on other data: the sessions {dates[0]}..{dates[-1]} "
            "differ from today's data"
        )
    have = [k for k, s in enumerate(sig["symbols"]) if s in bars.symbols]
    if len(have) * 2 < len(sig["symbols"]):
        return (
            f"today's bars hold {len(have)} of the model's {len(sig['symbols'])} symbols, so "
            "its data cannot be checked"
        )
    for k in have:
        sym = sig["symbols"][k]
        c = np.asarray(bars.close[lo : hi + 1, bars.column(sym)], dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            now = c[1:] / c[:-1] - 1.0
        was = np.array([np.nan if x is None else x for x in sig["returns"][k]])
        same = (np.isnan(now) & np.isnan(was)) | (np.abs(now - was) <= CHECK_TOLERANCE)
        if not same.all():
            i = int(np.flatnonzero(~same)[0])
            return (
                f"the ML model was trained on other data (signature {sig.get('digest')}): "
                f"{sym} on {dates[i + 1]} returned {was[i]:+.4%} then, {now[i]:+.4%} today"
            )
    return None


@attrs.frozen
class Loaded:
    """A model ready to use, or why there is none (``model`` None, ``reason`` set)."""

    model: Any
    reason: str | None
    meta: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return self.model is not None


def load_current(
    root: Path,
    bucket: str,
    *,
    as_of: dt.date,
    fingerprint: str | None = None,
    params_digest: str | None = None,
    max_age_days: int = MAX_AGE_DAYS,
) -> Loaded:
    """The current model of ``bucket`` when it passes the guards (see the module docstring)."""
    meta = current_meta(root, bucket)
    if meta is None:
        return Loaded(None, f"no ML model for {bucket} (run `tsys ml train {bucket}`)")
    path = model_dir(root, bucket) / meta["file"]
    if not path.exists():
        return Loaded(None, f"the ML model file {path.name} is missing", meta)
    end = dt.date.fromisoformat(meta["training"]["end"])
    age = (as_of - end).days
    refused = None
    if age > max_age_days:
        refused = (
            f"the ML model is stale: trained on data up to {end}, {age} days before {as_of} "
            f"(limit {max_age_days})"
        )
    elif fingerprint is not None and meta.get("data_fingerprint") != fingerprint:
        refused = (
            f"the ML model was trained on other data (fingerprint {meta.get('data_fingerprint')}"
            f", now {fingerprint})"
        )
    elif params_digest is not None and meta.get("params_digest") != params_digest:
        refused = "the ML model was trained with other bucket parameters"
    if refused is not None:
        return Loaded(None, refused, meta)
    with path.open("rb") as fh:
        model = pickle.load(fh)
    return Loaded(model, None, meta)
