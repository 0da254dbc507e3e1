"""Bucket B: event slots over the top market-cap coins, a BTC regime gate, chandelier stops.

Universe on each date: the ``top_n`` coins by market cap as known on that date (caps carried
forward at most 10 days, never backward), stablecoins and wrapped tokens excluded. Without a
recent market cap the coins are ranked by 30-day average dollar volume (in the unit the source
declares), with a warning naming the days.

Entry ("event"): the coin's 1/6, 1/2 and full ``momentum_window``-day returns are all positive
(14, 40 and 81 days for the shipped 81), its close is above its chandelier stop, and the regime
is on: BTC closes above its ``regime_window``-day average and that average is above its level
``regime_slope`` days earlier. The best-scoring candidates fill free slots (``slots`` at most;
score: the mean of the three returns, each in units of its own volatility); sizing is the
portfolio's inverse-volatility rule within a slot. Exit: a trailing chandelier stop (highest high
of 22 days minus ``chandelier_atr`` x ATR(14)) that only ratchets up, a close under it; while
the regime is off no entries are taken and the stop tightens to 1.5 ATR.
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
from tsys_bucket_crypto import signals as sig

BENCHMARK = "BTC-USD"
ATR_WINDOW = 14
CHANDELIER_WINDOW = 22
#: The chandelier distance while BTC is risk-off: positions are kept on a short leash.
RISK_OFF_ATR = 1.5
VOL_WINDOW = 30


def momentum_windows(slow: int) -> tuple[int, int, int]:
    """The three momentum lookbacks for a slowest one: 1/6, 1/2 and all of it (20, 60, 120)."""
    return (max(2, round(slow / 6)), max(3, round(slow / 2)), slow)


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
    """Defaults: the researched values shipped in ``params.json`` (``tsys research crypto
    --shared-data --write-defaults``; a test holds them equal), so every path that builds
    ``Params()`` trades what was researched. The research started from top_n 10, slots 4,
    momentum_window 120, regime_window 100, regime_slope 20, chandelier_atr 3.5."""

    top_n: int = param(15, low=6, high=15, help="coins in the universe, by market cap")
    slots: int = param(4, low=2, high=6, help="positions at most, one slot of the sleeve each")
    momentum_window: int = param(81, low=60, high=180, help="slowest momentum window (days)")
    regime_window: int = param(58, low=50, high=200, help="BTC above this average: risk-on")
    regime_slope: int = param(13, low=0, high=40, help="and the average above its level N days ago")
    chandelier_atr: float = param(
        4.162224280102538, low=2.0, high=5.0, help="trailing stop distance in ATRs"
    )


class CryptoBucket(Bucket):
    """Bucket B: aggressive top-cap crypto momentum in a few slots, gated by the BTC regime."""

    name = "crypto"
    asset_class = AssetClass.CRYPTO
    version = __version__
    Params = Params
    description = "Top market-cap crypto momentum slots, BTC regime gate, chandelier stops"
    benchmark = BENCHMARK
    default_sizing = "inverse_vol"
    warmup_bars = 120

    def position_rules(self, params: Params) -> PositionRules:
        return PositionRules(
            stop_kind="atr_trailing",
            atr_multiple=params.chandelier_atr,
            max_positions=params.slots,
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
        """Each coin's rank by market cap (1 = largest) on each row; NaN: not ranked."""
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
        return ind.cross_position(values)

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
        rank = self._membership(ctx, bars, params)
        member = np.isfinite(rank) & (rank <= params.top_n)
        windows = momentum_windows(params.momentum_window)
        gate = sig.momentum_gate(close, windows)
        rets = sig.lookback_returns(close, windows)
        atr = ind.atr(high, low, close, ATR_WINDOW)
        vol = ind.volatility(close, VOL_WINDOW)
        regime = self._regime(ctx, bars, params)
        risk_on = regime > 0
        level = sig.chandelier(
            high, atr, CHANDELIER_WINDOW, params.chandelier_atr, RISK_OFF_ATR, risk_on
        )
        stop = level
        with np.errstate(divide="ignore", invalid="ignore"):
            # Risk-adjusted momentum: each window's return in units of its own volatility.
            score_all = np.mean(
                [r / (vol * math.sqrt(n)) for r, n in zip(rets, windows, strict=True)], axis=0
            )
            above_stop = close > stop
        eligible = member & gate & np.isfinite(score_all) & np.isfinite(atr) & above_stop
        score = np.where(eligible, score_all, np.nan)
        entries = eligible & risk_on[:, None]
        # A close under the chandelier (risk-off: the tighter one) exits at that close.
        with np.errstate(invalid="ignore"):
            exits = close <= stop
        with np.errstate(invalid="ignore"):
            stop = np.where(stop < close, stop, np.nan)
        return BucketOutput(
            score=score,
            entries=entries,
            exits=exits,
            stop=stop,
            regime=regime,
            blocked=np.zeros((T, N), dtype=bool),
            extras={
                "atr": atr,
                "vol": vol,
                **{f"momentum_{n}": r for n, r in zip(windows, rets, strict=True)},
                "member": member.astype(np.float64),
                "rank": rank,
                "chandelier": level,
                "rank_value": np.where(member, score_all, np.nan),
            },
        )

    def _regime(self, ctx: BucketContext | None, bars: Bars, params: Params) -> np.ndarray:
        T = bars.shape[0]
        if BENCHMARK not in bars.symbols:
            if ctx is not None:
                ctx.warn("crypto: BTC-USD is not in the panel; no regime filter (always risk-on)")
            return np.ones(T)
        return sig.regime(
            bars.close[:, bars.column(BENCHMARK)], params.regime_window, params.regime_slope
        )

    # ------------------------------------------------------------------ explain
    def explain(
        self, ctx: BucketContext, bars: Bars, output: BucketOutput, symbol: str, t: int
    ) -> list[str]:
        t, j = t % bars.shape[0], bars.column(symbol)
        x = output.extras
        c = bars.close[t, j]
        tags: list[str] = []
        rank = x["rank"][t, j]
        if x["member"][t, j] > 0:
            tags.append(f"top {int(x['member'][t].sum())} by market cap")
            tags.append(f"market-cap rank {int(rank)}")
        moms = sorted(
            ((int(k.removeprefix("momentum_")), a[t, j]) for k, a in x.items()
             if k.startswith("momentum_")),
        )  # fmt: skip
        if moms and all(math.isfinite(m) for _, m in moms):
            tags.append("momentum " + ", ".join(f"{n}d {m:+.0%}" for n, m in moms))
        vol = x["vol"][t, j]
        if math.isfinite(vol):
            tags.append(f"volatility {vol * math.sqrt(AssetClass.CRYPTO.periods_per_year):.0%}/yr")
        on = output.regime is not None and output.regime[t] > 0
        if output.regime is not None:
            tags.append("BTC regime on" if on else "BTC regime off")
        st = output.stop[t, j]
        if math.isfinite(st):
            tags.append(f"chandelier stop {st:,.4g}")
        if output.entries[t, j]:
            tags.append(f"entry: {'/'.join(str(n) for n, _ in moms)}-day momentum all positive")
        if output.exits[t, j]:
            level = x["chandelier"][t, j]
            if math.isfinite(level) and c <= level:
                tags.append(f"exit: close {c:,.4g} under the chandelier stop {level:,.4g}")
            elif output.regime is not None and not on:
                tags.append("exit: BTC regime off")
            else:
                tags.append("exit: left the market-cap universe")
        return tags


def _utc(caps: pd.DataFrame) -> pd.DataFrame:
    frame = caps.copy()
    frame.index = pd.DatetimeIndex(frame.index)
    if frame.index.tz is None:
        frame.index = frame.index.tz_localize("UTC")
    return frame.sort_index()
