"""Bucket B: discovery, the contract suite on demo and real data, universe, momentum slots,
the BTC regime gate, chandelier exits, no look-ahead, shipped parameters."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import attrs
import numpy as np
import pandas as pd
import pytest
from tsys_bucket_crypto import __version__, signals
from tsys_bucket_crypto.bucket import RISK_OFF_ATR, CryptoBucket, Params, base_symbol

from tsys.buckets import search_space
from tsys.data import Bars
from tsys.testing import (
    InMemorySource,
    bucket_contract_suite,
    discovered_bucket,
    lookahead_audit,
    memory_context,
    shared_data_dir,
    shipped_defaults,
)

SHARED = shared_data_dir()


def test_discovered_through_entry_point():
    bucket = discovered_bucket("crypto", CryptoBucket, distribution="tsys-bucket-crypto")
    assert bucket.version == __version__
    rules = bucket.position_rules(Params(slots=3))
    assert rules.stop_kind == "atr_trailing" and rules.max_positions == 3


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
    assert member.sum(axis=1).max() == Params().top_n
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
    assert (out.extras["member"][-1] > 0).sum() == Params().top_n


#: Coins that always rank 2nd to 4th (after BTC): with ``top_n=6`` the universe is BTC, these
#: three and the best two of AAA, BBB and CCC.
FILLERS = ("F1-USD", "F2-USD", "F3-USD")
BASE = ("BTC-USD", "AAA-USD", "BBB-USD", "USDT-USD", "CCC-USD")


def _market(n=200, coins=BASE + FILLERS):
    idx = pd.date_range("2021-01-01", periods=n, freq="D", tz="UTC")
    rng = np.random.default_rng(1)
    close = np.empty((n, len(coins)))
    for j in range(5, len(coins)):
        close[:, j] = 50 * np.exp(rng.normal(0, 0.01, n).cumsum())
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
        np.where(np.arange(len(coins)) >= 5, 1e11, 1e8) * np.ones_like(close),
        ["crypto"] * len(coins),
    )


def _caps(bars, values):
    """Market caps for the base coins (``values`` by base symbol) plus the fillers' 1e11."""
    frame = pd.DataFrame(values, index=bars.index)
    for f in FILLERS:
        frame[base_symbol(f)] = 5e11 + bars.column(f)
    return frame


def test_market_cap_rank_is_point_in_time():
    bars = _market()
    caps = _caps(
        bars,
        {
            "BTC": 1e12,
            "CCC": 1e11,
            "AAA": 1e9,
            "BBB": np.where(np.arange(200) >= 100, 1e10, 1e6),
        },
    )
    ctx = memory_context(InMemorySource(bars, market_caps=caps), bars.index[-1].date())
    out = CryptoBucket().compute(ctx, bars, Params(top_n=6))
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
    out = CryptoBucket().compute(ctx, bars, Params(top_n=6))
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
    for f in FILLERS:
        vol[:, bars.column(f)] = 1e10
    bars = attrs.evolve(bars, volume=vol, volume_units=VolumeUnit.QUOTE)
    caps = _caps(bars, {"BTC": 1e12, "AAA": 1e11, "BBB": 1e9, "CCC": 1e8}).iloc[:100]
    ctx = memory_context(InMemorySource(bars, market_caps=caps), bars.index[-1].date())
    out = CryptoBucket().compute(ctx, bars, Params(top_n=6))
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
    recent = memory_context(src, bars.index[99 + 5].date(), params=Params(top_n=6))
    assert CryptoBucket().universe(recent) == sorted(["AAA-USD", "BBB-USD", "BTC-USD", *FILLERS])
    late = memory_context(src, bars.index[-1].date(), params=Params(top_n=6))
    assert CryptoBucket().universe(late) == sorted(
        ["AAA-USD", "BBB-USD", "BTC-USD", "CCC-USD", *FILLERS]
    )
    assert any("not used" in w for w in late.warnings)


#: The synthetic tests' parameters: the research's starting point on a six-coin universe.
PRIOR = {"top_n": 6, "momentum_window": 120, "regime_window": 100, "regime_slope": 20}


def _trending(n=320):
    """BTC rising (risk-on), AAA rising from day 100, BBB rising then falling from day 280."""
    bars = _market(n)
    close = bars.close.copy()
    t = np.arange(n)
    close[:, 0] = 30_000 * np.exp(0.004 * t)
    a, b = bars.column("AAA-USD"), bars.column("BBB-USD")
    close[:, a] = 10 * np.exp(0.006 * np.clip(t - 100, 0, None))
    close[:, b] = 5 * np.exp(0.005 * np.minimum(t, 280) - 0.01 * np.clip(t - 280, 0, None))
    bars = bars.with_fields(open=close, high=close * 1.01, low=close * 0.99, close=close)
    caps = _caps(bars, {"BTC": 1e12, "AAA": 1e10, "BBB": 1e9, "CCC": 1e8})
    return bars, memory_context(InMemorySource(bars, market_caps=caps), bars.index[-1].date())


def test_entry_needs_every_momentum_window_positive():
    bars, ctx = _trending()
    out = CryptoBucket().compute(ctx, bars, Params(**PRIOR))
    x = out.extras
    moms = [x[f"momentum_{n}"] for n in (20, 60, 120)]
    with np.errstate(invalid="ignore"):
        all_up = np.logical_and.reduce([m > 0 for m in moms])
        expected = (
            (x["member"] > 0) & all_up & (bars.close > x["chandelier"]) & np.isfinite(x["atr"])
        ) & (out.regime[:, None] > 0)
    np.testing.assert_array_equal(out.entries, expected)
    a, b = bars.column("AAA-USD"), bars.column("BBB-USD")
    assert out.entries[300, a]  # 20, 60 and 120 days up
    assert not out.entries[99, a]  # flat for 120 days: a zero return is not momentum
    assert x["momentum_60"][300, b] > 0 and x["momentum_20"][300, b] < 0
    assert not out.entries[300, b]  # the last 20 days fell: one window down is enough
    tags = CryptoBucket().explain(ctx, bars, out, "AAA-USD", 300)
    assert "entry: 20/60/120-day momentum all positive" in tags and "BTC regime on" in tags
    # the windows follow momentum_window: its sixth, its half and itself
    out90 = CryptoBucket().compute(ctx, bars, Params(**{**PRIOR, "momentum_window": 90}))
    assert {k for k in out90.extras if k.startswith("momentum_")} == {
        "momentum_15",
        "momentum_45",
        "momentum_90",
    }


def test_regime_gate_needs_btc_above_a_rising_average():
    t = np.arange(400)
    # up for 200 days, down for 100, then a sharp rally above the (still falling) average
    btc = np.exp(
        np.where(t < 200, 0.01 * t, np.where(t < 300, 2 - 0.01 * (t - 200), 1 + 0.02 * (t - 300)))
    )
    plain = signals.regime(btc, 100)
    sloped = signals.regime(btc, 100, slope=20)
    avg = pd.Series(btc).rolling(100).mean().to_numpy()
    above = btc > avg
    rising = avg > np.roll(avg, 20)
    np.testing.assert_array_equal(plain[100:], above[100:].astype(float))
    np.testing.assert_array_equal(sloped[120:], (above & rising)[120:].astype(float))
    assert not plain[:99].any() and not sloped[:119].any()  # no average yet: risk-off
    first_above = 300 + int(np.argmax(above[300:]))
    assert plain[first_above] == 1.0 and sloped[first_above] == 0.0  # a bear-market rally
    assert sloped[399] == 1.0  # the average turned up: risk-on again


def test_regime_off_blocks_entries_and_tightens_the_chandelier():
    bars, ctx = _trending()
    close = bars.close.copy()
    t = np.arange(len(close))
    close[250:, 0] = close[250, 0] * np.exp(-0.02 * (t[250:] - 250))  # BTC breaks down
    bars = bars.with_fields(open=close, high=close * 1.01, low=close * 0.99, close=close)
    caps = _caps(bars, {"BTC": 1e12, "AAA": 1e10, "BBB": 1e9, "CCC": 1e8})
    ctx = memory_context(InMemorySource(bars, market_caps=caps), bars.index[-1].date())
    p = Params(**PRIOR, chandelier_atr=3.5)
    out = CryptoBucket().compute(ctx, bars, p)
    off = np.flatnonzero(out.regime[200:] == 0) + 200
    assert len(off) and not out.entries[off].any()
    a = bars.column("AAA-USD")
    x = out.extras
    hh = pd.Series(bars.high[:, a]).rolling(22).max().to_numpy()
    r_on, r_off = 240, int(off[-1])
    assert out.regime[r_on] == 1.0
    assert x["chandelier"][r_on, a] == pytest.approx(hh[r_on] - 3.5 * x["atr"][r_on, a])
    assert x["chandelier"][r_off, a] == pytest.approx(hh[r_off] - RISK_OFF_ATR * x["atr"][r_off, a])
    tags = CryptoBucket().explain(ctx, bars, out, "AAA-USD", r_off)
    assert "BTC regime off" in tags


def test_chandelier_exit_on_a_close_under_the_stop():
    bars, ctx = _trending()
    close = bars.close.copy()
    a = bars.column("AAA-USD")
    close[300:, a] = close[299, a] * 0.8  # a 20% drop: far under 3.5 ATR of a 2% range
    bars = bars.with_fields(open=close, high=close * 1.01, low=close * 0.99, close=close)
    caps = _caps(bars, {"BTC": 1e12, "AAA": 1e10, "BBB": 1e9, "CCC": 1e8})
    ctx = memory_context(InMemorySource(bars, market_caps=caps), bars.index[-1].date())
    out = CryptoBucket().compute(ctx, bars, Params(**PRIOR))
    level = out.extras["chandelier"]
    with np.errstate(invalid="ignore"):
        np.testing.assert_array_equal(out.exits, bars.close <= level)
    assert not out.exits[299, a] and out.exits[300, a]
    assert np.isnan(out.stop[300, a])  # no stop level at or above the close is handed on
    assert out.stop[299, a] < bars.close[299, a]
    tags = CryptoBucket().explain(ctx, bars, out, "AAA-USD", 300)
    assert any(tg.startswith("exit: close") and "under the chandelier stop" in tg for tg in tags)


@pytest.mark.parametrize(
    "params",
    [Params(), Params(top_n=6, slots=2, momentum_window=60, regime_window=50, regime_slope=0)],
)
def test_no_lookahead(params):
    bars, ctx = _trending()
    assert lookahead_audit(CryptoBucket(), ctx, bars, params, cut_points=[130, 200, 290, 318])


def test_shipped_parameters_are_the_defaults():
    doc = shipped_defaults(CryptoBucket())
    assert doc["bucket_version"] == __version__ and doc["params"] == attrs.asdict(Params())
    assert doc["n_trials"] > 100 and doc["data_fingerprint"] and doc["report"].endswith(".json")
    assert doc["research"]["out_of_sample"]["sharpe"] is not None
