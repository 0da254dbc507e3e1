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


def _sim(bars: Bars, rows: slice, tw: np.ndarray, stop: np.ndarray | None, costs, cash: float):
    from tsys.sim import simulate

    lot = [a.lot_size for a in bars.asset_classes]
    return simulate(
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


def backtest_bucket(
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
    rules: tuple[Any, ...] = (),
) -> BucketBacktest:
    """Backtest one bucket from ``start`` to ``end`` (inclusive) and its buy-and-hold benchmark.

    The bucket trades its own sleeve: ``capital_share`` (default 1.0, all of ``cash``) replaces
    the configured share so the figures describe the strategy, not the account mix; max
    positions, sizing and every risk cap come from the configuration. ``min_universe_share``
    (research: :data:`tsys.data.coverage.MIN_UNIVERSE_SHARE`) makes a named universe that is
    mostly missing over the window an error (:class:`~tsys.data.coverage.UniverseMissing`).
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
    bars, output, plan = step.bars, step.output, step.plan
    say = progress or (lambda _msg: None)
    idx = bars.index
    first = 0 if start is None else int(idx.searchsorted(pd.Timestamp(start, tz="UTC")))
    last = int(idx.searchsorted(pd.Timestamp(end, tz="UTC"), side="right"))
    if last - first < 2:
        raise DataError(f"fewer than two bars between {start} and {end}")
    rows = slice(first, last)
    tw, stop = order_panels(plan, rows)
    say("simulating")
    res = _sim(bars, rows, tw, stop, costs, cash)
    ppy = AssetClass(bucket.asset_class).periods_per_year
    window = idx[rows]
    cap = costs.capacity.max_participation
    volume = bars.base_volume()[rows]  # participation: filled units / the bar's units
    metrics = performance(res, volume, periods_per_year=ppy, max_participation=cap)
    with np.errstate(divide="ignore", invalid="ignore"):
        exposure = np.where(res.equity > 0, (res.equity - res.cash) / res.equity, 0.0)
    bench_eq = bench_metrics = None
    if bucket.benchmark and bucket.benchmark in bars.symbols:
        say("benchmark")
        j = bars.column(bucket.benchmark)
        bw = np.full((last - first, bars.shape[1]), np.nan)
        valid = np.flatnonzero(np.isfinite(bars.close[rows, j]))
        if len(valid):
            bw[valid[0], :] = 0.0
            bw[valid[0], j] = 0.99  # leave room for fees and slippage
            bres = _sim(bars, rows, bw, None, costs, cash)
            bench_eq = bres.equity
            bench_metrics = performance(bres, volume, periods_per_year=ppy, max_participation=cap)
    stats = {
        "exit_reasons": _count(plan.exit_reasons.values()),
        "rejections": plan.rejections,
        "capped": plan.capped,
        "mean_positions": float((plan.weights[rows] > 0).sum(axis=1).mean()),
        "regime_risk_on_share": (
            float(np.mean(output.regime[rows] > 0)) if output.regime is not None else None
        ),
    }
    if rules:
        from tsys.backtest.replay import replayed

        stats["overrides"] = replayed(tuple(rules), window)
    return BucketBacktest(
        bucket=bucket.name,
        version=bucket.version,
        asset_class=bucket.asset_class,
        params=attrs.asdict(params),
        start=window[0].date(),
        end=window[-1].date(),
        split=split,
        cash=cash,
        costs=costs.describe(),
        source=bars.source,
        synthetic=bool(bars.synthetic or hub.synthetic),
        benchmark=bucket.benchmark,
        rebalance=rebalance,
        index=window,
        equity=res.equity,
        benchmark_equity=bench_eq,
        exposure=exposure,
        trades=res.trades,
        fills=res.fills,
        metrics=metrics,
        benchmark_metrics=bench_metrics,
        plan_stats=stats,
        warnings=list(ctx.warnings) + list(hub.ctx.warnings),
    )


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
