"""Run target-weight panels over a date range through the simulator and measure the result."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import pandas as pd

from tsys.backtest import metrics as _metrics
from tsys.backtest.splits import Splits
from tsys.contracts import AssetClass
from tsys.errors import ContractError
from tsys.serialization import json_ready
from tsys.sim import CostModel, SimResult, StopRules, simulate

LOT_SIZES = {AssetClass.EQUITY: 1.0, AssetClass.CRYPTO: 1e-8}


@attrs.define(slots=False, eq=False)
class BacktestResult:
    """A backtest: the simulator's result labelled with dates and symbols, plus metrics."""

    sim: SimResult
    equity: pd.Series
    benchmark_equity: pd.Series | None
    metrics: dict[str, Any]
    trades: pd.DataFrame
    fills: pd.DataFrame
    segment: str | None = None

    def to_json(self) -> str:
        """Metrics, equity curve(s) and trades as JSON (NaN and infinity become null)."""

        payload = {
            "segment": self.segment,
            "metrics": self.metrics,
            "equity": [[d.isoformat(), v] for d, v in self.equity.items()],
            "benchmark_equity": None
            if self.benchmark_equity is None
            else [[d.isoformat(), v] for d, v in self.benchmark_equity.items()],
            "trades": self.trades.to_dict(orient="records"),
        }
        return json.dumps(json_ready(payload))


def _align(name: str, x: Any, bars: Any) -> np.ndarray | None:
    if x is None:
        return None
    if isinstance(x, pd.DataFrame):
        missing = [s for s in x.columns if s not in bars.symbols]
        if missing:
            raise ContractError(f"{name} has symbols not in the bars: {missing[:5]}")
        idx = x.index
        if isinstance(idx, pd.DatetimeIndex):
            idx = idx.tz_localize("UTC") if idx.tz is None else idx.tz_convert("UTC")
            x = x.set_axis(idx.normalize())
        x = x.reindex(index=bars.index, columns=list(bars.symbols))
        return x.to_numpy(dtype=np.float64)
    a = np.asarray(x, dtype=np.float64)
    if a.shape != bars.shape:
        raise ContractError(f"{name} has shape {a.shape}, expected {bars.shape} (dates x symbols)")
    return a


def run(
    bars: Any,
    target_weights: Any,
    *,
    start: Any = None,
    end: Any = None,
    costs: CostModel | list[CostModel] = CostModel(),
    lot_size: float | np.ndarray | None = None,
    cash: float = 100_000.0,
    stops: StopRules | None = None,
    stop_price: Any = None,
    target_price: Any = None,
    limit_price: Any = None,
    cash_sharing: bool = True,
    benchmark: str | None = None,
    split: Splits | None = None,
    segment: str = "train",
    allow_holdout: bool = False,
    data_dir: Path | str | None = None,
    config: Any = None,
    periods_per_year: int | None = None,
    impl: str | None = None,
) -> BacktestResult:
    """Backtest target weights decided at each close over ``bars``.

    Parameters
    ----------
    bars : tsys.data.Bars
        The panel.
    target_weights : DataFrame (dates x symbols) or array (T x N)
        Weights decided at each close (NaN: leave unchanged, 0: exit); a DataFrame is aligned
        to the panel (missing dates or symbols become NaN).
    start, end : date-like, optional
        Inclusive date range.
    split, segment : optional
        Restrict to one segment of a :class:`~tsys.backtest.splits.Splits`. The holdout needs
        ``allow_holdout=True`` and ``data_dir`` (the evaluation is logged with a digest of
        ``config``).
    lot_size : optional
        Defaults per symbol from ``bars.asset_classes``: 1.0 for equities, 1e-8 for crypto.
    benchmark : str, optional
        Symbol whose buy-and-hold (close / first close x cash, no costs) is reported alongside.
    periods_per_year : int, optional
        Defaults to 365 when every symbol is crypto, else 252.
    Other parameters are passed to :func:`tsys.sim.simulate`.
    """
    w = _align("target_weights", target_weights, bars)
    levels = {
        k: _align(k, x, bars)
        for k, x in (
            ("stop_price", stop_price),
            ("target_price", target_price),
            ("limit_price", limit_price),
        )
    }
    mask = np.ones(len(bars.index), dtype=bool)
    if start is not None:
        mask &= np.asarray(bars.index >= _ts(start))
    if end is not None:
        mask &= np.asarray(bars.index <= _ts(end))
    seg = None
    if split is not None:
        seg = segment
        mask &= split.mask(
            bars.index, segment, allow_holdout=allow_holdout, data_dir=data_dir,
            what=f"backtest {segment}", config=config,
        )  # fmt: skip
    rows = np.flatnonzero(mask)
    if len(rows) < 2:
        raise ContractError("the selected date range holds fewer than two bars")
    index = bars.index[rows]
    panel = {
        f: np.ascontiguousarray(getattr(bars, f)[rows])
        for f in ("open", "high", "low", "close", "volume")
    }
    if lot_size is None:
        lot_size = np.array([LOT_SIZES[AssetClass(a)] for a in bars.asset_classes])
    res = simulate(
        panel["open"], panel["high"], panel["low"], panel["close"], panel["volume"],
        target_weights=w[rows],
        stop_price=None if levels["stop_price"] is None else levels["stop_price"][rows],
        target_price=None if levels["target_price"] is None else levels["target_price"][rows],
        limit_price=None if levels["limit_price"] is None else levels["limit_price"][rows],
        costs=costs, lot_size=lot_size, cash=cash, cash_sharing=cash_sharing, stops=stops,
        impl=impl, index=index, symbols=bars.symbols,
    )  # fmt: skip
    if periods_per_year is None:
        crypto = all(AssetClass(a) is AssetClass.CRYPTO for a in bars.asset_classes)
        periods_per_year = 365 if crypto else 252
    equity = pd.Series(res.equity, index=index, name="equity")
    bench = None
    if benchmark is not None:
        j = bars.column(benchmark)
        cl = pd.Series(panel["close"][:, j], index=index).where(lambda s: s > 0).ffill()
        first = cl.first_valid_index()
        if first is None:
            raise ContractError(f"benchmark {benchmark!r} has no prices in the selected range")
        start_cash = cash if cash_sharing else cash * len(bars.symbols)
        bench = (cl / cl[first] * start_cash).fillna(start_cash).rename(f"buy_and_hold_{benchmark}")
    cap = costs.capacity.max_participation if isinstance(costs, CostModel) else None
    m = _metrics.compute(
        equity,
        trades=res.trades,
        fills=res.fills,
        positions_value=res.equity - res.cash,
        volume=panel["volume"],
        max_participation=cap if cap is not None else 0.025,
        periods_per_year=periods_per_year,
    )
    if bench is not None:
        bm = _metrics.compute(bench, periods_per_year=periods_per_year)
        m["benchmark_total_return"] = bm["total_return"]
        m["benchmark_cagr"] = bm["cagr"]
        m["benchmark_max_drawdown"] = bm["max_drawdown"]
    trades = res.trades.copy()
    trades.insert(1, "entry_date", index[trades["entry_bar"].to_numpy(dtype=np.int64)])
    trades.insert(2, "exit_date", index[trades["exit_bar"].to_numpy(dtype=np.int64)])
    return BacktestResult(
        sim=res, equity=equity, benchmark_equity=bench, metrics=m, trades=trades,
        fills=res.fills, segment=seg,
    )  # fmt: skip


def _ts(x: Any) -> pd.Timestamp:
    t = pd.Timestamp(x)
    return t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")
