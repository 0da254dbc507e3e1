"""Where a configuration's state lives: the real workspace, or the demo sandbox beside it.

Everything tsys makes from the synthetic demo market (daily runs, the paper account and the rest
of the store, Optuna studies, optimised parameters, validation reports, caches) lives under
``<data dir>/demo/``; everything made from real data lives directly under ``<data dir>``. The
two never see each other: a real run cannot read a demo run, position or parameter set.

A command works in the demo sandbox when its bars come from the demo source (``data.source = "demo"``,
which ``--demo`` sets and which is also the built-in default before a real source is
configured). The demo store is always the SQLite file ``<data dir>/demo/tsys.db``, even when
``TSYS_DATABASE_URL`` points the real store at PostgreSQL, so synthetic rows never reach a
shared database.

Use :func:`workspace` for every path or database URL of this kind::

    ws = workspace(config)
    open_store(ws.store_url)
    ws.run_dir(as_of), ws.params_file("sp500"), ws.studies_url, ws.cache_dir
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any

import attrs

#: Folder of the demo sandbox inside the data dir.
DEMO_DIR = "demo"
#: The source whose data is synthetic.
DEMO_SOURCE = "demo"
#: Environment variable with the real store's database URL (PostgreSQL for many machines).
ENV_DATABASE_URL = "TSYS_DATABASE_URL"
#: File name of the SQLite store inside a workspace.
DB_FILENAME = "tsys.db"
#: File name of the default Optuna storage inside a workspace.
STUDIES_FILENAME = "optuna.db"
#: The label shown wherever something from the demo sandbox is displayed.
SYNTHETIC_LABEL = "SYNTHETIC"


@attrs.frozen
class Workspace:
    """The folders and database URLs of one workspace (real, or the demo sandbox)."""

    #: ``<data dir>`` for real data, ``<data dir>/demo`` for the demo sandbox.
    root: Path
    #: True for the demo sandbox: everything in it is made from synthetic data.
    demo: bool

    @property
    def runs_dir(self) -> Path:
        """Daily runs, one folder per as-of date."""
        return self.root / "runs"

    def run_dir(self, as_of: dt.date) -> Path:
        """The artifacts folder of the run of ``as_of``."""
        return self.runs_dir / as_of.isoformat()

    @property
    def store_url(self) -> str:
        """The store's database URL (manual trades, paper account, run index)."""
        if self.demo:
            return sqlite_url(self.root / DB_FILENAME)
        return database_url(self.root)

    @property
    def studies_url(self) -> str:
        """The default Optuna storage (a SQLite file in the workspace)."""
        return studies_url(self.root)

    @property
    def params_dir(self) -> Path:
        """Optimised parameter sets, ``<bucket>.json``."""
        return self.root / "params"

    def params_file(self, bucket: str) -> Path:
        """Where ``tsys optimize`` writes (and every command looks for) a bucket's parameters."""
        return self.params_dir / f"{bucket}.json"

    @property
    def cache_dir(self) -> Path:
        """Data caches, one folder per source."""
        return self.root / "cache"

    @property
    def label(self) -> str:
        """``"SYNTHETIC"`` for the demo sandbox, empty for real data."""
        return SYNTHETIC_LABEL if self.demo else ""


def workspace(config: Any, *, demo: bool | None = None, source: str | None = None) -> Workspace:
    """The workspace of ``config``: the demo sandbox when its bars come from the demo market.

    Parameters
    ----------
    config
        The effective :class:`~tsys.config.Config` (its data dir is the root).
    demo
        Force the demo sandbox (True) or the real workspace (False), e.g. for
        ``tsys paper reset --demo`` or from a data hub's ``synthetic`` flag.
    source
        The bars source the command really reads when it overrides the configuration
        (``--source``; ``"csv"`` for ``--shared-data``). Default: ``config.data.source``.
    """
    data_dir = Path(config.data_path)
    if demo is None:
        demo = (source or config.data.source) == DEMO_SOURCE
    return Workspace(root=data_dir / DEMO_DIR if demo else data_dir, demo=demo)


def sqlite_url(path: Path) -> str:
    """``sqlite:///<path>``."""
    return f"sqlite:///{path}"


def studies_url(folder: Path) -> str:
    """The Optuna storage URL of the SQLite studies file in ``folder`` (an absolute path)."""
    return sqlite_url((Path(folder) / STUDIES_FILENAME).resolve())


def database_url(folder: Path) -> str:
    """``TSYS_DATABASE_URL`` if set, else the SQLite store file in ``folder``."""
    env = os.environ.get(ENV_DATABASE_URL)
    if env:
        return env
    return sqlite_url(Path(folder) / DB_FILENAME)
