"""Open configured data sources by name: the one place run-daily, backtests and the CLI use."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tsys.data.source import DataHub, DataSource, SourceContext
from tsys.errors import TsysError


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


def make_context(config: Any, *, cache_dir: Path | None = None, name: str = "") -> SourceContext:
    if cache_dir is None:
        base = config.data_path if config is not None else Path.cwd() / ".tsys"
        cache_dir = Path(base) / "cache" / name if name else Path(base) / "cache"
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
    options = source_options(name, config, path=path)
    owner = registry.owner(name)
    if owner.startswith("tsys."):
        # Built-ins raise TsysErrors of their own (ConfigError for a missing folder): keep them.
        return cls.from_config(options, ctx)
    return plugin_safe(owner, cls.from_config)(options, ctx)


def open_hub(
    config: Any,
    *,
    path: Any = None,
    cache_dir: Path | None = None,
    ctx: SourceContext | None = None,
    primary: str | None = None,
) -> DataHub:
    """The primary source (``data.source``) plus every installed ``data.extra_sources``.

    An extra source that is not installed, or fails to start, is skipped with a warning in
    ``ctx.warnings`` rather than stopping the run; a broken primary source is an error.
    """
    from tsys.plugins import data_sources

    name = primary or config.data.source
    if ctx is None:
        ctx = make_context(config, cache_dir=cache_dir)
    base = Path(cache_dir) if cache_dir is not None else None
    main = open_source(name, config, path=path, ctx=_sub(ctx, base, name))
    extras: list[DataSource] = []
    for extra in config.data.extra_sources:
        if extra == name:
            continue
        if extra not in data_sources():
            ctx.warn(
                f"extra data source {extra!r} is not installed; running without it "
                f"(installed: {', '.join(data_sources().names())})"
            )
            continue
        try:
            extras.append(open_source(extra, config, ctx=_sub(ctx, base, extra)))
        except TsysError as exc:
            ctx.warn(f"extra data source {extra!r} failed to start: {exc}; running without it")
    return DataHub(main, extras, ctx)


def _sub(ctx: SourceContext, base: Path | None, name: str) -> SourceContext:
    """A per-source view of ``ctx``: its own cache folder, the same warnings list."""
    folder = (base if base is not None else ctx.cache_dir) / name
    return SourceContext(
        cache_dir=folder,
        warnings=ctx.warnings,
        strict=ctx.strict,
        config=ctx.config,
        as_of=ctx.as_of,
    )
