"""Optimistic concurrency for manual trades: a trade's version is its ``updated_at`` stamp.

Every write of :class:`tsys.store.manual.ManualTrades` (add, edit, close, delete, undelete)
sets ``updated_at`` to the write's time, to the microsecond, so the stamp read when a form was
opened names the exact state the user saw. :func:`expect_version`, called inside the same
transaction as the write, refuses the write when someone else changed the trade since: two
browser tabs editing one trade cannot silently overwrite each other.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tsys.store._time import from_db
from tsys.store.manual_trade import InvalidTrade, format_id, parse_id

if TYPE_CHECKING:
    from tsys.store import Store


class StaleTrade(InvalidTrade):
    """The trade changed since the form was opened; nothing was written."""


def version(store: Store, trade_id: str | int) -> str:
    """The version stamp of a trade (deleted ones included)."""
    P = store.models.ManualPosition
    pid = parse_id(trade_id)
    row = P.get_or_none(P.id == pid)
    if row is None:
        raise InvalidTrade(f"no manual trade {format_id(pid)}")
    return from_db(row.updated_at).isoformat()


def expect_version(store: Store, trade_id: str | int, expected: str | None) -> None:
    """Raise :class:`StaleTrade` unless the trade is still at ``expected`` (None: no check).

    Call it inside the write's transaction (``with store.transaction():``).
    """
    if expected is None:
        return
    current = version(store, trade_id)
    if current != expected:
        raise StaleTrade(
            f"{format_id(parse_id(trade_id))} was changed elsewhere (another tab or the command "
            "line) after you opened it; nothing was saved",
            hint="reload the trade to see its current state, then make your change again",
        )
