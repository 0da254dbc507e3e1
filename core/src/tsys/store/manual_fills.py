"""Manual fills read in bulk as plain tuples.

:meth:`tsys.store.manual.ManualTrades.list` rebuilds every position from its fills; building a
peewee model per fill row cost more than the rebuild itself at 10,000 trades. A
:class:`FillRow` carries the same column values (after the same field conversions) under the
same attribute names as the model, so callers read it exactly like a model row.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple


class FillRow(NamedTuple):
    """One ``manual_fills`` row: the columns the repository reads, read-only."""

    id: int
    position_id: int
    kind: str
    side: str
    quantity: float
    price: float
    fee: float
    timestamp: Any


def fills_of(F: Any, pids: Sequence[int]) -> dict[int, list[FillRow]]:
    """Each position's fills, by timestamp then id, in one query per 900 positions."""
    out: dict[int, list[FillRow]] = {p: [] for p in pids}
    chunk = 900  # below SQLite's bound-parameter limit
    cols = (F.id, F.position, F.kind, F.side, F.quantity, F.price, F.fee, F.timestamp)
    for i in range(0, len(pids), chunk):
        part = list(pids[i : i + chunk])
        q = F.select(*cols).where(F.position.in_(part)).order_by(F.timestamp, F.id).tuples()
        for t in q:
            out[t[1]].append(FillRow(*t))
    return out
