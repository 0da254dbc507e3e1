"""Run artifacts under ``<data_dir>/runs/<as-of>/``, written atomically.

Layout: ``run.json`` (the whole :class:`~tsys.contracts.DailyRun`), ``signals.csv``,
``plans.csv``, ``summary.txt``, and the newsletter (``newsletter.html``/``.txt``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import tempfile
from pathlib import Path

from tsys.contracts import DailyRun
from tsys.errors import DataError, TsysError


def runs_dir(data_dir: Path) -> Path:
    return Path(data_dir) / "runs"


def run_dir(data_dir: Path, as_of: dt.date) -> Path:
    return runs_dir(data_dir) / as_of.isoformat()


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temp file in the same folder and a rename.

    A reader sees the old file or the new one, never half of one; a failed write leaves the
    old file untouched and no temp file behind.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise TsysError(f"cannot write {path}: {exc.strerror or exc}") from exc
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise TsysError(f"cannot write {path}: {exc.strerror or exc}") from exc


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def load_run(data_dir: Path, as_of: dt.date) -> DailyRun:
    """Load ``runs/<as_of>/run.json``; a missing run says which runs exist."""
    from tsys.serialization import loads

    path = run_dir(data_dir, as_of) / "run.json"
    if not path.is_file():
        known = list_runs(data_dir)
        hint = (
            "known runs: " + ", ".join(d.isoformat() for d in known[-5:])
            if known
            else ("run `tsys run-daily` first")
        )
        raise DataError(f"no daily run for {as_of.isoformat()} in {runs_dir(data_dir)}", hint=hint)
    return loads(path.read_bytes(), DailyRun, what=str(path))


def list_runs(data_dir: Path) -> list[dt.date]:
    """As-of dates of the runs on disk, oldest first."""
    base = runs_dir(data_dir)
    if not base.is_dir():
        return []
    out = []
    for p in base.iterdir():
        try:
            d = dt.date.fromisoformat(p.name)
        except ValueError:
            continue
        if (p / "run.json").is_file():
            out.append(d)
    return sorted(out)


def latest_run(data_dir: Path) -> dt.date | None:
    runs = list_runs(data_dir)
    return runs[-1] if runs else None
