"""Gates, the saved report, and the daily run's question "did these params pass?"."""

from __future__ import annotations

import json

import attrs
import pytest

from tsys.config import config_from_dict
from tsys.validate import gates

PASSING = {
    "deflated_sharpe": 0.8,
    "max_drawdown": -0.2,
    "n_trades": 120,
    "random_entry_p": 0.02,
    "sharpe_costs_x2": 0.6,
}


def _cfg(tmp_path, **validation):
    return config_from_dict({"data_dir": str(tmp_path), "validation": validation})


def test_each_gate_compares_with_its_threshold(tmp_path):
    cfg = _cfg(tmp_path)
    res = {g.name: g for g in gates.evaluate_gates(PASSING, cfg.validation)}
    assert all(g.passed for g in res.values())
    assert set(res) == {
        "deflated Sharpe", "max drawdown", "trades", "random-entry p-value", "Sharpe at 2x costs"
    }  # fmt: skip
    for key, bad, name in [
        ("deflated_sharpe", 0.49, "deflated Sharpe"),
        ("max_drawdown", -0.36, "max drawdown"),
        ("max_drawdown", 0.36, "max drawdown"),  # a report saved before schema 2 (magnitude)
        ("n_trades", 29, "trades"),
        ("random_entry_p", 0.2, "random-entry p-value"),
        ("sharpe_costs_x2", -0.1, "Sharpe at 2x costs"),
        ("deflated_sharpe", None, "deflated Sharpe"),
        ("deflated_sharpe", float("nan"), "deflated Sharpe"),
    ]:
        out = {
            g.name: g.passed for g in gates.evaluate_gates({**PASSING, key: bad}, cfg.validation)
        }
        assert out[name] is False and sum(not v for v in out.values()) == 1, (key, bad)
    # thresholds are inclusive
    edge = {**PASSING, "deflated_sharpe": 0.5, "max_drawdown": -0.35, "n_trades": 30}
    assert all(g.passed for g in gates.evaluate_gates(edge, cfg.validation))
    # optional gates can be switched off
    off = _cfg(tmp_path, max_random_entry_p=None, min_sharpe_double_costs=None)
    names = [
        g.name for g in gates.evaluate_gates({**PASSING, "random_entry_p": 1.0}, off.validation)
    ]
    assert names == ["deflated Sharpe", "max drawdown", "trades"]


def test_digest_is_stable_and_order_independent():
    a = {"x": 1, "y": 0.5, "mode": "etf"}
    b = {"mode": "etf", "y": 0.5, "x": 1}
    assert gates.params_digest(a) == gates.params_digest(b)
    assert gates.params_digest(a) != gates.params_digest({**a, "y": 0.51})


def _save(cfg, bucket, params, figures, **extra):
    from tsys.workspace import workspace

    path = gates.report_path(workspace(cfg).root, bucket, params)
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        "bucket": bucket,
        "params": params,
        "params_digest": gates.params_digest(params),
        "figures": figures,
        **extra,
    }
    path.write_text(json.dumps(doc))
    return path


def test_params_validated_finds_a_passing_report_for_exactly_these_params(tmp_path):
    from tsys import plugins

    bucket = plugins.buckets().get("sp500")
    params = bucket.default_params()
    cfg = _cfg(tmp_path)
    assert gates.params_validated(cfg, "sp500", params) is False  # nothing saved yet
    path = _save(cfg, "sp500", attrs.asdict(params), PASSING)
    assert path.name == f"sp500-{gates.params_digest(params)}.json"
    assert gates.params_validated(cfg, "sp500", params) is True
    # any other value inside its range (the shipped defaults may sit at either end)
    other = attrs.evolve(params, atr_stop=2.0 if params.atr_stop != 2.0 else 3.0)
    assert gates.params_validated(cfg, "sp500", other) is False
    assert gates.params_validated(cfg, "crypto", params) is False
    # a tighter threshold today withdraws the pass
    assert gates.params_validated(_cfg(tmp_path, max_drawdown=0.1), "sp500", params) is False
    # a failing report does not count
    _save(cfg, "sp500", attrs.asdict(params), {**PASSING, "n_trades": 3})
    assert gates.params_validated(cfg, "sp500", params) is False
    path.write_text("{not json")
    assert gates.params_validated(cfg, "sp500", params) is False


def test_daily_pipeline_asks_the_gates(tmp_path):
    """The daily run's hook (require_validation) reaches params_validated."""
    from tsys import plugins
    from tsys.daily import bucket_runs

    params = plugins.buckets().get("crypto").default_params()
    cfg = _cfg(tmp_path)
    assert bucket_runs.validation_passed(cfg, "crypto", params) is False
    _save(cfg, "crypto", attrs.asdict(params), PASSING)
    assert bucket_runs.validation_passed(cfg, "crypto", params) is True


def test_params_file_round_trips_into_a_runs_config(tmp_path):
    """What `tsys optimize` writes is what the daily run reads through params_file."""
    from tsys import plugins
    from tsys.optimize.study import Outcome, params_document
    from tsys.paramsets import resolve_params

    bucket = plugins.buckets().get("sp500")
    chosen = {**attrs.asdict(bucket.default_params()), "momentum_window": 200, "atr_stop": 4.25,
              "pullback_only": True, "mode": "etf"}  # fmt: skip
    outcome = Outcome(
        study="s", storage="sqlite:///x.db", objective="sharpe", multi_objective=False,
        n_complete=7, n_total=9, n_pruned=1, n_failed=1, best_params=None, best_value=1.2,
        best_number=3, best_metrics={}, trials_sharpe_variance=0.1, pareto_front=[], feasible=5,
    )  # fmt: skip
    doc = params_document("sp500", outcome, chosen, "validation")
    pfile = tmp_path / "sp500.json"
    pfile.write_text(json.dumps(doc))
    cfg = config_from_dict({"buckets": {"sp500": {"params_file": str(pfile)}}})
    params = resolve_params(bucket, cfg).params
    assert attrs.asdict(params) == chosen
    assert doc["n_trials"] == 7 and doc["n_trials_total"] == 9
    # explicit params in the config still win over the file
    cfg = config_from_dict(
        {"buckets": {"sp500": {"params_file": str(pfile), "params": {"atr_stop": 2.0}}}}
    )
    assert resolve_params(bucket, cfg).params.atr_stop == pytest.approx(2.0)
