"""The execution simulator: target weights (or quantities, or entry/exit signals) in, fills out.

Rules (``ARCHITECTURE.md``, "The simulator"; ``reference.py`` spells each one out in code):

- Decisions taken at the close of bar ``t`` execute at the open of ``t + 1``: market-on-open at
  ``open x (1 +/- slippage)``, or as a limit buy when ``limit_price[t]`` is finite (fills when the
  bar trades at or through the limit, at ``min(open, limit)``, without slippage; otherwise it is
  reported unfilled).
- Target weights are shares of equity (the whole account with shared cash, the symbol's
  sub-account without) marked at the open of the execution bar; the quantity is
  ``floor_to_lot(weight x equity / (fill_price x (1 + fee_bps) + fee_per_share))``. NaN leaves a
  symbol alone; 0 closes it. Target quantities are floored to the lot size.
- With ``entries``/``exits`` masks, an entry opens a position only when flat (sized by
  ``target_weights`` or ``target_qty``, which may be scalars) and an exit closes it only when
  long; both on one bar cancel out.
- Sells execute before buys. Buys are scaled down pro rata when they exceed the cash, then one by
  one to what is left, so cash never goes negative; no shorting and no leverage.
- Capacity: a symbol trades at most ``max_participation x volume`` (floored to the lot) per bar;
  the rest is reported as ``unfilled_qty``. Nothing trades on a bar without volume or without a
  finite positive open, high, low and close: an order meeting such a bar waits for the next
  tradable one (unless a newer decision replaces it).
- Stops and targets act inside the bar, from high and low: the stop is the highest of the fixed
  level given at entry (``stop_price``), ``StopRules.stop_loss`` below the average entry price and
  the ATR chandelier; the target is the lowest of ``target_price`` and ``take_profit``. A gap
  through either fills at the open; stop and target inside one bar means the stop (conservative).
  Stop fills pay slippage, target fills (resting limits) do not. A time stop sells at the open.
- Equity is marked at the close (the last valid close when a bar is missing).

``TSYS_SIM=python|cython`` (default ``cython``) picks the implementation; ``impl=`` overrides it.
Panels may be row-major or column-major (e.g. the transposes of per-symbol N x T arrays); they
are taken without a copy, and without shared cash column-major bars run the compiled loop
symbol by symbol. ``tsys.sim.signals.sma_cross`` makes entry/exit masks from closes.
"""

from __future__ import annotations

import functools
import importlib
import math
import os
from collections.abc import Sequence
from typing import Any

import attrs
import numpy as np
import pandas as pd

from tsys.errors import ContractError, TsysError
from tsys.sim.models import (
    Capacity,
    CostModel,
    FeeModel,
    FixedSlippage,
    ImpactSlippage,
    StopRules,
)

__all__ = [
    "REASONS",
    "Capacity",
    "CostModel",
    "FeeModel",
    "FixedSlippage",
    "ImpactSlippage",
    "SimResult",
    "StopRules",
    "current_impl",
    "get_kernel",
    "simulate",
]

#: Fill and exit reasons by code (the kernels record codes).
REASONS = ("entry", "rebalance", "exit", "stop", "target", "trailing_stop", "time_stop")
IMPLS = ("cython", "python")


def current_impl() -> str:
    """Return the implementation chosen by ``TSYS_SIM`` (``cython`` unless set)."""
    name = os.environ.get("TSYS_SIM", "cython").strip().lower() or "cython"
    if name not in IMPLS:
        raise TsysError(
            f"TSYS_SIM must be 'python' or 'cython', got {name!r}",
            hint="unset TSYS_SIM to use the compiled simulator",
        )
    return name


def get_kernel(impl: str | None = None) -> Any:
    """Return the ``run_kernel`` function of ``impl`` (default: :func:`current_impl`).

    There is no silent fallback: asking for the compiled simulator when it is not built raises.
    """
    name = current_impl() if impl is None else impl
    if name not in IMPLS:
        raise TsysError(f"impl must be 'python' or 'cython', got {name!r}")
    if name == "python":
        from tsys.sim import reference

        return reference.run_kernel
    try:
        mod = importlib.import_module("tsys.sim._fill")
    except ImportError as exc:
        raise TsysError(
            f"the compiled simulator tsys.sim._fill is not available ({exc})",
            hint="build it with `uv sync` (needs a C compiler), "
            "or set TSYS_SIM=python to use the slow pure-Python reference",
        ) from None
    return mod.run_kernel


# --------------------------------------------------------------------------- result


@attrs.define(slots=False, eq=False)
class SimResult:
    """What a simulation produced.

    ``equity`` and ``cash`` are per bar (T,), ``positions`` the quantity held at each close
    (T x N), ``sub_equity`` each symbol's sub-account equity (T x N) when cash is not shared;
    both are None when the simulation ran with ``record_positions=False``.
    ``last_positions`` (N,) and ``last_sub_equity`` (N,, None with shared cash) are the values
    at the last close either way. ``fills`` and ``trades`` are built on first access.
    """

    equity: np.ndarray
    cash: np.ndarray
    positions: np.ndarray | None
    sub_equity: np.ndarray | None
    last_positions: np.ndarray
    last_sub_equity: np.ndarray | None
    fill_arrays: dict[str, np.ndarray]
    close: np.ndarray = attrs.field(repr=False)
    index: pd.Index | None = None
    symbols: tuple[str, ...] | None = None
    impl: str = "cython"

    @property
    def n_fills(self) -> int:
        return int((self.fill_arrays["qty"] > 0).sum())

    @functools.cached_property
    def fills(self) -> pd.DataFrame:
        """One row per order outcome: filled (``qty > 0``) or not (``qty == 0``, prices NaN)."""
        a = self.fill_arrays
        df = pd.DataFrame({"bar": a["bar"]})
        if self.index is not None:
            df["date"] = self.index[a["bar"]]
        df["symbol_index"] = a["sym"]
        if self.symbols is not None:
            df["symbol"] = np.asarray(self.symbols, dtype=object)[a["sym"]]
        else:
            df["symbol"] = a["sym"]
        df["side"] = np.where(a["side"] > 0, "buy", "sell")
        for k in ("qty", "price", "ref_price", "fee", "slippage"):
            df[k] = a[k]
        df["reason"] = np.asarray(REASONS, dtype=object)[a["reason"].astype(np.int64)]
        df["unfilled_qty"] = a["unfilled_qty"]
        return df

    @functools.cached_property
    def trades(self) -> pd.DataFrame:
        """Round trips, flat to flat: an open one at the end is marked at the last close.

        ``entry_price``/``exit_price`` are quantity-weighted fill prices, ``pnl`` is net of fees,
        ``r_multiple`` divides it by the initial risk ``(entry_price - stop at entry) x qty``
        (NaN without a stop), ``exit_reason`` is the last exit's reason or ``"open"``.
        """
        return _trades(self)


_TRADE_COLUMNS = [
    "symbol",
    "entry_bar",
    "exit_bar",
    "entry_price",
    "exit_price",
    "qty",
    "pnl",
    "r_multiple",
    "bars_held",
    "exit_reason",
]


def _trades(res: SimResult) -> pd.DataFrame:
    a = res.fill_arrays
    filled = np.flatnonzero(a["qty"] > 0)
    order = filled[np.argsort(a["sym"][filled], kind="stable")]
    T = len(res.equity)
    rows: list[dict[str, Any]] = []
    cur: dict[str, Any] | None = None
    cur_sym = -1
    bar, sym, side, reason = a["bar"], a["sym"], a["side"], a["reason"]
    qty, price, fee, stop0, pos_after = a["qty"], a["price"], a["fee"], a["stop0"], a["pos_after"]

    def close_trade(c: dict[str, Any], exit_bar: int, exit_reason: str, mark_qty: float) -> None:
        j = c["j"]
        sell_notional, sell_qty = c["sell_notional"], c["sell_qty"]
        if mark_qty > 0:
            last = res.close[:, j]
            ok = np.flatnonzero(np.isfinite(last) & (last > 0))
            px = float(last[ok[-1]]) if len(ok) else math.nan
            sell_notional += mark_qty * px
            sell_qty += mark_qty
        entry_price = c["buy_notional"] / c["buy_qty"]
        exit_price = sell_notional / sell_qty if sell_qty > 0 else math.nan
        pnl = sell_notional - c["buy_notional"] - c["fees"]
        risk = (entry_price - c["stop0"]) * c["buy_qty"]
        r = pnl / risk if (math.isfinite(c["stop0"]) and risk > 0) else math.nan
        rows.append(
            {
                "symbol": res.symbols[j] if res.symbols is not None else j,
                "entry_bar": c["entry_bar"],
                "exit_bar": exit_bar,
                "entry_price": entry_price,
                "exit_price": exit_price,
                "qty": c["buy_qty"],
                "pnl": pnl,
                "r_multiple": r,
                "bars_held": exit_bar - c["entry_bar"],
                "exit_reason": exit_reason,
            }
        )

    for i in order:
        j = int(sym[i])
        if j != cur_sym:
            if cur is not None:
                close_trade(cur, T - 1, "open", cur["pos"])
            cur, cur_sym = None, j
        q, px = float(qty[i]), float(price[i])
        if side[i] > 0:
            if cur is None:
                cur = {
                    "j": j,
                    "entry_bar": int(bar[i]),
                    "buy_qty": 0.0,
                    "buy_notional": 0.0,
                    "sell_qty": 0.0,
                    "sell_notional": 0.0,
                    "fees": 0.0,
                    "stop0": float(stop0[i]),
                }
            cur["buy_qty"] += q
            cur["buy_notional"] += q * px
        else:
            if cur is None:  # cannot happen: a sell needs a position
                raise AssertionError("sell fill without an open trade")
            cur["sell_qty"] += q
            cur["sell_notional"] += q * px
        cur["fees"] += float(fee[i])
        cur["pos"] = float(pos_after[i])
        if pos_after[i] == 0.0:
            close_trade(cur, int(bar[i]), REASONS[int(reason[i])], 0.0)
            cur = None
    if cur is not None:
        close_trade(cur, T - 1, "open", cur["pos"])
    return pd.DataFrame(rows, columns=_TRADE_COLUMNS)


# --------------------------------------------------------------------------- inputs


def _contiguous(a: np.ndarray) -> np.ndarray:
    # row-major (bar-major) or column-major (symbol-major) are both taken as they are; the
    # compiled kernel picks its loop by the layout
    if a.flags.c_contiguous or a.flags.f_contiguous:
        return a
    return np.ascontiguousarray(a)


def _panel(name: str, x: Any, shape: tuple[int, int]) -> np.ndarray:
    if isinstance(x, pd.DataFrame):
        x = x.to_numpy(dtype=np.float64)
    a = _contiguous(np.asarray(x, dtype=np.float64))
    if a.shape != shape:
        raise ContractError(f"{name} has shape {a.shape}, expected {shape} (bars x symbols)")
    return a


_EMPTY = np.zeros((0, 0))


def _opt_panel(name: str, x: Any, shape: tuple[int, int]) -> np.ndarray:
    return _EMPTY if x is None else _panel(name, x, shape)


def _mask(name: str, x: Any, shape: tuple[int, int]) -> np.ndarray:
    if x is None:
        return np.zeros(shape, dtype=np.uint8)
    if isinstance(x, pd.DataFrame):
        x = x.to_numpy()
    a = _contiguous(np.asarray(x, dtype=bool))
    if a.shape != shape:
        raise ContractError(f"{name} has shape {a.shape}, expected {shape} (bars x symbols)")
    return a.view(np.uint8)


def _per_symbol(name: str, x: Any, n: int, kind: type | tuple[type, ...]) -> list[Any]:
    if isinstance(x, kind):
        return [x] * n
    xs = list(x)
    if len(xs) != n or not all(isinstance(e, kind) for e in xs):
        raise ContractError(f"{name} must be one {kind} or a sequence of {n} of them")
    return xs


def simulate(
    open: Any,
    high: Any,
    low: Any,
    close: Any,
    volume: Any,
    *,
    target_weights: Any = None,
    target_qty: Any = None,
    entries: Any = None,
    exits: Any = None,
    stop_price: Any = None,
    target_price: Any = None,
    limit_price: Any = None,
    costs: CostModel | Sequence[CostModel] = CostModel(),
    lot_size: float | Sequence[float] | np.ndarray = 1.0,
    cash: float = 100_000.0,
    cash_sharing: bool = True,
    stops: StopRules | Sequence[StopRules] | None = None,
    impl: str | None = None,
    index: pd.Index | None = None,
    symbols: Sequence[str] | None = None,
    record_positions: bool = True,
) -> SimResult:
    """Simulate execution of decisions over a T x N panel of bars (see the module docstring).

    Parameters
    ----------
    open, high, low, close, volume : array-like (T, N)
        Bars; NaN where a symbol has no bar.
    target_weights, target_qty : array-like (T, N), optional
        Decisions at each close (one of the two). With ``entries``/``exits`` they give the entry
        size and may be scalars.
    entries, exits : bool array-like (T, N), optional
        Signal masks: enter when flat, exit when long.
    stop_price, target_price : array-like (T, N), optional
        Protective levels for a position entered from the decision at that close (NaN: none).
    limit_price : array-like (T, N), optional
        Limit for buys decided at that close (NaN: market-on-open).
    costs : CostModel or sequence of N
        Fees, slippage and capacity.
    lot_size : float or N floats
        Trading unit: 1.0 for whole shares, e.g. 1e-8 for crypto.
    cash : float
        Starting cash (of each sub-account when ``cash_sharing`` is False).
    cash_sharing : bool
        One portfolio (True) or independent per-symbol sub-accounts each starting with ``cash``.
    stops : StopRules or sequence of N, optional
        Stop-loss, take-profit, ATR trailing and time stops.
    impl : {"cython", "python"}, optional
        Override ``TSYS_SIM``.
    index, symbols : optional
        Dates and names, used to label the fills and trades tables.
    record_positions : bool
        Keep the T x N ``positions`` panel (and ``sub_equity`` without cash sharing). False
        saves their memory and time when only equity, fills and trades are needed; the last
        bar's values stay available as ``last_positions`` and ``last_sub_equity``.

    Returns
    -------
    SimResult
    """
    name = current_impl() if impl is None else impl
    kernel = get_kernel(name)
    o = _panel("open", open, np.shape(close))
    shape = o.shape
    if len(shape) != 2:
        raise ContractError(f"price panels must be 2-D (bars x symbols), got shape {shape}")
    T, N = shape
    h, lo, c, v = (
        _panel(n, x, shape)
        for n, x in (("high", high), ("low", low), ("close", close), ("volume", volume))
    )
    if not (isinstance(cash, int | float) and math.isfinite(cash) and cash > 0):
        raise ContractError(f"cash must be a finite number > 0, got {cash!r}")
    use_signals = entries is not None or exits is not None
    if target_weights is not None and target_qty is not None:
        raise ContractError("give target_weights or target_qty, not both")
    tgt_is_qty = target_qty is not None
    size = target_qty if tgt_is_qty else target_weights
    what = "target_qty" if tgt_is_qty else "target_weights"
    if use_signals:
        if size is None:
            if exits is not None and entries is None:
                size = 0.0
            else:
                raise ContractError(
                    "entries need a size: pass target_weights (e.g. 0.95) or target_qty"
                )
        arr = np.asarray(size, dtype=np.float64)
        if arr.ndim == 0:
            tgt = np.full((1, N), float(arr))
        elif arr.shape == (N,):
            tgt = np.ascontiguousarray(arr.reshape(1, N))
        else:
            tgt = _panel(what, size, shape)
        ent, ext = _mask("entries", entries, shape), _mask("exits", exits, shape)
        bad = ~np.isfinite(tgt) | (tgt < 0)
        if tgt.shape[0] == 1:
            bad = bad & ent.any(axis=0, keepdims=True).astype(bool)
        else:
            bad &= ent.astype(bool)
        if bad.any():
            raise ContractError(f"{what} must be finite and >= 0 wherever an entry is signalled")
    else:
        if size is None:
            raise ContractError("give target_weights, target_qty, or entries/exits")
        tgt = _panel(what, size, shape)
        with np.errstate(invalid="ignore"):
            if np.isinf(tgt).any() or (tgt < 0).any():
                raise ContractError(
                    f"{what} must be >= 0 (no shorting) or NaN (leave unchanged); "
                    "infinite values are not allowed"
                )
        ent = ext = np.zeros((0, 0), dtype=np.uint8)

    lim = _opt_panel("limit_price", limit_price, shape)
    spx = _opt_panel("stop_price", stop_price, shape)
    tpx = _opt_panel("target_price", target_price, shape)

    cost_list = _per_symbol("costs", costs, N, CostModel)
    fee_rate = np.array([cm.fees.bps / 1e4 for cm in cost_list], dtype=np.float64)
    fee_ps = np.array([cm.fees.per_share for cm in cost_list], dtype=np.float64)
    fee_min = np.array([cm.fees.minimum for cm in cost_list], dtype=np.float64)
    slip = np.array(
        [
            cm.slippage.bps / 1e4
            if isinstance(cm.slippage, FixedSlippage)
            else cm.slippage.half_spread_bps / 1e4
            for cm in cost_list
        ],
        dtype=np.float64,
    )
    impact = np.array(
        [
            cm.slippage.impact if isinstance(cm.slippage, ImpactSlippage) else 0.0
            for cm in cost_list
        ],
        dtype=np.float64,
    )
    maxp = np.array(
        [
            math.inf if cm.capacity.max_participation is None else cm.capacity.max_participation
            for cm in cost_list
        ],
        dtype=np.float64,
    )
    lot = np.ascontiguousarray(np.broadcast_to(np.asarray(lot_size, dtype=np.float64), (N,)))
    if not (np.isfinite(lot).all() and (lot > 0).all()):
        raise ContractError("lot_size must be finite and > 0 (1.0 whole shares, 1e-8 crypto)")

    vol_w = np.array(
        [
            cm.slippage.vol_window if isinstance(cm.slippage, ImpactSlippage) else 0
            for cm in cost_list
        ],
        dtype=np.int64,
    )

    rules = _per_symbol("stops", StopRules() if stops is None else stops, N, StopRules)
    nan = math.nan
    sl = np.array([nan if r.stop_loss is None else r.stop_loss for r in rules])
    tp = np.array([nan if r.take_profit is None else r.take_profit for r in rules])
    atrm = np.array([nan if r.atr_trailing is None else r.atr_trailing for r in rules])
    atr_w = np.array([r.atr_window for r in rules], dtype=np.int64)
    tstop = np.array(
        [0 if r.time_stop_bars is None else r.time_stop_bars for r in rules], dtype=np.int64
    )

    out = kernel(
        o, h, lo, c, v, tgt, int(tgt_is_qty), int(use_signals), ent, ext, lim, spx, tpx, atr_w,
        vol_w, fee_rate, fee_ps, fee_min, slip, impact, maxp, lot, sl, tp, atrm, tstop,
        float(cash), int(bool(cash_sharing)), int(bool(record_positions)),
    )  # fmt: skip
    fills = {k[2:]: out[k] for k in out if k.startswith("f_")}
    if index is not None and len(index) != T:
        raise ContractError(f"index has {len(index)} entries, expected {T}")
    if symbols is not None and len(symbols) != N:
        raise ContractError(f"symbols has {len(symbols)} entries, expected {N}")
    return SimResult(
        equity=out["equity"],
        cash=out["cash"],
        positions=out["positions"] if record_positions else None,
        sub_equity=None if (cash_sharing or not record_positions) else out["sub_equity"],
        last_positions=out["last_positions"],
        last_sub_equity=None if cash_sharing else out["last_sub_equity"],
        fill_arrays=fills,
        close=c,
        index=index,
        symbols=None if symbols is None else tuple(symbols),
        impl=name,
    )
