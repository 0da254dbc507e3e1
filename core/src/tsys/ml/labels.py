"""Triple-barrier meta-labels of a bucket's entries, under the simulator's fill rules.

An *event* is an entry the bucket signals at the close of bar ``t`` for symbol ``j`` (its
primary signal: ``entries`` set, a finite score, not blocked, a finite close, regime above 0,
as :func:`tsys.portfolio.plan_positions` requires before it may select it). Its trade is
followed exactly as a backtest would run it (Lopez de Prado, AFML ch. 3, with the bucket's own
barriers):

- **entry** at the open of the first tradable bar after ``t`` (normally ``t + 1``), paying the
  slippage and the fee (``open x (1 + slip)``);
- **lower barrier, inside the bar** (the simulator's stop order): the stop given at entry
  (``output.stop[t, j]``); an open at or below it fills at the open (a gap through the stop),
  otherwise a low at or below it fills at the stop; both pay slippage. This is checked from the
  entry bar on, before anything else, so a bar touching both stop and target is a stop;
- **at each close** ``u`` (the planner's rules, in its order), the position closes at the next
  tradable open when: the low touched the planner's stop (the entry stop, trailed upwards by
  ``output.stop`` for an ``atr_trailing`` bucket), the high reached the target, the bucket's exit
  mask is set, or the time stop ``u - t >= time_stop_bars`` expired (the vertical barrier);
- a bucket without time stop gets ``horizon`` bars (default 63) as its vertical barrier.

The net return pays fees and slippage on both sides (:func:`side_costs`: fee bps plus the
fixed slippage, or the half spread of an impact model; the impact term, which needs the order
size, is left out). The meta-label is 1 when that return is positive. An event whose trade has
not closed by the end of the data has ``exit_bar = -1`` and label ``-1`` (unknown).
"""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np

#: Vertical barrier for a bucket without time stop.
DEFAULT_HORIZON = 63
#: How many bars an entry order waits for a tradable bar before the event is dropped.
ENTRY_WAIT = 5

REASONS = ("stop", "stop_gap", "trailing", "target", "signal", "time")


@attrs.frozen(eq=False)
class Events:
    """Events and their triple-barrier outcomes (arrays of one length, in (t, j) order).

    ``t`` decision bar, ``j`` column, ``entry_bar``/``exit_bar`` the bars the fills happen on
    (``exit_bar`` -1 while open at the end of the data), ``ret`` net return after costs (NaN
    while open), ``label`` 1/0 (-1 unknown), ``reason`` an index into :data:`REASONS` (-1 open).
    """

    t: np.ndarray
    j: np.ndarray
    entry_bar: np.ndarray
    exit_bar: np.ndarray
    ret: np.ndarray
    label: np.ndarray
    reason: np.ndarray

    def __len__(self) -> int:
        return len(self.t)

    def take(self, mask: np.ndarray) -> Events:
        """The events where ``mask`` is true (or at the given positions)."""
        return Events(*(getattr(self, f.name)[mask] for f in attrs.fields(Events)))

    @property
    def known(self) -> np.ndarray:
        """True where the trade closed inside the data (the label is known)."""
        return self.exit_bar >= 0

    def reasons(self) -> list[str]:
        return [REASONS[r] if r >= 0 else "open" for r in self.reason]


def side_costs(costs: Any) -> tuple[float, float]:
    """(fee, slippage) per side as fractions of the price, for a cost model."""
    from tsys.sim.models import ImpactSlippage

    fee = float(costs.fees.bps) / 1e4
    s = costs.slippage
    slip = float(s.half_spread_bps if isinstance(s, ImpactSlippage) else s.bps) / 1e4
    return fee, slip


def primary_events(bars: Any, output: Any) -> tuple[np.ndarray, np.ndarray]:
    """(t, j) of every entry the bucket signals (see the module docstring)."""
    T, N = bars.shape
    blocked = output.blocked if output.blocked is not None else np.zeros((T, N), dtype=bool)
    regime = output.regime if output.regime is not None else np.ones(T)
    with np.errstate(invalid="ignore"):
        ok = (
            np.asarray(output.entries, dtype=bool)
            & np.isfinite(output.score)
            & ~np.asarray(blocked, dtype=bool)
            & np.isfinite(bars.close)
            & (np.asarray(regime, dtype=np.float64) > 0)[:, None]
        )
    t, j = np.nonzero(ok)
    return t.astype(np.int64), j.astype(np.int64)


def tradable(bars: Any) -> np.ndarray:
    """T x N: a bar the simulator can trade (finite positive prices and volume)."""
    with np.errstate(invalid="ignore"):
        ok = np.ones(bars.shape, dtype=bool)
        for a in (bars.open, bars.high, bars.low, bars.close, bars.volume):
            ok &= np.isfinite(a) & (a > 0)
    return ok


def _next_tradable(ok: np.ndarray, j: int, start: int, limit: int) -> int:
    """First bar >= start (and < limit) tradable for column j, or -1."""
    hit = np.flatnonzero(ok[start:limit, j])
    return int(start + hit[0]) if len(hit) else -1


def triple_barrier(
    bars: Any,
    output: Any,
    rules: Any,
    costs: Any,
    *,
    horizon: int | None = None,
    events: tuple[np.ndarray, np.ndarray] | None = None,
) -> Events:
    """Label every event (default: :func:`primary_events`) of ``output`` on ``bars``.

    ``rules`` is the bucket's :class:`~tsys.buckets.PositionRules` for the parameters the
    output was computed with; ``costs`` its :class:`~tsys.sim.CostModel`.
    """
    fee, slip = side_costs(costs)
    T, _N = bars.shape
    ok = tradable(bars)
    ts, js = events if events is not None else primary_events(bars, output)
    tstop = rules.time_stop_bars
    H = int(tstop) if tstop else int(horizon or DEFAULT_HORIZON)
    trailing = rules.stop_kind == "atr_trailing"
    o, h, lo = bars.open, bars.high, bars.low
    stop_p, target_p = np.asarray(output.stop), np.asarray(output.target)
    exits = np.asarray(output.exits, dtype=bool)
    keep, entry_bar, exit_bar, rets, reasons = [], [], [], [], []
    for k, (t, j) in enumerate(zip(ts.tolist(), js.tolist(), strict=True)):
        a = _next_tradable(ok, j, t + 1, min(T, t + 1 + ENTRY_WAIT))
        if a < 0:
            continue
        keep.append(k)
        entry_px = o[a, j] * (1.0 + slip)
        # the closes at which the planner may close: t+1 .. t+H (time stop at t+H)
        last = min(T - 1, t + H)
        u = np.arange(a, last + 1)
        s0 = stop_p[t, j]
        okw = ok[a : last + 1, j]
        # inside the bar: the simulator's stop order at the entry stop
        gap = okw & (o[a : last + 1, j] <= s0)
        touch = okw & (lo[a : last + 1, j] <= s0)
        # at the close: the planner's stop (trailed), target, exit signal, time stop
        if trailing:
            # the planner's stop at close u: the entry stop trailed up to close u - 1
            trail = np.fmax.accumulate(stop_p[t : last + 1, j])[a - t - 1 : last - t]
        else:
            trail = np.full(len(u), s0)
        with np.errstate(invalid="ignore"):
            at_close = (
                (lo[a : last + 1, j] <= trail)
                | (h[a : last + 1, j] >= target_p[t, j])
                | exits[a : last + 1, j]
                | (u - t >= H)
            )
        first_intra = int(np.argmax(touch)) if touch.any() else len(u)
        first_close = int(np.argmax(at_close)) if at_close.any() else len(u)
        if first_intra <= first_close and first_intra < len(u):
            i = first_intra
            px = o[u[i], j] if gap[i] else s0
            exit_px, xb = px * (1.0 - slip), int(u[i])
            why = "stop_gap" if gap[i] else "stop"
        elif first_close < len(u):
            i = first_close
            xb = _next_tradable(ok, j, int(u[i]) + 1, T)
            why = _close_reason(lo, h, exits, trail[i], target_p[t, j], int(u[i]), t, j, H)
            exit_px = o[xb, j] * (1.0 - slip) if xb >= 0 else np.nan
        else:
            xb, why, exit_px = -1, None, np.nan
        entry_bar.append(a)
        exit_bar.append(xb)
        rets.append(exit_px * (1.0 - fee) / (entry_px * (1.0 + fee)) - 1.0)
        reasons.append(REASONS.index(why) if (why is not None and xb >= 0) else -1)
    idx = np.asarray(keep, dtype=np.int64)
    ret = np.asarray(rets, dtype=np.float64)
    xb_arr = np.asarray(exit_bar, dtype=np.int64)
    label = np.where(xb_arr >= 0, (ret > 0).astype(np.int64), -1)
    return Events(
        t=ts[idx],
        j=js[idx],
        entry_bar=np.asarray(entry_bar, dtype=np.int64),
        exit_bar=xb_arr,
        ret=np.where(xb_arr >= 0, ret, np.nan),
        label=label,
        reason=np.asarray(reasons, dtype=np.int64),
    )


def _close_reason(
    lo: np.ndarray,
    h: np.ndarray,
    exits: np.ndarray,
    trail: float,
    target: float,
    u: int,
    t: int,
    j: int,
    H: int,
) -> str:
    """Why the planner closed at the close of ``u`` (its order: stop, target, signal, time)."""
    if lo[u, j] <= trail:
        return "trailing"
    if h[u, j] >= target:
        return "target"
    if exits[u, j]:
        return "signal"
    return "time"
