"""Unusual options-flow alerts, recorded as fetched (or imported): no public history exists.

One row per alert, unique on ``alert_id`` (a vendor id, or a digest of the contract, rule and
time when the vendor sends none), so a sync that fetches overlapping pages stores each alert
once. ``raw`` keeps the vendor's payload as received (JSON); the other columns are the
normalised fields the buckets read.
"""

from __future__ import annotations

from typing import Any

import peewee as pw

VERSION = 5
NAME = "option alerts"


def up(db: Any) -> None:
    class Base(pw.Model):
        class Meta:
            database = db

    class OptionAlert(Base):
        alert_id = pw.CharField(max_length=96, unique=True)
        source = pw.CharField(max_length=32)
        created_at = pw.DateTimeField(index=True)
        session_date = pw.DateField(index=True)
        symbol = pw.CharField(max_length=32, index=True)
        option_symbol = pw.CharField(max_length=48, default="")
        root = pw.CharField(max_length=16, default="")
        nonstandard = pw.BooleanField(default=False)
        option_type = pw.CharField(max_length=8)
        expiry = pw.DateField(null=True)
        strike = pw.DoubleField(null=True)
        dte = pw.IntegerField(null=True)
        rule = pw.CharField(max_length=64, default="")
        issue_type = pw.CharField(max_length=32, default="")
        premium = pw.DoubleField()
        ask_premium = pw.DoubleField(null=True)
        bid_premium = pw.DoubleField(null=True)
        side = pw.CharField(max_length=8, default="")
        size = pw.IntegerField(null=True)
        volume = pw.IntegerField(null=True)
        open_interest = pw.IntegerField(null=True)
        volume_oi_ratio = pw.DoubleField(null=True)
        price = pw.DoubleField(null=True)
        underlying_price = pw.DoubleField(null=True)
        otm_pct = pw.DoubleField(null=True)
        sweep = pw.BooleanField(default=False)
        floor = pw.BooleanField(default=False)
        opening = pw.BooleanField(default=False)
        raw = pw.TextField(default="{}")
        stored_at = pw.DateTimeField()

        class Meta:
            table_name = "option_alerts"

    db.create_tables([OptionAlert], safe=False)
