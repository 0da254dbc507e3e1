"""Fixtures: the loopback CoinGecko (``cg_fake``) and a source pointed at it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from cg_fake import NOW, FakeCoinGecko

from tsys.testing.data_plugins import served, source_builder


@pytest.fixture
def fake(httpserver) -> FakeCoinGecko:
    return served(httpserver, FakeCoinGecko(), "/api/v3/coins/markets")


@pytest.fixture
def make_source(httpserver, fake, tmp_path, monkeypatch):
    """Build the source the way the registry does, pointed at the loopback fake."""
    from tsys_data_coingecko.source import CoinGeckoSource

    monkeypatch.delenv("COINGECKO_API_KEY", raising=False)
    return source_builder(
        CoinGeckoSource,
        NOW,
        tmp_path / "cache",
        base_url=httpserver.url_for("/api/v3"),
        timeout=2.0,
        backoff_seconds=0.01,
        max_backoff_seconds=0.05,
    )
