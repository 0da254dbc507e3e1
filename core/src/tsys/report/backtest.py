"""A self-contained, offline HTML report of one bucket backtest.

Everything is inline: CSS in a ``<style>`` element and charts as inline SVG
(:mod:`tsys.report.charts`: equity against the benchmark, drawdown, a monthly-returns heatmap),
so the file opens without a network connection and makes no requests. Every figure is rendered
from the same JSON payload that ``tsys backtest --json`` prints (:meth:`tsys.backtest.bucket.BucketBacktest.to_json`), and each
metric cell carries its raw value in ``data-value`` so tests can compare the two.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tsys.format import figure
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
    ("trades", "Trades (closed)", "int"),
    ("open_trades", "Trades still open at the end", "int"),
    ("win_rate", "Win rate", "pct"),
    ("avg_bars_held", "Average bars held", "num"),
    ("stop_exits", "Stop exits", "int"),
    ("stop_gap_share", "Stops filled at a gap open", "pct"),
    ("stops_after_halt", "Stops on the first bar after a halt", "int"),
    ("halted_position_days", "Position-days on halted bars", "int"),
)
TRADES_SHOWN = 300


# ----------------------------------------------------------------------------- rendering
def render(payload: dict[str, Any]) -> str:
    """The report as one HTML string, from :meth:`BucketBacktest.to_json`'s payload."""
    from tsys.report import charts
    from tsys.report.html import render as render_page

    dates = payload["dates"]
    eq = payload["equity"]
    bench = payload.get("benchmark_equity")
    series = [(payload["bucket"], eq, "#2563eb")]
    if bench is not None:
        series.append((f"{payload['benchmark']} buy and hold", bench, "#9ca3af"))
    drawdowns = [(n, drawdown_curve(v), c) for n, v, c in series]
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
                "bucket_text": figure(m.get(key), kind),
                "bench": b.get(key),
                "bench_text": figure(b.get(key), kind),
            }
        )
    trades = payload["trades"]
    return render_page(
        "backtest.html.j2",
        p=payload,
        rows=rows,
        equity_series=series,
        drawdown_series=drawdowns,
        monthly=charts.monthly_returns(dates, eq),
        trades=trades[-TRADES_SHOWN:],
        trades_total=len(trades),
        trades_open=sum(1 for t in trades if t.get("exit_reason") == "open"),
    )


def write_report(payload: dict[str, Any], path: str | Path) -> Path:
    """Render and write the report atomically; return its path."""
    from tsys.files import atomic_write_bytes

    out = Path(path)
    atomic_write_bytes(out, render(payload).encode("utf-8"))
    return out


def keep_copy(payload: dict[str, Any], html: Path, root: Path) -> Path:
    """Save ``payload`` under ``<root>/backtest/`` beside the others the data dir lists.

    ``tsys backtest --report FILE`` writes the HTML where it is told; the dashboard's Research
    page lists the reports of the data dir (``research/``, ``validation/``), so a copy of the
    payload goes to ``backtest/<FILE's stem>-<digest of its full path>.json`` with the path of
    the HTML it was written to (``report_html``): one entry per report file, rewritten when
    that file is.
    """
    import hashlib

    from tsys.files import write_json

    where = Path(html).resolve()
    digest = hashlib.sha256(str(where).encode()).hexdigest()[:8]
    out = Path(root) / "backtest" / f"{where.stem}-{digest}.json"
    write_json(out, {**payload, "report_html": str(where)})
    return out
