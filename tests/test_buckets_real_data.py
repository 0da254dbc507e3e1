"""Both buckets end to end on the real data in ../shared/data: backtest and a daily plan.

Skipped, with the reason, when the shared data folder is absent.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from tsys.testing import shared_data_dir

SHARED = shared_data_dir()
pytestmark = [
    pytest.mark.shared_data,
    pytest.mark.skipif(SHARED is None, reason="../shared/data is absent (real-data tests skipped)"),
]


@pytest.fixture(scope="module")
def hub_and_config(tmp_path_factory):
    from tsys.config import config_from_dict
    from tsys.data.sources import open_hub

    config = config_from_dict({"data_dir": str(tmp_path_factory.mktemp("data"))})
    return open_hub(config, shared_data=SHARED, extras=False), config


def test_sp500_backtest_trades_point_in_time_members_only(hub_and_config):
    from tsys import plugins
    from tsys.backtest.bucket import backtest_bucket

    hub, config = hub_and_config
    bucket = plugins.buckets().get("sp500")
    members = bucket.Params(mode="members")  # the stock-picking mode (the default is the book)
    bt = backtest_bucket(
        bucket, hub, config, params=members, start=dt.date(2014, 1, 1), end=dt.date(2016, 12, 31)
    )
    payload = bt.to_json()
    assert payload["benchmark"] == "SPY" and payload["synthetic"] is False
    assert len(bt.trades) > 20
    assert -1.0 < bt.metrics["max_drawdown"] <= 0 and 0 <= bt.metrics["exposure"] <= 1.0
    # every entry was an index member in the month it was bought
    for row in bt.trades.itertuples():
        day = bt.index[row.entry_bar].date()
        first_of_month = pd.Timestamp(day).replace(day=1).date()
        sessions = bt.index[bt.index >= pd.Timestamp(first_of_month, tz="UTC")]
        members = hub.universe("sp500", sessions[0].date())
        # the decision was at the previous close; it may fall in the previous month
        prev = hub.universe("sp500", (pd.Timestamp(first_of_month) - pd.Timedelta(days=1)).date())
        assert row.symbol in set(members) | set(prev), (row.symbol, day)
        assert row.symbol not in {"SPY", "XLK", "XLF", "XLE", "QQQ", "IWM"}


def test_crypto_backtest_and_daily_plan(hub_and_config):
    from tsys import plugins
    from tsys.backtest.bucket import backtest_bucket
    from tsys.buckets import BucketContext
    from tsys.contracts import Action, EntryMethod
    from tsys.portfolio import build_allocations
    from tsys.testing.positions import sample_position

    hub, config = hub_and_config
    bucket = plugins.buckets().get("crypto")
    bt = backtest_bucket(bucket, hub, config, start=dt.date(2019, 1, 1), end=dt.date(2021, 6, 30))
    traded = set(bt.trades["symbol"])
    assert traded and not traded & {"USDT-USD", "USDC-USD", "DAI-USD", "WBTC-USD"}
    assert bt.benchmark_metrics["exposure"] > 0.95

    as_of = dt.date(2021, 6, 30)
    params = bucket.default_params()
    ctx = BucketContext(as_of=as_of, data=hub, settings=config.bucket("crypto"), params=params)
    universe = bucket.universe(ctx)
    assert len(universe) >= 10 and "BTC-USD" in universe
    bars = hub.bars(universe, dt.date(2020, 1, 1), as_of, asset_class="crypto")
    out = bucket.compute(ctx, bars, params)
    opened = dt.datetime(2021, 1, 1, tzinfo=dt.UTC)
    held = sample_position("ETH-USD", 1.0, 700.0, id="m1", opened_at=opened, bucket="crypto")
    res = build_allocations(
        bucket,
        ctx,
        bars,
        out,
        config.bucket("crypto"),
        config.risk,
        config.overrides,
        equity=100_000.0,
        holdings=[held],
        params=params,
    )
    eth = [p for p in res.plans if p.symbol == "ETH-USD"]
    assert len(eth) == 1 and eth[0].action is Action.HOLD  # manual: never a SELL plan
    for p in res.plans:
        assert p.client_order_id.startswith("tsys-crypto-20210630-")
        if p.action is Action.BUY:
            assert p.entry is EntryMethod.MKT and p.allocation.quantity > 0
            assert p.stop is not None and p.stop.price < bars.close[-1, bars.column(p.symbol)]
