"""The daily run's meta-model: load the bucket's model behind its guards, or say why not.

With ``[buckets.NAME] ml = "filter"`` the bucket's entries on the as-of bar whose
meta-probability is below the model's threshold are dropped before portfolio construction; with
``ml = "size"`` every entry stays and the model's size factor (in [0.25, 1]) scales the
allocation the one portfolio path sized under every cap (``extras["size_factor"]``, see
:func:`tsys.portfolio.construct.select_and_size`). Either way the "why" of each scored pick in
the newsletter gets the meta-probability and the features that moved it most
(:meth:`DailyML.annotate`).

The model is used only when :func:`tsys.ml.store.load_current` accepts it (it exists, is not
stale, was trained with the parameters the bucket runs with), its walk-forward judgement
switched it on, today's bars come from the source it was trained on, and the data it was
trained on is the data the daily run reads (:func:`tsys.ml.store.data_check`: the returns of its
symbols over the last sessions of its training window, recomputed from today's bars). Otherwise
the bucket runs without it and its warnings (in the newsletter) say "ML ... is OFF" and why.
Nothing here imports scikit-learn unless a model is used.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs


@attrs.define(eq=False)
class DailyML:
    """One bucket's meta-model for today: the output adjustment (None: ML off), the notes for
    the bucket's warnings, and per symbol the line its plan's "why" gets."""

    mode: str = "off"
    adjust: Callable[[Any, Any], Any] | None = None
    notes: list[str] = attrs.field(factory=list)
    why: dict[str, str] = attrs.field(factory=dict)
    dropped: set[str] = attrs.field(factory=set)

    def annotate(self, decisions: Any) -> Any:
        """``decisions`` with each scored pick's rationale carrying its ML line (second, after
        the reason for its action); a WATCH plan of an entry the filter dropped leads with it."""
        if not self.why:
            return decisions
        from tsys.contracts import Action

        def fix(plan: Any) -> Any:
            line = self.why.get(plan.symbol)
            if line is None or plan.action is Action.SELL:
                return plan
            sig = plan.allocation.signal
            lead, rest = (sig.rationale[:1], sig.rationale[1:])
            if plan.action is Action.WATCH and plan.symbol in self.dropped:
                rationale = (line, *rest)
            else:
                rationale = (*lead, line, *rest)
            sig = attrs.evolve(sig, rationale=rationale)
            return attrs.evolve(plan, allocation=attrs.evolve(plan.allocation, signal=sig))

        plans = tuple(fix(p) for p in decisions.plans)
        return attrs.evolve(
            decisions,
            plans=plans,
            allocations=tuple(p.allocation for p in plans),
            signals=tuple(p.allocation.signal for p in plans),
        )


def daily_ml(
    bucket: Any, settings: Any, root: Path, as_of: dt.date, params: Any, hub: Any = None
) -> DailyML:
    """The meta-model of one bucket's daily step (see the module docstring); ``hub`` gives the
    news features of a model that reads them."""
    mode = getattr(settings, "ml", "off")
    out = DailyML(mode=mode)
    if mode == "off":
        return out
    from tsys.ml.store import load_current
    from tsys.paramsets import params_digest

    got = load_current(
        root,
        bucket.name,
        as_of=as_of,
        params_digest=params_digest(params),
        max_age_days=settings.ml_max_age_days,
    )
    if not got.ok:
        out.notes.append(f"ML {mode} is OFF today: {got.reason}")
        return out
    decision = (got.meta or {}).get("decision") or {}
    if not decision.get("ml_on"):
        why = "; ".join(decision.get("reasons", [])) or "no walk-forward judgement saved"
        out.notes.append(f"ML {mode} is OFF: the walk-forward did not switch it on ({why})")
        return out
    out.adjust = _adjuster(out, bucket, got.model, got.meta or {}, hub)
    return out


def _adjuster(out: DailyML, bucket: Any, model: Any, meta: dict[str, Any], hub: Any) -> Callable:
    mode = out.mode

    def adjust(bars: Any, output: Any) -> Any:
        from tsys.ml.apply import filtered_output, score_events, sized_output
        from tsys.ml.store import data_check

        if meta.get("source") and bars.source != meta["source"]:
            out.notes.append(
                f"ML {mode} is OFF today: the model was trained on {meta['source']} data, "
                f"today's bars come from {bars.source}"
            )
            return output
        problem = data_check(meta.get("data_check"), bars)
        if problem is not None:
            out.notes.append(f"ML {mode} is OFF today: {problem}")
            return output
        last = bars.shape[0] - 1
        scored = score_events(model, bars, output, bucket.benchmark, slice(last, last + 1), hub)
        if not len(scored.p):
            return output
        _explain(out, model, bars, scored)
        if mode == "size":
            return sized_output(output, scored, model.size_factor(scored.p))
        return filtered_output(output, scored, model.threshold)

    return adjust


def _explain(out: DailyML, model: Any, bars: Any, scored: Any) -> None:
    """Each scored entry's line: probability, verdict and the three features that moved it."""
    X = scored.X
    factors = model.size_factor(scored.p)
    for k, (j, p) in enumerate(zip(scored.j.tolist(), scored.p.tolist(), strict=True)):
        sym = bars.symbols[j]
        moved = ", ".join(f"{n} {v:+.3g} (p {d:+.2f})" for n, v, d in model.explain(X[k]))
        if out.mode == "size":
            verdict = f"sized x{factors[k]:.2f}"
        elif p >= model.threshold:
            verdict = f"kept, threshold {model.threshold:.2f}"
        else:
            verdict = f"dropped, below the threshold {model.threshold:.2f}"
            out.dropped.add(sym)
        # one rationale entry: no ";" (the newsletter joins a pick's entries with "; ")
        out.why[sym] = f"ML meta-probability {p:.2f} ({verdict}), moved by {moved}"
    n = len(scored.p)
    if out.mode == "size":
        out.notes.append(f"ML size: {n} entries scored today, each sized by its probability")
    else:
        gone = ", ".join(sorted(out.dropped)) or "none"
        out.notes.append(f"ML filter: {n} entries scored today, dropped: {gone}")
