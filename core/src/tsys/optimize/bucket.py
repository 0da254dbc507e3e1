"""A bucket as an optimisation target: the real backtest on the validation split or on folds.

:class:`BucketEvaluator` runs :func:`tsys.backtest.bucket.backtest_bucket` (bucket compute, the
daily run's portfolio construction, the simulator with realistic costs) on out-of-sample windows
of the period that excludes the sealed holdout: the ``validation`` split (default), or the test
windows of ``walk_forward`` folds inside train + validation. It never evaluates the holdout.

Bars are loaded once per process (:class:`~tsys.data.memo.CachedHub`), so a trial costs one compute and one
simulation per fold.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import pandas as pd

from tsys.contracts import AssetClass
from tsys.data.memo import CachedHub, first_n
from tsys.errors import DataError
from tsys.optimize.evaluate import FoldResult


@attrs.define
class Period:
    """The sessions of a bucket and how they split (60/20/20, the holdout sealed)."""

    index: pd.DatetimeIndex
    splits: Any

    def segment(self, name: str) -> pd.DatetimeIndex:
        if name == "train+validation":
            return self.index[self.index <= self.splits.validation_end]
        return self.index[self.splits.mask(self.index, name)]


def sessions(hub: Any, bucket: Any, start: dt.date | None, end: dt.date | None) -> Period:
    """The benchmark's sessions after the warm-up (as ``tsys backtest`` uses), split 60/20/20."""
    from tsys.backtest.splits import Splits

    probe = [bucket.benchmark] if bucket.benchmark else None
    bars = hub.bars(probe, None, end or dt.date.today(), asset_class=bucket.asset_class)
    if bars.shape[0] == 0 and probe is not None:
        # A benchmark the data lacks (IWM on the demo market): the asset class's sessions.
        bars = hub.bars(None, None, end or dt.date.today(), asset_class=bucket.asset_class)
    if bars.shape[0] == 0:
        raise DataError(f"no {bucket.asset_class} bars for {bucket.name}")
    index = bars.index
    if start is None:
        index = index[min(bucket.warmup_bars, len(index) - 1) :]
    else:
        index = index[index >= pd.Timestamp(start, tz="UTC")]
    if len(index) < 50:
        raise DataError(
            f"only {len(index)} sessions for {bucket.name}; too few to split",
            hint="widen --start/--end",
        )
    return Period(index, Splits.from_fractions(index))


class BucketEvaluator:
    """Scores a bucket's parameters on the validation split or walk-forward folds."""

    def __init__(
        self,
        bucket: str,
        config_path: str | None = None,
        source: str | None = None,
        path: str | None = None,
        shared_data: str | None = None,
        walk_forward: int = 0,
        start: str | None = None,
        end: str | None = None,
        max_symbols: int | None = None,
        base_params: dict[str, Any] | None = None,
    ) -> None:
        from tsys import plugins
        from tsys.config import load_config
        from tsys.data.sources import open_hub
        from tsys.sim import default_costs

        self.config = load_config(config_path)
        self.bucket = plugins.buckets().get(bucket)
        self.name = self.bucket.name
        self.base_params = None if base_params is None else dict(base_params)
        hub = open_hub(self.config, source=source, path=path, shared_data=shared_data, extras=False)
        keep = first_n(max_symbols) if max_symbols else None
        always = [self.bucket.benchmark] if self.bucket.benchmark else []
        self.hub = CachedHub(hub, keep, always)
        self.costs = default_costs(self.bucket.asset_class)
        self.periods_per_year = AssetClass(self.bucket.asset_class).periods_per_year
        s = None if start is None else dt.date.fromisoformat(start)
        e = None if end is None else dt.date.fromisoformat(end)
        self.period = sessions(self.hub, self.bucket, s, e)
        self.windows = self._windows(walk_forward)
        self.n_folds = len(self.windows)
        self.split = f"walk-forward {walk_forward}" if walk_forward else "validation"

    def _windows(self, walk_forward: int) -> list[tuple[dt.date, dt.date]]:
        if not walk_forward:
            v = self.period.segment("validation")
            return [(v[0].date(), v[-1].date())]
        from tsys.backtest.splits import walk_forward as wf

        tv = self.period.segment("train+validation")
        return [(tv[t[0]].date(), tv[t[-1]].date()) for _tr, t in wf(tv, walk_forward)]

    def search_space(self) -> dict[str, dict[str, Any]]:
        """The bucket's space for the current parameters (e.g. their mode's own)."""
        from tsys.buckets import space_for

        return space_for(self.bucket, self.defaults())

    def defaults(self) -> dict[str, Any]:
        """The current parameters: ``base_params`` when given (the resolved parameter set,
        :func:`tsys.paramsets.resolve_params`), else the defaults with ``[buckets.NAME] params``."""
        from tsys.buckets import params_from_dict

        if self.base_params is not None:
            return attrs.asdict(params_from_dict(self.bucket.Params, self.base_params))
        base = attrs.asdict(self.bucket.default_params())
        configured = self.config.bucket(self.bucket)
        if configured.params:
            base = attrs.asdict(params_from_dict(self.bucket.Params, {**base, **configured.params}))
        return base

    def data_fingerprint(self) -> dict[str, Any]:
        """What the trials are scored on: the source, the symbols, the windows and a hash of
        every close (a study keyed by it never mixes demo and real trials)."""
        import hashlib

        end = self.period.index[-1].date()
        bars = self.hub.bars(None, None, end, asset_class=self.bucket.asset_class)
        closes = np.ascontiguousarray(np.nan_to_num(bars.close, nan=-1.0), dtype=np.float64)
        out = {
            "source": self.hub.primary.name,
            "synthetic": bool(self.hub.synthetic),
            "label": bars.source,
            "symbols": hashlib.sha256("\n".join(bars.symbols).encode()).hexdigest()[:16],
            "sessions": [str(bars.index[0].date()), str(end), int(bars.shape[0])]
            if bars.shape[0]
            else [],
            "closes": hashlib.sha256(closes.tobytes()).hexdigest()[:16],
            "windows": [[a.isoformat(), b.isoformat()] for a, b in self.windows],
        }
        if self.config.account.cash_rate:  # trials on other interest are other trials
            out["cash_rate"] = self.config.account.cash_rate
        return out

    def backtest(
        self,
        params: dict[str, Any],
        start: dt.date,
        end: dt.date,
        *,
        bucket: Any = None,
        hub: Any = None,
        costs: Any = None,
        cash: float | None = None,
        split: str | None = None,
    ) -> Any:
        """One :class:`~tsys.backtest.bucket.BucketBacktest` of these params over a window."""
        from tsys.backtest.bucket import backtest_bucket
        from tsys.buckets import params_from_dict

        return backtest_bucket(
            bucket or self.bucket,
            hub or self.hub,
            self.config,
            params=params_from_dict(self.bucket.Params, params),
            start=start,
            end=end,
            split=split,
            cash=cash,
            costs=costs or self.costs,
        )

    def warm_up(self) -> None:
        """Run the current parameters on the first window once, so what every trial needs
        (the panel, the first window's bars, the modules a backtest imports) is in this
        process before ``--jobs`` workers fork from it; a failure is left to the trials."""
        import contextlib

        from tsys.errors import TsysError

        with contextlib.suppress(TsysError):
            self.evaluate(self.defaults(), 0)

    def evaluate(self, params: dict[str, Any], fold: int) -> FoldResult:
        start, end = self.windows[fold]
        bt = self.backtest(params, start, end, split=self.split)
        return fold_from_backtest(bt)

    def evaluate_batch(
        self, params: Sequence[dict[str, Any]], fold: int
    ) -> list[FoldResult | Exception]:
        """:meth:`evaluate` of every parameter set on one fold, their simulations in one
        pass (:func:`tsys.backtest.grid.backtest_many`); each result is exactly
        ``evaluate(params[i], fold)``, or the exception that evaluation raises."""
        from tsys.backtest.grid import backtest_many
        from tsys.buckets import params_from_dict

        start, end = self.windows[fold]
        typed: list[Any] = []
        for p in params:
            try:
                typed.append(params_from_dict(self.bucket.Params, p))
            except Exception as exc:  # that set fails, not the batch
                typed.append(exc)
        ok = [i for i, t in enumerate(typed) if not isinstance(t, Exception)]
        runs = backtest_many(
            self.bucket,
            self.hub,
            self.config,
            [typed[i] for i in ok],
            start=start,
            end=end,
            split=self.split,
            costs=self.costs,
        )
        out: list[FoldResult | Exception] = list(typed)
        for i, r in zip(ok, runs, strict=True):
            out[i] = r if isinstance(r, Exception) else fold_from_backtest(r)
        return out


def fold_from_backtest(bt: Any) -> FoldResult:
    eq = np.asarray(bt.equity, dtype=np.float64)
    returns = eq[1:] / eq[:-1] - 1.0 if len(eq) > 1 else np.zeros(0)
    return FoldResult(
        returns=returns,
        n_trades=len(bt.trades),
        turnover=float(bt.metrics.get("turnover", 0.0)),
        start=bt.start,
        end=bt.end,
        extra={"interest": bt.interest, "cash_rate": bt.cash_rate},
    )


def bucket_evaluator(**kwargs: Any) -> BucketEvaluator:
    """The default ``--objective-module``: :class:`BucketEvaluator`."""
    return BucketEvaluator(**kwargs)


def resolve_path(p: str | None) -> str | None:
    return None if p is None else str(Path(p).expanduser().resolve())
