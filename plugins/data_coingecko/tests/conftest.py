"""Fixtures: the loopback CoinGecko (``cg_fake``) and a source pointed at it."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from cg_fake import NOW, FakeCoinGecko


@pytest.fixture
def fake(httpserver) -> FakeCoinGecko:
    cg = FakeCoinGecko()
    httpserver.expect_request("/api/v3/coins/markets").respond_with_handler(cg.handle)
    return cg


@pytest.fixture
def make_source(httpserver, fake, tmp_path, monkeypatch):
    """Build the source the way the registry does, pointed at the loopback fake."""
    from tsys_data_coingecko.source import CoinGeckoSource

    from tsys.data.source import SourceContext

    monkeypatch.delenv("COINGECKO_API_KEY", raising=False)

    def build(now: dt.datetime = NOW, **options):
        opts = {
            "base_url": httpserver.url_for("/api/v3"),
            "timeout": 2.0,
            "backoff_seconds": 0.01,
            "max_backoff_seconds": 0.05,
            **options,
        }
        src = CoinGeckoSource.from_config(opts, SourceContext(cache_dir=tmp_path / "cache"))
        src.now = lambda: now
        return src

    return build
