"""Positions for tests of code that reads a book (portfolio views, newsletters, notifiers)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from tsys.contracts import PositionRecord


def sample_position(
    symbol: str,
    quantity: float,
    entry_price: float,
    *,
    opened_at: dt.datetime,
    source: str = "manual",
    side: str = "buy",
    asset_class: str | None = None,
    **fields: Any,
) -> PositionRecord:
    """An open position of ``quantity`` entered at ``entry_price`` at ``opened_at``.

    The id is ``"<source>-<symbol>"`` unless ``fields`` give one, and the asset class crypto for
    a ``-USD`` pair, else equity; ``fields`` set any other :class:`~tsys.contracts.PositionRecord`
    field (``id="p1"``, ``stop=...``, ``bucket=...``, ``closed_at=...``).
    """
    if asset_class is None:
        asset_class = "crypto" if symbol.endswith("-USD") else "equity"
    pid = fields.pop("id", f"{source}-{symbol}")
    return PositionRecord(
        id=pid,
        source=source,
        symbol=symbol,
        asset_class=asset_class,
        side=side,
        quantity=quantity,
        opened_at=opened_at,
        entry_price=entry_price,
        **fields,
    )


__all__ = ["sample_position"]
