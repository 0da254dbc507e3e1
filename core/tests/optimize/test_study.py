"""Optuna plumbing: storage, resume, constraints, pruning, Pareto front, params file."""

from __future__ import annotations

import json

import optuna
import pytest

from tsys.optimize import sensitivity
from tsys.optimize.evaluate import Constraints, FoldResult, summarise
from tsys.optimize.study import split_trials


def _study(data_dir, name):
    url = f"sqlite:///{data_dir / 'optuna.db'}"
    return optuna.load_study(study_name=name, storage=url)


def test_default_storage_is_a_sqlite_file_in_the_data_dir(run_optimize, data_dir):
    run_optimize("--trials", "3", "--study", "s1")
    assert (data_dir / "optuna.db").is_file()
    study = _study(data_dir, "s1")
    assert len(study.trials) == 3
    doc = json.loads((data_dir / "params" / "toy.json").read_text())
    assert doc["bucket"] == "toy"
    assert doc["study"] == "s1"
    assert doc["storage"] == f"sqlite:///{(data_dir / 'optuna.db').resolve()}"
    assert doc["n_trials"] == 3 and doc["n_trials_total"] == 3
    assert doc["objective"] == "sharpe" and doc["split"] == "validation"
    best = max((t for t in study.trials if t.state.name == "COMPLETE"), key=lambda t: t.value)
    assert doc["value"] == pytest.approx(best.value)
    # the file holds every parameter (search space and fixed ones) for the daily run
    assert doc["params"] == {
        "x": best.params["x"],
        "n": best.params["n"],
        "mode": best.params["mode"],
        "fixed": 1,
    }
    assert doc["created"].endswith("+00:00")
    assert doc["sensitivity"]["neighbours"]  # the scan ran around the best point


def test_resume_adds_trials_to_the_same_study(run_optimize, data_dir):
    run_optimize("--trials", "3", "--study", "resume", "--no-sensitivity")
    run_optimize("--trials", "3", "--study", "resume", "--no-sensitivity")
    study = _study(data_dir, "resume")
    assert len(study.trials) == 6
    assert sorted(t.number for t in study.trials) == list(range(6))
    doc = json.loads((data_dir / "params" / "toy.json").read_text())
    assert doc["n_trials"] == 6


def test_resuming_with_other_settings_is_refused(run_optimize):
    run_optimize("--trials", "1", "--study", "same", "--no-sensitivity")
    res = run_optimize(
        "--trials", "1", "--study", "same", "--objective", "cagr", "--no-sensitivity", ok=False
    )
    assert res.exit_code == 3
    assert "created with other settings" in res.output


def test_interrupted_study_resumes(run_optimize, data_dir):
    # the run dies in its third trial (the evaluator raises): two trials are kept, one failed
    res = run_optimize(
        "--trials", "5", "--study", "intr", "--no-sensitivity", kwargs={"crash_after": 2}, ok=False
    )
    assert res.exit_code != 0
    states = [t.state.name for t in _study(data_dir, "intr").trials]
    assert states == ["COMPLETE", "COMPLETE", "FAIL"]
    run_optimize("--trials", "3", "--study", "intr", "--no-sensitivity")
    trials = _study(data_dir, "intr").trials
    assert [t.state.name for t in trials].count("COMPLETE") == 5
    assert [t.number for t in trials] == list(range(6))
    doc = json.loads((data_dir / "params" / "toy.json").read_text())
    assert doc["n_trials"] == 5 and doc["n_trials_total"] == 6


def test_constraints_mark_infeasible_trials(run_optimize, data_dir):
    # 5 trades per unit of n: --min-trades 30 needs n >= 6
    run_optimize("--trials", "8", "--study", "cons", "--min-trades", "30", "--no-sensitivity")
    study = _study(data_dir, "cons")
    complete = [t for t in study.trials if t.state.name == "COMPLETE"]
    infeasible = [t for t in complete if t.params["n"] < 6]
    feasible = [t for t in complete if t.params["n"] >= 6]
    assert infeasible and feasible
    for t in complete:
        # Optuna stores what constraints_func returned: <= 0 is feasible
        c = t.system_attrs["constraints:min_trades"]
        assert c == 30 - 5 * t.params["n"]
        assert (c <= 0) == (t.params["n"] >= 6)
        assert "constraints:max_drawdown" in t.system_attrs
    doc = json.loads((data_dir / "params" / "toy.json").read_text())
    assert doc["params"]["n"] >= 6
    assert doc["value"] == pytest.approx(max(t.value for t in feasible))


def test_no_feasible_trial_is_an_error(run_optimize, data_dir):
    res = run_optimize(
        "--trials", "3", "--study", "none", "--min-trades", "1000", "--no-sensitivity", ok=False
    )
    assert res.exit_code == 6
    assert "no feasible trial" in res.output
    assert not (data_dir / "params" / "toy.json").exists()


def test_walk_forward_trials_are_pruned_on_early_folds(run_optimize, data_dir):
    run_optimize(
        "--trials", "14", "--study", "prune", "--no-sensitivity", kwargs={"folds": 4, "bars": 60}
    )
    study = _study(data_dir, "prune")
    pruned = [t for t in study.trials if t.state.name == "PRUNED"]
    assert pruned, "no trial was pruned"
    for t in pruned:
        assert t.user_attrs["folds"] < 4
        assert max(t.intermediate_values) == t.user_attrs["folds"] - 1
    for t in study.trials:
        if t.state.name == "COMPLETE":
            assert sorted(t.intermediate_values) == [0, 1, 2, 3]


def test_multi_objective_reports_the_pareto_front(run_optimize, data_dir):
    run_optimize("--trials", "12", "--study", "mo", "--multi-objective", "--no-sensitivity")
    doc = json.loads((data_dir / "params" / "toy.json").read_text())
    study = _study(data_dir, "mo")
    pts = [(t.values[0], t.values[1]) for t in study.trials if t.state.name == "COMPLETE"]
    # the study minimises the drawdown's magnitude; the document reports it as a drawdown (< 0)
    front = {(p["cagr"], -p["max_drawdown"]) for p in doc["pareto_front"]}
    expected = {a for a in pts if not any(b[0] >= a[0] and b[1] <= a[1] and b != a for b in pts)}
    assert front == expected
    chosen = [p for p in doc["pareto_front"] if p["number"] == doc["best_trial"]]
    assert chosen, "the saved point lies on the front"


def test_two_local_workers_share_the_sqlite_study(run_optimize, data_dir):
    run_optimize("--trials", "5", "--jobs", "2", "--study", "jobs", "--no-sensitivity")
    study = _study(data_dir, "jobs")
    assert len(study.trials) == 5
    assert all(t.state.name == "COMPLETE" for t in study.trials)
    # The queued baseline (trial 0) is evaluated before the workers start: two workers that
    # start together could both pop it from SQLite, and one then died on "Cannot tell a
    # COMPLETE trial" (found by CI about once in six runs).
    first, *rest = sorted(study.trials, key=lambda t: t.number)
    assert all(first.datetime_complete <= t.datetime_start for t in rest)


def test_forked_workers_inherit_the_warmed_up_evaluator(toy_path, tmp_path):
    import gc

    from toy_objective import Toy

    from tsys.optimize.study import StudySpec, run_study
    from tsys.optimize.workers import start_method

    if start_method() != "fork":
        pytest.skip("workers are spawned on this platform")

    class Warmed(Toy):
        def warm_up(self):  # runs once, in the parent, before the workers fork
            self.bars = 77

    spec = StudySpec(
        study="fork",
        storage=f"sqlite:///{tmp_path / 'fork.db'}",
        factory="toy_objective:make",  # what a spawned worker would build: 250 bars
        factory_kwargs={},
        seed=1,
    )
    study = run_study(spec, n_trials=4, jobs=2, evaluator=Warmed())
    assert [t.state.name for t in study.trials] == ["COMPLETE"] * 4
    assert [t.user_attrs["n_bars"] for t in study.trials] == [77.0] * 4
    assert gc.get_freeze_count() == 0, "the parent's objects are thawed after the study"


def test_split_trials_adds_up():
    assert split_trials(7, 3) == [3, 2, 2]
    assert split_trials(2, 4) == [1, 1]
    assert split_trials(None, 2) == [None, None]


def test_summary_and_constraint_values_by_hand():
    f1 = FoldResult(returns=[0.01, -0.02], n_trades=3, turnover=2.0)
    f2 = FoldResult(returns=[0.03, 0.0], n_trades=4, turnover=4.0)
    s = summarise([f1, f2], 252)
    assert s.n_trades == 7 and s.n_bars == 4
    assert s.turnover == pytest.approx(3.0)
    assert s.max_drawdown == pytest.approx(-0.02)  # drawdowns are negative fractions
    c = Constraints(max_drawdown=0.01, min_trades=10, max_turnover=5.0).values(s)
    assert c == pytest.approx({"max_drawdown": 0.01, "min_trades": 3.0, "max_turnover": -2.0})


def test_neighbours_move_one_step_within_range():
    f = {"kind": "float", "low": 0.0, "high": 1.0}
    assert sensitivity.neighbours(0.5, f) == [("down", 0.45), ("up", 0.55)]
    assert sensitivity.neighbours(1.0, f) == [("down", 0.9)]  # up is clipped away
    assert sensitivity.neighbours(0.0, f) == [("up", 0.1)]  # 10% of the range at zero
    i = {"kind": "int", "low": 2, "high": 100}
    assert sensitivity.neighbours(50, i) == [("down", 45), ("up", 55)]
    assert sensitivity.neighbours(3, i) == [("down", 2), ("up", 4)]
    c = {"kind": "categorical", "choices": (False, True)}
    assert sensitivity.neighbours(True, c) == [("False", False)]


def test_scan_scores_a_plateau_above_a_spike():
    space = {"a": {"kind": "float", "low": 0.0, "high": 2.0}}
    flat = sensitivity.scan({"a": 1.0}, space, lambda p: 1.0 - 0.1 * abs(p["a"] - 1.0))
    spike = sensitivity.scan({"a": 1.0}, space, lambda p: 1.0 if p["a"] == 1.0 else 0.1)
    assert flat.ratio == pytest.approx(0.99)
    assert spike.ratio == pytest.approx(0.1)
    assert flat.robust_value > spike.robust_value
    assert [n.value for n in flat.neighbours] == [0.9, 1.1]
