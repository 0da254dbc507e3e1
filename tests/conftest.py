"""Cross-package integration fixtures: an isolated data dir and config lookup per test."""

from __future__ import annotations

import os

import pytest

from tsys.hookspecs import hookimpl


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """Run tsys in an empty folder with its own data dir and no user configuration."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TSYS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    for key in list(os.environ):
        if key.startswith("TSYS__") or key in ("TSYS_CONFIG", "TSYS_DATABASE_URL"):
            monkeypatch.delenv(key)
    return tmp_path


PG_ENV = "TSYS_TEST_POSTGRES_URL"


def search_path_url(base: str, schema: str, *settings: str) -> str:
    """``base`` with ``options=-csearch_path=<schema>`` (and any more ``-c`` settings)."""
    from urllib.parse import quote

    opts = " ".join([f"-csearch_path={schema}", *(f"-c{s}" for s in settings)])
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options={quote(opts)}"


@pytest.fixture
def pg_schema():
    """A fresh PostgreSQL schema (name, base URL) in the test database, dropped afterwards."""
    import uuid

    base = os.environ.get(PG_ENV)
    if not base:
        if os.environ.get("CI"):
            pytest.fail(f"{PG_ENV} is not set, and CI must test PostgreSQL")
        pytest.skip(f"{PG_ENV} is not set (e.g. postgresql://postgres@127.0.0.1:5432/test)")
    import psycopg2

    name = f"tsys_t_{uuid.uuid4().hex[:12]}"
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
def real_like_source():
    """The ``reallike`` source registered for one test (register / yield / unregister)."""
    from tsys import plugins

    pm = plugins.build_plugin_manager()
    pm.register(_RealLikeSource(), name="reallike-test-plugin")
    plugins.reset_plugin_manager(pm)
    yield "reallike"
    plugins.reset_plugin_manager()
