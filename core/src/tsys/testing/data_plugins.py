"""Test support for a data-source plugin over a web API: the source built the way the registry
builds it, pointed at a loopback fake of the service; the located problems of its options; the
source as tsys discovers it from the plugin's entry point.

Test support only: nothing in tsys but :mod:`tsys.testing` imports this module. Use it from a
plugin's ``conftest.py`` (``httpserver`` is pytest-httpserver's fixture, ``FakeService`` the
author's fake with a ``handle(request)`` method)::

    from tsys.testing.data_plugins import served, source_builder

    @pytest.fixture
    def fake(httpserver):
        return served(httpserver, FakeService(), "/api/v1/things")

    @pytest.fixture
    def make_source(httpserver, fake, tmp_path):
        return source_builder(
            MySource, NOW, tmp_path / "cache", base_url=httpserver.url_for("/api/v1")
        )
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any


def served(httpserver: Any, fake: Any, *paths: str | re.Pattern[str]) -> Any:
    """Answer every request for ``paths`` (exact paths or patterns) with ``fake.handle``.

    ``httpserver`` is a :class:`pytest_httpserver.HTTPServer`; returns ``fake``.
    """
    for path in paths:
        httpserver.expect_request(path).respond_with_handler(fake.handle)
    return fake


def source_builder(cls: type, now: dt.datetime, cache_dir: Path, **defaults: Any) -> Callable:
    """A function building ``cls`` as the registry does, its clock fixed.

    ``build(now=now, cache_dir=cache_dir, **options)`` calls ``cls.from_config`` with the
    ``defaults`` updated by ``options`` and a :class:`~tsys.data.source.SourceContext` on
    ``cache_dir``, then sets the source's UTC clock ``now``.
    """
    from tsys.data.source import SourceContext

    def build(now: dt.datetime = now, cache_dir: Path = cache_dir, **options: Any) -> Any:
        src = cls.from_config({**defaults, **options}, SourceContext(cache_dir=cache_dir))
        src.now = lambda: now
        return src

    return build


def option_problems(build: Callable, **options: Any) -> list[str]:
    """The located problems of the :class:`~tsys.errors.ConfigError` ``build(**options)`` raises
    (``"must be ... @ $.data.options.mine.top_n"``), one per line, in the message's order."""
    import pytest

    from tsys.errors import ConfigError

    with pytest.raises(ConfigError) as info:
        build(**options)
    lines = info.value.message.splitlines()[1:]
    assert all(line.startswith("  ") for line in lines), lines
    return [line.removeprefix("  ") for line in lines]


def discovered_source(name: str, *, distribution: str) -> type:
    """The data source ``name`` as tsys discovers it when only its plugin may load.

    Checks what a plugin's packaging promises: ``distribution`` (``tsys-data-mine``) declares
    the ``tsys`` entry point ``data-mine`` = ``tsys_data_mine``, which, alone in
    ``TSYS_LOAD_PLUGINS``, registers the source ``name``. The plugin manager is rebuilt from
    scratch afterwards; returns the registered class.
    """
    from importlib.metadata import entry_points

    import pytest

    from tsys import plugins

    entry_point = distribution.removeprefix("tsys-")
    eps = {ep.name: ep.value for ep in entry_points(group="tsys")}
    assert eps.get(entry_point) == distribution.replace("-", "_"), eps.get(entry_point)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TSYS_LOAD_PLUGINS", entry_point)
        plugins.reset_plugin_manager()
        try:
            registry = plugins.data_sources()
            assert name in registry, registry.names()
            assert registry.owner(name) == entry_point
            return registry.get(name)
        finally:
            plugins.reset_plugin_manager()
