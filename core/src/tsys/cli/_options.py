"""Options and parameter callbacks shared by several commands."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import click

#: The earliest date a command takes (``--as-of``, ``--start``, ``--end``).
FIRST_DAY = dt.date(1900, 1, 1)


def parse_date(ctx: click.Context, param: click.Parameter, value: str | None) -> dt.date | None:
    """Click callback: an ISO date, or None when the option was not given."""
    if value is None:
        return None
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"expected a date like 2019-12-31, got {value!r}") from None
    if day < FIRST_DAY:
        # Year 1 overflows pandas' timestamps; nothing tsys reads goes back that far.
        raise click.BadParameter(f"{value} is before {FIRST_DAY.isoformat()}; check the year")
    return day


def _known(kind: str, value: str, names: list[str]) -> str:
    if value in names:
        return value
    import difflib

    close = difflib.get_close_matches(value, names, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise click.BadParameter(
        f"unknown {kind} {value!r}; known: {', '.join(names) or '(none installed)'}{hint}"
    )


def bucket_name(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """Click callback: an installed bucket's name; anything else is a usage error (exit 2)."""
    if value is None:
        return None
    from tsys import plugins

    return _known("bucket", value, plugins.buckets().names())


def check_bucket_name(ctx: click.Context, value: str) -> str:
    """:func:`bucket_name` from a command's body (a usage error names the BUCKET argument)."""
    param = next((p for p in ctx.command.params if p.name == "bucket_name"), None)
    try:
        return bucket_name(ctx, param, value)  # type: ignore[arg-type, return-value]
    except click.BadParameter as exc:
        exc.ctx, exc.param = ctx, param
        raise


def bucket_names(ctx: click.Context, param: click.Parameter, value: str | None) -> list[str] | None:
    """Click callback: ``A,B`` as a list of installed bucket names (None: not given)."""
    if value is None:
        return None
    names = [b.strip() for b in value.split(",") if b.strip()]
    if not names:
        raise click.BadParameter("name at least one bucket, e.g. --buckets sp500")
    return [bucket_name(ctx, param, n) for n in names]  # type: ignore[misc]


def source_name(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """Click callback: an installed data source's name; anything else is a usage error."""
    if value is None:
        return None
    from tsys import plugins

    return _known("data source", value, plugins.data_sources().names())


def file_option(*decls: str, help: str) -> Callable[..., Any]:
    """An option naming one file to read or write (a string; None when not given)."""
    return click.option(*decls, type=click.Path(dir_okay=False), default=None, help=help)


#: An amount of money in USD, above zero.
AMOUNT = click.FloatRange(min=0, min_open=True)


def amount_option(*decls: str, help: str) -> Callable[..., Any]:
    """An option giving an amount of money (:data:`AMOUNT`; None when not given)."""
    return click.option(*decls, type=AMOUNT, default=None, help=help)


def json_option(help: str = "Print JSON for scripts.") -> Callable[..., Any]:
    """``--json`` (``as_json``): print the command's result as JSON instead of a table."""
    return click.option("--json", "as_json", is_flag=True, help=help)


#: What a study may maximise (:data:`tsys.optimize.evaluate.OBJECTIVES`, which imports numpy).
OBJECTIVES = ["sharpe", "cagr", "calmar"]


def objective_option(help: str) -> Callable[..., Any]:
    """``--objective`` of ``tsys optimize`` and ``tsys research``: what a study maximises."""
    return click.option(
        "--objective", type=click.Choice(OBJECTIVES), default="sharpe", show_default=True, help=help
    )


def pass_on(opts: dict[str, Any], *names: str) -> dict[str, Any]:
    """The options ``names`` of a command's ``**opts``, to pass on as keyword arguments."""
    return {name: opts[name] for name in names}


def _paths(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> Any:
    """Click callback: no ``--path`` -> None, one -> that folder, several -> their list."""
    if not value:
        return None
    return value[0] if len(value) == 1 else list(value)


#: The commands that read bars and take :func:`data_options` (the same three options each).
DATA_COMMANDS = ("run-daily", "data", "backtest", "optimize", "validate", "research", "portfolio")


def data_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """``--source``, ``--path`` and ``--shared-data``: where a command reads its bars.

    The same three options, with the same meaning, on every command of :data:`DATA_COMMANDS`;
    :func:`choose_data` applies them to the configuration.
    """
    f = click.option(
        "--shared-data",
        "shared_data",
        type=click.Path(file_okay=False),
        default=None,
        is_flag=False,
        flag_value="../shared/data",
        metavar="[DIR]",
        help="Read the shared real-data layout (equities, crypto, constituents, news) in DIR "
        "(default ../shared/data) through the csv source.",
    )(f)
    f = click.option(
        "--path",
        "path",
        multiple=True,
        type=click.Path(file_okay=False),
        callback=_paths,
        metavar="DIR",
        help="Folder of per-symbol CSV/Parquet files for the csv source (repeat for several; "
        "implies --source csv).",
    )(f)
    return click.option(
        "--source",
        default=None,
        metavar="NAME",
        callback=source_name,
        help="Data source: demo, csv or any installed one (default: [data] source).",
    )(f)


def data_choice(source: str | None, path: Any, shared_data: str | None) -> str | None:
    """Check ``--source/--path/--shared-data`` together; the source they choose (None: the
    configured one). ``--path`` implies csv; ``--shared-data`` replaces both."""
    from tsys.errors import ConfigError

    if shared_data is not None:
        if source is not None or path is not None:
            raise ConfigError("--shared-data already chooses the data; drop --source/--path")
        return "csv"
    if path is not None:
        if source not in (None, "csv"):
            raise ConfigError(
                f"--path applies to the csv source, not {source!r}",
                hint="drop --source, or pass --source csv",
            )
        return "csv"
    return source


def choose_data(config: Any, source: str | None, path: Any, shared_data: str | None) -> Any:
    """``config`` with the data the options choose (unchanged when none is given).

    ``--shared-data DIR`` sets ``[data] source = "csv"`` and ``shared_data = DIR``; ``--path``
    sets the csv folder(s); ``--source`` the source. Everything downstream (the workspace, the
    data hub, the run's record) then reads the configuration as if the file said so.
    """
    import attrs

    chosen = data_choice(source, path, shared_data)
    if chosen is None:
        return config
    data = config.data
    if shared_data is not None:
        from pathlib import Path

        folder = str(Path(shared_data).expanduser().absolute())
        data = attrs.evolve(data, source="csv", shared_data=folder)
    elif path is not None:
        options = {k: dict(v) for k, v in (data.options or {}).items()}
        options.setdefault("csv", {})["path"] = path
        data = attrs.evolve(data, source="csv", shared_data=None, options=options)
    else:
        data = attrs.evolve(data, source=chosen)
    data.source_given = True
    return attrs.evolve(config, data=data)


def param_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """``--params FILE`` and ``--param KEY=VALUE``: the parameter set a command runs with."""
    f = click.option(
        "--param",
        "param_items",
        multiple=True,
        metavar="KEY=VALUE",
        help="Override one bucket parameter (repeatable); checked against its Params.",
    )(f)
    return file_option(
        "--params",
        "params_file",
        help="Parameters file (e.g. from tsys optimize). Default: [buckets.NAME] params_file "
        "(relative to the data dir), else <data dir>/params/NAME.json, else the defaults "
        "shipped with the bucket.",
    )(f)


def bucket_history_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """``BUCKET``, the data and parameter options, ``--start`` and ``--end``: a study over a
    bucket's history (``tsys research``, ``tsys ml train``)."""
    f = click.option("--end", callback=parse_date, help="Last session (default: the data's end).")(
        f
    )
    f = click.option(
        "--start", callback=parse_date, help="First session (default: the data's start)."
    )(f)
    return click.argument("bucket_name", metavar="BUCKET")(data_options(param_options(f)))


def study_period_options(max_symbols_help: str) -> Callable[..., Any]:
    """``--start``, ``--end`` and ``--max-symbols``: the period and panel a study runs on
    (``tsys optimize`` and ``tsys validate``, which must see the same panel)."""

    def decorate(f: Callable[..., Any]) -> Callable[..., Any]:
        f = click.option(
            "--max-symbols", type=click.IntRange(min=1), default=None, help=max_symbols_help
        )(f)
        f = click.option("--end", default=None, help="Last session of the period (YYYY-MM-DD).")(f)
        return click.option(
            "--start", default=None, help="First session of the period (YYYY-MM-DD)."
        )(f)

    return decorate


def open_data(config: Any, source: str | None, path: Any, shared_data: str | None) -> Any:
    """The data hub of a research command (``--source``/``--path``/``--shared-data``)."""
    from tsys.data.sources import open_hub

    source = data_choice(source, path, shared_data)  # refuses --source/--path beside --shared-data
    return open_hub(config, source=source, path=path, shared_data=shared_data, extras=False)


def resolve_cli_params(
    bucket: Any,
    config: Any,
    hub: Any,
    params_file: str | None,
    param_items: tuple[str, ...],
) -> Any:
    """The :class:`~tsys.paramsets.ParamSet` of a command, in the data's namespace."""
    from tsys.paramsets import parse_assignments, resolve_params
    from tsys.workspace import workspace

    return resolve_params(
        bucket,
        config,
        params_file=params_file,
        overrides=parse_assignments(param_items),
        data_home=workspace(config, demo=bool(hub.synthetic)).root,
    )
