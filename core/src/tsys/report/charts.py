"""The geometry of the charts every report shares: a line chart and a monthly-returns heatmap.

This module computes coordinates and labels only; ``templates/charts/*.svg.j2`` draw them
through the one page environment (:func:`tsys.report.html.line_chart`,
:func:`tsys.report.html.heatmap`, the ``line_chart``/``heatmap`` globals of every template), so
the charts are built the same way as the pages around them and every label is escaped. No
scripts and no network: a report opens offline.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

#: Heatmap cell size and margins (pixels).
_CELL_W, _CELL_H, _LEFT, _TOP = 56, 20, 48, 22
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _path(xs: Sequence[float], ys: Sequence[float]) -> str:
    pts = [(x, y) for x, y in zip(xs, ys, strict=True) if math.isfinite(y)]
    return " ".join(f"{'M' if i == 0 else 'L'}{x:.1f},{y:.1f}" for i, (x, y) in enumerate(pts))


def _downsample(n: int, limit: int = 800) -> list[int]:
    if n <= limit:
        return list(range(n))
    step = n / limit
    return sorted({int(i * step) for i in range(limit)} | {n - 1})


def line_geometry(
    dates: Sequence[str],
    series: Sequence[tuple[str, Sequence[float | None], str]],
    *,
    width: int = 860,
    height: int = 260,
    log: bool = False,
    percent: bool = False,
    fill_to_zero: bool = False,
    title: str = "",
) -> dict[str, Any] | None:
    """Coordinates of a line chart of aligned series ``(name, values, colour)`` (None: fewer
    than two dates, nothing to draw).

    ``log`` draws on a log scale, ``percent`` labels the axis in percent, ``fill_to_zero``
    shades the area between each line and zero (drawdowns).
    """
    n = len(dates)
    if n < 2:
        return None
    pad_l, pad_r, pad_t, pad_b = 64, 12, 24, 28
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
        # A drawdown chart: the axis ends at 0 (never above it, even for a flat curve).
        hi, lo = 0.0, min(lo, 0.0)
        if hi - lo < 1e-12:
            lo = -0.01 if percent else -1.0
    elif hi - lo < 1e-12:
        hi, lo = hi + 1, lo - 1
    w, h = width - pad_l - pad_r, height - pad_t - pad_b

    def X(k: int) -> float:
        return pad_l + w * k / (len(keep) - 1)

    def Y(v: float) -> float:
        return pad_t + h * (1 - (v - lo) / (hi - lo))

    grid = []
    # Enough decimals that five ticks over a small range do not all read "0%".
    step = (hi - lo) / 4 * (100 if percent else 1)
    places = 0 if log or step >= 1 else min(4, 1 - math.floor(math.log10(step)))
    for k in range(5):
        v = lo + (hi - lo) * k / 4
        label = math.exp(v) if log else v
        text = f"{label * 100:.{places}f}%" if percent else f"{label:,.{places}f}"
        grid.append({"y": f"{Y(v):.1f}", "ty": f"{Y(v) + 4:.1f}", "text": text})
    ticks = [
        {"x": f"{X(k):.1f}", "text": dates[keep[k]]} for k in (0, len(keep) // 2, len(keep) - 1)
    ]
    lines = []
    for (name, _, colour), vs in zip(series, vals, strict=True):
        xs = [X(k) for k in range(len(keep))]
        ys = [Y(v) if math.isfinite(v) else math.nan for v in vs]
        d = _path(xs, ys)
        area = None
        if fill_to_zero and d:
            z = Y(0.0)
            drawn = [x for x, y in zip(xs, ys, strict=True) if math.isfinite(y)]
            area = f"{d} L{drawn[-1]:.1f},{z:.1f} L{drawn[0]:.1f},{z:.1f} Z"
        lines.append({"name": name, "colour": colour, "d": d, "area": area})
    chart = {
        "width": width,
        "height": height,
        "title": title,
        "left": pad_l,
        "top": pad_t,
        "inner_width": w,
        "inner_height": h,
        "right": pad_l + w,
        "label_x": pad_l - 6,
        "tick_y": height - 8,
        "grid": grid,
        "ticks": ticks,
        "lines": lines,
        "legend_x": pad_l + 8,
    }
    return chart


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


def heatmap_geometry(monthly: dict[int, dict[int, float]]) -> dict[str, Any]:
    """Cells of a monthly-returns grid (green up, red down) with each year's total."""
    cw, ch, left, top = _CELL_W, _CELL_H, _LEFT, _TOP
    years = sorted(monthly)
    rows = []
    for i, year in enumerate(years):
        y = top + ch * i
        cells = []
        total = 1.0
        for m in range(1, 13):
            r = monthly[year].get(m)
            if r is None:
                continue
            total *= 1 + r
            cells.append(_cell(left + cw * (m - 1), y, r))
        cells.append(_cell(left + cw * 12, y, total - 1))
        rows.append({"year": year, "y": y, "label_y": y + 14, "cells": cells})
    chart = {
        "width": left + cw * 13 + 8,
        "height": top + ch * len(years) + 8,
        "label_x": left - 6,
        "cell_w": cw - 2,
        "cell_h": ch - 2,
        "months": [
            {"x": left + cw * m + cw / 2, "name": name} for m, name in enumerate((*MONTHS, "Year"))
        ],
        "rows": rows,
    }
    return chart


def _cell(x: float, y: float, r: float) -> dict[str, Any]:
    a = min(1.0, abs(r) / 0.10)
    rgb = "22,163,74" if r >= 0 else "220,38,38"
    return {
        "x": x,
        "y": y,
        "fill": f"rgba({rgb},{0.15 + 0.75 * a:.2f})",
        "text_x": x + _CELL_W / 2 - 1,
        "text_y": y + 13,
        "text": f"{r * 100:.1f}%",
    }
