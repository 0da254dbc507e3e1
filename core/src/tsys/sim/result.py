"""What the simulator returns: :class:`SimResult` for one run, :class:`GridResult` for K decision
sets over one panel (each set reads as a :class:`SimResult`), and the round-trip trades table."""

from __future__ import annotations

import functools
import math
from typing import Any

import attrs
import numpy as np
import pandas as pd

__all__ = ["REASONS", "GridResult", "SimResult"]

#: Fill and exit reasons by code (the kernels record codes).
REASONS = ("entry", "rebalance", "exit", "stop", "target", "trailing_stop", "time_stop")


@attrs.define(slots=False, eq=False)
class _Run:
    """The arrays one simulation call returns, of one run or of K (see the subclasses)."""

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


@attrs.define(slots=False, eq=False)
class SimResult(_Run):
    """What a simulation produced.

    ``equity`` and ``cash`` are per bar (T,), ``positions`` the quantity held at each close
    (T x N), ``sub_equity`` each symbol's sub-account equity (T x N) when cash is not shared;
    both are None when the simulation ran with ``record_positions=False``.
    ``last_positions`` (N,) and ``last_sub_equity`` (N,, None with shared cash) are the values
    at the last close either way. ``interest`` (T,) is what idle cash earned at each bar (zero
    without a ``cash_rate``); it is in ``cash`` and ``equity``, and ``interest_earned`` sums it,
    so trading PnL is ``equity[-1] - start cash - interest_earned``. ``fills`` and ``trades``
    are built on first access.
    """

    interest: np.ndarray | None = None

    @property
    def interest_earned(self) -> float:
        """Interest on idle cash over the whole run (all sub-accounts)."""
        return 0.0 if self.interest is None else float(self.interest.sum())

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


@attrs.define(slots=False, eq=False)
class GridResult(_Run):
    """K simulations of one panel of bars, one per decision set (see ``simulate_grid``).

    ``equity`` and ``cash`` are K x T, ``positions`` and ``sub_equity`` K x T x N (None unless
    recorded), ``last_positions`` and ``last_sub_equity`` K x N, ``interest`` K x T (what idle
    cash earned, see :class:`SimResult`). ``fill_arrays`` holds every
    set's fills, set after set (``fill_arrays["set"]`` numbers them), each set's in the order of
    a single run. ``result(k)`` (or ``grid[k]``) is set ``k`` as a :class:`SimResult`, equal to
    what ``simulate`` returns for that set alone; its arrays are views, nothing is copied.
    """

    interest: np.ndarray = attrs.field(kw_only=True)

    def __len__(self) -> int:
        return int(self.equity.shape[0])

    @property
    def final_equity(self) -> np.ndarray:
        """Equity at the last close, one value per set (K,)."""
        return self.equity[:, -1]

    @functools.cached_property
    def fill_offsets(self) -> np.ndarray:
        """Set ``k``'s fills are ``fill_arrays[...][fill_offsets[k]:fill_offsets[k + 1]]``."""
        return np.searchsorted(self.fill_arrays["set"], np.arange(len(self) + 1), side="left")

    def result(self, k: int) -> SimResult:
        """Set ``k`` as a :class:`SimResult` (views of this grid's arrays)."""
        K = len(self)
        if not -K <= k < K:
            raise IndexError(f"set {k} out of range for a grid of {K}")
        k %= K
        a, b = int(self.fill_offsets[k]), int(self.fill_offsets[k + 1])
        return SimResult(
            equity=self.equity[k],
            cash=self.cash[k],
            positions=None if self.positions is None else self.positions[k],
            sub_equity=None if self.sub_equity is None else self.sub_equity[k],
            last_positions=self.last_positions[k],
            last_sub_equity=None if self.last_sub_equity is None else self.last_sub_equity[k],
            fill_arrays={n: x[a:b] for n, x in self.fill_arrays.items() if n != "set"},
            close=self.close,
            index=self.index,
            symbols=self.symbols,
            impl=self.impl,
            interest=self.interest[k],
        )

    def __getitem__(self, k: int) -> SimResult:
        return self.result(k)
