"""Bucket D: unusual options flow, followed or faded, long only, held a few sessions.

Two rules, one bucket; ``rule`` picks "follow", "fade" or "both", so the research loop decides
out of sample which survives:

* **follow**: a large call alert (premium at least ``follow_min_premium``; bought at the ask,
  as a sweep, opening, when those are asked for and the flow data says so; at most ``max_dte``
  days to expiry; not an adjusted contract) on a liquid underlying (20-day average dollar volume
  at least ``min_dollar_volume``) is a buy signal for ``signal_sessions`` sessions.
* **fade**: an extreme put/call premium imbalance over ``fade_lookback`` sessions (puts' share of
  the premium, (puts - calls) / (puts + calls), at least ``fade_imbalance``, on at least
  ``fade_min_premium`` of premium) is a contrarian buy signal.

Decisions are taken at the close of the row an alert belongs to and execute at the next open
(:mod:`tsys_bucket_options.flow` says which row that is). Exits: the time stop
(``hold_sessions``), an ATR stop (``atr_stop`` x ATR(14) under the entry close), and, for a
followed name, heavy put flow against it (puts' premium over the same window above the calls').

Score: log10 of the premium behind the signal (plus the imbalance for a fade).
"""

from __future__ import annotations

import datetime as dt
import math
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import attrs
import numpy as np
import pandas as pd

from tsys.api import (
    OPT_IN_SATELLITE,
    AssetClass,
    Bucket,
    BucketContext,
    BucketOutput,
    PositionRules,
    param,
)
from tsys.api import indicators as ind

if TYPE_CHECKING:
    from tsys.api import Bars

from tsys_bucket_options import __version__
from tsys_bucket_options.flow import FlowPanels, alert_rows, build_panels, rolling_sum

BENCHMARK = "SPY"
NEW_YORK = ZoneInfo("America/New_York")
#: Calendar days of alerts a daily run reads for its universe.
UNIVERSE_DAYS = 30
#: Alerts ``explain`` lists at most.
EXPLAIN_ALERTS = 3


@attrs.frozen
class Params:
    rule: str = param(
        "follow",
        choices=("follow", "fade", "both"),
        help="follow: buy after large call buying; fade: buy after extreme put flow; both",
    )
    follow_min_premium: float = param(
        250_000.0, low=50_000.0, high=2_000_000.0, help="follow: smallest call premium (USD)"
    )
    ask_only: bool = param(True, choices=(True, False), help="follow: bought at the ask only")
    sweep_only: bool = param(False, choices=(False, True), help="follow: sweeps only")
    opening_only: bool = param(False, choices=(False, True), help="follow: opening trades only")
    max_dte: int = param(60, low=7, high=365, help="follow: most days to expiry")
    min_dollar_volume: float = param(
        20e6, low=1e6, high=200e6, help="20-day average dollar volume of the underlying"
    )
    signal_sessions: int = param(2, low=1, high=5, help="sessions a signal stays live")
    fade_lookback: int = param(5, low=1, high=20, help="fade: sessions of flow summed")
    fade_imbalance: float = param(
        0.6, low=0.2, high=0.95, help="fade: puts' premium share (puts-calls)/(puts+calls)"
    )
    fade_min_premium: float = param(
        500_000.0, low=100_000.0, high=5_000_000.0, help="fade: premium over the window"
    )
    hold_sessions: int = param(5, low=1, high=20, help="time stop (sessions)")
    atr_window: int = param(14, low=5, high=30, help="ATR window")
    atr_stop: float = param(2.5, low=1.0, high=6.0, help="stop distance in ATRs")


class OptionsFlowBucket(Bucket):
    """Bucket D: follow large call buying, or fade extreme put flow, for a few sessions."""

    name = "options"
    asset_class = AssetClass.EQUITY
    version = __version__
    Params = Params
    description = "unusual options flow: follow large call buying or fade extreme put flow"
    benchmark = BENCHMARK
    default_sizing = "inverse_vol"
    warmup_bars = 30
    #: Opt-in (``[buckets.options] enabled = true`` or ``--buckets options``): it fails its
    #: validation gates on the demo flow and real use needs a recorded alert history. Where
    #: ``[buckets.options]`` is silent: 5% of the account, five positions of equal size.
    default_settings = OPT_IN_SATELLITE

    def position_rules(self, params: Params) -> PositionRules:
        return PositionRules(
            stop_kind="fixed",
            atr_multiple=params.atr_stop,
            time_stop_bars=params.hold_sessions,
        )

    # ------------------------------------------------------------------ universe
    def universe(self, ctx: BucketContext[Params]) -> list[str]:
        """Underlyings with alerts in the last ``UNIVERSE_DAYS`` days (and the benchmark)."""
        start = ctx.as_of - dt.timedelta(days=UNIVERSE_DAYS)
        flow = ctx.data.options_flow(start, ctx.as_of) if ctx.data is not None else None
        if flow is None:
            ctx.not_checked("options: flow", "no data source provides options-flow alerts")
            return [BENCHMARK]
        return sorted({*flow["symbol"].astype(str), BENCHMARK})

    def history_symbols(self, ctx: BucketContext[Params]) -> list[str] | None:
        """A backtest loads every equity: any of them may get an alert."""
        return None

    def _flow(self, ctx: BucketContext | None, bars: Bars, params: Params) -> FlowPanels:
        T, _ = bars.shape
        frame = None
        if ctx is not None and ctx.data is not None and T:
            idx = bars.index
            frame = ctx.data.options_flow(idx[0].date(), idx[-1].date())
            if frame is None:
                ctx.not_checked("options: flow", "no data source provides options-flow alerts")
        panels = build_panels(
            frame,
            bars.index,
            list(bars.symbols),
            min_premium=params.follow_min_premium,
            ask_only=params.ask_only,
            sweep_only=params.sweep_only,
            opening_only=params.opening_only,
            max_dte=params.max_dte,
        )
        if ctx is not None and not ctx.latest_only and T:
            kept = panels.frame[(panels.rows >= 0)] if len(panels.frame) else panels.frame
            if len(kept):
                ts = pd.to_datetime(kept["timestamp"], utc=True)
                ctx.warn(
                    f"options: {len(kept)} alert(s) from {ts.min():%Y-%m-%d} to "
                    f"{ts.max():%Y-%m-%d} behind this computation (bars {bars.index[0]:%Y-%m-%d} "
                    f"to {bars.index[-1]:%Y-%m-%d}); a session without alerts has no signals"
                )
            else:
                ctx.warn("options: no alerts over the bars' span; no signals")
        if ctx is not None and panels.unknown and params.rule in ("follow", "both"):
            ctx.warn(
                "options: the flow data does not say "
                + ", ".join(panels.unknown)
                + "; the follow rule does not filter on it"
            )
        return panels

    # ------------------------------------------------------------------ compute
    def compute(self, ctx: BucketContext, bars: Bars, params: Params) -> BucketOutput:
        T, N = bars.shape
        close, high, low = bars.close, bars.high, bars.low
        flow = self._flow(ctx, bars, params)
        atr = ind.atr(high, low, close, params.atr_window)
        with np.errstate(invalid="ignore"):
            dollar = np.where(
                np.isfinite(close) & np.isfinite(bars.volume), close * bars.volume, 0.0
            )
        adv = ind.sma(dollar, 20)
        equity = np.array([a is AssetClass.EQUITY for a in bars.asset_classes])
        with np.errstate(invalid="ignore"):
            liquid = (adv >= params.min_dollar_volume) & np.isfinite(close) & equity[None, :]
            liquid &= np.isfinite(atr)

        w = params.signal_sessions
        follow_prem = rolling_sum(flow.follow, w)
        calls_f = rolling_sum(flow.calls, params.fade_lookback)
        puts_f = rolling_sum(flow.puts, params.fade_lookback)
        total = calls_f + puts_f
        with np.errstate(invalid="ignore", divide="ignore"):
            imbalance = np.where(total > 0, (puts_f - calls_f) / total, np.nan)
            fresh_fade = (imbalance >= params.fade_imbalance) & (total >= params.fade_min_premium)
        # a fade signal stays live for signal_sessions too
        fade_live = rolling_sum(fresh_fade.astype(float), w) > 0
        follow_live = follow_prem > 0

        score = np.full((T, N), np.nan)
        if params.rule in ("follow", "both"):
            s = np.log10(np.maximum(follow_prem, 1.0))
            score = np.where(follow_live & liquid, s, score)
        if params.rule in ("fade", "both"):
            with np.errstate(invalid="ignore"):
                s = np.log10(np.maximum(total, 1.0)) + np.nan_to_num(imbalance)
            take = fade_live & liquid & ~(np.isfinite(score) & (score >= s))
            score = np.where(take, s, score)
        entries = np.isfinite(score)
        # a followed name under heavy put flow is sold
        with np.errstate(invalid="ignore"):
            against = (rolling_sum(flow.puts, w) > rolling_sum(flow.calls, w)) & (
                rolling_sum(flow.puts, w) >= params.follow_min_premium
            )
        exits = against & ~entries if params.rule == "follow" else np.zeros((T, N), dtype=bool)
        stop = close - params.atr_stop * atr
        stop = np.where(stop > 0, stop, np.nan)
        return BucketOutput(
            score=score,
            entries=entries,
            exits=exits,
            stop=stop,
            extras={
                "follow_premium": follow_prem,
                "call_premium": calls_f,
                "put_premium": puts_f,
                "imbalance": imbalance,
                "fade_signal": fade_live.astype(np.float64),
                "atr": atr,
                "adv": adv,
            },
        )

    # ------------------------------------------------------------------ explain
    def explain(
        self, ctx: BucketContext, bars: Bars, output: BucketOutput, symbol: str, t: int
    ) -> list[str]:
        t, j = t % bars.shape[0], bars.column(symbol)
        x = output.extras
        params = ctx.params if ctx is not None and ctx.params is not None else Params()
        tags: list[str] = []
        follow = x["follow_premium"][t, j]
        imb = x["imbalance"][t, j]
        if output.entries[t, j]:
            if follow > 0 and params.rule in ("follow", "both"):
                tags.append(f"entry: follow call flow, ${follow:,.0f} premium")
            else:
                tags.append(f"entry: fade put flow, puts {_pct((imb + 1) / 2)} of premium")
        if output.exits[t, j]:
            tags.append("exit: put flow against the position")
        if math.isfinite(imb):
            calls, puts = x["call_premium"][t, j], x["put_premium"][t, j]
            tags.append(f"flow {params.fade_lookback}d: calls ${calls:,.0f} / puts ${puts:,.0f}")
        adv = x["adv"][t, j]
        if math.isfinite(adv):
            tags.append(f"avg dollar volume ${adv / 1e6:,.1f}M")
        tags += self._alert_tags(ctx, bars, symbol, t, params)
        tags.append("acts at the next open after the alert's session")
        return tags

    def _alert_tags(
        self, ctx: BucketContext | None, bars: Bars, symbol: str, t: int, params: Params
    ) -> list[str]:
        """The alerts behind row ``t``: premium, side, expiry, strike and time (New York)."""
        if ctx is None or ctx.data is None:
            return []
        idx = bars.index
        lo = max(0, t - max(params.signal_sessions, params.fade_lookback) + 1)
        frame = ctx.data.options_flow(idx[lo].date(), idx[t].date())
        if frame is None or not len(frame):
            return []
        f = frame[frame["symbol"].astype(str) == symbol]
        if not len(f):
            return []
        rows = alert_rows(f["timestamp"], idx[: t + 1])
        f = f[(rows >= lo) & (rows <= t)]
        f = f.sort_values("premium", ascending=False, kind="stable").head(EXPLAIN_ALERTS)
        return [_alert_tag(r) for r in f.to_dict("records")]


def _pct(x: float) -> str:
    return f"{x:.0%}" if math.isfinite(x) else "n/a"


def _alert_tag(r: dict[str, Any]) -> str:
    import pandas as pd

    when = pd.Timestamp(r["timestamp"]).tz_convert(NEW_YORK)
    parts = [f"alert {when:%Y-%m-%d %H:%M} ET {r['option_type']} ${float(r['premium']):,.0f}"]
    side = r.get("side")
    if isinstance(side, str) and side:
        parts.append(f"{side} side")
    if r.get("sweep") is True:
        parts.append("sweep")
    strike, expiry = r.get("strike"), r.get("expiry")
    if strike is not None and strike == strike:
        parts.append(f"strike {float(strike):g}")
    if expiry is not None and expiry == expiry:
        parts.append(f"exp {pd.Timestamp(expiry):%Y-%m-%d}")
    rule = r.get("rule")
    if isinstance(rule, str) and rule:
        parts.append(rule)
    return ", ".join(parts)
