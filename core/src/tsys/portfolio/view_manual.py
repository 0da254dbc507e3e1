"""The manual book's open positions valued as columns, for :func:`tsys.portfolio.view.build_view`.

A book of 100,000 manual trades made one record, one :class:`~tsys.portfolio.view.PositionLine`
and one dict per position; here every number of the view is one array operation over the
book's columns (:class:`tsys.store.manual_columns.ManualBook`), with the same arithmetic as
:func:`tsys.portfolio.view._line` in the same order, so each value is the same float. A line
(with its record) is built only when one is asked for (:class:`Lines`); ``--json`` takes the
values from the columns (:meth:`ManualLines.dicts`).

Sums stay sums in line order: :func:`group_sums` adds each key's values one after the other
(``np.bincount`` adds its weights in index order), as the view's loop over lines did.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

#: The keys of one position of ``tsys portfolio --json``, in order.
KEYS = (
    "id",
    "source",
    "symbol",
    "asset_class",
    "side",
    "bucket",
    "sector",
    "quantity",
    "entry_price",
    "cost",
    "last_price",
    "market_value",
    "unrealized_pnl",
    "stop",
    "target",
    "time_stop_bars",
    "opened_by",
    "through_stop",
    "money_at_risk",
    "r_multiple",
    "weight",
)


def _opt(values: np.ndarray, mask: np.ndarray) -> list[Any]:
    """The values where ``mask`` holds, None elsewhere (Python floats)."""
    out = values.astype(object)  # (each element a Python float)
    out[~mask] = None
    return out.tolist()


def group_sums(keys: Sequence[Any], values: np.ndarray, into: dict[Any, float]) -> None:
    """Add ``values`` to ``into`` by key, each key's values in order (keys new to ``into``
    in order of first appearance), as ``into[k] = into.get(k, 0.0) + v`` one by one would."""
    index = {k: j for j, k in enumerate(dict.fromkeys(keys))}  # in order of first appearance
    codes = np.fromiter(map(index.__getitem__, keys), dtype=np.intp, count=len(keys))
    sums = np.bincount(codes, weights=values, minlength=len(index)).tolist()
    for k, j in index.items():
        if k in into:  # (never, when the book comes first: kept for a general caller)
            acc = into[k]
            for v in values[codes == j].tolist():
                acc += v
            into[k] = acc
        else:
            into[k] = sums[j]


class ManualLines:
    """The open positions of a manual book, valued at ``prices`` (see the module)."""

    def __init__(
        self,
        book: Any,
        prices: Mapping[str, float],
        sectors: Mapping[str, str],
        equity: float,
        unknown_sector: str,
        line_cls: type,
    ) -> None:
        self._line_cls = line_cls  # tsys.portfolio.view.PositionLine
        self.book = book
        idx = book.open_indices()
        self.index = idx.tolist()
        self.symbol = [book.symbol[i] for i in self.index]
        self.side = [book.side[i] for i in self.index]
        self.bucket = [book.bucket[i] for i in self.index]
        self.asset_class = [book.asset_class[i] for i in self.index]
        known: dict[str, Any] = {}
        for s in set(self.symbol):
            px = prices.get(s)
            known[s] = None if px is None or not math.isfinite(px) or px <= 0 else px
        self.sector = [sectors.get(s) or unknown_sector for s in self.symbol]
        self.last = [known[s] for s in self.symbol]
        self.missing = {s for s, px in known.items() if px is None}
        priced = np.array([x is not None for x in self.last], dtype=bool)
        px = np.array([np.nan if x is None else x for x in self.last], dtype=float)
        long = np.array([s == "buy" for s in self.side], dtype=bool)
        d = np.where(long, 1.0, -1.0)
        q, entry = book.quantity[idx], book.entry_price[idx]
        stop, self.has_stop = book.stop[idx], book.has_stop[idx]
        self.stop_value, self.target = stop, book.target[idx]
        self.has_target = book.has_target[idx]
        self.quantity, self.entry = q, entry
        with np.errstate(all="ignore"):
            self.cost = q * entry
            dq = d * q
            self.mv = dq * px
            self.upnl = dq * (px - entry)
            raw_risk = dq * (px - stop)
            self.risk = np.where(raw_risk > 0, raw_risk, 0.0)
            per_unit = d * (entry - stop)
            self.r = d * (px - entry) / per_unit
            self.weight = np.abs(self.mv) / equity if equity > 0 else None
            self.through = priced & self.has_stop & np.where(long, px <= stop, px >= stop)
        self.priced = priced
        self.has_risk = priced & self.has_stop
        self.has_r = self.has_risk & (per_unit > 0)

    def __len__(self) -> int:
        return len(self.index)

    def line(self, k: int) -> Any:
        """The :class:`~tsys.portfolio.view.PositionLine` of entry ``k`` (its record built)."""
        rec = self.book.record(self.index[k])
        if not self.priced[k]:
            return self._line_cls(rec, self.sector[k], float(self.cost[k]), *[None] * 6)
        weight = None if self.weight is None else float(self.weight[k])
        return self._line_cls(
            rec,
            self.sector[k],
            float(self.cost[k]),
            self.last[k],
            float(self.mv[k]),
            float(self.upnl[k]),
            float(self.risk[k]) if self.has_risk[k] else None,
            float(self.r[k]) if self.has_r[k] else None,
            weight,
            bool(self.through[k]),
        )

    def add_exposure(
        self, exposure: dict[str, dict[str, float]], by_symbol: dict[str, float], no_bucket: str
    ) -> None:
        """Add the priced entries' gross values to ``exposure`` (by source, bucket, asset
        class and sector) and to ``by_symbol``."""
        at = np.flatnonzero(self.priced).tolist()
        gross = np.abs(self.mv[self.priced])
        for dim, keys in (
            ("source", ["manual"] * len(at)),
            ("bucket", [self.bucket[i] or no_bucket for i in at]),
            ("asset_class", [self.asset_class[i] for i in at]),
            ("sector", [self.sector[i] for i in at]),
        ):
            group_sums(keys, gross, exposure[dim])
        group_sums([self.symbol[i] for i in at], gross, by_symbol)

    def sums(self) -> tuple[list[float], ...]:
        """What the view's totals add up, in line order: every cost, and the priced entries'
        market values, money at risk (where there is a stop) and unrealised PnL."""
        on = self.priced
        return (
            self.cost.tolist(),
            self.mv[on].tolist(),
            self.risk[self.has_risk].tolist(),
            self.upnl[on].tolist(),
        )

    def through_stop(self) -> list[tuple[str, str, Any, float]]:
        """(symbol, "manual", last price, stop) of the entries whose last price is at or
        through their stop, in order (the values their lines hold)."""
        stop = self.stop_value.tolist()
        return [
            (self.symbol[k], "manual", self.last[k], stop[k])
            for k in np.flatnonzero(self.through).tolist()
        ]

    def columns(self) -> tuple[list[Any], ...]:
        """The entries as ``PortfolioView.to_dict`` lists positions, one column per key of
        :data:`KEYS`."""
        from tsys.store.manual_trade import format_ids

        n = len(self)
        priced = self.priced
        ids = format_ids([self.book.ids[i] for i in self.index])
        weight = _opt(self.weight, priced) if self.weight is not None else [None] * n
        cols = (
            ids,
            ["manual"] * n,
            self.symbol,
            self.asset_class,
            self.side,
            self.bucket,
            self.sector,
            self.quantity.tolist(),
            self.entry.tolist(),
            self.cost.tolist(),
            self.last,
            _opt(self.mv, priced),
            _opt(self.upnl, priced),
            _opt(self.stop_value, self.has_stop),
            _opt(self.target, self.has_target),
            [None] * n,
            [None] * n,
            self.through.tolist(),
            _opt(self.risk, self.has_risk),
            _opt(self.r, self.has_r),
            weight,
        )
        return cols


class Lines(Sequence):
    """A view's lines: the manual book's (built on demand) and then the others."""

    def __init__(self, manual: ManualLines, rest: Sequence[Any]) -> None:
        self.manual = manual
        self.rest = tuple(rest)

    def __len__(self) -> int:
        return len(self.manual) + len(self.rest)

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return tuple(self[j] for j in range(*i.indices(len(self))))
        n = len(self.manual)
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError("line index out of range")
        return self.manual.line(i) if i < n else self.rest[i - n]

    def __iter__(self) -> Iterator[Any]:
        for k in range(len(self.manual)):
            yield self.manual.line(k)
        yield from self.rest

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and tuple(self) == tuple(other)

    def __hash__(self) -> int:
        return hash(tuple(self))

    def largest(self, limit: int) -> list[Any]:
        """The ``limit`` lines of largest absolute market value (unpriced ones last), as
        ``sorted(lines, key=...)[:limit]`` orders them; only those lines are built."""
        m = self.manual
        value = np.where(m.priced, np.abs(np.where(m.priced, m.mv, 0.0)), 0.0)
        keys = [
            (not p, -v, k)
            for k, (p, v) in enumerate(zip(m.priced.tolist(), value.tolist(), strict=True))
        ]
        n = len(m)
        for j, ln in enumerate(self.rest):
            keys.append((ln.market_value is None, -abs(ln.market_value or 0.0), n + j))
        keys.sort()
        return [self[k] for _, _, k in keys[:limit]]
