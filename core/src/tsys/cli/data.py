"""``tsys data``: inspect and validate market data from any registered data source."""

from __future__ import annotations

import datetime as dt
import functools
import json
import math
import sys
from collections.abc import Callable
from typing import Any

import click

from tsys import format as fmt
from tsys.cli import load_config
from tsys.cli._options import choose_data, data_options, json_option

_DATE = click.DateTime(formats=["%Y-%m-%d"])
#: ``--end`` of ``tsys data bars`` and ``tsys data news``.
_end_option = click.option("--end", type=_DATE, default=None, help="Last date (default: today).")


def _reads_source(f: Callable[..., Any]) -> Callable[..., Any]:
    """:func:`data_options` for a ``tsys data`` command, which gets the source they choose as
    ``src`` (opened on its own, not the run's hub: no extra sources)."""

    @functools.wraps(f)
    def command(source: str | None, path: Any, shared_data: str | None, **kwargs: Any) -> Any:
        from tsys.data.sources import open_source

        config = choose_data(load_config(), source, path, shared_data)
        return f(open_source(config.data.source, config), **kwargs)

    return data_options(command)


def _warnings(src: Any) -> None:
    ctx = getattr(src, "ctx", None)
    for w in getattr(ctx, "warnings", []) or []:
        click.secho(f"warning: {w}", fg="yellow", err=True)


def _num(x: Any) -> Any:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else x


@click.group(name="data")
def data() -> None:
    """Inspect and validate market data.

    \b
    Examples:
      tsys data validate --source csv --path ~/prices
      tsys data bars SPY --source demo
      tsys data universe crypto --top 10
      tsys data news AAPL --source csv --path ~/prices --days 30
    """


@data.command(name="validate")
@_reads_source
@click.option("--strict", is_flag=True, help="Exit non-zero (code 4) when untrusted data is found.")
@click.option("--limit", default=40, show_default=True, help="Rows of the per-symbol table.")
@json_option()
def validate_cmd(src: Any, strict: bool, limit: int, as_json: bool) -> None:
    """Check every symbol's bars and summarise what is wrong.

    Rules: bad or unsorted or duplicate dates, empty or non-positive prices, negative volume,
    high/low inconsistent with open/close, equity bars on closed days (these rows are dropped
    on load), gaps against the exchange calendar (equities) or every day (crypto), and one-day
    jumps that look like an unadjusted split (reported). --strict exits with code 4 when any
    row would be dropped, a date is duplicated or a split is suspected; gaps alone do not fail.
    """
    from tsys.errors import DataError

    report = _validate(src)
    if as_json:
        click.echo(report.to_json())
    else:
        _print_report(report, limit)
    _warnings_summary(src, as_json)
    if strict and report.strict_issues():
        raise DataError(
            f"{len(report.strict_issues())} issue(s) fail strict validation",
            hint="see the table above; drop --strict to load with those rows dropped",
        )


def _warnings_summary(src: Any, as_json: bool) -> None:
    ctx = getattr(src, "ctx", None)
    warns = [w for w in (getattr(ctx, "warnings", None) or []) if "dropped" not in w]
    if not as_json:
        for w in warns:
            click.secho(f"warning: {w}", fg="yellow", err=True)


def _validate(src: Any):
    from tsys.data.validate import QualityReport, validate_bars

    if hasattr(src, "load") and hasattr(src, "validate") and hasattr(src, "symbols"):
        symbols = src.symbols()
        _progress(symbols, src.load, "validating")
        return src.validate(symbols)
    if hasattr(src, "validate"):
        return src.validate()
    bars = src.bars(None, None, dt.date.today())
    if bars is None:
        return QualityReport(source=src.name, notes=["this source provides no bars"])
    return validate_bars(bars)[1]


def _progress(items: list[str], fn: Any, label: str) -> None:
    if not sys.stderr.isatty():
        for x in items:
            fn(x)
        return
    from rich.progress import Progress

    with Progress(transient=True) as progress:
        task = progress.add_task(label, total=len(items))
        for x in items:
            fn(x)
            progress.advance(task)


def _print_report(report: Any, limit: int) -> None:
    click.echo(f"source:  {report.source}")
    click.echo(
        f"symbols: {report.symbols}   rows: {report.rows}   rows dropped: {report.rows_dropped}"
    )
    if report.ok:
        click.secho("no issues found", fg="green")
        return
    click.echo("")
    click.echo(f"{'rule':<27}{'symbols':>8}{'count':>9}{'dropped':>9}")
    for rule, t in report.totals().items():
        click.echo(f"{rule:<27}{t['symbols']:>8}{t['count']:>9}{t['dropped']:>9}")
    click.echo("")
    click.echo(f"{'symbol':<10}{'rule':<27}{'count':>6}{'dropped':>8}  examples")
    for i in report.issues[:limit]:
        shown = ", ".join(i.examples[:2])
        if i.rule == "gap":
            more = i.runs > 2
            shown = f"{i.runs} stretch(es): {shown}"
        else:
            more = i.count > 2
        ex = shown + (" ..." if more else "")
        click.echo(f"{i.symbol:<10}{i.rule:<27}{i.count:>6}{i.dropped:>8}  {ex}")
    if len(report.issues) > limit:
        click.echo(f"... {len(report.issues) - limit} more (raise --limit or use --json)")
    for n in report.notes:
        click.echo(f"note: {n}")


@data.command(name="bars")
@click.argument("symbol")
@_reads_source
@click.option("--start", type=_DATE, default=None, help="First date (default: 10 rows back).")
@_end_option
@click.option("--rows", default=10, show_default=True, help="Rows to show when --start is unset.")
@json_option()
def bars_cmd(
    src: Any,
    symbol: str,
    start: dt.datetime | None,
    end: dt.datetime | None,
    rows: int,
    as_json: bool,
) -> None:
    """Show a symbol's most recent daily bars (validated, as the system sees them)."""
    from tsys.errors import DataError

    end_d = end.date() if end else dt.date.today()
    start_d = start.date() if start else None
    lookback = None if start_d is not None else end_d - dt.timedelta(days=max(rows, 1) * 3 + 30)
    b = src.bars([symbol], start_d or lookback, end_d)
    if b is None or symbol not in b.symbols:
        raise DataError(f"{src.name} has no bars for {symbol!r} up to {end_d}")
    df = b.symbol_frame(symbol)
    if start_d is None:
        df = df.tail(rows)
    if as_json:
        out = {
            "symbol": symbol,
            "source": b.source,
            "synthetic": b.synthetic,
            "asset_class": str(b.asset_class_of(symbol)),
            "bars": [
                {"date": d.date().isoformat(), **{k: _num(float(v)) for k, v in r.items()}}
                for d, r in df.iterrows()
            ],
        }
        click.echo(json.dumps(out, indent=2))
        return
    label = " (SYNTHETIC)" if b.synthetic else ""
    click.echo(f"{symbol}  {b.asset_class_of(symbol)}  source: {b.source}{label}")
    click.echo(f"{'date':<12}{'open':>12}{'high':>12}{'low':>12}{'close':>12}{'volume':>16}")
    for d, r in df.iterrows():
        click.echo(
            f"{d.date().isoformat():<12}"
            + "".join(
                f"{fmt.price(_num(float(r[f])), symbol='', decimals=4, digits=6):>12}"
                for f in ("open", "high", "low", "close")
            )
            + f"{r['volume']:>16,.0f}"
        )
    _warnings(src)


@data.command(name="news")
@click.argument("symbol")
@_reads_source
@click.option("--days", default=30, show_default=True, help="Calendar days back from --end.")
@_end_option
@json_option()
def news_cmd(src: Any, symbol: str, days: int, end: dt.datetime | None, as_json: bool) -> None:
    """Show news sentiment rows (-1 negative .. +1 positive) for a symbol."""
    end_d = end.date() if end else dt.date.today()
    df = src.news([symbol], end_d - dt.timedelta(days=days), end_d)
    if df is None:
        click.echo(f"data source {src.name!r} provides no news")
        return
    if as_json:
        rows = [
            {**{k: _num(v) for k, v in r.items()}, "date": r["date"].date().isoformat()}
            for r in df.to_dict("records")
        ]
        click.echo(json.dumps({"symbol": symbol, "source": src.name, "news": rows}, indent=2))
        return
    if df.empty:
        click.echo(f"no news for {symbol} in the last {days} days (to {end_d})")
        return
    for r in df.to_dict("records"):
        title = r["title"] or "(no headline)"
        click.echo(f"{r['date'].date().isoformat()}  {r['sentiment']:+.2f}  {title}")


@data.command(name="universe")
@click.argument("name")
@_reads_source
@click.option("--as-of", type=_DATE, default=None, help="Date of the membership (default today).")
@click.option("--top", type=int, default=None, help="Only the first N (crypto: by market cap).")
@json_option()
def universe_cmd(
    src: Any, name: str, as_of: dt.datetime | None, top: int | None, as_json: bool
) -> None:
    """List a universe as known on a date: "sp500" membership, or "crypto" ranked by cap.

    The crypto ranking leaves out the stablecoins and wrapped tokens the source names.
    """
    from tsys.errors import DataError

    day = as_of.date() if as_of else dt.date.today()
    caps: dict[str, float] = {}
    if name == "crypto":
        mc = src.market_caps(day - dt.timedelta(days=10), day)
        if mc is None or mc.empty:
            raise DataError(f"data source {src.name!r} has no crypto market caps up to {day}")
        last = mc.ffill().iloc[-1].dropna()
        excluded = src.excluded_coins() or set()
        last = last[[s not in excluded for s in last.index]].sort_values(ascending=False)
        members = list(last.index)
        caps = {s: float(v) for s, v in last.items()}
    else:
        got = src.universe(name, day)
        if got is None:
            raise DataError(f"data source {src.name!r} does not provide the universe {name!r}")
        members = list(got)
    if top is not None:
        members = members[:top]
    why = getattr(src, "last_reason", None)  # e.g. "S&P 500 members as listed on 2026-12-07"
    if as_json:
        out: dict[str, Any] = {"universe": name, "as_of": day.isoformat(), "source": src.name}
        if why:
            out["why"] = why
        out["members"] = (
            [{"symbol": s, "market_cap": caps[s]} for s in members] if caps else members
        )
        click.echo(json.dumps(out, indent=2))
        return
    click.echo(f"{name} as of {day} ({len(members)} shown), source {src.name}")
    if why:
        click.echo(f"  ({why})")
    for i, s in enumerate(members, 1):
        click.echo(f"{i:>4}  {s:<12}{f'{caps[s]:>20,.0f}' if caps else ''}")
    _warnings(src)
