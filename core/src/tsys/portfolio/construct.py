"""Portfolio construction: one code path from a bucket's signals to positions.

:func:`select_and_size` decides one bar: top-K by score, sizing, then every cap in a fixed order,
recording each cap that changed a decision as a :class:`~tsys.contracts.Constraint`.
:func:`tsys.portfolio.history.plan_positions` applies it at every rebalance bar of a history and
holds positions in between (this is what backtests hand the simulator);
:func:`tsys.portfolio.plans.build_allocations` applies it at the last bar of a daily run.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np

from tsys.contracts import AssetClass, Constraint, PositionSource
from tsys.portfolio.user_caps import apply_user_caps

if TYPE_CHECKING:
    from tsys.buckets import BucketContext
    from tsys.config import BucketConfig, OverridesConfig, RiskConfig
    from tsys.data import Bars

#: Days of returns used to measure pairwise correlation.
CORRELATION_WINDOW = 60
#: Fewest overlapping returns for a correlation to count.
CORRELATION_MIN_OBS = 20
#: Days of dollar volume behind the liquidity cap.
ADV_WINDOW = 20
#: Days of returns behind the volatility used for sizing.
VOL_WINDOW = 20
SIZINGS = ("equal", "inverse_vol", "risk")


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
    #: A multiplier in [0, 1] of the allocation after every cap (a meta-model's "size" mode,
    #: ``BucketOutput.extras["size_factor"]``): a position is never larger than the caps allow.
    size_factor: float = 1.0


#: The constraint naming a candidate that was not bought because its exit condition holds.
EXIT_CONSTRAINT = "exit_signal"
#: The constraint naming an allocation a meta-model's size factor scaled down.
SIZE_CONSTRAINT = "ml_size"


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
    blocked = {
        s.upper(): overrides.sources.get(s.upper(), "tsys.toml's [overrides] blocked_symbols")
        for s in overrides.blocked_symbols
    }

    mine = [h for h in held if h.bucket == bucket]
    held_syms = {h.symbol for h in held}
    slots = max_pos - len(mine)
    if budget <= 0:
        notes.append(
            "regime risk-off: bucket budget is 0" if regime <= 0 else "bucket has no capital"
        )
    if slots <= 0 and max_pos > 0:
        notes.append(f"all {max_pos} positions of the bucket are in use")
    slot_dollars = budget / max_pos if max_pos > 0 else 0.0
    book = _Book.of(held, available=budget - sum(max(0.0, h.dollars) for h in mine), bucket=bucket)

    ranked = _ranked(candidates, blocked, rejected)
    chosen: list[Candidate] = []
    if budget > 0 and slots > 0:
        chosen = _choose(ranked, slots, blocked, held_syms, returns, risk, rejected)
    base = base_dollars(
        chosen,
        sizing=sizing,
        slot_dollars=slot_dollars,
        equity=equity,
        risk_per_trade=settings.risk_per_trade * regime,
        target_volatility=target_volatility,
    )
    budget_rule = (
        f"the bucket may use {share:.0%} of the account (capital share "
        f"{settings.capital_share:.0%} x regime {regime:.2f})"
    )
    decisions: list[Decision] = []
    for c, (dollars, risk_budget, notes_c) in zip(chosen, base, strict=True):
        cons: list[Constraint] = list(notes_c)
        d, liquidity_flag = _capped(
            c, dollars, cons, book, equity, risk, overrides, budget_rule, bucket
        )
        d = _sized_by_model(c, d, cons)
        d, qty = _in_lots(c, d, cons) if round_lots else (d, d / c.price)
        if d <= 0 or qty <= 0:
            last = (
                cons[-1] if cons else Constraint("zero_size", "nothing left to allocate", None, 0.0)
            )
            rejected.append((c.symbol, last))
            continue
        if _finite(c.stop) and 0 < c.stop < c.price:
            risk_budget = qty * (c.price - c.stop)
        decisions.append(_decision(c, d, qty, equity, risk_budget, cons, liquidity_flag))
        book.add(c, d)
    return Selection(tuple(decisions), tuple(rejected), float(budget), tuple(notes))


def _decision(
    c: Candidate,
    d: float,
    qty: float,
    equity: float,
    risk_budget: float,
    cons: list[Constraint],
    liquidity_flag: bool,
) -> Decision:
    return Decision(
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
            float(d / c.adv_dollars) if _finite(c.adv_dollars) and c.adv_dollars > 0 else None
        ),
        liquidity_flag=liquidity_flag,
        sector=c.sector,
    )


@attrs.define
class _Book:
    """Dollars already committed by sector (equities) and in crypto, and the bucket's budget
    left; each decision adds to it so the caps of the next candidate see it."""

    sector: dict[str, float]
    crypto: float
    available: float
    equities: float = 0.0
    #: The deciding bucket's own dollars (its holdings, then today's entries).
    mine: float = 0.0

    @classmethod
    def of(cls, held: Sequence[Holding], *, available: float, bucket: str = "") -> _Book:
        book = cls({}, 0.0, available)
        for h in held:
            book.count(h.asset_class, h.sector, max(0.0, h.dollars), h.bucket == bucket)
        return book

    def count(self, ac: AssetClass, sector: str | None, dollars: float, mine: bool) -> None:
        if sector is not None and ac is AssetClass.EQUITY:
            self.sector[sector] = self.sector.get(sector, 0.0) + dollars
        self.crypto += dollars if ac is AssetClass.CRYPTO else 0.0
        self.equities += dollars if ac is AssetClass.EQUITY else 0.0
        self.mine += dollars if mine else 0.0

    def add(self, c: Candidate, dollars: float) -> None:
        self.available -= dollars
        self.count(c.asset_class, c.sector, dollars, True)


def _ranked(
    candidates: Sequence[Candidate],
    blocked: Mapping[str, str],
    rejected: list[tuple[str, Constraint]],
) -> list[Candidate]:
    """Priced candidates by score (ties by symbol), without those the bucket is exiting."""
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
    return [c for c in ranked if c.exit_reason is None or c.symbol.upper() in blocked]


def _choose(
    ranked: Sequence[Candidate],
    slots: int,
    blocked: Mapping[str, str],
    held_syms: set[str],
    returns: Mapping[str, np.ndarray] | None,
    risk: RiskConfig,
    rejected: list[tuple[str, Constraint]],
) -> list[Candidate]:
    """The best ``slots`` candidates the user did not block, not held, not too correlated."""
    chosen: list[Candidate] = []
    for c in ranked:
        if len(chosen) >= slots:
            break
        if c.symbol.upper() in blocked:
            rejected.append(
                (
                    c.symbol,
                    Constraint(
                        "user_blocked",
                        f"{c.symbol} is blocked by {blocked[c.symbol.upper()]}",
                        None,
                        0.0,
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
    return chosen


def _sized_by_model(c: Candidate, d: float, cons: list[Constraint]) -> float:
    """``d`` times the meta-model's size factor (issue 16), recorded when it shrinks ``d``. A
    factor scales, it is not a cap: no tolerance, so a tiny position shrinks too."""
    if c.size_factor >= 1.0:
        return d
    f = max(0.0, float(c.size_factor))
    if d * f < d:
        cons.append(Constraint(SIZE_CONSTRAINT, f"the meta-model sizes it x{f:.2f}", d, d * f))
    return d * f


def _cap(cons: list[Constraint], name: str, limit: float, detail: str, d: float) -> float:
    """``d`` held to ``limit`` (at least 0); a cap that binds is recorded in ``cons``."""
    limit = max(0.0, limit)
    if d > limit + 1e-9:
        cons.append(Constraint(name, detail, d, limit))
        return limit
    return d


def _capped(
    c: Candidate,
    dollars: float,
    cons: list[Constraint],
    book: _Book,
    equity: float,
    risk: RiskConfig,
    overrides: OverridesConfig,
    budget_rule: str,
    bucket: str,
) -> tuple[float, bool]:
    """Every cap in its fixed order: position weight, liquidity, sector, the user's caps
    (:func:`~tsys.portfolio.user_caps.apply_user_caps`), the bucket's budget. Returns the dollars left and whether liquidity limited them."""
    d = _cap(
        cons,
        "max_position_weight",
        risk.max_position_weight * equity,
        f"a position may be at most {risk.max_position_weight:.0%} of the account",
        dollars,
    )
    liquidity_flag = False
    if _finite(c.adv_dollars) and c.adv_dollars > 0:
        before = d
        d = _cap(
            cons,
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
        used = book.sector.get(c.sector, 0.0)
        d = _cap(
            cons,
            "sector_cap",
            risk.sector_cap * equity - used,
            f"sector {c.sector} is capped at {risk.sector_cap:.0%} of the account "
            f"(${used:,.0f} already there)",
            d,
        )
    d = apply_user_caps(
        c, d, book, equity, overrides, bucket, lambda *a: _cap(cons, *a)
    )  # crypto, equity, a sector's and the bucket's caps (tsys override, tsys.toml)
    d = _cap(cons, "bucket_budget", book.available, budget_rule, d)
    return d, liquidity_flag


def _in_lots(c: Candidate, d: float, cons: list[Constraint]) -> tuple[float, float]:
    """Dollars and quantity rounded down to whole lots (shares, 1e-8 of a coin)."""
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
                f"${d:,.2f} buys less than one {'share' if lot == 1 else 'lot'} at ${c.price:,.2f}",
                d,
                0.0,
            )
        )
    return rounded, qty


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
                out.append(_equal_weight(slot_dollars, f"no volatility for {c.symbol}"))
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
                out.append(_equal_weight(slot_dollars, f"no volatility for {c.symbol}"))
        else:  # risk
            if _finite(c.stop) and 0 < c.stop < c.price:
                dist = c.price - c.stop
                budget = equity * risk_per_trade
                out.append((budget / dist * c.price, budget, []))
            else:
                out.append(_equal_weight(slot_dollars, f"no stop below the price for {c.symbol}"))
    return out


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
    size_factor: float = 1.0,
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
        size_factor=size_factor,
    )


def size_factor_at(output: Any, t: int, j: int) -> float:
    """The output's ``extras["size_factor"]`` at ``(t, j)`` in [0, 1] (1: none, or NaN)."""
    panel = output.extras.get("size_factor")
    if panel is None:
        return 1.0
    f = float(panel[t, j])
    return min(1.0, max(0.0, f)) if math.isfinite(f) else 1.0


def _equal_weight(slot_dollars: float, why: str) -> tuple[float, float, list[Constraint]]:
    """One slot, no risk budget, and the note that the sizing fell back to equal weight."""
    return slot_dollars, 0.0, [Constraint("sizing_fallback", f"{why}: equal weight")]
