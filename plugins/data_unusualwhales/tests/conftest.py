"""Fixtures: the loopback Unusual Whales (``uw``), a configuration in a temporary data dir,
and the source built from it the way tsys builds it."""

from __future__ import annotations

import datetime as dt
import os
import re
import sys
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from uw_fake import TOKEN, FakeUW

PG_ENV = "TSYS_TEST_POSTGRES_URL"


@pytest.fixture
def uw(httpserver) -> FakeUW:
    fake = FakeUW()
    httpserver.expect_request("/api/option-trades/flow-alerts").respond_with_handler(fake.handle)
    httpserver.expect_request(re.compile(r"^/api/shorts/.+")).respond_with_handler(fake.handle)
    return fake


@pytest.fixture
def env(tmp_path, monkeypatch):
    """An isolated data dir, the token set, no database URL."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TSYS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    for key in list(os.environ):
        if key.startswith("TSYS__") or key in ("TSYS_CONFIG", "TSYS_DATABASE_URL"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("UNUSUAL_WHALES_API_TOKEN", TOKEN)
    return tmp_path


@pytest.fixture
def make_source(httpserver, uw, env):
    """Build the source from a configuration pointing at the loopback fake."""
    from tsys_data_unusualwhales.source import UnusualWhalesSource

    from tsys.api import SourceContext, load_config

    def build(*, now: dt.datetime | None = None, sleeps: list | None = None, **options):
        opts = {
            "base_url": httpserver.url_for("/"),
            "timeout": 2.0,
            "backoff_seconds": 0.01,
            "max_backoff_seconds": 0.05,
            **options,
        }
        config = load_config()
        ctx = SourceContext(
            cache_dir=env / "data" / "cache" / "unusualwhales",
            config=config,
            as_of=None if now is None else now.date(),
        )
        src = UnusualWhalesSource.from_config(opts, ctx)
        if now is not None:
            src.now = lambda: now
        if sleeps is not None:
            src.sleep = sleeps.append
        return src

    return build


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request, monkeypatch, env):
    """Run the test on the default SQLite store, then on a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        yield "sqlite"
        return
    base = os.environ.get(PG_ENV)
    if not base:
        if os.environ.get("CI"):
            pytest.fail(f"{PG_ENV} is not set, and CI must test PostgreSQL")
        pytest.skip(f"{PG_ENV} is not set (e.g. postgresql://postgres@127.0.0.1:5432/test)")
    import psycopg2

    schema = f"tsys_uw_{uuid.uuid4().hex[:10]}"
    conn = psycopg2.connect(base)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in base else "?"
    monkeypatch.setenv(
        "TSYS_DATABASE_URL", f"{base}{sep}options={quote(f'-csearch_path={schema}')}"
    )
    try:
        yield "postgres"
    finally:
        with conn.cursor() as cur:
            cur.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        conn.close()
