"""Paper equity history: one mark per broker and day (cash, positions value, equity, holdings).

The local paper broker writes a mark every time it marks its book to a day's closes; any broker
with a store log gets one per daily run. ``tsys paper report`` draws the equity curve from it.
"""

from __future__ import annotations

from typing import Any

import peewee as pw

VERSION = 3
NAME = "paper equity marks"


def up(db: Any) -> None:
    class Base(pw.Model):
        class Meta:
            database = db

    class PaperMark(Base):
        broker = pw.CharField(max_length=64)
        date = pw.DateField()
        cash = pw.DoubleField()
        positions_value = pw.DoubleField()
        equity = pw.DoubleField()
        positions = pw.TextField(default="{}")
        recorded_at = pw.DateTimeField()

        class Meta:
            table_name = "paper_marks"
            indexes = ((("broker", "date"), True),)

    db.create_tables([PaperMark], safe=False)
