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
- Idle cash may earn interest (``cash_rate``, an annual rate, e.g. a T-bill yield): at the start
  of each bar the cash of the previous close earns ``rate x calendar days / 365`` (or ``rate /
  cash_rate_periods``), credited to cash and reported per bar in ``SimResult.interest``.

``TSYS_SIM=python|cython`` (default ``cython``) picks the implementation; ``impl=`` overrides it.
Panels may be row-major or column-major (e.g. the transposes of per-symbol N x T arrays); they
are taken without a copy, and without shared cash column-major bars run the compiled loop
symbol by symbol. ``tsys.sim.signals.sma_cross`` makes entry/exit masks from closes.

:func:`simulate_grid` runs K decision sets (K x T x N decision panels, e.g. one per parameter
set of an optimiser's batch) over one panel of bars in one call: every set reads the same
bars in place and its result (``GridResult.result(k)``) is exactly that of :func:`simulate`
on its decisions alone. ``tsys.sim.signals.sma_cross_grid`` makes the masks of K SMA pairs.
``docs/simulator.md`` shows both, with an ask-and-tell batch.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Sequence
from typing import Any, TypedDict, Unpack

import numpy as np
import pandas as pd

from tsys.errors import ContractError, TsysError
from tsys.sim.inputs import prepare
from tsys.sim.models import (
    Capacity,
    CostModel,
    FeeModel,
    FixedSlippage,
    ImpactSlippage,
    StopRules,
    default_costs,
)
from tsys.sim.result import REASONS, GridResult, SimResult

__all__ = [
    "REASONS",
    "Capacity",
    "CostModel",
    "FeeModel",
    "FixedSlippage",
    "GridResult",
    "ImpactSlippage",
    "SimOptions",
    "SimResult",
    "StopRules",
    "current_impl",
    "default_costs",
    "get_kernel",
    "simulate",
    "simulate_grid",
]

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


# --------------------------------------------------------------------------- entry points


class SimOptions(TypedDict, total=False):
    """The keyword arguments :func:`simulate` and :func:`simulate_grid` share (described in
    :func:`simulate`); one not given takes its value in ``_DEFAULTS``, or None."""

    target_weights: Any
    target_qty: Any
    entries: Any
    exits: Any
    stop_price: Any
    target_price: Any
    limit_price: Any
    costs: CostModel | Sequence[CostModel]
    lot_size: float | Sequence[float] | np.ndarray
    cash: float
    cash_sharing: bool
    stops: StopRules | Sequence[StopRules] | None
    impl: str | None
    index: pd.Index | None
    symbols: Sequence[str] | None
    cash_rate: float | Sequence[float] | np.ndarray
    cash_rate_periods: int | None


#: The :class:`SimOptions` whose default is not None.
_DEFAULTS: SimOptions = {
    "costs": CostModel(),
    "lot_size": 1.0,
    "cash": 100_000.0,
    "cash_sharing": True,
    "cash_rate": 0.0,
}


def _run(
    caller: str,
    bars: tuple[Any, ...],
    options: SimOptions,
    *,
    grid: bool,
    record_positions: bool,
    stops_per_set: Sequence[StopRules | Sequence[StopRules]] | None = None,
) -> GridResult:
    unknown = sorted(options.keys() - SimOptions.__optional_keys__)
    if unknown:
        raise TypeError(f"{caller}() got an unexpected keyword argument {unknown[0]!r}")
    kw: dict[str, Any] = {k: options.get(k, _DEFAULTS.get(k)) for k in SimOptions.__optional_keys__}
    impl, index, symbols = kw.pop("impl"), kw["index"], kw.pop("symbols")
    name = current_impl() if impl is None else impl
    kernel = get_kernel(name)
    if index is not None and len(index) != np.shape(bars[3])[0]:
        raise ContractError(f"index has {len(index)} entries, expected {np.shape(bars[3])[0]}")
    prep = prepare(
        *bars, grid=grid, record_positions=record_positions, stops_per_set=stops_per_set, **kw
    )
    if symbols is not None and len(symbols) != prep.N:
        raise ContractError(f"symbols has {len(symbols)} entries, expected {prep.N}")
    out = kernel(*prep.args)
    rec, sharing = bool(record_positions), bool(kw["cash_sharing"])
    return GridResult(
        equity=out["equity"],
        cash=out["cash"],
        interest=out["interest"],
        positions=out["positions"] if rec else None,
        sub_equity=None if (sharing or not rec) else out["sub_equity"],
        last_positions=out["last_positions"],
        last_sub_equity=None if sharing else out["last_sub_equity"],
        fill_arrays={k[2:]: out[k] for k in out if k.startswith("f_")},
        close=prep.close,
        index=index,
        symbols=None if symbols is None else tuple(symbols),
        impl=name,
    )


def simulate(
    open: Any,
    high: Any,
    low: Any,
    close: Any,
    volume: Any,
    *,
    record_positions: bool = True,
    **options: Unpack[SimOptions],
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
    costs : CostModel or sequence of N, default CostModel()
        Fees, slippage and capacity.
    lot_size : float or N floats, default 1.0
        Trading unit: 1.0 for whole shares, e.g. 1e-8 for crypto.
    cash : float, default 100_000.0
        Starting cash (of each sub-account when ``cash_sharing`` is False).
    cash_sharing : bool, default True
        One portfolio (True) or independent per-symbol sub-accounts each starting with ``cash``.
    stops : StopRules or sequence of N, optional
        Stop-loss, take-profit, ATR trailing and time stops.
    impl : {"cython", "python"}, optional
        Override ``TSYS_SIM``.
    index, symbols : optional
        Dates and names, used to label the fills and trades tables.
    record_positions : bool, default True
        Keep the T x N ``positions`` panel (and ``sub_equity`` without cash sharing). False
        saves their memory and time when only equity, fills and trades are needed; the last
        bar's values stay available as ``last_positions`` and ``last_sub_equity``.
    cash_rate : float or T floats, default 0.0
        Annual interest on idle cash (a T-bill proxy, e.g. 0.04), or one rate per bar (in force
        over the period ending at that bar). Default 0: cash earns nothing. At the start of
        each bar the cash held at the previous close earns ``rate x calendar days / 365`` (days
        between the dates of ``index``, which is then required), or ``rate /
        cash_rate_periods`` when that is given; it is credited to cash (so it compounds) and
        reported per bar in ``SimResult.interest``, apart from trading PnL.
    cash_rate_periods : int, optional
        Bars per year (e.g. 252, 365) to accrue per bar instead of by calendar days.

    Returns
    -------
    SimResult
    """
    bars = (open, high, low, close, volume)
    g = _run("simulate", bars, options, grid=False, record_positions=record_positions)
    return g.result(0)


def simulate_grid(
    open: Any,
    high: Any,
    low: Any,
    close: Any,
    volume: Any,
    *,
    stops_per_set: Sequence[StopRules | Sequence[StopRules]] | None = None,
    record_positions: bool = False,
    **options: Unpack[SimOptions],
) -> GridResult:
    """Simulate K decision sets over one T x N panel of bars in one pass, prices not copied.

    Set ``k`` is exactly ``simulate(bars, <set k's decisions>, <the other arguments>)``: the
    sets are independent portfolios (or, without ``cash_sharing``, independent groups of
    sub-accounts) and ``result(k)`` of the returned :class:`GridResult` equals that single run,
    bit for bit. The bars are read in place for every set (one row-major copy is made only
    when cash is shared and the bars are column-major, once, not per set).

    Parameters
    ----------
    target_weights, target_qty, entries, exits, stop_price, target_price, limit_price
        As in :func:`simulate`, each either K x T x N (one T x N panel per set) or T x N
        (shared by every set; broadcast, not repeated). With signals the size may also be a
        scalar, N values, or K x 1 x N / K x 1 x 1 (one size per set). K is the number of sets
        of the 3-D panels (they must agree).
    stops : StopRules or sequence of N, optional
        The same rules for every set.
    stops_per_set : sequence of K, optional
        Instead of ``stops``: each set's rules (a StopRules or N of them), e.g. a stop-loss
        sweep over the same signals.
    record_positions : bool
        Keep the K x T x N positions (default False: a grid usually needs equity and fills).

    Other parameters are those of :func:`simulate`. ``tsys.sim.signals.sma_cross_grid`` makes
    the K x T x N entry/exit masks of K SMA pairs in one pass.

    Returns
    -------
    GridResult
    """
    bars = (open, high, low, close, volume)
    return _run(
        "simulate_grid",
        bars,
        options,
        grid=True,
        record_positions=record_positions,
        stops_per_set=stops_per_set,
    )
