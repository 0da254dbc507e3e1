"""Every page is built one way: the shared jinja environment, its number filters, its charts."""

from tsys.format import figure
from tsys.report.html import environment, heatmap, line_chart, render


def test_charts_are_templates_and_escape_their_labels():
    svg = str(
        line_chart(
            ["2024-01-01", "2024-01-02", "2024-01-03"],
            [("<b>mine</b>", [1.0, 2.0, None], "#123456")],
            title="a & b",
        )
    )
    assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")
    assert "&lt;b&gt;mine&lt;/b&gt;" in svg and "<b>" not in svg
    assert 'aria-label="a &amp; b"' in svg
    assert str(line_chart(["2024-01-01"], [])) == '<svg width="10" height="10"></svg>\n'
    grid = str(heatmap({2024: {1: 0.05, 2: -0.02}}))
    assert "5.0%" in grid and "-2.0%" in grid and "2.9%" in grid  # 1.05 x 0.98 - 1 for the year


def test_the_environment_is_shared_and_carries_the_formatter():
    env = environment()
    assert env is environment()
    assert env.filters["fmt"] is figure
    page = env.from_string("{{ x|fmt('pct') }} {{ y|number(2) }} {{ z|fmt }}").render(
        x=-0.1234, y=1234.5, z=float("nan")
    )
    assert page == "-12.34% 1,234.50 n/a"
    assert render("charts/empty.svg.j2") == '<svg width="10" height="10"></svg>\n'
