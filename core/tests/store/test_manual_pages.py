"""A page of manual trades (the dashboard's tables) is the same as the full listing, cut."""

from __future__ import annotations

import datetime as dt

import pytest

from tsys.store.manual_pages import fingerprint, page
from tsys.store.manual_trade import TradeInput

D0 = dt.datetime(2024, 1, 2, tzinfo=dt.UTC)


def _fill(store, n: int) -> None:
    for i in range(n):
        tags = ["even"] if i % 2 == 0 else ["odd", 'q"uote']
        store.manual.add(
            TradeInput(f"S{i % 5}", "buy", 1 + i, 10.0 + i, D0 + dt.timedelta(days=i), tags=tags)
        )
    for i in range(0, n, 3):
        store.manual.close(f"M-{i + 1:06d}", price=12.0, at=D0 + dt.timedelta(days=n + 1))
    store.manual.delete("M-000002")


@pytest.mark.parametrize("status", ["all", "open", "closed"])
@pytest.mark.parametrize("tag", [None, "even", 'q"uote', "od"])
def test_pages_cut_the_full_listing_newest_first(store, status, tag):
    _fill(store, 23)
    full = [r.id for r in store.manual.list(status=status, tag=tag, with_fills=False)][::-1]
    got = []
    for number in range(1, 10):
        rows, total = page(store, status=status, tag=tag, number=number, size=4)
        assert total == len(full)
        got += [r.id for r in rows]
    assert got == full
    if tag == "od":  # a substring of a tag is not the tag
        assert full == []


def test_the_fingerprint_moves_with_every_write(store):
    _fill(store, 3)
    seen = {fingerprint(store)}
    store.manual.edit("M-000001", stop=5.0)
    seen.add(fingerprint(store))
    store.manual.close("M-000003", price=20.0, at=D0 + dt.timedelta(days=9), quantity=1)
    seen.add(fingerprint(store))
    store.manual.undelete("M-000002")
    seen.add(fingerprint(store))
    assert len(seen) == 4
