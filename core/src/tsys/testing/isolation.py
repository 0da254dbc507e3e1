"""Test isolation: an empty folder with its own data dir, a fresh PostgreSQL schema, a clock,
only the plugins a test names.

Test support only: nothing in tsys but :mod:`tsys.testing` imports this module. Use it from
fixtures::

    from tsys.testing.isolation import isolate, postgres_schema

    @pytest.fixture
    def isolated(tmp_path, monkeypatch):
        return isolate(monkeypatch, tmp_path)

    @pytest.fixture
    def pg_schema():
        with postgres_schema() as (name, base_url):
            yield name, base_url
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

if TYPE_CHECKING:
    import pluggy

#: The environment variable naming the PostgreSQL database the tests may create schemas in.
PG_ENV = "TSYS_TEST_POSTGRES_URL"


def isolate(mp: Any, root: Path) -> Path:
    """Run tsys in ``root`` with its own data dir and no user configuration.

    ``mp`` is a :class:`pytest.MonkeyPatch`: the working directory, ``TSYS_DATA_DIR`` (under
    ``root``), the XDG folders (under ``root``) and the removed ``TSYS__*``, ``TSYS_CONFIG`` and
    ``TSYS_DATABASE_URL`` variables come back when it is undone. Returns ``root``.
    """
    mp.chdir(root)
    mp.setenv("TSYS_DATA_DIR", str(root / "data"))
    mp.setenv("XDG_CONFIG_HOME", str(root / "xdg-config"))
    mp.setenv("XDG_DATA_HOME", str(root / "xdg-data"))
    for key in list(os.environ):
        if key.startswith("TSYS__") or key in ("TSYS_CONFIG", "TSYS_DATABASE_URL"):
            mp.delenv(key)
    return root


def search_path_url(base: str, schema: str, *settings: str) -> str:
    """``base`` with ``options=-csearch_path=<schema>`` (and any more ``-c`` settings)."""
    opts = " ".join([f"-csearch_path={schema}", *(f"-c{s}" for s in settings)])
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options={quote(opts)}"


def postgres_url() -> str:
    """The test database's URL (``TSYS_TEST_POSTGRES_URL``).

    Without it the calling test is skipped, or fails when ``CI`` is set (CI must test
    PostgreSQL).
    """
    import pytest

    base = os.environ.get(PG_ENV)
    if not base:
        if os.environ.get("CI"):
            pytest.fail(f"{PG_ENV} is not set, and CI must test PostgreSQL")
        pytest.skip(f"{PG_ENV} is not set (e.g. postgresql://postgres@127.0.0.1:5432/test)")
    return base


@contextlib.contextmanager
def postgres_schema(prefix: str = "tsys_t") -> Iterator[tuple[str, str]]:
    """A fresh schema ``<prefix>_<random>`` in the test database: (name, base URL).

    The schema is dropped afterwards; the test database comes from :func:`postgres_url`.
    """
    base = postgres_url()
    import psycopg2

    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    conn = psycopg2.connect(base)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'CREATE SCHEMA "{name}"')
    try:
        yield name, base
    finally:
        with conn.cursor() as cur:
            cur.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
        conn.close()


def pin_clock(mp: Any, now: dt.datetime, *sources: type) -> None:
    """Give every source of these classes that ``from_config`` builds the clock ``now``.

    For sources with a replaceable UTC clock ``now`` (:class:`~tsys.api.ApiSource`): a past
    as-of day is then answered as on the day after it. ``mp`` is a :class:`pytest.MonkeyPatch`.
    """
    for cls in sources:
        mp.setattr(cls, "from_config", _clocked(cls, now))


def _clocked(cls: type, now: dt.datetime) -> classmethod:
    original = cls.from_config.__func__

    def build(klass, options, ctx):
        src = original(klass, options, ctx)
        src.now = lambda: now
        return src

    return classmethod(build)


@contextlib.contextmanager
def plugins_registered(
    *named: tuple[str, object], load_entrypoints: bool = True
) -> Iterator[pluggy.PluginManager]:
    """Make the built-ins, the (name, plugin) pairs and, optionally, the installed plugins
    the process-wide plugins for the block; afterwards the manager is rebuilt from scratch.
    """
    from tsys import plugins

    pm = plugins.build_plugin_manager(load_entrypoints=load_entrypoints)
    for name, plugin in named:
        pm.register(plugin, name=name)
    plugins.reset_plugin_manager(pm)
    try:
        yield pm
    finally:
        plugins.reset_plugin_manager()
