"""The override rule the store and portfolio tests build: a cap (or a block) from a Friday."""

from __future__ import annotations

import datetime as dt

from tsys.store.overrides import OverrideRule

UTC = dt.UTC
FRI = dt.date(2024, 5, 3)


def rule(kind="cap", target="crypto", ac="crypto", share=0.05, starts=FRI, expires=None, **kw):
    s = dt.datetime(starts.year, starts.month, starts.day, tzinfo=UTC)
    return OverrideRule(
        id=kw.pop("id", "O-0001"),
        kind=kind,
        target=target,
        target_type=kw.pop("target_type", "asset_class" if kind == "cap" else "symbol"),
        asset_class=ac,
        share=share if kind == "cap" else None,
        reason=kw.pop("reason", ""),
        created_by="ann",
        created_at=s,
        starts_at=s,
        expires_at=expires,
        **kw,
    )
