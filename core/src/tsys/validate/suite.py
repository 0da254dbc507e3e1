"""The validation suite: statistics and stress tests of a bucket's parameters, with gates.

Period: without ``holdout`` the suite backtests train + validation (everything except the
sealed holdout; the optimiser chose on the validation part, which the deflated Sharpe accounts
for with the study's real trial count). With ``holdout`` it backtests the holdout split only,
and the use is recorded by :mod:`tsys.backtest.splits`.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from typing import Any

import attrs
import numpy as np
import pandas as pd

from tsys import metrics
from tsys.serialization import json_ready
from tsys.validate import stats
from tsys.validate.gates import GateResult, evaluate_gates, params_digest
from tsys.validate.stress import DelayedBucket, one_way_cost, random_half, scaled_costs

#: 2: drawdowns are negative fractions (tsys.metrics), were positive in 1.
SCHEMA_VERSION = 2

#: Crash windows checked when the period covers them (start, end, label).
CRASH_WINDOWS = (
    ("2008-09-01", "2009-03-31", "2008-09 to 2009-03 (financial crisis)"),
    ("2020-02-01", "2020-04-30", "2020-02 to 2020-04 (covid crash)"),
    ("2022-01-01", "2022-12-31", "2022 (rate shock, crypto winter)"),
)


@attrs.frozen
class IntervalFigure:
    value: float
    low: float
    high: float
    level: float


@attrs.frozen
class StressResult:
    name: str
    sharpe: float
    cagr: float
    max_drawdown: float
    n_trades: int
    note: str = ""


@attrs.frozen
class CrashResult:
    window: str
    start: str
    end: str
    strategy_return: float
    strategy_max_drawdown: float
    benchmark_return: float | None
    benchmark_max_drawdown: float | None


@attrs.define
class ValidationReport:
    """Everything ``tsys validate`` found; ``to_json`` is what is saved."""

    bucket: str
    version: str
    params: dict[str, Any]
    params_digest: str
    params_file: str | None
    study: str | None
    n_trials: int
    period: str
    start: str
    end: str
    holdout: bool
    source: str
    synthetic: bool
    costs: str
    figures: dict[str, Any]
    sharpe_ci: IntervalFigure
    cagr_ci: IntervalFigure
    drawdown_mc: dict[str, Any]
    random_entry: dict[str, Any]
    stress: list[StressResult]
    crashes: list[CrashResult]
    sensitivity: dict[str, Any] | None
    gates: list[GateResult]
    passed: bool
    warnings: list[str]
    created: str
    schema_version: int = SCHEMA_VERSION
    #: ``[account] cash_rate`` and, over the validated period, what idle cash earned and the
    #: rest of the gain (trading PnL); the figures above include the interest.
    cash_rate: float = 0.0
    interest: float = 0.0
    trading_pnl: float = 0.0

    def to_json(self) -> dict[str, Any]:

        return json_ready(attrs.asdict(self))


def _returns(equity: np.ndarray) -> np.ndarray:
    eq = np.asarray(equity, dtype=np.float64)
    return eq[1:] / eq[:-1] - 1.0


def _stress_row(name: str, bt: Any, ppy: int, note: str = "") -> StressResult:
    r = _returns(bt.equity)
    return StressResult(
        name=name,
        sharpe=metrics.sharpe(r, ppy),
        cagr=metrics.cagr(r, ppy),
        max_drawdown=metrics.max_drawdown(r),
        n_trades=len(bt.trades),
        note=note,
    )


def _perturbed(params: dict[str, Any], space: dict[str, Any], rng: np.random.Generator) -> dict:
    """Every searchable numeric parameter moved by +-10% (random sign; integers by at least
    one), kept in its range."""
    out = dict(params)
    for name, s in space.items():
        if s["kind"] == "categorical":
            continue
        v = params[name]
        sign = 1.0 if rng.random() < 0.5 else -1.0
        step = abs(v) * 0.10 if v != 0 else (float(s["high"]) - float(s["low"])) * 0.10
        if s["kind"] == "int":
            step = max(1, round(step))  # integers move by at least one
        new = min(float(s["high"]), max(float(s["low"]), v + sign * step))
        out[name] = round(new) if s["kind"] == "int" else new
    return out


def run_validation(
    ev: Any,
    params: dict[str, Any],
    *,
    params_doc: dict[str, Any] | None = None,
    params_file: str | None = None,
    holdout: bool = False,
    n_bootstrap: int = 1000,
    n_monte_carlo: int = 2000,
    n_random: int = 200,
    n_perturb: int = 4,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> ValidationReport:
    """Run the whole suite for ``params`` with the :class:`~tsys.optimize.bucket.BucketEvaluator`
    ``ev`` (which knows the bucket, data and costs)."""
    say = progress or (lambda _m: None)
    config = ev.config
    bucket = ev.bucket
    ppy = ev.periods_per_year
    doc = params_doc or {}
    start, end, label = _period(ev, params, holdout)

    say("base backtest")
    base = ev.backtest(params, start, end, split=label)
    r = _returns(base.equity)
    n = len(r)
    sr = metrics.sharpe(r, ppy)
    skew, kurt = metrics.moments(r)
    n_trials = int(doc.get("n_trials_total") or doc.get("n_trials") or 1)
    var_ann = doc.get("trials_sharpe_variance")
    var = float(var_ann) / ppy if var_ann is not None else 0.0
    sr_p = sr / math.sqrt(ppy)
    psr = stats.probabilistic_sharpe(sr_p, 0.0, n, skew, kurt)
    dsr, sr0 = stats.deflated_sharpe(sr_p, n, skew, kurt, n_trials, var)

    say("bootstrap")
    sharpe_ci = stats.bootstrap_ci(
        r, lambda x: metrics.sharpe(x, ppy), n_samples=n_bootstrap, seed=seed
    )
    cagr_ci = stats.bootstrap_ci(
        r, lambda x: metrics.cagr(x, ppy), n_samples=n_bootstrap, seed=seed
    )

    say("trade-order Monte Carlo")
    trades = base.trades
    eq = np.asarray(base.equity, dtype=np.float64)
    entry = trades["entry_bar"].to_numpy(dtype=np.int64) if len(trades) else np.zeros(0, int)
    eq_entry = eq[np.clip(entry, 0, len(eq) - 1)]
    trade_ret = trades["pnl"].to_numpy(dtype=np.float64) / eq_entry if len(trades) else entry * 0.0
    mc = stats.trade_order_monte_carlo(
        trade_ret, n_paths=n_monte_carlo, seed=seed, threshold=config.validation.max_drawdown
    )

    say("random entries")
    random_entry = _random_entries(ev, params, base, r, eq_entry, start, end, n_random, seed)
    stress, perturbed = _stress_tests(ev, params, start, end, n_perturb, seed, say)

    crashes = _crashes(base, ppy)
    figures = {
        "sharpe": sr,
        "cagr": metrics.cagr(r, ppy),
        "max_drawdown": metrics.max_drawdown(r),
        "n_trades": len(trades),
        "n_bars": n,
        "skew": skew,
        "kurtosis": kurt,
        "psr": psr,
        "deflated_sharpe": dsr,
        "dsr_benchmark_sharpe": sr0 * math.sqrt(ppy),
        "n_trials": n_trials,
        "trials_sharpe_variance": var_ann,
        "random_entry_p": random_entry.get("p_value"),
        "sharpe_costs_x2": stress[0].sharpe,
        "benchmark_sharpe": (base.benchmark_metrics or {}).get("sharpe"),
        "benchmark_cagr": (base.benchmark_metrics or {}).get("cagr"),
        "perturbed_sharpe_min": min((s.sharpe for s in perturbed), default=None),
        "perturbed_sharpe_mean": (
            float(np.mean([s.sharpe for s in perturbed])) if perturbed else None
        ),
    }
    gates = evaluate_gates(figures, config.validation)
    return ValidationReport(
        bucket=bucket.name,
        version=bucket.version,
        params=dict(params),
        params_digest=params_digest(params),
        params_file=params_file,
        study=doc.get("study"),
        n_trials=n_trials,
        period=label,
        start=start.isoformat(),
        end=end.isoformat(),
        holdout=holdout,
        source=base.source,
        synthetic=base.synthetic,
        costs=base.costs,
        figures=figures,
        sharpe_ci=IntervalFigure(**attrs.asdict(sharpe_ci)),
        cagr_ci=IntervalFigure(**attrs.asdict(cagr_ci)),
        drawdown_mc=attrs.asdict(mc),
        random_entry=random_entry,
        stress=stress,
        crashes=crashes,
        sensitivity=doc.get("sensitivity"),
        gates=gates,
        passed=all(g.passed for g in gates),
        warnings=list(dict.fromkeys(base.warnings))[:20],
        created=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        cash_rate=base.cash_rate,
        interest=base.interest,
        trading_pnl=base.trading_pnl,
    )


def _period(ev: Any, params: dict[str, Any], holdout: bool) -> tuple[dt.date, dt.date, str]:
    """First and last day validated and the label: the holdout (its use logged) or
    train + validation."""
    from tsys.workspace import workspace

    if holdout:
        config = ev.config
        idx = ev.period.index[
            ev.period.splits.mask(
                ev.period.index,
                "holdout",
                allow_holdout=True,
                data_dir=workspace(config, demo=bool(ev.hub.synthetic)).root,
                what=f"tsys validate {ev.bucket.name} --holdout (params {params_digest(params)})",
                config=config.digest(),
            )
        ]
        label = "holdout"
    else:
        idx = ev.period.segment("train+validation")
        label = "train+validation"
    return idx[0].date(), idx[-1].date(), label


def _random_entries(
    ev: Any,
    params: dict[str, Any],
    base: Any,
    r: np.ndarray,
    eq_entry: np.ndarray,
    start: dt.date,
    end: dt.date,
    n_random: int,
    seed: int,
) -> dict[str, Any]:
    """The Sharpe against random entries with the trades' holding periods and sizes, drawn
    from the tradable universe of the base backtest's panel."""
    ppy = ev.periods_per_year
    trades = base.trades
    if not len(trades):
        return {"sharpe": metrics.sharpe(r, ppy), "p_value": None, "n_backtests": 0}
    bars = _panel(ev, params, start, end)
    rows = (bars.index >= pd.Timestamp(start, tz="UTC")) & (
        bars.index <= pd.Timestamp(end, tz="UTC")
    )
    close = bars.close[rows]
    benchmark = ev.bucket.benchmark
    if benchmark in bars.symbols:  # random entries pick from the tradable universe
        keep = [j for j, s in enumerate(bars.symbols) if s != benchmark] or [0]
        close = close[:, keep]
    weights, held = stats.trade_sizes(trades, eq_entry)
    rnd = stats.random_entry_test(
        r,
        close,
        held,
        weights,
        cost=one_way_cost(ev.costs),
        n_backtests=n_random,
        periods=ppy,
        seed=seed,
    )
    return attrs.asdict(rnd)


def _stress_tests(
    ev: Any,
    params: dict[str, Any],
    start: dt.date,
    end: dt.date,
    n_perturb: int,
    seed: int,
    say: Callable[[str], None],
) -> tuple[list[StressResult], list[StressResult]]:
    """Every stress variant of the base backtest (costs, delay, perturbed params, half the
    universe, ten times the account); also the perturbed rows alone."""
    from tsys.data.memo import CachedHub

    ppy, bucket = ev.periods_per_year, ev.bucket
    stress: list[StressResult] = []
    for k in (2.0, 3.0):
        say(f"costs x{k:g}")
        bt = ev.backtest(params, start, end, costs=scaled_costs(ev.costs, k))
        stress.append(_stress_row(f"costs x{k:g}", bt, ppy, "fees, spread and impact scaled"))
    say("delayed execution")
    bt = ev.backtest(params, start, end, bucket=DelayedBucket(bucket))
    stress.append(_stress_row("execution one bar late", bt, ppy, "decided at t, filled at t+2"))
    rng = np.random.default_rng(seed)
    from tsys.buckets import space_for

    space = space_for(bucket, params)
    perturbed = []
    for i in range(n_perturb):
        say(f"parameter perturbation {i + 1}/{n_perturb}")
        bt = ev.backtest(_perturbed(params, space, rng), start, end)
        perturbed.append(_stress_row(f"params +-10% #{i + 1}", bt, ppy, "random signs"))
    stress += perturbed
    say("half of the universe")
    always = [bucket.benchmark] if bucket.benchmark else []
    half_hub = CachedHub(ev.hub, random_half(seed), always)
    bt = ev.backtest(params, start, end, hub=half_hub)
    stress.append(_stress_row("random half of the universe", bt, ppy, f"seed {seed}"))
    say("capacity at 10x the account")
    big = 10 * ev.config.account.size
    bt = ev.backtest(params, start, end, cash=big)
    stress.append(
        _stress_row("account x10", bt, ppy, f"${big:,.0f}; fills capped at the volume share")
    )
    return stress, perturbed


def _panel(ev: Any, params: dict[str, Any], start: dt.date, end: dt.date) -> Any:
    """The panel the base backtest ran on (the evaluator's cached hub answers again)."""
    from tsys.buckets import BucketContext, params_from_dict
    from tsys.portfolio.step import History, load_bars

    ctx = BucketContext(
        as_of=end,
        data=ev.hub,
        settings=ev.config.bucket(ev.bucket),
        params=params_from_dict(ev.bucket.Params, params),
    )
    span = History(start=start, end=end, equity=float(ev.config.account.size))
    return load_bars(ev.bucket, ctx, ev.config, span)


def _crashes(base: Any, ppy: int) -> list[CrashResult]:
    out = []
    idx = base.index
    for s, e, label in CRASH_WINDOWS:
        m = (idx >= pd.Timestamp(s, tz="UTC")) & (idx <= pd.Timestamp(e, tz="UTC"))
        if m.sum() < 5:
            continue
        rows = np.flatnonzero(m)
        a, b = max(rows[0] - 1, 0), rows[-1]
        eq = np.asarray(base.equity[a : b + 1], dtype=np.float64)
        r = _returns(eq)
        bench_ret = bench_dd = None
        if base.benchmark_equity is not None:
            be = np.asarray(base.benchmark_equity[a : b + 1], dtype=np.float64)
            br = _returns(be)
            bench_ret, bench_dd = float(be[-1] / be[0] - 1.0), metrics.max_drawdown(br)
        out.append(
            CrashResult(
                window=label,
                start=idx[rows[0]].date().isoformat(),
                end=idx[rows[-1]].date().isoformat(),
                strategy_return=float(eq[-1] / eq[0] - 1.0),
                strategy_max_drawdown=metrics.max_drawdown(r),
                benchmark_return=bench_ret,
                benchmark_max_drawdown=bench_dd,
            )
        )
    return out
