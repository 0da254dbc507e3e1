"""``tsys run-daily`` (the product's main job) and ``tsys runs`` (its history)."""

from __future__ import annotations

import datetime as dt
import json
import sys
from typing import Any

import click

from tsys.cli._options import bucket_names, data_options, json_option, parse_date, pass_on
from tsys.errors import EXIT_CODES

_EXIT_TABLE = "\n".join(f"  {code:>2}  {text}" for code, text in EXIT_CODES.items())


@click.command(
    name="run-daily",
    epilog="\b\nExit codes (for schedulers):\n" + _EXIT_TABLE,
)
@click.option(
    "--as-of",
    callback=parse_date,
    metavar="DATE",
    help="Day to run for (default: the latest complete session / UTC day).",
)
@click.option(
    "--demo",
    is_flag=True,
    help="Use the built-in synthetic market (offline; clearly labelled synthetic).",
)
@data_options
@click.option(
    "--buckets",
    metavar="A,B",
    default=None,
    callback=bucket_names,
    help="Only these buckets (default: every enabled bucket).",
)
@click.option("--dry-run", is_flag=True, help="Compute and show; write, send and order nothing.")
@click.option(
    "--force", is_flag=True, help="Recompute a day even when a finished run has the same inputs."
)
@click.option(
    "--paper/--no-paper",
    default=None,
    help="Place paper orders through the configured broker (default: [broker] enabled).",
)
@click.option(
    "--send/--no-send",
    default=True,
    show_default=True,
    help="Send the newsletter through the configured notifiers.",
)
@click.option(
    "--params",
    "params_files",
    multiple=True,
    type=click.Path(dir_okay=False),
    metavar="FILE",
    help="Parameters file for the bucket it names (e.g. from tsys optimize; repeatable). "
    "Default per bucket: [buckets.NAME] params_file (relative to the data dir), else "
    "<data dir>/params/NAME.json, else the defaults shipped with the bucket.",
)
@click.option(
    "--param",
    "param_items",
    multiple=True,
    metavar="[BUCKET.]KEY=VALUE",
    help="Override one bucket parameter (repeatable); BUCKET. may be left out when "
    "--buckets names one bucket.",
)
@json_option("Print the run as JSON for scripts.")
@click.pass_context
def run_daily(ctx: click.Context, **opts: Any) -> None:
    """Produce today's signals, sizes and trade plans for every enabled bucket.

    Loads data through the configured source (or the demo market), runs each bucket on the
    latest close, sizes positions with the portfolio limits and the positions you already hold,
    and writes runs/<as-of>/ under the data dir (under <data dir>/demo/ for the demo market):
    run.json, signals.csv, plans.csv, summary.txt and the newsletter.

    A day is done when every stage is (artifacts, paper orders, newsletter, hooks, the store's
    index; state.json records them). Running a done day again reuses it when its inputs
    (configuration, buckets, parameters) match, and recomputes it otherwise, keeping the earlier
    run in runs/<as-of>/history/. Running a day that is not done (killed, a failed send, a
    store that refused the index) finishes its pending stages: no second email to a notifier
    that got it, no duplicate order.

    \b
    Examples:
      tsys run-daily --demo                      # try it on synthetic data
      tsys run-daily --shared-data ~/data --dry-run
      tsys run-daily --as-of 2024-06-28 --dry-run
      tsys run-daily --buckets sp500 --json
      tsys run-daily --buckets sp500 --params best.json --param atr_stop=4
    """
    from tsys.cli import load_config
    from tsys.daily.pipeline import STAGES
    from tsys.daily.pipeline import run_daily as _run
    from tsys.paramsets import ParamChoices

    config = data_for_run(
        load_config(ctx), **pass_on(opts, "demo", "source", "path", "shared_data")
    )
    names = opts["buckets"]  # validated by bucket_names: a list of installed buckets, or None
    options = pass_on(opts, "as_of", "demo", "buckets", "dry_run", "force", "paper", "send")
    options["params"] = ParamChoices.from_cli(opts["params_files"], opts["param_items"], names)
    if opts["as_json"] or not sys.stderr.isatty():
        outcome = _run(config, **options)
    else:
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        console = Console(stderr=True)
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as bar:
            task = bar.add_task("starting", total=len(STAGES))

            def progress(stage: str, message: str) -> None:
                bar.update(
                    task, completed=STAGES.index(stage), description=f"[bold]{stage}[/] {message}"
                )

            outcome = _run(config, **options, progress=progress)
            bar.update(task, completed=len(STAGES))
    _report(outcome, opts["as_json"])
    ctx.exit(outcome.exit_code)


#: What a run says when it would use the demo market without being asked for it.
NO_SOURCE = (
    "no data source is configured, so this run would use the synthetic demo market; "
    "a daily run uses it only when asked for"
)
NO_SOURCE_HINT = """three ways forward:
  1. write a configuration for real data (then run again):
       tsys config init --preset alpaca-crypto   # Alpaca crypto bars, no keys needed
       tsys config init --preset alpaca          # + stocks (ALPACA_API_KEY/SECRET)
       tsys config init --preset csv             # a folder of per-symbol files you keep
  2. choose the data for this run: --source NAME, --path DIR (csv) or --shared-data DIR
  3. run the synthetic demo on purpose: tsys run-daily --demo (or source = "demo")"""


def data_for_run(
    config: Any, demo: bool, source: str | None, path: Any, shared_data: str | None
) -> Any:
    """The configuration a daily run reads its data from; refuses the demo market unless it
    was asked for (``--demo``, ``--source demo`` or ``source = "demo"``)."""
    from tsys.cli._options import choose_data
    from tsys.errors import ConfigError

    if demo and (source is not None or path is not None or shared_data is not None):
        raise ConfigError("--demo already chooses the data; drop --source/--path/--shared-data")
    config = choose_data(config, source, path, shared_data)
    if not demo and config.data.source == "demo" and not config.data.source_given:
        raise ConfigError(NO_SOURCE, hint=NO_SOURCE_HINT)
    return config


def _report(outcome: Any, as_json: bool) -> None:
    from tsys.serialization import unstructure

    run = outcome.run
    if as_json:
        click.echo(
            json.dumps(
                {
                    "as_of": run.as_of.isoformat() if run else None,
                    "run_dir": str(outcome.run_dir),
                    "already_ran": outcome.already_ran,
                    "dry_run": outcome.dry_run,
                    "finished": list(outcome.finished),
                    "pending": list(outcome.pending),
                    "exit_code": outcome.exit_code,
                    "messages": outcome.messages,
                    "run": unstructure(run) if run else None,
                },
                indent=2,
                sort_keys=True,
            )
        )
        return
    for m in outcome.messages:
        click.secho(m, fg="yellow", err=True)
    if run is None:
        return
    print_run(run)
    if not outcome.dry_run and not outcome.already_ran:
        click.echo(f"\nartifacts: {outcome.run_dir}")
    for d in run.deliveries:
        color = None if d.ok else "red"
        click.secho(f"{d.plugin}: {'ok' if d.ok else 'FAILED'} - {d.detail}", fg=color)


def print_run(run: Any) -> None:
    """The day's table per bucket, readable in 80 columns: ids, symbols, quantities and
    amounts are never cut (the reason wraps; the entry and score columns go first when the
    terminal is narrow)."""
    import textwrap

    from rich.console import Console
    from rich.markup import escape

    from tsys import format as fmt
    from tsys.cli._table import Column, fit_table, terminal_width

    width = max(80, terminal_width())
    console = Console(width=width, highlight=False)
    title = f"tsys {run.as_of.isoformat()}"
    if run.synthetic_data:
        console.print("[reverse yellow] SYNTHETIC DEMO DATA — not real prices [/]")
    equity = run.portfolio.account_equity if run.portfolio else None
    columns = (
        Column("act"),
        Column("symbol"),
        Column("qty", "right"),
        Column("$", "right"),
        Column("%", "right", drop=3),
        Column("entry", drop=2),
        Column("stop", "right"),
        Column("score", "right", drop=1),
        Column("why", wrap=True, min_width=20),
    )
    for br in run.buckets:
        head = f"{title} · {br.bucket} v{br.version} · as of {br.as_of}"
        if br.regime:
            head += f" · {br.regime}"
        if br.validated is False:
            head += " · NOT VALIDATED"
        console.print(f"[bold]{escape(head)}[/]", soft_wrap=True)
        if br.param_set:  # the header names the parameter set: file, hash and digest, uncut
            console.print(escape(br.param_set["label"]), soft_wrap=True)
        if br.error:
            console.print(f"  [red]FAILED: {escape(br.error)}[/]")
            continue
        rows = []
        for p in br.plans:
            a = p.allocation
            ac = a.signal.asset_class.value
            stop = (
                "" if p.stop is None or p.stop.price is None else fmt.price(p.stop.price, symbol="")
            )
            qty, size = fmt.quantity(a.quantity, ac), fmt.number(a.dollars)
            pct = f"{a.weight:.1%}" if equity else ""
            if p.action.value == "watch":
                qty = size = pct = "-"
            # The reason for the plan's own action comes first (exit, entry, constraint).
            why = a.signal.rationale[0] if a.signal.rationale else ""
            names = [c.name for c in a.constraints if c.name not in why]
            if names and p.action.value != "watch":
                why = f"{why}; capped: {', '.join(names)}" if why else ", ".join(names)
            rows.append(
                [p.action.value.upper(), a.signal.symbol, qty, size, pct, p.entry.value, stop,
                 f"{a.signal.score:.2f}", why]
            )  # fmt: skip
        if not rows:
            rows.append(["-", "no action today", "", "", "", "", "", "", ""])
        table, print_width, left_out = fit_table(columns, rows, width=width, pad_edge=False)
        Console(width=print_width, highlight=False).print(table)
        if left_out:
            console.print(f"  ({', '.join(left_out)} left out to fit; `tsys runs show --json`)")
        for b in br.blockers[:10]:
            # Whole words on every line, however long the headline in the reason.
            text = textwrap.fill(
                f"avoid {b.symbol}: {b.reason}",
                width=width - 2,
                initial_indent="  ",
                subsequent_indent="      ",
                break_long_words=False,
                break_on_hyphens=False,
            )
            console.print(escape(text).replace("avoid", "[magenta]avoid[/]", 1), soft_wrap=True)
        if len(br.blockers) > 10:
            console.print(f"  ... and {len(br.blockers) - 10} more to avoid (see run.json)")
    for w in run.warnings:
        console.print(f"[yellow]warning:[/] {escape(w)}")


@click.group(name="runs")
def runs() -> None:
    """Browse earlier daily runs (runs/<as-of>/ under the data dir)."""


@runs.command(name="list")
@json_option()
@click.pass_context
def runs_list(ctx: click.Context, as_json: bool) -> None:
    """List the days that ran, newest last, with their plans and any stage still pending."""
    from tsys.cli import load_config
    from tsys.daily.state import run_summary
    from tsys.errors import TsysError
    from tsys.store.runs import list_runs
    from tsys.workspace import SYNTHETIC_LABEL, workspace

    config = load_config(ctx)
    ws = workspace(config)
    rows = []
    for d in list_runs(ws.runs_dir):
        try:
            row = run_summary(ws.runs_dir, d)
        except TsysError as exc:
            # one damaged day must not hide the others (issue 21.15)
            click.echo(f"warning: the {d.isoformat()} run cannot be read: {exc.message}", err=True)
            continue
        rows.append({**row, "path": str(ws.run_dir(d))})
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo(f"no runs yet in {ws.runs_dir}; try `tsys run-daily --demo`")
        return
    for r in rows:
        flag = f" ({SYNTHETIC_LABEL})" if r["synthetic"] else ""
        failed = f"  FAILED: {', '.join(r['failed'])}" if r["failed"] else ""
        pending = f"  NOT DONE: {', '.join(r['pending'])} pending" if r["pending"] else ""
        click.echo(
            f"{r['as_of']}  {r['buys']:>3} buy  {r['sells']:>3} sell  "
            f"{r['plans']:>3} plans  {', '.join(r['buckets'])}{flag}{failed}{pending}"
        )


@runs.command(name="show")
@click.argument("as_of", required=False, callback=parse_date)
@json_option("Print run.json.")
@click.pass_context
def runs_show(ctx: click.Context, as_of: dt.date | None, as_json: bool) -> None:
    """Show one run (default: the latest)."""
    from tsys.cli import load_config
    from tsys.errors import DataError
    from tsys.serialization import dumps
    from tsys.store.runs import latest_run, load_run
    from tsys.workspace import workspace

    config = load_config(ctx)
    runs_dir = workspace(config).runs_dir
    as_of = as_of or latest_run(runs_dir)
    if as_of is None:
        raise DataError("no runs yet", hint="run `tsys run-daily --demo` first")
    run = load_run(runs_dir, as_of)
    if as_json:
        click.echo(dumps(run))
    else:
        print_run(run)
