"""The repository of discretionary overrides (``tsys override``): add, list, remove.

A rule is never deleted: removing it stamps ``removed_at`` and an expired rule stays in the
history (``tsys override list --all``). What a rule means for a daily run (which rules are in
force at an as-of date, the merge with ``tsys.toml``) lives in :mod:`tsys.overrides`.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import attrs

from tsys.errors import StoreError
from tsys.store._time import from_db, to_db

if TYPE_CHECKING:
    from tsys.store import Store

KINDS = ("block", "cap", "pause")
TARGET_TYPES = ("symbol", "asset_class", "bucket", "sector")
ID_PREFIX = "O-"


@attrs.frozen
class OverrideRule:
    """One rule: ``block`` a symbol, ``cap`` a class/bucket/sector at ``share``, ``pause`` a bucket.

    ``starts_at`` is when it begins to count (the moment it was set, or the ``--as-of`` day);
    ``expires_at`` None means until removed.
    """

    id: str
    kind: str
    target: str
    target_type: str
    asset_class: str
    share: float | None
    reason: str
    created_by: str
    created_at: dt.datetime
    starts_at: dt.datetime
    expires_at: dt.datetime | None = None
    removed_at: dt.datetime | None = None
    removed_by: str = ""

    def active_at(self, moment: dt.datetime) -> bool:
        """Whether the rule is in force at ``moment`` (set before, not yet expired or removed).

        ``starts_at`` is the start of the UTC day it was set, so the crypto decision of the
        day before (at that very midnight) does not see it.
        """
        if moment <= self.starts_at:
            return False
        if self.expires_at is not None and moment >= self.expires_at:
            return False
        return self.removed_at is None or moment < self.removed_at

    def describe(self) -> str:
        """The rule in words: ``block AAPL``, ``cap crypto at 5%``, ``pause sp500``."""
        if self.kind == "cap":
            return f"cap {self.target} at {self.share:.0%}"
        return f"{self.kind} {self.target}"


def rule_id(pk: int) -> str:
    return f"{ID_PREFIX}{pk:04d}"


def parse_id(text: str) -> int:
    raw = text.strip().upper()
    raw = raw[len(ID_PREFIX) :] if raw.startswith(ID_PREFIX) else raw
    if not raw.isdigit():
        raise StoreError(
            f"{text!r} is not an override id", hint="ids look like O-0003 (see tsys override list)"
        )
    return int(raw)


class Overrides:
    """The ``override_rules`` table behind a :class:`~tsys.store.Store`."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.model = store.models.OverrideRule

    def _record(self, row: Any) -> OverrideRule:
        return OverrideRule(
            id=rule_id(row.id),
            kind=row.kind,
            target=row.target,
            target_type=row.target_type,
            asset_class=row.asset_class,
            share=row.share,
            reason=row.reason,
            created_by=row.created_by,
            created_at=from_db(row.created_at),
            starts_at=from_db(row.starts_at),
            expires_at=from_db(row.expires_at),
            removed_at=from_db(row.removed_at),
            removed_by=row.removed_by,
        )

    def add(
        self,
        *,
        kind: str,
        target: str,
        target_type: str,
        asset_class: str,
        share: float | None,
        reason: str,
        created_by: str,
        created_at: dt.datetime,
        starts_at: dt.datetime,
        expires_at: dt.datetime | None,
    ) -> OverrideRule:
        if kind not in KINDS or target_type not in TARGET_TYPES:
            raise StoreError(f"unknown override {kind} {target_type}")
        if kind == "cap" and (share is None or not 0.0 <= share <= 1.0):
            raise StoreError(f"a cap's share must lie in 0..1, got {share!r}")
        with self.store.transaction():
            row = self.model.create(
                kind=kind,
                target=target,
                target_type=target_type,
                asset_class=asset_class,
                share=share if kind == "cap" else None,
                reason=reason,
                created_by=created_by,
                created_at=to_db(created_at),
                starts_at=to_db(starts_at),
                expires_at=to_db(expires_at),
            )
        return self._record(row)

    def get(self, rid: str) -> OverrideRule:
        row = self.model.get_or_none(self.model.id == parse_id(rid))
        if row is None:
            raise StoreError(f"no override {rid}", hint="see tsys override list --all")
        return self._record(row)

    def all(self) -> list[OverrideRule]:
        """Every rule ever set, oldest first (removed and expired ones included)."""
        return [self._record(r) for r in self.model.select().order_by(self.model.id)]

    def in_force(self, moment: dt.datetime) -> list[OverrideRule]:
        return [r for r in self.all() if r.active_at(moment)]

    def remove(self, rid: str, *, by: str, at: dt.datetime) -> OverrideRule:
        """Stamp the rule removed (it stays in the history); removing twice is an error."""
        rule = self.get(rid)
        if rule.removed_at is not None:
            raise StoreError(
                f"override {rule.id} was already removed on {rule.removed_at:%Y-%m-%d %H:%M} UTC"
            )
        with self.store.transaction():
            self.model.update(removed_at=to_db(at), removed_by=by).where(
                self.model.id == parse_id(rid)
            ).execute()
        return self.get(rid)
