"""The book after today's plans: holdings not sold plus today's buys, with exposures."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

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


def sectors_of(hub: Any, holdings: Sequence[PositionRecord]) -> dict[str, str]:
    """Sectors of every equity held or bought, from whichever source knows fundamentals."""
    symbols = sorted({h.symbol for h in holdings if h.asset_class is AssetClass.EQUITY})
    if not symbols:
        return {}
    funds = hub.fundamentals(symbols) or {}
    return {s: f.sector for s, f in funds.items() if f.sector}


def _rounded(d: dict[str, float]) -> dict[str, float]:
    return {k: round(v, 2) for k, v in sorted(d.items())}
