"""Portfolio construction over a whole history: what backtests hand the simulator.

:func:`plan_positions` applies :func:`tsys.portfolio.construct.select_and_size` at every
rebalance bar of a panel and holds positions in between, closing them on their stop, target,
exit signal, time stop or the user's block; :func:`target_weights` is its weights panel.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np

from tsys.contracts import AssetClass
from tsys.portfolio.construct import (
    ADV_WINDOW,
    CORRELATION_WINDOW,
    VOL_WINDOW,
    Holding,
    Selection,
    candidate_at,
    sector_map,
    select_and_size,
    size_factor_at,
)

if TYPE_CHECKING:
    from tsys.buckets import Bucket, BucketContext, BucketOutput, PositionRules
    from tsys.config import BucketConfig, OverridesConfig, RiskConfig
    from tsys.data import Bars

REBALANCES = ("daily", "weekly", "monthly")


def rebalance_mask(index: Any, rebalance: str) -> np.ndarray:
    """True on bars where the portfolio may add positions.

    "weekly"/"monthly" mark the first bar of each new week/month, known at that bar without
    looking ahead; the first bar of the panel always rebalances.
    """
    import pandas as pd

    if rebalance not in REBALANCES:
        raise ValueError(f"rebalance must be one of {REBALANCES}, got {rebalance!r}")
    n = len(index)
    if rebalance == "daily" or n == 0:
        return np.ones(n, dtype=bool)
    idx = pd.DatetimeIndex(index)
    if rebalance == "weekly":
        iso = idx.isocalendar()
        key = (iso["year"].to_numpy() * 100 + iso["week"].to_numpy()).astype(np.int64)
    else:
        key = (idx.year * 100 + idx.month).to_numpy().astype(np.int64)
    out = np.ones(n, dtype=bool)
    out[1:] = key[1:] != key[:-1]
    return out


@attrs.frozen(eq=False)
class PositionPlan:
    """The positions :func:`plan_positions` holds over a history (T x N panels).

    ``weights[t]`` is the target decided at the close of t (executed at the open of t+1);
    ``stop[t]``/``target[t]`` are the levels protecting a position held after the close of t;
    ``exit_reasons[(t, j)]`` says why a position was closed at t; ``rejections`` counts the
    constraints that turned candidates down, by name; ``capped`` counts caps that shrank a size.
    """

    weights: np.ndarray
    stop: np.ndarray
    target: np.ndarray
    entry_rows: np.ndarray
    exit_reasons: dict[tuple[int, int], str]
    rejections: dict[str, int]
    capped: dict[str, int]


@attrs.define
class _Pos:
    weight: float
    entry_t: int
    stop: float
    target: float
    #: The meta-model's size factor at entry (1: none); a re-size keeps it.
    size: float = 1.0


@attrs.define(eq=False)
class _Panels:
    """What the planner reads at every bar, computed once for the panel."""

    bucket: Bucket
    bars: Bars
    output: BucketOutput
    rules: PositionRules
    vol: np.ndarray
    adv: np.ndarray
    rets: np.ndarray
    sectors: Mapping[str, str]
    regime: np.ndarray
    eligible: np.ndarray
    user_cols: set[int]


def _panels(
    bucket: Bucket,
    ctx: BucketContext | None,
    bars: Bars,
    output: BucketOutput,
    overrides: OverridesConfig,
    params: Any,
    sectors: Mapping[str, str] | None,
) -> _Panels:
    from tsys import indicators as ind

    T, N = bars.shape
    close = bars.close
    bucket_blocked = output.blocked if output.blocked is not None else np.zeros((T, N), dtype=bool)
    return _Panels(
        bucket=bucket,
        bars=bars,
        output=output,
        rules=bucket.position_rules(params),
        vol=ind.volatility(close, VOL_WINDOW),
        adv=ind.dollar_volume(close, bars.base_volume(), ADV_WINDOW),  # close x base = dollars
        rets=ind.simple_returns(close),
        sectors=_equity_sectors(ctx, bars) if sectors is None else sectors,
        regime=output.regime if output.regime is not None else np.ones(T),
        eligible=output.entries & np.isfinite(output.score) & ~bucket_blocked & np.isfinite(close),
        user_cols=user_cols(bars, overrides),
    )


def user_cols(bars: Bars, overrides: OverridesConfig) -> set[int]:
    """The columns of ``bars`` the user blocked."""
    blocked = {s.upper() for s in overrides.blocked_symbols}
    return {j for j, s in enumerate(bars.symbols) if s.upper() in blocked}


def _equity_sectors(ctx: BucketContext | None, bars: Bars) -> Mapping[str, str]:
    # Only equities have a sector cap: a crypto panel asks no fundamentals source.
    equities = [
        s for s, a in zip(bars.symbols, bars.asset_classes, strict=True) if a is AssetClass.EQUITY
    ]
    return sector_map(ctx, equities)


def _close_positions(
    t: int, held: dict[int, _Pos], pn: _Panels, reasons: dict[tuple[int, int], str]
) -> dict[int, str]:
    """Close what must close at the close of ``t`` (first reason wins); trail the rest's stops."""
    out, rules = pn.output, pn.rules
    low, high = pn.bars.low, pn.bars.high
    closed: dict[int, str] = {}
    for j in list(held):
        p = held[j]
        why = None
        if t > p.entry_t and math.isfinite(p.stop) and low[t, j] <= p.stop:
            why = "stop"
        elif t > p.entry_t and math.isfinite(p.target) and high[t, j] >= p.target:
            why = "target"
        elif out.exits[t, j]:
            why = "signal"
        elif rules.time_stop_bars is not None and t - p.entry_t >= rules.time_stop_bars:
            why = "time"
        elif j in pn.user_cols:
            why = "user blocked"
        if why is not None:
            del held[j]
            reasons[(t, j)] = why
            closed[j] = why
        elif rules.stop_kind == "atr_trailing":
            s = out.stop[t, j]
            if math.isfinite(s) and (not math.isfinite(p.stop) or s > p.stop):
                p.stop = float(s)
    return closed


def _select(
    t: int,
    held: dict[int, _Pos],
    closed: dict[int, str],
    pn: _Panels,
    *,
    settings: BucketConfig,
    risk: RiskConfig,
    overrides: OverridesConfig,
    equity: float,
    eligible: list[int] | None = None,
) -> Selection | None:
    """:func:`select_and_size` for the entries of bar ``t`` (None: no eligible symbol).

    ``eligible``: the columns eligible at ``t`` in order, when the caller has them at hand."""
    out, bars = pn.output, pn.bars
    if eligible is None:
        eligible = np.flatnonzero(pn.eligible[t]).tolist()
    cols = np.array([j for j in eligible if j not in held], dtype=np.int64)
    if not len(cols):
        return None
    # A symbol closed at this close, or whose exit mask is set, is not bought here.
    exiting = {
        int(j): closed.get(int(j), "exit signal")
        for j in cols
        if int(j) in closed or out.exits[t, j]
    }
    order = cols[np.lexsort((cols, -out.score[t, cols]))]
    slots = settings.max_positions - len(held)
    order = order[: 4 * slots + len(pn.user_cols) + len(exiting) + 8]
    cands = [
        candidate_at(
            bars,
            j,
            t,
            pn.vol,
            pn.adv,
            pn.sectors,
            out.stop[t, j],
            out.score[t, j],
            exit_reason=exiting.get(int(j)),
            size_factor=size_factor_at(out, t, j),
        )
        for j in order
    ]
    holdings = [
        Holding(
            bars.symbols[j],
            p.weight * equity,
            bars.asset_classes[j],
            pn.sectors.get(bars.symbols[j]),
            pn.bucket.name,
        )
        for j, p in held.items()
    ]
    lo = max(0, t - CORRELATION_WINDOW + 1)
    involved = [*order.tolist(), *held]
    returns = {bars.symbols[j]: pn.rets[lo : t + 1, j] for j in involved}
    return select_and_size(
        cands,
        equity=equity,
        bucket=pn.bucket.name,
        settings=settings,
        risk=risk,
        overrides=overrides,
        regime=float(pn.regime[t]),
        held=holdings,
        returns=returns,
        target_volatility=pn.rules.target_volatility,
        round_lots=False,
    )


def plan_positions(
    bucket: Bucket,
    ctx: BucketContext | None,
    bars: Bars,
    output: BucketOutput,
    settings: BucketConfig,
    risk: RiskConfig,
    overrides: OverridesConfig,
    rebalance: str = "daily",
    *,
    params: Any = None,
    equity: float = 100_000.0,
    sectors: Mapping[str, str] | None = None,
    overrides_at: Callable[[dt.date], OverridesConfig] | None = None,
) -> PositionPlan:
    """Apply :func:`select_and_size` at every rebalance bar and hold positions in between.

    A held position closes at the close of t when its stop was touched during t (low <= stop),
    its target was reached (high >= target), the exit mask is set, its time stop expired, or
    the user blocked the symbol; closes happen on any bar, entries only on rebalance bars.
    A symbol whose exit mask is set at t, or that was closed at t, is never entered at t (as
    in the daily run: :func:`select_and_size` rejects it).
    Sizing uses ``equity`` as a constant notional (weights are what the simulator needs).
    A paused bucket (``overrides.paused_buckets``) opens nothing; its exits still run.

    ``overrides_at(day)`` (a replay of ``tsys override`` rules, ``tsys backtest --overrides``)
    gives the overrides in force on each bar's day instead of the fixed ``overrides``; it
    should return the same object while the same rules hold.
    """
    from tsys.portfolio.resize import effective_settings, resize_plan_bar

    params = params if params is not None else bucket.default_params()
    pn = _panels(bucket, ctx, bars, output, overrides, params, sectors)
    settings = effective_settings(settings, pn.rules)
    T, N = bars.shape
    weights = np.zeros((T, N))
    stop_p = np.full((T, N), np.nan)
    target_p = np.full((T, N), np.nan)
    entry_rows = np.full((T, N), -1, dtype=np.int64)
    reasons: dict[tuple[int, int], str] = {}
    rejections: dict[str, int] = {}
    capped: dict[str, int] = {}
    held: dict[int, _Pos] = {}
    rules = pn.rules
    resize = rebalance_mask(bars.index, rules.resize) if rules.resize else np.zeros(T, dtype=bool)
    # Bars where entries may be looked for, and the columns eligible on each, as Python values
    # (one lookup a bar instead of numpy scalars).
    may_enter = (rebalance_mask(bars.index, rebalance) & (np.reshape(pn.regime, T) > 0)).tolist()
    eligible = _row_columns(pn.eligible)
    resize_at = resize.tolist()
    current = overrides
    for t in range(T):
        if overrides_at is not None:
            now = overrides_at(bars.index[t].date())
            if now is not current:
                current, pn.user_cols = now, user_cols(bars, now)
        closed = _close_positions(t, held, pn, reasons) if held else {}
        if resize_at[t] and held:
            resize_plan_bar(
                held, t, bars, pn.vol, pn.adv, pn.sectors, float(pn.regime[t]), equity, settings,
                risk, rules, reasons, capped,
            )  # fmt: skip
        sel = None
        paused = bucket.name in current.paused_buckets
        if (
            may_enter[t]
            and len(held) < settings.max_positions
            and not paused
            and any(j not in held for j in eligible[t])
        ):
            sel = _select(
                t, held, closed, pn, settings=settings, risk=risk, overrides=current,
                equity=equity, eligible=eligible[t],
            )  # fmt: skip
        if sel is not None:
            for _sym, con in sel.rejected:
                rejections[con.name] = rejections.get(con.name, 0) + 1
            for d in sel.decisions:
                j = bars.column(d.symbol)
                for con in d.constraints:
                    capped[con.name] = capped.get(con.name, 0) + 1
                held[j] = _Pos(
                    d.weight, t, float(output.stop[t, j]), float(output.target[t, j]),
                    size_factor_at(output, t, j),
                )  # fmt: skip
        for j, p in held.items():
            weights[t, j] = p.weight
            stop_p[t, j] = p.stop
            target_p[t, j] = p.target
            entry_rows[t, j] = p.entry_t
    return PositionPlan(weights, stop_p, target_p, entry_rows, reasons, rejections, capped)


def _row_columns(mask: np.ndarray) -> list[list[int]]:
    """Per row of a boolean T x N mask: its True columns, in order."""
    if not mask.shape[0]:
        return []
    rows, cols = np.nonzero(mask)
    cuts = np.searchsorted(rows, np.arange(1, mask.shape[0])).tolist()
    flat = cols.tolist()
    return [flat[a:b] for a, b in zip([0, *cuts], [*cuts, len(flat)], strict=True)]


def target_weights(*args: Any, **kwargs: Any) -> np.ndarray:
    """T x N target weights for the simulator: :func:`plan_positions` (same arguments)."""
    return plan_positions(*args, **kwargs).weights
