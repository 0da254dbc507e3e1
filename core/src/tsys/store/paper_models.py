"""The paper broker's tables as peewee models (``m0002_paper``, ``m0003_paper_marks``).

The repository over them is :mod:`tsys.store.paper`; the models here must match the
migrations (the schema-vs-models check in the store tests compares them).
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import peewee as pw

from tsys.store._model_base import model_base, model_namespace

_MODELS: dict[int, SimpleNamespace] = {}


def paper_models(db: Any) -> SimpleNamespace:
    """The paper tables' models bound to ``db`` (built once per database)."""
    key = id(db)
    if key in _MODELS:
        return _MODELS[key]

    Base = model_base(db)

    class PaperAccount(Base):
        broker = pw.CharField(max_length=64, unique=True)
        starting_cash = pw.DoubleField(null=True)
        cash = pw.DoubleField(null=True)
        baseline_cash = pw.DoubleField(null=True)
        baseline_positions = pw.TextField(default="{}")
        baseline_at = pw.DateTimeField(null=True)
        created_at = pw.DateTimeField()
        updated_at = pw.DateTimeField()

    class PaperOrder(Base):
        broker = pw.CharField(max_length=64)
        client_order_id = pw.CharField(max_length=128)
        symbol = pw.CharField(max_length=64, index=True)
        asset_class = pw.CharField(max_length=16)
        side = pw.CharField(max_length=8)
        quantity = pw.DoubleField()
        entry = pw.CharField(max_length=8)
        time_in_force = pw.CharField(max_length=8)
        status = pw.CharField(max_length=24, index=True)
        submitted_at = pw.DateTimeField()
        decision_date = pw.DateField(null=True)
        limit_price = pw.DoubleField(null=True)
        stop_price = pw.DoubleField(null=True)
        take_profit = pw.DoubleField(null=True)
        broker_order_id = pw.CharField(max_length=64, null=True)
        filled_quantity = pw.DoubleField(default=0.0)
        filled_avg_price = pw.DoubleField(null=True)
        bucket = pw.CharField(max_length=64, default="")
        updated_at = pw.DateTimeField()

        class Meta:
            indexes = ((("broker", "client_order_id"), True),)

    class PaperOrderEvent(Base):
        broker = pw.CharField(max_length=64)
        client_order_id = pw.CharField(max_length=128, index=True)
        status = pw.CharField(max_length=24)
        timestamp = pw.DateTimeField(index=True)
        broker_order_id = pw.CharField(max_length=64, null=True)
        filled_quantity = pw.DoubleField(default=0.0)
        filled_avg_price = pw.DoubleField(null=True)
        message = pw.TextField(default="")
        recorded_at = pw.DateTimeField()

    class PaperFill(Base):
        broker = pw.CharField(max_length=64)
        client_order_id = pw.CharField(max_length=128, index=True)
        symbol = pw.CharField(max_length=64)
        side = pw.CharField(max_length=8)
        quantity = pw.DoubleField()
        price = pw.DoubleField()
        reference_price = pw.DoubleField(null=True)
        fee = pw.DoubleField(default=0.0)
        slippage = pw.DoubleField(default=0.0)
        unfilled_quantity = pw.DoubleField(default=0.0)
        reason = pw.CharField(max_length=24, default="")
        timestamp = pw.DateTimeField(index=True)

    class PaperPosition(Base):
        broker = pw.CharField(max_length=64)
        symbol = pw.CharField(max_length=64)
        asset_class = pw.CharField(max_length=16)
        quantity = pw.DoubleField()
        avg_price = pw.DoubleField()
        opened_at = pw.DateTimeField()
        last_price = pw.DoubleField(null=True)
        realized_pnl = pw.DoubleField(default=0.0)
        bucket = pw.CharField(max_length=64, default="")

        class Meta:
            indexes = ((("broker", "symbol"), True),)

    class PaperMark(Base):
        broker = pw.CharField(max_length=64)
        date = pw.DateField()
        cash = pw.DoubleField()
        positions_value = pw.DoubleField()
        equity = pw.DoubleField()
        positions = pw.TextField(default="{}")
        recorded_at = pw.DateTimeField()

        class Meta:
            indexes = ((("broker", "date"), True),)

    ns = model_namespace(
        PaperAccount, PaperOrder, PaperOrderEvent, PaperFill, PaperPosition, PaperMark
    )
    _MODELS[key] = ns
    return ns
