"""A hand-built daily run (two buckets, every action, blockers, warnings, news, a portfolio)."""

from __future__ import annotations

import datetime as dt

import pytest

from tsys import plugins
from tsys.contracts import (
    Allocation,
    Blocker,
    BucketRun,
    Constraint,
    DailyRun,
    DeliveryResult,
    NewsItem,
    PortfolioSnapshot,
    Signal,
    StopRule,
    TradePlan,
)
from tsys.testing.positions import sample_position

AS_OF = dt.date(2024, 5, 3)
TS = dt.datetime(2024, 5, 3, 20, 0, tzinfo=dt.UTC)
HOSTILE_SYMBOL = "<script>alert(1)</script>"
HOSTILE_RATIONALE = 'breakout <img src=x onerror="alert(2)"> & "quotes"'


def _signal(
    symbol,
    bucket,
    *,
    asset="equity",
    side="buy",
    intent="enter_next_open",
    score=0.5,
    rationale=(),
    news=(),
):
    return Signal(
        symbol=symbol,
        asset_class=asset,
        timestamp=TS,
        side=side,
        intent=intent,
        score=score,
        bucket=bucket,
        strategy_version="1.0",
        rationale=rationale,
        news=news,
    )


def _plan(
    signal,
    action,
    dollars,
    weight,
    qty,
    *,
    entry="MOO",
    limit=None,
    stop=None,
    target=None,
    constraints=(),
    time_stop=None,
):
    alloc = Allocation(
        signal=signal, dollars=dollars, weight=weight, quantity=qty, constraints=constraints
    )
    return TradePlan(
        allocation=alloc,
        action=action,
        entry=entry,
        client_order_id=f"tsys-{signal.bucket}-{signal.symbol}-{action}",
        valid_until=TS + dt.timedelta(days=1),
        limit_price=limit,
        stop=stop,
        take_profit=target,
        time_stop_bars=time_stop,
    )


def make_run(*, synthetic: bool = True, hostile: bool = False) -> DailyRun:
    aapl = _signal(
        "AAPL",
        "sp500",
        score=0.8234,
        rationale=("20-day breakout", "RSI 61"),
        news=(
            NewsItem(
                title="Apple beats estimates",
                url="https://news.test/aapl",
                sentiment=0.42,
                source="Reuters",
            ),
            NewsItem(title="Sneaky link", url="javascript:alert(3)", sentiment=-0.1),
        ),
    )
    msft = _signal("MSFT", "sp500", score=0.7, rationale=("trend up",))
    xom = _signal(
        "XOM", "sp500", side="sell", intent="exit_next_open", score=-0.4, rationale=("stop hit",)
    )
    jnj = _signal("JNJ", "sp500", score=0.3, rationale=("still trending",))
    nvda = _signal("NVDA", "sp500", intent="watch", score=0.45, rationale=("near breakout",))
    sp_plans = [
        _plan(
            aapl,
            "buy",
            12345.67,
            0.1234567,
            45,
            stop=StopRule(kind="fixed", price=180.5),
            target=210.0,
            time_stop=20,
            constraints=(
                Constraint(
                    name="sector cap",
                    detail="technology at 30%",
                    dollars_before=15000,
                    dollars_after=12345.67,
                ),
            ),
        ),
        _plan(
            msft,
            "buy",
            8000.0,
            0.08,
            19,
            entry="LIMIT",
            limit=410.25,
            stop=StopRule(kind="atr_trailing", atr_multiple=3.0),
        ),
        _plan(xom, "sell", 5432.1, 0.054321, 46),
        _plan(jnj, "hold", 3000.0, 0.03, 20, stop=StopRule(kind="fixed", price=140.0)),
    ]
    if hostile:
        # A symbol cannot hold markup any more (the symbol grammar, issue 21.2): the hostile
        # text rides in the rationale, which is free text.
        evil = _signal(
            "EVIL", "sp500", score=0.1, rationale=(f"{HOSTILE_SYMBOL} {HOSTILE_RATIONALE}",)
        )
        sp_plans.append(_plan(evil, "buy", 100.0, 0.001, 1))
    sp500 = BucketRun(
        bucket="sp500",
        version="1.0",
        asset_class="equity",
        as_of=AS_OF,
        regime="risk-on",
        signals=(aapl, msft, xom, jnj, nvda),
        allocations=tuple(p.allocation for p in sp_plans),
        plans=tuple(sp_plans),
        blockers=(
            Blocker(symbol="TSLA", bucket="sp500", reason="earnings in 2 days", kind="earnings"),
        ),
        warnings=("3 symbols had gaps in their bars",),
        validated=True,
    )
    btc = _signal("BTC-USD", "crypto", asset="crypto", score=1.25, rationale=("momentum",))
    eth = _signal("ETH-USD", "crypto", asset="crypto", intent="watch", score=0.2)
    doge = _signal("DOGE-USD", "crypto", asset="crypto", score=0.1)
    crypto_plans = [
        _plan(
            btc,
            "buy",
            7654.32,
            0.0765432,
            0.12345678,
            stop=StopRule(kind="fixed", price=58000.0),
            target=72000.0,
        ),
        _plan(doge, "watch", 0.0, 0.0, 0.0),
    ]
    crypto = BucketRun(
        bucket="crypto",
        version="0.3",
        asset_class="crypto",
        as_of=AS_OF,
        regime="neutral",
        signals=(btc, eth, doge),
        allocations=tuple(p.allocation for p in crypto_plans),
        plans=tuple(crypto_plans),
        blockers=(Blocker(symbol="LUNA-USD", bucket="crypto", reason="delisting risk"),),
        validated=False,
        error="market-cap source timed out; ranking from yesterday",
    )
    positions = tuple(
        sample_position(
            sym, qty, entry, id=pid, source=src, opened_at=TS - dt.timedelta(days), **more
        )
        for pid, src, sym, qty, entry, days, more in (
            ("p1", "paper", "JNJ", 20, 150.0, 10, {"stop": 140.0, "bucket": "sp500"}),
            ("m1", "manual", "SOL-USD", 1.5, 140.0, 3, {"stop": 120.0, "bucket": "crypto"}),
            ("s1", "system", "XOM", 46, 118.0, 30, {}),
        )
    )
    portfolio = PortfolioSnapshot(
        as_of=TS,
        account_equity=100000.0,
        cash=61234.5,
        positions=positions,
        exposure_by_bucket={"sp500": 23456.78, "crypto": 7890.12},
        exposure_by_asset_class={"equity": 23456.78, "crypto": 7890.12},
        exposure_by_sector={"Technology": 12345.67, "Energy": 5432.1},
        open_risk=1234.56,
    )
    return DailyRun(
        as_of=AS_OF,
        created_at=TS,
        config_digest="0123456789abcdef",
        buckets=(sp500, crypto),
        portfolio=portfolio,
        warnings=("data source 'demo' is synthetic",),
        synthetic_data=synthetic,
        deliveries=(
            DeliveryResult(
                plugin="email", ok=False, detail="smtp.test:587 said 451 try later", at=TS
            ),
        ),
    )


@pytest.fixture
def run() -> DailyRun:
    return make_run()


@pytest.fixture
def isolated_plugins():
    """A plugin manager with only the built-ins; tests register their own plugins on it."""
    pm = plugins.build_plugin_manager(load_entrypoints=False)
    plugins.reset_plugin_manager(pm)
    yield pm
    plugins.reset_plugin_manager(None)
