"""Issue 21.11: a store that cannot be written, and one that comes back empty.

* A read-only store file: a write command exits 7 naming the store and saying it is read-only;
  a read-only command still reads it. Root ignores file modes, so as root the commands run in a
  child process without the capability to override them (``setpriv``), which is what an
  ordinary user meets.
* A store file deleted (or emptied) beside the daily runs of the old one: every command warns
  that the new store does not hold the old one's trades, and the daily run says so too.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
from click.testing import CliRunner

from tsys.cli import cli

DAY = "2026-07-01"


def _as_user() -> list[str]:
    """The command prefix that runs a child without root's file-mode override."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: file modes cannot be enforced")
    return [setpriv, "--bounding-set=-dac_override,-dac_read_search", "--"]


def _tsys(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*_as_user(), sys.executable, "-m", "tsys", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ),
    )


ADD = ("trades", "add", "IBM", "--side", "buy", "--qty", "1", "--price", "100")


@pytest.mark.parametrize("what", ["file", "folder"])
def test_a_read_only_store_is_exit_7_naming_it(isolated, what):
    first = CliRunner().invoke(cli, [*ADD, "--date", "2024-05-02"])
    assert first.exit_code == 0, first.output
    db = next((isolated / "data").rglob("tsys.db"))
    for extra in db.parent.glob("tsys.db-*"):  # WAL and shared-memory files of the last write
        extra.unlink()
    target = db if what == "file" else db.parent
    target.chmod(0o444 if what == "file" else 0o555)
    try:
        res = _tsys(*ADD, "--date", "2024-05-03")
        listed = _tsys("trades", "list", "--json")
    finally:
        target.chmod(0o644 if what == "file" else 0o755)
    assert res.returncode == 7, res.stderr
    assert "read-only" in res.stderr and str(db) in res.stderr, res.stderr
    assert "Traceback" not in res.stderr
    if what == "file":
        assert listed.returncode == 0, listed.stderr  # reading a read-only file still works
        assert '"IBM"' in listed.stdout
    else:  # SQLite cannot even read without making its journal beside the file
        assert listed.returncode == 7 and "read-only" in listed.stderr, listed.stderr
    assert "move the file aside" not in res.stderr + listed.stderr  # not a broken file


def test_a_store_that_comes_back_empty_is_said(isolated):
    run = CliRunner().invoke(cli, ["run-daily", "--demo", "--as-of", DAY, "--no-send"])
    assert run.exit_code == 0, run.output
    db = isolated / "data" / "demo" / "tsys.db"
    assert db.is_file()
    db.unlink()  # a deleted store, recreated empty by the next command
    for extra in db.parent.glob("tsys.db-*"):
        extra.unlink()
    res = _tsys("run-daily", "--demo", "--as-of", DAY, "--no-send", "--force")
    assert res.returncode == 0, res.stderr
    said = " ".join(res.stderr.split()) + " ".join(res.stdout.split())
    assert f"the store {db} was just created empty" in said, said
    assert "holds 1 daily run made with an earlier store" in said
    # once: the next command opens a store that exists
    again = _tsys("run-daily", "--demo", "--as-of", DAY, "--no-send", "--dry-run")
    assert "just created empty" not in again.stderr
