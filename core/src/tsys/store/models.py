"""The live peewee models of the store (the latest schema). Private to :mod:`tsys.store`.

Models are built per database by :func:`build_models`, so two stores (a SQLite file and a
PostgreSQL database, say) can be open in one process without sharing global state. They must
match what the migrations create; ``test_models_match_migrated_schema`` checks it.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import peewee as pw

from tsys.store._model_base import model_base, model_namespace
from tsys.store.paper_models import paper_models


def build_models(db: Any) -> SimpleNamespace:
    """Return the model classes bound to ``db``."""

    Base = model_base(db)

    class ManualPosition(Base):
        symbol = pw.CharField(max_length=64, index=True)
        asset_class = pw.CharField(max_length=16)
        side = pw.CharField(max_length=8)
        initial_quantity = pw.DoubleField()
        quantity = pw.DoubleField()
        entry_price = pw.DoubleField()
        opened_at = pw.DateTimeField(index=True)
        closed_at = pw.DateTimeField(null=True)
        exit_price = pw.DoubleField(null=True)
        stop = pw.DoubleField(null=True)
        target = pw.DoubleField(null=True)
        bucket = pw.CharField(max_length=64, default="")
        notes = pw.TextField(default="")
        tags = pw.TextField(default="[]")
        realized_pnl = pw.DoubleField(default=0.0)
        created_at = pw.DateTimeField()
        updated_at = pw.DateTimeField()
        deleted_at = pw.DateTimeField(null=True, index=True)

    class ManualFill(Base):
        position = pw.ForeignKeyField(
            ManualPosition, column_name="position_id", on_delete="CASCADE", index=True
        )
        kind = pw.CharField(max_length=8)
        side = pw.CharField(max_length=8)
        quantity = pw.DoubleField()
        price = pw.DoubleField()
        fee = pw.DoubleField(default=0.0)
        timestamp = pw.DateTimeField()
        created_at = pw.DateTimeField()

    class DailyRunIndex(Base):
        as_of = pw.DateField(unique=True)
        created_at = pw.DateTimeField()
        config_digest = pw.CharField(max_length=64)
        path = pw.TextField()

        class Meta:
            table_name = "daily_runs"

    class OverrideRule(Base):
        kind = pw.CharField(max_length=16)
        target = pw.CharField(max_length=64)
        target_type = pw.CharField(max_length=16)
        asset_class = pw.CharField(max_length=16)
        share = pw.DoubleField(null=True)
        reason = pw.TextField(default="")
        created_by = pw.CharField(max_length=128)
        created_at = pw.DateTimeField()
        starts_at = pw.DateTimeField()
        expires_at = pw.DateTimeField(null=True, index=True)
        removed_at = pw.DateTimeField(null=True)
        removed_by = pw.CharField(max_length=128, default="")

    # The paper broker's tables have their own module (tsys.store.paper_models); they are part
    # of the schema all the same, so ``all`` lists them for the schema-vs-models check.
    paper = paper_models(db)
    from tsys.store.option_alerts import option_alert_models

    option_alerts = option_alert_models(db)
    return model_namespace(
        ManualPosition,
        ManualFill,
        DailyRunIndex,
        OverrideRule,
        *paper.all,
        *option_alerts.all,
        paper=paper,
        option_alerts=option_alerts,
    )
