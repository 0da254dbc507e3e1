"""``tsys schedule``: crontab / systemd text, and a foreground loop."""

from __future__ import annotations

from pathlib import Path

import click


@click.group(name="schedule")
def schedule() -> None:
    """Run tsys after every close: print a crontab line or a systemd timer, or loop here.

    Times come from [schedule] in tsys.toml (default: 16:30 America/New_York on NYSE sessions;
    crypto buckets at 00:30 UTC on days that are not sessions).
    """


@schedule.command(name="show")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["cron", "systemd", "both"]),
    default="both",
    show_default=True,
)
@click.option(
    "--env-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="KEY=value file with the secrets (API keys, SMTP password) the scheduled run reads "
    "(default: tsys.env beside the user configuration).",
)
@click.pass_context
def schedule_show(ctx: click.Context, fmt: str, env_file: Path | None) -> None:
    """Print a ready crontab block and/or systemd service + timer for this machine.

    Cron and systemd start in another folder with an empty environment, so every line pins
    what this shell resolves now: the absolute --config file, the working directory, the data
    dir (TSYS_DATA_DIR) and a secrets file (EnvironmentFile=). `tsys config path` shows where
    the configuration was found.
    """
    from tsys.cli import load_config
    from tsys.daily.schedule import Invocation, Schedule

    config = load_config(ctx)
    sched = Schedule(config)
    inv = Invocation.for_config(config, env_file=env_file)
    if not inv.config_found:
        click.echo(
            f"warning: no configuration file found; the schedule names {inv.config_file}, "
            "which must exist before it runs (`tsys config path` shows the search)",
            err=True,
        )
    if fmt in ("cron", "both"):
        click.echo(sched.crontab(inv))
    if fmt == "both":
        click.echo("")
    if fmt in ("systemd", "both"):
        click.echo(sched.systemd(inv))


@schedule.command(name="run")
@click.option("--once", is_flag=True, help="Fire the next scheduled run only, then exit.")
@click.option(
    "--now",
    "fire_now",
    is_flag=True,
    help="Do not wait: run what the current moment calls for, then exit.",
)
@click.pass_context
def schedule_run(ctx: click.Context, once: bool, fire_now: bool) -> None:
    """Stay in the foreground and run at the scheduled times (Ctrl-C stops).

    Non-sessions are skipped for equities; a failed run is logged and the loop goes on.
    """
    import datetime as dt
    import logging

    from tsys.cli import load_config
    from tsys.daily.pipeline import run_daily
    from tsys.daily.schedule import Fire, fire_once, run_loop

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    config = load_config(ctx)
    if fire_now:
        now = dt.datetime.now(dt.UTC)
        for kind in ("equity", "crypto"):
            click.echo(fire_once(Fire(now, kind), config, run_daily))
        return
    try:
        run_loop(config, runner=run_daily, max_fires=1 if once else None, echo=click.echo)
    except KeyboardInterrupt:
        click.echo("stopped")
