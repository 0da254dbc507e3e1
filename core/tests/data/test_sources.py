"""open_source / open_hub: options from the configuration, extras, warnings."""

from __future__ import annotations

import datetime as dt

import pytest

from tsys.config import config_from_dict
from tsys.contracts import AssetClass
from tsys.data import open_hub, open_source
from tsys.data.csv import CsvSource
from tsys.data.demo import DemoSource
from tsys.data.source import BarsRequest, DataHub, DataSource, SourceContext
from tsys.errors import ConfigError
from tsys.testing import synthetic_bars


def test_demo_seed_from_config(tmp_path):
    cfg = config_from_dict({"data": {"demo_seed": 42}, "data_dir": str(tmp_path)})
    src = open_source("demo", cfg)
    assert isinstance(src, DemoSource) and src.seed == 42
    cfg = config_from_dict({"data": {"options": {"demo": {"seed": 5}}}})
    assert open_source("demo", cfg).seed == 5


def test_csv_path_from_config_option_and_override(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    (b / "X.csv").write_text("date,open,high,low,close,volume\n2024-01-02,1,2,0.5,1,1\n")
    cfg = config_from_dict({"data": {"source": "csv", "path": str(a)}, "data_dir": str(tmp_path)})
    assert open_source("csv", cfg).paths == [a]
    src = open_source("csv", cfg, path=[str(a), str(b)])
    assert isinstance(src, CsvSource) and src.symbols() == ["X"]
    cfg = config_from_dict(
        {"data": {"options": {"csv": {"path": str(b), "asset_class": "crypto"}}}}
    )
    assert open_source("csv", cfg).symbols("crypto") == ["X"]
    with pytest.raises(ConfigError, match="does not exist"):
        open_source("csv", cfg, path=str(tmp_path / "missing"))
    cfg = config_from_dict({"data": {"options": {"csv": {"path": str(b), "colour": 1}}}})
    with pytest.raises(ConfigError, match="colour"):
        open_source("csv", cfg)


def test_hub_primary_extras_and_missing_ones(tmp_path):
    cfg = config_from_dict(
        {
            "data": {"source": "demo", "extra_sources": ["not-installed", "demo"]},
            "data_dir": str(tmp_path),
        }
    )
    hub = open_hub(cfg)
    assert isinstance(hub.primary, DemoSource) and hub.extras == []
    assert any("'not-installed' is not installed" in w for w in hub.ctx.warnings)
    assert hub.primary.ctx.warnings is hub.ctx.warnings
    assert hub.primary.ctx.cache_dir == tmp_path / "demo" / "cache" / "demo"  # the sandbox
    b = hub.bars(["SPY"], dt.date(2021, 3, 1), dt.date(2021, 3, 31))
    assert b.synthetic and b.symbols == ("SPY",)


def test_hub_falls_back_to_primary_and_warns_when_nobody_provides(tmp_path):
    folder = tmp_path / "p"
    folder.mkdir()
    cfg = config_from_dict(
        {"data": {"source": "csv", "path": str(folder)}, "data_dir": str(tmp_path)}
    )
    hub = open_hub(cfg)
    assert hub.news(["X"], dt.date(2024, 1, 1), dt.date(2024, 1, 2)) is None
    assert any("news sentiment" in w for w in hub.ctx.warnings)
    assert isinstance(hub.primary, DataSource)


def test_hub_for_backtests_shared_data_path_and_as_of(tmp_path):
    cfg = config_from_dict(
        {"data": {"source": "demo", "extra_sources": ["not-installed"]}, "data_dir": str(tmp_path)}
    )
    hub = open_hub(cfg, extras=False, as_of=dt.date(2024, 6, 28))
    assert hub.ctx.warnings == [] and hub.ctx.as_of == dt.date(2024, 6, 28)
    with pytest.raises(ConfigError, match="--path applies to the csv source, not 'demo'"):
        open_hub(cfg, path=str(tmp_path))
    with pytest.raises(ConfigError, match=r"shared data folder .* does not exist"):
        open_hub(cfg, shared_data=tmp_path / "nowhere")
    shared = tmp_path / "shared"
    (shared / "crypto" / "daily").mkdir(parents=True)
    (shared / "crypto" / "daily" / "BTC-USD.csv").write_text(
        "date,open,high,low,close,volume\n2024-01-02,1,2,0.5,1,1\n"
    )
    hub = open_hub(cfg, shared_data=shared, extras=False)
    assert isinstance(hub.primary, CsvSource) and hub.primary.symbols() == ["BTC-USD"]
    assert hub.primary.ctx.cache_dir == tmp_path / "cache" / "csv"


def test_backtests_open_recorded_extras_only(tmp_path):
    """A backtest (extras=False) reads the primary plus extras that keep a local history
    (``recorded``, e.g. recorded options-flow alerts), never network extras."""
    from tsys.hookspecs import hookimpl
    from tsys.testing import registered_plugin

    class Live(DataSource):
        name = "live-extra"

    class Kept(DataSource):
        name = "kept-extra"
        recorded = True

    class Plugin:
        @hookimpl
        def register_data_sources(self, register):
            register(Live)
            register(Kept)

    cfg = config_from_dict(
        {
            "data": {"source": "demo", "extra_sources": ["live-extra", "kept-extra", "nope"]},
            "data_dir": str(tmp_path),
        }
    )
    with registered_plugin(Plugin(), "extras-test"):
        backtest = open_hub(cfg, extras=False)
        daily = open_hub(cfg)
    assert [s.name for s in backtest.extras] == ["kept-extra"]
    assert backtest.ctx.warnings == []  # a missing network extra is not a backtest's concern
    assert [s.name for s in daily.extras] == ["live-extra", "kept-extra"]


def test_bars_request_normalises_the_call():
    req = BarsRequest(["A", "B"], "2024-01-02", dt.datetime(2024, 3, 1, 15, 30), "crypto")
    assert req == BarsRequest(
        ("A", "B"), dt.date(2024, 1, 2), dt.date(2024, 3, 1), AssetClass.CRYPTO
    )
    assert req.start_or(dt.timedelta(days=10)) == dt.date(2024, 1, 2)
    every = BarsRequest(None, None, dt.date(2024, 3, 1))
    assert every.symbols is None and every.asset_class is None
    assert every.start_or(dt.timedelta(days=10)) == dt.date(2024, 2, 20)
    # a start with a time of day is its date: that day's bar is asked for
    assert BarsRequest(None, dt.datetime(2024, 1, 5, 10), dt.date(2024, 1, 9)).start == dt.date(
        2024, 1, 5
    )


class _Recorder(DataSource):
    """A source that implements only the read_bars method and keeps what it was asked."""

    name = "recorder"

    def __init__(self) -> None:
        self.requests: list[BarsRequest] = []

    def symbols(self, asset_class=None):
        return ["AAA", "BBB"] if asset_class in (None, AssetClass.EQUITY) else []

    def read_bars(self, request):
        self.requests.append(request)
        return synthetic_bars(request.wanted(self))


class _OwnBars(DataSource):
    """A source written before read_bars: it overrides bars itself."""

    name = "own-bars"

    def bars(self, symbols, start, end, *, asset_class=None):
        return synthetic_bars(list(symbols))


def test_bars_answers_read_bars_with_the_normalised_request():
    src = _Recorder()
    assert src.bars(None, None, "2024-03-01", asset_class="equity").symbols == ("AAA", "BBB")
    assert src.requests == [BarsRequest(None, None, dt.date(2024, 3, 1), AssetClass.EQUITY)]
    assert src.bars(["BBB"], None, dt.date(2024, 3, 1)).symbols == ("BBB",)
    assert DataSource().bars(["AAA"], None, dt.date(2024, 3, 1)) is None


def test_hub_is_a_source_over_read_bars_and_own_bars_sources(tmp_path):
    ctx = SourceContext(cache_dir=tmp_path)
    rec = _Recorder()
    hub = DataHub(rec, [], ctx)
    assert isinstance(hub, DataSource) and hub.volume_units is rec.volume_units
    assert hub.bars(["AAA", "../etc"], "2024-01-02", dt.date(2024, 3, 1)).symbols == ("AAA",)
    assert rec.requests == [BarsRequest(["AAA"], dt.date(2024, 1, 2), dt.date(2024, 3, 1))]
    assert any("no data source is asked for it" in w for w in ctx.warnings)
    own = DataHub(_OwnBars(), [], ctx)
    assert own.bars(["BBB"], None, dt.date(2024, 3, 1)).symbols == ("BBB",)
