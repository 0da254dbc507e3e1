"""The research report as one self-contained HTML file (inline CSS and SVG, no scripts).

Rendered from the JSON that ``tsys research --json`` prints (:func:`tsys.research.figures.assemble`);
figure cells carry the raw value in ``data-value`` so tests can compare the two.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tsys.report.validation import fmt

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
    import jinja2
    from markupsafe import Markup

    from tsys.report.backtest import drawdown, line_chart

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("tsys.report", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined,
    )
    env.filters["fmt"] = fmt
    curves = report["curves"]
    names = [("strategy", f"{report['bucket']} (walk-forward out of sample)")]
    names += [(a["name"], a["label"]) for a in report["anchors"]]
    series = [
        (label, curves[key], COLOURS[i % len(COLOURS)])
        for i, (key, label) in enumerate(names)
        if key in curves
    ]
    dates = curves["dates"]
    charts = {
        "equity": Markup(line_chart(dates, series, log=True, title="equity")),
        "drawdown": Markup(
            line_chart(
                dates,
                [(n, drawdown(v), c) for n, v, c in series[:2]],
                percent=True,
                fill_to_zero=True,
                title="drawdown",
            )
        ),
    }
    columns = [{"label": report["bucket"], "metrics": report["out_of_sample"]["metrics"]}]
    columns += [{"label": a["label"], "metrics": a["metrics"]} for a in report["anchors"]]
    return env.get_template("research.html.j2").render(
        r=report, charts=charts, columns=columns, metrics=METRICS
    )


def write_report(report: dict[str, Any], path: str | Path) -> Path:
    """Write the HTML (self-contained) and return its path."""
    from tsys.files import atomic_write_text

    out = Path(path)
    atomic_write_text(out, render(report))
    return out
