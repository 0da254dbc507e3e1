"""Bucket B: top market-cap crypto breakouts with a BTC regime filter and chandelier stops.

Universe on each date: the ``top_n`` coins by market cap as known on that date (caps carried
forward, never backward), stablecoins and wrapped tokens excluded. Without market caps the
coins are ranked by 30-day average dollar volume, with a warning.

Entry: close at a new ``breakout_window``-day high (above the highest high of the previous
bars), close above its ``trend_window`` average, and BTC above its ``regime_window`` average.
Score: the ``breakout_window``-day return divided by its daily volatility (risk-adjusted
momentum). Exits: close below the lowest low of the previous ``exit_window`` bars, leaving the
universe, or the BTC regime turning off. Stop: a chandelier stop (highest high of
``chandelier_window`` bars minus ``chandelier_atr`` x ATR) that only ratchets up. Time stop:
``time_stop_bars`` bars (calendar days: crypto trades every day, UTC bars). Sizing: volatility
targeting at ``target_vol`` a year.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import attrs
import numpy as np
import pandas as pd

from tsys.api import (
    MARKET_CAP_MAX_AGE,
    AssetClass,
    Bucket,
    BucketContext,
    BucketOutput,
    PositionRules,
    carry_forward,
    param,
)
from tsys.api import indicators as ind

if TYPE_CHECKING:
    from tsys.api import Bars

from tsys_bucket_crypto import __version__

BENCHMARK = "BTC-USD"
#: Stablecoins and wrapped/staked copies, used on top of what the data source excludes.
FALLBACK_EXCLUDED = frozenset(
    {
        "USDT", "USDC", "DAI", "BUSD", "TUSD", "USDP", "PAX", "GUSD", "UST", "USTC", "FDUSD",
        "PYUSD", "USDE", "USDD", "FRAX", "LUSD", "EURS", "WBTC", "WETH", "STETH", "WSTETH",
        "WBETH", "RETH", "CBETH", "WTRX", "BTCB", "HBTC", "RENBTC",
    }
)  # fmt: skip


def base_symbol(symbol: str) -> str:
    """ "BTC-USD" -> "BTC"; "BTC/USD" -> "BTC"; "btc" -> "BTC"."""
    s = symbol.upper()
    for sep in ("-", "/"):
        if sep in s:
            return s.split(sep)[0]
    return s


@attrs.frozen
class Params:
    top_n: int = param(10, low=3, high=25, help="coins in the universe, by market cap")
    breakout_window: int = param(20, low=10, high=60, help="new N-day high to enter")
    trend_window: int = param(50, low=20, high=150, help="close must be above this average")
    regime_window: int = param(100, low=50, high=200, help="BTC above this average: risk-on")
    regime_exit: bool = param(True, choices=(False, True), help="sell everything when BTC turns")
    exit_window: int = param(10, low=5, high=40, help="exit below the lowest low of N bars")
    atr_window: int = param(14, low=5, high=30, help="ATR window")
    chandelier_window: int = param(22, low=10, high=60, help="highest high for the chandelier")
    chandelier_atr: float = param(3.0, low=1.5, high=6.0, help="chandelier distance in ATRs")
    time_stop_bars: int = param(60, low=10, high=180, help="close after this many days")
    target_vol: float = param(0.6, low=0.2, high=1.5, help="annualised volatility target")
    vol_window: int = param(30, low=10, high=90, help="volatility window for the score")


class CryptoBucket(Bucket):
    """Bucket B: aggressive, volatility-aware top-cap crypto trend/breakout."""

    name = "crypto"
    asset_class = AssetClass.CRYPTO
    version = __version__
    Params = Params
    description = "Top market-cap crypto breakouts, BTC regime, chandelier stops"
    benchmark = BENCHMARK
    default_sizing = "inverse_vol"
    warmup_bars = 100

    def position_rules(self, params: Params) -> PositionRules:
        return PositionRules(
            stop_kind="atr_trailing",
            atr_multiple=params.chandelier_atr,
            time_stop_bars=params.time_stop_bars,
            target_volatility=params.target_vol,
        )

    def excluded(self, ctx: BucketContext | None) -> set[str]:
        """Base symbols never in the universe: the source's list plus the built-in one."""
        out = set(FALLBACK_EXCLUDED)
        if ctx is not None and ctx.data is not None:
            extra = ctx.data.excluded_coins()
            if extra:
                out |= {base_symbol(s) for s in extra}
        return out

    # ------------------------------------------------------------------ universe
    def universe(self, ctx: BucketContext[Params]) -> list[str]:
        params = ctx.params
        excluded = self.excluded(ctx)
        caps = ctx.data.market_caps(None, ctx.as_of)
        last = pd.Series(dtype=float)
        if caps is not None and len(caps):
            day = pd.DatetimeIndex([pd.Timestamp(ctx.as_of, tz="UTC")])
            fresh, _ = carry_forward(_utc(caps), day, MARKET_CAP_MAX_AGE)
            last = fresh.iloc[-1].dropna()
            if last.empty:
                newest = _utc(caps).index.max().date()
                ctx.warn(
                    f"crypto: the newest market caps ({newest}) are more than "
                    f"{MARKET_CAP_MAX_AGE.days} days older than {ctx.as_of}; not used"
                )
        if len(last):
            last = last[[base_symbol(s) not in excluded for s in last.index]]
            top = last.sort_values(ascending=False).index[: params.top_n]
            syms = [s if "-" in s else f"{base_symbol(s)}-USD" for s in top]
        else:
            ctx.warn("crypto: no current market caps; the universe is every coin the source has")
            syms = [
                s for s in ctx.data.symbols(AssetClass.CRYPTO) if base_symbol(s) not in excluded
            ]
        return sorted({*syms, BENCHMARK})

    def _membership(self, ctx: BucketContext | None, bars: Bars, params: Params) -> np.ndarray:
        T, N = bars.shape
        excluded = self.excluded(ctx)
        ok = np.array(
            [
                a is AssetClass.CRYPTO and base_symbol(s) not in excluded
                for s, a in zip(bars.symbols, bars.asset_classes, strict=True)
            ]
        )
        caps = None
        if ctx is not None and ctx.data is not None and T:
            caps = ctx.data.market_caps(None, bars.index[-1].date())
        # 30-day average dollar volume (close x coins, or the quote volume itself).
        by_volume = ind.dollar_volume(bars.close, bars.base_volume(), 30)
        values = by_volume
        if caps is not None and len(caps):
            frame = _utc(caps)
            frame.columns = [base_symbol(str(c)) for c in frame.columns]
            frame = frame.T.groupby(level=0).max().T
            # Carry the last known cap forward (point in time, never backward), for a stated
            # age only: a cap from months ago does not rank today's coins.
            aligned, _ = carry_forward(frame, bars.index, MARKET_CAP_MAX_AGE)
            cols = [base_symbol(s) for s in bars.symbols]
            values = np.full((T, N), np.nan)
            for j, b in enumerate(cols):
                if b in aligned.columns:
                    values[:, j] = aligned[b].to_numpy(dtype=np.float64)
            known = np.isfinite(values).any(axis=1)
            # Rows without a fresh cap rank by dollar volume, and the run says so.
            values = np.where(known[:, None], values, by_volume)
            if ctx is not None and not known.all():
                self._warn_stale_caps(ctx, bars, known, frame)
        elif ctx is not None:
            ctx.warn(
                "crypto: no market caps from any data source; ranking coins by 30-day "
                "average dollar volume instead"
            )
        has_bar = np.isfinite(bars.close)
        values = np.where(ok[None, :] & has_bar, values, np.nan)
        pos = ind.cross_position(values)
        return np.isfinite(pos) & (pos <= params.top_n)

    @staticmethod
    def _warn_stale_caps(
        ctx: BucketContext, bars: Bars, known: np.ndarray, frame: pd.DataFrame
    ) -> None:
        """Say on which dates the ranking used dollar volume for want of a fresh cap."""
        if not known.any():
            ctx.warn(
                f"crypto: no market cap within {MARKET_CAP_MAX_AGE.days} days of any bar "
                f"(caps {frame.index.min().date()}..{frame.index.max().date()}); ranking coins "
                "by 30-day average dollar volume instead"
            )
            return
        gaps = np.flatnonzero(~known)
        first, last = bars.index[gaps[0]].date(), bars.index[gaps[-1]].date()
        ctx.warn(
            f"crypto: market caps older than {MARKET_CAP_MAX_AGE.days} days on {len(gaps)} "
            f"day(s) between {first} and {last} (newest cap {frame.index.max().date()}); "
            "coins ranked by 30-day average dollar volume on those days"
        )

    # ------------------------------------------------------------------ compute
    def compute(self, ctx: BucketContext, bars: Bars, params: Params) -> BucketOutput:
        T, N = bars.shape
        close, high, low = bars.close, bars.high, bars.low
        member = self._membership(ctx, bars, params)
        prior_high = ind.shift(ind.rolling_max(high, params.breakout_window), 1)
        prior_low = ind.shift(ind.rolling_min(low, params.exit_window), 1)
        trend = ind.sma(close, params.trend_window)
        atr = ind.atr(high, low, close, params.atr_window)
        chand = ind.rolling_max(high, params.chandelier_window) - params.chandelier_atr * atr
        vol = ind.volatility(close, params.vol_window)
        base = ind.shift(close, params.breakout_window)
        with np.errstate(divide="ignore", invalid="ignore"):
            mom = np.where(base > 0, close / base - 1.0, np.nan)
            score_all = mom / (vol * math.sqrt(params.breakout_window))
        regime = self._regime(ctx, bars, params)
        with np.errstate(invalid="ignore"):
            breakout = close > prior_high
            uptrend = close > trend
            eligible = member & uptrend & np.isfinite(score_all) & np.isfinite(atr)
        score = np.where(eligible, score_all, np.nan)
        risk_on = (regime > 0)[:, None]
        entries = eligible & breakout & risk_on
        with np.errstate(invalid="ignore"):
            exits = (close < prior_low) | (~member & np.isfinite(close))
        if params.regime_exit:
            exits |= ~risk_on
        stop = np.where(chand > 0, chand, np.nan)
        with np.errstate(invalid="ignore"):
            stop = np.where(stop < close, stop, np.nan)
        return BucketOutput(
            score=np.ascontiguousarray(score),
            entries=np.ascontiguousarray(entries),
            exits=np.ascontiguousarray(exits),
            stop=np.ascontiguousarray(stop),
            target=np.full((T, N), np.nan),
            regime=regime,
            blocked=np.zeros((T, N), dtype=bool),
            extras={
                "prior_high": prior_high,
                "prior_low": prior_low,
                "trend": trend,
                "atr": atr,
                "vol": vol,
                "momentum": mom,
                "member": member.astype(np.float64),
                "rank_value": np.where(member, score_all, np.nan),
            },
        )

    def _regime(self, ctx: BucketContext | None, bars: Bars, params: Params) -> np.ndarray:
        T = bars.shape[0]
        if BENCHMARK not in bars.symbols:
            if ctx is not None:
                ctx.warn("crypto: BTC-USD is not in the panel; no regime filter (always risk-on)")
            return np.ones(T)
        btc = bars.close[:, [bars.column(BENCHMARK)]]
        avg = ind.sma(btc, params.regime_window)[:, 0]
        with np.errstate(invalid="ignore"):
            on = btc[:, 0] > avg
        return np.where(np.isfinite(avg) & on, 1.0, 0.0)

    # ------------------------------------------------------------------ explain
    def explain(
        self, ctx: BucketContext, bars: Bars, output: BucketOutput, symbol: str, t: int
    ) -> list[str]:
        j = bars.column(symbol)
        t = t % bars.shape[0]
        x = output.extras
        c = bars.close[t, j]
        tags: list[str] = []
        if x["member"][t, j] > 0:
            tags.append(f"top {int(x['member'][t].sum())} by market cap")
        ph = x["prior_high"][t, j]
        if math.isfinite(ph) and c > ph:
            tags.append(f"breakout above {ph:,.4g} (new high)")
        tr = x["trend"][t, j]
        if math.isfinite(tr):
            tags.append("above trend average" if c > tr else "below trend average")
        vol = x["vol"][t, j]
        if math.isfinite(vol):
            tags.append(f"volatility {vol * math.sqrt(AssetClass.CRYPTO.periods_per_year):.0%}/yr")
        mom = x["momentum"][t, j]
        if math.isfinite(mom):
            tags.append(f"momentum {mom:+.0%}")
        if output.regime is not None:
            tags.append("BTC regime on" if output.regime[t] > 0 else "BTC regime off")
        st = output.stop[t, j]
        if math.isfinite(st):
            tags.append(f"chandelier stop {st:,.4g}")
        if output.entries[t, j] and math.isfinite(ph):
            tags.append(f"entry: breakout above {ph:,.4g} in an uptrend")
        if output.exits[t, j]:
            low = x["prior_low"][t, j] if "prior_low" in x else math.nan
            if math.isfinite(low) and c < low:
                tags.append(f"exit: close {c:,.4g} below the prior low {low:,.4g}")
            elif x["member"][t, j] <= 0:
                tags.append("exit: left the top market-cap universe")
            elif output.regime is not None and output.regime[t] <= 0:
                tags.append("exit: BTC regime off")
            else:
                tags.append("exit: exit signal")
        return tags


def _utc(caps: pd.DataFrame) -> pd.DataFrame:
    frame = caps.copy()
    frame.index = pd.DatetimeIndex(frame.index)
    if frame.index.tz is None:
        frame.index = frame.index.tz_localize("UTC")
    return frame.sort_index()
