"""Bucket C: the low-float "gamble" bucket.

Universe on each date: US stocks with a known shares float below ``max_float`` (a snapshot, see
below), a close inside ``min_price`` .. ``max_price``, a market cap (close x shares outstanding)
at most ``max_market_cap`` (a float counted in shares lets large high-priced companies through),
a 20-day median dollar volume of at least ``min_dollar_volume`` (in the quote currency, whatever
unit the source gives volume in) and no fund or ETF.

Entry (an attention shock on a thin float): the close breaks above the highest close of the
``breakout_window`` sessions before it on a volume at least ``volume_surge`` times the median
volume of the 50 sessions before it. With few shares to trade, a burst of demand moves the price
further than in a large name, and the move tends to run on for some days. Candidates are ranked
by the surge. No entry on a day whose open gapped more than ``MAX_ENTRY_GAP`` or whose close moved
more than ``MAX_ENTRY_MOVE`` (that is where limit-up/limit-down pauses and news halts cluster and
where the next open is least predictable), after an untradeable day in the last
``HALT_LOOKBACK`` sessions (no volume or a single print: a halt), or in the
``earnings_days`` calendar days before an earnings report.

Exits: a fixed stop ``stop_atr`` x ATR(14) below the entry close, a close below the lowest close
of the ``EXIT_WINDOW`` sessions before it, a time stop after ``time_stop_bars`` sessions, and
before an earnings report (the bucket does not hold through one when a source knows the dates).

Risk: the bucket's budget is small (``default_settings``: 5% of the account, five positions of
1% each, equal sizing) and every position is capped by the account's ``max_adv_share`` of its
20-day dollar volume. Its overnight gap exposure is therefore at most its budget: five 1%
positions, whatever the gap. A stop that meets a halted day cannot fill; the simulator sells at
the first tradeable open after it (both implementations: a bar without volume trades nothing).

Float is a snapshot, not a history: every run says which snapshot it used, and a backtest's
universe is not point in time (survivorship: today's floats of today's listed stocks).
"""

from __future__ import annotations

import datetime as dt
import math
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np
import pandas as pd

from tsys.api import (
    OPT_IN_SATELLITE,
    AssetClass,
    Bucket,
    BucketContext,
    BucketOutput,
    DataError,
    PositionRules,
    param,
)
from tsys.api import indicators as ind

if TYPE_CHECKING:
    from tsys.api import Bars, Fundamentals

from tsys_bucket_lowfloat import __version__
from tsys_bucket_lowfloat import signals as sig

#: Broad small caps (Russell 2000 ETF): the buy-and-hold benchmark where the data has it.
BENCHMARK = "IWM"
ATR_WINDOW = 14
#: Sessions behind the median dollar volume of the liquidity filter (and the ADV cap).
DOLLAR_VOLUME_WINDOW = 20
#: Sessions behind the median volume a surge is measured against.
SURGE_BASE_WINDOW = 50
#: A close below the lowest close of this many sessions before it exits.
EXIT_WINDOW = 10
#: Mode "reversal": a close above the average of this many sessions is the rebound (exit).
REBOUND_WINDOW = 5
#: No entry on a day whose open gapped by more than this (either way).
MAX_ENTRY_GAP = 0.25
#: No entry on a day whose close moved by more than this from the last close.
MAX_ENTRY_MOVE = 0.6
#: No entry while an untradeable day (halt) lies inside this many sessions.
HALT_LOOKBACK = 5
#: Sell when an earnings report is this many calendar days ahead or nearer.
EARNINGS_EXIT_DAYS = 4
#: Names of funds the snapshot may list as companies.
FUND_WORDS = (" ETF", " ETN", " FUND", " TRUST", "ISHARES", "SPDR", "PROSHARES")


@attrs.frozen
class Params:
    """Four searched rules and the universe's fixed limits (the issue's examples).

    Defaults: the researched values shipped in ``params.json`` (``tsys research lowfloat
    --param mode=breakout --write-defaults`` on the real small-float set; a test holds them
    equal), so every path that builds ``Params()`` trades what was researched. The research
    started from breakout_window 20, volume_surge 3.0, stop_atr 2.0, time_stop_bars 10; it did
    not pass validation (README, "Research")."""

    mode: str = param(
        "breakout",
        choices=("breakout", "reversal"),
        help="breakout: buy a volume-surge break above the N-day high; reversal: buy a "
        "volume-surge break below the N-day low (providing liquidity), sell on the rebound",
    )
    breakout_window: int = param(42, low=10, high=60, help="N: the high (or low) of N sessions")
    volume_surge: float = param(
        2.366267123013751, low=1.5, high=6.0, help="volume / 50-day median volume"
    )
    stop_atr: float = param(
        3.295625852107749, low=1.0, high=4.0, help="fixed stop: ATRs below the entry close"
    )
    time_stop_bars: int = param(11, low=3, high=30, help="close after this many sessions")
    max_float: float = param(20e6, help="shares float at most this (snapshot)")
    min_price: float = param(1.0, help="close at least this")
    max_price: float = param(20.0, help="close at most this")
    min_dollar_volume: float = param(5e5, help="20-day median dollar volume at least this")
    max_market_cap: float = param(2e9, help="close x shares outstanding at most this")
    earnings_days: int = param(5, help="no entry this many calendar days before earnings")


class LowFloatBucket(Bucket):
    """Bucket C: volume-surge breakouts in low-float stocks, small and strictly capped."""

    name = "lowfloat"
    asset_class = AssetClass.EQUITY
    version = __version__
    Params = Params
    description = "Low-float gamble: volume-surge breakouts, 5% budget, halt-aware stops"
    benchmark = BENCHMARK
    default_sizing = "equal"
    warmup_bars = SURGE_BASE_WINDOW + 10
    #: Opt-in (``[buckets.lowfloat] enabled = true``, or ``--buckets lowfloat``): a gamble that
    #: failed validation, and that asks every equity's float (one call per symbol from a
    #: per-symbol source such as Alpha Vantage). When on: 5% of the account in at most five
    #: positions of 1% each, equal-sized.
    default_settings = OPT_IN_SATELLITE

    def position_rules(self, params: Params) -> PositionRules:
        return PositionRules(
            stop_kind="fixed", atr_multiple=params.stop_atr, time_stop_bars=params.time_stop_bars
        )

    # ------------------------------------------------------------------ universe
    def _floats(self, ctx: BucketContext | None, symbols: list[str]) -> dict[str, Fundamentals]:
        """Fundamentals of the symbols that have a float, with the snapshot caveat said once."""
        if ctx is None or ctx.data is None or not symbols:
            return {}
        funds = ctx.data.fundamentals(symbols) or {}
        known = {
            s: f for s, f in funds.items() if f.shares_float is not None and f.shares_float > 0
        }
        if not known:
            ctx.warn(
                "lowfloat: no data source knows shares float (set [data.options.csv] "
                "float_file, or add the alphavantage source); the bucket has no universe"
            )
            return {}
        snaps = sorted({str(getattr(f, "snapshot", None) or "") for f in known.values()} - {""})
        when = f"the {' / '.join(snaps)} snapshot" if snaps else "a snapshot of unknown date"
        ctx.warn(
            f"lowfloat: shares float from {when}, not a history: the universe of past dates "
            "uses that snapshot's floats of the stocks listed then (not point in time; "
            "survivorship bias)"
        )
        return known

    @staticmethod
    def _is_fund(f: Fundamentals) -> bool:
        name = f" {(f.name or '').upper()}"
        return any(w in name for w in FUND_WORDS)

    def candidates(self, ctx: BucketContext) -> list[str]:
        """Equities whose snapshot float is below ``max_float`` and that are not funds."""
        params = ctx.params if ctx.params is not None else self.default_params()
        syms = ctx.data.symbols(AssetClass.EQUITY)
        known = self._floats(ctx, syms)
        return sorted(
            s
            for s, f in known.items()
            if f.shares_float <= params.max_float and not self._is_fund(f)
        )

    def universe(self, ctx: BucketContext[Params]) -> list[str]:
        """The candidates and the benchmark; empty without any float data (the daily run then
        shows the bucket with no plan and the warning saying why)."""
        cands = self.candidates(ctx)
        return sorted({*cands, BENCHMARK}) if cands else []

    def history_symbols(self, ctx: BucketContext[Params]) -> list[str] | None:
        """What a backtest loads: the low-float candidates (and the benchmark when known)."""
        syms = self.candidates(ctx)
        if not syms:
            raise DataError(
                "lowfloat: no stock with a known float below the limit in the data",
                hint="set [data.options.csv] float_file (a float snapshot CSV) or add a source "
                "that knows shares float (alphavantage)",
            )
        if BENCHMARK in ctx.data.symbols(AssetClass.EQUITY):
            syms = [*syms, BENCHMARK]
        return syms

    def _snapshot_columns(
        self, ctx: BucketContext | None, bars: Bars, params: Params
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per column: the float, shares outstanding and snapshot market cap (NaN: unknown;
        funds and the benchmark get no float)."""
        N = bars.shape[1]
        flt, shares, cap = (np.full(N, np.nan) for _ in range(3))
        equity = [a is AssetClass.EQUITY for a in bars.asset_classes]
        syms = [s for s, e in zip(bars.symbols, equity, strict=True) if e and s != BENCHMARK]
        known = self._floats(ctx, syms)
        for j, s in enumerate(bars.symbols):
            f = known.get(s)
            if f is None or self._is_fund(f):
                continue
            flt[j] = f.shares_float
            shares[j] = f.shares_outstanding if f.shares_outstanding else np.nan
            cap[j] = f.market_cap if f.market_cap else np.nan
        return flt, shares, cap

    # ------------------------------------------------------------------ compute
    def compute(self, ctx: BucketContext, bars: Bars, params: Params) -> BucketOutput:
        T, N = bars.shape
        o, h, lo, c = bars.open, bars.high, bars.low, bars.close
        volume = bars.base_volume()
        bad = sig.untradeable(o, h, lo, c, volume)
        flt, shares, snap_cap = self._snapshot_columns(ctx, bars, params)
        dollar = np.where(bad, 0.0, np.nan_to_num(bars.dollar_volume(), nan=0.0))
        dollar = np.where(np.isfinite(c), dollar, np.nan)
        med_dv = sig.rolling_median(dollar, DOLLAR_VOLUME_WINDOW)
        with np.errstate(invalid="ignore"):
            mcap = np.where(np.isfinite(shares)[None, :], c * shares[None, :], snap_cap[None, :])
            member = (
                (flt[None, :] <= params.max_float)
                & (c >= params.min_price)
                & (c <= params.max_price)
                & ~(mcap > params.max_market_cap)
                & (med_dv >= params.min_dollar_volume)
                & ~bad
            )
        gap = sig.overnight_gap(o, c, bad)
        worst = sig.worst_gap(gap)
        prev = ind.shift(sig.last_close(c, bad), 1)
        with np.errstate(divide="ignore", invalid="ignore"):
            move = np.where(prev > 0, c / prev - 1.0, np.nan)
        halted = ind.rolling_max(bad.astype(np.float64), HALT_LOOKBACK, min_periods=1) > 0
        clean = np.where(bad, np.nan, c)
        if params.mode == "reversal":
            up, level = sig.breakdown(clean, params.breakout_window)
        else:
            up, level = sig.breakout(clean, params.breakout_window)
        surge = sig.volume_surge(np.where(bad, np.nan, volume), SURGE_BASE_WINDOW)
        atr = ind.atr(h, lo, c, ATR_WINDOW)
        stop = c - params.stop_atr * atr
        with np.errstate(invalid="ignore"):
            stop = np.where((stop > 0) & (stop < c), stop, np.nan)
            calm = (np.abs(gap) <= MAX_ENTRY_GAP) & (np.abs(move) <= MAX_ENTRY_MOVE)
            setup = up & (surge >= params.volume_surge)
        score_all = np.log(np.where(surge > 0, surge, np.nan))
        eligible = member & setup & np.isfinite(stop) & np.isfinite(score_all)
        entries = eligible & calm & ~halted
        score = np.where(eligible, score_all, np.nan)
        if params.mode == "reversal":  # the rebound: a close back above the 5-day average
            floor = ind.sma(clean, REBOUND_WINDOW, min_periods=REBOUND_WINDOW)
            with np.errstate(invalid="ignore"):
                exits = (c > floor) & ~bad
        else:
            floor = ind.shift(ind.rolling_min(clean, EXIT_WINDOW), 1)
            with np.errstate(invalid="ignore"):
                exits = (c < floor) & ~bad
        blocked = np.zeros((T, N), dtype=bool)
        reasons: dict[tuple[int, int], str] = {}
        soon = np.zeros((T, N), dtype=bool)
        if ctx is not None and ctx.data is not None and T:
            self._earnings(ctx, bars, params, np.isfinite(flt), blocked, soon, reasons)
        entries &= ~blocked
        exits |= soon
        return BucketOutput(
            score=score,
            entries=entries,
            exits=exits,
            stop=stop,
            blocked=blocked,
            block_reasons=reasons,
            extras={
                "float": np.broadcast_to(flt, (T, N)).copy(),
                "market_cap": mcap,
                "dollar_volume": med_dv,
                "surge": surge,
                "breakout_level": level,
                "gap": gap,
                "worst_gap": worst,
                "untradeable": bad.astype(np.float64),
                "recent_halt": halted.astype(np.float64),
                "atr": atr,
                "exit_floor": floor,
                "member": member.astype(np.float64),
                "setup": setup.astype(np.float64),
                "earnings_exit": soon.astype(np.float64),
                **({"rebound": floor} if params.mode == "reversal" else {}),
            },
        )

    def _earnings(
        self,
        ctx: BucketContext,
        bars: Bars,
        params: Params,
        scope: np.ndarray,
        blocked: np.ndarray,
        soon: np.ndarray,
        reasons: dict[tuple[int, int], str],
    ) -> None:
        """Block entries ``earnings_days`` before a report and exit ``EARNINGS_EXIT_DAYS``
        before it (report dates are announced weeks ahead: knowing them at t is fair).
        ``scope`` marks the columns asked about (fixed in time: no look-ahead)."""
        cols = np.flatnonzero(scope)
        if not len(cols):
            return
        syms = [bars.symbols[j] for j in cols]
        days = bars.index.tz_convert(None).normalize() if bars.index.tz else bars.index
        start = days[0].date()
        end = days[-1].date() + dt.timedelta(days=max(params.earnings_days, EARNINGS_EXIT_DAYS))
        earn = ctx.data.earnings(syms, start, end)
        if earn is None:
            ctx.not_checked("lowfloat: earnings", "no data source provides earnings dates")
            return
        if not len(earn):
            return
        col = {s: j for j, s in zip(cols.tolist(), syms, strict=True)}
        day_ns = days.to_numpy(dtype="datetime64[ns]")
        dates = pd.to_datetime(earn["date"], utc=True).dt.tz_convert(None).dt.normalize()
        for s, d in zip(earn["symbol"], dates, strict=True):
            j = col.get(s)
            if j is None or pd.isna(d):
                continue
            ahead = (np.datetime64(d.to_datetime64(), "ns") - day_ns) // np.timedelta64(1, "D")
            near = (ahead >= 0) & (ahead <= params.earnings_days)
            blocked[near, j] = True
            soon[(ahead >= 0) & (ahead <= EARNINGS_EXIT_DAYS), j] = True
            for t in np.flatnonzero(near).tolist():
                n = int(ahead[t])
                when = "today" if n == 0 else f"in {n} day{'s' if n != 1 else ''}"
                reasons.setdefault((t, j), f"earnings {when}: blocked")

    # ------------------------------------------------------------------ explain
    def explain(
        self, ctx: BucketContext, bars: Bars, output: BucketOutput, symbol: str, t: int
    ) -> list[str]:
        t, j = t % bars.shape[0], bars.column(symbol)
        x = output.extras
        flt = x["float"][t, j]
        tags = _finite_tags(
            ("float {:.1f}M shares (snapshot)", flt / 1e6),
            ("median dollar volume ${:.2f}M/day", x["dollar_volume"][t, j] / 1e6),
        )
        surge = x["surge"][t, j]
        level = x["breakout_level"][t, j]
        reversal = "rebound" in x
        if x["setup"][t, j] > 0 and math.isfinite(level):
            what = "break below" if reversal else "breakout over"
            tags.append(f"setup: {what} {level:,.2f} on {surge:.1f}x volume")
        tags += _finite_tags(
            ("stop {:,.2f}", output.stop[t, j]), ("worst gap {:.0%}", x["worst_gap"][t, j])
        )
        gap = x["gap"][t, j]
        if x["untradeable"][t, j] > 0:
            tags.append("untradeable today (no volume or one print)")
        elif x["recent_halt"][t, j] > 0:
            tags.append(f"halt in the last {HALT_LOOKBACK} sessions: no entry")
        elif math.isfinite(gap) and abs(gap) > MAX_ENTRY_GAP:
            tags.append(f"gap {gap:+.0%} beyond {MAX_ENTRY_GAP:.0%}: no entry")
        if output.entries[t, j]:
            what = "washout" if reversal else "breakout"
            tags.append(f"entry: {surge:.1f}x volume {what}, float {flt / 1e6:.1f}M")
        if output.exits[t, j]:
            tags.append(self._exit_tag(bars, output, t, j))
        reason = output.block_reasons.get((t, j))
        if reason:
            tags.append(reason)
        return tags

    @staticmethod
    def _exit_tag(bars: Bars, output: BucketOutput, t: int, j: int) -> str:
        x = output.extras
        if x["earnings_exit"][t, j] > 0:
            return f"exit: earnings within {EARNINGS_EXIT_DAYS} days"
        floor = x["exit_floor"][t, j]
        if "rebound" in x:
            return (
                f"exit: rebound, close {bars.close[t, j]:,.2f} over the {REBOUND_WINDOW}-day "
                f"average {floor:,.2f}"
            )
        return f"exit: close {bars.close[t, j]:,.2f} under the {EXIT_WINDOW}-day low {floor:,.2f}"

    def search_space(self) -> dict[str, dict[str, Any]]:
        """The four rules of the shipped mode; the mode itself is a choice made by research
        (one study per mode), not a dimension of one study."""
        return {k: v for k, v in super().search_space().items() if k != "mode"}


def _finite_tags(*pairs: tuple[str, float]) -> list[str]:
    """Each format filled with its value, for the values that are finite (NaN: unknown)."""
    return [fmt.format(value) for fmt, value in pairs if math.isfinite(value)]
