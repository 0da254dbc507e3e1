"""Writing manual trades in bulk: one multi-row insert per chunk, the new ids returned.

:meth:`tsys.store.manual.ManualTrades.add`, ``import_trades`` and ``bulk_add`` all store
through :func:`insert_trades`. A chunk of positions is one ``INSERT ... VALUES (...), (...)
RETURNING id`` (SQLite 3.35+ and PostgreSQL both return the ids), then their fills are one
multi-row insert per chunk; the statements are written out here with placeholders
(:func:`insert_rows`). The ids are sorted before they are paired with the trades: one
statement inserts its rows in the order of its ``VALUES`` and numbers them increasingly, while
the order of the ``RETURNING`` rows themselves is not promised by either database.

Every derived column is computed here by :func:`tsys.store.manual_trade.compute_state`, the
same function every later write recomputes them with.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Iterator
from itertools import chain, islice
from typing import TYPE_CHECKING, Any

from tsys.contracts import AssetClass, Side
from tsys.store._time import to_db
from tsys.store.manual_trade import TradeInput, clean_tags, compute_state, default_asset_class

if TYPE_CHECKING:
    from tsys.store.manual import ManualTrades

#: Positions per insert (17 columns: 8,500 bound values, below every backend's limit).
POSITION_CHUNK = 500
#: Fills per insert (8 columns).
FILL_CHUNK = 1000


def opposite(side: str) -> str:
    return "sell" if side == "buy" else "buy"


def rows_of(t: TradeInput, now: dt.datetime) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The ``manual_positions`` row of ``t`` and its fills' rows (without the position id)."""
    side = Side(t.side.lower())
    closes = sorted(t.closes, key=lambda c: c.at)
    state = compute_state(
        side, t.quantity, t.price, t.fee, [(c.quantity, c.price, c.fee, c.at) for c in closes]
    )
    ac = AssetClass(t.asset_class.lower()) if t.asset_class else default_asset_class(t.symbol)
    stamp = to_db(now)
    opened = to_db(t.opened_at)
    position = dict(
        symbol=t.symbol.strip().upper(),
        asset_class=ac.value,
        side=side.value,
        initial_quantity=state.initial_quantity,
        quantity=state.quantity,
        entry_price=state.entry_price,
        opened_at=opened,
        closed_at=to_db(state.closed_at),
        exit_price=state.exit_price,
        stop=t.stop,
        target=t.target,
        bucket=t.bucket or "",
        notes=t.notes or "",
        tags=json.dumps(clean_tags(t.tags)) if t.tags else "[]",
        realized_pnl=state.realized_pnl,
        created_at=stamp,
        updated_at=stamp,
    )
    fills = [
        dict(
            kind="open",
            side=side.value,
            quantity=t.quantity,
            price=t.price,
            fee=t.fee,
            timestamp=opened,
            created_at=stamp,
        )
    ] + [
        dict(
            kind="close",
            side=opposite(side.value),
            quantity=c.quantity,
            price=c.price,
            fee=c.fee,
            timestamp=to_db(c.at),
            created_at=stamp,
        )
        for c in closes
    ]
    return position, fills


def _chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    it = iter(items)
    while chunk := list(islice(it, size)):
        yield chunk


def insert_trades(repo: ManualTrades, trades: Iterable[TradeInput], now: dt.datetime) -> list[int]:
    """Insert ``trades`` (valid ones: nothing is checked here) and return their ids, in order.

    Call it inside a transaction (:meth:`tsys.store.Store.transaction`).
    """
    P, F = repo._P, repo._F
    ids: list[int] = []
    for chunk in _chunks(trades, POSITION_CHUNK):
        rows = [rows_of(t, now) for t in chunk]
        new = sorted(insert_rows(P, [r[0] for r in rows], returning=True))
        if len(new) != len(rows):
            raise RuntimeError(f"the store returned {len(new)} ids for {len(rows)} new trades")
        fills = [dict(f, position=pid) for pid, (_, fs) in zip(new, rows, strict=True) for f in fs]
        for part in _chunks(fills, FILL_CHUNK):
            insert_rows(F, part)
        ids += new
    return ids


def insert_rows(model: Any, rows: list[dict[str, Any]], *, returning: bool = False) -> list[int]:
    """One ``INSERT INTO table (...) VALUES (...), (...)`` of ``rows`` (dicts of the same
    fields), each value through its field's ``db_value`` as peewee's ``insert_many`` does; the
    new ids with ``returning``. Written here, not built by peewee: building the statement's
    expression tree took three quarters of an import's time."""
    db = model._meta.database
    fields = [model._meta.fields[name] for name in rows[0]]
    columns = ", ".join(f'"{f.column_name}"' for f in fields)
    one = "(" + ", ".join([db.param] * len(fields)) + ")"
    sql = f'INSERT INTO "{model._meta.table_name}" ({columns}) VALUES ' + ", ".join(
        [one] * len(rows)
    )
    columns = [db_values(f, [r[f.name] for r in rows]) for f in fields]
    import peewee as pw

    if isinstance(db, pw.SqliteDatabase):
        columns = [_sqlite_texts(c) for c in columns]
    params = list(chain.from_iterable(zip(*columns, strict=True)))
    if not returning:
        db.execute_sql(sql, params)
        return []
    return [r[0] for r in db.execute_sql(sql + ' RETURNING "id"', params).fetchall()]


def _sqlite_texts(values: list[Any]) -> list[Any]:
    """Naive datetimes as the text SQLite stores for them (``sqlite3``'s own adapter:
    ``isoformat(" ")``), each distinct one written once: an import binds about six stamps a
    trade, few of them different."""
    if dt.datetime not in set(map(type, values)):
        return values
    memo: dict[dt.datetime, str] = {}
    return [
        (memo.get(v) or memo.setdefault(v, v.isoformat(" ")))
        if type(v) is dt.datetime and v.tzinfo is None
        else v
        for v in values
    ]


#: ``adapt`` methods of peewee fields that return a value of these types unchanged.
_UNCHANGED: dict[Any, tuple[type, ...]] = {}


def db_values(field: Any, values: list[Any]) -> list[Any]:
    """``[field.db_value(v) for v in values]``; ``values`` itself when every value is one the
    field's ``db_value`` returns unchanged (a float of a float field, a str of a text field,
    a datetime of a datetime field, None), which is nearly every time."""
    import peewee as pw

    if not _UNCHANGED:
        _UNCHANGED.update(
            {
                pw.FloatField.adapt: (float,),
                pw._StringField.adapt: (str,),
                pw.DateTimeField.adapt: (dt.datetime,),
                pw.IntegerField.adapt: (int,),
            }
        )
    kinds = set(map(type, values)) - {type(None)}
    cls = type(field)
    if cls.db_value is pw.Field.db_value and kinds <= set(_UNCHANGED.get(cls.adapt, ())):
        return values
    return list(map(field.db_value, values))


def insert_one(repo: ManualTrades, trade: TradeInput, now: dt.datetime) -> int:
    """Insert one trade (see :func:`insert_trades`) and return its id."""
    return insert_trades(repo, [trade], now)[0]
