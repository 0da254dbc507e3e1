"""Bucket A: S&P 500 trend and momentum with a market regime filter and event-risk blockers.

Score (only where a stock is eligible: an index member on that date, above its 200-day average,
50-day average above the 200-day, positive 12-1 month momentum)::

    score = w_momentum x pct_rank(12-1 month return)
          + w_trend    x R²(log price, 126 days)
          + w_pullback x (1 - RSI(3) / 100)

Entries: eligible, regime risk-on (or reduced), not blocked by earnings or bad news, and (when
``pullback_only``) RSI(3) below ``pullback_rsi``. Exits: close below the ``exit_window`` average
(trend break), leaving the index, or the regime turning risk-off. Stops: ``atr_stop`` x ATR(14)
below the entry close (fixed). Time stop: ``time_stop_bars``.

Regime (SPY): risk-on when SPY is above its 200-day average and its 20-day realised volatility
is below ``vol_max``; "reduced" (``reduced_share`` of the budget) when above the average but
volatile; risk-off (cash) below the average.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np
import pandas as pd

from tsys.buckets import Bucket, BucketContext, BucketOutput, PositionRules, param
from tsys.contracts import AssetClass
from tsys.portfolio import indicators as ind

if TYPE_CHECKING:
    from tsys.data import Bars

from tsys_bucket_sp500 import __version__

BENCHMARK = "SPY"
SECTOR_ETFS = ("XLK", "XLF", "XLE", "XLV", "XLY", "XLP", "XLI", "XLB", "XLU", "XLRE", "XLC")
#: Funds that are never stock picks in "members" mode.
FUNDS = frozenset(
    {BENCHMARK, *SECTOR_ETFS, "QQQ", "IWM", "EFA", "GLD", "TLT", "VNQ", "DIA", "AGG", "IEF"}
)


@attrs.frozen
class Params:
    mode: str = param(
        "members",
        choices=("members", "etf"),
        help="members: point-in-time S&P 500 stocks; etf: SPY and the sector ETFs",
    )
    momentum_window: int = param(252, low=126, high=315, help="momentum lookback (bars)")
    momentum_skip: int = param(21, low=0, high=42, help="most recent bars left out of momentum")
    trend_window: int = param(200, low=100, high=250, help="long trend average (bars)")
    fast_window: int = param(50, low=20, high=100, help="fast trend average (bars)")
    r2_window: int = param(126, low=63, high=252, help="trend-quality (R²) window")
    exit_window: int = param(
        100, low=20, high=200, help="trend-break exit: close below this average"
    )
    rsi_window: int = param(3, low=2, high=10, help="pullback RSI window")
    pullback_rsi: float = param(40.0, low=10.0, high=60.0, help="RSI below this is a pullback")
    pullback_only: bool = param(False, choices=(False, True), help="enter only on pullbacks")
    w_momentum: float = param(0.5, low=0.0, high=1.0, help="score weight of momentum rank")
    w_trend: float = param(0.3, low=0.0, high=1.0, help="score weight of trend quality (R²)")
    w_pullback: float = param(0.2, low=0.0, high=1.0, help="score weight of the pullback")
    regime_window: int = param(200, low=100, high=250, help="SPY trend average for the regime")
    vol_max: float = param(0.25, low=0.12, high=0.45, help="annualised SPY volatility for risk-on")
    reduced_share: float = param(0.5, low=0.0, high=1.0, help="budget share when volatile")
    riskoff_exit: bool = param(True, choices=(False, True), help="sell everything when risk-off")
    atr_window: int = param(14, low=5, high=30, help="ATR window")
    atr_stop: float = param(3.0, low=1.5, high=6.0, help="stop distance in ATRs")
    time_stop_bars: int = param(126, low=20, high=252, help="close after this many bars")
    earnings_days: int = param(
        3, low=0, high=10, help="block entries this many days before earnings"
    )
    news_days: int = param(3, low=1, high=10, help="days of news averaged for the news blocker")
    news_block: float = param(-0.5, low=-1.0, high=0.0, help="block when mean sentiment is below")


class Sp500Bucket(Bucket):
    """Bucket A: stable S&P 500 trend/momentum with regime gating and event-risk blockers."""

    name = "sp500"
    asset_class = AssetClass.EQUITY
    version = __version__
    Params = Params
    description = "S&P 500 trend and momentum, regime-gated, earnings/news aware"
    benchmark = BENCHMARK
    default_sizing = "inverse_vol"
    warmup_bars = 273

    def position_rules(self, params: Params) -> PositionRules:
        return PositionRules(
            stop_kind="fixed",
            atr_multiple=params.atr_stop,
            time_stop_bars=params.time_stop_bars,
        )

    # ------------------------------------------------------------------ universe
    def universe(self, ctx: BucketContext) -> list[str]:
        params = _params_of(ctx)
        if params.mode == "etf":
            return [BENCHMARK, *SECTOR_ETFS]
        members = ctx.data.universe("sp500", ctx.as_of)
        if members is None:
            ctx.warn(
                "sp500: index membership unknown; falling back to SPY and the sector ETFs "
                "(set mode='etf' to silence)"
            )
            return [BENCHMARK, *SECTOR_ETFS]
        return sorted({*members, BENCHMARK})

    def history_symbols(self, ctx: BucketContext) -> list[str] | None:
        """Symbols a backtest loads: the ETFs in "etf" mode, every equity (None) otherwise."""
        return [BENCHMARK, *SECTOR_ETFS] if _params_of(ctx).mode == "etf" else None

    def _membership(self, ctx: BucketContext | None, bars: Bars, params: Params) -> np.ndarray:
        T, N = bars.shape
        syms = bars.symbols
        equity = np.array([a is AssetClass.EQUITY for a in bars.asset_classes])
        if params.mode == "etf":
            cols = np.array([s == BENCHMARK or s in SECTOR_ETFS for s in syms]) & equity
            return np.broadcast_to(cols, (T, N)).copy()
        stock = equity & np.array([s not in FUNDS for s in syms])
        if ctx is None or ctx.data is None or T == 0:
            return np.broadcast_to(stock, (T, N)).copy()
        idx = bars.index
        month = (idx.year * 100 + idx.month).to_numpy()
        starts = np.flatnonzero(np.r_[True, month[1:] != month[:-1]])
        col = {s: j for j, s in enumerate(syms)}
        mask = np.zeros((T, N), dtype=bool)
        known = False
        for k, t0 in enumerate(starts):
            t1 = starts[k + 1] if k + 1 < len(starts) else T
            members = ctx.data.universe("sp500", idx[t0].date())
            row = np.zeros(N, dtype=bool)
            if members is None:
                row = stock
            else:
                known = True
                for s in members:
                    j = col.get(s)
                    if j is not None:
                        row[j] = True
                row &= stock
            mask[t0:t1] = row
        if not known:
            ctx.warn(
                "sp500: no data source knows index membership; every stock in the panel is "
                "eligible (survivorship bias)"
            )
        return mask

    # ------------------------------------------------------------------ compute
    def compute(self, ctx: BucketContext, bars: Bars, params: Params) -> BucketOutput:
        T, N = bars.shape
        close, high, low = bars.close, bars.high, bars.low
        member = self._membership(ctx, bars, params)
        sma_trend = ind.sma(close, params.trend_window)
        sma_fast = ind.sma(close, params.fast_window)
        sma_exit = ind.sma(close, params.exit_window)
        past = ind.shift(close, params.momentum_skip)
        base = ind.shift(close, params.momentum_window)
        with np.errstate(divide="ignore", invalid="ignore"):
            momentum = np.where(base > 0, past / base - 1.0, np.nan)
        r2 = ind.trend_r2(close, params.r2_window)
        rsi = ind.rsi(close, params.rsi_window)
        atr = ind.atr(high, low, close, params.atr_window)

        regime = self._regime(ctx, bars, params)
        with np.errstate(invalid="ignore"):
            uptrend = (close > sma_trend) & (sma_fast > sma_trend)
            eligible = member & uptrend & (momentum > 0) & np.isfinite(r2) & np.isfinite(rsi)
        mom_ranked = np.where(member & np.isfinite(momentum), momentum, np.nan)
        mom_rank = ind.cross_rank(mom_ranked)
        score_all = (
            params.w_momentum * mom_rank
            + params.w_trend * r2
            + params.w_pullback * (1.0 - rsi / 100.0)
        )
        score = np.where(eligible & np.isfinite(score_all), score_all, np.nan)
        with np.errstate(invalid="ignore"):
            pullback = rsi < params.pullback_rsi
        risk_on = (regime > 0)[:, None]
        entries = np.isfinite(score) & risk_on
        if params.pullback_only:
            entries &= pullback
        with np.errstate(invalid="ignore"):
            trend_break = close < sma_exit
        exits = trend_break | (~member & np.isfinite(close))
        if params.riskoff_exit:
            exits |= ~risk_on
        stop = close - params.atr_stop * atr
        stop = np.where(stop > 0, stop, np.nan)

        blocked = np.zeros((T, N), dtype=bool)
        reasons: dict[tuple[int, int], str] = {}
        if ctx is not None and ctx.data is not None and T:
            self._event_risk(ctx, bars, params, member, blocked, reasons)
        entries &= ~blocked
        return BucketOutput(
            score=np.ascontiguousarray(score),
            entries=np.ascontiguousarray(entries),
            exits=np.ascontiguousarray(exits),
            stop=np.ascontiguousarray(stop),
            target=np.full((T, N), np.nan),
            regime=regime,
            blocked=blocked,
            block_reasons=reasons,
            extras={
                "sma_trend": sma_trend,
                "sma_fast": sma_fast,
                "momentum": momentum,
                "momentum_rank": ind.cross_position(mom_ranked),
                "rsi": rsi,
                "r2": r2,
                "atr": atr,
                "member": member.astype(np.float64),
            },
        )

    def _regime(self, ctx: BucketContext | None, bars: Bars, params: Params) -> np.ndarray:
        T = bars.shape[0]
        if BENCHMARK in bars.symbols:
            spy = bars.close[:, bars.column(BENCHMARK)][:, None]
        else:
            if ctx is not None:
                ctx.warn("sp500: SPY is not in the panel; the regime uses the panel's average")
            with np.errstate(invalid="ignore"):
                rets = np.nanmean(ind.simple_returns(bars.close), axis=1)
            spy = (
                np.nancumprod(np.r_[1.0, np.nan_to_num(rets[1:])])[:, None]
                if T
                else np.ones((0, 1))
            )
        avg = ind.sma(spy, params.regime_window)[:, 0]
        vol = ind.volatility(spy, 20)[:, 0] * math.sqrt(252)
        s = spy[:, 0]
        with np.errstate(invalid="ignore"):
            above = s > avg
            calm = vol < params.vol_max
        out = np.where(above & calm, 1.0, np.where(above, params.reduced_share, 0.0))
        return np.where(np.isfinite(avg) & np.isfinite(vol), out, 0.0)

    def _event_risk(
        self,
        ctx: BucketContext,
        bars: Bars,
        params: Params,
        member: np.ndarray,
        blocked: np.ndarray,
        reasons: dict[tuple[int, int], str],
    ) -> None:
        idx = bars.index
        days = idx.tz_convert(None).normalize() if idx.tz is not None else idx.normalize()
        syms = [s for j, s in enumerate(bars.symbols) if member[:, j].any()]
        if not syms:
            return
        start, end = idx[0].date(), idx[-1].date()
        col = {s: j for j, s in enumerate(bars.symbols)}
        if params.earnings_days > 0:
            earn = ctx.data.earnings(syms, start, end + dt.timedelta(days=params.earnings_days))
            if earn is not None and len(earn):
                dates = pd.to_datetime(earn["date"], utc=True).dt.tz_convert(None).dt.normalize()
                for sym, day in zip(earn["symbol"], dates, strict=True):
                    j = col.get(sym)
                    if j is None or pd.isna(day):
                        continue
                    # Earnings dates are announced weeks ahead, so knowing them at t is fair.
                    lo = days.searchsorted(day - pd.Timedelta(days=params.earnings_days))
                    hi = days.searchsorted(day, side="right")
                    gaps = (day - days[lo:hi]).days
                    for t, n in zip(range(lo, hi), gaps.tolist(), strict=True):
                        blocked[t, j] = True
                        reasons.setdefault(
                            (t, j), f"earnings in {n} day{'s' if n != 1 else ''}: blocked"
                        )
        news = ctx.data.news(syms, start - dt.timedelta(days=params.news_days), end)
        if news is not None and len(news):
            df = news[["date", "symbol", "sentiment", "title"]].copy()
            df["day"] = pd.to_datetime(df["date"], utc=True).dt.tz_convert(None).dt.normalize()
            df = df[np.isfinite(pd.to_numeric(df["sentiment"], errors="coerce"))]
            for sym, g in df.groupby("symbol"):
                j = col.get(sym)
                if j is None:
                    continue
                daily = g.groupby("day")["sentiment"].mean()
                # Mean over the last news_days calendar days up to and including each bar.
                # Every calendar day up to the last bar (not just up to the last article), so a
                # bar after the newest article still sees the articles inside its window.
                span = pd.date_range(min(daily.index.min(), days[0]), days[-1], freq="D")
                cal = daily.reindex(span)
                roll = cal.rolling(params.news_days, min_periods=1).mean()
                at = roll.reindex(days)
                bad = np.flatnonzero((at < params.news_block).to_numpy())
                titles = g[g["title"].astype(str).str.len() > 0].groupby("day")["title"].last()
                # The latest title published within the news window, for each bar.
                if len(titles):
                    recent = titles.reindex(span).ffill(limit=params.news_days - 1).reindex(days)
                    recent = recent.to_numpy(dtype=object)
                else:
                    recent = np.full(len(days), None, dtype=object)
                values = at.to_numpy()
                for t in bad:
                    blocked[t, j] = True
                    msg = f"negative news ({values[t]:+.2f} over {params.news_days}d): blocked"
                    title = recent[t]
                    ok = isinstance(title, str) and title
                    reasons.setdefault((t, j), f"{msg}: {title}" if ok else msg)

    # ------------------------------------------------------------------ explain
    def explain(
        self, ctx: BucketContext, bars: Bars, output: BucketOutput, symbol: str, t: int
    ) -> list[str]:
        j = bars.column(symbol)
        t = t % bars.shape[0]
        x = output.extras
        c = bars.close[t, j]
        tags: list[str] = []
        trend = x["sma_trend"][t, j]
        if math.isfinite(trend):
            tags.append("trend up 200d" if c > trend else "trend down 200d")
        fast = x["sma_fast"][t, j]
        if math.isfinite(fast) and math.isfinite(trend) and fast > trend:
            tags.append("50d above 200d")
        rank = x["momentum_rank"][t, j]
        if math.isfinite(rank):
            n = int(np.isfinite(x["momentum_rank"][t]).sum())
            tags.append(f"momentum rank {int(rank)}/{n}")
        r2 = x["r2"][t, j]
        if math.isfinite(r2):
            tags.append(f"trend quality R² {r2:.2f}")
        rsi = x["rsi"][t, j]
        if math.isfinite(rsi) and rsi < 40:
            tags.append(f"pullback: RSI(3) {rsi:.0f}")
        if output.regime is not None:
            tags.append(f"market {self.regime_label(output, t)}")
        if output.exits[t, j]:
            tags.append("exit: trend break or risk-off")
        reason = output.block_reasons.get((t, j))
        if reason:
            tags.append(reason)
        elif ctx is not None and ctx.data is not None:
            day = bars.index[t].date()
            news = ctx.data.news([symbol], day - dt.timedelta(days=3), day)
            if news is not None and len(news):
                titled = news[news["title"].astype(str).str.len() > 0]
                if len(titled):
                    row = titled.iloc[-1]
                    tags.append(f"news: {row['title']} ({float(row['sentiment']):+.2f})")
        return tags


def _params_of(ctx: BucketContext) -> Params:
    settings: Any = ctx.settings
    values = getattr(settings, "params", None) or {}
    if isinstance(values, Params):
        return values
    from tsys.buckets import params_from_dict

    return params_from_dict(Params, dict(values))
