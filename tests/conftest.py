"""Cross-package integration fixtures: an isolated data dir and config lookup per test."""

from __future__ import annotations

import contextlib

import pytest

from tsys.hookspecs import hookimpl
from tsys.testing.isolation import isolate, plugins_registered, postgres_schema


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """Run tsys in an empty folder with its own data dir and no user configuration."""
    return isolate(monkeypatch, tmp_path)


@pytest.fixture
def pg_schema():
    """A fresh PostgreSQL schema (name, base URL) in the test database, dropped afterwards."""
    with postgres_schema() as schema:
        yield schema


@pytest.fixture
def register_plugin():
    """Register a plugin object beside the installed ones for one test: ``(obj, name) -> pm``."""
    with contextlib.ExitStack() as stack:
        yield lambda obj, name: stack.enter_context(plugins_registered((name, obj)))


class _RealLikeSource:
    """Registers ``reallike``: the demo generator under another name, NOT labelled synthetic.

    It stands in for a real vendor so that stories about real data run offline.
    """

    @hookimpl
    def register_data_sources(self, register):
        from tsys.data.demo import DemoSource

        class RealLike(DemoSource):
            name = "reallike"
            synthetic = False

        register(RealLike)


@pytest.fixture
def real_like_source(register_plugin):
    """The ``reallike`` source registered for one test."""
    register_plugin(_RealLikeSource(), "reallike-test-plugin")
    return "reallike"
