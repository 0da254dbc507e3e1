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
from typing import TYPE_CHECKING

import attrs
import numpy as np
import pandas as pd

from tsys.api import AssetClass, Bucket, BucketContext, BucketOutput, NewsItem, PositionRules, param
from tsys.api import indicators as ind

if TYPE_CHECKING:
    from tsys.api import Bars

from tsys_bucket_sp500 import __version__

BENCHMARK = "SPY"
SECTOR_ETFS = ("XLK", "XLF", "XLE", "XLV", "XLY", "XLP", "XLI", "XLB", "XLU", "XLRE", "XLC")
#: Funds that are never stock picks in "members" mode.
FUNDS = frozenset(
    {BENCHMARK, *SECTOR_ETFS, "QQQ", "IWM", "EFA", "GLD", "TLT", "VNQ", "DIA", "AGG", "IEF"}
)


#: Days of news ``explain`` quotes and ``news`` links.
NEWS_LINK_DAYS = 3
#: Candidates whose news and earnings a daily run checks (see Sp500Bucket._daily_scope).
DAILY_EVENT_CHECKS = 30


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
    def universe(self, ctx: BucketContext[Params]) -> list[str]:
        params = ctx.params
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
        """Symbols a backtest loads: the ETFs in "etf" mode, every equity (None) otherwise."""
        return [BENCHMARK, *SECTOR_ETFS] if ctx.params.mode == "etf" else None

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
            with np.errstate(invalid="ignore"):
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
                self._earnings_block(earn, day_ns, col, params, blocked, reasons)
        news = ctx.data.news(syms, start - dt.timedelta(days=params.news_days), end)
        if news is None:
            ctx.not_checked("sp500: news blocker", "no data source provides news")
            unchecked["news"][:] = member
            return
        if len(news):
            self._news_block(news, day_ns, list(bars.symbols), params, blocked, reasons)
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

    @staticmethod
    def _earnings_block(
        earn: pd.DataFrame,
        day_ns: np.ndarray,
        col: dict[str, int],
        params: Params,
        blocked: np.ndarray,
        reasons: dict[tuple[int, int], str],
    ) -> None:
        """Block the ``earnings_days`` calendar days before each report, up to the report day."""
        dates = pd.to_datetime(earn["date"], utc=True).dt.tz_convert(None).dt.normalize()
        cols = earn["symbol"].map(col)
        ok = (cols.notna() & dates.notna()).to_numpy()
        if not ok.any():
            return
        jj = cols.to_numpy()[ok].astype(np.int64)
        report = dates.to_numpy(dtype="datetime64[ns]")[ok]
        # Earnings dates are announced weeks ahead, so knowing them at t is fair.
        lo = np.searchsorted(day_ns, report - np.timedelta64(params.earnings_days, "D"))
        hi = np.searchsorted(day_ns, report, side="right")
        length = np.maximum(hi - lo, 0)
        which = np.repeat(np.arange(len(jj)), length)
        offset = np.arange(len(which)) - np.repeat(np.cumsum(length) - length, length)
        t = lo[which] + offset
        j = jj[which]
        blocked[t, j] = True
        gap = ((report[which] - day_ns[t]) // np.timedelta64(1, "D")).astype(np.int64)
        # The first report (in the source's order) covering a cell names the reason.
        _, first = np.unique(t * blocked.shape[1] + j, return_index=True)
        first.sort()
        for tk, jk, n in zip(
            t[first].tolist(), j[first].tolist(), gap[first].tolist(), strict=True
        ):
            reasons.setdefault((tk, jk), _earnings_reason(n))

    @staticmethod
    def _news_block(
        news: pd.DataFrame,
        day_ns: np.ndarray,
        symbols: list[str],
        params: Params,
        blocked: np.ndarray,
        reasons: dict[tuple[int, int], str],
    ) -> None:
        """Block where the mean daily sentiment of the last ``news_days`` days is too low."""
        one = np.timedelta64(1, "D")
        stamp = pd.to_datetime(news["date"], utc=True).dt.tz_convert(None).dt.normalize()
        day = stamp.to_numpy(dtype="datetime64[ns]")
        sent = pd.to_numeric(news["sentiment"], errors="coerce").to_numpy(dtype=np.float64)
        j_all = pd.Index(symbols).get_indexer(news["symbol"])
        keep = np.isfinite(sent) & (j_all >= 0) & ~np.isnat(day) & (day <= day_ns[-1])
        if not keep.any():
            return
        day, sent, j_all = day[keep], sent[keep], j_all[keep]
        titles = news["title"].to_numpy(dtype=object)[keep]
        # Calendar days from the first article (or bar) to the last bar: a bar after the newest
        # article still sees the articles inside its window.
        first = min(day.min(), day_ns[0])
        n_days = int((day_ns[-1] - first) // one) + 1
        pos = ((day - first) // one).astype(np.int64)
        # One group per (symbol, calendar day), ordered by symbol column then day.
        key = j_all.astype(np.int64) * n_days + pos
        dkey, dmean = _by_key(key, sent, "mean")
        used, where = np.unique(dkey // n_days, return_inverse=True)
        cal = np.full((n_days, len(used)), np.nan)
        cal[dkey % n_days, where] = dmean.astype(np.float64)
        # Mean over the last news_days calendar days up to and including each bar.
        roll = ind.sma(cal, params.news_days, min_periods=1)
        bar_pos = ((day_ns - first) // one).astype(np.int64)
        at = roll[bar_pos]
        with np.errstate(invalid="ignore"):
            bad_t, bad_k = np.nonzero(at < params.news_block)
        if not len(bad_t):
            return
        bad_j = used[bad_k]
        # A cell an earlier blocker (earnings) holds keeps that blocker's reason.
        fresh = ~blocked[bad_t, bad_j]
        blocked[bad_t, bad_j] = True
        bad_t, bad_k, bad_j = bad_t[fresh], bad_k[fresh], bad_j[fresh]
        # The headline behind the block: the most negative titled article inside the window
        # (ties: the later one), so the reason names the news that did the damage.
        if pd.api.types.infer_dtype(titles, skipna=False) == "string":
            titled = titles != ""
        else:
            titled = np.array([isinstance(x, str) and x != "" for x in titles], dtype=bool)
        rows = np.flatnonzero(titled)
        # Per (symbol, day) key, its most negative titled article: rows ordered by key, then
        # sentiment descending, then source order, so the last row of a key is the one.
        by_key = np.argsort(key[rows], kind="stable")
        k_sorted = key[rows][by_key]
        if bool(np.all(k_sorted[1:] != k_sorted[:-1])):
            best = rows[by_key]  # at most one titled article per key (the usual case)
        else:
            order = np.lexsort((rows, -sent[rows], key[rows]))
            k_order = key[rows][order]
            best = rows[order][np.r_[k_order[1:] != k_order[:-1], True]]
        # Calendar day x symbol column -> that article's row (-1: none).
        pick = np.full((n_days, len(used)), -1, dtype=np.int64)
        pick[key[best] % n_days, np.searchsorted(used, key[best] // n_days)] = best
        head = np.full(len(bad_t), -1, dtype=np.int64)
        worst = np.full(len(bad_t), np.inf)
        at_day = bar_pos[bad_t]
        for back in range(params.news_days):  # the calendar days of the window, newest first
            day_k = np.maximum(at_day - back, 0)
            row = np.where(at_day - back >= 0, pick[day_k, bad_k], -1)
            s_row = np.where(row >= 0, sent[row], np.inf)
            better = s_row < worst
            worst[better] = s_row[better]
            head[better] = row[better]
        values = at[bad_t, bad_k]
        uniq, inv = np.unique(values, return_inverse=True)
        shown = np.array(
            [f"negative news ({v:+.2f} over {params.news_days}d): " for v in uniq.tolist()],
            dtype=object,
        )[inv]
        msgs = shown + np.where(head >= 0, titles[np.maximum(head, 0)], "blocked")
        cells = zip(bad_t.tolist(), bad_j.tolist(), strict=True)
        reasons.update(zip(cells, msgs.tolist(), strict=True))

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


def _earnings_reason(days: int) -> str:
    """ "earnings today: blocked", "earnings in 1 day: blocked", "earnings in 3 days: blocked"."""
    if days == 0:
        return "earnings today: blocked"
    return f"earnings in {days} day{'s' if days != 1 else ''}: blocked"


def _by_key(key: np.ndarray, values: np.ndarray, how: str) -> tuple[np.ndarray, np.ndarray]:
    """The distinct integer keys (ascending) and ``values`` reduced per key by "mean" or "last".

    Keys are usually unique (one article per symbol and day): then each group is its single
    value, exactly what the group-by returns, without the cost of grouping.
    """
    order = np.argsort(key, kind="stable")
    ordered = key[order]
    if not len(ordered) or bool(np.all(ordered[1:] != ordered[:-1])):
        return ordered, values[order]
    grouped = pd.Series(values, dtype=values.dtype).groupby(key)
    out = grouped.mean() if how == "mean" else grouped.last()
    return out.index.to_numpy(), out.to_numpy(dtype=values.dtype)
