"""Many workers, one study: `tsys optimize` processes sharing a real PostgreSQL storage."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tsys.testing.isolation import postgres_url

HERE = Path(__file__).resolve().parent


@pytest.fixture
def pg_url():
    return postgres_url()


def _worker(url, study, tmp_path, name, trials, delay, log, batch=1):
    env = {**os.environ, "PYTHONPATH": str(HERE), "TSYS_DATA_DIR": str(tmp_path / "data")}
    env.pop("TSYS_CONFIG", None)
    kwargs = {"delay": delay, "log": str(log), "bars": 120}
    argv = [
        sys.executable, "-c", "import sys; from tsys.cli import main; main(sys.argv[1:])",
        "optimize", "toy",
        "--objective-module", "toy_objective:make",
        "--objective-kwargs", json.dumps(kwargs),
        "--storage", url, "--study", study, "--trials", str(trials),
        "--heartbeat", "1", "--grace", "2", "--no-sensitivity", "--json", "--batch", str(batch),
        "--output", str(tmp_path / f"{name}.json"),
    ]  # fmt: skip
    return subprocess.Popen(
        argv, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


@pytest.mark.postgres
@pytest.mark.parametrize("batch", [1, 2])
def test_workers_share_one_study_and_survive_a_killed_worker(pg_url, tmp_path, batch):
    import optuna

    from tsys.optimize.storage import driver_url

    study_name = f"tsys-test-{uuid.uuid4().hex[:12]}"
    # The victim starts first and hangs inside its first trial; it is killed there (with
    # --batch 2 it has asked two trials: both are left RUNNING, without heartbeats).
    vlog = tmp_path / "victim.log"
    victim = _worker(pg_url, study_name, tmp_path, "victim", 3, 60.0, vlog, batch)
    deadline = time.monotonic() + 30
    while not (vlog.exists() and vlog.read_text()):
        assert victim.poll() is None, victim.communicate()
        assert time.monotonic() < deadline, "the victim never started a trial"
        time.sleep(0.1)
    survivors = [
        _worker(pg_url, study_name, tmp_path, f"w{i}", 5, 0.3, tmp_path / f"w{i}.log", batch)
        for i in range(3)
    ]
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait(timeout=10)
    outs = [p.communicate(timeout=120) for p in survivors]
    for p, (_out, err) in zip(survivors, outs, strict=True):
        assert p.returncode == 0, err

    try:
        study = optuna.load_study(study_name=study_name, storage=driver_url(pg_url))
        trials = study.get_trials(deepcopy=False)
        states = [t.state.name for t in trials]
        # 3 x 5 trials ran to completion; the victim's trials failed; nothing is left over
        assert states.count("COMPLETE") == 15
        assert states.count("FAIL") == batch
        assert len(trials) == 15 + batch
        assert sorted(t.number for t in trials) == list(range(15 + batch))
        failed = [t for t in trials if t.state.name == "FAIL"]
        victim_params = json.loads(vlog.read_text().splitlines()[0])
        assert {k: victim_params[k] for k in ("x", "n", "mode")} in [
            {k: f.params[k] for k in ("x", "n", "mode")} for f in failed
        ]
        # their parameters were re-queued once and evaluated by a survivor
        for f in failed:
            retried = [t for t in trials if t.system_attrs.get("failed_trial") == f.number]
            assert len(retried) == 1 and retried[0].state.name == "COMPLETE"
            assert retried[0].params == f.params
        # every evaluation a survivor logged is a recorded trial, and vice versa
        logged = []
        for i in range(3):
            logged += [json.loads(x) for x in (tmp_path / f"w{i}.log").read_text().splitlines()]
        key = lambda p: (p["x"], p["n"], p["mode"])  # noqa: E731
        assert len(logged) == 15
        assert sorted(key(p) for p in logged) == sorted(
            key(t.params) for t in trials if t.state.name == "COMPLETE"
        )
        # each worker's params file reports the whole study, password-free
        doc = json.loads((tmp_path / "w0.json").read_text())
        assert doc["study"] == study_name
        assert doc["n_trials_total"] >= 5  # w0 saw at least its own 5 plus the others' so far
    finally:
        optuna.delete_study(study_name=study_name, storage=driver_url(pg_url))
