"""The research report as one self-contained HTML file (inline CSS and SVG, no scripts).

Rendered from the JSON that ``tsys research --json`` prints
(:func:`tsys.research.figures.assemble`) through the shared page environment
(:mod:`tsys.report.html`); figure cells carry the raw value in ``data-value`` so tests can
compare the two.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tsys.metrics import drawdown_curve

#: Curve colours: the strategy first, then the anchors in report order.
COLOURS = ("#2563eb", "#6b7280", "#f59e0b", "#10b981", "#8b5cf6", "#ef4444", "#0ea5e9")

#: Metrics of the out-of-sample table: key, label, kind.
METRICS = (
    ("cagr", "CAGR", "pct"),
    ("sharpe", "Sharpe", "ratio"),
    ("max_drawdown", "Max drawdown", "pct"),
    ("volatility", "Volatility", "pct"),
    ("exposure", "Exposure", "pct"),
    ("trades", "Trades", "int"),
)


def render(report: dict[str, Any]) -> str:
    """HTML for a research report payload."""
    from tsys.report.html import render as render_page

    curves = report["curves"]
    names = [("strategy", f"{report['bucket']} (walk-forward out of sample)")]
    names += [(a["name"], a["label"]) for a in report["anchors"]]
    series = [
        (label, curves[key], COLOURS[i % len(COLOURS)])
        for i, (key, label) in enumerate(names)
        if key in curves
    ]
    columns = [{"label": report["bucket"], "metrics": report["out_of_sample"]["metrics"]}]
    columns += [{"label": a["label"], "metrics": a["metrics"]} for a in report["anchors"]]
    return render_page(
        "research.html.j2",
        r=report,
        equity_series=series,
        drawdown_series=[(n, drawdown_curve(v), c) for n, v, c in series[:2]],
        columns=columns,
        metrics=METRICS,
    )


def write_report(report: dict[str, Any], path: str | Path) -> Path:
    """Write the HTML (self-contained) and return its path."""
    from tsys.files import atomic_write_text

    out = Path(path)
    atomic_write_text(out, render(report))
    return out
