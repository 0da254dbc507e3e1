"""Where studies live: a SQLite file by default, any SQLAlchemy URL (PostgreSQL) for many machines.

Every worker opens the storage with a heartbeat: a worker that dies mid-trial stops beating, and
after the grace period the next worker to start a trial marks the orphan FAIL (Optuna's
``fail_stale_trials``) and re-queues its parameters once (``RetryHeartbeatStaleTrialCallback``), so the
study goes on without it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tsys.errors import ConfigError
from tsys.workspace import studies_url

DEFAULT_HEARTBEAT = 30.0
DEFAULT_GRACE = 90.0


def default_storage_url(data_dir: Path) -> str:
    """``sqlite:///<data_dir>/optuna.db`` (the folder is created); see ``Workspace.studies_url``."""
    data_dir.mkdir(parents=True, exist_ok=True)
    return studies_url(data_dir)


def redact(url: str) -> str:
    """The URL with any password replaced by ``***`` (for files, logs and output)."""
    from tsys.redact import redact_url

    return redact_url(url)


def driver_url(url: str) -> str:
    """Pick an installed PostgreSQL driver when the URL names none.

    SQLAlchemy 2.1 maps ``postgresql://`` to psycopg 3; tsys's ``postgres`` extra installs
    psycopg2, so a bare URL is pointed at whichever of the two is importable.
    """
    import importlib.util

    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            rest = url[len(prefix) :]
            if importlib.util.find_spec("psycopg") is not None:
                return "postgresql+psycopg://" + rest
            if importlib.util.find_spec("psycopg2") is not None:
                return "postgresql+psycopg2://" + rest
    return url


def open_storage(
    url: str,
    *,
    heartbeat: float | None = DEFAULT_HEARTBEAT,
    grace: float | None = DEFAULT_GRACE,
    max_retry: int = 1,
) -> Any:
    """An ``optuna.storages.RDBStorage`` with heartbeat, grace period and one retry."""
    import optuna
    from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback

    if "://" not in url:
        raise ConfigError(
            f"storage {redact(url)!r} is not a database URL",
            hint="use sqlite:///path/to/optuna.db or postgresql://user@host:5432/db",
        )
    import warnings

    from optuna.exceptions import ExperimentalWarning

    engine_kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        # Several local worker processes share the file: wait for locks instead of failing.
        engine_kwargs["connect_args"] = {"timeout": 60}
    else:
        engine_kwargs["pool_pre_ping"] = True
    kwargs: dict[str, Any] = {}
    with warnings.catch_warnings():
        # Heartbeats have been "experimental" in Optuna since 2.8; the interface is stable.
        warnings.simplefilter("ignore", ExperimentalWarning)
        retry = RetryHeartbeatStaleTrialCallback(max_retry=max_retry)
    if heartbeat is not None:
        kwargs = {
            "heartbeat_interval": int(max(1, round(heartbeat))),
            "grace_period": int(max(1, round(grace if grace is not None else 3 * heartbeat))),
            "heartbeat_stale_trial_callback": retry,
        }
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ExperimentalWarning)
            return RDBStorage(driver_url(url), engine_kwargs=engine_kwargs, **kwargs)
    except ImportError as exc:
        raise ConfigError(
            f"the database driver for {redact(url)} is not installed ({exc.name})",
            hint="for PostgreSQL install the extra: pip install 'tsys[postgres]'",
        ) from exc
    except Exception as exc:
        raise ConfigError(
            f"cannot open the study storage {redact(url)}: {type(exc).__name__}",
            hint="check that the database server is reachable and the URL is right",
        ) from exc
