"""Override rules replayed in a backtest: ``tsys backtest BUCKET --overrides FILE``.

FILE is JSON: a list of rules, either as ``tsys override list --all --json`` prints them (the
store's fields: ``starts_at``, ``expires_at``, ``removed_at``) or short, written by hand::

    [
      {"kind": "block", "target": "XLE", "since": "2020-03-02", "until": "2020-06-30",
       "reason": "what if I had kept out of energy"},
      {"kind": "cap", "target": "equity", "share": 0.5, "since": "2022-01-03"},
      {"kind": "pause", "target": "sp500", "since": "2020-03-09", "until": "2020-04-30"}
    ]

``since`` is the first day a rule holds (default: from the start), ``until`` the last one
(default: to the end). A rule holds on the bars between them only, judged at its asset class's
decision time as in the daily run (:mod:`tsys.overrides`), and is merged with ``tsys.toml``'s
``[overrides]`` bar by bar (the stricter cap wins).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from tsys.errors import ConfigError
from tsys.overrides import ASSET_CLASSES, GICS_SECTORS, expiry_after
from tsys.store.overrides import KINDS, OverrideRule

_EPOCH = dt.datetime(1900, 1, 1, tzinfo=dt.UTC)


def _moment(text: Any, where: str, field: str) -> dt.datetime | None:
    if text is None:
        return None
    try:
        got = dt.datetime.fromisoformat(str(text))
    except ValueError:
        raise ConfigError(f"{where}: {field} {text!r} is not an ISO date or time") from None
    return got if got.tzinfo is not None else got.replace(tzinfo=dt.UTC)


def _day(text: Any, where: str, field: str) -> dt.date | None:
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(str(text))
    except ValueError:
        raise ConfigError(f"{where}: {field} {text!r} is not a date (YYYY-MM-DD)") from None


def _target(kind: str, target: str, buckets: dict[str, str], where: str) -> tuple[str, str]:
    """(target, target type) of a rule; a cap's target is an asset class, bucket or sector."""
    if kind == "block":
        return target.upper(), "symbol"
    if kind == "pause":
        if target not in buckets:
            raise ConfigError(f"{where}: unknown bucket {target!r} to pause")
        return target, "bucket"
    if target.lower() in ASSET_CLASSES:
        return target.lower(), "asset_class"
    if target in buckets:
        return target, "bucket"
    sectors = {s.lower(): s for s in GICS_SECTORS}
    if target.lower() in sectors:
        return sectors[target.lower()], "sector"
    raise ConfigError(
        f"{where}: cap target {target!r} is neither an asset class "
        f"({', '.join(ASSET_CLASSES)}), a bucket ({', '.join(buckets)}) nor a GICS sector"
    )


def _rule(item: Any, n: int, where: str, buckets: dict[str, str], default_class: str):
    where = f"{where} rule {n}"
    if not isinstance(item, dict):
        raise ConfigError(f"{where}: a rule is a JSON object, got {type(item).__name__}")
    kind = item.get("kind")
    if kind not in KINDS:
        raise ConfigError(f"{where}: kind must be one of {', '.join(KINDS)}, got {kind!r}")
    target = item.get("target")
    if not isinstance(target, str) or not target.strip():
        raise ConfigError(f"{where}: give a target (a symbol, bucket, asset class or sector)")
    target, ttype = _target(kind, target.strip(), buckets, where)
    share = item.get("share")
    if kind == "cap" and (
        isinstance(share, bool) or not isinstance(share, int | float) or not 0 <= share <= 1
    ):
        raise ConfigError(f"{where}: a cap's share lies in 0..1 (0.05 = 5%), got {share!r}")
    ac = str(item.get("asset_class") or "")
    if ac not in ASSET_CLASSES:
        ac = (
            target
            if ttype == "asset_class"
            else ("equity" if ttype == "sector" else buckets.get(target, default_class))
        )
    since, until = _day(item.get("since"), where, "since"), _day(item.get("until"), where, "until")
    if since and until and until < since:
        raise ConfigError(f"{where}: until {until} is before since {since}")
    starts = _moment(item.get("starts_at"), where, "starts_at")
    if starts is None:
        starts = _EPOCH if since is None else dt.datetime.combine(since, dt.time(), dt.UTC)
    expires = _moment(item.get("expires_at"), where, "expires_at")
    if expires is None and until is not None:
        expires = expiry_after(until, ac)
    return OverrideRule(
        id=str(item.get("id") or f"R-{n:04d}"),
        kind=kind,
        target=target,
        target_type=ttype,
        asset_class=ac,
        share=float(share) if kind == "cap" else None,
        reason=str(item.get("reason") or ""),
        created_by=str(item.get("created_by") or "replay"),
        created_at=starts,
        starts_at=starts,
        expires_at=expires,
        removed_at=_moment(item.get("removed_at"), where, "removed_at"),
        removed_by=str(item.get("removed_by") or ""),
    )


def read_rules(
    path: str | Path, *, buckets: dict[str, str], default_class: str
) -> tuple[OverrideRule, ...]:
    """The rules of ``path`` (see the module docstring); ``buckets`` maps the installed bucket
    names to their asset class. A bad file or rule is a :class:`ConfigError` naming it."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"overrides file {path} does not exist") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ConfigError(
            f"overrides file {path} is not readable JSON ({exc})",
            hint="a JSON list of rules, e.g. the output of `tsys override list --all --json`",
        ) from None
    if isinstance(data, dict) and isinstance(data.get("rules"), list):
        data = data["rules"]
    if not isinstance(data, list):
        raise ConfigError(f"overrides file {path} must hold a JSON list of rules")
    return tuple(_rule(x, n, path.name, buckets, default_class) for n, x in enumerate(data, 1))


def replayed(rules: tuple[OverrideRule, ...], index: Any) -> list[dict[str, Any]]:
    """Each replayed rule in words with the number of bars of ``index`` it held on."""
    from tsys.overrides import decision_time

    out = []
    for r in rules:
        bars = sum(1 for ts in index if r.active_at(decision_time(ts.date(), r.asset_class)))
        out.append({"id": r.id, "rule": r.describe(), "reason": r.reason, "bars": bars})
    return out
