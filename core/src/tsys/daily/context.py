"""The run-scoped object every stage of a daily run shares (:class:`DailyContext`).

It holds what one run needs once: the effective configuration, its workspace, the dates, the
decision time, the data hub, the store (opened at most once per run), the paper broker, the
clock and the run's warnings. Stages read it and add to its warnings; nothing else is shared.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import attrs

from tsys.errors import TsysError

if TYPE_CHECKING:
    from tsys.config import Config
    from tsys.contracts import DeliveryResult
    from tsys.daily.asof import AsOf
    from tsys.data.source import DataHub
    from tsys.paramsets import ParamChoices
    from tsys.store import Store
    from tsys.workspace import Workspace


def _no_choices() -> ParamChoices:
    from tsys.paramsets import ParamChoices

    return ParamChoices()


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@attrs.define
class Clock:
    """Wall-clock time for what a run records, and the time each stage took."""

    wall: Callable[[], dt.datetime] = utc_now
    timings: dict[str, float] = attrs.field(factory=dict)
    _mark: float = attrs.field(factory=time.perf_counter)

    def now(self) -> dt.datetime:
        return self.wall()

    def lap(self, stage: str) -> None:
        """Add the time since the last lap to ``stage``."""
        t = time.perf_counter()
        self.timings[stage] = self.timings.get(stage, 0.0) + (t - self._mark)
        self._mark = t


@attrs.define
class DailyContext:
    """One daily run's shared state; build it with :func:`open_context`, close it after."""

    config: Config
    workspace: Workspace
    dates: AsOf
    #: When the run's decisions are taken (the as-of close); ``run.json``'s ``created_at``.
    decision_time: dt.datetime
    clock: Clock
    progress: Callable[[str, str], None]
    warnings: list[str] = attrs.field(factory=list)
    #: ``--params``/``--param`` choices per bucket (empty: each bucket's resolved set).
    params: ParamChoices = attrs.field(factory=lambda: _no_choices())
    #: The paper broker of this run (None: no paper orders, or it could not be opened).
    broker: Any = None
    #: Why the paper broker could not be opened (a failed result for the run's record).
    broker_failure: DeliveryResult | None = None
    #: The ``tsys override`` rules in force, as recorded in ``run.json``.
    overrides: tuple[dict[str, Any], ...] = ()
    _hub: DataHub | None = None
    _store: Store | None = None
    _store_error: TsysError | None = None

    @property
    def hub(self) -> DataHub:
        """The configured data sources, opened on first use."""
        if self._hub is None:
            from tsys.data.sources import open_hub

            self._hub = open_hub(self.config, as_of=self.dates.key)
        return self._hub

    def store(self) -> Store:
        """The workspace's store, opened once per run; a failure to open is raised every time."""
        if self._store is None and self._store_error is None:
            from tsys.store import open_store

            try:
                self._store = open_store(self.workspace.store_url)
            except TsysError as exc:
                self._store_error = exc
            else:
                for note in self._store.notes:  # e.g. a store that came back empty (21.11)
                    self.warn(note)
        if self._store_error is not None:
            raise self._store_error
        assert self._store is not None
        return self._store

    def say(self, stage: str, message: str) -> None:
        self.progress(stage, message)

    def warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None


def open_context(
    config: Config,
    dates: AsOf,
    *,
    clock: Clock,
    progress: Callable[[str, str], None] | None = None,
) -> DailyContext:
    """The context of a run of ``config`` for ``dates`` (nothing is opened yet)."""
    from tsys.daily.asof import decision_time
    from tsys.workspace import workspace

    return DailyContext(
        config=config,
        workspace=workspace(config),
        dates=dates,
        decision_time=decision_time(dates),
        clock=clock,
        progress=progress or (lambda stage, message: None),
        warnings=list(dates.notes),
    )
