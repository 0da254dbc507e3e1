"""Run artifacts under ``<data_dir>/runs/<as-of>/``, written atomically.

Layout: ``run.json`` (the whole :class:`~tsys.contracts.DailyRun`), ``signals.csv``,
``plans.csv``, ``summary.txt``, and the newsletter (``newsletter.html``/``.txt``). The writes
go through :mod:`tsys.files`.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from tsys.contracts import DailyRun
from tsys.errors import DataError


def runs_dir(data_dir: Path) -> Path:
    return Path(data_dir) / "runs"


def run_dir(data_dir: Path, as_of: dt.date) -> Path:
    return runs_dir(data_dir) / as_of.isoformat()


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
