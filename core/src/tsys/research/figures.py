"""The research report: out-of-sample figures beside the anchors, overfitting statistics, gates.

:func:`assemble` turns what :func:`tsys.research.loop.research` ran into the JSON-ready report
that ``tsys research --json`` prints, the HTML report renders and ``tsys validate`` quotes.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import attrs
import numpy as np

from tsys import metrics as mx
from tsys.paramsets import params_digest
from tsys.serialization import json_ready
from tsys.validate import stats

SCHEMA_VERSION = 1


def random_entry(
    returns: np.ndarray,
    trades: Any,
    equity: np.ndarray,
    close: np.ndarray,
    *,
    cost: float,
    n_backtests: int,
    periods: float,
    seed: int,
) -> dict[str, Any]:
    """The random-entry test of a simulation: same trade count, lengths and sizes, random
    entry days and symbols (:func:`tsys.validate.stats.random_entry_test`)."""
    if not len(trades):
        return {"sharpe": mx.sharpe(returns, periods), "p_value": None, "n_backtests": 0}
    eq = np.asarray(equity, dtype=np.float64)
    entry = trades["entry_bar"].to_numpy(dtype=np.int64)
    eq_entry = eq[np.clip(entry, 0, len(eq) - 1)]
    weights, held = stats.trade_sizes(trades, eq_entry)
    got = stats.random_entry_test(
        returns,
        close,
        held,
        weights,
        cost=cost,
        n_backtests=n_backtests,
        periods=periods,
        seed=seed,
    )
    return {
        "sharpe": got.sharpe,
        "random_mean": got.random_mean,
        "random_p95": got.random_p95,
        "p_value": got.p_value,
        "n_backtests": got.n_backtests,
    }


def deflated(returns: np.ndarray, trial_returns: list[np.ndarray], periods: float) -> dict:
    """The deflated Sharpe of ``returns`` against the real number of configurations tried.

    The variance of the trials' Sharpe ratios is taken over their returns on the same period.
    """
    r = np.asarray(returns, dtype=np.float64)
    n = len(r)
    sr = mx.sharpe(r, periods)
    skew, kurt = mx.moments(r)
    sharpes = [mx.sharpe(t, periods) for t in trial_returns]
    var_ann = float(np.var(sharpes, ddof=1)) if len(sharpes) > 1 else 0.0
    n_trials = max(1, len(trial_returns))
    sr_p = sr / math.sqrt(periods)
    psr = stats.probabilistic_sharpe(sr_p, 0.0, n, skew, kurt)
    dsr, sr0 = stats.deflated_sharpe(sr_p, n, skew, kurt, n_trials, var_ann / periods)
    return {
        "sharpe": sr,
        "psr": psr,
        "deflated_sharpe": dsr,
        "benchmark_sharpe": sr0 * math.sqrt(periods),
        "n_trials": n_trials,
        "trials_sharpe_variance": var_ann,
        "skew": skew,
        "kurtosis": kurt,
    }


def _window_metrics(eq: np.ndarray, ppy: int) -> dict[str, float]:
    r = eq[1:] / eq[:-1] - 1.0 if len(eq) > 1 else np.zeros(0)
    return {
        "total_return": float(eq[-1] / eq[0] - 1.0) if len(eq) else math.nan,
        "cagr": mx.cagr(r, ppy),
        "sharpe": mx.sharpe(r, ppy),
        "max_drawdown": mx.max_drawdown(r),
    }


def _summary_json(s: Any) -> dict[str, float]:
    return {
        "sharpe": s.sharpe,
        "cagr": s.cagr,
        "max_drawdown": s.max_drawdown,
        "exposure": s.exposure,
        "trades": s.n_trades,
        "turnover": s.turnover,
        "benchmark_cagr": s.benchmark_cagr,
    }


def _changed(values: dict[str, Any], base: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if base.get(k) != v}


def _stage_json(lab: Any, stage: Any, start_values: dict[str, Any]) -> dict[str, Any]:
    return {
        "in_sample": {
            "start": lab.index[0].date().isoformat(),
            "end": lab.index[stage.stop - 1].date().isoformat(),
            "bars": stage.stop,
        },
        "configurations": len(stage.points),
        "feasible": sum(p.feasible for p in stage.points),
        "new_trials": stage.n_new,
        "failed_trials": stage.n_failed,
        "chosen_params": stage.chosen,
        "chosen_digest": params_digest(stage.chosen),
        "changed_from_current": _changed(stage.chosen, start_values),
        "plateau": None if stage.plateau is None else stage.plateau.to_json(),
        "fallback_to_current": stage.plateau is None,
        "in_sample_figures": _summary_json(stage.summary),
    }


def _folds_json(lab: Any, windows: list, stages: list, oos: Any, start_values: dict) -> list:
    eq = oos.equity
    trades = oos.result.trades
    exit_rows = trades.loc[trades["exit_reason"] != "open", "exit_bar"].to_numpy(dtype=np.int64)
    sessions = lab.index[oos.sessions]
    exits = sessions.searchsorted(oos.bars.index[oos.rows][exit_rows])
    out = []
    for w, stage, r in zip(windows, stages, oos.fold_rows, strict=True):
        a = max(r.start - 1, 0)  # a fold's first return runs from the previous close
        m = _window_metrics(eq[a : r.stop], lab.periods_per_year)
        m["trades"] = int(((exits >= r.start) & (exits < r.stop)).sum())
        out.append(
            {
                "fold": w.k,
                **_stage_json(lab, stage, start_values),
                "test": {
                    "start": lab.index[w.test_start].date().isoformat(),
                    "end": lab.index[w.test_stop - 1].date().isoformat(),
                    "bars": w.test_stop - w.test_start,
                },
                "out_of_sample": m,
            }
        )
    return out


def assemble(
    lab: Any,
    spec: Any,
    *,
    start_values: dict[str, Any],
    embargo: int,
    windows: list,
    stages: list,
    final: Any,
    oos: Any,
    seconds: float,
) -> dict[str, Any]:
    """The research report (JSON-ready)."""
    from tsys.backtest.bucket import performance
    from tsys.research.pbo import cscv
    from tsys.validate.stress import one_way_cost

    ppy = lab.periods_per_year
    bars = oos.bars
    rows = oos.rows
    res = oos.result
    cap = lab.costs.capacity.max_participation
    metrics = performance(res, bars.volume[rows], periods_per_year=ppy, max_participation=cap)
    eq = np.asarray(res.equity, dtype=np.float64)
    r = eq[1:] / eq[:-1] - 1.0
    index = lab.index[oos.sessions]
    anchors = lab.anchors(index[0], index[-1])
    runs = lab.runs()
    pbo = None
    if len(runs) >= 2:
        pbo = cscv(
            np.column_stack([run.returns for run in runs]), n_blocks=spec.blocks, periods=ppy
        )
    dsr = deflated(r, [run.returns for run in runs], ppy)
    keep = [j for j, s in enumerate(bars.symbols) if s != lab.bucket.benchmark] or [0]
    rnd = random_entry(
        r,
        res.trades,
        eq,
        bars.close[rows][:, keep],
        cost=one_way_cost(lab.costs),
        n_backtests=spec.random_backtests,
        periods=ppy,
        seed=spec.seed,
    )
    x2 = np.asarray(oos.result_costs_x2.equity, dtype=np.float64)
    figures = _figures(metrics, anchors, dsr, rnd, pbo, x2, ppy)
    from tsys.paramsets import mandate_of
    from tsys.validate.gates import research_gates

    mandate = mandate_of(lab.bucket, lab.config)
    gates = research_gates(figures, lab.config.validation, min_exposure=mandate.min_exposure)
    return json_ready(
        {
            "schema_version": SCHEMA_VERSION,
            "kind": "research",
            "bucket": lab.bucket.name,
            "version": lab.bucket.version,
            "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "source": bars.source,
            "synthetic": bool(bars.synthetic or lab.hub.synthetic),
            "data_fingerprint": lab.fingerprint,
            "period": {
                "start": lab.index[0].date().isoformat(),
                "end": lab.index[-1].date().isoformat(),
                "bars": lab.n_bars,
            },
            "costs": lab.costs.describe(),
            "cash": lab.cash,
            "cash_rate": lab.cash_rate,
            "spec": {
                "folds": spec.folds,
                "trials_per_optimisation": spec.trials,
                "objective": spec.objective,
                "embargo_bars": embargo,
                "seed": spec.seed,
                "cscv_blocks": spec.blocks,
                "random_backtests": spec.random_backtests,
                "constraints": spec.constraints.describe(),
            },
            "start_params": start_values,
            "start_digest": params_digest(start_values),
            "folds": _folds_json(lab, windows, stages, oos, start_values),
            "final": _stage_json(lab, final, start_values),
            "trials": {
                "optuna_trials": sum(s.n_new for s in [*stages, final]),
                "failed": sum(s.n_failed for s in [*stages, final]),
                "distinct_configurations": len(runs),
            },
            "out_of_sample": {
                "start": index[0].date().isoformat(),
                "end": index[-1].date().isoformat(),
                "metrics": metrics,
                "sharpe_costs_x2": figures["sharpe_costs_x2"],
                "interest": res.interest_earned,
                "trading_pnl": float(eq[-1] - eq[0]) - res.interest_earned,
            },
            "anchors": [{"name": a.name, "label": a.label, "metrics": a.metrics} for a in anchors],
            "curves": {
                "dates": [d.date().isoformat() for d in index],
                "strategy": [float(v) for v in oos.equity],
                **{a.name: [float(v) for v in a.equity] for a in anchors},
            },
            "pbo": None if pbo is None else pbo.summary(),
            "deflated": dsr,
            "random_entry": rnd,
            "figures": figures,
            "gates": [attrs.asdict(g) for g in gates],
            "passed": bool(gates) and all(g.passed for g in gates),
            "runtime_seconds": seconds,
            "warnings": list(dict.fromkeys(lab.warnings))[:20],
        }
    )


def _figures(
    metrics: dict[str, float],
    anchors: list,
    dsr: dict[str, Any],
    rnd: dict[str, Any],
    pbo: Any,
    x2: np.ndarray,
    ppy: int,
) -> dict[str, Any]:
    """The figures the gates read (:func:`tsys.validate.gates.research_gates`)."""
    sharpe = metrics.get("sharpe", math.nan)
    scored = [a for a in anchors if math.isfinite(_finite(a.metrics.get("sharpe")))]
    best = max(scored, key=lambda a: _finite(a.metrics.get("sharpe")), default=None)
    bh = next((a for a in anchors if a.name == "buy_and_hold"), None)
    out: dict[str, Any] = {
        "sharpe": sharpe,
        "cagr": metrics.get("cagr"),
        "max_drawdown": metrics.get("max_drawdown"),
        "exposure": metrics.get("exposure"),
        "n_trades": metrics.get("trade_count"),
        "deflated_sharpe": dsr["deflated_sharpe"],
        "n_trials": dsr["n_trials"],
        "random_entry_p": rnd.get("p_value"),
        "sharpe_costs_x2": _window_metrics(x2, ppy)["sharpe"],
        "pbo": None if pbo is None else pbo.pbo,
        "best_anchor": None if best is None else best.name,
        "best_anchor_sharpe": None if best is None else best.metrics.get("sharpe"),
        "sharpe_margin": (None if best is None else sharpe - _finite(best.metrics.get("sharpe"))),
    }
    if bh is not None:
        better_return = metrics.get("cagr", -math.inf) > _finite(bh.metrics.get("cagr"))
        better_sharpe = sharpe > _finite(bh.metrics.get("sharpe"))
        out["beats_buy_and_hold"] = 1.0 if (better_return or better_sharpe) else 0.0
        out["benchmark_sharpe"] = bh.metrics.get("sharpe")
        out["benchmark_cagr"] = bh.metrics.get("cagr")
    return out


def _finite(x: Any) -> float:
    return float(x) if x is not None and math.isfinite(float(x)) else -math.inf
