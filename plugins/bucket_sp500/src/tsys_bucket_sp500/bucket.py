"""Bucket A, the safe equity bucket.

Default mode "trend": the SPY/TLT/GLD trend book of :mod:`tsys_bucket_sp500.trend_book` (each
slot gated on its own monthly trend, volatility-capped, the book scaled to a volatility target).
The rest of this docstring describes mode "members": S&P 500 trend and momentum stock picks
with a market regime filter and event-risk blockers.

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
import warnings
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np
import pandas as pd

from tsys.api import (
    AssetClass,
    Bucket,
    BucketContext,
    BucketOutput,
    Mandate,
    NewsItem,
    PositionRules,
    param,
)
from tsys.api import indicators as ind

if TYPE_CHECKING:
    from tsys.api import Bars

from tsys_bucket_sp500 import __version__
from tsys_bucket_sp500.events import block_earnings, block_news
from tsys_bucket_sp500.trend_book import BOOK, compute_trend_book, explain_trend_book

BENCHMARK = "SPY"
SECTOR_ETFS = ("XLK", "XLF", "XLE", "XLV", "XLY", "XLP", "XLI", "XLB", "XLU", "XLRE", "XLC")
#: Funds that are never stock picks in "members" mode.
FUNDS = frozenset(
    {BENCHMARK, *SECTOR_ETFS, "QQQ", "IWM", "EFA", "GLD", "TLT", "VNQ", "DIA", "AGG", "IEF"}
)


#: The trend book's own parameters (see tsys_bucket_sp500.trend_book).
TREND_PARAMS = frozenset({"gate_months", "slot_vol", "book_vol"})
#: What optimisation searches in the trend book (the gate is fixed, see ``search_space``).
TREND_SEARCHED = frozenset({"slot_vol", "book_vol"})
#: Trend book: a held slot is re-sized monthly when its size moved by this share or more.
RESIZE_BAND = 0.2

#: Days of news ``explain`` quotes and ``news`` links.
NEWS_LINK_DAYS = 3
#: Candidates whose news and earnings a daily run checks (see Sp500Bucket._daily_scope).
DAILY_EVENT_CHECKS = 30


@attrs.frozen
class Params:
    mode: str = param(
        "trend",
        choices=("trend", "members", "etf"),
        help="trend: SPY/TLT/GLD trend book; members: point-in-time S&P 500 stocks; "
        "etf: SPY and the sector ETFs",
    )
    gate_months: int = param(10, low=6, high=12, help="trend: monthly gate average (months)")
    slot_vol: float = param(0.15, low=0.08, high=0.3, help="trend: volatility cap of a slot")
    book_vol: float = param(0.1, low=0.05, high=0.2, help="trend: volatility target of the book")
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
    description = "SPY/TLT/GLD trend book, each slot trend-gated and volatility-capped"
    benchmark = BENCHMARK
    default_sizing = "inverse_vol"
    warmup_bars = 273
    #: A safe equity bucket stays invested: no optimisation trial may win by sitting in cash
    #: (mean exposure under 55%) or trail SPY by more than 5 CAGR points a year.
    mandate = Mandate(min_exposure=0.55, max_cagr_lag=0.05)

    def position_rules(self, params: Params) -> PositionRules:
        if params.mode == "trend":  # one slot per asset, volatility-capped, re-sized monthly
            return PositionRules(
                atr_multiple=params.atr_stop,
                target_volatility=params.slot_vol,
                max_positions=len(BOOK),
                resize="monthly",
                resize_band=RESIZE_BAND,
            )
        return PositionRules(
            stop_kind="fixed",
            atr_multiple=params.atr_stop,
            time_stop_bars=params.time_stop_bars,
        )

    # ------------------------------------------------------------------ universe
    def universe(self, ctx: BucketContext[Params]) -> list[str]:
        params = ctx.params
        if params.mode == "trend":
            return list(BOOK)
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

    def history_symbols(self, ctx: BucketContext[Params]) -> list[str] | None:
        """Symbols a backtest loads: the book ("trend"), the ETFs ("etf"), else every equity."""
        if ctx.params.mode == "trend":
            return list(BOOK)
        return [BENCHMARK, *SECTOR_ETFS] if ctx.params.mode == "etf" else None

    def search_space(self, params: Params | None = None) -> dict[str, dict[str, Any]]:
        """What optimisation searches from ``params`` (default: the shipped defaults): only
        what their mode reads, so trials are not spent, nor the overfitting odds raised, on
        parameters the mode ignores. The trend book searches its risk budget (``slot_vol``,
        ``book_vol``); its gate stays at ``gate_months`` as given (Faber's 10 months by
        default: a published rule, and a plateau over 6-12 months here, so searching it only
        adds noise to the selection). Other modes search the stock-picking parameters."""
        space = super().search_space(params)
        mode = self.params_of(params).mode
        if mode == "trend":
            return {k: v for k, v in space.items() if k in TREND_SEARCHED}
        return {k: v for k, v in space.items() if k not in TREND_PARAMS}

    def _membership(self, ctx: BucketContext | None, bars: Bars, params: Params) -> np.ndarray:
        T, N = bars.shape
        syms = bars.symbols
        equity = np.array([a is AssetClass.EQUITY for a in bars.asset_classes])
        if params.mode in ("etf", "trend"):
            funds = BOOK if params.mode == "trend" else (BENCHMARK, *SECTOR_ETFS)
            cols = np.array([s in funds for s in syms]) & equity
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
        if params.mode == "trend":
            return compute_trend_book(bars, params, self._membership(ctx, bars, params))
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
        mom_rank, mom_position = ind.cross_ranks(mom_ranked)
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
        # Where a blocker could not run (no source, no data for a symbol or a period).
        unchecked = {"earnings": np.zeros((T, N), bool), "news": np.zeros((T, N), bool)}
        if ctx is not None and ctx.data is not None and T:
            scope = member
            if ctx.latest_only:
                scope, waiting = self._daily_scope(ctx, score, member)
                entries[-1] &= ~waiting
            self._event_risk(
                ctx, bars, params, scope, blocked, reasons, unchecked, latest_only=ctx.latest_only
            )
        entries &= ~blocked
        return BucketOutput(
            score=score,
            entries=entries,
            exits=exits,
            stop=stop,
            regime=regime,
            blocked=blocked,
            block_reasons=reasons,
            extras={
                "sma_trend": sma_trend,
                "sma_fast": sma_fast,
                "sma_exit": sma_exit,
                "momentum": momentum,
                "momentum_rank": mom_position,
                "rsi": rsi,
                "r2": r2,
                "atr": atr,
                "member": member.astype(np.float64),
                # 1.0 where that blocker could not run (explain says "not checked").
                "earnings_unchecked": unchecked["earnings"].astype(np.float64),
                "news_unchecked": unchecked["news"].astype(np.float64),
            },
        )

    def _regime(self, ctx: BucketContext | None, bars: Bars, params: Params) -> np.ndarray:
        T = bars.shape[0]
        if BENCHMARK in bars.symbols:
            spy = bars.close[:, bars.column(BENCHMARK)][:, None]
        else:
            if ctx is not None:
                ctx.warn("sp500: SPY is not in the panel; the regime uses the panel's average")
            with np.errstate(invalid="ignore"), warnings.catch_warnings():
                # a day with no usable price anywhere is NaN, not a "Mean of empty slice"
                warnings.simplefilter("ignore", RuntimeWarning)
                rets = np.nanmean(ind.simple_returns(bars.close), axis=1)
            spy = (
                np.nancumprod(np.r_[1.0, np.nan_to_num(rets[1:])])[:, None]
                if T
                else np.ones((0, 1))
            )
        avg = ind.sma(spy, params.regime_window)[:, 0]
        vol = ind.volatility(spy, 20)[:, 0] * math.sqrt(AssetClass.EQUITY.periods_per_year)
        s = spy[:, 0]
        with np.errstate(invalid="ignore"):
            above = s > avg
            calm = vol < params.vol_max
        out = np.where(above & calm, 1.0, np.where(above, params.reduced_share, 0.0))
        return np.where(np.isfinite(avg) & np.isfinite(vol), out, 0.0)

    @staticmethod
    def _daily_scope(
        ctx: BucketContext, score: np.ndarray, member: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """The daily run reads only the last row, and news APIs are per symbol and rationed
        (a free Alpha Vantage key allows 25 calls a day): check event risk for the best
        ``DAILY_EVENT_CHECKS`` (at least 3 x max positions) of today's candidates only.
        Candidates below them are not entered today rather than entered unchecked."""
        last = score[-1]
        cand = np.flatnonzero(np.isfinite(last))
        n_check = max(DAILY_EVENT_CHECKS, 3 * ctx.settings.max_positions)
        order = cand[np.argsort(-last[cand], kind="stable")]
        scope = np.zeros_like(member)
        scope[-1, order[:n_check]] = True
        unchecked = np.zeros(score.shape[1], dtype=bool)
        unchecked[order[n_check:]] = True
        return scope, unchecked

    def _event_risk(
        self,
        ctx: BucketContext,
        bars: Bars,
        params: Params,
        member: np.ndarray,
        blocked: np.ndarray,
        reasons: dict[tuple[int, int], str],
        unchecked: dict[str, np.ndarray],
        *,
        latest_only: bool = False,
    ) -> None:
        idx = bars.index
        days = idx.tz_convert(None).normalize() if idx.tz is not None else idx.normalize()
        syms = [s for j, s in enumerate(bars.symbols) if member[:, j].any()]
        if not syms:
            return
        start, end = idx[0].date(), idx[-1].date()
        if latest_only:
            start = end
        col = {s: j for j, s in enumerate(bars.symbols)}
        day_ns = np.asarray(days, dtype="datetime64[ns]")
        if params.earnings_days > 0:
            earn = ctx.data.earnings(syms, start, end + dt.timedelta(days=params.earnings_days))
            if earn is None:
                ctx.not_checked("sp500: earnings blocker", "no data source provides earnings dates")
                unchecked["earnings"][:] = member
            elif len(earn):
                block_earnings(earn, day_ns, col, params, blocked, reasons)
        news = ctx.data.news(syms, start - dt.timedelta(days=params.news_days), end)
        if news is None:
            ctx.not_checked("sp500: news blocker", "no data source provides news")
            unchecked["news"][:] = member
            return
        if len(news):
            block_news(news, day_ns, list(bars.symbols), params, blocked, reasons)
        self._news_coverage(ctx, syms, col, days, member, unchecked["news"])

    @staticmethod
    def _news_coverage(
        ctx: BucketContext,
        syms: list[str],
        col: dict[str, int],
        days: pd.DatetimeIndex,
        member: np.ndarray,
        out: np.ndarray,
    ) -> None:
        """Mark (and say) where the news blocker could not look: symbols the news source has
        no data for, and days outside the span its data covers."""
        span = ctx.data.news_coverage(syms)
        if span is None:
            return  # the source covers whatever it is asked for (or cannot tell)
        none = [s for s in syms if s not in span]
        for s in none:
            out[:, col[s]] = member[:, col[s]]
        starts, ends = [], []
        for s, (lo, hi) in span.items():
            if s not in col:
                continue
            before, after = days < pd.Timestamp(lo), days > pd.Timestamp(hi)
            out[:, col[s]] = member[:, col[s]] & np.asarray(before | after)
            if (before & member[:, col[s]]).any():
                starts.append(lo)
            if (after & member[:, col[s]]).any():
                ends.append(hi)
        if none:
            shown = ", ".join(none[:8]) + (" ..." if len(none) > 8 else "")
            ctx.not_checked(
                "sp500: news blocker",
                f"no news data for {len(none)} of {len(syms)} symbols: {shown}",
            )
        if starts:
            ctx.not_checked(
                "sp500: news blocker",
                f"news data starts {min(starts).isoformat()}; bars from {days[0].date()}",
            )
        if ends:
            ctx.not_checked(
                "sp500: news blocker",
                f"news data ends {max(ends).isoformat()}; bars run to {days[-1].date()}",
            )

    # ------------------------------------------------------------------ explain
    def explain(
        self, ctx: BucketContext, bars: Bars, output: BucketOutput, symbol: str, t: int
    ) -> list[str]:
        t, j = t % bars.shape[0], bars.column(symbol)
        if "gate_on" in output.extras:
            params = ctx.params if ctx is not None and ctx.params is not None else None
            return explain_trend_book(bars, output, params or self.default_params(), j, t)
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
        if output.entries[t, j] and math.isfinite(rank):
            tags.append(f"entry: uptrend, momentum rank {int(rank)}")
        if output.exits[t, j]:
            tags.append(self._exit_tag(output, t, j, c))
        for check in ("earnings", "news"):
            flags = x.get(f"{check}_unchecked")
            if flags is not None and flags[t, j] > 0:
                tags.append(f"{check}: not checked")
        reason = output.block_reasons.get((t, j))
        if reason:
            tags.append(reason)
        elif ctx is not None and ctx.data is not None:
            day = bars.index[t].date()
            news = ctx.data.news([symbol], day - dt.timedelta(days=NEWS_LINK_DAYS), day)
            if news is not None and len(news):
                titled = news[news["title"].astype(str).str.len() > 0]
                if len(titled):
                    row = titled.iloc[-1]
                    tags.append(f"news: {row['title']} ({float(row['sentiment']):+.2f})")
        return tags

    def _exit_tag(self, output: BucketOutput, t: int, j: int, close: float) -> str:
        """Which exit condition holds: the trend break, leaving the index, or risk-off."""
        x = output.extras
        level = x["sma_exit"][t, j] if "sma_exit" in x else math.nan
        if math.isfinite(level) and close < level:
            return f"exit: trend break, close {close:,.2f} < exit average {level:,.2f}"
        if x["member"][t, j] <= 0:
            return "exit: no longer an index member"
        if output.regime is not None and output.regime[t] <= 0:
            return "exit: market risk-off"
        return "exit: trend break or risk-off"

    def news(
        self, ctx: BucketContext, bars: Bars, output: BucketOutput, symbol: str, t: int
    ) -> list[NewsItem]:
        """The titled articles of the last ``NEWS_LINK_DAYS`` days (the window ``explain``
        quotes), most negative first when the symbol is blocked, else newest first; at most
        three."""
        if ctx is None or ctx.data is None:
            return []
        t = t % bars.shape[0]
        day = bars.index[t].date()
        frame = ctx.data.news([symbol], day - dt.timedelta(days=NEWS_LINK_DAYS), day)
        if frame is None or not len(frame):
            return []
        frame = frame[(frame["symbol"] == symbol) & (frame["title"].astype(str).str.len() > 0)]
        if output.blocked is not None and output.blocked[t, bars.column(symbol)]:
            frame = frame.sort_values("sentiment", kind="stable")
        else:
            frame = frame.iloc[::-1]
        items = []
        for row in frame.head(3).itertuples(index=False):
            try:
                sentiment = float(row.sentiment)
            except (TypeError, ValueError):
                sentiment = math.nan
            items.append(
                NewsItem(
                    title=str(row.title),
                    url=str(row.url) if isinstance(row.url, str) else "",
                    sentiment=sentiment if math.isfinite(sentiment) else None,
                    source=str(row.source) if isinstance(row.source, str) else "",
                )
            )
        return items
