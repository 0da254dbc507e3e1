"""``tsys ml report``: one self-contained HTML page about a bucket's meta-model.

From the current model's JSON and its walk-forward judgement (both written by ``tsys ml
train``): the walk-forward out of sample with and without the model beside the anchors (same
folds, simulator and costs), the decision and why, per-fold figures, the calibration curve and
precision/recall against the threshold (out-of-fold probabilities of the final model's
training), and the permutation importance of the features.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

THRESHOLDS = (0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7)

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>tsys ml report: {{ bucket }}</title>
<style>
body{font-family:system-ui,sans-serif;max-width:960px;margin:2em auto;color:#111}
table{border-collapse:collapse;margin:1em 0}td,th{padding:4px 10px;border-bottom:1px solid #ddd;
text-align:right}th:first-child,td:first-child{text-align:left}.on{color:#15803d}.off{color:#b91c1c}
.bar{background:#2563eb;height:10px;display:inline-block}
</style></head><body>
<h1>Meta-model of {{ bucket }}</h1>
<p>Trained {{ meta.created }} on {{ meta.source }} data {{ meta.training.start }}..{{ meta.training.end }}
({{ meta.scores.n_events }} labelled entries), fingerprint {{ meta.data_fingerprint }},
parameters {{ meta.params_digest }}. Threshold {{ meta.threshold | fmt("ratio") }};
out-of-fold AUC {{ meta.scores.oof_auc | fmt("ratio") }}, base rate {{ meta.scores.base_rate | fmt("pct") }}.</p>
{% if j %}
<h2>Walk-forward out of sample ({{ j.start }}..{{ j.end }}), mode {{ j.mode }}</h2>
<p class="{{ 'on' if j.decision.ml_on else 'off' }}"><b>ML {{ 'ON' if j.decision.ml_on else 'OFF' }}</b>:
{{ j.decision.reasons | join('; ') }}</p>
{{ line_chart(j.curves.dates, series) }}
<table><tr><th></th><th>Sharpe</th><th>CAGR</th><th>max DD</th><th>trades</th><th>precision of entries</th></tr>
{% for name, m in rows %}<tr><td>{{ name }}</td><td>{{ m.sharpe | fmt("ratio") }}</td>
<td>{{ m.cagr | fmt("pct") }}</td><td>{{ m.max_drawdown | fmt("pct") }}</td><td>{{ m.trades | fmt("int") }}</td>
<td>{{ m.entry_precision | fmt("pct") }}</td></tr>{% endfor %}
</table>
<p>Kept vs dropped test entries: mean net return {{ j.kept_vs_dropped.kept_mean_return | fmt("pct") }}
vs {{ j.kept_vs_dropped.dropped_mean_return | fmt("pct") }}, t = {{ j.kept_vs_dropped.t_stat | fmt("ratio") }};
deflated Sharpe {{ j.deflated.deflated_sharpe | fmt("p") }} over {{ j.deflated.n_trials }} trials.
{% if j.pbo and j.pbo.blocks %}PBO (CSCV, {{ j.pbo.blocks }} blocks of the out-of-sample sessions):
without ML {{ j.pbo.without_ml.pbo | fmt("p") if j.pbo.without_ml else "n/a" }},
with ML {{ j.pbo.with_ml.pbo | fmt("p") if j.pbo.with_ml else "n/a" }}.{% endif %}</p>
<table><tr><th>fold</th><th>train entries</th><th>train s</th><th>threshold</th><th>OOF AUC</th>
<th>test entries</th><th>kept</th><th>precision all</th><th>precision kept</th><th>top features</th></tr>
{% for f in j.folds %}<tr><td>{{ f.fold }}</td><td>{{ f.train_events }}</td><td>{{ f.train_seconds | fmt("ratio") }}</td>
<td>{{ f.threshold | fmt("ratio") }}</td><td>{{ f.oof_auc | fmt("ratio") }}</td><td>{{ f.test_events }}</td>
<td>{{ f.test_kept }}</td><td>{{ f.precision_all | fmt("pct") }}</td><td>{{ f.precision_kept | fmt("pct") }}</td>
<td>{{ f.top_features[:3] | join(', ') }}</td></tr>{% endfor %}
</table>
{% else %}<p>No walk-forward judgement saved: run <code>tsys ml train {{ bucket }}</code>.</p>{% endif %}
<h2>Calibration (out of fold)</h2>
{{ calibration_svg }}
<table><tr><th>predicted</th><th>realised</th><th>entries</th></tr>
{% for b in calibration %}<tr><td>{{ b.predicted | fmt("pct") }}</td><td>{{ b.realised | fmt("pct") }}</td><td>{{ b.n }}</td></tr>{% endfor %}
</table>
<h2>Precision and recall against the threshold (out of fold)</h2>
<table><tr><th>threshold</th><th>kept</th><th>precision</th><th>recall</th></tr>
{% for r in pr %}<tr><td>{{ r.threshold | fmt("ratio") }}</td><td>{{ r.kept | fmt("pct") }}</td>
<td>{{ r.precision | fmt("pct") }}</td><td>{{ r.recall | fmt("pct") }}</td></tr>{% endfor %}
</table>
<h2>Feature importance (drop of AUC when shuffled)</h2>
<table>{% for name, v in importance %}<tr><td>{{ name }}</td><td>{{ v | fmt("ratio") }}</td>
<td style="text-align:left"><span class="bar" style="width:{{ (400 * v / top) | round(0) if top > 0 and v > 0 else 0 }}px"></span></td></tr>{% endfor %}
</table></body></html>
"""


def calibration(p: np.ndarray, y: np.ndarray, bins: int = 10) -> list[dict[str, float]]:
    """Mean predicted vs realised rate in equal-count bins of the probabilities."""
    order = np.argsort(p)
    out = []
    for chunk in np.array_split(order, min(bins, max(1, len(p)))):
        if len(chunk):
            out.append(
                {
                    "predicted": float(p[chunk].mean()),
                    "realised": float(y[chunk].mean()),
                    "n": len(chunk),
                }
            )
    return out


def precision_recall(p: np.ndarray, y: np.ndarray) -> list[dict[str, float]]:
    out = []
    pos = max(1, int((y == 1).sum()))
    for thr in THRESHOLDS:
        kept = p >= thr
        out.append(
            {
                "threshold": thr,
                "kept": float(kept.mean()) if len(p) else float("nan"),
                "precision": float(y[kept].mean()) if kept.any() else float("nan"),
                "recall": float((y[kept] == 1).sum() / pos),
            }
        )
    return out


def _calibration_svg(bins: list[dict[str, float]]) -> str:
    size, pad = 240, 20

    def xy(a: float, b: float) -> str:
        return f"{pad + a * (size - 2 * pad):.1f},{size - pad - b * (size - 2 * pad):.1f}"

    pts = " ".join(xy(b["predicted"], b["realised"]) for b in bins)
    return (
        f'<svg width="{size}" height="{size}" role="img" aria-label="calibration curve">'
        f'<rect x="{pad}" y="{pad}" width="{size - 2 * pad}" height="{size - 2 * pad}" '
        'fill="none" stroke="#ccc"/>'
        f'<polyline points="{xy(0, 0)} {xy(1, 1)}" stroke="#999" stroke-dasharray="4" fill="none"/>'
        f'<polyline points="{pts}" stroke="#2563eb" fill="none" stroke-width="2"/></svg>'
    )


def render(bucket: str, meta: dict[str, Any], judgement: dict[str, Any] | None) -> str:
    from markupsafe import Markup

    from tsys.report.html import environment

    p = np.asarray(meta["scores"].get("oof_probability_sample", []), dtype=np.float64)
    y = np.asarray(meta["scores"].get("oof_label_sample", []), dtype=np.float64)
    ok = np.isfinite(p)
    p, y = p[ok], y[ok]
    cal = calibration(p, y)
    imp = list(meta.get("importance", {}).items())[:15]
    top = max([v for _, v in imp] + [0.0])
    series, rows = [], []
    if judgement:
        c = judgement["curves"]
        series = [("with ML", c["with_ml"], "#2563eb"), ("without ML", c["without_ml"], "#6b7280")]
        colours = ("#f59e0b", "#10b981", "#8b5cf6", "#ef4444", "#0ea5e9", "#a16207")
        for i, a in enumerate(judgement["anchors"]):
            if a["name"] in c:
                series.append((a["label"], c[a["name"]], colours[i % len(colours)]))
        rows = [
            (f"{bucket} with ML", judgement["with_ml"]),
            (f"{bucket} without ML", judgement["without_ml"]),
        ] + [(a["label"], {**a, "entry_precision": None}) for a in judgement["anchors"]]
    return (
        environment()
        .from_string(PAGE)
        .render(
            bucket=bucket,
            meta=meta,
            j=judgement,
            series=series,
            rows=rows,
            calibration=cal,
            calibration_svg=Markup(_calibration_svg(cal)),
            pr=precision_recall(p, y),
            importance=imp,
            top=top,
        )
    )


def write(path: Path, bucket: str, meta: dict[str, Any], judgement: dict[str, Any] | None) -> Path:
    from tsys.files import atomic_write_text

    atomic_write_text(Path(path), render(bucket, meta, judgement))
    return Path(path)
