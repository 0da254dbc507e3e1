"""Market-on-open plans of a bucket "b" and the daily runs that carry them, for tests of the
local paper broker (here and in core/tests/daily)."""

import datetime as dt

from tsys.contracts import Allocation, BucketRun, DailyRun, StopRule, TradePlan
from tsys.sim.models import CostModel, FeeModel, FixedSlippage
from tsys.testing import sample_signal

COSTS = CostModel(fees=FeeModel(bps=10.0, minimum=1.0), slippage=FixedSlippage(bps=5.0))
D0 = dt.date(2024, 5, 1)


def plan(
    symbol,
    qty,
    day,
    action="buy",
    *,
    price=100.0,
    weight=0.01,
    stop=None,
    target=None,
    time_stop=None,
):
    """The plan of day's run to `action` qty of an equity at price (stop, target, time stop)."""
    ts = dt.datetime.combine(day, dt.time(21), dt.UTC)
    sig = sample_signal(
        symbol, at=ts, bucket="b", asset_class="equity", side="sell" if action == "sell" else "buy"
    )
    return TradePlan(
        allocation=Allocation(signal=sig, dollars=qty * price, weight=weight, quantity=qty),
        action=action,
        entry="MOO",
        client_order_id=f"tsys-b-{day:%Y%m%d}-{symbol}-{action}",
        valid_until=ts + dt.timedelta(days=1),
        stop=None if stop is None else StopRule("fixed", price=stop),
        take_profit=target,
        time_stop_bars=time_stop,
    )


def daily_run(day, plans, orders=()):
    """The daily run of day: plans of bucket "b" (and the orders it placed)."""
    return DailyRun(
        as_of=day,
        created_at=dt.datetime.combine(day, dt.time(22), dt.UTC),
        config_digest="x",
        buckets=[BucketRun(bucket="b", version="1", asset_class="equity", as_of=day, plans=plans)],
        orders=orders,
    )
