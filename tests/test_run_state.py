"""Issue 21.1, "a day marked done before it is done": a daily run is a recorded state machine.

A run goes computed -> artifacts -> orders -> delivered -> hooks -> indexed and is done only
after the last stage. Here real runs are killed (SIGKILL, from a driver that wraps
``os.replace`` in the child process: the fault lives in the test, not in tsys) right after
``run.json`` first appears and right after each later stage is recorded; a rerun without
--force must finish the day with no second email and no duplicate order. A store that refuses
writes (a fixture-injected fault on SQLite, a read-only session on PostgreSQL) leaves the day
pending until a rerun indexes it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).parent))

from e2e_smtp import PASSWORD, email_config, start_smtp

from tsys.cli import cli
from tsys.daily import state as st_mod
from tsys.testing.isolation import isolate, search_path_url

DAY = "2024-03-12"  # the demo sp500 bucket buys on this day
ARGS = ["run-daily", "--demo", "--paper", "--buckets", "sp500", "--as-of", DAY]

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")

# The child process: kill -9 itself right after run.json first appears, or right after the
# state file records a given stage. Test code only; tsys has no switch for this.
DRIVER = textwrap.dedent(
    """
    import json, os, signal, sys
    kill_at = sys.argv[1]
    real_replace = os.replace

    def replace(src, dst, *args, **kwargs):
        real_replace(src, dst, *args, **kwargs)
        name = os.path.basename(os.fspath(dst))
        if name == "run.json" and kill_at == "run.json":
            os.kill(os.getpid(), signal.SIGKILL)
        if name == "state.json" and kill_at != "run.json":
            with open(dst) as fh:
                if kill_at in json.load(fh)["done"]:
                    os.kill(os.getpid(), signal.SIGKILL)

    os.replace = replace
    from tsys.cli import main
    sys.argv = ["tsys", *sys.argv[2:]]
    main()
    """
)


@pytest.fixture
def smtp():
    ctl, handler, _auth, port = start_smtp()
    yield handler, port
    ctl.stop()


@pytest.fixture
def env(isolated, monkeypatch, smtp):
    handler, port = smtp
    monkeypatch.setenv("TSYS_SMTP_PASSWORD", PASSWORD)
    (isolated / "tsys.toml").write_text(email_config(port))
    return isolated, handler


def tsys(*args: str, code: int = 0) -> dict:
    res = CliRunner().invoke(cli, [*args, "--json"])
    assert res.exit_code == code, res.output
    return json.loads(res.output)


def _kill_run(root: Path, kill_at: str) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [sys.executable, "-c", DRIVER, kill_at, *ARGS, "--json"],
        cwd=root,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    return proc


def _order_ids(orders: list[dict]) -> list[str]:
    return [o["order"]["client_order_id"] for o in orders]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The same day run without interruption (its own data dir), to compare with."""
    root = tmp_path_factory.mktemp("reference")
    mp = pytest.MonkeyPatch()
    isolate(mp, root)
    try:
        out = tsys(*ARGS, "--no-send")
        orders = tsys("paper", "orders")
    finally:
        mp.undo()
    assert out["exit_code"] == 0 and out["run"]["orders"]
    return out["run"], orders


@pytest.mark.parametrize("kill_at", ["run.json", "artifacts", "orders", "delivered", "hooks"])
def test_a_day_killed_mid_run_resumes_without_a_second_email_or_order(env, reference, kill_at):
    root, smtp_handler = env
    ref_run, ref_orders = reference
    run_dir = root / "data" / "demo" / "runs" / DAY
    _kill_run(root, kill_at)
    assert (run_dir / "run.json").is_file()
    before = st_mod.load_state(run_dir)
    assert before is not None and not before.complete, "killed mid-run, the day is not done"
    sent_before = len(smtp_handler.messages)

    again = tsys(*ARGS)  # no --force
    assert again["exit_code"] == 0, again["messages"]
    assert again["already_ran"] is False
    after = st_mod.load_state(run_dir)
    assert after.complete and after.pending == ()
    assert set(again["finished"]) == set(before.pending) - {"computed"} or kill_at == "run.json"
    if kill_at != "run.json":
        assert any("resumed" in m for m in again["messages"]), again["messages"]
    # one email in all, no duplicate order, the same orders as an uninterrupted run
    assert len(smtp_handler.messages) == 1, (sent_before, len(smtp_handler.messages))
    orders = tsys("paper", "orders")
    assert _order_ids(orders) == _order_ids(ref_orders)
    assert len(set(_order_ids(orders))) == len(orders)
    run = again["run"]
    assert [o["client_order_id"] for o in run["orders"]] == [
        o["client_order_id"] for o in ref_run["orders"]
    ]
    assert run["buckets"] == ref_run["buckets"] and run["portfolio"] == ref_run["portfolio"]
    plugins = [d["plugin"] for d in run["deliveries"] if d["ok"]]
    assert plugins.count("email") == 1 and plugins.count("broker:local") >= 1
    # and now the day is done: a third run reuses it
    third = tsys(*ARGS)
    assert third["already_ran"] is True and len(smtp_handler.messages) == 1


def test_a_store_that_refuses_the_index_leaves_the_day_pending(isolated, monkeypatch):
    """SQLite: the index write fails (a fault injected by the fixture); the rerun indexes it."""
    from tsys.errors import StoreError
    from tsys.store import runs as runs_module

    def refuse(self, *args, **kwargs):
        raise StoreError("attempt to write a readonly database")

    with monkeypatch.context() as mp:
        mp.setattr(runs_module.DailyRunsIndex, "record", refuse)
        first = tsys(*ARGS, "--no-send", code=10)
    assert first["pending"] == ["indexed"]
    assert any("not indexed" in m for m in first["messages"])
    assert any("not done" in m for m in first["messages"])
    orders = tsys("paper", "orders")
    again = tsys(*ARGS, "--no-send")
    assert again["finished"] == ["indexed"] and again["pending"] == []
    assert _order_ids(tsys("paper", "orders")) == _order_ids(orders)
    from tsys.store import open_store
    from tsys.workspace import DEMO_DIR, sqlite_url

    with open_store(sqlite_url(isolated / "data" / DEMO_DIR / "tsys.db")) as store:
        assert [e.as_of.isoformat() for e in store.runs.list()] == [DAY]
    assert tsys(*ARGS, "--no-send")["already_ran"] is True


# --------------------------------------------------------------------------- the invariant
STAGES = st_mod.STAGES


@given(paper=st.booleans(), done=st.sets(st.sampled_from(STAGES)))
def test_a_day_is_done_only_when_all_its_stages_are(paper, done):
    s = st_mod.RunState(
        inputs={"config_digest": "x", "buckets": []},
        source="demo",
        paper="local" if paper else None,
        send=True,
        required=st_mod.required_stages(paper=paper),
        done=tuple(x for x in STAGES if x in done),
    )
    assert s.complete == set(s.required).issubset(done)
    assert s.pending == tuple(x for x in s.required if x not in done)
    assert (st_mod.ORDERS in s.required) == paper
    for stage in s.pending:
        assert not s.complete
        s = s.finish(stage)
        assert s.finish(stage) == s  # finishing twice changes nothing
    assert s.complete and s.pending == ()


def _state(fp: str, done: tuple[str, ...], paper: str | None = None) -> st_mod.RunState:
    required = st_mod.required_stages(paper=paper is not None)
    return st_mod.RunState(
        inputs={"config_digest": fp, "buckets": []},
        source="demo",
        paper=paper,
        send=True,
        required=required,
        done=done,
    )


ALL = st_mod.STAGES
NO_PAPER = st_mod.required_stages(paper=False)


@pytest.mark.parametrize(
    ("prior", "wanted", "force", "expected"),
    [
        (None, _state("a", ()), False, "fresh"),
        (_state("a", NO_PAPER), _state("a", ()), False, "reuse"),
        (_state("a", NO_PAPER), _state("a", ()), True, "fresh"),
        (_state("a", NO_PAPER), _state("b", ()), False, "fresh"),  # other inputs
        (_state("a", ("computed",)), _state("a", ()), False, "fresh"),  # nothing durable yet
        (_state("a", ("computed", "artifacts")), _state("a", ()), False, "resume"),
        (_state("a", ALL[:4], "local"), _state("a", ()), False, "resume"),
        (_state("a", ALL, "local"), _state("a", ()), False, "reuse"),  # paper covers plain
        (_state("a", NO_PAPER), _state("a", (), "local"), False, "fresh"),  # now with paper
        (_state("a", ALL, "local"), _state("a", (), "alpaca"), False, "fresh"),
    ],
)
def test_a_stored_run_is_reused_or_resumed_only_for_the_same_inputs(prior, wanted, force, expected):
    from tsys.contracts import DailyRun

    stored = None
    if prior is not None:
        import datetime as dt

        run = DailyRun(dt.date(2024, 3, 12), dt.datetime(2024, 3, 12, 20, tzinfo=dt.UTC), "d")
        stored = st_mod.Prior(run=run, state=prior)
    assert st_mod.decide(stored, wanted, force=force) == expected


def test_a_read_only_postgresql_store_leaves_the_day_pending(
    isolated, monkeypatch, pg_schema, real_like_source
):
    """PostgreSQL in a read-only session (``default_transaction_read_only``): nothing can be
    written, so the paper orders and the index stay pending; the rerun on a writable session
    finishes exactly those."""
    from tsys.store import open_store

    schema, base = pg_schema
    writable = search_path_url(base, schema)
    open_store(writable).close()  # the schema exists, migrated
    (isolated / "tsys.toml").write_text(f'[data]\nsource = "{real_like_source}"\n')
    args = ["run-daily", "--paper", "--buckets", "sp500", "--as-of", DAY, "--no-send"]
    monkeypatch.setenv(
        "TSYS_DATABASE_URL", search_path_url(base, schema, "default_transaction_read_only=on")
    )
    first = tsys(*args, code=10)
    assert first["pending"] == ["orders", "indexed"], first["messages"]
    assert first["run"]["orders"] == []
    assert any("read-only transaction" in d["detail"] for d in first["run"]["deliveries"])
    assert any("not indexed" in m for m in first["messages"])

    monkeypatch.setenv("TSYS_DATABASE_URL", writable)
    again = tsys(*args)
    assert again["finished"] == ["orders", "indexed"], again["messages"]
    assert again["pending"] == [] and again["run"]["orders"]
    with open_store(writable) as store:
        assert [e.as_of.isoformat() for e in store.runs.list()] == [DAY]
    assert tsys(*args)["already_ran"] is True


def test_a_newsletter_sent_by_hand_finishes_the_day(isolated, monkeypatch):
    """SMTP down: the day is not done; `tsys newsletter send` later finishes it, and running
    the day again sends nothing more."""
    from e2e_smtp import free_port

    port = free_port()
    monkeypatch.setenv("TSYS_SMTP_PASSWORD", PASSWORD)
    (isolated / "tsys.toml").write_text(email_config(port))
    first = tsys(*ARGS, code=10)
    assert first["pending"] == ["delivered"]
    assert any(d["plugin"] == "email" and not d["ok"] for d in first["run"]["deliveries"])
    ctl, handler, _auth, _port = start_smtp(port=port)
    try:
        res = CliRunner().invoke(cli, ["newsletter", "send", "--as-of", DAY])
        assert res.exit_code == 0, res.output
        assert len(handler.messages) == 1
        run_dir = isolated / "data" / "demo" / "runs" / DAY
        assert st_mod.load_state(run_dir).complete
        again = tsys(*ARGS)
        assert again["already_ran"] is True and len(handler.messages) == 1
    finally:
        ctl.stop()


def test_a_damaged_stored_run_is_named_and_force_recomputes_it(isolated):
    args = ["run-daily", "--demo", "--buckets", "sp500", "--as-of", DAY, "--no-send"]
    tsys(*args)
    run_dir = isolated / "data" / "demo" / "runs" / DAY
    (run_dir / "state.json").write_text("{not json")
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 4, res.output
    assert "cannot be read" in res.output and "--force" in res.output
    assert "Traceback" not in res.output
    forced = tsys(*args, "--force")
    assert forced["already_ran"] is False and forced["pending"] == []
    assert (run_dir / "history" / "001" / "state.json").read_text() == "{not json"
    assert st_mod.load_state(run_dir).complete
