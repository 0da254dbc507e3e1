"""The one way tsys builds HTML: jinja templates in ``tsys/report/templates``.

:func:`environment` is shared by every page (the newsletter, the backtest, validation and paper
reports) and by the charts (:func:`line_chart`, :func:`heatmap`: the geometry of
:mod:`tsys.report.charts` drawn by SVG templates): the same autoescaping,
the same number filters (:mod:`tsys.format`) and the same chart helpers, so a figure or a chart
looks the same on every page.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any


@functools.cache
def environment() -> Any:
    """The jinja2 environment of every tsys page (built once per process).

    Filters: ``fmt`` (:func:`tsys.format.figure`, a metrics cell), ``number``, ``money``,
    ``price``, ``pct``, ``quantity``, ``significant``, ``param_value``, ``plaintext``.
    Globals: ``line_chart`` and ``heatmap`` (inline SVG).
    """
    import jinja2

    from tsys import format as fmt

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("tsys.report", "templates"),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html", "html.j2", "svg.j2")),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(
        fmt=fmt.figure,
        number=fmt.number,
        money=fmt.money,
        price=fmt.price,
        pct=fmt.pct,
        quantity=fmt.quantity,
        significant=fmt.significant,
        param_value=fmt.param_value,
        gate_number=fmt.gate_number,
        plaintext=plaintext,
    )
    env.globals.update(line_chart=line_chart, heatmap=heatmap, cash_interest=fmt.cash_interest)
    return env


def render(template: str, **context: Any) -> str:
    """Render ``templates/<template>`` with ``context``."""
    return environment().get_template(template).render(**context)


def plaintext(value: Any) -> str:
    """Text for a plain-text page: control characters dropped (a stray escape sequence in a
    rationale must not reach the reader's terminal or mail client)."""
    return "".join(c for c in str(value) if c in "\n\t" or c.isprintable())


def line_chart(dates: Sequence[str], series: Sequence[Any], **options: Any) -> Any:
    """An inline SVG line chart (Markup) of :func:`tsys.report.charts.line_geometry`."""
    from markupsafe import Markup

    from tsys.report import charts

    chart = charts.line_geometry(dates, series, **options)
    if chart is None:
        return Markup(render("charts/empty.svg.j2"))
    return Markup(render("charts/line.svg.j2", c=chart))


def heatmap(monthly: dict[int, dict[int, float]]) -> Any:
    """An inline SVG grid (Markup) of :func:`tsys.report.charts.heatmap_geometry`."""
    from markupsafe import Markup

    from tsys.report import charts

    return Markup(render("charts/heatmap.svg.j2", c=charts.heatmap_geometry(monthly)))
