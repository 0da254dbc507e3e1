"""The merged position view: system, paper and manual positions valued side by side.

:func:`build_view` is pure: positions, last prices, sectors, recent returns and the account
size in; a :class:`PortfolioView` out. :func:`tsys.holdings.load_portfolio` gathers those
inputs (the positions from :func:`tsys.holdings.open_positions`, the one count of every
position) and prices from the configured data source.

Conventions (the numbers ``tsys portfolio`` prints):

- market value is signed: ``+qty * price`` for a long, ``-qty * price`` for a short;
  exposure is the gross (absolute) market value, and a weight is exposure / account equity;
- cost is ``qty * entry price`` of the open quantity; unrealised PnL is ``d * qty * (price -
  entry)`` (``d`` = +1 long, -1 short);
- money at risk is ``qty * (price - stop)`` for a long, ``qty * (stop - price)`` for a short,
  floored at 0 (a stop past the price locks in a gain: nothing is at risk); none without a stop;
- the R-multiple of an open position is its unrealised PnL per unit over the initial risk per
  unit ``|entry - stop|`` (none without a stop on the losing side of the entry);
- a position whose last price is at or through its stop is flagged (``through_stop``) with a
  warning: the protective exit should have happened;
- a position without a price shows "n/a" and is left out of market value, unrealised PnL,
  money at risk and exposure, with a warning; its cost still counts;
- realised PnL is summed over manual trades: closed ones and partial closes of open ones;
- correlation clusters group held symbols by complete linkage: every pair inside a cluster has a
  correlation of daily returns (the last 60) above 0.7, with at least 20 common days.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from tsys.contracts import PositionRecord, PositionSource, Side
from tsys.format import shortlist

if TYPE_CHECKING:
    import pandas as pd

    from tsys.jsontext import Rows

CLUSTER_THRESHOLD = 0.7
CLUSTER_WINDOW = 60
CLUSTER_MIN_OBS = 20
UNKNOWN_SECTOR = "unknown"
NO_BUCKET = "(none)"


@attrs.frozen
class PositionLine:
    """One open position, valued."""

    position: PositionRecord
    sector: str
    cost: float
    last_price: float | None
    market_value: float | None
    unrealized_pnl: float | None
    money_at_risk: float | None
    r_multiple: float | None
    weight: float | None
    #: The last price is at or through the stop: the protective exit should have happened.
    through_stop: bool = False


@attrs.frozen
class Cluster:
    """Held symbols whose returns move together (every pair above the threshold)."""

    symbols: tuple[str, ...]
    market_value: float
    weight: float
    min_correlation: float


@attrs.frozen
class Totals:
    positions: int
    priced: int
    cost: float
    market_value: float
    gross_exposure: float
    unrealized_pnl: float
    money_at_risk: float
    realized_pnl: float
    realized_pnl_closed: float
    closed_trades: int


@attrs.frozen
class PortfolioView:
    """The merged book: lines, totals, exposures, clusters and what could not be valued."""

    account_equity: float
    lines: tuple[PositionLine, ...]
    totals: Totals
    #: dimension ("source", "bucket", "asset_class", "sector") -> key -> gross exposure.
    exposure: dict[str, dict[str, float]]
    clusters: tuple[Cluster, ...]
    warnings: tuple[str, ...] = ()
    as_of: dt.date | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data (``tsys portfolio --json``)."""
        return self._payload(_position_rows(self.lines).dicts())

    def through_stop_count(self) -> int:
        """How many lines have their last price at or through their stop."""
        from tsys.portfolio.view_manual import Lines

        if isinstance(self.lines, Lines):
            rest = sum(ln.through_stop for ln in self.lines.rest)
            return len(self.lines.manual.through_stop()) + rest
        return sum(ln.through_stop for ln in self.lines)

    def tags_by_id(self) -> dict[str, tuple[str, ...]]:
        """Each line's position id and tags (a manual book's without building its lines)."""
        from tsys.portfolio.view_manual import Lines
        from tsys.store.manual_trade import format_ids

        if isinstance(self.lines, Lines):
            m = self.lines.manual
            ids = format_ids([m.book.ids[i] for i in m.index])
            out = dict(zip(ids, map(m.book.tags, m.index), strict=True))
            return out | {ln.position.id: ln.position.tags for ln in self.lines.rest}
        return {ln.position.id: ln.position.tags for ln in self.lines}

    def to_json(self, *, end: str = "") -> str:
        """``json.dumps(self.to_dict(), indent=2) + end``, the positions written from
        columns."""
        from tsys.jsontext import dumps_indented

        return dumps_indented(self._payload(_position_rows(self.lines)), end=end)

    def _payload(self, positions: Any) -> dict[str, Any]:
        from tsys.serialization import unstructure

        eq = self.account_equity
        return {
            "as_of": None if self.as_of is None else self.as_of.isoformat(),
            "account_equity": eq,
            "positions": positions,
            "totals": unstructure(self.totals),
            "exposure": {
                dim: {
                    k: {"value": v, "weight": v / eq if eq > 0 else None} for k, v in rows.items()
                }
                for dim, rows in self.exposure.items()
            },
            "clusters": [unstructure(c) for c in self.clusters],
            "warnings": list(self.warnings),
        }


def _position_rows(lines: Sequence[PositionLine]) -> Rows:
    """The positions of ``to_dict`` as columns: the manual book's straight from its columns."""
    from tsys.jsontext import Rows
    from tsys.portfolio.view_manual import KEYS, Lines

    rest = lines.rest if isinstance(lines, Lines) else lines
    cols: list[list[Any]] = [[] for _ in KEYS]
    if isinstance(lines, Lines):
        cols = [list(c) for c in lines.manual.columns()]
    for ln in rest:
        p = ln.position
        for col, value in zip(
            cols,
            (
                p.id,
                p.source.value,
                p.symbol,
                p.asset_class.value,
                p.side.value,
                p.bucket,
                ln.sector,
                p.quantity,
                p.entry_price,
                ln.cost,
                ln.last_price,
                ln.market_value,
                ln.unrealized_pnl,
                p.stop,
                p.target,
                p.time_stop_bars,
                p.opened_by,
                ln.through_stop,
                ln.money_at_risk,
                ln.r_multiple,
                ln.weight,
            ),
            strict=True,
        ):
            col.append(value)
    return Rows(KEYS, cols)


def _line(p: PositionRecord, price: float | None, sector: str, equity: float) -> PositionLine:
    d = 1.0 if p.side is Side.BUY else -1.0
    cost = p.quantity * p.entry_price
    if price is None:
        return PositionLine(p, sector, cost, None, None, None, None, None, None)
    mv = d * p.quantity * price
    upnl = d * p.quantity * (price - p.entry_price)
    risk = None
    r_mult = None
    if p.stop is not None:
        risk = max(0.0, d * p.quantity * (price - p.stop))
        per_unit = d * (p.entry_price - p.stop)
        if per_unit > 0:
            r_mult = d * (price - p.entry_price) / per_unit
    weight = abs(mv) / equity if equity > 0 else None
    return PositionLine(
        p, sector, cost, price, mv, upnl, risk, r_mult, weight, p.through_stop(price)
    )


def build_view(
    positions: Sequence[PositionRecord],
    prices: Mapping[str, float],
    sectors: Mapping[str, str],
    returns: pd.DataFrame | None,
    account_equity: float,
    *,
    as_of: dt.date | None = None,
    warnings: Sequence[str] = (),
    manual: Any = None,
) -> PortfolioView:
    """Value ``positions`` at ``prices`` and summarise them (pure; no I/O).

    Parameters
    ----------
    positions
        Every position of every source; closed ones only count towards realised PnL.
    prices
        Last price per symbol; a missing (or non-finite, non-positive) price is "n/a".
    sectors
        Sector per symbol ("unknown" when absent).
    returns
        Daily returns, dates x symbols, for correlation clusters (None: no clusters).
    account_equity
        The account size that weights are shares of.
    manual
        A manual book as columns (:class:`tsys.store.manual_columns.ManualBook`), valued as
        columns (:mod:`tsys.portfolio.view_manual`): its open positions come before
        ``positions``, its closed ones after them, as if they were listed there.
    """
    from tsys.portfolio.view_manual import Lines, ManualLines

    notes = list(warnings)
    block = None
    if manual is not None:
        block = ManualLines(manual, prices, sectors, account_equity, UNKNOWN_SECTOR, PositionLine)
    lines: list[PositionLine] = []
    realized = 0.0
    realized_closed = 0.0
    closed_trades = 0
    missing: set[str] = set()
    if manual is not None:
        for x in manual.realized_pnl[manual.open_indices()].tolist():
            realized += x
        missing |= block.missing
    for p in positions:
        if p.source is PositionSource.MANUAL:
            realized += p.realized_pnl
            if not p.is_open:
                realized_closed += p.realized_pnl
                closed_trades += 1
        if not p.is_open:
            continue
        px = prices.get(p.symbol)
        if px is None or not math.isfinite(px) or px <= 0:
            px = None
            missing.add(p.symbol)
        lines.append(_line(p, px, sectors.get(p.symbol) or UNKNOWN_SECTOR, account_equity))
    if manual is not None:
        for x in manual.realized_pnl[manual.closed_indices()].tolist():
            realized += x
            realized_closed += x
            closed_trades += 1
    shown_lines: Sequence[PositionLine] = tuple(lines)
    through = [
        (ln.position.symbol, ln.position.source.value, ln.last_price, ln.position.stop)
        for ln in lines
        if ln.through_stop
    ]
    if block is not None:
        shown_lines = Lines(block, lines)
        through = block.through_stop() + through
    notes += _notes(through, missing)
    priced = [ln for ln in lines if ln.market_value is not None]
    cost = [ln.cost for ln in lines]
    mv = [ln.market_value for ln in priced]
    risk = [ln.money_at_risk for ln in priced if ln.money_at_risk is not None]
    upnl = [ln.unrealized_pnl for ln in priced]
    n_priced = len(priced)
    if block is not None:  # the book's lines come first: their sums start each one
        cost, mv, risk, upnl = (
            a + b for a, b in zip(block.sums(), (cost, mv, risk, upnl), strict=True)
        )
        n_priced += int(block.priced.sum())
    exposure, value_by_symbol = _exposure(priced, block)
    totals = Totals(
        positions=len(shown_lines),
        priced=n_priced,
        cost=sum(cost),
        market_value=sum(mv),  # type: ignore[arg-type]
        gross_exposure=sum(abs(x) for x in mv),  # type: ignore[arg-type]
        unrealized_pnl=sum(upnl),  # type: ignore[arg-type]
        money_at_risk=sum(risk),  # type: ignore[arg-type]
        realized_pnl=realized,
        realized_pnl_closed=realized_closed,
        closed_trades=closed_trades,
    )
    clusters: tuple[Cluster, ...] = ()
    if returns is not None and n_priced > 1:
        clusters = correlation_clusters(returns, value_by_symbol, account_equity)
    return PortfolioView(
        account_equity=account_equity,
        lines=shown_lines,  # type: ignore[arg-type]
        totals=totals,
        exposure={k: dict(sorted(v.items(), key=lambda kv: -kv[1])) for k, v in exposure.items()},
        clusters=clusters,
        warnings=tuple(notes),
        as_of=as_of,
    )


def largest_lines(lines: Sequence[PositionLine], limit: int) -> list[PositionLine]:
    """The ``limit`` lines of largest absolute market value, unpriced ones last (ties in line
    order); of a manual book's lines, only those are built."""
    from tsys.portfolio.view_manual import Lines

    if isinstance(lines, Lines):
        return lines.largest(limit)
    key = lambda ln: (ln.market_value is None, -abs(ln.market_value or 0.0))  # noqa: E731
    return sorted(lines, key=key)[:limit]


def _notes(through: Sequence[tuple[str, str, Any, Any]], missing: set[str]) -> list[str]:
    """The warnings about lines through their stops ((symbol, source, last price, stop) of
    each) and symbols without a price."""
    notes = []
    for symbol, source, last, stop in through:
        notes.append(
            f"{symbol} ({source}) last {last:,.2f} is through its stop "
            f"{stop:,.2f}: the protective exit should have happened"
        )
    if missing:
        notes.append(
            f"no price for {len(missing)} symbol(s) ({shortlist(sorted(missing))}): shown as "
            "n/a and left out of market value, unrealised PnL, risk and exposure"
        )
    return notes


def _exposure(
    priced: Sequence[PositionLine], block: Any
) -> tuple[dict[str, dict[str, float]], dict[str, float]]:
    """Gross exposure by source, bucket, asset class and sector, and by symbol: the manual
    book's lines (``block``, None: none) first, then ``priced``, each key summed in order."""
    exposure: dict[str, dict[str, float]] = {
        "source": {},
        "bucket": {},
        "asset_class": {},
        "sector": {},
    }
    by_symbol: dict[str, float] = {}
    if block is not None:
        block.add_exposure(exposure, by_symbol, NO_BUCKET)
    for ln in priced:
        gross = abs(ln.market_value)  # type: ignore[arg-type]
        p = ln.position
        for dim, key in (
            ("source", p.source.value),
            ("bucket", p.bucket or NO_BUCKET),
            ("asset_class", p.asset_class.value),
            ("sector", ln.sector),
        ):
            exposure[dim][key] = exposure[dim].get(key, 0.0) + gross
        by_symbol[p.symbol] = by_symbol.get(p.symbol, 0.0) + gross
    return exposure, by_symbol


def correlation_clusters(
    returns: pd.DataFrame,
    value_by_symbol: Mapping[str, float],
    account_equity: float,
    *,
    threshold: float = CLUSTER_THRESHOLD,
    window: int = CLUSTER_WINDOW,
    min_obs: int = CLUSTER_MIN_OBS,
) -> tuple[Cluster, ...]:
    """Complete-linkage clusters (size >= 2) of held symbols at correlation > ``threshold``."""
    import numpy as np

    symbols = sorted(s for s in value_by_symbol if s in returns.columns)
    if len(symbols) < 2:
        return ()
    corr = returns[symbols].tail(window).corr(min_periods=min_obs).to_numpy(dtype=float)
    corr = np.where(np.isnan(corr), -np.inf, corr)
    n = len(symbols)
    members: list[list[int]] = [[i] for i in range(n)]
    link = corr.copy()  # link[a, b]: the smallest pairwise correlation between clusters a, b
    np.fill_diagonal(link, -np.inf)
    alive = np.ones(n, dtype=bool)
    while True:
        masked = np.where(alive[:, None] & alive[None, :], link, -np.inf)
        a, b = np.unravel_index(int(np.argmax(masked)), masked.shape)
        if not masked[a, b] > threshold:
            break
        a, b = min(a, b), max(a, b)
        members[a] += members[b]
        members[b] = []
        alive[b] = False
        link[a, :] = np.minimum(link[a, :], link[b, :])
        link[:, a] = link[a, :]
        link[a, a] = -np.inf
    out = []
    for idx in members:
        if len(idx) < 2:
            continue
        syms = tuple(sorted(symbols[i] for i in idx))
        sub = corr[np.ix_(idx, idx)]
        mv = sum(value_by_symbol[s] for s in syms)
        out.append(
            Cluster(
                symbols=syms,
                market_value=mv,
                weight=mv / account_equity if account_equity > 0 else 0.0,
                min_correlation=float(sub[~np.eye(len(idx), dtype=bool)].min()),
            )
        )
    out.sort(key=lambda c: -c.market_value)
    return tuple(out)
