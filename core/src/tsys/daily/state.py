"""A daily run as a small state machine, recorded durably in ``runs/<as-of>/state.json``.

Stages, in order: ``computed`` -> ``artifacts`` (run.json and the CSVs written) -> ``orders``
(paper orders placed; only for a paper run) -> ``delivered`` (the newsletter written and sent
through every notifier) -> ``hooks`` (``after_daily_run`` called) -> ``indexed`` (the run is in
the store's index). A day is done only when every stage it requires is; a run of a day that is
not done resumes the pending stages, and each of them is idempotent: orders are keyed by their
client_order_id, and a notifier that has delivered is never asked again.

The file also carries what the later stages added to the run (orders, delivery results,
warnings), so the final ``run.json`` is the computed run plus those, whichever execution
finished the day. The state file is written after each stage, atomically; the only gap left
is between a notifier accepting a message and the next write (a kill exactly there sends that
notifier's message again on resume).

Orders come before delivery because the newsletter reports the day's orders and the paper
account after them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from tsys.contracts import DailyRun, DeliveryResult, Order
from tsys.errors import DataError, TsysError

STATE_FILE = "state.json"
SCHEMA_VERSION = 1

COMPUTED, ARTIFACTS, ORDERS, DELIVERED, HOOKS, INDEXED = (
    "computed",
    "artifacts",
    "orders",
    "delivered",
    "hooks",
    "indexed",
)
#: Every stage, in the order a run goes through them.
STAGES = (COMPUTED, ARTIFACTS, ORDERS, DELIVERED, HOOKS, INDEXED)


def required_stages(*, paper: bool) -> tuple[str, ...]:
    """The stages a run needs: all of them, ``orders`` only when it trades a paper account."""
    return tuple(s for s in STAGES if paper or s != ORDERS)


def fingerprint(inputs: Mapping[str, Any]) -> str:
    """A short stable hash of a run's inputs (see :func:`inputs_of`)."""
    blob = json.dumps(inputs, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def inputs_of(
    config_digest: str,
    buckets: Mapping[str, Mapping[str, Any] | None],
    sources: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """What decides a run's plans, as plain JSON data: the configuration's digest (which covers
    the bars source), each selected bucket's resolved parameters (None: unreadable) and, when
    given, where each parameter set came from (origin, file, file hash)."""
    raw: dict[str, Any] = {
        "config_digest": config_digest,
        # a list, in run order: later buckets see the earlier ones' buys
        "buckets": [[name, None if p is None else dict(p)] for name, p in buckets.items()],
    }
    if sources is not None:
        raw["param_sources"] = [[name, src] for name, src in sources.items()]
    return json.loads(json.dumps(raw, sort_keys=True, default=str))


@attrs.frozen
class RunState:
    """Where a day's run stands, and what its later stages added to it."""

    inputs: dict[str, Any]
    #: The bars source (informative: the configuration's digest already covers it).
    source: str
    #: The paper broker the run trades (None: no paper orders).
    paper: str | None
    #: Whether the newsletter goes through the notifiers (False: files only).
    send: bool
    required: tuple[str, ...]
    done: tuple[str, ...] = ()
    #: Warnings of the computed run; later ones (paper account, hooks) follow in ``warnings``.
    computed_warnings: int = 0
    orders: tuple[Order, ...] = ()
    deliveries: tuple[DeliveryResult, ...] = ()
    warnings: tuple[str, ...] = ()
    #: Notifiers that have delivered this run (a resumed delivery skips them).
    sent: tuple[str, ...] = ()
    schema_version: int = SCHEMA_VERSION

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.inputs)

    @property
    def complete(self) -> bool:
        """True when every required stage is done: only then is the day done."""
        return all(s in self.done for s in self.required)

    @property
    def pending(self) -> tuple[str, ...]:
        """The required stages not done yet, in order."""
        return tuple(s for s in self.required if s not in self.done)

    def finish(self, stage: str, **changes: Any) -> RunState:
        """This state with ``stage`` done (and any ``changes`` to the recorded results)."""
        if stage not in STAGES:
            raise ValueError(f"unknown stage {stage!r}")
        done = self.done if stage in self.done else (*self.done, stage)
        return attrs.evolve(self, done=tuple(s for s in STAGES if s in done), **changes)

    def record(self, **changes: Any) -> RunState:
        """This state with more results recorded (no stage finished)."""
        return attrs.evolve(self, **changes)

    def applied_to(self, run: DailyRun) -> DailyRun:
        """``run`` (as computed) with what the later stages added: orders, deliveries, warnings."""
        computed = run.warnings[: self.computed_warnings]
        return attrs.evolve(
            run,
            orders=self.orders,
            deliveries=self.deliveries,
            warnings=(*computed, *self.warnings),
        )


@attrs.frozen
class Prior:
    """A day's stored run and its state (a run from before states were recorded counts as
    done, with the inputs its run.json shows)."""

    run: DailyRun
    state: RunState


class UnreadableRun(DataError):
    """A day's stored run.json or state.json cannot be read."""


def prior_run(run_dir: Path) -> Prior | None:
    """The stored run in ``run_dir`` with its state (None: no run.json, nothing durable yet).

    Raises :class:`UnreadableRun` when the run or its state is damaged.
    """
    from tsys.serialization import loads

    path = Path(run_dir) / "run.json"
    if not path.is_file():
        return None
    try:
        run = loads(path.read_bytes(), DailyRun, what=str(path))
        recorded = load_state(run_dir)
    except (OSError, TsysError) as exc:
        detail = exc.message if isinstance(exc, TsysError) else str(exc)
        raise UnreadableRun(
            f"the stored run of {Path(run_dir).name} cannot be read: {detail}",
            hint="pass --force to compute the day again (the unreadable files are kept in "
            f"{Path(run_dir) / 'history'})",
        ) from exc
    return Prior(run=run, state=recorded if recorded is not None else _legacy_state(run))


def _legacy_state(run: DailyRun) -> RunState:
    paper = next(
        (
            d.plugin.removeprefix("broker:")
            for d in run.deliveries
            if d.plugin.startswith("broker:")
        ),
        None,
    )
    required = required_stages(paper=paper is not None)
    return RunState(
        inputs=inputs_of(
            run.config_digest,
            {b.bucket: b.params for b in run.buckets},
            _sources_of(run),
        ),
        source="demo" if run.synthetic_data else "unknown",
        paper=paper,
        send=True,
        required=required,
        done=required,
        computed_warnings=len(run.warnings),
        orders=run.orders,
        deliveries=run.deliveries,
    )


def _sources_of(run: DailyRun) -> dict[str, Any] | None:
    """The parameter sources a run recorded (None for runs made before they were recorded)."""
    if not all(b.param_set for b in run.buckets):
        return None
    return {
        b.bucket: [b.param_set.get(k) for k in ("origin", "path", "file_sha256")]
        for b in run.buckets
    }


def same_run(old: RunState, new: RunState) -> bool:
    """True when ``new`` would compute the run ``old`` recorded: the same inputs, trading the
    same paper account (recomputing it replaces it; otherwise the old one is kept)."""
    return old.fingerprint == new.fingerprint and old.paper == new.paper


def decide(prior: Prior | None, wanted: RunState, *, force: bool) -> str:
    """``"reuse"`` the stored run, ``"resume"`` its pending stages, or compute ``"fresh"``.

    A stored run is reused (or resumed) only when its inputs match, and when it trades the
    paper account a paper run asks for; otherwise, or with ``force``, the day is recomputed.
    """
    if prior is None or force:
        return "fresh"
    old = prior.state
    if old.fingerprint != wanted.fingerprint:  # other configuration, buckets or parameters
        return "fresh"
    if wanted.paper is not None and old.paper != wanted.paper:
        return "fresh"
    if ARTIFACTS not in old.done:
        return "fresh"
    return "reuse" if old.complete else "resume"


def archive(run_dir: Path) -> Path:
    """Move the day's run into ``run_dir/history/<n>/`` and return that folder.

    ``run.json`` moves first, so an interrupted move never leaves a run that looks done;
    ``history.jsonl`` (the executions log) stays.
    """
    import os

    run_dir = Path(run_dir)
    hist = run_dir / "history"
    taken = [int(p.name) for p in hist.iterdir() if p.name.isdigit()] if hist.is_dir() else []
    dest = hist / f"{max(taken, default=0) + 1:03d}"
    names = sorted(
        p.name
        for p in run_dir.iterdir()
        if p.is_file() and p.name != "history.jsonl" and not p.name.startswith(".")
    )
    names.sort(key=lambda n: (n != "run.json", n != STATE_FILE))
    try:
        dest.mkdir(parents=True)
        for name in names:
            os.replace(run_dir / name, dest / name)
    except OSError as exc:
        raise TsysError(
            f"cannot keep the earlier run of {run_dir.name} in {dest}: {exc.strerror or exc}"
        ) from exc
    return dest


def load_state(run_dir: Path) -> RunState | None:
    """The recorded state of the run in ``run_dir`` (None: none recorded)."""
    from tsys.serialization import loads

    path = Path(run_dir) / STATE_FILE
    if not path.is_file():
        return None
    return loads(path.read_bytes(), RunState, what=str(path))


def run_summary(runs_dir: Path, day: dt.date) -> dict[str, Any]:
    """One day's run in a line: buckets, plan counts, failures, stages still pending.

    The rows of ``tsys runs list --json`` and of the dashboard's runs page. Raises the
    :class:`~tsys.errors.TsysError` of a run or state file that cannot be read.
    """
    from tsys.store.runs import load_run

    run = load_run(runs_dir, day)
    recorded = load_state(Path(runs_dir) / day.isoformat())
    return {
        "as_of": day.isoformat(),
        "buckets": [b.bucket for b in run.buckets],
        "plans": len(run.plans),
        "buys": sum(1 for p in run.plans if p.action.value == "buy"),
        "sells": sum(1 for p in run.plans if p.action.value == "sell"),
        "failed": [b.bucket for b in run.buckets if b.error],
        "synthetic": run.synthetic_data,
        # stages not done yet (a run from before states were recorded counts as done)
        "pending": [] if recorded is None else list(recorded.pending),
    }


def save_state(run_dir: Path, state: RunState) -> None:
    """Write ``state.json`` atomically."""
    from tsys.files import atomic_write_text
    from tsys.serialization import dumps

    atomic_write_text(Path(run_dir) / STATE_FILE, dumps(state) + "\n")


def notifiers_sent(
    results: Iterable[DeliveryResult], before: Iterable[str] = ()
) -> tuple[str, ...]:
    """``before`` plus the notifiers that delivered in ``results``, each named once."""
    return tuple(dict.fromkeys([*before, *(r.plugin for r in results if r.ok)]))


def record_sent_by_hand(
    run_dir: Path, results: Sequence[DeliveryResult], configured: Iterable[str]
) -> RunState | None:
    """Record a newsletter sent with ``tsys newsletter send`` in the day's state.

    A resumed run then does not send it again through a notifier that delivered, and the
    delivery stage is done once every ``configured`` notifier has. Returns the new state
    (None: the day has no recorded state, i.e. it ran before states were recorded).
    """
    recorded = load_state(run_dir)
    if recorded is None:
        return None
    updated = recorded.record(
        deliveries=(*recorded.deliveries, *results),
        sent=notifiers_sent(results, recorded.sent),
    )
    if set(configured) <= set(updated.sent):
        updated = updated.finish(DELIVERED)
    save_state(run_dir, updated)
    return updated
