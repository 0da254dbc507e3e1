"""The Alpaca data source through the real alpaca-py data clients, with pagination."""

import datetime as dt

import numpy as np
import pytest
from fake_alpaca import KEY, SECRET

from tsys.errors import DataError


def _bars(fake, symbol, days, base, hour):
    out = []
    for k in range(days):
        t = dt.datetime(2024, 5, 1, hour, tzinfo=dt.UTC) + dt.timedelta(days=k)
        px = base + k
        out.append(
            {
                "t": t.isoformat().replace("+00:00", "Z"),
                "o": px,
                "h": px + 1,
                "l": px - 1,
                "c": px + 0.5,
                "v": 1000 + k,
                "n": 10,
                "vw": px,
            }
        )
    fake.bars[symbol] = out


def test_stock_and_crypto_bars_paginate(fake):
    from tsys_broker_alpaca.data import AlpacaDataSource

    _bars(fake, "AAPL", 7, 100.0, 4)  # stamped at New York midnight (04:00Z in May)
    _bars(fake, "BTC/USD", 7, 60_000.0, 0)
    fake.page_size = 3
    src = AlpacaDataSource(base_url=fake.url, api_key=KEY, secret_key=SECRET)
    bars = src.bars(["AAPL", "BTC-USD"], dt.date(2024, 5, 1), dt.date(2024, 5, 6))
    assert bars.symbols == ("AAPL", "BTC-USD")
    assert [d.date() for d in bars.index] == [dt.date(2024, 5, d) for d in range(1, 7)]
    assert np.allclose(bars.open[:, 0], 100.0 + np.arange(6))
    assert np.allclose(bars.close[:, 1], 60_000.5 + np.arange(6))
    pages = [p for m, p in fake.requests if p in ("/v2/stocks/bars", "/v1beta3/crypto/us/bars")]
    # Asked up to 2024-05-07T00:00Z: 6 stock bars (04:00Z stamps) in pages of 3, and 7 crypto
    # bars (00:00Z stamps; the 7th is cut afterwards) in 3 pages.
    assert pages.count("/v2/stocks/bars") == 2
    assert pages.count("/v1beta3/crypto/us/bars") == 3


def test_stock_bars_need_keys_crypto_do_not(fake):
    from tsys_broker_alpaca.data import AlpacaDataSource

    _bars(fake, "BTC/USD", 2, 60_000.0, 0)
    src = AlpacaDataSource(base_url=fake.url)
    assert src.bars(["BTC-USD"], dt.date(2024, 5, 1), dt.date(2024, 5, 2)).shape == (2, 1)
    with pytest.raises(DataError, match="ALPACA_API_KEY"):
        src.bars(["AAPL"], dt.date(2024, 5, 1), dt.date(2024, 5, 2))


def test_sip_refusal_explains(fake):
    from tsys_broker_alpaca.data import AlpacaDataSource

    fake.sip_allowed = False
    src = AlpacaDataSource(feed="sip", base_url=fake.url, api_key=KEY, secret_key=SECRET)
    with pytest.raises(DataError, match="SIP") as ei:
        src.bars(["AAPL"], dt.date(2024, 5, 1), dt.date(2024, 5, 2))
    assert "iex" in str(ei.value)


def test_bars_come_through_the_cache_one_request_per_missing_range(fake, tmp_path):
    from tsys_broker_alpaca.data import AlpacaDataSource

    _bars(fake, "AAPL", 20, 100.0, 4)
    _bars(fake, "MSFT", 20, 300.0, 4)
    _bars(fake, "BTC/USD", 20, 60_000.0, 0)
    src = AlpacaDataSource(
        base_url=fake.url, api_key=KEY, secret_key=SECRET, cache_dir=str(tmp_path / "bars")
    )
    wanted = ["AAPL", "MSFT", "BTC-USD"]
    cold = src.bars(wanted, dt.date(2024, 5, 1), dt.date(2024, 5, 10))
    firsts = [q for q in fake.bar_queries if "page_token" not in q]
    # one request per asset class for the whole (cold) range, not one per symbol
    assert len(firsts) == 2
    assert sorted(firsts[0]["symbols"].split(",") + firsts[1]["symbols"].split(",")) == [
        "AAPL",
        "BTC/USD",
        "MSFT",
    ]

    fake.bar_queries.clear()
    warm = src.bars(wanted, dt.date(2024, 5, 1), dt.date(2024, 5, 10))
    assert fake.bar_queries == []  # old dates are settled: nothing asked again
    for f in ("open", "high", "low", "close", "volume"):
        assert np.array_equal(getattr(cold, f), getattr(warm, f), equal_nan=True)

    longer = src.bars(wanted, dt.date(2024, 5, 1), dt.date(2024, 5, 15))
    firsts = [q for q in fake.bar_queries if "page_token" not in q]
    assert len(firsts) == 2  # only the tail, again one request per asset class
    assert all(q["start"].startswith("2024-05-11") for q in firsts)
    assert longer.index[-1].date() == dt.date(2024, 5, 15)
    assert np.allclose(longer.close[:10, 0], cold.close[:, 0])
