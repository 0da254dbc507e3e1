"""The ``tsys`` command line: one click group, lazy subcommands, one error boundary.

Subcommand modules are imported only when used, and keep heavy imports (pandas, numpy, optuna)
inside their functions so ``tsys --help`` starts fast. Every :class:`~tsys.errors.TsysError`
becomes a clean message and its exit code here; ``--debug`` adds the traceback.
"""

from __future__ import annotations

import importlib
import os
import sys
import traceback
from typing import Any

import click

from tsys import __version__
from tsys.cli._options import file_option
from tsys.errors import StoreError, TsysError

#: Modules whose exceptions are database failures (peewee and the drivers under it).
_DATABASE_MODULES = frozenset({"peewee", "sqlite3", "psycopg2", "psycopg2.errors"})

#: name -> (module, attribute, short help). Help is here so ``--help`` imports nothing.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "run-daily": ("tsys.cli.run_daily", "run_daily", "Produce today's signals, sizes and plans."),
    "runs": ("tsys.cli.run_daily", "runs", "Browse earlier daily runs."),
    "schedule": ("tsys.cli.schedule", "schedule", "Run tsys every session (cron, systemd, loop)."),
    "backtest": ("tsys.cli.backtest", "backtest", "Backtest a bucket with realistic fills."),
    "optimize": ("tsys.cli.optimize", "optimize", "Tune a bucket's parameters with Optuna."),
    "research": (
        "tsys.cli.research",
        "research",
        "Walk-forward research of a bucket against simple anchors.",
    ),
    "ml": ("tsys.cli.ml", "ml", "Meta-labelling: train, judge and report a bucket's model."),
    "validate": (
        "tsys.cli.validate",
        "validate",
        "Validate a bucket out of sample and under stress.",
    ),
    "trades": ("tsys.cli.trades", "trades", "Keep the positions you manage by hand."),
    "portfolio": (
        "tsys.cli.portfolio",
        "portfolio",
        "One view of system, paper and manual positions.",
    ),
    "override": (
        "tsys.cli.override",
        "override",
        "Block, cap or pause by hand, with an expiry and a history.",
    ),
    "paper": ("tsys.cli.paper", "paper", "Paper trading: orders, reconciliation, report."),
    "newsletter": (
        "tsys.cli.newsletter",
        "newsletter",
        "Preview or (re)send the daily newsletter.",
    ),
    "dashboard": (
        "tsys.cli.dashboard",
        "dashboard",
        "The local web dashboard: plan, portfolio, paper, trades, research.",
    ),
    "data": ("tsys.cli.data", "data", "Inspect and validate market data."),
    "config": ("tsys.cli.config", "config", "Show or create the configuration."),
    "plugins": ("tsys.cli.plugins", "plugins", "List installed plugins and what they provide."),
    "plugin": ("tsys.cli.plugins", "plugin", "Write a new plugin package (plugin new)."),
}


class TsysGroup(click.Group):
    """A group that loads subcommands lazily and adds plugins' commands."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._plugins_loaded = False

    def _load_plugin_commands(self) -> None:
        if self._plugins_loaded:
            return
        self._plugins_loaded = True
        from tsys.plugins import call_hook

        call_hook("register_commands", contain=False, cli=self)

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._load_plugin_commands()
        return sorted(set(COMMANDS) | set(self.commands))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in COMMANDS:
            modname, attr, _ = COMMANDS[cmd_name]
            try:
                module = importlib.import_module(modname)
            except ModuleNotFoundError as exc:
                if exc.name != modname:
                    raise
                return None
            return getattr(module, attr)
        self._load_plugin_commands()
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        self._load_plugin_commands()
        rows = [(name, COMMANDS[name][2]) for name in sorted(COMMANDS)]
        rows += [
            (name, cmd.get_short_help_str(60))
            for name, cmd in sorted(self.commands.items())
            if name not in COMMANDS
        ]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> Any:
        from tsys import redact

        streams = sys.stdout, sys.stderr
        redact.install()
        try:
            return super().invoke(ctx)
        except TsysError as exc:
            if ctx.find_root().params.get("debug"):
                traceback.print_exc()
            err = click.ClickException(redact.scrub(str(exc)))
            err.exit_code = exc.exit_code
            raise err from exc
        except Exception as exc:
            if type(exc).__module__ not in _DATABASE_MODULES:
                raise
            # A database that fails under a command (read-only file, disk full, dropped
            # connection) is a store failure with a message, not a traceback (issue 21.11).
            if ctx.find_root().params.get("debug"):
                traceback.print_exc()
            from tsys.store import is_read_only

            what = "the store is read-only" if is_read_only(exc) else "the database failed"
            err = click.ClickException(
                redact.scrub(
                    f"{what}: {type(exc).__name__}: {exc}\n  hint: check the "
                    "store (`tsys config path` shows the data dir; TSYS_DATABASE_URL if set)"
                )
            )
            err.exit_code = StoreError.exit_code
            raise err from exc
        finally:
            sys.stdout, sys.stderr = streams


CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@click.group(cls=TsysGroup, context_settings=CONTEXT_SETTINGS)
@click.version_option(__version__, "--version", prog_name="tsys")
@file_option(
    "--config",
    "config_path",
    help="Configuration file (default: ./tsys.toml, then the user config dir).",
)
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.option(
    "--strict-plugins",
    is_flag=True,
    help="Fail when a plugin cannot be loaded instead of skipping it.",
)
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, debug: bool, strict_plugins: bool) -> None:
    """tsys: what to buy, sell or watch after each close, how much, and why.

    \b
    Start here:
      tsys run-daily --demo        today's plan on the built-in synthetic market
      tsys config init             write a commented starter tsys.toml
      tsys plugins                 what is installed
    """
    from tsys import plugins

    if strict_plugins:
        plugins.set_strict(True)
        plugins.reset_plugin_manager()
    ctx.ensure_object(dict)
    ctx.obj["config_path"] = config_path or ctx.obj.get("config_path")
    ctx.obj["debug"] = debug


def load_config(ctx: click.Context | None = None):
    """The effective configuration for the current command."""
    from tsys.config import load_config as _load

    ctx = ctx or click.get_current_context()
    obj = ctx.find_root().obj or {}
    return _load(obj.get("config_path"))


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    from tsys import redact

    redact.install()  # also covers click's own messages and a traceback (exit 1)
    try:
        cli.main(args=argv, prog_name="tsys")
    except KeyboardInterrupt:  # pragma: no cover - interactive only
        click.echo("interrupted", err=True)
        sys.exit(130)


if __name__ == "__main__":  # pragma: no cover
    main(os.sys.argv[1:])
