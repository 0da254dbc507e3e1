"""Manual trades a page at a time, and a fingerprint of the manual book.

:meth:`tsys.store.manual.ManualTrades.list` builds every record (a book of 10,000 trades takes
seconds); a page of a table needs 50. :func:`page` selects the ids of one page in the database
(status and tag filtered there too) and builds only those records, through the repository's
own record builder (the same as :meth:`~tsys.store.manual.ManualTrades.get`), in two queries.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from tsys.store._time import from_db

if TYPE_CHECKING:
    from tsys.store import Store


def page(
    store: Store, *, status: str = "all", tag: str | None = None, number: int = 1, size: int = 50
) -> tuple[list[Any], int]:
    """Page ``number`` (from 1) of the manual trades, newest first, and how many match."""
    if status not in ("all", "open", "closed"):
        raise ValueError(f"status must be all, open or closed, got {status!r}")
    P = store.models.ManualPosition
    q = P.select(P.id).where(P.deleted_at.is_null())
    if status == "open":
        q = q.where(P.closed_at.is_null())
    elif status == "closed":
        q = q.where(P.closed_at.is_null(False))
    start = (max(1, number) - 1) * size
    if tag:
        # tags are a JSON list in a text column: narrow in SQL, decide exactly here
        q = q.select(P.id, P.tags).where(P.tags.contains(json.dumps(tag)))
        ids = [r.id for r in q.order_by(P.id.desc()) if tag in json.loads(r.tags or "[]")]
        total, ids = len(ids), ids[start : start + size]
    else:
        total = q.count()
        ids = [r.id for r in q.order_by(P.id.desc()).limit(size).offset(start)]
    manual = store.manual
    rows = {r.id: r for r in P.select().where(P.id.in_(ids))} if ids else {}
    fills = manual._fills_of(ids) if ids else {}
    records = [manual._loadable(rows[i], fills.get(i, [])) for i in ids if i in rows]
    records = [r for r in records if r is not None]  # an unloadable row is in manual.skipped
    return records, total


def fingerprint(store: Store) -> tuple[Any, ...]:
    """Changes whenever a manual trade is added, edited, closed, deleted or restored."""
    import peewee as pw

    P, F = store.models.ManualPosition, store.models.ManualFill
    row = P.select(pw.fn.COUNT(P.id), pw.fn.MAX(P.updated_at)).tuples().first()
    fills = F.select(pw.fn.COUNT(F.id)).scalar()
    latest = from_db(row[1]) if row and row[1] is not None else None
    return (row[0] if row else 0, None if latest is None else latest.isoformat(), fills)
