"""Fixtures: a store on SQLite and on a real PostgreSQL, a test data source and broker."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tsys.testing.isolation import postgres_schema, search_path_url


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request, tmp_path: Path):
    """A database URL of an empty database on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'db' / 'tsys.db'}"
        return
    with postgres_schema() as (name, base):
        yield search_path_url(base, name)


@pytest.fixture
def store(db_url):
    from tsys.store import open_store

    s = open_store(db_url)
    yield s
    s.close()


# --------------------------------------------------------------------------- market fixture
SYMBOLS = ("AAA", "BBB", "CCC", "DDD", "BTC-USD")
SECTORS = {"AAA": "Tech", "BBB": "Tech", "CCC": "Energy", "DDD": "Health"}
LAST_DAY = dt.date(2024, 6, 28)


def market_frames() -> dict[str, pd.DataFrame]:
    """Deterministic closes: AAA and BBB share a driver (corr > 0.7), CCC and DDD do not."""
    idx = pd.bdate_range(end=pd.Timestamp(LAST_DAY), periods=120, tz="UTC")
    rng = np.random.default_rng(3)
    common = rng.normal(0, 0.01, len(idx))
    rets = {
        "AAA": common + rng.normal(0, 0.002, len(idx)),
        "BBB": common + rng.normal(0, 0.002, len(idx)),
        "CCC": rng.normal(0, 0.01, len(idx)),
        "DDD": rng.normal(0, 0.01, len(idx)),
        "BTC-USD": rng.normal(0, 0.03, len(idx)),
    }
    start = {"AAA": 100.0, "BBB": 50.0, "CCC": 20.0, "DDD": 80.0, "BTC-USD": 60000.0}
    frames = {}
    for s in SYMBOLS:
        close = start[s] * np.cumprod(1 + rets[s])
        frames[s] = pd.DataFrame(
            {"open": close, "high": close, "low": close, "close": close, "volume": 1e6},
            index=idx,
        )
    return frames


def last_prices() -> dict[str, float]:
    return {s: float(f["close"].iloc[-1]) for s, f in market_frames().items()}


class _Plugin:
    """A test plugin: the "testprices" data source and the "testpaper" broker."""

    paper_positions: list = []

    def __init__(self) -> None:
        from tsys.brokers import AccountState, Broker
        from tsys.contracts import AssetClass
        from tsys.data import Bars, DataSource, Fundamentals
        from tsys.hookspecs import hookimpl

        frames = market_frames()
        plugin = self

        class TestPrices(DataSource):
            name = "testprices"

            def symbols(self, asset_class=None):
                return list(SYMBOLS)

            def bars(self, symbols, start, end, *, asset_class=None):
                syms = list(SYMBOLS) if symbols is None else list(symbols)
                acs = {
                    s: AssetClass.CRYPTO if s.endswith("-USD") else AssetClass.EQUITY for s in syms
                }
                bars = Bars.from_frames({s: frames[s] for s in syms}, acs, source="test")
                return bars.between(start, end)

            def fundamentals(self, symbols):
                return {s: Fundamentals(s, sector=SECTORS.get(s)) for s in symbols}

        class TestPaper(Broker):
            name = "testpaper"

            def account(self):
                return AccountState(cash=0.0, equity=0.0, buying_power=0.0)

            def positions(self):
                return list(plugin.paper_positions)

            def submit(self, plans):
                raise NotImplementedError

            def order(self, client_order_id):
                return None

            def open_orders(self):
                return []

            def cancel(self, client_order_id):
                return None

            def events(self, since=None):
                return []

        @hookimpl
        def register_data_sources(register):
            register(TestPrices)

        @hookimpl
        def register_brokers(register):
            register(TestPaper)

        self.register_data_sources = register_data_sources
        self.register_brokers = register_brokers


@pytest.fixture
def test_plugins(monkeypatch):
    """A plugin manager with only the test source and broker (built-ins of others disabled)."""
    from tsys import plugins

    monkeypatch.setenv("TSYS_DISABLE_PLUGINS", "tsys.data.builtin,tsys.brokers.builtin")
    pm = plugins.build_plugin_manager(load_entrypoints=False)
    plugin = _Plugin()
    pm.register(plugin, name="tsys-store-tests")
    plugins.reset_plugin_manager(pm)
    yield plugin
    _Plugin.paper_positions = []
    plugins.reset_plugin_manager(None)


@pytest.fixture
def cli_env(db_url, tmp_path: Path, monkeypatch, test_plugins):
    """Environment for CliRunner: the test database, a config using the test source/broker."""
    cfg = tmp_path / "tsys.toml"
    cfg.write_text(
        '[account]\nsize = 100000\n[data]\nsource = "testprices"\n'
        '[broker]\nname = "testpaper"\nenabled = true\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("TSYS_DATABASE_URL", db_url)
    monkeypatch.setenv("TSYS_CONFIG", str(cfg))
    monkeypatch.setenv("TSYS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    return {"db_url": db_url, "config": cfg, "data_dir": tmp_path / "data", "plugin": test_plugins}
