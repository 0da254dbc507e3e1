"""Issue 15.3, data that means what it says: volume has a unit (base or quote), declared by the
source and carried by Bars, and liquidity caps, rankings and the simulator's participation cap
use it; a universe that is not there is an error for research; funds carry no sector."""

from __future__ import annotations

import datetime as dt

import attrs
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tsys.buckets import Bucket, BucketOutput
from tsys.config import BucketConfig, OverridesConfig, RiskConfig
from tsys.contracts import AssetClass
from tsys.data import Bars, DataHub, SourceContext, VolumeUnit
from tsys.data.csv import CsvSource
from tsys.errors import ConfigError, DataError
from tsys.testing import InMemorySource


@attrs.frozen
class _P:
    pass


class Fixed(Bucket):
    name = "fixed"
    asset_class = AssetClass.CRYPTO
    version = "1"
    Params = _P

    def __init__(self, out):
        self.out = out

    def universe(self, ctx):
        return []

    def compute(self, ctx, bars, params):
        return self.out


def blank(T, N):
    return BucketOutput(
        score=np.full((T, N), np.nan),
        entries=np.zeros((T, N), bool),
        exits=np.zeros((T, N), bool),
        stop=np.full((T, N), np.nan),
        target=np.full((T, N), np.nan),
    )


def market(T=40, N=3, seed=0, unit=VolumeUnit.BASE, ac=AssetClass.CRYPTO):
    rng = np.random.default_rng(seed)
    idx = pd.date_range("2021-01-01", periods=T, freq="D", tz="UTC")
    close = 50 * np.exp(np.cumsum(rng.normal(0, 0.03, (T, N)), axis=0)) * np.arange(1, N + 1)
    open_ = close * np.exp(rng.normal(0, 0.01, (T, N)))
    high = np.maximum(open_, close) * 1.01
    low = np.minimum(open_, close) * 0.99
    coins = rng.uniform(50, 500, (T, N))
    volume = coins if unit is VolumeUnit.BASE else coins * close
    syms = [f"C{j}-USD" for j in range(N)]
    return Bars(idx, syms, open_, high, low, close, volume, [ac] * N, volume_units=unit)


def test_trust_volume_unit_bars_convert_and_keep_it():
    base, quote = market(), market(unit=VolumeUnit.QUOTE)
    assert quote.volume_units == (VolumeUnit.QUOTE,) * 3
    np.testing.assert_allclose(quote.base_volume(), base.volume, rtol=1e-12)
    np.testing.assert_allclose(quote.dollar_volume(), base.close * base.volume, rtol=1e-12)
    np.testing.assert_array_equal(base.base_volume(), base.volume)
    # every derived panel keeps each column's unit
    mixed = base.select(["C0-USD"]).merge(quote.select(["C1-USD", "C2-USD"]))
    assert mixed.volume_units == (VolumeUnit.BASE, VolumeUnit.QUOTE, VolumeUnit.QUOTE)
    part = mixed.select(["C2-USD", "C0-USD"]).between("2021-01-05", "2021-01-20").head(5)
    assert part.volume_units == (VolumeUnit.QUOTE, VolumeUnit.BASE)
    np.testing.assert_allclose(mixed.ohlcv()["volume"][:, 1:], base.volume[:, 1:], rtol=1e-12)
    with pytest.raises(ValueError, match="base' or 'quote"):
        market(unit="coins")
    # a zero close cannot convert a quote volume: unknown, not infinite
    close = quote.close.copy()
    close[3, 0] = 0.0
    assert np.isnan(quote.with_fields(close=close).base_volume()[3, 0])


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_trust_volume_unit_same_market_same_backtest(seed, tmp_path_factory):
    """One market written in base or in quote units gives the same backtest: positions,
    fills (the 2.5% participation cap counts coins) and participation figures."""
    from tsys.backtest.bucket import backtest_bucket
    from tsys.config import config_from_dict

    results = []
    for unit in (VolumeUnit.BASE, VolumeUnit.QUOTE):
        bars = market(seed=seed, unit=unit)
        T, N = bars.shape
        out = BucketOutput(
            score=np.tile(np.arange(1.0, N + 1), (T, 1)),
            entries=np.zeros((T, N), bool),
            exits=np.zeros((T, N), bool),
            stop=np.full((T, N), np.nan),
            target=np.full((T, N), np.nan),
        )
        out.entries[5] = True
        out.exits[25] = True
        hub = DataHub(
            InMemorySource(bars), [], SourceContext(cache_dir=tmp_path_factory.mktemp("c"))
        )
        cfg = config_from_dict({"risk": {"max_adv_share": 1.0, "max_position_weight": 1.0}})
        results.append(backtest_bucket(Fixed(out), hub, cfg, cash=1e7, end=bars.index[-1].date()))
    a, b = results
    np.testing.assert_allclose(a.equity, b.equity, rtol=1e-9)
    assert len(a.fills) == len(b.fills) and len(a.fills) > 3  # the cap splits the entries
    assert a.metrics["max_adv_participation"] == pytest.approx(
        b.metrics["max_adv_participation"], rel=1e-9
    )
    assert a.metrics["max_adv_participation"] <= 0.025 + 1e-9


def test_trust_volume_unit_liquidity_cap_counts_dollars():
    from tsys.portfolio import plan_positions
    from tsys.portfolio.construct import ADV_WINDOW

    base, quote = market(), market(unit=VolumeUnit.QUOTE)
    T, N = base.shape
    out = blank(T, N)
    out.score[ADV_WINDOW:] = 1.0
    out.entries[ADV_WINDOW] = True
    risk = RiskConfig(
        sector_cap=1.0, max_pairwise_correlation=1.0, max_adv_share=0.01, max_position_weight=1.0
    )
    s = BucketConfig(capital_share=1.0, max_positions=3, sizing="equal")
    pb = plan_positions(Fixed(out), None, base, out, s, risk, OverridesConfig())
    pq = plan_positions(Fixed(out), None, quote, out, s, risk, OverridesConfig())
    np.testing.assert_allclose(pb.weights, pq.weights, rtol=1e-9)
    assert pb.capped.get("liquidity", 0) == N  # the cap is what sized them
    # the cap is 1% of the average dollar volume: close x coins
    adv = np.nanmean((base.close * base.volume)[ADV_WINDOW - 19 : ADV_WINDOW + 1], axis=0)
    np.testing.assert_allclose(pb.weights[ADV_WINDOW] * 100_000, 0.01 * adv, rtol=1e-9)


def test_trust_volume_unit_hub_rejects_a_panel_in_another_unit(tmp_path):
    src = InMemorySource(market(unit=VolumeUnit.QUOTE))
    hub = DataHub(src, [], SourceContext(cache_dir=tmp_path))
    assert hub.bars(None, None, dt.date(2021, 3, 1)).volume_units[0] is VolumeUnit.QUOTE
    src.volume_units = {AssetClass.CRYPTO: VolumeUnit.BASE}  # declares base, returns quote
    with pytest.raises(DataError, match="declares base volume for crypto"):
        hub.bars(None, None, dt.date(2021, 3, 1))


def _write(folder, sym, close, volume):
    idx = pd.date_range("2021-01-04", periods=len(close), freq="B")
    pd.DataFrame(
        {"date": idx.strftime("%Y-%m-%d"), "open": close, "high": close * 1.01,
         "low": close * 0.99, "close": close, "volume": volume}
    ).to_csv(folder / f"{sym}.csv", index=False)  # fmt: skip


def test_trust_volume_unit_csv_option(tmp_path):
    _write(tmp_path, "BTC-USD", np.full(5, 40_000.0), np.full(5, 8e6))  # $8M a day
    _write(tmp_path, "AAPL", np.full(5, 100.0), np.full(5, 1e6))  # 1M shares
    end = dt.date(2021, 1, 12)
    default = CsvSource(tmp_path)
    bars = default.bars(None, None, end)
    units = dict(zip(bars.symbols, bars.volume_units, strict=True))
    assert units == {"AAPL": VolumeUnit.BASE, "BTC-USD": VolumeUnit.QUOTE}
    assert bars.dollar_volume()[0, bars.column("BTC-USD")] == 8e6
    assert bars.base_volume()[0, bars.column("BTC-USD")] == 200.0  # coins
    assert bars.dollar_volume()[0, bars.column("AAPL")] == 1e8
    coins = CsvSource.from_config(
        {"path": str(tmp_path), "volume_unit": {"crypto": "base"}},
        SourceContext(cache_dir=tmp_path / "c"),
    )
    b2 = coins.bars(["BTC-USD"], None, end)
    assert b2.volume_units == (VolumeUnit.BASE,) and b2.dollar_volume()[0, 0] == 8e6 * 40_000
    every = CsvSource(tmp_path, volume_unit="QUOTE")
    assert set(every.bars(None, None, end).volume_units) == {VolumeUnit.QUOTE}
    with pytest.raises(ConfigError, match="volume_unit"):
        CsvSource(tmp_path, volume_unit={"crypto": "coins"})
    assert "crypto quote" in default.describe_volume()


def test_trust_volume_unit_shared_crypto_is_quote():
    from pathlib import Path

    root = Path(__file__).resolve().parents[3].parent / "shared" / "data"
    if not (root / "crypto" / "daily").is_dir():
        pytest.skip(f"shared data not found at {root}")
    src = CsvSource.shared_data(root)
    assert src.volume_unit(AssetClass.CRYPTO) is VolumeUnit.QUOTE
    assert src.volume_unit(AssetClass.EQUITY) is VolumeUnit.BASE
    bars = src.bars(["BTC-USD", "SPY"], dt.date(2019, 1, 1), dt.date(2019, 1, 31))
    j = bars.column("BTC-USD")
    # BTC traded billions of dollars a day in January 2019, not billions of coins
    assert 1e9 < np.nanmedian(bars.dollar_volume()[:, j]) < 1e11
    assert 1e5 < np.nanmedian(bars.base_volume()[:, j]) < 1e7


def test_trust_universe_missing_is_an_error_for_research(tmp_path):
    from tsys.backtest.bucket import backtest_bucket
    from tsys.config import config_from_dict
    from tsys.data.coverage import UniverseMissing, universe_coverage

    full = market(T=60, N=4)
    close = full.close.copy()
    close[20:, 1] = np.nan  # C1 ends a third of the way in
    close[:, 2:] = np.nan  # C2, C3 have no bars at all
    bars = full.with_fields(close=close)
    cov = universe_coverage([*bars.symbols, "C9-USD"], bars, bars.index[10], bars.index[-1])
    assert cov.present == ("C0-USD",)
    assert cov.missing == ("C1-USD", "C2-USD", "C3-USD", "C9-USD")
    assert cov.share == pytest.approx(0.2)
    assert "4 of 5 symbols have no bars for most of 2021-01-11..2021-03-01" in cov.describe()
    with pytest.raises(UniverseMissing, match="universe is mostly missing: 4 of 5"):
        cov.require()
    universe_coverage(["C0-USD"], bars).require()  # all there: no error

    class Named(Fixed):
        def history_symbols(self, ctx):
            return ["C0-USD", "C2-USD", "C3-USD"]

    src = InMemorySource(bars.select(["C0-USD"]))
    hub = DataHub(src, [], SourceContext(cache_dir=tmp_path))
    cfg = config_from_dict({})
    end = bars.index[-1].date()
    # a backtest says so ...
    bt = backtest_bucket(Named(blank(bars.shape[0], 1)), hub, cfg, end=end)
    assert any("2 of 3 symbols have no bars" in w for w in bt.warnings)
    # ... and research refuses: the trial is infeasible, with the reason
    with pytest.raises(UniverseMissing, match="fixed universe is mostly missing"):
        backtest_bucket(Named(blank(bars.shape[0], 1)), hub, cfg, end=end, min_universe_share=0.5)


def test_trust_funds_carry_no_sector(tmp_path):
    """The float snapshot files every ETF under "Financial": a fund has no sector, so SPY, TLT
    and GLD do not share one 30% sector cap (coordinator decision, issue 15)."""
    _write(tmp_path, "SPY", np.full(5, 400.0), np.full(5, 1e6))
    (tmp_path / "float.csv").write_text(
        "symbol,company,sector,industry,market_cap\n"
        "SPY,SPDR S&P 500 ETF,Financial,Exchange Traded Fund,\n"
        "TLT,iShares 20+ Year Treasury Bond ETF,Financial,Exchange Traded Fund,\n"
        "JPM,JPMorgan Chase,Financial,Banks - Diversified,400B\n"
    )
    src = CsvSource(tmp_path, float_file=tmp_path / "float.csv")
    funds = src.fundamentals(["SPY", "TLT", "JPM"])
    assert funds["SPY"].sector is None and funds["TLT"].sector is None
    assert funds["JPM"].sector == "Financials"
