"""Portfolio construction: one code path from a bucket's signals to positions.

:func:`select_and_size` decides one bar: top-K by score, sizing, then every cap in a fixed order,
recording each cap that changed a decision as a :class:`~tsys.contracts.Constraint`.
:func:`plan_positions` / :func:`target_weights` apply it at every rebalance bar of a history and
hold positions in between (this is what backtests hand the simulator);
:func:`tsys.portfolio.plans.build_allocations` applies it at the last bar of a daily run.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np

from tsys.contracts import AssetClass, Constraint, PositionSource

if TYPE_CHECKING:
    from tsys.buckets import Bucket, BucketContext, BucketOutput
    from tsys.config import BucketConfig, OverridesConfig, RiskConfig
    from tsys.data import Bars

#: Smallest crypto quantity step (fractional lots).
#: Days of returns used to measure pairwise correlation.
CORRELATION_WINDOW = 60
#: Fewest overlapping returns for a correlation to count.
CORRELATION_MIN_OBS = 20
#: Days of dollar volume behind the liquidity cap.
ADV_WINDOW = 20
#: Days of returns behind the volatility used for sizing.
VOL_WINDOW = 20
SIZINGS = ("equal", "inverse_vol", "risk")
REBALANCES = ("daily", "weekly", "monthly")


@attrs.frozen
class Candidate:
    """A symbol a bucket wants to enter at this bar, with what sizing needs to know."""

    symbol: str
    score: float
    price: float
    asset_class: AssetClass = attrs.field(converter=AssetClass)
    volatility: float | None = None  # daily standard deviation of returns
    stop: float | None = None
    adv_dollars: float | None = None
    sector: str | None = None
    #: Why the bucket is exiting this symbol at this bar (None: it is not): such a candidate
    #: is never bought at this bar (:data:`EXIT_CONSTRAINT`).
    exit_reason: str | None = None


#: The constraint naming a candidate that was not bought because its exit condition holds.
EXIT_CONSTRAINT = "exit_signal"


@attrs.frozen
class Holding:
    """A position already held (any source); it counts against caps.

    ``bucket`` equal to the deciding bucket's name makes it use that bucket's slots and budget.
    """

    symbol: str
    dollars: float
    asset_class: AssetClass = attrs.field(converter=AssetClass)
    sector: str | None = None
    bucket: str | None = None
    source: PositionSource = attrs.field(default=PositionSource.SYSTEM, converter=PositionSource)


@attrs.frozen
class Decision:
    """A sized entry: dollars, quantity, weight of the account, and the caps that changed it."""

    symbol: str
    score: float
    price: float
    asset_class: AssetClass
    dollars: float
    quantity: float
    weight: float
    risk_budget: float
    constraints: tuple[Constraint, ...] = ()
    adv_participation: float | None = None
    liquidity_flag: bool = False
    sector: str | None = None


@attrs.frozen
class Selection:
    """What :func:`select_and_size` decided: entries, candidates it turned down and why."""

    decisions: tuple[Decision, ...]
    rejected: tuple[tuple[str, Constraint], ...]
    budget: float
    notes: tuple[str, ...] = ()


def _finite(x: Any) -> bool:
    return x is not None and isinstance(x, int | float) and math.isfinite(x)


def correlation(a: np.ndarray, b: np.ndarray, min_obs: int = CORRELATION_MIN_OBS) -> float | None:
    """Pearson correlation of two return series over their common finite rows (None: unknown)."""
    m = np.isfinite(a) & np.isfinite(b)
    if m.sum() < min_obs:
        return None
    x, y = a[m], b[m]
    sx, sy = x.std(), y.std()
    if sx <= 0 or sy <= 0:
        return None
    return float(np.mean((x - x.mean()) * (y - y.mean())) / (sx * sy))


def select_and_size(
    candidates: Sequence[Candidate],
    *,
    equity: float,
    bucket: str,
    settings: BucketConfig,
    risk: RiskConfig,
    overrides: OverridesConfig,
    regime: float = 1.0,
    held: Sequence[Holding] = (),
    returns: Mapping[str, np.ndarray] | None = None,
    sizing: str | None = None,
    target_volatility: float | None = None,
    round_lots: bool = True,
) -> Selection:
    """Choose and size new positions for one decision bar.

    Parameters
    ----------
    candidates
        Symbols with an entry signal at this bar (any order; they are ranked by score, ties by
        symbol, so the result is deterministic). One with an ``exit_reason`` is never bought:
        it is rejected with the :data:`EXIT_CONSTRAINT` constraint.
    equity
        Account equity in dollars; every share and cap is a fraction of it.
    bucket
        The deciding bucket's name; holdings with this ``bucket`` use its slots and budget.
    settings, risk, overrides
        The bucket's configuration (capital share, max positions, sizing, risk per trade), the
        account's risk limits and the user's overrides.
    regime
        The bucket's risk-on share 0..1; it scales the bucket's budget (0: stay in cash).
    held
        Positions already held from any source (system, paper, manual): they count against the
        sector cap, the correlation cap, the crypto exposure cap and (same bucket) slots/budget.
    returns
        Recent daily returns per symbol (aligned arrays) for the correlation cap.
    sizing
        "equal", "inverse_vol" or "risk" (default: ``settings.sizing``).
    target_volatility
        Annualised; with "inverse_vol" a position gets ``slot x min(1, target / vol)``
        (volatility targeting) instead of a share of the slots proportional to 1 / vol.
    round_lots
        Whole shares for equities, 1e-8 steps for crypto (daily runs); backtests pass False
        and let the simulator round.

    Returns
    -------
    Selection
        Decisions in score order, rejected candidates with the constraint that stopped them.
    """
    sizing = sizing or settings.sizing
    if sizing not in SIZINGS:
        raise ValueError(f"sizing must be one of {SIZINGS}, got {sizing!r}")
    if not (equity > 0 and math.isfinite(equity)):
        raise ValueError(f"equity must be a positive number, got {equity!r}")
    regime = min(1.0, max(0.0, float(regime))) if _finite(regime) else 0.0
    share = settings.capital_share * regime
    budget = equity * share
    max_pos = settings.max_positions
    notes: list[str] = []
    rejected: list[tuple[str, Constraint]] = []
    blocked = {s.upper() for s in overrides.blocked_symbols}

    mine = [h for h in held if h.bucket == bucket]
    held_syms = {h.symbol for h in held}
    available = budget - sum(max(0.0, h.dollars) for h in mine)
    slots = max_pos - len(mine)
    if budget <= 0:
        notes.append(
            "regime risk-off: bucket budget is 0" if regime <= 0 else "bucket has no capital"
        )
    if slots <= 0 and max_pos > 0:
        notes.append(f"all {max_pos} positions of the bucket are in use")
    slot_dollars = budget / max_pos if max_pos > 0 else 0.0

    sector_dollars: dict[str, float] = {}
    crypto_dollars = 0.0
    for h in held:
        if h.sector is not None and h.asset_class is AssetClass.EQUITY:
            sector_dollars[h.sector] = sector_dollars.get(h.sector, 0.0) + max(0.0, h.dollars)
        if h.asset_class is AssetClass.CRYPTO:
            crypto_dollars += max(0.0, h.dollars)

    ranked = sorted(
        (c for c in candidates if _finite(c.score) and _finite(c.price) and c.price > 0),
        key=lambda c: (-c.score, c.symbol),
    )
    # Never buy what the bucket is exiting at this close (a sell and a buy of the same
    # symbol at the same close would be a round trip decided on contradicting signals).
    for c in ranked:
        if c.exit_reason is not None and c.symbol.upper() not in blocked:
            rejected.append(
                (
                    c.symbol,
                    Constraint(EXIT_CONSTRAINT, _exit_detail(c.exit_reason), None, 0.0),
                )
            )
    ranked = [c for c in ranked if c.exit_reason is None or c.symbol.upper() in blocked]
    chosen: list[Candidate] = []
    if budget > 0 and slots > 0:
        for c in ranked:
            if len(chosen) >= slots:
                break
            if c.symbol.upper() in blocked:
                rejected.append(
                    (
                        c.symbol,
                        Constraint(
                            "user_blocked", f"{c.symbol} is in overrides.blocked_symbols", None, 0.0
                        ),
                    )
                )
                continue
            if c.symbol in held_syms:
                continue
            clash = _correlated(c, [*held_syms, *(x.symbol for x in chosen)], returns, risk)
            if clash is not None:
                other, rho = clash
                rejected.append(
                    (
                        c.symbol,
                        Constraint(
                            "correlation",
                            f"correlation {rho:.2f} with {other} exceeds "
                            f"{risk.max_pairwise_correlation:.2f}",
                            None,
                            0.0,
                        ),
                    )
                )
                continue
            chosen.append(c)

    base = base_dollars(
        chosen,
        sizing=sizing,
        slot_dollars=slot_dollars,
        equity=equity,
        risk_per_trade=settings.risk_per_trade * regime,
        target_volatility=target_volatility,
    )
    decisions: list[Decision] = []
    for c, (dollars, risk_budget, notes_c) in zip(chosen, base, strict=True):
        cons: list[Constraint] = list(notes_c)

        def cap(
            name: str, limit: float, detail: str, d: float, cons: list[Constraint] = cons
        ) -> float:
            limit = max(0.0, limit)
            if d > limit + 1e-9:
                cons.append(Constraint(name, detail, d, limit))
                return limit
            return d

        d = dollars
        d = cap(
            "max_position_weight",
            risk.max_position_weight * equity,
            f"a position may be at most {risk.max_position_weight:.0%} of the account",
            d,
        )
        liquidity_flag = False
        if _finite(c.adv_dollars) and c.adv_dollars > 0:
            before = d
            d = cap(
                "liquidity",
                risk.max_adv_share * c.adv_dollars,
                f"at most {risk.max_adv_share:.1%} of the {ADV_WINDOW}-day average dollar "
                f"volume (${c.adv_dollars:,.0f})",
                d,
            )
            liquidity_flag = d < before
        elif c.adv_dollars is not None:
            liquidity_flag = True
        if c.asset_class is AssetClass.EQUITY and c.sector is not None:
            used = sector_dollars.get(c.sector, 0.0)
            d = cap(
                "sector_cap",
                risk.sector_cap * equity - used,
                f"sector {c.sector} is capped at {risk.sector_cap:.0%} of the account "
                f"(${used:,.0f} already there)",
                d,
            )
        if c.asset_class is AssetClass.CRYPTO:
            d = cap(
                "crypto_exposure_cap",
                overrides.crypto_exposure_cap * equity - crypto_dollars,
                f"crypto exposure is capped at {overrides.crypto_exposure_cap:.0%} of the account "
                f"today (${crypto_dollars:,.0f} already held)",
                d,
            )
        d = cap(
            "bucket_budget",
            available,
            f"the bucket may use {share:.0%} of the account (capital share "
            f"{settings.capital_share:.0%} x regime {regime:.2f})",
            d,
        )
        if round_lots:
            lot = AssetClass(c.asset_class).lot_size
            qty = math.floor(d / c.price / lot + 1e-9) * lot
            if c.asset_class is AssetClass.EQUITY:
                qty = float(int(qty))
            else:
                qty = round(qty, 8)
            rounded = qty * c.price
            if rounded <= 0 and d > 0:
                cons.append(
                    Constraint(
                        "lot_size",
                        f"${d:,.2f} buys less than one {'share' if lot == 1 else 'lot'} at "
                        f"${c.price:,.2f}",
                        d,
                        0.0,
                    )
                )
            d = rounded
        else:
            qty = d / c.price
        if d <= 0 or qty <= 0:
            last = (
                cons[-1] if cons else Constraint("zero_size", "nothing left to allocate", None, 0.0)
            )
            rejected.append((c.symbol, last))
            continue
        if _finite(c.stop) and 0 < c.stop < c.price:
            risk_budget = qty * (c.price - c.stop)
        decisions.append(
            Decision(
                symbol=c.symbol,
                score=float(c.score),
                price=float(c.price),
                asset_class=c.asset_class,
                dollars=float(d),
                quantity=float(qty),
                weight=float(d / equity),
                risk_budget=float(max(0.0, risk_budget)),
                constraints=tuple(cons),
                adv_participation=(
                    float(d / c.adv_dollars)
                    if _finite(c.adv_dollars) and c.adv_dollars > 0
                    else None
                ),
                liquidity_flag=liquidity_flag,
                sector=c.sector,
            )
        )
        available -= d
        if c.asset_class is AssetClass.EQUITY and c.sector is not None:
            sector_dollars[c.sector] = sector_dollars.get(c.sector, 0.0) + d
        if c.asset_class is AssetClass.CRYPTO:
            crypto_dollars += d
    return Selection(tuple(decisions), tuple(rejected), float(budget), tuple(notes))


def _exit_detail(reason: str) -> str:
    reason = reason.removeprefix("exit:").strip() or "exit signal"
    return f"its exit holds ({reason})"


def _correlated(
    c: Candidate,
    others: Sequence[str],
    returns: Mapping[str, np.ndarray] | None,
    risk: RiskConfig,
) -> tuple[str, float] | None:
    if returns is None or c.symbol not in returns or risk.max_pairwise_correlation >= 1.0:
        return None
    mine = returns[c.symbol]
    for other in others:
        if other == c.symbol or other not in returns:
            continue
        rho = correlation(mine, returns[other])
        if rho is not None and rho > risk.max_pairwise_correlation:
            return other, rho
    return None


def base_dollars(
    chosen: Sequence[Candidate],
    *,
    sizing: str,
    slot_dollars: float,
    equity: float,
    risk_per_trade: float,
    target_volatility: float | None,
) -> list[tuple[float, float, list[Constraint]]]:
    """Dollars before caps, the risk budget, and notes, per chosen candidate."""
    out: list[tuple[float, float, list[Constraint]]] = []
    if sizing == "inverse_vol" and target_volatility is None:
        inv = [
            1.0 / c.volatility if _finite(c.volatility) and c.volatility > 0 else math.nan
            for c in chosen
        ]
        known = [x for x in inv if math.isfinite(x)]
        mean_inv = sum(known) / len(known) if known else math.nan
        for c, x in zip(chosen, inv, strict=True):
            if math.isfinite(x):
                out.append((slot_dollars * x / mean_inv, 0.0, []))
            else:
                out.append(
                    (
                        slot_dollars,
                        0.0,
                        [
                            Constraint(
                                "sizing_fallback", f"no volatility for {c.symbol}: equal weight"
                            )
                        ],
                    )
                )
        return out
    for c in chosen:
        if sizing == "equal":
            out.append((slot_dollars, 0.0, []))
        elif sizing == "inverse_vol":
            annual = (
                c.volatility * math.sqrt(AssetClass(c.asset_class).periods_per_year)
                if _finite(c.volatility)
                else None
            )
            if annual is not None and annual > 0:
                scale = min(1.0, target_volatility / annual)
                note = []
                if scale < 1.0:
                    note = [
                        Constraint(
                            "volatility_target",
                            f"volatility {annual:.0%} a year against a target of "
                            f"{target_volatility:.0%}",
                            slot_dollars,
                            slot_dollars * scale,
                        )
                    ]
                out.append((slot_dollars * scale, 0.0, note))
            else:
                out.append(
                    (
                        slot_dollars,
                        0.0,
                        [
                            Constraint(
                                "sizing_fallback", f"no volatility for {c.symbol}: equal weight"
                            )
                        ],
                    )
                )
        else:  # risk
            if _finite(c.stop) and 0 < c.stop < c.price:
                dist = c.price - c.stop
                budget = equity * risk_per_trade
                out.append((budget / dist * c.price, budget, []))
            else:
                out.append(
                    (
                        slot_dollars,
                        0.0,
                        [
                            Constraint(
                                "sizing_fallback",
                                f"no stop below the price for {c.symbol}: equal weight",
                            )
                        ],
                    )
                )
    return out


# ------------------------------------------------------------------------------ over history
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


def sector_map(ctx: BucketContext | None, symbols: Sequence[str]) -> dict[str, str]:
    """Sectors the data hub knows for ``symbols`` (empty when it knows none)."""
    if ctx is None or ctx.data is None or not symbols:
        return {}
    try:
        funds = ctx.data.fundamentals(list(symbols))
    except Exception as exc:  # a data source failing here must not stop a backtest silently
        ctx.warn(f"fundamentals unavailable ({type(exc).__name__}: {exc}); no sector cap")
        return {}
    if not funds:
        return {}
    return {s: f.sector for s, f in funds.items() if f is not None and f.sector}


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
) -> PositionPlan:
    """Apply :func:`select_and_size` at every rebalance bar and hold positions in between.

    A held position closes at the close of t when its stop was touched during t (low <= stop),
    its target was reached (high >= target), the exit mask is set, its time stop expired, or
    the user blocked the symbol; closes happen on any bar, entries only on rebalance bars.
    A symbol whose exit mask is set at t, or that was closed at t, is never entered at t (as
    in the daily run: :func:`select_and_size` rejects it).
    Sizing uses ``equity`` as a constant notional (weights are what the simulator needs).
    """
    from tsys import indicators as ind
    from tsys.portfolio.resize import effective_settings, resize_plan_bar

    params = params if params is not None else bucket.default_params()
    rules = bucket.position_rules(params)
    settings = effective_settings(settings, rules)
    T, N = bars.shape
    close, high, low = bars.close, bars.high, bars.low
    vol = ind.volatility(close, VOL_WINDOW)
    adv = ind.dollar_volume(close, bars.base_volume(), ADV_WINDOW)  # close x base = dollars
    rets = ind.simple_returns(close)
    if sectors is None:
        # Only equities have a sector cap: a crypto panel asks no fundamentals source.
        equities = [
            s
            for s, a in zip(bars.symbols, bars.asset_classes, strict=True)
            if a is AssetClass.EQUITY
        ]
        sectors = sector_map(ctx, equities)
    reb = rebalance_mask(bars.index, rebalance)
    resize = rebalance_mask(bars.index, rules.resize) if rules.resize else np.zeros(T, dtype=bool)
    blocked_user = {s.upper() for s in overrides.blocked_symbols}
    user_cols = {j for j, s in enumerate(bars.symbols) if s.upper() in blocked_user}
    regime = output.regime if output.regime is not None else np.ones(T)
    bucket_blocked = output.blocked if output.blocked is not None else np.zeros((T, N), dtype=bool)
    eligible = output.entries & np.isfinite(output.score) & ~bucket_blocked & np.isfinite(close)

    weights = np.zeros((T, N))
    stop_p = np.full((T, N), np.nan)
    target_p = np.full((T, N), np.nan)
    entry_rows = np.full((T, N), -1, dtype=np.int64)
    reasons: dict[tuple[int, int], str] = {}
    rejections: dict[str, int] = {}
    capped: dict[str, int] = {}
    held: dict[int, _Pos] = {}
    max_pos = settings.max_positions
    for t in range(T):
        closed: dict[int, str] = {}
        for j in list(held):
            p = held[j]
            why = None
            if t > p.entry_t and math.isfinite(p.stop) and low[t, j] <= p.stop:
                why = "stop"
            elif t > p.entry_t and math.isfinite(p.target) and high[t, j] >= p.target:
                why = "target"
            elif output.exits[t, j]:
                why = "signal"
            elif rules.time_stop_bars is not None and t - p.entry_t >= rules.time_stop_bars:
                why = "time"
            elif j in user_cols:
                why = "user blocked"
            if why is not None:
                del held[j]
                reasons[(t, j)] = why
                closed[j] = why
            elif rules.stop_kind == "atr_trailing":
                s = output.stop[t, j]
                if math.isfinite(s) and (not math.isfinite(p.stop) or s > p.stop):
                    p.stop = float(s)
        if resize[t] and held:
            resize_plan_bar(held, t, bars, vol, adv, sectors, float(regime[t]), equity, settings,
                            risk, rules, reasons, capped)  # fmt: skip
        if reb[t] and len(held) < max_pos and regime[t] > 0:
            cols = np.flatnonzero(eligible[t])
            cols = np.array([j for j in cols if j not in held], dtype=np.int64)
            if len(cols):
                # A symbol closed at this close, or whose exit mask is set, is not bought here.
                exiting = {
                    int(j): closed.get(int(j), "exit signal")
                    for j in cols
                    if int(j) in closed or output.exits[t, j]
                }
                order = cols[np.lexsort((cols, -output.score[t, cols]))]
                order = order[: 4 * (max_pos - len(held)) + len(user_cols) + len(exiting) + 8]
                cands = [
                    candidate_at(
                        bars,
                        j,
                        t,
                        vol,
                        adv,
                        sectors,
                        output.stop[t, j],
                        output.score[t, j],
                        exit_reason=exiting.get(int(j)),
                    )
                    for j in order
                ]
                holdings = [
                    Holding(
                        bars.symbols[j],
                        p.weight * equity,
                        bars.asset_classes[j],
                        sectors.get(bars.symbols[j]),
                        bucket.name,
                    )
                    for j, p in held.items()
                ]
                lo = max(0, t - CORRELATION_WINDOW + 1)
                involved = [*order.tolist(), *held]
                returns = {bars.symbols[j]: rets[lo : t + 1, j] for j in involved}
                sel = select_and_size(
                    cands,
                    equity=equity,
                    bucket=bucket.name,
                    settings=settings,
                    risk=risk,
                    overrides=overrides,
                    regime=float(regime[t]),
                    held=holdings,
                    returns=returns,
                    target_volatility=rules.target_volatility,
                    round_lots=False,
                )
                for _sym, con in sel.rejected:
                    rejections[con.name] = rejections.get(con.name, 0) + 1
                for d in sel.decisions:
                    j = bars.column(d.symbol)
                    for con in d.constraints:
                        capped[con.name] = capped.get(con.name, 0) + 1
                    held[j] = _Pos(
                        d.weight, t, float(output.stop[t, j]), float(output.target[t, j])
                    )
        for j, p in held.items():
            weights[t, j] = p.weight
            stop_p[t, j] = p.stop
            target_p[t, j] = p.target
            entry_rows[t, j] = p.entry_t
    return PositionPlan(weights, stop_p, target_p, entry_rows, reasons, rejections, capped)


def candidate_at(
    bars: Bars,
    j: int,
    t: int,
    vol: np.ndarray,
    adv: np.ndarray,
    sectors: Mapping[str, str],
    stop: float,
    score: float = math.inf,
    exit_reason: str | None = None,
) -> Candidate:
    """Symbol ``j`` at bar ``t`` as a sizing candidate (NaN inputs become None)."""
    return Candidate(
        symbol=bars.symbols[j],
        score=float(score),
        price=float(bars.close[t, j]),
        asset_class=bars.asset_classes[j],
        volatility=float(vol[t, j]) if math.isfinite(vol[t, j]) else None,
        stop=float(stop) if math.isfinite(stop) else None,
        adv_dollars=float(adv[t, j]) if math.isfinite(adv[t, j]) else None,
        sector=sectors.get(bars.symbols[j]),
        exit_reason=exit_reason,
    )


def target_weights(
    bucket: Bucket,
    ctx: BucketContext | None,
    bars: Bars,
    output: BucketOutput,
    settings: BucketConfig,
    risk: RiskConfig,
    overrides: OverridesConfig,
    rebalance: str = "daily",
    **kwargs: Any,
) -> np.ndarray:
    """T x N target weights for the simulator (see :func:`plan_positions`)."""
    return plan_positions(
        bucket, ctx, bars, output, settings, risk, overrides, rebalance, **kwargs
    ).weights
