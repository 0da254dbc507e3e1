"""A self-contained, offline HTML report of one bucket backtest.

Everything is inline: CSS in a ``<style>`` element and charts as inline SVG drawn here (equity
against the benchmark, drawdown, a monthly-returns heatmap), so the file opens without a network
connection and makes no requests. Every figure is rendered from the same JSON payload that
``tsys backtest --json`` prints (:meth:`tsys.backtest.bucket.BucketBacktest.to_json`), and each
metric cell carries its raw value in ``data-value`` so tests can compare the two.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tsys.metrics import drawdown_curve

#: Metrics shown in the table, in order: key, label, kind.
METRICS: tuple[tuple[str, str, str], ...] = (
    ("cagr", "CAGR", "pct"),
    ("total_return", "Total return", "pct"),
    ("volatility", "Volatility (annual)", "pct"),
    ("sharpe", "Sharpe", "ratio"),
    ("sortino", "Sortino", "ratio"),
    ("max_drawdown", "Max drawdown", "pct"),
    ("turnover", "Turnover (per year)", "times"),
    ("exposure", "Exposure", "pct"),
    ("trades", "Trades", "int"),
    ("win_rate", "Win rate", "pct"),
    ("avg_bars_held", "Average bars held", "num"),
)
TRADES_SHOWN = 300


def fmt(value: float | None, kind: str) -> str:
    """Format one figure the way the report (and its test) shows it."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    if kind == "pct":
        return f"{value * 100:.2f}%"
    if kind == "ratio":
        return f"{value:.2f}"
    if kind == "times":
        return f"{value:.2f}x"
    if kind == "int":
        return f"{round(value):,}"
    return f"{value:,.1f}"


# ----------------------------------------------------------------------------- SVG charts
def _path(xs: Sequence[float], ys: Sequence[float]) -> str:
    pts = [(x, y) for x, y in zip(xs, ys, strict=True) if math.isfinite(y)]
    return " ".join(f"{'M' if i == 0 else 'L'}{x:.1f},{y:.1f}" for i, (x, y) in enumerate(pts))


def _downsample(n: int, limit: int = 800) -> list[int]:
    if n <= limit:
        return list(range(n))
    step = n / limit
    idx = sorted({int(i * step) for i in range(limit)} | {n - 1})
    return idx


def line_chart(
    dates: Sequence[str],
    series: Sequence[tuple[str, Sequence[float | None], str]],
    *,
    width: int = 860,
    height: int = 260,
    log: bool = False,
    percent: bool = False,
    fill_to_zero: bool = False,
    title: str = "",
) -> str:
    """An inline SVG line chart of one or more aligned series (name, values, colour)."""
    pad_l, pad_r, pad_t, pad_b = 64, 12, 24, 28
    n = len(dates)
    if n < 2:
        return '<svg width="10" height="10"></svg>'
    keep = _downsample(n)

    def tf(v: float | None) -> float:
        if v is None or not math.isfinite(v):
            return math.nan
        if log:
            return math.log(v) if v > 0 else math.nan
        return v

    vals = [[tf(s[1][i]) for i in keep] for s in series]
    finite = [v for vs in vals for v in vs if math.isfinite(v)]
    lo, hi = (min(finite), max(finite)) if finite else (0.0, 1.0)
    if fill_to_zero:
        hi = max(hi, 0.0)
    if hi - lo < 1e-12:
        hi, lo = hi + 1, lo - 1
    w, h = width - pad_l - pad_r, height - pad_t - pad_b

    def X(k: int) -> float:
        return pad_l + w * k / (len(keep) - 1)

    def Y(v: float) -> float:
        return pad_t + h * (1 - (v - lo) / (hi - lo))

    out = [
        f'<svg viewBox="0 0 {width} {height}" width="100%" role="img" aria-label="{title}">',
        f'<rect x="{pad_l}" y="{pad_t}" width="{w}" height="{h}" fill="#fafafa" stroke="#ddd"/>',
    ]
    for k in range(5):
        v = lo + (hi - lo) * k / 4
        y = Y(v)
        label = math.exp(v) if log else v
        text = f"{label * 100:.0f}%" if percent else f"{label:,.0f}"
        out.append(f'<line x1="{pad_l}" x2="{pad_l + w}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eee"/>')
        out.append(
            f'<text x="{pad_l - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end" '
            f'fill="#555">{text}</text>'
        )
    for k in (0, len(keep) // 2, len(keep) - 1):
        out.append(
            f'<text x="{X(k):.1f}" y="{height - 8}" font-size="11" text-anchor="middle" '
            f'fill="#555">{dates[keep[k]]}</text>'
        )
    for (name, _, colour), vs in zip(series, vals, strict=True):
        xs = [X(k) for k in range(len(keep))]
        ys = [Y(v) if math.isfinite(v) else math.nan for v in vs]
        d = _path(xs, ys)
        if fill_to_zero and d:
            z = Y(0.0)
            first = next(x for x, y in zip(xs, ys, strict=True) if math.isfinite(y))
            last = [x for x, y in zip(xs, ys, strict=True) if math.isfinite(y)][-1]
            out.append(
                f'<path d="{d} L{last:.1f},{z:.1f} L{first:.1f},{z:.1f} Z" fill="{colour}" fill-opacity="0.25" stroke="none"/>'
            )
        out.append(
            f'<path d="{d}" fill="none" stroke="{colour}" stroke-width="1.5"><title>{name}</title></path>'
        )
    lx = pad_l + 8
    for i, (name, _, colour) in enumerate(series):
        out.append(
            f'<rect x="{lx}" y="{pad_t + 6 + 16 * i}" width="10" height="10" fill="{colour}"/>'
        )
        out.append(f'<text x="{lx + 14}" y="{pad_t + 15 + 16 * i}" font-size="12">{name}</text>')
    out.append("</svg>")
    return "\n".join(out)


def monthly_returns(dates: Sequence[str], equity: Sequence[float]) -> dict[int, dict[int, float]]:
    """Return by year and month from month-end equity (the first month from the first bar)."""
    ends: dict[tuple[int, int], float] = {}
    firsts: dict[tuple[int, int], float] = {}
    for d, v in zip(dates, equity, strict=True):
        key = (int(d[:4]), int(d[5:7]))
        firsts.setdefault(key, v)
        ends[key] = v
    out: dict[int, dict[int, float]] = {}
    prev = None
    for key in sorted(ends):
        base = prev if prev is not None else firsts[key]
        if base and base > 0:
            out.setdefault(key[0], {})[key[1]] = ends[key] / base - 1.0
        prev = ends[key]
    return out


def heatmap(monthly: dict[int, dict[int, float]]) -> str:
    """Monthly returns as an inline SVG grid (green up, red down) with the year's total."""
    years = sorted(monthly)
    cw, ch, left, top = 56, 20, 48, 22
    width = left + cw * 13 + 8
    height = top + ch * len(years) + 8
    out = [
        f'<svg viewBox="0 0 {width} {height}" width="100%" role="img" aria-label="monthly returns">'
    ]
    months = [
        "Jan",
        "Feb",
        "Mar",
        "Apr",
        "May",
        "Jun",
        "Jul",
        "Aug",
        "Sep",
        "Oct",
        "Nov",
        "Dec",
        "Year",
    ]
    for m, name in enumerate(months):
        out.append(
            f'<text x="{left + cw * m + cw / 2}" y="15" font-size="11" text-anchor="middle">{name}</text>'
        )
    for i, y in enumerate(years):
        yy = top + ch * i
        out.append(
            f'<text x="{left - 6}" y="{yy + 14}" font-size="11" text-anchor="end">{y}</text>'
        )
        total = 1.0
        for m in range(1, 13):
            r = monthly[y].get(m)
            x = left + cw * (m - 1)
            if r is None:
                continue
            total *= 1 + r
            out.append(_cell(x, yy, cw, ch, r))
        out.append(_cell(left + cw * 12, yy, cw, ch, total - 1))
    out.append("</svg>")
    return "\n".join(out)


def _cell(x: float, y: float, w: float, h: float, r: float) -> str:
    a = min(1.0, abs(r) / 0.10)
    colour = (
        f"rgba(22,163,74,{0.15 + 0.75 * a:.2f})"
        if r >= 0
        else f"rgba(220,38,38,{0.15 + 0.75 * a:.2f})"
    )
    return (
        f'<rect x="{x}" y="{y}" width="{w - 2}" height="{h - 2}" fill="{colour}"/>'
        f'<text x="{x + w / 2 - 1}" y="{y + 13}" font-size="10" text-anchor="middle">{r * 100:.1f}%</text>'
    )


# ----------------------------------------------------------------------------- rendering
def render(payload: dict[str, Any]) -> str:
    """The report as one HTML string, from :meth:`BucketBacktest.to_json`'s payload."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(Path(__file__).parent / "templates")),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined,
    )
    from markupsafe import Markup

    dates = payload["dates"]
    eq = payload["equity"]
    bench = payload.get("benchmark_equity")
    series = [(payload["bucket"], eq, "#2563eb")]
    if bench is not None:
        series.append((f"{payload['benchmark']} buy and hold", bench, "#9ca3af"))
    charts = {
        "equity": Markup(line_chart(dates, series, log=True, title="equity")),
        "drawdown": Markup(
            line_chart(
                dates,
                [(n, drawdown_curve(v), c) for n, v, c in series],
                percent=True,
                fill_to_zero=True,
                title="drawdown",
            )
        ),
        "monthly": Markup(heatmap(monthly_returns(dates, eq))),
    }
    rows = []
    m, b = payload["metrics"], payload.get("benchmark_metrics") or {}
    for key, label, kind in METRICS:
        if key not in m and key not in b:
            continue
        rows.append(
            {
                "key": key,
                "label": label,
                "bucket": m.get(key),
                "bucket_text": fmt(m.get(key), kind),
                "bench": b.get(key),
                "bench_text": fmt(b.get(key), kind),
            }
        )
    trades = payload["trades"]
    shown = trades[-TRADES_SHOWN:]
    template = env.get_template("backtest.html.j2")
    return template.render(
        p=payload,
        rows=rows,
        charts=charts,
        trades=shown,
        trades_total=len(trades),
        fmt=fmt,
    )


def write_report(payload: dict[str, Any], path: str | Path) -> Path:
    """Render and write the report atomically; return its path."""
    from tsys.files import atomic_write_bytes

    out = Path(path)
    atomic_write_bytes(out, render(payload).encode("utf-8"))
    return out
