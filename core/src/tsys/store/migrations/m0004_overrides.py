"""Discretionary overrides set with ``tsys override``: who, when, why, what and until when.

Rules are never deleted: ``removed_at`` marks a removal and an expired rule stays in history.
"""

from __future__ import annotations

from typing import Any

import peewee as pw

VERSION = 4
NAME = "overrides"


def up(db: Any) -> None:
    class Base(pw.Model):
        class Meta:
            database = db

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

        class Meta:
            table_name = "override_rules"

    db.create_tables([OverrideRule], safe=False)
