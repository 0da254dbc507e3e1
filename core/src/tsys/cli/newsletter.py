"""``tsys newsletter``: preview a run's newsletter, or (re)send it without recomputing the run."""

from __future__ import annotations

import datetime as dt
import json

import click

from tsys.cli._options import json_option


def _as_of(value: dt.datetime | None, ws):
    from tsys.errors import DataError
    from tsys.store.runs import latest_run

    if value is not None:
        return value.date()
    latest = latest_run(ws.runs_dir)
    if latest is None:
        raise DataError(
            f"no daily run in {ws.runs_dir}",
            hint="run `tsys run-daily` (or `tsys run-daily --demo`) first",
        )
    return latest


_AS_OF = click.option(
    "--as-of",
    "as_of",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="The run's as-of date, YYYY-MM-DD (default: the latest run on disk).",
)


@click.group(name="newsletter")
def newsletter() -> None:
    """Preview or (re)send the daily newsletter of a stored run.

    \b
    The newsletter is rendered from runs/<as-of>/run.json in the data dir, so a send that
    failed can be retried without computing the run again:
      tsys newsletter preview --open      write newsletter.html/.txt and open the HTML
      tsys newsletter send                send the latest run with the configured notifiers

    Notifiers are configured as [notifiers.<name>] tables in tsys.toml, e.g. [notifiers.email]
    (the SMTP password comes from TSYS_SMTP_PASSWORD only).
    """


@newsletter.command(name="preview")
@_AS_OF
@click.option("--per-bucket", is_flag=True, help="Also write one newsletter per bucket.")
@click.option("--open", "open_", is_flag=True, help="Open the HTML in the default browser.")
@click.pass_context
def newsletter_preview(
    ctx: click.Context, as_of: dt.datetime | None, per_bucket: bool, open_: bool
) -> None:
    """Render a stored run's newsletter into its run folder and print the HTML's path."""
    from tsys.cli import load_config
    from tsys.report.delivery import newsletter_paths, write_files
    from tsys.report.newsletter import render
    from tsys.store.runs import load_run
    from tsys.workspace import workspace

    config = load_config(ctx)
    ws = workspace(config)
    day = _as_of(as_of, ws)
    run = load_run(ws.runs_dir, day)
    folder = ws.run_dir(day)
    newsletters = render(run)
    if per_bucket:
        newsletters += render(run, per_bucket=True)
    write_files(folder, newsletters)
    for nl in newsletters:
        click.echo(str(newsletter_paths(folder, nl)[0]))
    if open_:
        click.launch(str(newsletter_paths(folder, newsletters[0])[0]))


@newsletter.command(name="send")
@_AS_OF
@click.option(
    "--notifier",
    "names",
    multiple=True,
    metavar="NAME",
    help="Send only with this notifier (repeatable; default: every [notifiers.*] table).",
)
@json_option("Print the delivery results as JSON.")
@click.pass_context
def newsletter_send(
    ctx: click.Context, as_of: dt.datetime | None, names: tuple[str, ...], as_json: bool
) -> None:
    """Send an already produced run's newsletter and record the result in run.json.

    A day whose newsletter could not be sent is not done; once every configured notifier has
    delivered (here or in a run), it is, and running the day again sends nothing more.

    Exits with code 10 (partial failure) when a notifier fails; the run's files are kept and
    the failure, naming the server and its reply, is recorded in run.json.
    """
    from tsys.cli import load_config
    from tsys.daily.state import record_sent_by_hand
    from tsys.errors import PARTIAL_FAILURE_EXIT, ConfigError
    from tsys.report.delivery import configured_notifiers, record_deliveries, send, write_files
    from tsys.report.newsletter import render
    from tsys.serialization import unstructure
    from tsys.store.runs import load_run
    from tsys.workspace import workspace

    config = load_config(ctx)
    ws = workspace(config)
    if not names and not configured_notifiers(config):
        raise ConfigError(
            "no notifier is configured, so there is nothing to send with",
            hint="add a [notifiers.email] table to tsys.toml (see `tsys config init`), "
            "or use `tsys newsletter preview` to read the newsletter",
        )
    day = _as_of(as_of, ws)
    run = load_run(ws.runs_dir, day)
    folder = ws.run_dir(day)
    # The files first: whatever happens to the send, the newsletter is on disk.
    write_files(folder, render(run))
    results = send(run, config, folder, names=list(names) or None)
    record_deliveries(run, folder, results)
    record_sent_by_hand(folder, results, configured_notifiers(config))
    if as_json:
        click.echo(json.dumps([unstructure(r) for r in results], indent=2))
    else:
        for r in results:
            if r.ok:
                click.echo(f"{r.plugin}: {r.detail}")
            else:
                click.secho(f"{r.plugin} FAILED: {r.detail}", fg="red", err=True)
    if any(not r.ok for r in results):
        click.echo(
            f"the failure is recorded in {folder / 'run.json'}; retry with "
            f"`tsys newsletter send --as-of {day.isoformat()}`",
            err=True,
        )
        ctx.exit(PARTIAL_FAILURE_EXIT)
