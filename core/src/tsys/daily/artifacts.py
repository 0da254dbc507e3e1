"""Run artifacts under ``<workspace>/runs/<as-of>/``, each written atomically.

Layout: ``run.json`` (the whole :class:`~tsys.contracts.DailyRun`, deterministic: the same
inputs give the same bytes), ``signals.csv``, ``plans.csv``, ``summary.txt``, the newsletter
(``newsletter.html``/``.txt``, written by the delivery stage), ``state.json`` (where the run
stands, :mod:`tsys.daily.state`) and ``history.jsonl`` (one line per execution, with its
wall-clock time). Reading runs back is :mod:`tsys.store.runs`.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from tsys.contracts import DailyRun
from tsys.files import append_line, atomic_write_text, csv_text

SIGNAL_COLUMNS = (
    "bucket",
    "symbol",
    "asset_class",
    "timestamp",
    "side",
    "intent",
    "score",
    "rationale",
)
PLAN_COLUMNS = (
    "bucket",
    "symbol",
    "action",
    "reason",
    "dollars",
    "weight",
    "quantity",
    "entry",
    "limit_price",
    "stop",
    "stop_kind",
    "take_profit",
    "time_stop_bars",
    "client_order_id",
    "valid_until",
    "constraints",
)


def write_artifacts(run: DailyRun, out_dir: Path, *, only_run_json: bool = False) -> None:
    """Write ``run.json``, ``signals.csv``, ``plans.csv`` and ``summary.txt`` atomically."""
    from tsys.serialization import dumps

    atomic_write_text(out_dir / "run.json", dumps(run) + "\n")
    if only_run_json:
        return
    atomic_write_text(out_dir / "signals.csv", csv_text(SIGNAL_COLUMNS, _signal_rows(run)))
    atomic_write_text(out_dir / "plans.csv", csv_text(PLAN_COLUMNS, _plan_rows(run)))
    atomic_write_text(out_dir / "summary.txt", summary_text(run))


def _signal_rows(run: DailyRun) -> list[dict[str, Any]]:
    return [
        {
            "bucket": s.bucket,
            "symbol": s.symbol,
            "asset_class": s.asset_class.value,
            "timestamp": s.timestamp.isoformat(),
            "side": s.side.value,
            "intent": s.intent.value,
            "score": f"{s.score:.6g}",
            "rationale": "; ".join(s.rationale),
        }
        for s in run.signals
    ]


def _plan_rows(run: DailyRun) -> list[dict[str, Any]]:
    rows = []
    for br in run.buckets:
        for p in br.plans:
            a = p.allocation
            rows.append(
                {
                    "bucket": br.bucket,
                    "symbol": a.signal.symbol,
                    "action": p.action.value,
                    # The reason for this plan's own action (exit, entry, binding constraint).
                    "reason": a.signal.rationale[0] if a.signal.rationale else "",
                    "dollars": f"{a.dollars:.2f}",
                    "weight": f"{a.weight:.6f}",
                    "quantity": f"{a.quantity:.8g}",
                    "entry": p.entry.value,
                    "limit_price": "" if p.limit_price is None else f"{p.limit_price:.4f}",
                    "stop": "" if p.stop is None or p.stop.price is None else f"{p.stop.price:.4f}",
                    "stop_kind": "" if p.stop is None else p.stop.kind.value,
                    "take_profit": "" if p.take_profit is None else f"{p.take_profit:.4f}",
                    "time_stop_bars": "" if p.time_stop_bars is None else p.time_stop_bars,
                    "client_order_id": p.client_order_id,
                    "valid_until": p.valid_until.isoformat(),
                    "constraints": "; ".join(f"{c.name}: {c.detail}" for c in a.constraints),
                }
            )
    return rows


def summary_text(run: DailyRun) -> str:
    """A plain-text summary a person can read in a terminal or a mail client."""
    from tsys import format as fmt

    lines = [f"tsys daily run for {run.as_of.isoformat()} (config {run.config_digest})"]
    if run.synthetic_data:
        lines.append("SYNTHETIC DATA: not real prices; for trying tsys out only")
    for br in run.buckets:
        lines.append("")
        head = f"== {br.bucket} v{br.version} ({br.asset_class.value}, as of {br.as_of})"
        if br.regime:
            head += f" regime: {br.regime}"
        lines.append(head)
        if br.error:
            lines.append(f"   FAILED: {br.error}")
            continue
        if not br.plans:
            lines.append("   no action")
        for p in br.plans:
            a = p.allocation
            stop = (
                "" if p.stop is None or p.stop.price is None else f" stop {fmt.price(p.stop.price)}"
            )
            why = "; ".join(a.signal.rationale[:2])
            qty = fmt.quantity(a.quantity, a.signal.asset_class.value)
            lines.append(
                f"   {p.action.value.upper():5} {a.signal.symbol:10} ${a.dollars:>12,.2f} "
                f"{a.weight:6.2%} qty {qty} {p.entry.value}{stop}  {why}"
            )
        for b in br.blockers:
            lines.append(f"   AVOID {b.symbol}: {b.reason}")
    if run.warnings:
        lines.append("")
        lines.append("Warnings:")
        lines.extend(f" - {w}" for w in run.warnings)
    return "\n".join(lines) + "\n"


def record_history(out_dir: Path, run: DailyRun, executed_at: dt.datetime) -> None:
    """Append this execution (wall-clock time, config digest, plan count) to history.jsonl."""
    entry = {
        "executed_at": executed_at.isoformat(timespec="seconds"),
        "as_of": run.as_of.isoformat(),
        "config_digest": run.config_digest,
        "plans": len(run.plans),
    }
    append_line(out_dir / "history.jsonl", json.dumps(entry))
