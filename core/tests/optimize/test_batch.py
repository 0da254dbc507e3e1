"""Issue 20.2: ``tsys optimize --batch K`` asks K trials, simulates them in one pass and tells
each its own value; a trial's figures are those of a lone evaluation of its parameters."""

from __future__ import annotations

import time

import numpy as np
import optuna
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tsys.optimize.evaluate import Constraints, summarise
from tsys.optimize.study import BASELINE_ATTR, METRICS, StudySpec, run_study

BUCKETS = ("sp500", "crypto")


@pytest.fixture(scope="module")
def evaluators(tmp_path_factory):
    """The demo market's sp500 and crypto evaluators (crypto's idle cash earning 4%)."""
    from tsys.optimize.bucket import BucketEvaluator

    home = tmp_path_factory.mktemp("batch")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TSYS_DATA_DIR", str(home / "data"))
        mp.delenv("TSYS_CONFIG", raising=False)
        mp.chdir(home)
        kw = {"source": "demo", "start": "2014-01-01", "end": "2016-12-31", "max_symbols": 12}
        out = {"sp500": BucketEvaluator("sp500", **kw)}
        mp.setenv("TSYS__ACCOUNT__CASH_RATE", "0.04")
        out["crypto"] = BucketEvaluator("crypto", **kw)
    return out


def _random_points(ev, n, seed):
    from tsys.optimize.trial import draw

    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    return [draw(study.ask(), ev.search_space(), ev.defaults()) for _ in range(n)]


def _same_fold(a, b):
    assert np.array_equal(a.returns, b.returns)  # bit for bit (no NaN in equity returns)
    assert (a.n_trades, a.turnover, a.start, a.end) == (b.n_trades, b.turnover, b.start, b.end)
    assert a.extra == b.extra


@pytest.mark.parametrize("bucket", BUCKETS)
def test_a_batch_scores_every_set_as_a_lone_evaluation(evaluators, bucket):
    ev = evaluators[bucket]
    points = [ev.defaults(), *_random_points(ev, 5, seed=3)]
    got = ev.evaluate_batch(points, 0)
    assert len(got) == len(points)
    for p, fold in zip(points, got, strict=True):
        _same_fold(fold, ev.evaluate(p, 0))
    assert sum(f.n_trades for f in got) > 0
    if bucket == "crypto":
        assert all(f.extra["interest"] > 0 for f in got)  # the accrual went through the grid


def test_a_batch_on_the_python_simulator_equals_lone_compiled_runs(evaluators, monkeypatch):
    ev = evaluators["crypto"]
    points = [ev.defaults(), *_random_points(ev, 2, seed=11)]
    compiled = [ev.evaluate(p, 0) for p in points]
    monkeypatch.setenv("TSYS_SIM", "python")  # the pure-Python reference kernel, K sets
    for fold, alone in zip(ev.evaluate_batch(points, 0), compiled, strict=True):
        _same_fold(fold, alone)


def _point(space):
    def one(name, s):
        if s["kind"] == "int":
            return st.integers(int(s["low"]), int(s["high"]))
        if s["kind"] == "float":
            return st.floats(float(s["low"]), float(s["high"]), allow_nan=False)
        return st.sampled_from(list(s["choices"]))

    return st.fixed_dictionaries({n: one(n, s) for n, s in space.items()})


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_property_batch_equals_lone_runs(evaluators, data):
    bucket = data.draw(st.sampled_from(BUCKETS))
    ev = evaluators[bucket]
    drawn = data.draw(st.lists(_point(ev.search_space()), min_size=1, max_size=4))
    points = [{**ev.defaults(), **d} for d in drawn]
    for p, fold in zip(points, ev.evaluate_batch(points, 0), strict=True):
        try:
            alone = ev.evaluate(p, 0)
        except Exception as exc:  # a set the bucket refuses fails alone and in the batch alike
            assert type(fold) is type(exc) and str(fold) == str(exc)
            continue
        _same_fold(fold, alone)


def test_plans_on_other_panels_or_refused_by_the_simulator_stay_apart(evaluators):
    from tsys.backtest.bucket import plan_backtest
    from tsys.backtest.grid import simulate_plans
    from tsys.buckets import params_from_dict

    ev = evaluators["sp500"]
    start, end = ev.windows[0]
    params = params_from_dict(ev.bucket.Params, ev.defaults())

    def plan(cash):
        return plan_backtest(
            ev.bucket, ev.hub, ev.config, params=params, start=start, end=end, cash=cash
        )

    a, b, c = plan(100_000.0), plan(250_000.0), plan(100_000.0)
    sims, groups = simulate_plans([a, b, c])
    assert groups == [[0, 2], [1]]  # other cash: another simulation
    for p, res in zip([a, b, c], sims, strict=True):
        alone = p.simulate()
        assert np.array_equal(res.equity, alone.equity)
        assert res.trades.equals(alone.trades)
    bad = plan(100_000.0)
    bad.tw = bad.tw.copy()
    bad.tw[0, 0] = np.inf  # the simulator refuses it: only that plan fails
    sims, groups = simulate_plans([a, bad])
    assert groups == [[0, 1]]
    assert np.array_equal(sims[0].equity, a.simulate().equity)
    assert isinstance(sims[1], Exception) and "infinite" in str(sims[1])


def _spec(tmp_path, name, **kw):
    return StudySpec(
        study=name,
        storage=f"sqlite:///{tmp_path / 'optuna.db'}",
        factory="tsys.optimize.bucket:bucket_evaluator",
        factory_kwargs={},
        constraints=Constraints(max_drawdown=0.5, min_trades=1),
        seed=5,
        **kw,
    )


@pytest.mark.parametrize("bucket", BUCKETS)
def test_a_batched_sqlite_study_tells_each_trial_its_lone_value(evaluators, tmp_path, bucket):
    ev = evaluators[bucket]
    spec = _spec(tmp_path, f"b-{bucket}", batch=3)
    study = run_study(spec, n_trials=7, evaluator=ev)
    stored = optuna.load_study(study_name=spec.study, storage=spec.storage).trials
    assert [t.number for t in stored] == list(range(7))
    assert [t.state.name for t in stored] == ["COMPLETE"] * 7
    assert stored[0].user_attrs[BASELINE_ATTR] is True
    assert len({tuple(sorted(t.params.items())) for t in stored}) > 1
    for t in study.trials:
        params = {**ev.defaults(), **t.params}
        s = summarise([ev.evaluate(params, k) for k in range(ev.n_folds)], ev.periods_per_year)
        assert t.value == (s.sharpe if np.isfinite(s.sharpe) else -1e9)
        assert {m: t.user_attrs[m] for m in METRICS} == {m: float(getattr(s, m)) for m in METRICS}
        assert t.user_attrs["constraints"] == spec.constraints.values(s)


def _states(data_dir, name):
    url = f"sqlite:///{data_dir / 'optuna.db'}"
    return [t.state.name for t in optuna.load_study(study_name=name, storage=url).trials]


def test_cli_batch_stores_every_trial_complete(run_optimize, data_dir):
    import json

    run_optimize("--trials", "9", "--batch", "4", "--study", "cli", "--no-sensitivity")
    assert _states(data_dir, "cli") == ["COMPLETE"] * 9
    doc = json.loads((data_dir / "params" / "toy.json").read_text())
    assert doc["n_trials"] == 9 and doc["baseline_trial"] == 0


def test_batches_prune_on_early_folds(run_optimize, data_dir):
    run_optimize(
        "--trials", "14", "--batch", "4", "--study", "bp", "--no-sensitivity",
        kwargs={"folds": 4, "bars": 60},
    )  # fmt: skip
    url = f"sqlite:///{data_dir / 'optuna.db'}"
    trials = optuna.load_study(study_name="bp", storage=url).trials
    pruned = [t for t in trials if t.state.name == "PRUNED"]
    assert pruned, "no trial was pruned"
    for t in pruned:
        assert t.user_attrs["folds"] < 4
        assert max(t.intermediate_values) == t.user_attrs["folds"] - 1
    assert trials[0].state.name == "COMPLETE"  # the baseline is never pruned
    assert {t.state.name for t in trials} <= {"COMPLETE", "PRUNED"}


def test_batches_in_two_workers(run_optimize, data_dir):
    run_optimize(
        "--trials", "7", "--jobs", "2", "--batch", "3", "--study", "bj", "--no-sensitivity"
    )
    assert _states(data_dir, "bj") == ["COMPLETE"] * 7


def test_an_error_fails_its_trial_and_stops_after_the_batch(run_optimize, data_dir):
    # the evaluator raises from its third call on: the batch's other trials are told, not left
    # RUNNING, and the run stops with the error
    res = run_optimize(
        "--trials", "8", "--batch", "4", "--study", "be", "--no-sensitivity",
        kwargs={"crash_after": 2}, ok=False,
    )  # fmt: skip
    assert res.exit_code != 0
    assert _states(data_dir, "be") == ["COMPLETE", "COMPLETE", "FAIL", "FAIL"]


def test_a_stale_trial_is_failed_and_retried_before_a_batch(toy_path, tmp_path):
    from toy_objective import Toy

    from tsys.optimize.batch import run_batches
    from tsys.optimize.study import open_study

    spec = StudySpec(
        study="stale", storage=f"sqlite:///{tmp_path / 's.db'}", factory="toy_objective:make",
        factory_kwargs={}, seed=1, heartbeat=1.0, grace=1.0, batch=2,
    )  # fmt: skip
    study = open_study(spec)
    with pytest.warns(UserWarning, match="Heartbeat"):
        orphan = study.ask()  # a worker that died in its trial: RUNNING, no heartbeat since
    orphan.suggest_float("x", 0.0, 1.0)
    orphan.suggest_int("n", 1, 10)
    orphan.suggest_categorical("mode", ["a", "b"])
    study._storage.record_heartbeat(orphan._trial_id)
    time.sleep(2.5)
    run_batches(study, spec, Toy(), n_trials=2, timeout=None, batch=2)
    trials = study.get_trials()
    assert [t.state.name for t in trials] == ["FAIL", "COMPLETE", "COMPLETE"]
    assert trials[1].params == trials[0].params  # requeued once and evaluated


@pytest.mark.parametrize("bucket", BUCKETS)
def test_the_neighbourhood_scan_in_batches_equals_the_lone_scan(evaluators, bucket):
    import json

    from tsys.optimize.batch import score_many
    from tsys.optimize.sensitivity import scan

    ev = evaluators[bucket]

    def lone(p):
        folds = [ev.evaluate(p, k) for k in range(ev.n_folds)]
        return summarise(folds, ev.periods_per_year).objective("calmar")

    a = scan(ev.defaults(), ev.search_space(), lone)
    b = scan(ev.defaults(), ev.search_space(), lone, many=score_many(ev, "calmar", 3))
    assert len(a.neighbours) > len(ev.search_space())  # up and down, but at a bound
    assert json.dumps(a.to_json()) == json.dumps(b.to_json())


def test_scoring_many_raises_the_first_error_in_order(toy_path):
    from toy_objective import Toy

    from tsys.errors import StrategyError
    from tsys.optimize.batch import score_many

    class Picky(Toy):
        def evaluate(self, params, fold):
            if params["n"] in (3, 4):
                raise StrategyError(f"n = {params['n']} refused")
            return super().evaluate(params, fold)

    ev = Picky(folds=2)
    points = [{**ev.defaults(), "n": n} for n in (5, 4, 3, 6)]
    with pytest.raises(StrategyError, match="n = 4 refused"):
        score_many(ev, "sharpe", 2)(points)
    ok = [p for p in points if p["n"] > 4]
    lone = [summarise([ev.evaluate(p, k) for k in range(2)], 252).sharpe for p in ok]
    assert score_many(ev, "sharpe", 3)(ok) == lone


def test_cli_batch_scans_the_neighbourhood_in_batches(run_optimize, data_dir):
    import json

    from toy_objective import Toy

    run_optimize("--trials", "4", "--batch", "2", "--study", "bs")
    doc = json.loads((data_dir / "params" / "toy.json").read_text())
    got = doc["sensitivity"]["neighbours"]
    assert got
    toy = Toy()
    for n in got:
        p = {**doc["params"], n["param"]: n["value"]}
        assert n["objective"] == summarise([toy.evaluate(p, 0)], 252).sharpe


def test_multi_objective_batches_tell_both_values(run_optimize, data_dir):
    from toy_objective import Toy

    run_optimize(
        "--trials", "6", "--batch", "4", "--study", "bm", "--multi-objective", "--no-sensitivity"
    )  # fmt: skip
    url = f"sqlite:///{data_dir / 'optuna.db'}"
    trials = optuna.load_study(study_name="bm", storage=url).trials
    assert [t.state.name for t in trials] == ["COMPLETE"] * 6
    toy = Toy()
    for t in trials:
        s = summarise([toy.evaluate({**toy.defaults(), **t.params}, 0)], 252)
        assert t.values == [s.cagr, -s.max_drawdown]


def test_batches_until_a_timeout_finish_the_batch_they_started(toy_path, tmp_path):
    from toy_objective import Toy

    from tsys.optimize.batch import run_batches
    from tsys.optimize.study import open_study

    spec = StudySpec(
        study="t", storage=f"sqlite:///{tmp_path / 't.db'}", factory="toy_objective:make",
        factory_kwargs={}, seed=1, batch=3,
    )  # fmt: skip
    study = open_study(spec)
    told = []
    run_batches(
        study, spec, Toy(delay=0.2), n_trials=None, timeout=0.3, batch=3,
        on_trials=lambda: told.append(len(study.get_trials())),
    )  # fmt: skip
    # the first batch (0.6 s) outlasts the timeout: it is finished, no other is started
    assert told == [3]
    assert [t.state.name for t in study.get_trials()] == ["COMPLETE"] * 3
