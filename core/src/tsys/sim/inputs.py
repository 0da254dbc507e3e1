"""Checking and shaping the simulator's inputs into the kernels' arguments.

Both ``simulate`` (one decision set) and ``simulate_grid`` (K sets over one panel) come through
:func:`prepare`. Prices are taken as they are (row-major or column-major, no copy; other layouts
are made contiguous once). Decision panels are given per set (K x T x N) or shared by every set
(T x N); a shared panel is broadcast with a zero stride over the sets, never repeated, and the
kernels read every decision panel through its strides. The cost, lot and stop models become
K x N parameter arrays (tiny); the kernels never look at a model object.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import attrs
import numpy as np
import pandas as pd

from tsys.errors import ContractError
from tsys.sim.models import CostModel, FixedSlippage, ImpactSlippage, StopRules

__all__ = ["Prepared", "prepare"]

_NONE = np.zeros((0, 0, 0))
_NO_MASK = np.zeros((0, 0, 0), dtype=np.uint8)


@attrs.frozen
class Prepared:
    """The kernel's positional arguments and what the result needs to be labelled."""

    args: tuple[Any, ...]
    K: int
    T: int
    N: int
    close: np.ndarray


def _contiguous(a: np.ndarray) -> np.ndarray:
    # row-major (bar-major) or column-major (symbol-major) are both taken as they are; the
    # compiled kernel picks its loop by the layout
    if a.flags.c_contiguous or a.flags.f_contiguous:
        return a
    return np.ascontiguousarray(a)


def panel(name: str, x: Any, shape: tuple[int, int] | None) -> np.ndarray:
    """A T x N float64 price panel, without a copy when it is already one."""
    if isinstance(x, pd.DataFrame):
        x = x.to_numpy(dtype=np.float64)
    a = _contiguous(np.asarray(x, dtype=np.float64))
    if shape is not None and a.shape != shape:
        raise ContractError(f"{name} has shape {a.shape}, expected {shape} (bars x symbols)")
    return a


def _sets_of(name: str, a: np.ndarray, T: int, N: int, grid: bool) -> int:
    """How many sets a decision panel holds: 1 for T x N, K for K x T x N."""
    if a.ndim == 2 and a.shape == (T, N):
        return 1
    if grid and a.ndim == 3 and a.shape[1:] == (T, N) and a.shape[0] >= 1:
        return int(a.shape[0])
    want = "(bars x symbols) or (sets x bars x symbols)" if grid else "(bars x symbols)"
    expected = f"({T}, {N})" if not grid else f"({T}, {N}) or (K, {T}, {N})"
    raise ContractError(f"{name} has shape {a.shape}, expected {expected} {want}")


def _as_float(x: Any) -> np.ndarray:
    if isinstance(x, pd.DataFrame):
        x = x.to_numpy(dtype=np.float64)
    return np.asarray(x, dtype=np.float64)


def _as_mask(x: Any) -> np.ndarray:
    if isinstance(x, pd.DataFrame):
        x = x.to_numpy()
    return np.asarray(x, dtype=bool).view(np.uint8)


def _per_symbol(name: str, x: Any, n: int, kind: type | tuple[type, ...]) -> list[Any]:
    if isinstance(x, kind):
        return [x] * n
    xs = list(x)
    if len(xs) != n or not all(isinstance(e, kind) for e in xs):
        raise ContractError(f"{name} must be one {kind} or a sequence of {n} of them")
    return xs


def _cost_arrays(costs: Any, N: int) -> list[np.ndarray]:
    """fee_rate, fee_ps, fee_min, slip, impact, maxp and the volatility window, each (N,)."""
    cl = _per_symbol("costs", costs, N, CostModel)
    caps = [c.capacity.max_participation for c in cl]
    return [
        np.array([c.fees.bps / 1e4 for c in cl], dtype=np.float64),
        np.array([c.fees.per_share for c in cl], dtype=np.float64),
        np.array([c.fees.minimum for c in cl], dtype=np.float64),
        np.array(
            [
                c.slippage.bps / 1e4
                if isinstance(c.slippage, FixedSlippage)
                else c.slippage.half_spread_bps / 1e4
                for c in cl
            ],
            dtype=np.float64,
        ),
        np.array(
            [c.slippage.impact if isinstance(c.slippage, ImpactSlippage) else 0.0 for c in cl],
            dtype=np.float64,
        ),
        np.array([math.inf if x is None else x for x in caps], dtype=np.float64),
        np.array(
            [c.slippage.vol_window if isinstance(c.slippage, ImpactSlippage) else 0 for c in cl],
            dtype=np.int64,
        ),
    ]


def _stop_arrays(stops: Any, N: int) -> list[np.ndarray]:
    """sl, tp, atrm (float) and atrw, tstop (int), each (N,)."""
    rules = _per_symbol("stops", StopRules() if stops is None else stops, N, StopRules)
    nan = math.nan
    return [
        np.array([nan if r.stop_loss is None else r.stop_loss for r in rules]),
        np.array([nan if r.take_profit is None else r.take_profit for r in rules]),
        np.array([nan if r.atr_trailing is None else r.atr_trailing for r in rules]),
        np.array([r.atr_window for r in rules], dtype=np.int64),
        np.array([0 if r.time_stop_bars is None else r.time_stop_bars for r in rules], np.int64),
    ]


def _rows(a: np.ndarray, K: int) -> np.ndarray:
    """(N,) for every set, or already (K, N): a C-contiguous K x N array."""
    return np.ascontiguousarray(np.broadcast_to(a, (K, a.shape[-1])))


def _sizes(what: str, size: Any, T: int, N: int, grid: bool) -> np.ndarray:
    """Entry sizes with signals: a scalar, one per symbol (N,), a panel (shared or per set), or
    with a grid K x 1 x N / K x 1 x 1 (per set)."""
    arr = _as_float(size)
    if arr.ndim == 0 or arr.shape == (N,):
        return arr
    if (
        grid
        and arr.ndim == 3
        and arr.shape[0] >= 1
        and arr.shape[1] == 1
        and (arr.shape[2] in (1, N))
    ):
        return arr
    _sets_of(what, arr, T, N, grid)
    return arr


def accrual(rate: Any, periods: Any, index: pd.Index | None, T: int) -> np.ndarray:
    """The interest on idle cash over each bar's period, as a fraction of that cash (T,).

    ``rate`` is an annual rate (0.04 = 4%), one for every bar or one per bar (the rate in force
    over the period that ends at that bar). Without ``periods`` a bar's period is the calendar
    days since the previous bar's date (``index``), accrued as ``rate x days / 365`` (simple
    actual/365 interest, as money-market yields are quoted); with ``periods`` (bars per year,
    e.g. 252) every bar accrues ``rate / periods``. Credited bar by bar, interest compounds.
    Bar 0 accrues nothing. Returns an empty array when the rate is zero throughout.
    """
    r = _as_float(rate)
    if r.ndim == 0:
        r = np.full(T, float(r))
    elif r.shape != (T,):
        raise ContractError(f"cash_rate has shape {r.shape}, expected one number or ({T},)")
    if not np.isfinite(r).all() or (r <= -1).any():
        raise ContractError("cash_rate must be finite annual rates above -1 (0.04 = 4% a year)")
    if T < 2 or not r[1:].any():
        return np.zeros(0)
    f = np.zeros(T)
    if periods is not None:
        if isinstance(periods, bool) or not isinstance(periods, int) or periods < 1:
            raise ContractError(
                f"cash_rate_periods must be a whole number of bars per year >= 1, got {periods!r}"
            )
        f[1:] = r[1:] / periods
        return f
    if not isinstance(index, pd.DatetimeIndex):
        raise ContractError(
            "a cash_rate accrues by calendar days and needs the bars' dates",
            hint="pass index= (a DatetimeIndex), or cash_rate_periods= (e.g. 252 or 365) to "
            "accrue a fixed share of the rate per bar",
        )
    naive = index.tz_convert(None) if index.tz is not None else index  # UTC wall dates
    days = np.diff(naive.to_numpy().astype("datetime64[D]").astype(np.int64))
    if (days < 0).any():
        raise ContractError("index must be in ascending order to accrue interest on cash")
    f[1:] = r[1:] * days / 365.0
    return f


def prepare(
    open: Any,
    high: Any,
    low: Any,
    close: Any,
    volume: Any,
    *,
    target_weights: Any,
    target_qty: Any,
    entries: Any,
    exits: Any,
    stop_price: Any,
    target_price: Any,
    limit_price: Any,
    costs: Any,
    lot_size: Any,
    cash: Any,
    cash_sharing: bool,
    stops: Any,
    stops_per_set: Sequence[Any] | None,
    record_positions: bool,
    cash_rate: Any,
    cash_rate_periods: Any,
    index: pd.Index | None,
    grid: bool,
) -> Prepared:
    """Check every input of ``simulate``/``simulate_grid`` and build the kernel's arguments."""
    o, h, lo, c, v = _price_panels(open, high, low, close, volume)
    T, N = c.shape
    if not (isinstance(cash, int | float) and math.isfinite(cash) and cash > 0):
        raise ContractError(f"cash must be a finite number > 0, got {cash!r}")
    levels = {"limit_price": limit_price, "stop_price": stop_price, "target_price": target_price}
    d = _decisions(
        (target_weights, target_qty), (entries, exits), levels, stops_per_set, grid, T, N
    )
    K = d.K
    fee_rate, fee_ps, fee_min, slip, impact, maxp, vol_w = (
        _rows(x, K) for x in _cost_arrays(costs, N)
    )
    lot = np.ascontiguousarray(np.broadcast_to(np.asarray(lot_size, dtype=np.float64), (N,)))
    if not (np.isfinite(lot).all() and (lot > 0).all()):
        raise ContractError("lot_size must be finite and > 0 (1.0 whole shares, 1e-8 crypto)")
    lot = _rows(lot, K)
    if stops_per_set is None:
        sl, tp, atrm, atr_w, tstop = (_rows(x, K) for x in _stop_arrays(stops, N))
    else:
        if stops is not None:
            raise ContractError("give stops (every set) or stops_per_set, not both")
        per = [_stop_arrays(s, N) for s in stops_per_set]
        sl, tp, atrm, atr_w, tstop = (
            np.ascontiguousarray(np.stack([p[i] for p in per])) for i in range(5)
        )
    args = (
        o, h, lo, c, v, d.tgt, int(d.tgt_is_qty), int(d.use_signals), d.ent, d.ext, d.lim, d.spx,
        d.tpx, atr_w, vol_w, fee_rate, fee_ps, fee_min, slip, impact, maxp, lot, sl, tp, atrm,
        tstop, accrual(cash_rate, cash_rate_periods, index, T), float(cash),
        int(bool(cash_sharing)), int(bool(record_positions)),
    )  # fmt: skip
    return Prepared(args=args, K=K, T=T, N=N, close=c)


def _price_panels(open: Any, high: Any, low: Any, close: Any, volume: Any) -> tuple:
    o = panel("open", open, None)
    shape = np.shape(close)
    if o.shape != shape:
        raise ContractError(f"open has shape {o.shape}, expected {shape} (bars x symbols)")
    if len(shape) != 2:
        raise ContractError(f"price panels must be 2-D (bars x symbols), got shape {shape}")
    h, lo, c, v = (
        panel(n, x, shape)
        for n, x in (("high", high), ("low", low), ("close", close), ("volume", volume))
    )
    return o, h, lo, c, v


@attrs.frozen
class _Decisions:
    """The decision panels as the kernel takes them, K sets of T x N each."""

    K: int
    tgt: np.ndarray
    tgt_is_qty: bool
    use_signals: bool
    ent: np.ndarray
    ext: np.ndarray
    lim: np.ndarray
    spx: np.ndarray
    tpx: np.ndarray


def _decisions(
    sizing: tuple[Any, Any],
    signals: tuple[Any, Any],
    levels: dict[str, Any],
    stops_per_set: Sequence[Any] | None,
    grid: bool,
    T: int,
    N: int,
) -> _Decisions:
    target_weights, target_qty = sizing
    entries, exits = signals
    use_signals = entries is not None or exits is not None
    if target_weights is not None and target_qty is not None:
        raise ContractError("give target_weights or target_qty, not both")
    tgt_is_qty = target_qty is not None
    size = target_qty if tgt_is_qty else target_weights
    what = "target_qty" if tgt_is_qty else "target_weights"

    # the decision panels as given; K = the sets they hold (all 1 or K)
    given: dict[str, np.ndarray] = {}
    if use_signals:
        if size is None:
            if exits is not None and entries is None:
                size = 0.0
            else:
                raise ContractError(
                    "entries need a size: pass target_weights (e.g. 0.95) or target_qty"
                )
        for n, x in (("entries", entries), ("exits", exits)):
            if x is not None:
                given[n] = _as_mask(x)
    elif size is None:
        raise ContractError("give target_weights, target_qty, or entries/exits")
    else:
        given[what] = _as_float(size)
    for n, x in levels.items():
        if x is not None:
            given[n] = _as_float(x)
    counts = {n: _sets_of(n, a, T, N, grid) for n, a in given.items()}
    sizes = None
    if use_signals:
        sizes = _sizes(what, size, T, N, grid)
        if sizes.ndim == 3:
            counts[what] = int(sizes.shape[0])
    if stops_per_set is not None:
        counts["stops_per_set"] = len(stops_per_set)
    K = max(counts.values(), default=1)
    for n, k in counts.items():
        if k not in (1, K):
            raise ContractError(f"{n} holds {k} decision sets, others hold {K}")
    if K < 1:
        raise ContractError("a grid needs at least one decision set")

    def sets(a: np.ndarray) -> np.ndarray:
        """K x T x N view (a shared panel gets a zero stride over the sets)."""
        return np.broadcast_to(a if a.ndim == 3 else a[None], (K, T, N))

    if use_signals:
        none = np.zeros((1, T, N), np.uint8)
        ent, ext = (sets(given.get(n, none)) for n in ("entries", "exits"))
        tgt = sets(sizes) if sizes.ndim == 2 else np.broadcast_to(sizes, (K, T, N))
        bad = ~np.isfinite(sizes) | (sizes < 0)
        if bad.any():
            bad_k = sets(bad) if bad.ndim == 2 else np.broadcast_to(bad, (K, T, N))
            if (bad_k & ent.view(bool)).any():
                raise ContractError(
                    f"{what} must be finite and >= 0 wherever an entry is signalled"
                )
    else:
        a = given[what]
        with np.errstate(invalid="ignore"):
            if np.isinf(a).any() or (a < 0).any():
                raise ContractError(
                    f"{what} must be >= 0 (no shorting) or NaN (leave unchanged); "
                    "infinite values are not allowed"
                )
        tgt = sets(a)
        ent = ext = _NO_MASK
    lim, spx, tpx = (
        sets(given[n]) if n in given else _NONE
        for n in ("limit_price", "stop_price", "target_price")
    )
    return _Decisions(K, tgt, tgt_is_qty, use_signals, ent, ext, lim, spx, tpx)
