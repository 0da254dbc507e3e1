"""Discretionary overrides in time: expiry at an asset class's decision time, and the merge
of the rules set with ``tsys override`` (the store) with ``tsys.toml``'s ``[overrides]``.

A daily run for the as-of date D decides at D's *decision time*: the close of the session D
for equities (the last session up to D on a non-session day), the end of the UTC day D for
crypto. A rule is in force for that run when ``starts_at <= decision time < expires_at`` and it
was not removed before. "Until D" keeps a rule for the run of D and lets it lapse at the next
decision time, so ``--today`` set on a Friday lasts until Monday's close for equities, and
until the end of the next UTC day for crypto.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from typing import Any

import attrs

from tsys.errors import ConfigError

#: The asset classes a cap may name, and the GICS sectors (the spelling a cap keeps).
ASSET_CLASSES = ("equity", "crypto")
GICS_SECTORS = (
    "Communication Services",
    "Consumer Discretionary",
    "Consumer Staples",
    "Energy",
    "Financials",
    "Health Care",
    "Industrials",
    "Information Technology",
    "Materials",
    "Real Estate",
    "Utilities",
)
_FOR_RE = re.compile(r"^\s*(\d+)\s*([dw])\s*$", re.IGNORECASE)


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)


def decision_time(as_of: dt.date, asset_class: str) -> dt.datetime:
    """When the run of ``as_of`` decides for ``asset_class`` (see the module docstring)."""
    if asset_class == "crypto":
        return _midnight(as_of + dt.timedelta(days=1))
    from tsys.data.calendars import is_session, previous_session, session_close

    day = as_of if is_session(as_of) else previous_session(as_of)
    return session_close(day)


def next_decision_day(day: dt.date, asset_class: str) -> dt.date:
    """The as-of date of the next decision after ``day`` (next session; next UTC day)."""
    if asset_class == "crypto":
        return day + dt.timedelta(days=1)
    from tsys.data.calendars import next_session

    return next_session(day)


def expiry_after(last_day: dt.date, asset_class: str) -> dt.datetime:
    """``expires_at`` of a rule that holds for the runs up to and including ``last_day``."""
    return decision_time(next_decision_day(last_day, asset_class), asset_class)


def last_day(
    today: dt.date, *, until: dt.date | None, for_: str | None, is_today: bool
) -> dt.date | None:
    """The last as-of date a rule holds (None: until removed) from ``--until/--for/--today``."""
    given = sum(x is not None and x is not False for x in (until, for_, is_today))
    if given > 1:
        raise ConfigError("give one of --until, --for and --today, not several")
    if is_today:
        return today
    if for_ is not None:
        m = _FOR_RE.match(for_)
        if m is None or int(m.group(1)) < 1:
            raise ConfigError(
                f"--for {for_!r} is not a duration", hint="write a number of days or weeks: 5d, 2w"
            )
        days = int(m.group(1)) * (7 if m.group(2).lower() == "w" else 1)
        return today + dt.timedelta(days=days - 1)
    if until is not None and until < today:
        raise ConfigError(
            f"--until {until.isoformat()} is in the past (today is {today.isoformat()})",
            hint="give today or a later date, or --today",
        )
    return until


@attrs.frozen
class Merged:
    """The effective ``[overrides]`` of a run, the rules in force and what they did."""

    overrides: Any
    in_force: tuple[Any, ...]
    notes: tuple[str, ...]
    #: One JSON-able record per rule in force (``run.json``'s ``overrides``).
    records: tuple[dict[str, Any], ...] = ()


def in_force_at(rules: Sequence[Any], as_of: dt.date) -> list[Any]:
    """The rules in force for the run of ``as_of``, each at its asset class's decision time."""
    return [r for r in rules if r.active_at(decision_time(as_of, r.asset_class))]


def lapses_after(rule: Any, as_of: dt.date) -> bool:
    """True when the run of ``as_of`` is the last one that sees ``rule`` (it expires next)."""
    if rule.expires_at is None:
        return False
    nxt = next_decision_day(as_of, rule.asset_class)
    return rule.expires_at <= decision_time(nxt, rule.asset_class)


def describe(rule: Any) -> str:
    """``O-0001 cap crypto at 5% (since 2024-05-02, until ..., by ann, reason: ...)``."""
    since = rule.starts_at.date().isoformat()
    if rule.expires_at is None:
        until = "until removed"
    else:
        until = f"until {rule.expires_at:%Y-%m-%d %H:%M} UTC"
    why = f", reason: {rule.reason}" if rule.reason else ""
    return f"{rule.id} {rule.describe()} (since {since}, {until}, by {rule.created_by}{why})"


def record(rule: Any, as_of: dt.date, *, applied: bool) -> dict[str, Any]:
    """The run.json record of a rule in force."""
    return {
        "id": rule.id,
        "rule": rule.describe(),
        "kind": rule.kind,
        "target": rule.target,
        "share": rule.share,
        "since": rule.starts_at.date().isoformat(),
        "until": None if rule.expires_at is None else rule.expires_at.isoformat(),
        "reason": rule.reason,
        "by": rule.created_by,
        "applied": applied,
        "expires_next": lapses_after(rule, as_of),
    }


#: The ``[overrides]`` field holding an asset class's exposure cap.
CLASS_CAPS = {"crypto": "crypto_exposure_cap", "equity": "equity_exposure_cap"}


def _same(a: str, b: str) -> bool:
    return a.casefold() == b.casefold()


class _Merger:
    """The effective ``[overrides]`` built rule by rule (see :func:`merge`)."""

    def __init__(self, file_overrides: Any) -> None:
        self.file = file_overrides
        self.blocked = list(file_overrides.blocked_symbols)
        self.paused = list(file_overrides.paused_buckets)
        self.sources = dict(file_overrides.sources)
        self.class_caps = {k: getattr(file_overrides, f) for k, f in CLASS_CAPS.items()}
        self.bucket_caps = dict(file_overrides.bucket_caps)
        self.sector_caps = dict(file_overrides.sector_caps)
        self.notes: list[str] = []

    def add_list(self, r: Any) -> None:
        """A block or a pause: they add up; the same one twice is said once."""
        block = r.kind == "block"
        into, key = (self.blocked, r.target.upper()) if block else (self.paused, r.target)
        if key in {x.upper() if block else x for x in into}:
            who = self.sources.get(key, "tsys.toml")
            done = "blocked" if block else "paused"
            self.notes.append(f"{r.target} is {done} by {who} and by {r.id}: same rule")
        else:
            into.append(r.target)
            self.sources[key] = r.id

    def add_cap(self, r: Any) -> None:
        """A cap: on the same thing the stricter (smaller) share wins, and a note says which."""
        if r.target_type == "asset_class":
            caps, key, skey = self.class_caps, r.target, CLASS_CAPS[r.target]
            label = f"{r.target} cap"
        else:
            caps = self.bucket_caps if r.target_type == "bucket" else self.sector_caps
            key = next((k for k in caps if _same(k, r.target)), r.target)
            skey = f"{r.target_type}_cap:{key}"
            label = f"{r.target_type} {r.target} cap"
        current = caps.get(key)
        holder = self.sources.get(skey, "tsys.toml's")
        if current is None or r.share < current:
            if current is not None:
                self.notes.append(
                    f"{label}: {r.id} ({r.share:.0%}) is stricter than {holder} "
                    f"{current:.0%} and wins"
                )
            caps[key] = r.share
            self.sources[skey] = r.id
        else:
            self.notes.append(
                f"{label}: the stricter {current:.0%} wins over {r.id} ({r.share:.0%})"
            )

    def overrides(self) -> Any:
        return attrs.evolve(
            self.file,
            blocked_symbols=self.blocked,
            paused_buckets=self.paused,
            bucket_caps=self.bucket_caps,
            sector_caps=self.sector_caps,
            sources=self.sources,
            **{f: self.class_caps[k] for k, f in CLASS_CAPS.items()},
        )


def merge(file_overrides: Any, rules: Sequence[Any], as_of: dt.date) -> Merged:
    """``tsys.toml``'s ``[overrides]`` merged with the rules in force at ``as_of``.

    Blocks and pauses add up; on a cap (an asset class, a bucket, a sector) the stricter
    (smaller) share wins and a note says which. The rules in force themselves are listed by
    :attr:`Merged.records` (run.json, the newsletter's "Overrides in force"), not in the notes.
    """
    active = in_force_at(rules, as_of)
    m = _Merger(file_overrides)
    for r in active:
        if r.kind in ("block", "pause"):
            m.add_list(r)
        else:
            m.add_cap(r)
    records = tuple(record(r, as_of, applied=True) for r in active)
    return Merged(m.overrides(), tuple(active), tuple(m.notes), records)


def apply_to_run(ctx: Any) -> Merged | None:
    """Merge the store's rules in force into ``ctx.config`` (a daily run's context).

    A store that cannot be opened leaves tsys.toml's ``[overrides]`` alone, with a warning.
    """
    from tsys.errors import TsysError

    try:
        rules = ctx.store().overrides.all()
    except TsysError as exc:
        ctx.warn(f"the rules of tsys override could not be read ({exc}); tsys.toml's only")
        return None
    merged = merge(ctx.config.overrides, rules, ctx.dates.key)
    if merged.in_force:
        ctx.config = attrs.evolve(ctx.config, overrides=merged.overrides)
    for note in merged.notes:
        ctx.warn(note)
    return merged
