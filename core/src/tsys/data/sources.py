"""Open configured data sources by name: the one place the daily run, backtests, optimisation,
validation and the CLI open them (:func:`open_hub`, :func:`open_source`)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import attrs

from tsys.data.source import DataHub, DataSource, SourceContext
from tsys.errors import ConfigError, TsysError


def source_options(name: str, config: Any, *, path: Any = None) -> dict[str, Any]:
    """The options a source gets: ``[data.options.<name>]``, plus the csv folder and demo seed."""
    options = dict((config.data.options or {}).get(name, {})) if config is not None else {}
    if name == "csv":
        if path:
            options["path"] = (
                [str(p) for p in path] if isinstance(path, list | tuple) else str(path)
            )
        elif "path" not in options and config is not None and config.data.path:
            options["path"] = config.data.path
    if name == "demo" and "seed" not in options and config is not None:
        options["seed"] = config.data.demo_seed
    return options


def make_context(
    config: Any, *, cache_dir: Path | None = None, name: str = "", source: str | None = None
) -> SourceContext:
    """A source context whose cache is ``<workspace>/cache[/<name>]``.

    The workspace is the demo sandbox when the bars come from the demo market: ``source``
    (the hub's primary source), else ``name`` (a source opened on its own), else the config's.
    """
    if cache_dir is None:
        if config is not None:
            from tsys.workspace import workspace

            base = workspace(config, source=source or name or None).cache_dir
        else:
            base = Path.cwd() / ".tsys" / "cache"
        cache_dir = base / name if name else base
    strict = bool(config.data.strict) if config is not None else False
    return SourceContext(cache_dir=Path(cache_dir), strict=strict, config=config)


def open_source(
    name: str,
    config: Any,
    *,
    path: Any = None,
    cache_dir: Path | None = None,
    ctx: SourceContext | None = None,
) -> DataSource:
    """Build the registered data source ``name`` from the configuration.

    Parameters
    ----------
    name
        A registered source ("demo", "csv", or a plugin's).
    config
        The effective :class:`~tsys.config.Config` (options come from ``data.options[name]``).
    path
        For csv: a folder (or list of folders) overriding the configured one.
    cache_dir
        Cache folder of the source (default ``<data dir>/cache/<name>``).
    ctx
        A context to share (its warnings collect everything the sources say).
    """
    from tsys.plugins import data_sources, plugin_safe

    registry = data_sources()
    cls = registry.get(name)
    if ctx is None:
        ctx = make_context(config, cache_dir=cache_dir, name=name)
    shared = getattr(getattr(config, "data", None), "shared_data", None)
    if name == "csv" and path is None and shared:
        # ``[data] shared_data`` (or --shared-data): the research layout through csv
        return _shared_data_source(shared, ctx)
    options = source_options(name, config, path=path)
    owner = registry.owner(name)
    if owner.startswith("tsys."):
        # Built-ins raise TsysErrors of their own (ConfigError for a missing folder): keep them.
        return cls.from_config(options, ctx)
    return plugin_safe(owner, cls.from_config)(options, ctx)


def open_hub(
    config: Any,
    *,
    source: str | None = None,
    path: Any = None,
    shared_data: str | Path | None = None,
    extras: bool = True,
    as_of: dt.date | None = None,
    cache_dir: Path | None = None,
    ctx: SourceContext | None = None,
) -> DataHub:
    """The data hub of a run: a primary source plus every installed ``data.extra_sources``.

    The one place a configured data source is opened (the daily run, backtests, optimisation,
    validation and the CLI call it).

    Parameters
    ----------
    config
        The effective :class:`~tsys.config.Config`.
    source
        The primary source by name (default ``data.source``): ``--source``.
    path
        For csv: a folder (or list of folders) overriding the configured one: ``--path``. Any
        other source refuses it.
    shared_data
        A folder in the ``shared/data`` layout read as the csv source (``--shared-data``); it
        replaces ``source`` and ``path``.
    extras
        Open ``data.extra_sources`` too (the daily run); backtests read the primary only, plus
        the extra sources whose data is a local recorded history (``DataSource.recorded``, e.g.
        the options-flow alerts a plugin keeps in the store): no network, and the only history
        there is.
    as_of
        The run's as-of date, handed to the sources through the context.
    cache_dir
        Cache root (default ``<data dir>/cache``); each source gets its own folder in it.
    ctx
        A context to share (its warnings collect everything the sources say).

    An extra source that is not installed, or fails to start, is skipped with a warning in
    ``ctx.warnings`` rather than stopping the run; a broken primary source is an error.
    """
    from tsys.plugins import data_sources

    if ctx is None:
        primary = "csv" if shared_data is not None else (source or config.data.source)
        ctx = make_context(config, cache_dir=cache_dir, source=primary)
    if as_of is not None:
        ctx.as_of = as_of
    base = Path(cache_dir) if cache_dir is not None else None
    if shared_data is not None:
        main: DataSource = _shared_data_source(shared_data, _sub(ctx, base, "csv"))
        name = "csv"
    else:
        name = source or config.data.source
        if path is not None and name != "csv":
            raise ConfigError(f"--path applies to the csv source, not {name!r}")
        main = open_source(name, config, path=path, ctx=_sub(ctx, base, name))
    others: list[DataSource] = []
    for extra in config.data.extra_sources:
        if extra == name:
            continue
        if not extras and not (
            extra in data_sources() and getattr(data_sources().get(extra), "recorded", False)
        ):
            continue  # research reads the primary only, plus recorded histories
        if extra not in data_sources():
            ctx.warn(
                f"extra data source {extra!r} is not installed; running without it "
                f"(installed: {', '.join(data_sources().names())})"
            )
            continue
        try:
            others.append(open_source(extra, config, ctx=_sub(ctx, base, extra)))
        except TsysError as exc:
            ctx.warn(f"extra data source {extra!r} failed to start: {exc}; running without it")
    return DataHub(main, others, ctx)


def _shared_data_source(root: str | Path, ctx: SourceContext) -> DataSource:
    from tsys.data.csv import CsvSource

    folder = Path(root)
    if not folder.is_dir():
        raise ConfigError(
            f"shared data folder {folder} does not exist",
            hint="pass --shared-data DIR pointing at the folder with equities/ and crypto/",
        )
    return CsvSource.shared_data(folder, ctx=ctx)


def _sub(ctx: SourceContext, base: Path | None, name: str) -> SourceContext:
    """A per-source view of ``ctx``: its own cache folder, the same warnings list."""
    return attrs.evolve(ctx, cache_dir=(base if base is not None else ctx.cache_dir) / name)
