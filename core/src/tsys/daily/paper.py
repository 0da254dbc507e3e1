"""The paper stage: open the paper broker, fill earlier orders, place today's, read the account.

Orders are idempotent by ``client_order_id``, so placing a day's orders again (a resumed or
forced run) never duplicates one. Nothing here raises for a broker failure: it becomes a
:class:`~tsys.contracts.DeliveryResult` with ``ok=False`` or a warning.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from tsys.contracts import DailyRun, DeliveryResult
from tsys.errors import TsysError

if TYPE_CHECKING:
    from tsys.config import Config
    from tsys.daily.context import DailyContext


def open_broker(config: Config, *, store: Any, data: Any = None) -> Any:
    """Build the configured broker through its registry, on the run's store and data hub."""
    from tsys import plugins
    from tsys.brokers import BrokerContext

    cls = plugins.brokers().get(config.broker.name)
    bctx = BrokerContext(config=config, store=store, data=data)
    owner = plugins.brokers().owner(config.broker.name)
    broker = plugins.plugin_safe(owner, cls.from_config)(dict(config.broker.options), bctx)
    broker.context_warnings = bctx.warnings
    return broker


def open_and_sync(ctx: DailyContext) -> DeliveryResult | None:
    """Open the paper broker into ``ctx.broker`` and let it fill earlier orders at the opens
    now known; a failure comes back as a result (and ``ctx.broker`` stays None)."""
    config = ctx.config
    try:
        broker = open_broker(config, store=ctx.store(), data=ctx.hub)
        ctx.warnings.extend(getattr(broker, "context_warnings", []))
        if hasattr(broker, "sync"):
            symbols = sorted({o.symbol for o in broker.open_orders()})
            if symbols:
                earliest = ctx.dates.key - dt.timedelta(days=30)
                broker.sync(ctx.hub.bars(symbols, earliest, ctx.dates.key))
    except TsysError as exc:
        return DeliveryResult(plugin=broker_plugin(config), ok=False, detail=str(exc))
    ctx.broker = broker
    return None


def broker_plugin(config: Config) -> str:
    """The name a broker's results are recorded under (``broker:<name>``)."""
    return f"broker:{config.broker.name}"


def place_orders(run: DailyRun, ctx: DailyContext) -> tuple[DeliveryResult, list[Any], bool]:
    """Submit the day's buys and sells (idempotent by client_order_id); never raises.

    Returns the result to record, the orders (placed or already known), and whether every
    order reached the broker (rejected ones did: the broker answered).
    """
    from tsys.brokers.local import place_run_orders

    plugin = broker_plugin(ctx.config)
    try:
        orders = list(place_run_orders(run, ctx.broker))
    except TsysError as exc:
        placed = list(getattr(exc, "orders", []) or [])
        return DeliveryResult(plugin=plugin, ok=False, detail=str(exc)), placed, False
    rejected = [o for o in orders if o.status.value == "rejected"]
    detail = f"{len(orders)} order(s) placed or already known"
    if rejected:
        detail += f"; {len(rejected)} rejected: " + ", ".join(o.symbol for o in rejected)
    return DeliveryResult(plugin=plugin, ok=not rejected, detail=detail), orders, True


def paper_account(broker: Any, warnings: list[str]) -> Any:
    """The broker's account (for the newsletter); a failure to read it is a warning."""
    try:
        return broker.account()
    except TsysError as exc:
        warnings.append(f"paper account not read: {exc.message}")
        return None
