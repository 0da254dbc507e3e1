"""Gates: the thresholds a validation report must meet, and where passing reports are found.

A report is saved as ``<data_dir>/validation/<bucket>-<digest>.json`` where the digest is taken
over the full parameter mapping, so :func:`params_validated` can answer "did exactly these
parameters pass?" for the daily run (``require_validation = true``). The gates are re-applied
with the *current* ``[validation]`` thresholds when the answer is asked, so tightening a
threshold withdraws an earlier pass.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import attrs

from tsys.paramsets import params_dict, params_digest


@attrs.frozen
class GateResult:
    name: str
    value: float | None
    threshold: float
    rule: str  # ">=" or "<="
    passed: bool


def report_path(data_dir: Path, bucket: str, params: Any) -> Path:
    return Path(data_dir) / "validation" / f"{bucket}-{params_digest(params)}.json"


def _gate(name: str, value: float | None, threshold: float, rule: str) -> GateResult:
    ok = value is not None and math.isfinite(value)
    if ok:
        ok = value >= threshold if rule == ">=" else value <= threshold
    return GateResult(name, value, float(threshold), rule, bool(ok))


def _magnitude(value: float | None) -> float | None:
    return None if value is None else abs(float(value))


def evaluate_gates(figures: dict[str, Any], gates: Any) -> list[GateResult]:
    """Apply the ``[validation]`` thresholds to a report's figures.

    ``figures`` holds ``deflated_sharpe``, ``max_drawdown`` (a negative fraction; reports saved
    before schema 2 held its magnitude: the gate compares the magnitude either way), ``n_trades``,
    ``random_entry_p`` and ``sharpe_costs_x2``; a missing or non-finite figure fails its gate.
    """
    out = [
        _gate("deflated Sharpe", figures.get("deflated_sharpe"), gates.min_deflated_sharpe, ">="),
        _gate("max drawdown", _magnitude(figures.get("max_drawdown")), gates.max_drawdown, "<="),
        _gate("trades", figures.get("n_trades"), gates.min_trades, ">="),
    ]
    p_max = getattr(gates, "max_random_entry_p", None)
    if p_max is not None:
        out.append(_gate("random-entry p-value", figures.get("random_entry_p"), p_max, "<="))
    s2 = getattr(gates, "min_sharpe_double_costs", None)
    if s2 is not None:
        out.append(_gate("Sharpe at 2x costs", figures.get("sharpe_costs_x2"), s2, ">="))
    return out


def anchor_gates(figures: dict[str, Any], gates: Any) -> list[GateResult]:
    """Gates against the benchmark and the anchors (figures from the same window).

    ``sharpe_margin``: the strategy's Sharpe minus the best Sharpe of the benchmark and the
    anchors, at least ``min_sharpe_margin``. ``beats_buy_and_hold`` (1 or 0): better than buy
    and hold on return or on Sharpe; this one cannot be configured away, so a report never
    passes a strategy that loses to buy and hold on both. Both need the figure (missing fails),
    except that a bucket without a benchmark has no buy-and-hold gate.
    """
    out = []
    margin = getattr(gates, "min_sharpe_margin", None)
    if margin is not None:
        out.append(
            _gate(
                "Sharpe above the best of benchmark and anchors",
                figures.get("sharpe_margin"),
                margin,
                ">=",
            )
        )
    if "beats_buy_and_hold" in figures:
        out.append(
            _gate("beats buy and hold on return or Sharpe", figures["beats_buy_and_hold"], 1, ">=")
        )
    return out


def research_gates(figures: dict[str, Any], gates: Any, *, min_exposure: float | None) -> list:
    """Every gate of a research report: the validation gates, the anchor gates, PBO, and the
    bucket's exposure floor."""
    out = evaluate_gates(figures, gates) + anchor_gates(figures, gates)
    max_pbo = getattr(gates, "max_pbo", None)
    if max_pbo is not None:
        out.append(_gate("probability of backtest overfitting", figures.get("pbo"), max_pbo, "<="))
    if min_exposure is not None:
        out.append(_gate("mean exposure", figures.get("exposure"), min_exposure, ">="))
    return out


def params_validated(config: Any, bucket_name: str, params: Any) -> bool:
    """True when a saved validation report for exactly these parameters passes today's gates.

    Reports made on the holdout count as well as those made without it; a report for other
    parameters, another bucket, or one that no longer passes the configured thresholds does not.
    """
    from tsys.workspace import workspace

    path = report_path(workspace(config).root, bucket_name, params)
    if not path.is_file():
        return False
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return False
    if doc.get("bucket") != bucket_name:
        return False
    if doc.get("params_digest") != params_digest(params):
        return False
    if params_dict(doc.get("params", {})) != json.loads(
        json.dumps(params_dict(params), default=str)
    ):
        return False
    figures = doc.get("figures") or {}
    return all(g.passed for g in evaluate_gates(figures, config.validation))
