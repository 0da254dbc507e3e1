"""Fixtures: the loopback Alpha Vantage (``av_fake``) and a source pointed at it."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from av_fake import KEY, NOW, FakeAlphaVantage


@pytest.fixture
def fake(httpserver) -> FakeAlphaVantage:
    av = FakeAlphaVantage()
    httpserver.expect_request("/query").respond_with_handler(av.handle)
    return av


@pytest.fixture
def make_source(httpserver, fake, tmp_path, monkeypatch):
    """Build the source the way the registry does, pointed at the loopback fake."""
    from tsys_data_alphavantage.source import AlphaVantageSource

    from tsys.data.source import SourceContext

    monkeypatch.setenv("ALPHAVANTAGE_API_KEY", KEY)

    def build(now: dt.datetime = NOW, cache_dir=None, **options):
        opts = {
            "base_url": httpserver.url_for("/").rstrip("/"),
            "calls_per_minute": 1000,
            "timeout": 2.0,
            "burst_retry_wait": 0.0,
            **options,
        }
        ctx = SourceContext(cache_dir=cache_dir or tmp_path / "cache")
        src = AlphaVantageSource.from_config(opts, ctx)
        src.now = lambda: now
        return src

    return build
