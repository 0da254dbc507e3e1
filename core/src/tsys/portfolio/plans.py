"""The daily run's last bar: signals, allocations and trade plans from one bucket's output.

The same :func:`~tsys.portfolio.construct.select_and_size` that backtests use sizes today's
entries, against the positions the user already holds (system, paper and manual).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np

from tsys.contracts import (
    Action,
    Allocation,
    AssetClass,
    Blocker,
    Constraint,
    EntryMethod,
    Intent,
    NewsItem,
    PositionRecord,
    PositionSource,
    Side,
    Signal,
    StopKind,
    StopRule,
    TradePlan,
)
from tsys.portfolio.construct import (
    ADV_WINDOW,
    CORRELATION_WINDOW,
    EXIT_CONSTRAINT,
    VOL_WINDOW,
    Candidate,
    Holding,
    sector_map,
    select_and_size,
    size_factor_at,
)

if TYPE_CHECKING:
    from tsys.buckets import Bucket, BucketContext, BucketOutput
    from tsys.config import BucketConfig, OverridesConfig, RiskConfig
    from tsys.data import Bars

#: Best-scored symbols without an entry today that a plan lists as WATCH.
WATCH_LIMIT = 3
_COID_BAD = re.compile(r"[^A-Za-z0-9._-]+")
COID_MAX = 48


def client_order_id(bucket: str, as_of: dt.date, symbol: str, side: str) -> str:
    """Deterministic order id ``tsys-{bucket}-{YYYYMMDD}-{symbol}-{side}``.

    Characters outside ``A-Za-z0-9._-`` become "-" and ids longer than Alpaca's 48 characters
    keep their start plus a short hash of the whole, so a rerun of the same day reuses the
    same id (the broker then refuses a duplicate instead of buying twice).
    """
    raw = f"tsys-{bucket}-{as_of:%Y%m%d}-{symbol}-{side}"
    clean = _COID_BAD.sub("-", raw).strip("-")
    if len(clean) <= COID_MAX:
        return clean
    digest = hashlib.sha1(raw.encode()).hexdigest()[:8]
    return f"{clean[: COID_MAX - 9]}-{digest}"


def valid_until(as_of: dt.date, asset_class: AssetClass) -> dt.datetime:
    """The close of the next session: NYSE for equities, the next UTC day for crypto."""
    if asset_class is AssetClass.CRYPTO:
        return dt.datetime.combine(as_of + dt.timedelta(days=2), dt.time(0, 0), dt.UTC)
    from tsys.data import calendars

    return calendars.session_close(calendars.next_session(as_of))


@attrs.frozen
class BucketDecisions:
    """One bucket's plan for the next session: signals, allocations, plans, blockers, notes."""

    signals: tuple[Signal, ...]
    allocations: tuple[Allocation, ...]
    plans: tuple[TradePlan, ...]
    blockers: tuple[Blocker, ...]
    notes: tuple[str, ...] = ()


def _f(x: Any) -> float | None:
    return float(x) if x is not None and math.isfinite(float(x)) else None


#: Prefixes of the rationale tags that state why a bucket enters or exits (see Bucket.explain).
ENTRY_TAG = "entry:"
EXIT_TAG = "exit:"


def _user_block(overrides: OverridesConfig, symbol: str) -> str:
    """Why ``symbol`` is blocked: the ``tsys override`` rule, else tsys.toml's list."""
    rule = overrides.sources.get(symbol.upper())
    where = f"override {rule}" if rule else "tsys.toml's [overrides] blocked_symbols"
    return f"blocked by the user ({where})"


def lead_with(tags: Sequence[str], prefix: str, fallback: str) -> list[str]:
    """``tags`` with the first one starting with ``prefix`` moved to the front.

    Without such a tag, ``fallback`` leads: a plan's first rationale entry is always the
    reason for its own action (the one-line views show only that entry).
    """
    for i, tag in enumerate(tags):
        if tag.startswith(prefix):
            return [tag, *tags[:i], *tags[i + 1 :]]
    return [fallback, *tags]


def build_allocations(
    bucket: Bucket,
    ctx: BucketContext,
    bars: Bars,
    output: BucketOutput,
    settings: BucketConfig,
    risk: RiskConfig,
    overrides: OverridesConfig,
    *,
    equity: float,
    holdings: Sequence[PositionRecord] = (),
    params: Any = None,
    t: int = -1,
    sectors: Mapping[str, str] | None = None,
) -> BucketDecisions:
    """Turn the bucket's output at row ``t`` (default: the last bar) into today's plan.

    Every plan's first rationale entry is the reason for its own action: the exit reason of a
    SELL, the entry reason of a BUY (the bucket's ``entry:``/``exit:`` tag when ``explain``
    gives one), the binding constraint of a WATCH. A symbol whose exit mask is set today is
    never bought today (:func:`select_and_size` rejects it; it becomes a WATCH saying so).

    Held positions of this bucket become HOLD, or SELL when the exit mask, the stop or the
    user's block says so; a SELL is planned only for system and paper positions, a manual
    position gets HOLD with the reason to consider selling. Every holding (any source, any
    bucket) counts against the caps. New entries go through :func:`select_and_size`;
    candidates a cap turned down become WATCH plans carrying that constraint, and the
    :data:`WATCH_LIMIT` best-scored symbols not planned otherwise (no entry trigger, no slot,
    or the regime is off) become WATCH plans saying so. A WATCH plan's first rationale entry
    is the reason it was not bought.
    """
    from tsys import indicators as ind
    from tsys.portfolio.resize import effective_settings

    params = params if params is not None else bucket.default_params()
    rules = bucket.position_rules(params)
    settings = effective_settings(settings, rules)
    T = bars.shape[0]
    if T == 0:
        return BucketDecisions((), (), (), (), ("no bars",))
    t = t % T
    close = bars.close
    vol = ind.volatility(close, VOL_WINDOW)[t]
    adv = ind.dollar_volume(close, bars.base_volume(), ADV_WINDOW)[t]  # in dollars
    lo = max(0, t - CORRELATION_WINDOW + 1)
    rets = ind.simple_returns(close)[lo : t + 1]
    if sectors is None:
        sectors = _sectors_wanted(ctx, bars, output, t, holdings)
    day = _Day(bucket, ctx, bars, output, t, rules, equity, overrides)
    open_recs = [r for r in holdings if r.is_open and r.side is Side.BUY]
    held = [
        Holding(
            r.symbol,
            r.quantity * day.price_of(r.symbol, r.entry_price),
            r.asset_class,
            sectors.get(r.symbol),
            r.bucket or None,
            r.source,
        )
        for r in open_recs
    ]
    day.hold_or_sell(open_recs)
    day.bucket_blockers()
    held_syms = {h.symbol for h in held}
    eligible = output.entries[t] & np.isfinite(output.score[t]) & np.isfinite(close[t])
    if output.blocked is not None:
        eligible &= ~output.blocked[t]
    if bucket.name in overrides.paused_buckets:
        eligible = np.zeros_like(eligible)
        rule = overrides.sources.get(bucket.name, "tsys.toml's [overrides] paused_buckets")
        day.notes.append(f"paused by {rule}: no new entries today; exits and stops still run")
    cands = day.candidates(eligible, held_syms, sectors, vol, adv)
    sel = select_and_size(
        cands,
        equity=equity,
        bucket=bucket.name,
        settings=settings,
        risk=risk,
        overrides=overrides,
        regime=day.regime,
        held=held,
        returns={s: rets[:, j] for s, j in day.cols.items()},
        target_volatility=rules.target_volatility,
        round_lots=True,
    )
    day.notes.extend(sel.notes)
    day.buy(sel)
    day.watch_rejected(sel)
    in_use = sum(1 for h in held if h.bucket == bucket.name) + len(sel.decisions)
    day.watch_list(eligible, held_syms, sel, settings, in_use)
    return BucketDecisions(
        tuple(day.signals),
        tuple(day.allocations),
        tuple(day.plans),
        tuple(day.blockers),
        tuple(day.notes),
    )


def _sectors_wanted(
    ctx: BucketContext,
    bars: Bars,
    output: BucketOutput,
    t: int,
    holdings: Sequence[PositionRecord],
) -> Mapping[str, str]:
    # Only today's candidates and the holdings need a sector: asking for every symbol of
    # the panel costs a rate-limited fundamentals source one call per symbol.
    can_enter = output.entries[t] & np.isfinite(output.score[t])
    # Only equities have a sector cap.
    wanted = {
        bars.symbols[j]
        for j in np.flatnonzero(can_enter)
        if bars.asset_classes[j] is AssetClass.EQUITY
    }
    wanted |= {r.symbol for r in holdings if r.is_open and r.asset_class is AssetClass.EQUITY}
    return sector_map(ctx, sorted(wanted)) if wanted else {}


class _Day:
    """One bucket's decisions at row ``t``, gathered plan by plan (see build_allocations)."""

    def __init__(
        self,
        bucket: Bucket,
        ctx: BucketContext,
        bars: Bars,
        output: BucketOutput,
        t: int,
        rules: Any,
        equity: float,
        overrides: OverridesConfig,
    ) -> None:
        self.bucket, self.ctx, self.bars, self.output, self.t = bucket, ctx, bars, output, t
        self.rules, self.equity = rules, equity
        self.ts = bars.index[t].to_pydatetime()
        self.as_of = self.ts.date()
        self.close = bars.close
        self.cols = {s: j for j, s in enumerate(bars.symbols)}
        self.overrides = overrides
        self.blocked_user = {s.upper() for s in overrides.blocked_symbols}
        self.regime = float(output.regime[t]) if output.regime is not None else 1.0
        self.signals: list[Signal] = []
        self.allocations: list[Allocation] = []
        self.plans: list[TradePlan] = []
        self.blockers: list[Blocker] = []
        self.notes: list[str] = []

    def price_of(self, sym: str, fallback: float) -> float:
        j, t, close = self.cols.get(sym), self.t, self.close
        if j is not None and math.isfinite(close[t, j]) and close[t, j] > 0:
            return float(close[t, j])
        return fallback

    def tags(self, sym: str) -> list[str]:
        if sym not in self.cols:
            return []
        try:
            return [
                str(x) for x in self.bucket.explain(self.ctx, self.bars, self.output, sym, self.t)
            ]
        except Exception as exc:  # the plan must not die for a missing rationale
            self.ctx.warn(
                f"{self.bucket.name}: explain failed for {sym}: {type(exc).__name__}: {exc}"
            )
            return []

    def news_of(self, sym: str) -> tuple[NewsItem, ...]:
        if sym not in self.cols:
            return ()
        try:
            items = self.bucket.news(self.ctx, self.bars, self.output, sym, self.t)
            return tuple(x for x in items if isinstance(x, NewsItem))
        except Exception as exc:  # links are a courtesy: never lose the plan for them
            self.ctx.warn(f"{self.bucket.name}: news failed for {sym}: {type(exc).__name__}: {exc}")
            return ()

    def score_of(self, sym: str) -> float:
        j = self.cols.get(sym)
        s = self.output.score[self.t, j] if j is not None else math.nan
        return float(s) if math.isfinite(s) else 0.0

    def add(
        self,
        sym: str,
        ac: AssetClass,
        action: Action,
        *,
        dollars: float,
        qty: float,
        rationale: list[str],
        constraints: Sequence[Constraint] = (),
        risk_budget: float = 0.0,
        adv_part: float | None = None,
        liquidity_flag: bool = False,
        stop: StopRule | None = None,
        take_profit: float | None = None,
        entry: EntryMethod | None = None,
        limit_price: float | None = None,
    ) -> None:
        side = Side.SELL if action is Action.SELL else Side.BUY
        intent = {
            Action.BUY: Intent.ENTER_NEXT_OPEN,
            Action.SELL: Intent.EXIT_NEXT_OPEN,
        }.get(action, Intent.WATCH)
        sig = Signal(
            symbol=sym,
            asset_class=ac,
            timestamp=self.ts,
            side=side,
            intent=intent,
            score=self.score_of(sym),
            bucket=self.bucket.name,
            strategy_version=self.bucket.version,
            rationale=tuple(rationale),
            news=self.news_of(sym) if action is not Action.SELL else (),
        )
        alloc = Allocation(
            signal=sig,
            dollars=max(0.0, dollars),
            weight=max(0.0, dollars / self.equity),
            quantity=max(0.0, qty),
            risk_budget=max(0.0, risk_budget),
            constraints=tuple(constraints),
            adv_participation=adv_part,
            liquidity_flag=liquidity_flag,
        )
        default_entry = EntryMethod.MKT if ac is AssetClass.CRYPTO else EntryMethod.MOO
        plan = TradePlan(
            allocation=alloc,
            action=action,
            entry=entry or default_entry,
            client_order_id=client_order_id(self.bucket.name, self.as_of, sym, action.value),
            valid_until=valid_until(self.as_of, ac),
            limit_price=limit_price,
            stop=stop,
            take_profit=take_profit,
            time_stop_bars=self.rules.time_stop_bars,
        )
        self.signals.append(sig)
        self.allocations.append(alloc)
        self.plans.append(plan)

    def stop_rule(self, level: float | None) -> StopRule | None:
        if level is None or level <= 0:
            return None
        rules = self.rules
        if rules.stop_kind == "atr_trailing" and rules.atr_multiple is not None:
            return StopRule(StopKind.ATR_TRAILING, price=level, atr_multiple=rules.atr_multiple)
        return StopRule(StopKind.FIXED, price=level)

    def hold_or_sell(self, open_recs: Sequence[PositionRecord]) -> None:
        """Positions of this bucket: HOLD, or SELL when an exit, the stop or a block says so."""
        bars, output, t, rules = self.bars, self.output, self.t, self.rules
        for r in open_recs:
            if r.bucket != self.bucket.name:
                continue
            j = self.cols.get(r.symbol)
            px = self.price_of(r.symbol, r.entry_price)
            base = self.tags(r.symbol)
            why = None
            if j is not None and output.exits[t, j]:
                base = lead_with(base, EXIT_TAG, "exit signal")
                why = base.pop(0)
            elif r.stop is not None and j is not None and bars.low[t, j] <= r.stop:
                why = f"stop {r.stop:,.2f} touched"
            elif r.symbol.upper() in self.blocked_user:
                why = _user_block(self.overrides, r.symbol)
            elif rules.time_stop_bars is not None:
                held_bars = int(np.sum(bars.index > r.opened_at)) if j is not None else 0
                if held_bars >= rules.time_stop_bars:
                    why = f"time stop: held {held_bars} bars"
            extra: dict[str, Any] = {}
            if why is not None and r.source in (PositionSource.SYSTEM, PositionSource.PAPER):
                action, lead = Action.SELL, why
            else:
                action = Action.HOLD
                lead = (
                    f"{why}: consider selling (manual position)"
                    if why is not None
                    else "hold: no exit condition today"
                )
                trailing = _f(output.stop[t, j]) if j is not None else None
                level = r.stop
                if rules.stop_kind == "atr_trailing" and trailing is not None:
                    level = max(level or 0.0, trailing)
                extra = {"stop": self.stop_rule(level), "take_profit": r.target}
            self.add(
                r.symbol,
                r.asset_class,
                action,
                dollars=r.quantity * px,
                qty=r.quantity,
                rationale=[lead, *base],
                **extra,
            )

    def bucket_blockers(self) -> None:
        """The bucket's own blocks of today (earnings, news)."""
        output, t = self.output, self.t
        if output.blocked is not None:
            for j in np.flatnonzero(output.blocked[t]):
                reason = output.block_reasons.get((t, int(j)), "blocked by the bucket")
                self.blockers.append(
                    Blocker(self.bars.symbols[j], self.bucket.name, reason, kind="event")
                )

    def candidates(
        self,
        eligible: np.ndarray,
        held_syms: set[str],
        sectors: Mapping[str, str],
        vol: np.ndarray,
        adv: np.ndarray,
    ) -> list[Candidate]:
        """Today's entry candidates not held yet; a user's block is recorded as a blocker."""
        bars, output, t = self.bars, self.output, self.t
        cands = []
        for j in np.flatnonzero(eligible):
            sym = bars.symbols[j]
            if sym in held_syms:
                continue
            if sym.upper() in self.blocked_user:
                why = _user_block(self.overrides, sym)
                self.blockers.append(Blocker(sym, self.bucket.name, why, kind="user"))
            exit_reason = None
            if output.exits[t, j]:
                exit_reason = lead_with(self.tags(sym), EXIT_TAG, "exit signal")[0]
            cands.append(
                Candidate(
                    symbol=sym,
                    score=float(output.score[t, j]),
                    price=float(self.close[t, j]),
                    asset_class=bars.asset_classes[j],
                    volatility=_f(vol[j]),
                    stop=_f(output.stop[t, j]),
                    adv_dollars=_f(adv[j]),
                    sector=sectors.get(sym),
                    exit_reason=exit_reason,
                    size_factor=size_factor_at(output, t, int(j)),
                )
            )
        return cands

    def buy(self, sel: Any) -> None:
        """A BUY plan for every entry the selection sized."""
        output, t = self.output, self.t
        limits = output.extras.get("limit") if self.rules.limit_entry else None
        for d in sel.decisions:
            j = self.cols[d.symbol]
            entry = None
            limit_price = None
            if limits is not None and math.isfinite(limits[t, j]) and limits[t, j] > 0:
                entry, limit_price = EntryMethod.LIMIT, float(limits[t, j])
            self.add(
                d.symbol,
                d.asset_class,
                Action.BUY,
                dollars=d.dollars,
                qty=d.quantity,
                rationale=[
                    *lead_with(
                        self.tags(d.symbol), ENTRY_TAG, f"entry signal (score {d.score:.2f})"
                    ),
                    *(f"capped: {c.name}" for c in d.constraints),
                ],
                constraints=d.constraints,
                risk_budget=d.risk_budget,
                adv_part=d.adv_participation,
                liquidity_flag=d.liquidity_flag,
                stop=self.stop_rule(_f(output.stop[t, j])),
                take_profit=_f(output.target[t, j]),
                entry=entry,
                limit_price=limit_price,
            )

    def watch_rejected(self, sel: Any) -> None:
        """A WATCH plan for every candidate a cap turned down, the cap's reason first."""
        exiting = [sym for sym, con in sel.rejected if con.name == EXIT_CONSTRAINT]
        exiting_shown = set(sorted(exiting, key=lambda s: (-self.score_of(s), s))[:WATCH_LIMIT])
        for sym, con in sel.rejected:
            if con.name == "user_blocked":
                continue
            if con.name == EXIT_CONSTRAINT and sym not in exiting_shown:
                continue  # the best few say so; the rest are not today's story
            ac = self.bars.asset_classes[self.cols[sym]]
            self.add(
                sym,
                ac,
                Action.WATCH,
                dollars=0.0,
                qty=0.0,
                # The reason first: a one-line view shows the first rationale entry.
                rationale=[
                    f"not bought: {con.detail}",
                    *(x for x in self.tags(sym) if not x.startswith((ENTRY_TAG, EXIT_TAG))),
                ],
                constraints=[con],
            )

    def watch_list(
        self,
        eligible: np.ndarray,
        held_syms: set[str],
        sel: Any,
        settings: BucketConfig,
        in_use: int,
    ) -> None:
        """A short watch list: the best-scored symbols not bought today, each saying why not."""
        bars, output, t = self.bars, self.output, self.t
        planned = {p.symbol for p in self.plans} | held_syms
        blocked_now = (
            output.blocked[t] if output.blocked is not None else np.zeros(len(self.cols), bool)
        )
        watch = [
            j
            for j in np.flatnonzero(np.isfinite(output.score[t]) & ~blocked_now)
            if bars.symbols[j] not in planned and bars.symbols[j].upper() not in self.blocked_user
        ]
        watch.sort(key=lambda j: (-float(output.score[t, j]), bars.symbols[j]))
        for j in watch[:WATCH_LIMIT]:
            sym = bars.symbols[j]
            # Short enough for the "why" column of an 80-column table.
            if self.regime <= 0:
                why = f"{self.bucket.regime_label(output, t) or 'regime off'}: not buying"
            elif sel.budget <= 0:
                why = "bucket has no capital"
            elif not eligible[j]:
                why = "no entry signal today"
            elif in_use >= settings.max_positions:
                n = settings.max_positions
                why = f"all {n} slots taken" if n != 1 else "its one slot is taken"
            else:
                why = "not bought today"
            self.add(
                sym,
                bars.asset_classes[j],
                Action.WATCH,
                dollars=0.0,
                qty=0.0,
                rationale=[why, *self.tags(sym)],
            )
