"""``tsys options``: keep the recorded history of unusual options-flow alerts."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import click


def _config() -> Any:
    from tsys.api import load_config

    root = click.get_current_context().find_root()
    return load_config((root.obj or {}).get("config_path"))


def _source(config: Any) -> Any:
    from tsys.api import SourceContext
    from tsys_data_unusualwhales.source import UnusualWhalesSource

    options = dict((config.data.options or {}).get("unusualwhales", {}))
    ctx = SourceContext(cache_dir=Path(config.data_path) / "cache" / "unusualwhales", config=config)
    return UnusualWhalesSource.from_config(options, ctx)


def _since(value: str | None) -> dt.datetime | None:
    """Midnight UTC of the day ``value`` names (None: not given)."""
    if value is None:
        return None
    try:
        return dt.datetime.combine(dt.date.fromisoformat(value), dt.time(), dt.UTC)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)") from None


def _show(report: Any, as_json: bool, extra: dict[str, Any]) -> None:
    data = {**report.as_dict(), **extra}
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    click.echo(
        f"{data['stored']} new alert(s) stored, {data['duplicates']} already recorded, "
        f"{data['malformed']} malformed skipped ({data['received']} received"
        + (f" in {data['calls']} request(s), {data['pages']} page(s)" if data["calls"] else "")
        + ")"
    )
    if data["oldest"]:
        click.echo(f"alerts from {data['oldest']} to {data['newest']}")
    for problem in data["problems"][:5]:
        click.echo(f"  skipped: {problem}", err=True)
    if data["stopped"]:
        click.echo(f"stopped: {data['stopped']}")
    h = extra.get("history")
    if h:
        click.echo(f"history: {h['count']} alert(s) over {h['sessions']} session(s)")


def _history(source: Any) -> dict[str, Any]:
    from tsys.api import OptionAlerts

    with source.open_store() as store:
        span = OptionAlerts(store).span()
        where = store.location
    return {
        "count": span.count,
        "sessions": span.sessions,
        "first": None if span.first is None else span.first.isoformat(),
        "last": None if span.last is None else span.last.isoformat(),
        "store": where,
    }


@click.group()
def options() -> None:
    """Unusual options-flow alerts: record a history the options bucket can backtest.

    \b
    No public history of alerts exists: tsys keeps its own, one row per alert, in the store
    (SQLite or TSYS_DATABASE_URL). Fetch with `sync` (needs UNUSUAL_WHALES_API_TOKEN), load
    an export with `import`, see what is kept with `status`.

    \b
      tsys options sync                  alerts since the last one stored
      tsys options sync --since 2026-11-01
      tsys options import alerts.csv     a CSV/JSON export, same normalisation
      tsys options status --json
    """


@options.command()
@click.option(
    "--since",
    help="Fetch alerts from this date (YYYY-MM-DD, UTC); default: "
    "from the newest one stored, or backfill_days back for an empty history.",
)
@click.option(
    "--max-pages",
    type=click.IntRange(1),
    help="Requests to spend at most (default: [data.options.unusualwhales] max_pages).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def sync(since: str | None, max_pages: int | None, as_json: bool) -> None:
    """Fetch flow alerts into the recorded history (safe to run every day).

    Pages back in time with newer_than/older_than as far as the plan allows; every alert is
    stored once, so reruns and overlapping pages add nothing twice. Filters come from
    [data.options.unusualwhales] (min_premium, min_dte/max_dte, calls/puts, ask_side/bid_side,
    sweeps, opening_only, rule_names, min_marketcap/max_marketcap, ...).
    """
    config = _config()
    source = _source(config)
    start = _since(since)

    def progress(r: Any) -> None:
        if not as_json:
            click.echo(f"  page {r.pages}: {r.received} received, {r.stored} new", err=True)

    report = source.sync(since=start, max_pages=max_pages, progress=progress)
    _show(report, as_json, {"history": _history(source)})


@options.command(name="import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def import_(file: Path, as_json: bool) -> None:
    """Load alerts from a CSV or JSON export (normalised like fetched alerts).

    JSON: a list, the API's {"data": [...]}, or one alert (or websocket frame) per line.
    CSV: a header with the API's field names, or timestamp,symbol,option_type,premium,...
    """
    from tsys.api import OptionAlerts
    from tsys_data_unusualwhales.importing import import_file

    config = _config()
    source = _source(config)
    with source.open_store() as store:
        report = import_file(file, OptionAlerts(store))
    _show(report, as_json, {"history": _history(source)})


@options.command()
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def status(as_json: bool) -> None:
    """How many alerts are recorded, over which span, in which store."""
    h = _history(_source(_config()))
    if as_json:
        click.echo(json.dumps(h, indent=2))
        return
    if not h["count"]:
        click.echo(f"no alerts recorded yet in {h['store']}; run `tsys options sync`")
        return
    click.echo(
        f"{h['count']} alert(s) over {h['sessions']} session(s), {h['first']} to {h['last']} "
        f"({h['store']})"
    )
