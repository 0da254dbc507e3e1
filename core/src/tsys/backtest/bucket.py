"""The glue from a bucket to the simulator: the same compute and portfolio code as the daily run.

:func:`backtest_bucket` runs the bucket step the daily run runs
(:func:`tsys.portfolio.step.bucket_step`: bars with warm-up history before ``start``,
``bucket.compute`` over the whole panel, positions planned by
:func:`tsys.portfolio.plan_positions`), turns the plan into target weights and hands them to
:func:`tsys.sim.simulate` with realistic default costs. The benchmark is bought and held through
the same simulator with the same costs. Weights are sent only when they change (NaN otherwise),
so held positions are not rebalanced every bar; a stop level goes with every entry.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np
import pandas as pd

from tsys.contracts import AssetClass
from tsys.errors import DataError
from tsys.serialization import json_ready

if TYPE_CHECKING:
    from tsys.buckets import Bucket
    from tsys.config import Config
    from tsys.data import Bars, DataHub
    from tsys.portfolio.history import PositionPlan
    from tsys.sim import CostModel, SimResult


@attrs.define(eq=False)
class BucketBacktest:
    """Everything one bucket backtest produced (see :meth:`to_json` for the figures)."""

    bucket: str
    version: str
    asset_class: AssetClass
    params: dict[str, Any]
    start: dt.date
    end: dt.date
    split: str | None
    cash: float
    costs: str
    source: str
    synthetic: bool
    benchmark: str | None
    rebalance: str
    index: pd.DatetimeIndex
    equity: np.ndarray
    benchmark_equity: np.ndarray | None
    exposure: np.ndarray
    trades: pd.DataFrame
    fills: pd.DataFrame
    metrics: dict[str, float]
    benchmark_metrics: dict[str, float] | None
    plan_stats: dict[str, Any]
    warnings: list[str]
    #: Annual rate idle cash earned (``[account] cash_rate``) and what it earned in total;
    #: it is in ``equity``, and :attr:`trading_pnl` is the rest of the gain.
    cash_rate: float = 0.0
    interest: float = 0.0

    @property
    def trading_pnl(self) -> float:
        """The gain from trading alone: final equity less the start cash and the interest."""
        return float(self.equity[-1] - self.cash - self.interest) if len(self.equity) else 0.0

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready summary: metadata, both metric sets, daily equity curves, trades."""

        trades = []
        for row in self.trades.itertuples(index=False):
            d = row._asdict()
            for k in ("entry_bar", "exit_bar"):
                b = int(d[k])
                d[k.replace("_bar", "_date")] = self.index[b].date().isoformat()
            trades.append(d)
        return json_ready(
            {
                "bucket": self.bucket,
                "version": self.version,
                "asset_class": str(self.asset_class),
                "params": self.params,
                "start": self.index[0].date().isoformat() if len(self.index) else None,
                "end": self.index[-1].date().isoformat() if len(self.index) else None,
                "split": self.split,
                "cash": self.cash,
                "cash_rate": self.cash_rate,
                "interest": self.interest,
                "trading_pnl": self.trading_pnl,
                "costs": self.costs,
                "source": self.source,
                "synthetic": self.synthetic,
                "benchmark": self.benchmark,
                "rebalance": self.rebalance,
                "metrics": self.metrics,
                "benchmark_metrics": self.benchmark_metrics,
                "plan": self.plan_stats,
                "warnings": self.warnings,
                "dates": [d.date().isoformat() for d in self.index],
                "equity": [float(x) for x in self.equity],
                "benchmark_equity": (
                    None
                    if self.benchmark_equity is None
                    else [float(x) for x in self.benchmark_equity]
                ),
                "trades": trades,
            }
        )


def performance(
    res: SimResult, volume: np.ndarray, *, periods_per_year: int, max_participation: float | None
) -> dict[str, float]:
    """The project's metrics (:func:`tsys.metrics.compute`) of one simulation."""
    from tsys import metrics

    got = metrics.compute(
        res.equity,
        trades=res.trades,
        fills=res.fills,
        positions_value=res.equity - res.cash,
        volume=volume,
        max_participation=max_participation or 0.025,
        periods_per_year=periods_per_year,
    )
    out = {k: float(v) for k, v in got.items() if isinstance(v, int | float)}
    if "trade_count" in out:
        out["trades"] = out["trade_count"]
    return out


def halt_stats(res: SimResult, bars: Bars, rows: slice) -> dict[str, float]:
    """How stops and halts (bars without volume) met the positions of a backtest.

    ``stop_exits``: stop fills; ``stop_gap_share``: the share of them filled at an open that
    gapped through the stop (an overnight gap, or the first tradeable open after a halt);
    ``stops_after_halt``: stop fills on the first bar after a halted one;
    ``halted_position_days``: bars a position sat on while its symbol did not trade.
    """
    f = res.fills
    o, v = bars.open[rows], bars.base_volume()[rows]
    halted = ~(v > 0)
    stops = f[(f["qty"] > 0) & f["reason"].isin(["stop", "trailing_stop"])]
    t = stops["bar"].to_numpy(dtype=np.int64)
    j = stops["symbol_index"].to_numpy(dtype=np.int64)
    at_open = stops["ref_price"].to_numpy(dtype=np.float64) == o[t, j]
    after = (t > 0) & halted[np.maximum(t - 1, 0), j]
    col = {s: k for k, s in enumerate(bars.symbols)}
    days = 0
    for tr in res.trades.itertuples(index=False):
        k = col[tr.symbol] if isinstance(tr.symbol, str) else int(tr.symbol)
        days += int(halted[int(tr.entry_bar) + 1 : int(tr.exit_bar) + 1, k].sum())
    n = len(stops)
    return {
        "stop_exits": float(n),
        "stop_gap_share": float(at_open.mean()) if n else float("nan"),
        "stops_after_halt": float(after.sum()),
        "halted_position_days": float(days),
    }


def _sim(
    bars: Bars,
    rows: slice,
    tw: np.ndarray,
    stop: np.ndarray | None,
    costs,
    cash: float,
    cash_rate: float = 0.0,
    *,
    grid: bool = False,
):
    """The simulator over ``rows``: idle cash earns ``cash_rate`` a year by calendar days.
    With ``grid`` the decisions are K x T x N panels simulated in one pass (a ``GridResult``)."""
    from tsys.sim import simulate, simulate_grid

    lot = [a.lot_size for a in bars.asset_classes]
    return (simulate_grid if grid else simulate)(
        bars.open[rows],
        bars.high[rows],
        bars.low[rows],
        bars.close[rows],
        bars.base_volume()[rows],  # the fill cap counts units of the asset
        target_weights=tw,
        stop_price=stop,
        costs=costs,
        lot_size=np.asarray(lot),
        cash=cash,
        index=bars.index[rows],
        symbols=bars.symbols,
        record_positions=False,  # only equity, cash, fills and trades are used
        cash_rate=cash_rate,
    )


def order_panels(plan: PositionPlan, rows: slice) -> tuple[np.ndarray, np.ndarray]:
    """Weights only where they change (NaN: leave alone) and stops on entry bars, for ``rows``.

    The first row of the window carries the whole plan so a backtest starting mid-history
    buys what the plan holds on that day.
    """
    w = plan.weights[rows]
    prev = np.vstack([np.full((1, w.shape[1]), np.nan), w[:-1]])
    changed = w != prev
    changed[0] = True
    tw = np.where(changed, w, np.nan)
    entry = plan.entry_rows[rows]
    t_abs = np.arange(rows.start or 0, (rows.start or 0) + w.shape[0])[:, None]
    new = (entry == t_abs) | ((entry >= 0) & (t_abs == (rows.start or 0)))
    stop = np.where(new, plan.stop[rows], np.nan)
    return tw, stop


def _buy_and_hold(bars: Bars, rows: slice, j: int, costs, cash: float, rate: float):
    """The benchmark column ``j`` bought at its first priced bar of ``rows`` and held (None
    when it has no price in the window)."""
    bw = np.full((rows.stop - rows.start, bars.shape[1]), np.nan)
    valid = np.flatnonzero(np.isfinite(bars.close[rows, j]))
    if not len(valid):
        return None
    bw[valid[0], :] = 0.0
    bw[valid[0], j] = 0.99  # leave room for fees and slippage
    return _sim(bars, rows, bw, None, costs, cash, rate)


@attrs.define(eq=False)
class PlannedBacktest:
    """A backtest up to the simulator: the bucket step's plan as order panels over ``rows``.

    :func:`backtest_bucket` simulates it (:meth:`simulate`) and finishes it
    (:func:`finish_backtest`); :func:`tsys.backtest.grid.backtest_many` simulates the plans of
    many parameter sets over one panel in one pass and finishes each the same way.
    """

    bucket: Bucket
    hub: DataHub
    ctx: Any
    params: Any
    split: str | None
    cash: float
    costs: CostModel
    rate: float
    rebalance: str
    rules: tuple[Any, ...]
    step: Any
    rows: slice
    tw: np.ndarray
    stop: np.ndarray

    @property
    def bars(self) -> Bars:
        return self.step.bars

    @property
    def has_benchmark(self) -> bool:
        return bool(self.bucket.benchmark and self.bucket.benchmark in self.bars.symbols)

    def simulate(self) -> SimResult:
        return _sim(self.bars, self.rows, self.tw, self.stop, self.costs, self.cash, self.rate)

    def benchmark(self) -> tuple[np.ndarray, dict[str, float]] | None:
        """The benchmark bought and held over the window: its equity and metrics (None when
        the bucket has none, or it has no price in the window)."""
        if not self.has_benchmark:
            return None
        bars, rows = self.bars, self.rows
        j = bars.column(self.bucket.benchmark)
        bres = _buy_and_hold(bars, rows, j, self.costs, self.cash, self.rate)
        if bres is None:
            return None
        volume = bars.base_volume()[rows]
        ppy = AssetClass(self.bucket.asset_class).periods_per_year
        cap = self.costs.capacity.max_participation
        return bres.equity, performance(bres, volume, periods_per_year=ppy, max_participation=cap)


def plan_backtest(
    bucket: Bucket,
    hub: DataHub,
    config: Config,
    *,
    params: Any = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
    split: str | None = None,
    cash: float | None = None,
    costs: CostModel | None = None,
    rebalance: str = "daily",
    capital_share: float = 1.0,
    progress: Callable[[str], None] | None = None,
    min_universe_share: float | None = None,
    cash_rate: float | None = None,
    rules: tuple[Any, ...] = (),
) -> PlannedBacktest:
    """The bucket step of a backtest from ``start`` to ``end`` (inclusive) and its order panels,
    ready to simulate (:func:`backtest_bucket` simulates it and its buy-and-hold benchmark).

    The bucket trades its own sleeve: ``capital_share`` (default 1.0, all of ``cash``) replaces
    the configured share so the figures describe the strategy, not the account mix; max
    positions, sizing and every risk cap come from the configuration. ``min_universe_share``
    (research: :data:`tsys.data.coverage.MIN_UNIVERSE_SHARE`) makes a named universe that is
    mostly missing over the window an error (:class:`~tsys.data.coverage.UniverseMissing`).
    Idle cash earns ``cash_rate`` a year (default ``[account] cash_rate``), the benchmark's
    too; the bucket's interest is reported apart (:attr:`BucketBacktest.interest`).
    ``rules`` are ``tsys override`` rules replayed on the bars they hold on
    (:mod:`tsys.backtest.replay`).
    """
    from tsys.buckets import BucketContext
    from tsys.portfolio.step import History, bucket_step
    from tsys.sim import default_costs

    params = params if params is not None else bucket.default_params()
    settings = attrs.evolve(config.bucket(bucket), capital_share=capital_share)
    cash = float(cash if cash is not None else config.account.size)
    costs = costs or default_costs(bucket.asset_class)
    rate = float(config.account.cash_rate if cash_rate is None else cash_rate)
    end = end or dt.date.today()
    ctx = BucketContext(as_of=end, data=hub, settings=settings, params=params)
    span = History(
        start=start,
        end=end,
        equity=cash,
        rebalance=rebalance,
        min_universe_share=min_universe_share,
        rules=tuple(rules),
    )
    step = bucket_step(bucket, ctx, config, span, progress=progress)
    idx = step.bars.index
    first = 0 if start is None else int(idx.searchsorted(pd.Timestamp(start, tz="UTC")))
    last = int(idx.searchsorted(pd.Timestamp(end, tz="UTC"), side="right"))
    if last - first < 2:
        raise DataError(f"fewer than two bars between {start} and {end}")
    rows = slice(first, last)
    tw, stop = order_panels(step.plan, rows)
    return PlannedBacktest(
        bucket=bucket, hub=hub, ctx=ctx, params=params, split=split, cash=cash, costs=costs,
        rate=rate, rebalance=rebalance, rules=tuple(rules), step=step, rows=rows, tw=tw,
        stop=stop,
    )  # fmt: skip


def finish_backtest(
    p: PlannedBacktest,
    res: SimResult,
    benchmark: tuple[np.ndarray, dict[str, float]] | None,
) -> BucketBacktest:
    """The :class:`BucketBacktest` of a planned backtest, from its simulation ``res`` and
    its benchmark's equity and metrics (:meth:`PlannedBacktest.benchmark`)."""
    bucket, bars, rows, plan = p.bucket, p.bars, p.rows, p.step.plan
    output = p.step.output
    ppy = AssetClass(bucket.asset_class).periods_per_year
    window = bars.index[rows]
    cap = p.costs.capacity.max_participation
    volume = bars.base_volume()[rows]  # participation: filled units / the bar's units
    metrics = performance(res, volume, periods_per_year=ppy, max_participation=cap)
    metrics.update(halt_stats(res, bars, rows))
    with np.errstate(divide="ignore", invalid="ignore"):
        exposure = np.where(res.equity > 0, (res.equity - res.cash) / res.equity, 0.0)
    bench_eq = bench_metrics = None
    if benchmark is not None:
        bench_eq, bench_metrics = benchmark[0], dict(benchmark[1])
    stats = {
        "exit_reasons": _count(plan.exit_reasons.values()),
        "rejections": plan.rejections,
        "capped": plan.capped,
        "mean_positions": float((plan.weights[rows] > 0).sum(axis=1).mean()),
        "regime_risk_on_share": (
            float(np.mean(output.regime[rows] > 0)) if output.regime is not None else None
        ),
    }
    if p.rules:
        from tsys.backtest.replay import replayed

        stats["overrides"] = replayed(p.rules, window)
    return BucketBacktest(
        bucket=bucket.name,
        version=bucket.version,
        asset_class=bucket.asset_class,
        params=attrs.asdict(p.params),
        start=window[0].date(),
        end=window[-1].date(),
        split=p.split,
        cash=p.cash,
        costs=p.costs.describe(),
        source=bars.source,
        synthetic=bool(bars.synthetic or p.hub.synthetic),
        benchmark=bucket.benchmark,
        rebalance=p.rebalance,
        index=window,
        equity=res.equity,
        benchmark_equity=bench_eq,
        exposure=exposure,
        trades=res.trades,
        fills=res.fills,
        metrics=metrics,
        benchmark_metrics=bench_metrics,
        plan_stats=stats,
        warnings=list(p.ctx.warnings) + list(p.hub.ctx.warnings),
        cash_rate=p.rate,
        interest=res.interest_earned,
    )


def backtest_bucket(bucket: Bucket, hub: DataHub, config: Config, **options: Any) -> BucketBacktest:
    """Backtest one bucket and its buy-and-hold benchmark: :func:`plan_backtest` (whose
    keyword ``options`` it takes), simulated and measured."""
    planned = plan_backtest(bucket, hub, config, **options)
    say = options.get("progress") or (lambda _msg: None)
    say("simulating")
    res = planned.simulate()
    if planned.has_benchmark:
        say("benchmark")
    return finish_backtest(planned, res, planned.benchmark())


def _count(values: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for v in values:
        out[v] = out.get(v, 0) + 1
    return out


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
