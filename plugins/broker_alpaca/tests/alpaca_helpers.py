"""Plan builder shared by the Alpaca tests (not in conftest: core tests have one too)."""

import datetime as dt

from tsys.contracts import Allocation, StopRule, TradePlan
from tsys.testing import sample_signal

NOW = dt.datetime(2024, 5, 1, 20, 0, tzinfo=dt.UTC)


def make_plan(
    symbol, qty, *, action="buy", ac=None, cid=None, entry="MOO", limit=None, stop=None, target=None
):
    ac = ac or ("crypto" if "-" in symbol else "equity")
    sig = sample_signal(symbol, at=NOW, bucket="test", asset_class=ac)
    alloc = Allocation(signal=sig, dollars=1000.0, weight=0.01, quantity=qty)
    return TradePlan(
        allocation=alloc,
        action=action,
        entry=entry,
        client_order_id=cid or f"tsys-{symbol}-{action}-{qty}",
        valid_until=NOW + dt.timedelta(days=1),
        limit_price=limit,
        stop=StopRule(kind="fixed", price=stop) if stop else None,
        take_profit=target,
    )
