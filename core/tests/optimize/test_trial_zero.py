"""Issue 13.4: ``tsys optimize`` starts from the current parameters (trial 0), never writes a
worse set without ``--accept-worse``, and keys its study by the data it scores on."""

from __future__ import annotations

import json

import optuna
import pytest
from rich.console import Console

from tsys.errors import StrategyError
from tsys.optimize.evaluate import Constraints
from tsys.optimize.study import BASELINE_ATTR, Outcome, StudySpec


def _study(data_dir, name):
    return optuna.load_study(study_name=name, storage=f"sqlite:///{data_dir / 'optuna.db'}")


def _doc(data_dir):
    return json.loads((data_dir / "params" / "toy.json").read_text())


def test_optimize_trial_zero_is_the_current_parameters(run_optimize, data_dir):
    run_optimize("--trials", "4", "--study", "t0", "--no-sensitivity")
    trials = _study(data_dir, "t0").trials
    assert trials[0].params == {"x": 0.5, "n": 5, "mode": "a"}  # the toy's defaults
    assert trials[0].user_attrs[BASELINE_ATTR] is True
    assert len(trials) == 4  # trial 0 is one of the --trials
    doc = _doc(data_dir)
    assert doc["baseline_trial"] == 0
    assert doc["baseline_value"] == pytest.approx(trials[0].value)
    assert doc["value"] >= doc["baseline_value"]


def test_optimize_resumed_study_does_not_evaluate_the_current_parameters_twice(
    run_optimize, data_dir
):
    run_optimize("--trials", "2", "--study", "again", "--no-sensitivity")
    run_optimize("--trials", "2", "--study", "again", "--no-sensitivity")
    trials = _study(data_dir, "again").trials
    assert len(trials) == 4
    assert [t.params for t in trials].count({"x": 0.5, "n": 5, "mode": "a"}) == 1
    assert _doc(data_dir)["baseline_trial"] == 0


def test_optimize_trial_zero_is_never_pruned(run_optimize, data_dir):
    run_optimize(
        "--trials", "8", "--study", "wf", "--no-sensitivity", kwargs={"folds": 4, "bars": 60}
    )
    first = _study(data_dir, "wf").trials[0]
    assert first.state.name == "COMPLETE" and sorted(first.intermediate_values) == [0, 1, 2, 3]


def _outcome(best: float, base: float, feasible: bool = True) -> Outcome:
    return Outcome(
        study="s", storage="sqlite:///x.db", objective="sharpe", multi_objective=False,
        n_complete=3, n_total=3, n_pruned=0, n_failed=0, best_params={"x": 1}, best_value=best,
        best_number=2, best_metrics={}, trials_sharpe_variance=None, pareto_front=[], feasible=3,
        baseline_number=0, baseline_value=base, baseline_feasible=feasible, best_rank=best,
        baseline_rank=base,
    )  # fmt: skip


def test_optimize_never_writes_worse_parameters_without_accept_worse(capsys):
    from tsys.cli.optimize import _check_not_worse

    spec = StudySpec(study="s", storage="sqlite:///x.db", factory="m:f", factory_kwargs={})
    err = Console(stderr=True, width=200)
    with pytest.raises(StrategyError) as info:
        _check_not_worse(_outcome(0.4, 0.9), spec, None, False, err)
    assert "BELOW the current parameters" in info.value.message
    assert "nothing was written" in info.value.message
    assert "--accept-worse" in info.value.hint
    _check_not_worse(_outcome(0.4, 0.9), spec, None, True, err)
    assert "WARNING" in capsys.readouterr().err
    # current parameters that break a constraint are no yardstick: said plainly, written
    _check_not_worse(_outcome(0.4, 0.9, feasible=False), spec, None, False, err)
    assert "break a constraint" in capsys.readouterr().err
    _check_not_worse(_outcome(0.9, 0.4), spec, None, False, err)  # better: silent
    assert capsys.readouterr().err == ""
    assert Constraints().describe()  # the message above quotes it


def test_demo_trials_never_mix_with_real_trials(run_optimize, data_dir, tmp_path):
    # issue: 3 demo trials then 1 real trial reported "best trial #3 of 4" and the deflated
    # Sharpe counted all 4; a study is keyed by its data, so each counts only its own
    store = f"sqlite:///{tmp_path / 'shared.db'}"
    run_optimize("--trials", "3", "--storage", store, "--no-sensitivity", kwargs={"data": "demo"})
    demo = _doc(data_dir)
    run_optimize("--trials", "1", "--storage", store, "--no-sensitivity", kwargs={"data": "real"})
    real = _doc(data_dir)
    assert demo["study"] != real["study"]
    assert real["n_trials_total"] == 1 and real["best_trial"] == 0
    assert demo["n_trials_total"] == 3
    # naming the other study explicitly is refused, not mixed
    res = run_optimize(
        "--trials", "1", "--storage", store, "--study", demo["study"], "--no-sensitivity",
        kwargs={"data": "real"}, ok=False,
    )  # fmt: skip
    assert res.exit_code == 3 and "created with other settings" in res.output


def test_deflated_sharpe_counts_only_the_studys_own_trials(run_optimize, data_dir, tmp_path):
    # `tsys validate` deflates by the params file's n_trials_total (the story test checks the
    # figure end to end); here: that count is the study's own, not the storage's
    store = f"sqlite:///{tmp_path / 'shared.db'}"
    run_optimize("--trials", "3", "--storage", store, "--no-sensitivity", kwargs={"data": "a"})
    run_optimize("--trials", "2", "--storage", store, "--no-sensitivity", kwargs={"data": "b"})
    doc = _doc(data_dir)
    study = optuna.load_study(study_name=doc["study"], storage=store)
    assert doc["n_trials_total"] == len(study.trials) == 2
