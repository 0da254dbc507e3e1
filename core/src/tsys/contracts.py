"""The data contracts every part of tsys speaks: frozen, validated ``attrs`` classes.

Contracts know nothing about storage or wire formats. They are serialised by the one converter in
:mod:`tsys.serialization`; top-level payloads (:class:`DailyRun`) carry ``schema_version``.
Invariants are enforced at construction: no negative quantities or prices, known enums,
timezone-aware timestamps, non-empty symbols. Use :func:`attrs.evolve` for modified copies.
"""

from __future__ import annotations

import datetime as dt
import enum
import math
from typing import Any

import attrs
from attrs import validators as v

SCHEMA_VERSION = 1


# --------------------------------------------------------------------------------------- enums
class AssetClass(enum.StrEnum):
    """What a symbol is; it decides the trading unit and the calendar (one home for both)."""

    EQUITY = "equity"
    CRYPTO = "crypto"

    @property
    def lot_size(self) -> float:
        """Smallest tradable quantity: whole shares for equities, 1e-8 (a satoshi) for crypto."""
        return _LOT_SIZE[self]

    @property
    def periods_per_year(self) -> int:
        """Bars in a year: 252 sessions for equities, 365 days for crypto (it trades daily)."""
        return _PERIODS_PER_YEAR[self]


_LOT_SIZE = {AssetClass.EQUITY: 1.0, AssetClass.CRYPTO: 1e-8}
_PERIODS_PER_YEAR = {AssetClass.EQUITY: 252, AssetClass.CRYPTO: 365}


class Side(enum.StrEnum):
    BUY = "buy"
    SELL = "sell"


class Intent(enum.StrEnum):
    ENTER_NEXT_OPEN = "enter_next_open"
    EXIT_NEXT_OPEN = "exit_next_open"
    WATCH = "watch"


class Action(enum.StrEnum):
    BUY = "buy"
    SELL = "sell"
    HOLD = "hold"
    WATCH = "watch"


class EntryMethod(enum.StrEnum):
    MOO = "MOO"
    MKT = "MKT"
    LIMIT = "LIMIT"
    #: A protective stop: a market sell once a bar trades at or through ``stop_price``.
    STOP = "STOP"


class StopKind(enum.StrEnum):
    FIXED = "fixed"
    ATR_TRAILING = "atr_trailing"


class TimeInForce(enum.StrEnum):
    OPG = "opg"
    DAY = "day"
    GTC = "gtc"
    IOC = "ioc"


class OrderStatus(enum.StrEnum):
    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELED = "canceled"
    REJECTED = "rejected"
    EXPIRED = "expired"

    @property
    def is_final(self) -> bool:
        return self in _FINAL_STATUSES


_FINAL_STATUSES = frozenset(
    {OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.REJECTED, OrderStatus.EXPIRED}
)


class PositionSource(enum.StrEnum):
    SYSTEM = "system"
    PAPER = "paper"
    MANUAL = "manual"


# ---------------------------------------------------------------------------------- validators
class FieldError(ValueError):
    """A broken invariant of one field; the converter reports it at that field's path."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"'{field}' {message}")
        self.field = field
        self.detail = message


def _non_empty_str(inst: Any, attribute: attrs.Attribute, value: Any) -> None:
    if not isinstance(value, str) or not value.strip():
        raise FieldError(attribute.name, f"must be a non-empty string, got {value!r}")


def _symbol(inst: Any, attribute: attrs.Attribute, value: Any) -> None:
    from tsys.symbols import symbol_problem

    _non_empty_str(inst, attribute, value)
    problem = symbol_problem(value)
    if problem is not None:
        raise FieldError(attribute.name, problem)


def _aware(inst: Any, attribute: attrs.Attribute, value: Any) -> None:
    if value is None:
        return
    if not isinstance(value, dt.datetime):
        raise FieldError(attribute.name, f"must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise FieldError(attribute.name, f"must be timezone-aware, got naive {value!r}")


def _finite(inst: Any, attribute: attrs.Attribute, value: Any) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FieldError(attribute.name, f"must be a number, got {type(value).__name__}")
    if not math.isfinite(value):
        raise FieldError(attribute.name, f"must be finite, got {value!r}")


def _non_negative(inst: Any, attribute: attrs.Attribute, value: Any) -> None:
    _finite(inst, attribute, value)
    if value is not None and value < 0:
        raise FieldError(attribute.name, f"must be >= 0, got {value!r}")


def _positive(inst: Any, attribute: attrs.Attribute, value: Any) -> None:
    _finite(inst, attribute, value)
    if value is not None and value <= 0:
        raise FieldError(attribute.name, f"must be > 0, got {value!r}")


def _float(value: Any) -> Any:
    # Normalise ints to floats so equality and JSON round-trips are stable.
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def _opt_float(value: Any) -> Any:
    return None if value is None else _float(value)


def _as_tuple(value: Any) -> tuple:
    return tuple(value)


def _enum(cls: type[enum.Enum]):
    def convert(value: Any, field: attrs.Attribute) -> enum.Enum:
        try:
            return cls(value)
        except ValueError:
            known = ", ".join(repr(m.value) for m in cls)  # type: ignore[attr-defined]
            raise FieldError(field.name, f"must be one of {known}, got {value!r}") from None

    return attrs.field(
        converter=attrs.Converter(convert, takes_field=True), validator=v.instance_of(cls)
    )


def _money(default: Any = attrs.NOTHING, *, positive: bool = False):
    return attrs.field(
        default=default, converter=_float, validator=_positive if positive else _non_negative
    )


def _opt_money(*, positive: bool = False):
    return attrs.field(
        default=None, converter=_opt_float, validator=_positive if positive else _non_negative
    )


# ---------------------------------------------------------------------------------- contracts
@attrs.frozen
class NewsItem:
    """One article behind a rationale: title, link, and its sentiment for the ticker (-1..1)."""

    title: str = attrs.field(validator=_non_empty_str)
    url: str = ""
    sentiment: float | None = attrs.field(default=None, converter=_opt_float, validator=_finite)
    published: dt.datetime | None = attrs.field(default=None, validator=_aware)
    source: str = ""


@attrs.frozen
class Signal:
    """What a bucket wants to do with one symbol, decided at the close of ``timestamp``."""

    symbol: str = attrs.field(validator=_symbol)
    asset_class: AssetClass = _enum(AssetClass)
    timestamp: dt.datetime = attrs.field(validator=_aware)
    side: Side = _enum(Side)
    intent: Intent = _enum(Intent)
    score: float = attrs.field(converter=_float, validator=_finite)
    bucket: str = attrs.field(validator=_non_empty_str)
    strategy_version: str = attrs.field(validator=_non_empty_str)
    rationale: tuple[str, ...] = attrs.field(default=(), converter=_as_tuple)
    news: tuple[NewsItem, ...] = attrs.field(default=(), converter=_as_tuple)


@attrs.frozen
class Constraint:
    """A portfolio rule that changed a decision, with a sentence a person can read."""

    name: str = attrs.field(validator=_non_empty_str)
    detail: str = ""
    dollars_before: float | None = attrs.field(
        default=None, converter=_opt_float, validator=_finite
    )
    dollars_after: float | None = attrs.field(default=None, converter=_opt_float, validator=_finite)


@attrs.frozen
class Allocation:
    """A signal with money attached: dollars, weight of the account, quantity, and why."""

    signal: Signal
    dollars: float = _money()
    weight: float = _money()
    quantity: float = _money()
    risk_budget: float = _money(0.0)
    constraints: tuple[Constraint, ...] = attrs.field(default=(), converter=_as_tuple)
    adv_participation: float | None = _opt_money()
    liquidity_flag: bool = False


@attrs.frozen
class StopRule:
    """How a position is protected: a fixed price, or an ATR trailing stop."""

    kind: StopKind = _enum(StopKind)
    price: float | None = _opt_money(positive=True)
    atr_multiple: float | None = _opt_money(positive=True)

    def __attrs_post_init__(self) -> None:
        if self.kind is StopKind.FIXED and self.price is None:
            raise FieldError("price", "is needed by a fixed stop")
        if self.kind is StopKind.ATR_TRAILING and self.atr_multiple is None:
            raise FieldError("atr_multiple", "is needed by an ATR trailing stop")


@attrs.frozen
class TradePlan:
    """What to do at the next session: action, entry, protection, exits and the order id."""

    allocation: Allocation
    action: Action = _enum(Action)
    entry: EntryMethod = _enum(EntryMethod)
    client_order_id: str = attrs.field(validator=_non_empty_str)
    valid_until: dt.datetime = attrs.field(validator=_aware)
    limit_price: float | None = _opt_money(positive=True)
    stop: StopRule | None = None
    take_profit: float | None = _opt_money(positive=True)
    signal_exit: bool = True
    time_stop_bars: int | None = attrs.field(
        default=None, validator=v.optional(v.and_(v.instance_of(int), v.ge(1)))
    )

    def __attrs_post_init__(self) -> None:
        if self.entry is EntryMethod.LIMIT and self.limit_price is None:
            raise FieldError("limit_price", "is needed by a LIMIT entry")

    @property
    def symbol(self) -> str:
        return self.allocation.signal.symbol


@attrs.frozen
class Blocker:
    """Something to avoid today, and why (earnings inside the holding window, bad news, ...)."""

    symbol: str = attrs.field(validator=_symbol)
    bucket: str = attrs.field(validator=_non_empty_str)
    reason: str = attrs.field(validator=_non_empty_str)
    kind: str = "other"


@attrs.frozen
class Order:
    """An order as sent to a broker."""

    client_order_id: str = attrs.field(validator=_non_empty_str)
    symbol: str = attrs.field(validator=_symbol)
    asset_class: AssetClass = _enum(AssetClass)
    side: Side = _enum(Side)
    quantity: float = _money(positive=True)
    entry: EntryMethod = _enum(EntryMethod)
    time_in_force: TimeInForce = _enum(TimeInForce)
    submitted_at: dt.datetime = attrs.field(validator=_aware)
    status: OrderStatus = attrs.field(
        default=OrderStatus.SUBMITTED, converter=OrderStatus, validator=v.instance_of(OrderStatus)
    )
    limit_price: float | None = _opt_money(positive=True)
    stop_price: float | None = _opt_money(positive=True)
    take_profit: float | None = _opt_money(positive=True)
    broker_order_id: str | None = None
    filled_quantity: float = _money(0.0)
    filled_avg_price: float | None = _opt_money(positive=True)
    bucket: str = ""


@attrs.frozen
class OrderEvent:
    """One status change in an order's life (``OrderFilled`` and friends, as one record)."""

    client_order_id: str = attrs.field(validator=_non_empty_str)
    status: OrderStatus = _enum(OrderStatus)
    timestamp: dt.datetime = attrs.field(validator=_aware)
    broker_order_id: str | None = None
    filled_quantity: float = _money(0.0)
    filled_avg_price: float | None = _opt_money(positive=True)
    message: str = ""


@attrs.frozen
class Fill:
    """An execution: quantity, price, fee and slippage, and the reason (entry, stop, ...)."""

    symbol: str = attrs.field(validator=_symbol)
    side: Side = _enum(Side)
    quantity: float = _money(positive=True)
    price: float = _money(positive=True)
    timestamp: dt.datetime = attrs.field(validator=_aware)
    fee: float = _money(0.0)
    slippage: float = attrs.field(default=0.0, converter=_float, validator=_finite)
    reason: str = ""
    client_order_id: str | None = None
    unfilled_quantity: float = _money(0.0)


@attrs.frozen
class PositionRecord:
    """One position from any source (system, paper or manual): the one contract for all three."""

    id: str = attrs.field(validator=_non_empty_str)
    source: PositionSource = _enum(PositionSource)
    symbol: str = attrs.field(validator=_symbol)
    asset_class: AssetClass = _enum(AssetClass)
    side: Side = _enum(Side)
    quantity: float = _money()
    opened_at: dt.datetime = attrs.field(validator=_aware)
    entry_price: float = _money(positive=True)
    closed_at: dt.datetime | None = attrs.field(default=None, validator=_aware)
    exit_price: float | None = _opt_money(positive=True)
    stop: float | None = _opt_money(positive=True)
    target: float | None = _opt_money(positive=True)
    fills: tuple[Fill, ...] = attrs.field(default=(), converter=_as_tuple)
    realized_pnl: float = attrs.field(default=0.0, converter=_float, validator=_finite)
    r_multiple: float | None = attrs.field(default=None, converter=_opt_float, validator=_finite)
    bucket: str = ""
    notes: str = ""
    tags: tuple[str, ...] = attrs.field(default=(), converter=_as_tuple)
    #: Exit after this many bars held (the time stop of the plan that opened the position).
    time_stop_bars: int | None = attrs.field(
        default=None, validator=v.optional(v.and_(v.instance_of(int), v.ge(1)))
    )
    #: ``client_order_id`` of the BUY plan that opened the position (None: not opened by tsys).
    opened_by: str | None = None

    def __attrs_post_init__(self) -> None:
        if self.closed_at is not None and self.closed_at < self.opened_at:
            raise FieldError("closed_at", "must not be before 'opened_at'")

    @property
    def is_open(self) -> bool:
        return self.closed_at is None and self.quantity > 0

    def through_stop(self, price: float | None) -> bool:
        """True when ``price`` is at or through the stop (below it for a long, above for a
        short): the protective exit should have happened."""
        if self.stop is None or price is None or not self.is_open:
            return False
        return price <= self.stop if self.side is Side.BUY else price >= self.stop

    @classmethod
    def from_row(cls, row: Any) -> PositionRecord:
        """Build from any object with the same attribute names (a peewee row, a namespace)."""
        names = [f.name for f in attrs.fields(cls)]
        return cls(**{n: getattr(row, n) for n in names if hasattr(row, n)})


@attrs.frozen
class PortfolioSnapshot:
    """The merged book at a moment: positions of every source, account size and exposures.

    Exposures are dollars (cost or market value of the positions), keyed by bucket, asset class
    and sector; divide by ``account_equity`` for shares of the account.
    """

    as_of: dt.datetime = attrs.field(validator=_aware)
    account_equity: float = _money()
    cash: float = attrs.field(converter=_float, validator=_finite)
    positions: tuple[PositionRecord, ...] = attrs.field(default=(), converter=_as_tuple)
    exposure_by_bucket: dict[str, float] = attrs.field(factory=dict)
    exposure_by_asset_class: dict[str, float] = attrs.field(factory=dict)
    exposure_by_sector: dict[str, float] = attrs.field(factory=dict)
    open_risk: float = _money(0.0)


@attrs.frozen
class DeliveryResult:
    """What a notifier or broker step did in a run (recorded so nothing fails silently)."""

    plugin: str = attrs.field(validator=_non_empty_str)
    ok: bool
    detail: str = ""
    at: dt.datetime | None = attrs.field(default=None, validator=_aware)


@attrs.frozen
class BucketRun:
    """One bucket's part of a daily run."""

    bucket: str = attrs.field(validator=_non_empty_str)
    version: str = attrs.field(validator=_non_empty_str)
    asset_class: AssetClass = _enum(AssetClass)
    as_of: dt.date = attrs.field(validator=v.instance_of(dt.date))
    params: dict[str, Any] = attrs.field(factory=dict)
    #: Which parameter set ran and where it came from (:meth:`tsys.paramsets.ParamSet.to_json`:
    #: origin, path, file_sha256, digest, overrides, label); empty in runs made before it.
    param_set: dict[str, Any] = attrs.field(factory=dict)
    regime: str = ""
    signals: tuple[Signal, ...] = attrs.field(default=(), converter=_as_tuple)
    allocations: tuple[Allocation, ...] = attrs.field(default=(), converter=_as_tuple)
    plans: tuple[TradePlan, ...] = attrs.field(default=(), converter=_as_tuple)
    blockers: tuple[Blocker, ...] = attrs.field(default=(), converter=_as_tuple)
    warnings: tuple[str, ...] = attrs.field(default=(), converter=_as_tuple)
    validated: bool | None = None
    error: str | None = None


@attrs.frozen
class DailyRun:
    """Everything one ``tsys run-daily`` produced: the top-level payload of ``run.json``."""

    as_of: dt.date = attrs.field(validator=v.instance_of(dt.date))
    created_at: dt.datetime = attrs.field(validator=_aware)
    config_digest: str = attrs.field(validator=_non_empty_str)
    buckets: tuple[BucketRun, ...] = attrs.field(default=(), converter=_as_tuple)
    portfolio: PortfolioSnapshot | None = None
    warnings: tuple[str, ...] = attrs.field(default=(), converter=_as_tuple)
    synthetic_data: bool = False
    deliveries: tuple[DeliveryResult, ...] = attrs.field(default=(), converter=_as_tuple)
    orders: tuple[Order, ...] = attrs.field(default=(), converter=_as_tuple)
    schema_version: int = attrs.field(default=SCHEMA_VERSION, validator=v.instance_of(int))
    #: The ``tsys override`` rules in force (id, rule, since, until, reason, by, applied,
    #: expires_next); tsys.toml's ``[overrides]`` is in the configuration.
    overrides: tuple[dict[str, Any], ...] = attrs.field(default=(), converter=_as_tuple)

    @property
    def signals(self) -> tuple[Signal, ...]:
        return tuple(s for b in self.buckets for s in b.signals)

    @property
    def plans(self) -> tuple[TradePlan, ...]:
        return tuple(p for b in self.buckets for p in b.plans)

    @property
    def blockers(self) -> tuple[Blocker, ...]:
        return tuple(x for b in self.buckets for x in b.blockers)


#: Every contract, for tests and for plugins that want to check their payloads.
ALL_CONTRACTS: tuple[type, ...] = (
    NewsItem,
    Signal,
    Constraint,
    Allocation,
    StopRule,
    TradePlan,
    Blocker,
    Order,
    OrderEvent,
    Fill,
    PositionRecord,
    PortfolioSnapshot,
    DeliveryResult,
    BucketRun,
    DailyRun,
)
