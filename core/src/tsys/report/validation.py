"""The validation report as one self-contained HTML file (inline CSS, no scripts, no network).

Rendered from the JSON that ``tsys validate --json`` prints and saves
(:meth:`tsys.validate.suite.ValidationReport.to_json`); figure cells carry the raw value in
``data-value`` so tests can compare the two.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any


def fmt(value: Any, kind: str = "num") -> str:
    """Format one figure for the report."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    if kind == "pct":
        return f"{value * 100:.1f}%"
    if kind == "ratio":
        return f"{value:.2f}"
    if kind == "p":
        return f"{value:.3f}"
    if kind == "int":
        return f"{int(value):,}"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def render(report: dict[str, Any]) -> str:
    """HTML for a validation report payload."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("tsys.report", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined,
    )
    env.filters["fmt"] = fmt
    rows = []
    sens = report.get("sensitivity") or {}
    params = report.get("params", {})
    by_param: dict[str, dict[str, Any]] = {}
    for n in sens.get("neighbours", []):
        by_param.setdefault(n["param"], {"param": n["param"], "chosen": params.get(n["param"])})
        by_param[n["param"]][n["direction"]] = (n["value"], n["objective"])
    rows = list(by_param.values())
    return env.get_template("validation.html.j2").render(r=report, sensitivity_rows=rows)


def write_report(report: dict[str, Any], path: str | Path) -> Path:
    """Write the HTML next to nothing else (self-contained) and return its path."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(report), encoding="utf-8")
    return out
