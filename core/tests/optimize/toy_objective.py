"""A tiny, fast, deterministic objective for optimisation tests (loaded by --objective-module).

Returns are seeded noise around a drift that peaks at x = 0.6, n = 7, mode "b", so the best
parameters are known; ``delay`` seconds per evaluation make trials slow enough to kill a worker
mid-trial; ``trades_per_n`` controls the trade count so constraints can bind.
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

import numpy as np

from tsys.optimize.evaluate import FoldResult

SPACE = {
    "x": {"kind": "float", "low": 0.0, "high": 1.0, "log": False, "step": None},
    "n": {"kind": "int", "low": 1, "high": 10, "log": False, "step": None},
    "mode": {"kind": "categorical", "choices": ("a", "b")},
}


def drift(params: dict[str, Any]) -> float:
    return (
        0.002
        - 0.004 * (params["x"] - 0.6) ** 2
        - 0.00005 * (params["n"] - 7) ** 2
        + (0.0003 if params["mode"] == "b" else 0.0)
    )


class Toy:
    periods_per_year = 252

    def __init__(
        self,
        name: str = "toy",
        folds: int = 1,
        delay: float = 0.0,
        bars: int = 250,
        trades_per_n: int = 5,
        log: str | None = None,
        crash_after: int | None = None,
        data: str | None = None,
    ) -> None:
        self.name = name
        self.n_folds = folds
        self.delay = delay
        self.bars = bars
        self.trades_per_n = trades_per_n
        self.split = "validation" if folds == 1 else f"walk-forward {folds}"
        self.log = log
        self.crash_after = crash_after
        self.calls = 0
        #: Names the market the toy "trades" (a study is keyed by it, as by a bucket's data).
        self.data = data

    def data_fingerprint(self) -> str | None:
        return self.data

    def search_space(self) -> dict[str, dict[str, Any]]:
        return SPACE

    def defaults(self) -> dict[str, Any]:
        return {"x": 0.5, "n": 5, "mode": "a", "fixed": 1}

    def evaluate(self, params: dict[str, Any], fold: int) -> FoldResult:
        self.calls += 1
        if self.crash_after is not None and self.calls > self.crash_after:
            raise RuntimeError("simulated crash in the middle of a trial")
        if self.log is not None:
            with open(self.log, "a") as fh:
                fh.write(json.dumps({**params, "fold": fold}) + "\n")
        if self.delay:
            time.sleep(self.delay)
        key = json.dumps({k: params[k] for k in sorted(SPACE)} | {"fold": fold}, sort_keys=True)
        seed = int(hashlib.sha256(key.encode()).hexdigest()[:8], 16)
        rng = np.random.default_rng(seed)
        r = rng.normal(drift(params), 0.01, self.bars)
        return FoldResult(
            returns=r, n_trades=int(params["n"]) * self.trades_per_n, turnover=params["x"] * 10
        )


def make(**kwargs: Any) -> Toy:
    return Toy(**kwargs)
