"""Fixtures: the loopback Alpha Vantage (``av_fake``) and a source pointed at it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from av_fake import KEY, NOW, FakeAlphaVantage

from tsys.testing.data_plugins import served, source_builder


@pytest.fixture
def fake(httpserver) -> FakeAlphaVantage:
    return served(httpserver, FakeAlphaVantage(), "/query")


@pytest.fixture
def make_source(httpserver, fake, tmp_path, monkeypatch):
    """Build the source the way the registry does, pointed at the loopback fake."""
    from tsys_data_alphavantage.source import AlphaVantageSource

    monkeypatch.setenv("ALPHAVANTAGE_API_KEY", KEY)
    return source_builder(
        AlphaVantageSource,
        NOW,
        tmp_path / "cache",
        base_url=httpserver.url_for("/").rstrip("/"),
        calls_per_minute=1000,
        timeout=2.0,
        burst_retry_wait=0.0,
    )
