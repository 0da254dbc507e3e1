"""Delivering a run's newsletter: the files in the run folder, then every configured notifier.

The pipeline calls :func:`deliver` after writing a run's artifacts; ``tsys newsletter`` calls
:func:`tsys.report.newsletter.render`, :func:`write_files`, :func:`send` and
:func:`record_deliveries`. A notifier that fails becomes an ``ok=False`` result; the files are
always written first, so a failed send loses nothing.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs

from tsys.contracts import DailyRun, DeliveryResult
from tsys.errors import PluginError, TsysError
from tsys.notifiers import Newsletter, NotifierContext
from tsys.report.newsletter import render

log = logging.getLogger(__name__)


def newsletter_paths(run_dir: Path, newsletter: Newsletter) -> tuple[Path, Path]:
    """Where a newsletter's HTML and text go in a run folder."""
    stem = "newsletter" if newsletter.bucket is None else f"newsletter-{newsletter.bucket}"
    return Path(run_dir) / f"{stem}.html", Path(run_dir) / f"{stem}.txt"


def write_files(run_dir: Path, newsletters: Sequence[Newsletter]) -> list[Path]:
    """Write each newsletter's ``.html`` and ``.txt`` atomically; return the paths."""
    from tsys.files import atomic_write_text

    written = []
    for nl in newsletters:
        html_path, text_path = newsletter_paths(run_dir, nl)
        atomic_write_text(html_path, nl.html)
        atomic_write_text(text_path, nl.text)
        written += [html_path, text_path]
    return written


def configured_notifiers(config: Any) -> dict[str, dict[str, Any]]:
    """The enabled ``[notifiers.<name>]`` tables of the configuration (``enabled = false`` off)."""
    out = {}
    for name, options in (getattr(config, "notifiers", None) or {}).items():
        opts = dict(options or {})
        if opts.pop("enabled", True) is False:
            continue
        out[name] = opts
    return out


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def send(
    run: DailyRun,
    config: Any,
    run_dir: Path,
    *,
    names: Sequence[str] | None = None,
    paper_account: Any = None,
) -> list[DeliveryResult]:
    """Send the run's newsletter through the configured notifiers (or only ``names``).

    Each notifier is built from its ``[notifiers.<name>]`` table and resolved through the
    notifier registry. A notifier that cannot be built or fails to send becomes a result with
    ``ok=False`` naming the reason; this function never raises for a delivery failure.
    """
    from tsys.plugins import notifiers, plugin_safe

    tables = configured_notifiers(config)
    if names is not None:
        missing = [n for n in names if n not in tables]
        for n in missing:
            # Named on the command line but absent from the file: defaults may still work
            # (e.g. the file notifier), so try it with no options.
            tables[n] = {}
        tables = {n: tables[n] for n in names}
    cache: dict[bool, list[Newsletter]] = {}
    results = []
    for name, options in tables.items():
        try:
            cls = notifiers().get(name)
            owner = notifiers().owner(name)
            ctx = NotifierContext(config=config, run_dir=Path(run_dir))
            from_config = plugin_safe(owner, cls.from_config, keep=TsysError)
            notifier = from_config(dict(options), ctx)
            per_bucket = bool(getattr(notifier, "per_bucket", False))
            if per_bucket not in cache:
                cache[per_bucket] = render(run, per_bucket=per_bucket, paper_account=paper_account)
            send = plugin_safe(owner, notifier.send, keep=TsysError)
            result = send(run, cache[per_bucket])
            if not isinstance(result, DeliveryResult):
                raise PluginError(
                    f"notifier {name!r} returned {type(result).__name__}, expected DeliveryResult"
                )
            if result.at is None:
                result = attrs.evolve(result, at=_now())
        except TsysError as exc:
            log.warning("notifier %s failed: %s", name, exc.message)
            result = DeliveryResult(plugin=name, ok=False, detail=str(exc), at=_now())
        results.append(result)
    return results


def deliver(
    run: DailyRun,
    config: Any,
    run_dir: Path,
    *,
    send: bool = True,
    paper_account: Any = None,
) -> list[DeliveryResult]:
    """Write the newsletter into the run folder, then send it through every notifier.

    The files (``newsletter.html``, ``newsletter.txt``) are always written, before any send,
    so a failed send loses nothing. Without a configured notifier (or with ``send=False``)
    the single result says where the files are. Send failures come back as ``ok=False``
    results; only a failure to write the files raises.

    Returns
    -------
    list of DeliveryResult
        One per notifier tried, for the caller to record in the run.
    """
    combined = render(run, paper_account=paper_account)
    paths = write_files(run_dir, combined)
    where = ", ".join(str(p) for p in paths)
    if not send:
        return [DeliveryResult(plugin="file", ok=True, detail=f"sending skipped; wrote {where}")]
    if not configured_notifiers(config):
        return [
            DeliveryResult(
                plugin="file",
                ok=True,
                detail=(
                    f"no notifier configured ([notifiers.email] in tsys.toml sends email); "
                    f"wrote {where}"
                ),
            )
        ]
    return _send(run, config, run_dir, paper_account=paper_account)


_send = send


def record_deliveries(run: DailyRun, run_dir: Path, results: Sequence[DeliveryResult]) -> DailyRun:
    """Append delivery results to the run and rewrite ``run.json`` atomically."""
    from tsys.files import atomic_write_text
    from tsys.serialization import dumps

    updated = attrs.evolve(run, deliveries=(*run.deliveries, *results))
    atomic_write_text(Path(run_dir) / "run.json", dumps(updated))
    return updated
