"""The book after today's plans: holdings not sold plus today's buys, with exposures."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import attrs

from tsys.contracts import Action, AssetClass, BucketRun, PortfolioSnapshot, PositionRecord
from tsys.daily.holdings import planned_positions


def portfolio_snapshot(
    bucket_runs: Sequence[BucketRun],
    holdings: Sequence[PositionRecord],
    equity: float,
    at: dt.datetime,
    *,
    sectors: dict[str, str] | None = None,
) -> PortfolioSnapshot:
    """The book after today's plans: holdings not sold plus today's buys, with exposures."""
    sectors = dict(sectors or {})
    sold = {
        (br.bucket, p.allocation.signal.symbol)
        for br in bucket_runs
        for p in br.plans
        if p.action is Action.SELL
    }
    positions: list[PositionRecord] = []
    seen: set[str] = set()
    for h in holdings:
        if not h.is_open or (h.bucket, h.symbol) in sold or h.id in seen:
            continue
        seen.add(h.id)
        positions.append(h)
    for br in bucket_runs:
        for p in planned_positions(br):
            if p.id not in seen:
                seen.add(p.id)
                positions.append(p)
    by_bucket: dict[str, float] = {}
    by_class: dict[str, float] = {}
    by_sector: dict[str, float] = {}
    invested = 0.0
    risk = 0.0
    for p in positions:
        value = p.quantity * p.entry_price
        invested += value
        key = p.bucket or p.source.value
        by_bucket[key] = by_bucket.get(key, 0.0) + value
        by_class[p.asset_class.value] = by_class.get(p.asset_class.value, 0.0) + value
        sector = sectors.get(p.symbol) or (
            "Crypto" if p.asset_class is AssetClass.CRYPTO else "Unknown"
        )
        by_sector[sector] = by_sector.get(sector, 0.0) + value
        if p.stop is not None:
            risk += max(0.0, p.quantity * (p.entry_price - p.stop))
    return PortfolioSnapshot(
        as_of=at,
        account_equity=equity,
        cash=equity - invested,
        positions=tuple(positions),
        exposure_by_bucket=_rounded(by_bucket),
        exposure_by_asset_class=_rounded(by_class),
        exposure_by_sector=_rounded(by_sector),
        open_risk=round(risk, 2),
    )


#: Tag of a held position whose last close is at or through its stop.
THROUGH_STOP = "through-stop"


def flag_through_stop(
    hub: Any, holdings: Sequence[PositionRecord], as_of: dt.date
) -> tuple[list[PositionRecord], list[str]]:
    """Tag every held position (manual ones included) whose last close up to ``as_of`` is at
    or through its stop, with one warning each; symbols the source cannot price are skipped."""
    from tsys.errors import TsysError

    symbols = sorted({h.symbol for h in holdings if h.is_open and h.stop is not None})
    prices: dict[str, float] = {}
    if symbols:
        known = set(hub.symbols())
        ask = [s for s in symbols if s in known]
        try:
            bars = hub.bars(ask, as_of - dt.timedelta(days=10), as_of) if ask else None
        except TsysError:
            bars = None
        if bars is not None:
            import numpy as np

            for j, sym in enumerate(bars.symbols):
                col = bars.close[:, j]
                ok = np.flatnonzero(np.isfinite(col))
                if len(ok):
                    prices[sym] = float(col[ok[-1]])
    out: list[PositionRecord] = []
    notes: list[str] = []
    for h in holdings:
        px = prices.get(h.symbol)
        if h.through_stop(px) and THROUGH_STOP not in h.tags:
            h = attrs.evolve(h, tags=(*h.tags, THROUGH_STOP))
            notes.append(
                f"{h.symbol} ({h.source.value}) closed at {px:,.2f}, through its stop "
                f"{h.stop:,.2f}: the protective exit should have happened"
            )
        out.append(h)
    return out, notes


def sectors_of(hub: Any, holdings: Sequence[PositionRecord]) -> dict[str, str]:
    """Sectors of every equity held or bought, from whichever source knows fundamentals."""
    symbols = sorted({h.symbol for h in holdings if h.asset_class is AssetClass.EQUITY})
    if not symbols:
        return {}
    funds = hub.fundamentals(symbols) or {}
    return {s: f.sector for s, f in funds.items() if f.sector}


def _rounded(d: dict[str, float]) -> dict[str, float]:
    return {k: round(v, 2) for k, v in sorted(d.items())}
