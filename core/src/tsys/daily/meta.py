"""The daily run's meta-model filter: load the bucket's model behind its guards, or say why not.

With ``[buckets.NAME] ml = "filter"``, the bucket's entries on the as-of bar whose
meta-probability is below the model's threshold are dropped before portfolio construction, and
each scored entry gets a note with its probability and the features that moved it most (the
newsletter shows the notes with the bucket's warnings). The model is used only when
:func:`tsys.ml.store.load_current` accepts it (it exists, is not stale, was trained with the
parameters the bucket runs with), it was trained on the same data source, and its walk-forward
judgement switched it on; otherwise the bucket runs without it and a note says "ML off" and why.
Nothing here imports scikit-learn unless a model is used.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any


def meta_filter(
    bucket: Any, settings: Any, root: Path, as_of: dt.date, params: Any
) -> tuple[Callable[[Any, Any], Any] | None, list[str]]:
    """(the output adjustment, the notes it adds) for one bucket's daily step."""
    mode = getattr(settings, "ml", "off")
    notes: list[str] = []
    if mode == "off":
        return None, notes
    from tsys.ml.store import load_current
    from tsys.paramsets import params_digest

    got = load_current(
        root,
        bucket.name,
        as_of=as_of,
        params_digest=params_digest(params),
        max_age_days=settings.ml_max_age_days,
    )
    if not got.ok:
        notes.append(f"ML {mode} is OFF today: {got.reason}")
        return None, notes
    decision = (got.meta or {}).get("decision") or {}
    if not decision.get("ml_on"):
        why = "; ".join(decision.get("reasons", [])) or "no walk-forward judgement saved"
        notes.append(f"ML {mode} is OFF: the walk-forward did not switch it on ({why})")
        return None, notes
    model, meta = got.model, got.meta or {}

    def adjust(bars: Any, output: Any) -> Any:
        from tsys.ml.apply import filtered_output, score_events

        if meta.get("source") and bars.source != meta["source"]:
            notes.append(
                f"ML {mode} is OFF today: the model was trained on {meta['source']} data, "
                f"today's bars come from {bars.source}"
            )
            return output
        last = bars.shape[0] - 1
        scored = score_events(model, bars, output, bucket.benchmark, rows=slice(last, last + 1))
        if len(scored.p):
            from tsys.ml.features import feature_matrix, feature_panels

            X, _ = feature_matrix(
                feature_panels(bars, output, bucket.benchmark), scored.t, scored.j, model.features
            )
            for k, (j, p) in enumerate(zip(scored.j.tolist(), scored.p.tolist(), strict=True)):
                verdict = "kept" if p >= model.threshold else "dropped"
                why = ", ".join(f"{n} {v:+.3g} ({d:+.2f})" for n, v, d in model.explain(X[k]))
                notes.append(
                    f"ML: {bars.symbols[j]} meta-probability {p:.2f} vs threshold "
                    f"{model.threshold:.2f}, {verdict}; moved by {why}"
                )
        return filtered_output(output, scored, model.threshold)

    return adjust, notes
