"""The manual book as columns: every live position opened by a moment, one array per field.

:meth:`tsys.store.manual.ManualTrades.columns` reads here; ``book`` and ``tsys portfolio`` use
it. At 100,000 trades, building one :class:`~tsys.contracts.PositionRecord` per stored row (its
converters and validators, its enums and timestamps) cost more than everything else a portfolio
does, so the rows are read as columns (:class:`ManualBook`) and a record is built only when one
is asked for (:meth:`ManualBook.record`), by the same code as before
(:func:`tsys.store.manual_read.record`).

The rules still hold for every row, every time: a stored row that breaks a rule made after it
was written is left out with the same warning as before (:func:`tsys.store.manual_read.loadable`).
:func:`fast_rows` checks the columns in bulk against what building the record checks: the
field rules of :class:`~tsys.contracts.PositionRecord` (each distinct symbol, asset class and
side through the field's own converter and validator; numbers finite, positive or
non-negative as their fields require; timestamps that parse, a close not before the open; the
R-multiple finite) and the stored tags. A row it cannot vouch for goes the old way, through the
record and its validators: the bulk check may only be stricter, never looser. A position with a
fill after the moment is rebuilt from its fills, as before. ``core/tests/store/test_manual_columns.py``
checks both routes give the same book on random rows, broken ones included, and fails when
:class:`~tsys.contracts.PositionRecord`'s rules change without this module.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np

from tsys.contracts import AssetClass, PositionRecord, Side
from tsys.store._time import to_db
from tsys.store.manual_fills import fills_of
from tsys.store.manual_read import PositionRow, late_ids, loadable, record
from tsys.store.manual_trade import format_id

if TYPE_CHECKING:
    from tsys.store.manual import ManualTrades

#: The numeric columns of a row, and what their record fields require of them.
_NUMBERS = (
    ("initial_quantity", "any"),
    ("quantity", "non-negative"),
    ("entry_price", "positive"),
    ("exit_price", "optional positive"),
    ("stop", "optional positive"),
    ("target", "optional positive"),
    ("realized_pnl", "finite"),
)
_COL = {name: i for i, name in enumerate(PositionRow._fields)}


@attrs.frozen(eq=False)
class ManualBook:
    """The live manual positions opened by a moment, as columns in id order.

    ``symbol``, ``asset_class`` (its value), ``side`` (its value) and ``bucket`` are lists;
    the numbers are float arrays (``stop`` and ``target`` NaN where there is none, with
    ``has_stop`` and ``has_target``). Each entry is what :meth:`record` would hold.
    """

    ids: list[int]
    symbol: list[str]
    asset_class: list[str]
    side: list[str]
    bucket: list[Any]
    quantity: np.ndarray
    entry_price: np.ndarray
    stop: np.ndarray
    has_stop: np.ndarray
    target: np.ndarray
    has_target: np.ndarray
    realized_pnl: np.ndarray
    is_open: np.ndarray
    #: Builds the record of entry ``i`` (its stored row, or the record already rebuilt).
    _make: Callable[[int], PositionRecord]
    _tags: Callable[[int], tuple[Any, ...]]

    def __len__(self) -> int:
        return len(self.ids)

    def record(self, i: int) -> PositionRecord:
        """The :class:`~tsys.contracts.PositionRecord` of entry ``i`` (built on demand)."""
        return self._make(i)

    def records(self, indices: Sequence[int] | np.ndarray | None = None) -> list[PositionRecord]:
        idx = range(len(self)) if indices is None else indices
        return [self._make(int(i)) for i in idx]

    def tags(self, i: int) -> tuple[Any, ...]:
        """The tags of entry ``i`` (what :meth:`record` would hold, without building it)."""
        return self._tags(i)

    def open_indices(self) -> np.ndarray:
        return np.flatnonzero(self.is_open)

    def closed_indices(self) -> np.ndarray:
        return np.flatnonzero(~self.is_open)


def read_book(repo: ManualTrades, as_of: dt.datetime) -> ManualBook:
    """Every live position opened by ``as_of``, as of that moment (see the module)."""
    P = repo._P
    query = P.select().where(P.deleted_at.is_null() & (P.opened_at <= to_db(as_of)))
    cols = [getattr(P, f) for f in PositionRow._fields]
    raw = repo._store.db.execute(query.select(*cols).order_by(P.id)).fetchall()
    late = late_ids(repo, as_of)
    transposed = list(zip(*raw, strict=True))
    fast = _fast(transposed, len(raw))
    if late:
        fast &= np.array([r[0] not in late for r in raw], dtype=bool)
    slow = np.flatnonzero(~fast).tolist()
    fills = fills_of(repo._F, [raw[i][0] for i in slow if raw[i][0] in late])
    rebuilt: dict[int, PositionRecord] = {}
    keep = fast.copy()
    for i in slow:  # in id order, as the per-row read warned
        row = PositionRow(*raw[i])
        fs = fills.get(row.id)
        rec = loadable(repo, row, fs or [], as_of=as_of if fs else None, with_fills=False)
        if rec is not None:
            rebuilt[i] = rec
            keep[i] = True
    if keep.all():  # (nearly always: the columns already read are the book's)
        return _columns(raw, transposed, rebuilt)
    kept = np.flatnonzero(keep).tolist()
    rows = [raw[i] for i in kept]
    rebuilt = {pos: rebuilt[i] for pos, i in enumerate(kept) if i in rebuilt}
    return _columns(rows, list(zip(*rows, strict=True)), rebuilt)


def _columns(rows: list[tuple], c: list[tuple], by_pos: dict[int, PositionRecord]) -> ManualBook:
    """The book of ``rows`` (``c``: their columns; ``by_pos``: the records already built)."""
    n = len(rows)
    c = c or [()] * len(PositionRow._fields)

    def text(name: str, canon: Callable[[Any], Any] = lambda x: x) -> list[Any]:
        m = {v: canon(v) for v in set(c[_COL[name]])}
        return [m[v] for v in c[_COL[name]]]

    def num(name: str) -> np.ndarray:  # (a rebuilt row's own values replace what it stored)
        return np.array([x if type(x) is float else np.nan for x in c[_COL[name]]], dtype=float)

    symbol = list(c[_COL["symbol"]])
    asset_class = text("asset_class", lambda v: AssetClass(v).value)
    side = text("side", lambda v: Side(v).value)
    bucket = [b or "" for b in c[_COL["bucket"]]]
    quantity, entry, stop, target, realized = (
        num(k) for k in ("quantity", "entry_price", "stop", "target", "realized_pnl")
    )
    closed_at = c[_COL["closed_at"]]
    is_open = np.array([x is None for x in closed_at], dtype=bool) & (quantity > 0)
    for pos, rec in by_pos.items():  # rebuilt from fills, or built the old way
        symbol[pos], bucket[pos] = rec.symbol, rec.bucket
        asset_class[pos], side[pos] = rec.asset_class.value, rec.side.value
        quantity[pos], entry[pos], realized[pos] = rec.quantity, rec.entry_price, rec.realized_pnl
        stop[pos] = np.nan if rec.stop is None else rec.stop
        target[pos] = np.nan if rec.target is None else rec.target
        is_open[pos] = rec.is_open

    def make(i: int) -> PositionRecord:
        if i in by_pos:
            return by_pos[i]
        return record(PositionRow(*rows[i]), (), with_fills=False)

    def tags(i: int) -> tuple[Any, ...]:
        if i in by_pos:
            return by_pos[i].tags
        return tuple(json.loads(rows[i][_COL["tags"]] or "[]"))  # (as manual_read.record)

    return ManualBook(
        ids=list(c[_COL["id"]]),
        symbol=symbol,
        asset_class=asset_class,
        side=side,
        bucket=bucket,
        quantity=quantity,
        entry_price=entry,
        stop=stop,
        has_stop=~np.isnan(stop) if n else np.zeros(0, dtype=bool),
        target=target,
        has_target=~np.isnan(target) if n else np.zeros(0, dtype=bool),
        realized_pnl=realized,
        is_open=is_open,
        make=make,
        tags=tags,
    )


# ------------------------------------------------------------------------- the bulk check
def fast_rows(raw: Sequence[tuple]) -> np.ndarray:
    """Rows (``PositionRow`` field order) whose record certainly builds (see the module)."""
    return _fast(list(zip(*raw, strict=True)), len(raw))


def _fast(c: list[tuple], n: int) -> np.ndarray:
    """:func:`fast_rows` of the rows whose columns are ``c``."""
    if n == 0:
        return np.zeros(0, dtype=bool)
    ok = np.array([type(x) is int for x in c[_COL["id"]]], dtype=bool)
    fields = attrs.fields_dict(PositionRecord)
    for name, check in (
        ("symbol", lambda v: _field_ok(fields["symbol"], v)),
        ("asset_class", lambda v: _field_ok(fields["asset_class"], v)),
        ("side", lambda v: v in ("buy", "sell") and _field_ok(fields["side"], v)),
        ("tags", _tags_ok),
    ):
        col = c[_COL[name]]
        verdict = {v: check(v) for v in set(col)}
        ok &= np.array([verdict[v] for v in col], dtype=bool)
    nums = {}
    for name, rule in _NUMBERS:
        arr, good = _numbers(c[_COL[name]], optional=rule.startswith("optional"))
        with np.errstate(invalid="ignore"):
            if rule.endswith("positive") and "non" not in rule:
                good &= np.isnan(arr) | (arr > 0) if rule.startswith("optional") else arr > 0
            elif rule == "non-negative":
                good &= arr >= 0
        nums[name] = arr
        ok &= good
    opened, good_open = _stamps(c[_COL["opened_at"]], optional=False)
    closed, good_close = _stamps(c[_COL["closed_at"]], optional=True)
    ok &= good_open & good_close
    read = (good_open & good_close).tolist()
    ok &= np.array(  # not closed before it opened (compared where both read)
        [not r or x is None or x >= t for r, t, x in zip(read, opened, closed, strict=True)],
        dtype=bool,
    )
    has_close = np.array([x is not None for x in c[_COL["closed_at"]]], dtype=bool)
    ok &= _r_multiple_ok(nums, c[_COL["side"]], has_close)
    return ok


def _field_ok(field: attrs.Attribute, value: Any) -> bool:
    """Whether ``value`` passes ``field``'s own converter and validator."""
    try:
        conv = field.converter
        if isinstance(conv, attrs.Converter):
            value = conv.converter(value, field) if conv.takes_field else conv.converter(value)
        elif conv is not None:
            value = conv(value)
        if field.validator is not None:
            field.validator(None, field, value)
    except (ValueError, TypeError, KeyError, ArithmeticError):
        return False
    return True


def _tags_ok(text: Any) -> bool:
    if not text or text == "[]":
        return True
    try:
        return isinstance(text, str) and isinstance(json.loads(text), list)
    except ValueError:
        return False


def _numbers(col: Sequence[Any], *, optional: bool) -> tuple[np.ndarray, np.ndarray]:
    """A float column (NaN where a value is not a float) and where its values are finite
    floats (or None, when ``optional``)."""
    none = np.array([x is None for x in col], dtype=bool)
    if set(map(type, col)) <= {float, type(None)}:
        arr = np.array([np.nan if x is None else x for x in col], dtype=float)
    else:
        arr = np.array([x if type(x) is float else np.nan for x in col], dtype=float)
    return arr, np.isfinite(arr) | (none if optional else False)


def _stamps(col: Sequence[Any], *, optional: bool) -> tuple[list[Any], np.ndarray]:
    """A timestamp column read as naive (UTC) datetimes, None where there is none or it does
    not read, and where it reads (None counts as read when ``optional``)."""
    try:  # (one pass when every value reads: a str that is not ISO 8601 raises)
        out = [x if x is None or type(x) is dt.datetime else _parse(x) for x in col]
    except (ValueError, TypeError):
        out = [_stamp(x) for x in col]
    good = [
        (x is None and optional) or (type(t) is dt.datetime and t.tzinfo is None)
        for x, t in zip(col, out, strict=True)
    ]
    return out, np.array(good, dtype=bool)


_parse = dt.datetime.fromisoformat


def _stamp(x: Any) -> Any:
    try:
        return x if x is None or type(x) is dt.datetime else _parse(x)
    except (ValueError, TypeError):
        return None


def _r_multiple_ok(nums: dict[str, np.ndarray], side: Sequence[Any], closed: np.ndarray) -> Any:
    """Where the record's R-multiple (realised over the initial risk) is finite or None."""
    long = np.array([s == "buy" for s in side], dtype=bool)
    entry, stop = nums["entry_price"], nums["stop"]
    with np.errstate(all="ignore"):
        per_unit = np.where(long, entry - stop, stop - entry)
        risk = per_unit * nums["initial_quantity"]
        r = nums["realized_pnl"] / risk
    applies = closed & ~np.isnan(stop) & (per_unit > 0)
    return ~applies | (np.isfinite(r) & (risk != 0))


__all__ = ["ManualBook", "fast_rows", "format_id", "read_book"]
