"""Train / validation / holdout splits by date, with a sealed holdout, and walk-forward folds.

The holdout is the data a strategy must not be tuned on. Evaluating it needs
``allow_holdout=True``, and every evaluation is appended to ``<data_dir>/holdout_log.jsonl``
(UTC time, what was evaluated, a digest of the configuration), so anyone can see how often it
was peeked at: :func:`holdout_uses` reads the log.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import pandas as pd

from tsys.errors import ConfigError

LOG_NAME = "holdout_log.jsonl"
SEGMENTS = ("train", "validation", "holdout")


def _ts(x: Any) -> pd.Timestamp:
    t = pd.Timestamp(x)
    return t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")


def config_digest(config: Any) -> str:
    """A short stable digest of a configuration (anything JSON-serialisable, or its repr)."""
    try:
        text = json.dumps(config, sort_keys=True, default=repr)
    except TypeError:
        text = repr(config)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@attrs.frozen
class Splits:
    """Dates ``<= train_end`` train, ``<= validation_end`` validate, later ones are the holdout."""

    train_end: pd.Timestamp = attrs.field(converter=_ts)
    validation_end: pd.Timestamp = attrs.field(converter=_ts)

    def __attrs_post_init__(self) -> None:
        if not self.train_end < self.validation_end:
            raise ConfigError(
                f"train_end ({self.train_end.date()}) must come before validation_end "
                f"({self.validation_end.date()})"
            )

    @classmethod
    def from_fractions(
        cls, index: pd.DatetimeIndex, train: float = 0.6, validation: float = 0.2
    ) -> Splits:
        """Split the available dates by fractions (default 60 / 20 / 20)."""
        n = len(index)
        if not (train > 0 and validation > 0 and train + validation < 1):
            raise ConfigError("fractions must be > 0 and leave room for a holdout")
        i_train = int(n * train) - 1
        i_val = int(n * (train + validation)) - 1
        if i_train < 0 or i_val <= i_train or i_val >= n - 1:
            raise ConfigError(f"{n} dates are too few to split {train}/{validation}/rest")
        return cls(index[i_train], index[i_val])

    def mask(
        self,
        index: pd.DatetimeIndex,
        segment: str,
        *,
        allow_holdout: bool = False,
        data_dir: Path | str | None = None,
        what: str = "",
        config: Any = None,
    ) -> np.ndarray:
        """Boolean mask of ``index`` rows in ``segment``; the holdout is sealed (see module)."""
        idx = pd.DatetimeIndex(index)
        if segment == "train":
            return np.asarray(idx <= self.train_end)
        if segment == "validation":
            return np.asarray((idx > self.train_end) & (idx <= self.validation_end))
        if segment != "holdout":
            raise ConfigError(f"segment must be one of {SEGMENTS}, got {segment!r}")
        if not allow_holdout:
            raise ConfigError(
                "the holdout is sealed: evaluating it needs --allow-holdout",
                hint="every holdout evaluation is logged; tune on train and validation only "
                "(from Python: allow_holdout=True)",
            )
        if data_dir is None:
            raise ConfigError("evaluating the holdout needs data_dir, where the use is logged")
        record_holdout_use(data_dir, what=what, config=config)
        return np.asarray(idx > self.validation_end)


def record_holdout_use(data_dir: Path | str, *, what: str, config: Any = None) -> dict[str, str]:
    """Append one holdout evaluation to ``<data_dir>/holdout_log.jsonl`` and return the entry."""
    d = Path(data_dir)
    d.mkdir(parents=True, exist_ok=True)
    entry = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "what": what,
        "config_digest": config_digest(config),
    }
    with open(d / LOG_NAME, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(entry) + "\n")
    return entry


def holdout_uses(data_dir: Path | str) -> list[dict[str, str]]:
    """Every recorded holdout evaluation, oldest first (empty when never peeked at)."""
    p = Path(data_dir) / LOG_NAME
    if not p.exists():
        return []
    return [json.loads(line) for line in p.read_text(encoding="utf-8").splitlines() if line]


def walk_forward(
    index: pd.Index | int,
    n_folds: int,
    *,
    train_bars: int | None = None,
    anchored: bool = True,
    test_bars: int | None = None,
    embargo_bars: int = 0,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield ``(train_idx, test_idx)`` integer positions for walk-forward validation.

    The last ``n_folds x test_bars`` rows form consecutive test folds. Each fold trains on the
    rows before it, minus an embargo gap of ``embargo_bars`` (so indicators and labels that
    straddle the boundary cannot leak): from the first row when ``anchored``, else the latest
    ``train_bars`` rows. ``test_bars`` defaults to an equal share of what the first training
    window (``train_bars``, default one fold's share) leaves.
    """
    n = index if isinstance(index, int) else len(index)
    if n_folds < 1:
        raise ConfigError("n_folds must be >= 1")
    if embargo_bars < 0:
        raise ConfigError("embargo_bars must be >= 0")
    if not anchored and train_bars is None:
        raise ConfigError("rolling walk-forward (anchored=False) needs train_bars")
    first_train = train_bars if train_bars is not None else n // (n_folds + 1)
    if test_bars is None:
        test_bars = (n - first_train - embargo_bars) // n_folds
    if test_bars < 1 or first_train < 1:
        raise ConfigError(f"{n} rows are too few for {n_folds} folds with these sizes")
    start0 = n - n_folds * test_bars
    if start0 - embargo_bars < 1:
        raise ConfigError(f"{n} rows leave no training data for {n_folds} folds of {test_bars}")
    for k in range(n_folds):
        s = start0 + k * test_bars
        train_stop = s - embargo_bars
        train_start = 0 if anchored else max(0, train_stop - int(train_bars))  # type: ignore[arg-type]
        yield np.arange(train_start, train_stop), np.arange(s, s + test_bars)
