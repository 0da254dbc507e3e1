"""The front door for plugins: everything a tsys plugin may use, in one module.

A plugin imports from ``tsys.api`` (and its tests from :mod:`tsys.testing`, which is part of
the same promise) and from nowhere else in ``tsys``: every other module is internal and may
change in any release. ``tsys.api`` follows semantic versioning: a name exported here is
removed or changed incompatibly only in a new major version of tsys, after a minor release that
keeps it working with a ``DeprecationWarning``; new names arrive in minor versions.
``docs/plugins.md`` documents every name.

Names are resolved on first use, so ``from tsys.api import hookimpl`` in a plugin's
``__init__`` stays light (no pandas at import time, ``tsys --help`` stays fast).
"""

# ruff: noqa: F401  (the TYPE_CHECKING imports are re-exports; __all__ is built from _EXPORTS)
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

#: The exported names, by the module that defines them.
_EXPORTS: dict[str, tuple[str, ...]] = {
    "tsys.hookspecs": ("hookimpl",),
    "tsys.plugins": ("list_plugins",),
    "tsys.errors": (
        "BrokerError",
        "ConfigError",
        "ContractError",
        "DataError",
        "NotifierError",
        "OrderRejected",
        "PluginError",
        "StoreError",
        "StrategyError",
        "TemporaryBrokerError",
        "TsysError",
    ),
    "tsys.contracts": (
        "Action",
        "Allocation",
        "AssetClass",
        "Blocker",
        "Constraint",
        "DailyRun",
        "DeliveryResult",
        "EntryMethod",
        "FieldError",
        "Fill",
        "Intent",
        "NewsItem",
        "Order",
        "OrderEvent",
        "OrderStatus",
        "PositionRecord",
        "PositionSource",
        "Side",
        "Signal",
        "StopKind",
        "StopRule",
        "TimeInForce",
        "TradePlan",
    ),
    "tsys.config": ("load_config", "secret"),
    "tsys.options": (
        "structure_options",
        "secret_field",
        "above",
        "at_least",
        "between",
        "http_url",
        "non_empty",
        "one_of",
    ),
    "tsys.retrying": ("call_with_retries",),
    "tsys.symbols": ("symbol_problem",),
    "tsys.files": ("append_line", "atomic_write_bytes", "atomic_write_text", "write_json"),
    "tsys.buckets": (
        "Bucket",
        "BucketContext",
        "BucketOutput",
        "Mandate",
        "OPT_IN_SATELLITE",
        "PositionRules",
        "param",
        "search_space",
        "space_for",
    ),
    "tsys.data.bars": ("Bars", "VolumeUnit"),
    "tsys.data.source": (
        "ApiSource",
        "EARNINGS_COLUMNS",
        "FLOW_COLUMNS",
        "NEWS_COLUMNS",
        "BarsRequest",
        "DataHub",
        "DataSource",
        "Fundamentals",
        "SourceContext",
    ),
    "tsys.data.cache": ("JsonCache", "ParquetCache"),
    "tsys.data.http": ("ApiClient", "TemporaryFailure"),
    "tsys.data.coverage": ("MARKET_CAP_MAX_AGE", "carry_forward"),
    "tsys.brokers": ("AccountState", "Broker", "BrokerContext"),
    "tsys.brokers.payload": ("ForeignPosition", "PayloadItem", "payload_items"),
    "tsys.brokers.common": (
        "ProtectiveStop",
        "StopAction",
        "protective_stops",
        "reconcile",
        "retry",
        "tradable",
        "utcnow",
    ),
    "tsys.orderlog": (
        "Baseline",
        "MemoryOrderLog",
        "OrderLog",
        "event_for",
        "log_order",
        "plan_order",
    ),
    "tsys.store.paper": ("StoreOrderLog",),
    "tsys.store": ("Store", "open_workspace_store"),
    "tsys.store.option_alerts": ("AlertSpan", "OptionAlert", "OptionAlerts"),
    "tsys.data.calendars": ("sessions", "session_close"),
    "tsys.notifiers": ("Newsletter", "Notifier", "NotifierContext"),
}
#: Modules exported whole.
_MODULES: dict[str, str] = {"indicators": "tsys.indicators", "testing": "tsys.testing"}

_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = sorted([*_WHERE, *_MODULES])


def __getattr__(name: str) -> Any:
    if name in _MODULES:
        value = importlib.import_module(_MODULES[name])
    elif name in _WHERE:
        value = getattr(importlib.import_module(_WHERE[name]), name)
    else:
        raise AttributeError(f"module 'tsys.api' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:  # the same names, for type checkers and editors
    from tsys import indicators, testing
    from tsys.brokers import AccountState, Broker, BrokerContext
    from tsys.brokers.common import (
        ProtectiveStop,
        StopAction,
        protective_stops,
        reconcile,
        retry,
        tradable,
        utcnow,
    )
    from tsys.brokers.payload import ForeignPosition, PayloadItem, payload_items
    from tsys.buckets import (
        OPT_IN_SATELLITE,
        Bucket,
        BucketContext,
        BucketOutput,
        Mandate,
        PositionRules,
        param,
        search_space,
        space_for,
    )
    from tsys.config import load_config, secret
    from tsys.contracts import (
        Action,
        Allocation,
        AssetClass,
        Blocker,
        Constraint,
        DailyRun,
        DeliveryResult,
        EntryMethod,
        FieldError,
        Fill,
        Intent,
        NewsItem,
        Order,
        OrderEvent,
        OrderStatus,
        PositionRecord,
        PositionSource,
        Side,
        Signal,
        StopKind,
        StopRule,
        TimeInForce,
        TradePlan,
    )
    from tsys.data.bars import Bars, VolumeUnit
    from tsys.data.cache import JsonCache, ParquetCache
    from tsys.data.calendars import session_close, sessions
    from tsys.data.coverage import MARKET_CAP_MAX_AGE, carry_forward
    from tsys.data.http import ApiClient, TemporaryFailure
    from tsys.data.source import (
        EARNINGS_COLUMNS,
        FLOW_COLUMNS,
        NEWS_COLUMNS,
        ApiSource,
        BarsRequest,
        DataHub,
        DataSource,
        Fundamentals,
        SourceContext,
    )
    from tsys.errors import (
        BrokerError,
        ConfigError,
        ContractError,
        DataError,
        NotifierError,
        OrderRejected,
        PluginError,
        StoreError,
        StrategyError,
        TemporaryBrokerError,
        TsysError,
    )
    from tsys.files import append_line, atomic_write_bytes, atomic_write_text, write_json
    from tsys.hookspecs import hookimpl
    from tsys.notifiers import Newsletter, Notifier, NotifierContext
    from tsys.options import (
        above,
        at_least,
        between,
        http_url,
        non_empty,
        one_of,
        secret_field,
        structure_options,
    )
    from tsys.orderlog import (
        Baseline,
        MemoryOrderLog,
        OrderLog,
        event_for,
        log_order,
        plan_order,
    )
    from tsys.plugins import list_plugins
    from tsys.retrying import call_with_retries
    from tsys.store import Store, open_workspace_store
    from tsys.store.option_alerts import AlertSpan, OptionAlert, OptionAlerts
    from tsys.store.paper import StoreOrderLog
    from tsys.symbols import symbol_problem
