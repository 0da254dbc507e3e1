"""Bucket B: discovery, the contract suite on demo and real data, universe, breakouts, stops."""

from __future__ import annotations

import datetime as dt
from importlib.metadata import entry_points, version
from pathlib import Path

import attrs
import numpy as np
import pandas as pd
import pytest
from tsys_bucket_crypto import __version__
from tsys_bucket_crypto.bucket import CryptoBucket, Params, base_symbol

from tsys.buckets import search_space
from tsys.data import Bars
from tsys.testing import InMemorySource, bucket_contract_suite, memory_context, shared_data_dir

SHARED = shared_data_dir()


def test_discovered_through_entry_point():
    eps = {ep.name: ep.value for ep in entry_points(group="tsys")}
    assert eps["bucket-crypto"] == "tsys_bucket_crypto"
    from tsys import plugins

    plugins.reset_plugin_manager()
    bucket = plugins.buckets().get("crypto")
    assert isinstance(bucket, CryptoBucket)
    assert bucket.version == __version__ == version("tsys-bucket-crypto")
    rules = bucket.position_rules(Params())
    assert rules.stop_kind == "atr_trailing" and rules.target_volatility == 0.6


def _demo(end=dt.date(2022, 12, 31)):
    from tsys.data.demo import DemoSource

    demo = DemoSource(seed=7, as_of=end)
    bars = demo.bars(None, dt.date(2021, 1, 1), end, asset_class="crypto")
    src = InMemorySource(
        bars, market_caps=demo.market_caps(None, end), excluded=demo.excluded_coins()
    )
    return bars, memory_context(src, end)


def test_contract_suite_on_demo_data_and_seven_day_calendar():
    bars, ctx = _demo()
    results = {r.name: r for r in bucket_contract_suite(CryptoBucket(), ctx, bars)}
    # Both ends of every searchable range (and each choice) compute and keep the contract.
    n_ends = sum(len(s.get("choices", (0, 0))) for s in search_space(Params).values())
    assert results["range_ends"].detail == f"computed at {n_ends} range ends"
    weekdays = set(bars.index.day_of_week)
    assert weekdays == set(range(7)), "crypto bars run every day of the week"
    out = CryptoBucket().compute(ctx, bars, Params())
    member = out.extras["member"] > 0
    assert member.sum(axis=1).max() == 10
    for sym in ("USDT-USD", "USDC-USD", "DAI-USD", "WBTC-USD"):
        if sym in bars.symbols:
            assert not member[:, bars.column(sym)].any(), sym
            assert not out.entries[:, bars.column(sym)].any(), sym
    assert out.entries.any()


@pytest.mark.shared_data
@pytest.mark.skipif(SHARED is None, reason="../shared/data is absent (real-data tests skipped)")
def test_contract_suite_on_real_data():
    from tsys.data import DataHub, SourceContext
    from tsys.data.csv import CsvSource

    sctx = SourceContext(cache_dir=Path(".tsys-cache"))
    src = CsvSource.shared_data(SHARED, ctx=sctx)
    bars = src.bars(None, dt.date(2019, 1, 1), dt.date(2021, 12, 31), asset_class="crypto")
    ctx = memory_context(src, dt.date(2021, 12, 31))
    ctx.data = DataHub(src, [], sctx)
    bucket_contract_suite(CryptoBucket(), ctx, bars)
    out = CryptoBucket().compute(ctx, bars, Params())
    # market caps end in July 2021: the last known caps carry forward, never backward
    assert (out.extras["member"][-1] > 0).sum() == 10


def _market(n=200, coins=("BTC-USD", "AAA-USD", "BBB-USD", "USDT-USD", "CCC-USD")):
    idx = pd.date_range("2021-01-01", periods=n, freq="D", tz="UTC")
    rng = np.random.default_rng(1)
    close = np.empty((n, len(coins)))
    close[:, 0] = 30_000 * np.exp(np.arange(n) * 0.004 + rng.normal(0, 0.01, n))
    close[:, 1] = 10 * np.exp(rng.normal(0, 0.01, n).cumsum())
    close[:, 2] = 5 * np.exp(rng.normal(0, 0.01, n).cumsum())
    close[:, 3] = 1.0
    close[:, 4] = 20 * np.exp(rng.normal(0, 0.01, n).cumsum())
    close[150:, 1] *= 1.25  # AAA breaks out on day 150
    return Bars(
        idx,
        coins,
        close,
        close * 1.01,
        close * 0.99,
        close,
        np.full_like(close, 1e8),
        ["crypto"] * len(coins),
    )


def test_breakout_entry_with_btc_regime():
    bars = _market()
    caps = pd.DataFrame(
        bars.close * [1e7, 1e8, 1e6, 1e12, 1e5], index=bars.index, columns=bars.symbols
    )
    ctx = memory_context(InMemorySource(bars, market_caps=caps), bars.index[-1].date())
    out = CryptoBucket().compute(ctx, bars, Params(top_n=3))
    a = bars.column("AAA-USD")
    assert out.entries[150, a] and out.regime[150] == 1.0
    assert not out.entries[:, bars.column("USDT-USD")].any()  # stablecoin: never a member
    # chandelier stop below the close and built from the highest high of 22 days
    assert out.stop[150, a] < bars.close[150, a]
    tags = CryptoBucket().explain(ctx, bars, out, "AAA-USD", 150)
    assert any(t.startswith("breakout above") for t in tags) and "BTC regime on" in tags
    # BTC falling below its average turns the regime off: no entries, exits everywhere
    falling = bars.close.copy()
    falling[120:, 0] = falling[120, 0] * np.exp(-0.01 * np.arange(80))
    bars2 = bars.with_fields(close=falling, high=falling * 1.01, low=falling * 0.99, open=falling)
    out2 = CryptoBucket().compute(ctx, bars2, Params(top_n=3))
    assert out2.regime[150] == 0.0 and not out2.entries[150].any() and out2.exits[150].all()


def test_market_cap_rank_is_point_in_time():
    bars = _market()
    caps = pd.DataFrame(
        {
            "BTC": 1e12,
            "CCC": 1e11,
            "AAA": 1e9,
            "BBB": np.where(np.arange(200) >= 100, 1e10, 1e6),
        },
        index=bars.index,
    )
    ctx = memory_context(InMemorySource(bars, market_caps=caps), bars.index[-1].date())
    out = CryptoBucket().compute(ctx, bars, Params(top_n=3))
    m = out.extras["member"] > 0
    a, b = bars.column("AAA-USD"), bars.column("BBB-USD")
    assert m[99, a] and not m[99, b]
    assert m[100, b] and not m[100, a]


def test_without_market_caps_ranks_by_dollar_volume_and_warns():
    bars = _market()
    vol = bars.volume.copy()
    vol[:, 2] *= 100  # BBB and CCC trade far more dollars than AAA
    vol[:, 4] *= 10
    bars = bars.with_fields(volume=vol)
    ctx = memory_context(InMemorySource(bars), bars.index[-1].date())
    out = CryptoBucket().compute(ctx, bars, Params(top_n=3))
    assert any("dollar volume" in w for w in ctx.warnings)
    m = out.extras["member"] > 0
    assert m[50:, bars.column("BBB-USD")].all() and not m[:, bars.column("AAA-USD")].any()


def test_base_symbol():
    assert base_symbol("BTC-USD") == "BTC" and base_symbol("eth/usd") == "ETH"
    assert base_symbol("SOL") == "SOL"


def test_trust_stale_market_caps_fall_back_to_dollar_volume():
    """Caps are carried forward for a stated age only; later days rank by dollar volume and
    the run says so (issue 15.3)."""
    from tsys.data import VolumeUnit
    from tsys.data.coverage import MARKET_CAP_MAX_AGE

    bars = _market()
    # quote (USD) volume: CCC trades the most dollars, then BBB; AAA the least
    vol = np.full_like(bars.close, 1e6)
    vol[:, bars.column("CCC-USD")] = 5e9
    vol[:, bars.column("BBB-USD")] = 1e9
    bars = attrs.evolve(bars, volume=vol, volume_units=VolumeUnit.QUOTE)
    caps = pd.DataFrame({"BTC": 1e12, "AAA": 1e11, "BBB": 1e9, "CCC": 1e8}, index=bars.index[:100])
    ctx = memory_context(InMemorySource(bars, market_caps=caps), bars.index[-1].date())
    out = CryptoBucket().compute(ctx, bars, Params(top_n=3))
    m = out.extras["member"] > 0
    a, c = bars.column("AAA-USD"), bars.column("CCC-USD")
    fresh_until = 99 + MARKET_CAP_MAX_AGE.days
    assert m[fresh_until, a] and not m[fresh_until, c]  # by market cap: BTC, AAA, BBB
    assert m[fresh_until + 1 :, c].all() and not m[fresh_until + 1 :, a].any()  # by dollars
    said = [w for w in ctx.warnings if "market caps older than" in w]
    assert (
        said and "dollar volume" in said[0] and str(bars.index[fresh_until + 1].date()) in said[0]
    )
    # the daily universe does not rank by months-old caps either
    src = InMemorySource(bars, market_caps=caps)
    recent = memory_context(src, bars.index[99 + 5].date(), params=Params(top_n=3))
    assert CryptoBucket().universe(recent) == ["AAA-USD", "BBB-USD", "BTC-USD"]
    late = memory_context(src, bars.index[-1].date(), params=Params(top_n=3))
    assert CryptoBucket().universe(late) == ["AAA-USD", "BBB-USD", "BTC-USD", "CCC-USD"]
    assert any("not used" in w for w in late.warnings)
