"""A research lab: one bucket on one data set, ready to evaluate many parameter sets quickly.

Everything goes through the code ``tsys backtest`` runs: the bucket step
(:func:`tsys.portfolio.step.bucket_step`: the warm-up rule, the bucket's history symbols,
compute under the plugin guard, :func:`tsys.portfolio.plan_positions`), the simulator with the
bucket's default costs, so a run of the current parameters over the period equals
``tsys backtest BUCKET --start <period start> --end <period end>``.

Speed: bars load once per symbol list (a memoising hub). A parameter set costs one step over the
whole loaded history and one simulation over the research period; every in-sample window of an
anchored walk-forward starts where the period starts, so its figures are a prefix of that one
simulation (compute, portfolio construction and the simulator never look ahead: a prefix of a
run is the run of the prefix). Runs are kept by parameter digest, so a parameter set met again
(the current parameters, a later fold re-reading earlier trials) costs nothing.

Every series a lab returns is aligned to the period's sessions (:attr:`Lab.index`): a parameter
set whose history symbols differ (e.g. ETFs only) may load a panel with other dates; its equity
is carried over the sessions it lacks.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

import attrs
import numpy as np
import pandas as pd

from tsys.backtest.bucket import period_sessions
from tsys.contracts import AssetClass
from tsys.data.bars import FIELDS
from tsys.optimize.evaluate import FoldResult
from tsys.paramsets import params_digest


def carried(src: pd.DatetimeIndex, values: np.ndarray, dst: pd.DatetimeIndex, first: float):
    """``values`` on ``src`` dates, read on ``dst`` dates: the last value at or before each
    date, ``first`` before any."""
    pos = src.searchsorted(dst, side="right") - 1
    out = np.asarray(values, dtype=np.float64)[np.maximum(pos, 0)]
    return np.where(pos >= 0, out, first)


@attrs.frozen(eq=False)
class TrialRun:
    """One parameter set simulated over the whole research period (P sessions)."""

    digest: str
    params: dict[str, Any]
    equity: np.ndarray
    exposure: np.ndarray
    #: Session (within the period) on which each closed trade exited.
    trade_exits: np.ndarray
    fill_bars: np.ndarray
    fill_notional: np.ndarray

    @property
    def returns(self) -> np.ndarray:
        return self.equity[1:] / self.equity[:-1] - 1.0


@attrs.frozen(eq=False)
class AnchorRun:
    """An anchor (or the benchmark) simulated over a window, on that window's sessions."""

    name: str
    label: str
    equity: np.ndarray
    metrics: dict[str, float]


class Lab:
    """A bucket, its data and costs, and a cache of parameter runs (see the module docstring).

    Parameters
    ----------
    bucket, hub, config
        The bucket, a data hub (wrapped in a memoising :class:`~tsys.data.memo.CachedHub`
        unless it is one) and the configuration (risk limits, sizing, account size).
    start, end
        The research period (default: the bucket's whole history, as ``tsys backtest``).
    costs, cash, cash_rate
        Default: the bucket's default costs, ``[account] size`` and ``[account] cash_rate``
        (interest on idle cash, for the bucket, the anchors and the benchmark alike).
    values
        The parameters whose panel is the lab's own (anchors, the random-entry universe);
        default: the bucket's defaults.
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
        values: dict[str, Any] | None = None,
        cash_rate: float | None = None,
    ) -> None:
        from tsys.data.fingerprint import bars_fingerprint
        from tsys.data.memo import CachedHub
        from tsys.portfolio.step import History
        from tsys.sim import default_costs

        self.bucket = bucket
        self.hub = hub if isinstance(hub, CachedHub) else CachedHub(hub)
        self.config = config
        self.costs = costs or default_costs(bucket.asset_class)
        self.cash = float(cash if cash is not None else config.account.size)
        self.cash_rate = float(config.account.cash_rate if cash_rate is None else cash_rate)
        self.periods_per_year = AssetClass(bucket.asset_class).periods_per_year
        self.settings = attrs.evolve(config.bucket(bucket), capital_share=1.0)
        self.index = period_sessions(self.hub, bucket, start, end)
        self.end = self.index[-1].date()
        self.window = History(
            start=self.index[0].date(), end=self.end, equity=self.cash, rebalance=rebalance
        )
        self.warnings: list[str] = []
        self.values = dict(values or attrs.asdict(bucket.default_params()))
        self.bars = self.panel(self.values)
        self.fingerprint = bars_fingerprint(self.bars)
        self._runs: dict[str, TrialRun] = {}
        self._bench: np.ndarray | None = None
        self._abars: Any = None

    # ------------------------------------------------------------------ parameters
    @property
    def n_bars(self) -> int:
        return len(self.index)

    def params_object(self, values: dict[str, Any]) -> Any:
        from tsys.buckets import params_from_dict

        return params_from_dict(self.bucket.Params, values)

    def context(self, values: dict[str, Any], as_of: dt.date | None = None) -> Any:
        from tsys.buckets import BucketContext

        return BucketContext(
            as_of=as_of or self.end,
            data=self.hub,
            settings=self.settings,
            params=self.params_object(values),
        )

    def _warn(self, messages: Sequence[str]) -> None:
        for m in messages:
            if m not in self.warnings:
                self.warnings.append(m)

    def rows(self, bars: Any, start: Any = None, end: Any = None) -> slice:
        """Rows of ``bars`` from ``start`` to ``end`` (default: the research period)."""
        lo = pd.Timestamp(start if start is not None else self.index[0])
        hi = pd.Timestamp(end if end is not None else self.index[-1])
        lo = lo.tz_localize("UTC") if lo.tzinfo is None else lo
        hi = hi.tz_localize("UTC") if hi.tzinfo is None else hi
        return slice(int(bars.index.searchsorted(lo)), int(bars.index.searchsorted(hi, "right")))

    # ------------------------------------------------------------------ steps and runs
    def panel(self, values: dict[str, Any]) -> Any:
        """The bars a parameter set computes on (its history symbols, the warm-up included)."""
        from tsys.portfolio.step import load_bars

        ctx = self.context(values)
        bars = load_bars(self.bucket, ctx, self.config, self.window)
        self._warn(ctx.warnings)
        return bars

    def step(self, values: dict[str, Any]) -> Any:
        """The bucket step of a parameter set over the whole loaded history."""
        from tsys.portfolio.step import bucket_step

        ctx = self.context(values)
        step = bucket_step(self.bucket, ctx, self.config, self.window)
        self._warn(ctx.warnings)
        return step

    def simulate(
        self, bars: Any, tw: np.ndarray, stop: np.ndarray | None, rows: slice, *, costs: Any = None
    ) -> Any:
        """The simulator over ``rows`` of ``bars`` (this lab's costs by default)."""
        from tsys.backtest.bucket import _sim

        return _sim(bars, rows, tw, stop, costs or self.costs, self.cash, self.cash_rate)

    def run(self, values: dict[str, Any]) -> TrialRun:
        """A parameter set over the whole period (kept by digest)."""
        from tsys.backtest.bucket import order_panels

        params = self.params_object(values)
        key = params_digest(params)
        if key in self._runs:
            return self._runs[key]
        step = self.step(attrs.asdict(params))
        rows = self.rows(step.bars)
        tw, stop = order_panels(step.plan, rows)
        res = self.simulate(step.bars, tw, stop, rows)
        run = self._trial_run(key, attrs.asdict(params), step.bars.index[rows], res)
        self._runs[key] = run
        return run

    def _trial_run(self, key: str, params: dict[str, Any], dates: Any, res: Any) -> TrialRun:
        eq = np.asarray(res.equity, dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            exposure = np.where(eq > 0, (eq - res.cash) / eq, 0.0)
        trades = res.trades
        closed = trades[trades["exit_reason"] != "open"]
        fills = res.fill_arrays
        done = fills["qty"] > 0

        def session(bars_: np.ndarray) -> np.ndarray:
            return self.index.searchsorted(dates[np.asarray(bars_, dtype=np.int64)])

        return TrialRun(
            digest=key,
            params=params,
            equity=carried(dates, eq, self.index, self.cash),
            exposure=carried(dates, exposure, self.index, 0.0),
            trade_exits=session(closed["exit_bar"].to_numpy(dtype=np.int64)),
            fill_bars=session(np.asarray(fills["bar"])[done]),
            fill_notional=(np.asarray(fills["qty"]) * np.asarray(fills["price"]))[done],
        )

    def runs(self) -> list[TrialRun]:
        """Every parameter set run so far, in the order they were first run."""
        return list(self._runs.values())

    # ------------------------------------------------------------------ windows
    def benchmark_returns(self) -> np.ndarray | None:
        """The benchmark's buy-and-hold returns over the period (same simulator and costs)."""
        if self._bench is None:
            got = self.anchors(self.index[0], self.index[-1], names=["buy_and_hold"])
            if not got:
                return None
            eq = got[0].equity
            self._bench = eq[1:] / eq[:-1] - 1.0
        return self._bench

    def fold(self, run: TrialRun, stop: int) -> FoldResult:
        """The first ``stop`` sessions of a run as one in-sample window (with its benchmark)."""
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
        from tsys.portfolio.step import owner_of

        universe = plugins.plugin_safe(owner_of(self.bucket), self.bucket.universe)
        bench = self.bucket.benchmark

        def at(day: dt.date) -> list[str]:
            ctx = self.context(values, as_of=day)
            got = [s for s in universe(ctx) if s != bench]
            self._warn(ctx.warnings)
            return got

        return at

    def anchors(
        self, start: Any, end: Any, *, names: Sequence[str] | None = None
    ) -> list[AnchorRun]:
        """The anchors (buy and hold first) from ``start`` to ``end``, on the period's sessions
        in that window."""
        from tsys.backtest.bucket import _sim, performance
        from tsys.research.anchors import ANCHORS, anchor_plans, orders

        bars = self._anchor_bars()
        universe = None
        if names is None or "equal_weight" in names:
            universe = self.universe_at(self.values)
        plans = anchor_plans(
            bars,
            self.bucket.benchmark,
            universe_at=universe,
            equity=AssetClass(self.bucket.asset_class) is AssetClass.EQUITY,
            names=names,
        )
        rows = self.rows(bars, start, end)
        dates = self.index[self.rows_of_period(start, end)]
        out = []
        cap = self.costs.capacity.max_participation
        for plan in plans:
            res = _sim(bars, rows, orders(plan, rows), None, self.costs, self.cash, self.cash_rate)
            m = performance(
                res,
                bars.volume[rows],
                periods_per_year=self.periods_per_year,
                max_participation=cap,
            )
            eq = carried(bars.index[rows], np.asarray(res.equity), dates, self.cash)
            out.append(AnchorRun(plan.name, ANCHORS[plan.name], eq, m))
        return out

    def rows_of_period(self, start: Any, end: Any) -> slice:
        """Positions in :attr:`index` from ``start`` to ``end``."""
        lo, hi = pd.Timestamp(start), pd.Timestamp(end)
        lo = lo.tz_localize("UTC") if lo.tzinfo is None else lo
        hi = hi.tz_localize("UTC") if hi.tzinfo is None else hi
        return slice(int(self.index.searchsorted(lo)), int(self.index.searchsorted(hi, "right")))

    def _anchor_bars(self) -> Any:
        """The lab's bars plus the funds dual momentum needs (equity buckets)."""
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
                    bars = bars.merge(aligned(extra, bars.index))
        self._abars = bars
        return bars


def aligned(bars: Any, index: pd.DatetimeIndex) -> Any:
    """``bars`` on exactly the dates of ``index`` (missing dates NaN, extra dates dropped)."""
    from tsys.data import Bars

    rows = bars.index.get_indexer(index)
    fields = {f: np.where(rows[:, None] >= 0, getattr(bars, f)[rows], np.nan) for f in FIELDS}
    return Bars(
        index,
        bars.symbols,
        **fields,
        asset_classes=bars.asset_classes,
        source=bars.source,
        synthetic=bars.synthetic,
    )


def union(panels: Sequence[Any]) -> Any:
    """One panel holding every symbol and date of ``panels`` (the same data underneath)."""
    from tsys.data import Bars

    first = panels[0]
    if all(p is first for p in panels):
        return first
    index = first.index
    for p in panels[1:]:
        index = index.union(p.index)
    symbols: dict[str, tuple[Any, int]] = {}
    for p in panels:
        for j, s in enumerate(p.symbols):
            symbols.setdefault(s, (p, j))
    fields = {f: np.full((len(index), len(symbols)), np.nan) for f in FIELDS}
    classes = []
    for k, (p, j) in enumerate(symbols.values()):
        rows = index.get_indexer(p.index)
        for f in fields:
            fields[f][rows, k] = getattr(p, f)[:, j]
        classes.append(p.asset_classes[j])
    return Bars(
        index,
        list(symbols),
        **fields,
        asset_classes=classes,
        source=first.source,
        synthetic=any(p.synthetic for p in panels),
    )
