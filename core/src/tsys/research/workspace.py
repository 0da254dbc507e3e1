"""One bucket on one data set, ready to evaluate many parameter sets quickly.

The bars load once. A parameter set costs one ``bucket.compute`` and one portfolio plan over
the whole loaded history, and one simulation over the research period; every in-sample window
of an anchored walk-forward starts where the period starts, so its figures are a prefix of
that one simulation (the simulator, like compute and portfolio construction, never looks
ahead: a prefix of a run is the run of the prefix). Runs are kept by parameter digest, so a
parameter set met again (the current parameters, a later fold re-reading earlier trials)
costs nothing.

Everything goes through the code ``tsys backtest`` uses: the bucket's compute under the
plugin guard, :func:`tsys.portfolio.plan_positions`, the simulator with the bucket's default
costs, and the same warm-up rule, so a run of the current parameters over the period equals
``tsys backtest BUCKET --start <period start> --end <period end>``.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Sequence
from typing import Any

import attrs
import numpy as np
import pandas as pd

from tsys.contracts import AssetClass
from tsys.errors import DataError, StrategyError, TsysError
from tsys.optimize.evaluate import FoldResult
from tsys.paramsets import params_digest


def period_sessions(hub: Any, bucket: Any, start: dt.date | None, end: dt.date | None) -> Any:
    """The sessions of a bucket's period: from ``start`` (default: once a quarter of the
    symbols, and at least two, have bars, plus the bucket's warm-up) to ``end`` (default: the
    data's end).

    The quarter rule keeps a handful of long histories (an index fund, a delisted name back to
    the 1970s) from stretching the period over years when the bucket had nothing to pick from.
    """
    bars = hub.bars(None, None, end or dt.date.today(), asset_class=bucket.asset_class)
    if bars.shape[0] == 0:
        raise DataError(f"no {bucket.asset_class} bars to backtest {bucket.name} on")
    index = bars.index
    if start is None:
        started = np.maximum.accumulate(np.isfinite(bars.close), axis=0).sum(axis=1)
        live = started >= max(2, bars.shape[1] // 4) if bars.shape[1] >= 2 else started >= 1
        first = int(np.argmax(live)) if live.any() else 0
        index = index[min(first + bucket.warmup_bars, len(index) - 1) :]
    else:
        index = index[index >= pd.Timestamp(start, tz="UTC")]
    if len(index) < 10:
        raise DataError(
            f"only {len(index)} sessions to backtest {bucket.name} on between "
            f"{start or 'the start'} and {end or 'the end'}",
            hint="widen --start/--end",
        )
    return index


@attrs.frozen(eq=False)
class TrialRun:
    """One parameter set simulated over the whole research period (P bars)."""

    digest: str
    params: dict[str, Any]
    equity: np.ndarray
    exposure: np.ndarray
    #: Bar (within the period) on which each closed trade exited.
    trade_exits: np.ndarray
    fill_bars: np.ndarray
    fill_notional: np.ndarray

    @property
    def returns(self) -> np.ndarray:
        return self.equity[1:] / self.equity[:-1] - 1.0


@attrs.frozen(eq=False)
class AnchorRun:
    """An anchor (or the benchmark) simulated over a window."""

    name: str
    label: str
    equity: np.ndarray
    metrics: dict[str, float]


class Workspace:
    """A bucket, its data and costs, and a cache of parameter runs (see the module docstring).

    Parameters
    ----------
    bucket, hub, config
        The bucket, a data hub (wrapped in a memoising :class:`~tsys.data.memo.CachedHub`
        unless it is one) and the configuration (risk limits, sizing, account size).
    start, end
        The research period (default: the bucket's whole history, as ``tsys backtest``).
    costs, cash
        Default: the bucket's default costs and ``[account] size``.
    """

    def __init__(
        self,
        bucket: Any,
        hub: Any,
        config: Any,
        *,
        start: dt.date | None = None,
        end: dt.date | None = None,
        costs: Any = None,
        cash: float | None = None,
        rebalance: str = "daily",
    ) -> None:
        from tsys.backtest.bucket import (
            _WARMUP_DAYS_PER_BAR,
            _history_symbols,
            _periods_per_year,
            default_costs,
        )
        from tsys.buckets import BucketContext
        from tsys.data.fingerprint import bars_fingerprint
        from tsys.data.memo import CachedHub

        self.bucket = bucket
        self.hub = hub if isinstance(hub, CachedHub) else CachedHub(hub)
        self.config = config
        self.costs = costs or default_costs(bucket.asset_class)
        self.cash = float(cash if cash is not None else config.account.size)
        self.rebalance = rebalance
        self.periods_per_year = _periods_per_year(AssetClass(bucket.asset_class))
        sessions = period_sessions(self.hub, bucket, start, end)
        self.end = sessions[-1].date()
        load_start = sessions[0].date() - dt.timedelta(
            days=math.ceil(bucket.warmup_bars * _WARMUP_DAYS_PER_BAR) + 30
        )
        ctx = BucketContext(as_of=self.end, data=self.hub, settings=config.bucket(bucket.name))
        symbols = _history_symbols(bucket, ctx, self.hub)
        bars = self.hub.bars(symbols, load_start, self.end, asset_class=bucket.asset_class)
        if bars.shape[0] == 0 or bars.shape[1] == 0:
            raise DataError(f"no {bucket.asset_class} bars between {load_start} and {self.end}")
        if bucket.benchmark and bucket.benchmark not in bars.symbols:
            extra = self.hub.bars([bucket.benchmark], load_start, self.end)
            if extra.shape[1]:
                bars = bars.merge(extra.select([bucket.benchmark]))
        self.bars = bars
        first = int(bars.index.searchsorted(sessions[0]))
        last = int(bars.index.searchsorted(sessions[-1], side="right"))
        self.period = slice(first, last)
        self.index = bars.index[self.period]
        self.fingerprint = bars_fingerprint(bars)
        self.warnings: list[str] = list(ctx.warnings)
        self._runs: dict[str, TrialRun] = {}
        self._bench: np.ndarray | None = None
        self._abars: Any = None

    # ------------------------------------------------------------------ parameters
    @property
    def n_bars(self) -> int:
        return self.period.stop - self.period.start

    def params_object(self, values: dict[str, Any]) -> Any:
        from tsys.buckets import params_from_dict

        return params_from_dict(self.bucket.Params, values)

    def _settings(self, params: Any) -> Any:
        return attrs.evolve(
            self.config.bucket(self.bucket.name), params=attrs.asdict(params), capital_share=1.0
        )

    def _context(self, params: Any, as_of: dt.date | None = None) -> Any:
        from tsys.buckets import BucketContext

        return BucketContext(
            as_of=as_of or self.end, data=self.hub, settings=self._settings(params)
        )

    def _warn(self, messages: Sequence[str]) -> None:
        for m in messages:
            if m not in self.warnings:
                self.warnings.append(m)

    # ------------------------------------------------------------------ plans and runs
    def plan(self, values: dict[str, Any]) -> Any:
        """The portfolio plan of a parameter set over the whole loaded history."""
        from tsys import plugins
        from tsys.portfolio import plan_positions

        params = self.params_object(values)
        ctx = self._context(params)
        name = self.bucket.name
        owner = plugins.buckets().owner(name) if name in plugins.buckets() else name
        try:
            output = plugins.plugin_safe(owner, self.bucket.compute)(ctx, self.bars, params)
        except TsysError as exc:
            raise StrategyError(f"{name}: compute failed: {exc.message}") from exc
        plan = plan_positions(
            self.bucket,
            ctx,
            self.bars,
            output,
            self._settings(params),
            self.config.risk,
            self.config.overrides,
            self.rebalance,
            params=params,
            equity=self.cash,
        )
        self._warn(ctx.warnings)
        return plan

    def simulate(
        self, tw: np.ndarray, stop: np.ndarray | None, rows: slice, *, costs: Any = None
    ) -> Any:
        """The simulator over ``rows`` of the loaded bars (this workspace's costs by default)."""
        from tsys.backtest.bucket import _sim

        return _sim(self.bars, rows, tw, stop, costs or self.costs, self.cash)

    def run(self, values: dict[str, Any]) -> TrialRun:
        """A parameter set over the whole period (kept by digest)."""
        from tsys.backtest.bucket import order_panels

        params = self.params_object(values)
        key = params_digest(params)
        if key in self._runs:
            return self._runs[key]
        plan = self.plan(values)
        tw, stop = order_panels(plan, self.period)
        res = self.simulate(tw, stop, self.period)
        run = self._trial_run(key, attrs.asdict(params), res)
        self._runs[key] = run
        return run

    def _trial_run(self, key: str, params: dict[str, Any], res: Any) -> TrialRun:
        eq = np.asarray(res.equity, dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            exposure = np.where(eq > 0, (eq - res.cash) / eq, 0.0)
        trades = res.trades
        closed = trades[trades["exit_reason"] != "open"]
        fills = res.fill_arrays
        done = fills["qty"] > 0
        return TrialRun(
            digest=key,
            params=params,
            equity=eq,
            exposure=exposure,
            trade_exits=closed["exit_bar"].to_numpy(dtype=np.int64),
            fill_bars=np.asarray(fills["bar"])[done],
            fill_notional=(np.asarray(fills["qty"]) * np.asarray(fills["price"]))[done],
        )

    def runs(self) -> list[TrialRun]:
        """Every parameter set run so far, in the order they were first run."""
        return list(self._runs.values())

    # ------------------------------------------------------------------ windows
    def benchmark_returns(self) -> np.ndarray | None:
        """The benchmark's buy-and-hold returns over the period (same simulator and costs)."""
        if self._bench is None:
            got = self.anchors(self.period, names=["buy_and_hold"])
            if not got:
                return None
            eq = got[0].equity
            self._bench = eq[1:] / eq[:-1] - 1.0
        return self._bench

    def fold(self, run: TrialRun, stop: int) -> FoldResult:
        """The first ``stop`` bars of a run as one in-sample window (with its benchmark)."""
        stop = max(2, min(stop, len(run.equity)))
        eq = run.equity[:stop]
        mine = run.fill_bars < stop
        years = stop / self.periods_per_year
        turnover = float(run.fill_notional[mine].sum()) / 2.0 / float(np.mean(eq)) / years
        bench = self.benchmark_returns()
        return FoldResult(
            returns=eq[1:] / eq[:-1] - 1.0,
            n_trades=int((run.trade_exits < stop).sum()),
            turnover=turnover,
            start=self.index[0].date(),
            end=self.index[stop - 1].date(),
            exposure=run.exposure[:stop],
            benchmark_returns=None if bench is None else bench[: stop - 1],
        )

    def universe_at(self, values: dict[str, Any]) -> Callable[[dt.date], list[str]]:
        """The bucket's universe on a date (for the equal-weight anchor)."""
        from tsys import plugins

        params = self.params_object(values)
        name = self.bucket.name
        owner = plugins.buckets().owner(name) if name in plugins.buckets() else name
        universe = plugins.plugin_safe(owner, self.bucket.universe)
        bench = self.bucket.benchmark

        def at(day: dt.date) -> list[str]:
            ctx = self._context(params, as_of=day)
            got = [s for s in universe(ctx) if s != bench]
            self._warn(ctx.warnings)
            return got

        return at

    def anchors(
        self,
        rows: slice,
        *,
        values: dict[str, Any] | None = None,
        names: Sequence[str] | None = None,
    ) -> list[AnchorRun]:
        """The anchors (buy and hold first) simulated over ``rows`` of the loaded bars."""
        from tsys.backtest.bucket import _sim, performance
        from tsys.research.anchors import ANCHORS, anchor_plans, orders

        universe = None
        if names is None or "equal_weight" in names:
            universe = self.universe_at(values or attrs.asdict(self.bucket.default_params()))
        plans = anchor_plans(
            self._anchor_bars(),
            self.bucket.benchmark,
            universe_at=universe,
            equity=AssetClass(self.bucket.asset_class) is AssetClass.EQUITY,
            names=names,
        )
        bars = self._anchor_bars()
        out = []
        cap = self.costs.capacity.max_participation
        for plan in plans:
            res = _sim(bars, rows, orders(plan, rows), None, self.costs, self.cash)
            m = performance(
                res,
                bars.volume[rows],
                periods_per_year=self.periods_per_year,
                max_participation=cap,
            )
            out.append(AnchorRun(plan.name, ANCHORS[plan.name], np.asarray(res.equity), m))
        return out

    def _anchor_bars(self) -> Any:
        """The bucket's bars plus the funds dual momentum needs (equity buckets)."""
        if self._abars is not None:
            return self._abars
        from tsys.research.anchors import BONDS, INTERNATIONAL

        bars = self.bars
        if AssetClass(self.bucket.asset_class) is AssetClass.EQUITY:
            want = [s for s in (INTERNATIONAL, *BONDS) if s not in bars.symbols]
            if want:
                extra = self.hub.bars(want, bars.index[0].date(), self.end)
                extra = extra.select([s for s in want if s in extra.symbols])
                if extra.shape[1]:
                    bars = bars.merge(_aligned(extra, bars.index))
        self._abars = bars
        return bars


def _aligned(bars: Any, index: pd.DatetimeIndex) -> Any:
    """``bars`` on exactly the dates of ``index`` (missing dates NaN, extra dates dropped)."""
    from tsys.data import Bars

    rows = bars.index.get_indexer(index)
    fields = {
        f: np.where(rows[:, None] >= 0, getattr(bars, f)[rows], np.nan)
        for f in ("open", "high", "low", "close", "volume")
    }
    return Bars(
        index,
        bars.symbols,
        **fields,
        asset_classes=bars.asset_classes,
        source=bars.source,
        synthetic=bars.synthetic,
    )
