"""The validation report as one self-contained HTML file (inline CSS, no scripts, no network).

Rendered from the JSON that ``tsys validate --json`` prints and saves
(:meth:`tsys.validate.suite.ValidationReport.to_json`); figure cells carry the raw value in
``data-value`` so tests can compare the two.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def render(report: dict[str, Any]) -> str:
    """HTML for a validation report payload."""
    from tsys.report.html import render as render_page

    sens = report.get("sensitivity") or {}
    params = report.get("params", {})
    by_param: dict[str, dict[str, Any]] = {}
    for n in sens.get("neighbours", []):
        by_param.setdefault(n["param"], {"param": n["param"], "chosen": params.get(n["param"])})
        by_param[n["param"]][n["direction"]] = (n["value"], n["objective"])
    rows = list(by_param.values())
    return render_page("validation.html.j2", r=report, sensitivity_rows=rows)


def write_report(report: dict[str, Any], path: str | Path) -> Path:
    """Write the HTML next to nothing else (self-contained) and return its path."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(report), encoding="utf-8")
    return out
