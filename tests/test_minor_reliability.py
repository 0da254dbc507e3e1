"""Issue 21, minors 15, 16 and 17: a damaged day, a misplaced path, a tag with ';'."""

from __future__ import annotations

import json

from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from tsys.cli import cli
from tsys.store.manual_files import join_tags, split_tags

DAY1, DAY2, DAY3 = "2024-06-26", "2024-06-27", "2024-06-28"


def _run(*args, env=None):
    return CliRunner().invoke(cli, list(args), env=env)


def test_one_corrupt_run_json_does_not_hide_the_others(isolated):
    """Regression (21.15): one corrupt older run.json made `runs list` fail with exit 3, and
    the next run dropped the positions carried from that day without a word."""
    for day in (DAY1, DAY2):
        assert _run("run-daily", "--demo", "--as-of", day, "--no-send").exit_code == 0
    runs = isolated / "data" / "demo" / "runs"
    (runs / DAY2 / "run.json").write_text("{ not json")
    listed = _run("runs", "list")
    assert listed.exit_code == 0, listed.output
    assert DAY1 in listed.output and f"the {DAY2} run cannot be read" in listed.output
    nxt = _run("run-daily", "--demo", "--as-of", DAY3, "--no-send")
    assert nxt.exit_code == 0, nxt.output
    run = json.loads((runs / DAY3 / "run.json").read_text())
    notes = json.dumps(run)
    assert f"system positions of the {DAY2} run not counted" in notes


def test_tsys_config_pointing_at_a_folder_says_so(isolated):
    """Regression (21.16): TSYS_CONFIG naming a folder said "does not exist"."""
    folder = isolated / "conf"
    folder.mkdir()
    res = _run("config", "show", env={"TSYS_CONFIG": str(folder)})
    assert res.exit_code == 3 and "is a folder, not a file" in res.output


def test_unwritable_data_dir_is_a_store_failure_not_a_bug(isolated, monkeypatch):
    """Regression (21.16): a data dir that cannot be written exited 1 ("a bug")."""
    blocker = isolated / "blocker"
    blocker.write_text("a file where the data dir should be")
    monkeypatch.setenv("TSYS_DATA_DIR", str(blocker))
    res = _run("run-daily", "--demo", "--as-of", DAY3, "--no-send")
    assert res.exit_code == 7, res.output
    assert "cannot" in res.output and "Traceback" not in res.output


@given(tags=st.lists(st.text(min_size=1, max_size=12), max_size=5))
def test_tags_survive_one_csv_cell(tags):
    """Invariant (21.17): any tags, ';' and '\\' included, come back as they went in."""
    assert split_tags(join_tags(tags)) == tags


def test_tag_with_semicolon_round_trips_through_export_and_import(isolated):
    """Regression (21.17): a tag holding ';' came back as two tags."""
    add = _run(
        "trades", "add", "IBM", "--side", "buy", "--qty", "1", "--price", "10",
        "--date", "2024-01-02", "--tag", "a;b", "--tag", "c\\d",
    )  # fmt: skip
    assert add.exit_code == 0, add.output
    out = isolated / "export.csv"
    assert _run("trades", "export", "--format", "csv", "--output", str(out)).exit_code == 0
    fresh = {"TSYS_DATA_DIR": str(isolated / "fresh")}
    imported = _run("trades", "import", str(out), env=fresh)
    assert imported.exit_code == 0, imported.output
    shown = json.loads(_run("trades", "list", "--json", env=fresh).output)
    assert [t["tags"] for t in shown] == [["a;b", "c\\d"]]


def test_read_only_command_does_not_wait_for_a_writer(isolated):
    """Regression (21.10): every open took BEGIN IMMEDIATE, so `trades list` waited 30 s and
    failed while an import held the write lock."""
    import sqlite3
    import time

    assert _run("trades", "list").exit_code == 0  # creates and migrates the store
    db = next((isolated / "data").rglob("tsys.db"))
    writer = sqlite3.connect(db, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    try:
        start = time.monotonic()
        res = _run("trades", "list")
        took = time.monotonic() - start
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert res.exit_code == 0, res.output
    assert took < 10


def test_garbage_database_file_is_a_store_error_with_its_path(isolated):
    """Regression (21.11): a garbage store file surfaced as a peewee traceback."""
    assert _run("trades", "list").exit_code == 0
    db = next((isolated / "data").rglob("tsys.db"))
    for extra in db.parent.glob("tsys.db-*"):
        extra.unlink()
    db.write_bytes(b"this is not a database" * 100)
    res = _run("trades", "list")
    assert res.exit_code == 7, res.output
    assert str(db) in res.output and "Traceback" not in res.output


def test_artifacts_and_history_share_one_file_mode(isolated):
    """Regression (21.16): artifacts were 0600 while history.jsonl was 0644."""
    assert _run("run-daily", "--demo", "--as-of", DAY3, "--no-send").exit_code == 0
    run_dir = isolated / "data" / "demo" / "runs" / DAY3
    modes = {p.name: p.stat().st_mode & 0o777 for p in run_dir.iterdir() if p.is_file()}
    assert len(set(modes.values())) == 1, modes
