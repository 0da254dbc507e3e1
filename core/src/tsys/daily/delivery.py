"""The delivery stage: the newsletter (files, then every notifier), the ``after_daily_run`` hook
and the run's entry in the store's index. None of them raises: a failure is recorded."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tsys.contracts import DailyRun, DeliveryResult
from tsys.errors import TsysError

if TYPE_CHECKING:
    from tsys.daily.context import DailyContext


def deliver(
    run: DailyRun,
    ctx: DailyContext,
    out_dir: Path,
    *,
    send: bool,
    paper_account: Any = None,
    skip: Sequence[str] = (),
) -> list[DeliveryResult]:
    """Write the newsletter into the run folder and send it; failures come back as results.

    Notifiers named in ``skip`` have delivered this run already (a resumed run): they are not
    asked again.
    """
    from tsys.report import delivery
    from tsys.report.newsletter import render

    try:
        if not skip:
            return list(
                delivery.deliver(run, ctx.config, out_dir, send=send, paper_account=paper_account)
            )
        delivery.write_files(out_dir, render(run, paper_account=paper_account))
        names = [n for n in delivery.configured_notifiers(ctx.config) if n not in skip]
        if not send or not names:
            return []
        return list(
            delivery.send(run, ctx.config, out_dir, names=names, paper_account=paper_account)
        )
    except TsysError as exc:
        return [
            DeliveryResult(plugin="newsletter", ok=False, detail=exc.message, at=ctx.clock.now())
        ]


def after_daily_run(run: DailyRun) -> list[str]:
    """Call every plugin's ``after_daily_run``; a plugin's failure becomes a warning."""
    from tsys.plugins import call_hook, hook_warnings

    return hook_warnings(call_hook("after_daily_run", run=run))


def index_run(ctx: DailyContext, run: DailyRun, out_dir: Path) -> str | None:
    """Record the run in the store's index; return why it could not be (None: recorded)."""
    try:
        ctx.store().runs.record(run.as_of, ctx.clock.now(), run.config_digest, str(out_dir))
    except TsysError as exc:
        return f"the run was written but not indexed in the store: {exc.message}"
    return None
