"""Every pluggy hook specification of tsys.

Contribution hooks take a ``register`` callback so the core owns names, duplicates and order.
Hooks are called with keyword arguments only; an implementation may accept fewer arguments than
its spec, so a spec can grow without breaking plugins. Never remove a spec argument: retire a
hook with ``warn_on_impl`` instead. Each hook has a heading in ``docs/plugins.md``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:  # names for the annotations only: the specs sit below what they name
    import cattrs
    import click

    from tsys.brokers import Broker
    from tsys.buckets import Bucket
    from tsys.contracts import DailyRun
    from tsys.data.source import DataSource
    from tsys.notifiers import Notifier

hookspec = pluggy.HookspecMarker("tsys")
hookimpl = pluggy.HookimplMarker("tsys")


@hookspec
def register_buckets(register: Callable[[Bucket], None]) -> None:
    """Register strategy buckets.

    Parameters
    ----------
    register
        Call ``register(bucket)`` with an object implementing :class:`tsys.buckets.Bucket`
        (a unique ``name``, ``asset_class``, ``version``, ``Params``, ``universe``,
        ``compute`` and ``explain``).
    """


@hookspec
def register_data_sources(register: Callable[[type[DataSource]], None]) -> None:
    """Register data sources.

    Parameters
    ----------
    register
        Call ``register(source_class)`` with a subclass of :class:`tsys.data.DataSource`: a
        unique ``name`` and a ``from_config(options, ctx)`` class method.
    """


@hookspec
def register_brokers(register: Callable[[type[Broker]], None]) -> None:
    """Register brokers.

    Parameters
    ----------
    register
        Call ``register(broker_class)`` with a subclass of :class:`tsys.brokers.Broker`: a unique
        ``name`` and a ``from_config(options, ctx)`` class method.
    """


@hookspec
def register_notifiers(register: Callable[[type[Notifier]], None]) -> None:
    """Register notifiers that deliver the daily newsletter.

    Parameters
    ----------
    register
        Call ``register(notifier_class)`` with a subclass of :class:`tsys.notifiers.Notifier`:
        a unique ``name`` and a ``from_config(options, ctx)`` class method.
    """


@hookspec
def register_commands(cli: click.Group) -> None:
    """Add commands to the ``tsys`` command line.

    Parameters
    ----------
    cli
        The top-level :class:`click.Group`; use ``@cli.command()`` or ``cli.add_command``.
    """


@hookspec
def register_converter_hooks(converter: cattrs.Converter) -> None:
    """Teach the tsys JSON converter about a plugin's own types.

    Parameters
    ----------
    converter
        The private :class:`cattrs.Converter` of :mod:`tsys.serialization`; register structure
        and unstructure hooks on it. Never touch the global cattrs converter.
    """


@hookspec
def after_daily_run(run: DailyRun) -> None:
    """React to a finished daily run (an event; the return value is ignored).

    Parameters
    ----------
    run
        The :class:`tsys.contracts.DailyRun` just written to disk.
    """


@hookspec
def newsletter_sections(run: DailyRun) -> list[dict[str, str]] | None:
    """Add sections to the daily newsletter.

    Parameters
    ----------
    run
        The :class:`tsys.contracts.DailyRun` the newsletter is about.

    Returns
    -------
    list of dict or None
        Each section is ``{"title": ..., "html": ..., "text": ...}``; ``html`` is escaped
        unless it is wrapped in :class:`markupsafe.Markup`.
    """
