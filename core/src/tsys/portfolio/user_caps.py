"""The user's exposure caps (``tsys.toml``'s ``[overrides]`` and ``tsys override cap``).

Each cap is a share of the account: crypto and equity exposure (every bucket's holdings of
that asset class), one bucket's holdings, one sector's equity holdings. A cap that binds
records a :class:`~tsys.contracts.Constraint` whose detail names the ``tsys override`` rule
that set it (``by override O-0003``), or says the limit comes from ``tsys.toml``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tsys.contracts import AssetClass

if TYPE_CHECKING:
    from tsys.config import OverridesConfig

#: ``sources`` key of a bucket's cap and of a sector's cap (the rule id is the value).
BUCKET_KEY = "bucket_cap:{}"
SECTOR_KEY = "sector_cap:{}"


#: asset class -> (the word of its ``<word>_exposure_cap`` setting, the ``book`` field of its
#: dollars already held).
_EXPOSURE = {AssetClass.CRYPTO: ("crypto", "crypto"), AssetClass.EQUITY: ("equity", "equities")}


def by(overrides: OverridesConfig, key: str) -> str:
    """`` by override O-0001`` when a ``tsys override`` rule set ``key`` (else empty)."""
    rule = overrides.sources.get(key)
    return f" by override {rule}" if rule else ""


def sector_cap_of(overrides: OverridesConfig, sector: str | None) -> tuple[str, float] | None:
    """The user's cap on ``sector`` (its spelling in the rule, the share), matched ignoring case."""
    if sector is None:
        return None
    for name, share in overrides.sector_caps.items():
        if name.casefold() == sector.casefold():
            return name, float(share)
    return None


def apply_user_caps(
    c: Any,
    d: float,
    book: Any,
    equity: float,
    overrides: OverridesConfig,
    bucket: str,
    cap: Callable[[str, float, str, float], float],
) -> float:
    """``d`` dollars of candidate ``c`` held to every user cap; ``cap(name, limit, detail, d)``
    records the caps that bind. ``book`` holds the dollars already committed (``crypto``,
    ``equities``, ``sector``, ``mine``: this bucket's)."""
    if c.asset_class in _EXPOSURE:
        word, held_in = _EXPOSURE[c.asset_class]
        key = f"{word}_exposure_cap"
        share, held = getattr(overrides, key), getattr(book, held_in)
        if share < 1.0:
            d = cap(
                key,
                share * equity - held,
                f"{word} exposure is capped at {share:.0%} of the account "
                f"today{by(overrides, key)} (${held:,.0f} already held)",
                d,
            )
    found = sector_cap_of(overrides, c.sector) if c.asset_class is AssetClass.EQUITY else None
    if found is not None:
        name, share = found
        used = book.sector.get(c.sector, 0.0)
        d = cap(
            "sector_exposure_cap",
            share * equity - used,
            f"sector {c.sector} is capped at {share:.0%} of the account by the user"
            f"{by(overrides, SECTOR_KEY.format(name))} (${used:,.0f} already there)",
            d,
        )
    if bucket in overrides.bucket_caps:
        share = float(overrides.bucket_caps[bucket])
        d = cap(
            "bucket_exposure_cap",
            share * equity - book.mine,
            f"bucket {bucket} is capped at {share:.0%} of the account by the user"
            f"{by(overrides, BUCKET_KEY.format(bucket))} (${book.mine:,.0f} already held)",
            d,
        )
    return d
