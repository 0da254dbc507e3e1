"""The broker interface: account, positions, idempotent submission of plans, order lifecycle.

Errors are split into :class:`~tsys.errors.TemporaryBrokerError` (retry: timeouts, 429, 5xx)
and :class:`~tsys.errors.OrderRejected` (permanent: rejected, insufficient funds).
Submitting a plan whose ``client_order_id`` the broker already knows must return the existing
order, never create a second one.
"""

from __future__ import annotations

import abc
import datetime as dt
from collections.abc import Sequence
from typing import Any, ClassVar

import attrs

from tsys.brokers.payload import ForeignPosition
from tsys.contracts import Order, OrderEvent, PositionRecord, TradePlan
from tsys.options import Configurable


@attrs.frozen
class AccountState:
    """Cash, equity and buying power as the broker reports them."""

    cash: float
    equity: float
    buying_power: float
    currency: str = "USD"
    as_of: dt.datetime | None = None


@attrs.define
class BrokerContext:
    """What a broker gets when it is built: the config, the store, the data hub."""

    config: Any = None
    store: Any = None
    data: Any = None
    warnings: list[str] = attrs.field(factory=list)


class Broker(Configurable, abc.ABC):
    """Base class of brokers (the built-in local paper broker, Alpaca, ...); built by
    ``from_config(options, BrokerContext)``."""

    paper: ClassVar[bool] = True

    @abc.abstractmethod
    def account(self) -> AccountState: ...

    @abc.abstractmethod
    def positions(self) -> list[PositionRecord]: ...

    def foreign_positions(self) -> list[ForeignPosition]:
        """Positions held at the broker in what tsys does not trade (options, ...): listed only."""
        return []

    @abc.abstractmethod
    def submit(self, plans: Sequence[TradePlan]) -> list[Order]:
        """Submit plans idempotently (by ``client_order_id``); return one order per plan."""

    @abc.abstractmethod
    def order(self, client_order_id: str) -> Order | None: ...

    @abc.abstractmethod
    def open_orders(self) -> list[Order]: ...

    @abc.abstractmethod
    def cancel(self, client_order_id: str) -> None: ...

    @abc.abstractmethod
    def events(self, since: dt.datetime | None = None) -> list[OrderEvent]:
        """Order events (status changes) seen since ``since``, oldest first."""
