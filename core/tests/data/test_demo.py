"""The synthetic demo market: determinism, no look-ahead by construction, realism."""

from __future__ import annotations

import datetime as dt
import pickle

import numpy as np
import pandas as pd
import pytest

from tsys.data import demo, demo_market
from tsys.data.bars import FIELDS
from tsys.data.demo import DemoSource
from tsys.data.source import EARNINGS_COLUMNS, FLOW_COLUMNS, NEWS_COLUMNS

END1 = dt.date(2019, 6, 28)
END2 = dt.date(2021, 3, 31)


@pytest.fixture(scope="module")
def src() -> DemoSource:
    return DemoSource(7, as_of=END2)


@pytest.fixture(scope="module")
def bars(src):
    return src.bars(None, dt.date(2016, 1, 1), END2, asset_class="equity")


def log_returns(a: np.ndarray) -> np.ndarray:
    return np.diff(np.log(a), axis=0)


def test_same_seed_identical_arrays_after_regeneration():
    first = demo_market._generate_market(11, dt.date(2015, 12, 31))
    second = demo_market._generate_market(11, dt.date(2015, 12, 31))
    assert first is not second
    for f in FIELDS:
        assert np.array_equal(
            getattr(first.equities, f), getattr(second.equities, f), equal_nan=True
        )
        assert np.array_equal(getattr(first.crypto, f), getattr(second.crypto, f), equal_nan=True)
    other = demo_market._generate_market(12, dt.date(2015, 12, 31))
    assert not np.allclose(other.equities.close[-1, :10], first.equities.close[-1, :10])


def test_longer_generation_is_a_pure_extension():
    """What lets one cached market serve every earlier end date."""
    short = demo_market._generate_market(13, dt.date(2012, 12, 31))
    long = demo_market._generate_market(13, dt.date(2014, 12, 31))
    for panel in ("equities", "crypto"):
        a, b = getattr(short, panel), getattr(long, panel)
        n = len(a.index)
        assert b.index[:n].equals(a.index)
        for f in FIELDS:
            assert np.array_equal(getattr(b, f)[:n], getattr(a, f), equal_nan=True), (panel, f)
    assert demo.generate_market(13, dt.date(2014, 12, 31)).horizon >= dt.date(2014, 12, 31)
    assert demo.generate_market(13, dt.date(2013, 12, 31)) is demo.generate_market(
        13, dt.date(2014, 12, 31)
    )


def test_equities_made_in_chunks_equal_one_pass_over_all_rows():
    """The generation runs a chunk of rows at a time (so only the kept panels are T x N); its
    streams and recursions carry over, so one pass over every row gives the same bits."""
    horizon = dt.date(2003, 12, 31)  # 1,004 sessions: chunks of 256 and a shorter last one
    _, chunked, earnings, members, sigma = demo_market._generate_equities(5, horizon)
    _, whole, earnings1, members1, sigma1 = demo_market._generate_equities(5, horizon, 1 << 20)
    _, twice, *_ = demo_market._generate_equities(5, horizon, 2 * demo_market._BLOCK)
    assert len(chunked.index) > 3 * demo_market._BLOCK
    for f in FIELDS:
        assert np.array_equal(getattr(chunked, f), getattr(whole, f), equal_nan=True), f
        assert np.array_equal(getattr(twice, f), getattr(whole, f), equal_nan=True), f
    assert np.array_equal(sigma, sigma1) and np.array_equal(earnings, earnings1)
    assert members == members1 and chunked.symbols == whole.symbols


def test_crypto_alone_generates_no_equities():
    """A crypto bucket's market caps, bars and fundamentals leave the 540 equities ungenerated;
    the crypto is the same as next to them."""
    src = DemoSource(17, as_of=dt.date(2019, 6, 30))
    caps = src.market_caps(None, dt.date(2019, 6, 30))
    coins = src.bars(["BTC-USD", "ETH-USD"], None, dt.date(2019, 6, 30))
    fund = src.fundamentals(["BTC-USD"])
    mk = src.market()
    assert mk._equity_part is None and caps.shape[1] == len(demo_market.COINS)
    both = demo_market._generate_market(17, mk.horizon)
    assert both.equities.shape[0] > 0  # the equities first, then the crypto
    for f in FIELDS:
        assert np.array_equal(getattr(both.crypto, f), getattr(mk.crypto, f), equal_nan=True)
    assert coins.symbols == ("BTC-USD", "ETH-USD") and fund["BTC-USD"].market_cap > 0
    copy = pickle.loads(pickle.dumps(mk))  # a market still pickles (its lock is per process)
    assert np.array_equal(copy.crypto.close, mk.crypto.close, equal_nan=True)


def test_later_end_only_appends(src):
    short = src.bars(None, dt.date(2015, 1, 1), END1)
    long = src.bars(None, dt.date(2015, 1, 1), END2)
    assert short.index[-1] <= pd.Timestamp(END1, tz="UTC")
    assert long.index[-1] > pd.Timestamp(END1, tz="UTC")
    n = len(short.index)
    assert long.index[:n].equals(short.index)
    assert long.symbols == short.symbols
    for f in FIELDS:
        assert np.array_equal(getattr(long, f)[:n], getattr(short, f), equal_nan=True), f


def test_never_returns_data_after_end(src):
    end = dt.date(2020, 3, 15)  # a Sunday: equities end Friday, crypto on the day
    b = src.bars(["SPY", "BTC-USD"], dt.date(2020, 3, 1), end)
    assert b.index[-1] == pd.Timestamp(end, tz="UTC")
    spy = b.symbol_frame("SPY")
    assert spy.index[-1] == pd.Timestamp("2020-03-13", tz="UTC")
    assert b.index[0] == pd.Timestamp("2020-03-01", tz="UTC")


def test_default_history_is_twenty_years(src):
    b = src.bars(["SPY"], None, END2)
    assert b.index[0] >= pd.Timestamp("2001-03-31", tz="UTC")
    assert b.index[0] <= pd.Timestamp("2001-04-05", tz="UTC")


def test_labelled_synthetic(src):
    b = src.bars(["SPY"], dt.date(2020, 1, 1), END2)
    assert b.synthetic is True and b.source == "demo (synthetic, seed 7)"
    assert DemoSource.synthetic is True and DemoSource.name == "demo"


def test_equities_follow_nyse_sessions(bars):
    from tsys.data import calendars

    expected = calendars.sessions(bars.index[0].date(), END2)
    assert list(bars.index.tz_localize(None)) == list(expected)
    assert pd.Timestamp("2020-07-03", tz="UTC") not in bars.index  # Independence Day observed


def test_crypto_trades_every_day_and_stablecoins_hold_one_dollar(src):
    b = src.bars(None, dt.date(2020, 1, 1), END2, asset_class="crypto")
    assert (b.index.to_series().diff().iloc[1:] == pd.Timedelta(days=1)).all()
    for s in ("USDT-USD", "USDC-USD", "DAI-USD"):
        c = b.close[:, b.column(s)]
        assert np.nanmax(np.abs(c - 1.0)) < 0.01, s
    btc, wbtc = b.close[:, b.column("BTC-USD")], b.close[:, b.column("WBTC-USD")]
    assert np.nanmax(np.abs(wbtc / btc - 1)) < 0.01
    assert src.excluded_coins() == {"USDT-USD", "USDC-USD", "DAI-USD", "WBTC-USD"}
    assert len(b.symbols) >= 25


def test_realistic_volatility_and_price_levels(src, bars):
    n = demo_market.N_EQUITIES
    r = log_returns(bars.close[:, :n])
    vol = np.nanstd(r, axis=0) * np.sqrt(252)
    assert 0.18 < np.median(vol) < 0.45
    assert np.percentile(vol, 5) > 0.10 and np.percentile(vol, 95) < 0.80
    spy = log_returns(bars.close[:, bars.column("SPY")])
    assert 0.08 < spy.std() * np.sqrt(252) < 0.30
    last = bars.close[-1, :n]
    assert np.nanpercentile(last, 2) > 5 and np.nanpercentile(last, 98) < 800
    dollar = np.nanmedian(bars.close[-250:, :n] * bars.volume[-250:, :n], axis=0)
    assert 1e6 < np.median(dollar) < 2e9
    crypto = src.bars(None, dt.date(2020, 1, 1), END2, asset_class="crypto")
    # Coins listed for the whole window (SHIB lists in 2021), minus stablecoins and wrappers.
    coins = [
        s
        for s in crypto.symbols
        if s not in demo.EXCLUDED_COINS and not np.isnan(crypto.close[0, crypto.column(s)])
    ]
    cvol = np.nanstd(log_returns(crypto.select(coins).close), axis=0) * np.sqrt(365)
    assert np.median(cvol) > 2 * np.median(vol)


def test_fat_tails_and_volatility_clustering(bars):
    spy = log_returns(bars.close[:, bars.column("SPY")])
    z = (spy - spy.mean()) / spy.std()
    assert (z**4).mean() > 3.5  # normal: 3
    # Volatility clustering: big days follow big days (absolute returns autocorrelate).
    a = np.abs(z)
    assert np.corrcoef(a[:-1], a[1:])[0, 1] > 0.05
    assert np.corrcoef(a[:-5], a[5:])[0, 1] > 0.05
    stock = log_returns(bars.close[:, :50])
    zs = (stock - np.nanmean(stock, axis=0)) / np.nanstd(stock, axis=0)
    assert np.nanmean(zs**4) > 4


def test_sector_correlation_exceeds_cross_sector(src, bars):
    n = demo_market.N_EQUITIES
    r = pd.DataFrame(log_returns(bars.close[-500:, :n])).fillna(0.0).to_numpy()
    corr = np.corrcoef(r.T)
    fund = src.fundamentals(bars.symbols[:n])
    sector = np.array([fund[s].sector for s in bars.symbols[:n]])
    same = sector[:, None] == sector[None, :]
    off = ~np.eye(n, dtype=bool)
    assert corr[same & off].mean() > corr[~same].mean() + 0.05
    assert corr[~same].mean() > 0.05  # the market factor


def test_etfs_track_their_constituents(src, bars):
    n = demo_market.N_EQUITIES
    fund = src.fundamentals(bars.symbols[:n])
    r = log_returns(bars.close[-300:])
    xlk = r[:, bars.column("XLK")]
    tech = [j for j, s in enumerate(bars.symbols[:n]) if fund[s].sector == "Information Technology"]
    assert np.corrcoef(xlk, np.nanmean(r[:, tech], axis=1))[0, 1] > 0.9
    spy = r[:, bars.column("SPY")]
    assert np.corrcoef(spy, np.nanmean(r[:, :n], axis=1))[0, 1] > 0.9


def test_validation_clean_except_halts(src):
    report = src.validate(END2)
    assert {i.rule for i in report.issues} == {"gap"}
    mk = src.market(END2)
    n = demo_market.N_EQUITIES
    # Every gap is a halt: a session inside the symbol's history without a bar.
    halted_cells = int(np.isnan(mk.equities.close[:, :n]).sum())
    assert sum(i.count for i in report.issues) == halted_cells > 0
    years = END2.year - demo.EPOCH.year + 1
    assert years <= len(report.issues) <= 3 * years


def test_a_load_validates_the_columns_it_returns():
    """The report of a load covers its symbols, not the 580 columns of the whole market."""
    src = DemoSource(7, as_of=END2)
    whole = src.validate(END2)
    halted = whole.issues[0].symbol
    src.bars([halted, "SPY", "BTC-USD"], dt.date(2020, 1, 1), END2)
    assert src.report.issues == whole.for_symbol(halted)
    src.bars(["SPY", "BTC-USD"], dt.date(2020, 1, 1), END2)
    assert src.report.issues == [] and src.report.symbols == 2 < whole.symbols


def test_ohlc_consistent(bars):
    o, h, low, c = bars.open, bars.high, bars.low, bars.close
    ok = ~np.isnan(c)
    assert (h[ok] >= np.maximum(o[ok], c[ok])).all()
    assert (low[ok] <= np.minimum(o[ok], c[ok])).all()
    assert (low[ok] > 0).all() and (bars.volume[ok] > 0).all()


def test_point_in_time_sp500_membership(src):
    changes = src.membership_changes(END2)
    per_year = len(changes) / (END2.year - demo.EPOCH.year + 1)
    assert 1 <= per_year <= 4
    d = changes[-1]
    before = set(src.universe("sp500", d - dt.timedelta(days=1)))
    after = set(src.universe("sp500", d))
    assert before != after and len(before) == len(after) == demo_market.N_MEMBERS
    assert 1 <= len(after - before) <= 3
    assert src.universe("nasdaq100", d) is None


def test_fundamentals_include_low_float_names(src):
    fund = src.fundamentals(demo._tickers())
    floats = np.array([f.shares_float for f in fund.values()])
    assert (floats < 20e6).sum() >= 10
    sectors = {f.sector for f in fund.values()}
    assert len(sectors) == 11
    f = next(iter(fund.values()))
    assert f.market_cap == pytest.approx(f.shares_outstanding * _last_close(src, f.symbol))
    coin = src.fundamentals(["BTC-USD"])["BTC-USD"]
    assert coin.market_cap > 0


def _last_close(src, symbol):
    b = src.bars([symbol], END2 - dt.timedelta(days=10), END2)
    return b.symbol_frame(symbol)["close"].iloc[-1]


def test_market_caps_rank_crypto(src):
    caps = src.market_caps(dt.date(2021, 1, 1), END2)
    assert caps.index[-1] == pd.Timestamp(END2, tz="UTC")
    last = caps.iloc[-1].dropna().sort_values(ascending=False)
    assert last.index[0] == "BTC-USD"
    assert {"USDT-USD", "WBTC-USD"} <= set(last.index)


def test_news_rows(src):
    syms = list(demo._tickers()[:20])
    news = src.news(syms, dt.date(2021, 1, 1), END2)
    assert list(news.columns) == list(NEWS_COLUMNS)
    assert len(news) > 50
    assert news["sentiment"].between(-1, 1).all()
    assert news["title"].str.startswith("[synthetic]").all() and (news["url"] == "").all()
    assert news["date"].min() >= pd.Timestamp("2021-01-01", tz="UTC")
    # Sentiment leans with the day's move.
    b = src.bars(syms, dt.date(2020, 12, 1), END2)
    ret = pd.DataFrame(log_returns(b.close), index=b.index[1:], columns=list(b.symbols))
    moves = [ret.at[r.date, r.symbol] for r in news.itertuples()]
    assert np.corrcoef(moves, news["sentiment"])[0, 1] > 0.3
    again = src.news(syms, dt.date(2021, 1, 1), END2)
    pd.testing.assert_frame_equal(news, again)


def test_earnings_quarterly_and_upcoming(src):
    syms = list(demo._tickers()[:30])
    e = src.earnings(syms, dt.date(2020, 1, 1), dt.date(2020, 12, 31))
    assert list(e.columns) == list(EARNINGS_COLUMNS)
    counts = e.groupby("symbol").size()
    assert set(counts.index) == set(syms) and counts.between(3, 5).all()
    upcoming = src.earnings(syms, END2, END2 + dt.timedelta(days=60))
    assert len(upcoming) >= 10 and (upcoming["date"] > pd.Timestamp(END2, tz="UTC")).all()


def test_options_flow(src):
    flow = src.options_flow(dt.date(2021, 3, 1), END2)
    assert list(flow.columns) == list(FLOW_COLUMNS)
    assert 30 < len(flow) < 200
    assert set(flow["option_type"]) <= {"call", "put"} and (flow["premium"] > 0).all()
    assert set(flow["symbol"]) <= set(demo._tickers())
    pd.testing.assert_frame_equal(flow, src.options_flow(dt.date(2021, 3, 1), END2))


def test_from_config_rejects_unknown_options(tmp_path):
    from tsys.data.source import SourceContext
    from tsys.errors import ConfigError

    with pytest.raises(
        ConfigError, match=r"unknown option 'colour' @ \$\.data\.options\.demo\.colour"
    ):
        DemoSource.from_config({"colour": "red"}, SourceContext(cache_dir=tmp_path))
    s = DemoSource.from_config(
        {"as_of": dt.date(2024, 5, 3), "history_years": 2}, SourceContext(cache_dir=tmp_path)
    )
    assert s.as_of == dt.date(2024, 5, 3) and s.history_years == 2.0
    s = DemoSource.from_config({"seed": 3}, SourceContext(cache_dir=tmp_path))
    assert s.seed == 3


def test_index_series_kept_on_disk_are_the_generated_ones(tmp_path, monkeypatch):
    """A daily run of the trend book reads SPY, TLT and GLD from the source's cache folder
    instead of generating the 540 equities again: the same bits, the same panel."""
    from tsys.data import demo_cache
    from tsys.data.source import SourceContext

    end, wanted = dt.date(2005, 6, 30), ["TLT", "SPY", "XLK", "GLD"]
    monkeypatch.setattr(demo_market, "_MARKETS", {})
    first = DemoSource(23, as_of=end, ctx=SourceContext(cache_dir=tmp_path))
    made = first.bars(wanted, None, end)  # generates, then keeps the series
    assert first.market().has_equities and len(list(tmp_path.glob("*.npz"))) == 1

    monkeypatch.setattr(demo_market, "_MARKETS", {})  # as in a new process
    second = DemoSource(23, as_of=end, ctx=SourceContext(cache_dir=tmp_path))
    kept = second.bars(wanted, None, end)
    assert not second.market().has_equities
    assert kept.index.equals(made.index) and kept.symbols == made.symbols
    for f in FIELDS:
        assert np.array_equal(getattr(kept, f), getattr(made, f), equal_nan=True), f
    assert kept.asset_classes == made.asset_classes and kept.source == made.source

    # Any other symbol, or another seed or horizon, generates as before.
    assert demo_cache.read_series(tmp_path, 23, dt.date(2006, 12, 31)) is None
    second.bars(["SPY", demo_market._tickers()[0]], None, end)
    assert second.market().has_equities
    path = next(tmp_path.glob("*.npz"))
    path.write_bytes(b"not a zip")  # a damaged file is ignored, never an error
    assert demo_cache.read_series(tmp_path, 23, second.market().horizon) is None
