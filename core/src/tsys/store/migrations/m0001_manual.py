"""Manual positions and their fills, and the index of daily runs.

Timestamps are stored as naive UTC (``DateTimeField``); the store converts at its boundary.
Tags are a JSON list in a text column.
"""

from __future__ import annotations

from typing import Any

import peewee as pw

VERSION = 1
NAME = "manual positions, manual fills, daily runs index"


def up(db: Any) -> None:
    class Base(pw.Model):
        class Meta:
            database = db

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

        class Meta:
            table_name = "manual_positions"

    class ManualFill(Base):
        position = pw.ForeignKeyField(
            ManualPosition, column_name="position_id", on_delete="CASCADE", index=True
        )
        kind = pw.CharField(max_length=8)  # "open" or "close"
        side = pw.CharField(max_length=8)
        quantity = pw.DoubleField()
        price = pw.DoubleField()
        fee = pw.DoubleField(default=0.0)
        timestamp = pw.DateTimeField()
        created_at = pw.DateTimeField()

        class Meta:
            table_name = "manual_fills"

    class DailyRunIndex(Base):
        as_of = pw.DateField(unique=True)
        created_at = pw.DateTimeField()
        config_digest = pw.CharField(max_length=64)
        path = pw.TextField()

        class Meta:
            table_name = "daily_runs"

    db.create_tables([ManualPosition, ManualFill, DailyRunIndex], safe=False)
