"""Fixtures: the loopback Unusual Whales (``uw``), a configuration in a temporary data dir,
and the source built from it the way tsys builds it."""

from __future__ import annotations

import datetime as dt
import re
import sys
from pathlib import Path

import pytest

from tsys.testing.isolation import isolate, postgres_schema, search_path_url

sys.path.insert(0, str(Path(__file__).parent))

from uw_fake import TOKEN, FakeUW


@pytest.fixture
def uw(httpserver) -> FakeUW:
    fake = FakeUW()
    httpserver.expect_request("/api/option-trades/flow-alerts").respond_with_handler(fake.handle)
    httpserver.expect_request(re.compile(r"^/api/shorts/.+")).respond_with_handler(fake.handle)
    return fake


@pytest.fixture
def env(tmp_path, monkeypatch):
    """An isolated data dir, the token set, no database URL."""
    isolate(monkeypatch, tmp_path)
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
    with postgres_schema("tsys_uw") as (schema, base):
        monkeypatch.setenv("TSYS_DATABASE_URL", search_path_url(base, schema))
        yield "postgres"
