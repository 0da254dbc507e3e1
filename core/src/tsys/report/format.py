"""Numbers for people: money, percentages, quantities and prices as a reader expects them.

Every function returns a string and never raises for a finite number. ``None`` (a value a run
does not know) becomes :data:`MISSING`; a NaN or an infinity is corrupt data and raises
:class:`ValueError`, so it cannot slip into an email as "nan".
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal

#: What a missing value prints as.
MISSING = "—"

_CRYPTO = "crypto"


def _check(value: float, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{what} must be a number, got {type(value).__name__}")
    if not math.isfinite(value):
        raise ValueError(f"{what} must be finite, got {value!r}")
    return float(value)


def _round(value: float, decimals: int) -> Decimal:
    # Decimal(repr) rounds the number as printed (2.675 -> 2.68), not its binary expansion,
    # which is what a person checking the figure by hand expects.
    q = Decimal(1).scaleb(-decimals)
    d = Decimal(repr(value)).quantize(q, rounding=ROUND_HALF_UP)
    return d + 0  # normalise -0 to 0


def number(value: float | None, decimals: int = 0, *, signed: bool = False) -> str:
    """Format with thousands separators: ``number(12345.678, 2) == "12,345.68"``.

    ``signed`` prefixes positive values with ``+`` (sentiment, changes).
    """
    if value is None:
        return MISSING
    d = _round(_check(value, "number"), decimals)
    return f"{'+' if signed and d > 0 else ''}{d:,.{decimals}f}"


def money(value: float | None, *, signed: bool = False, symbol: str = "$") -> str:
    """Format dollars with 2 decimals: ``"$12,345.67"``, ``"-$5.00"``; ``signed`` adds ``+``."""
    if value is None:
        return MISSING
    d = _round(_check(value, "money"), 2)
    sign = "-" if d < 0 else ("+" if signed and d > 0 else "")
    return f"{sign}{symbol}{abs(d):,.2f}"


def pct(fraction: float | None, *, signed: bool = True, decimals: int = 2) -> str:
    """Format a fraction as a percentage: ``pct(0.0125) == "+1.25%"``, ``pct(0) == "0.00%"``.

    ``signed=False`` drops the ``+`` (for shares of the account, which are never negative).
    """
    if fraction is None:
        return MISSING
    d = _round(_check(fraction, "percentage") * 100.0, decimals)
    sign = "-" if d < 0 else ("+" if signed and d > 0 else "")
    return f"{sign}{abs(d):,.{decimals}f}%"


def quantity(value: float | None, asset_class: str = "equity") -> str:
    """Format a quantity: whole shares for equities, up to 8 decimals for crypto.

    ``quantity(1200, "equity") == "1,200"``, ``quantity(0.125, "crypto") == "0.125"``.
    A fractional equity quantity keeps its decimals (up to 8) rather than being rounded away.
    """
    if value is None:
        return MISSING
    v = _check(value, "quantity")
    if str(asset_class) != _CRYPTO and float(v).is_integer():
        return number(v, 0)
    d = _round(v, 8)
    text = f"{d:,.8f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def price(value: float | None, *, symbol: str = "$") -> str:
    """Format a price: 2 decimals from $1 up, 4 significant digits below (``"$0.0001234"``)."""
    if value is None:
        return MISSING
    v = _check(value, "price")
    if v == 0 or abs(v) >= 1:
        return money(v, symbol=symbol)
    decimals = min(12, 3 - math.floor(math.log10(abs(v))))
    d = _round(v, decimals)
    sign = "-" if d < 0 else ""
    digits = f"{abs(d):.{decimals}f}"
    # Drop trailing zeros, but keep at least cents: "$0.50", "$0.000123".
    whole, frac = digits.split(".")
    frac = frac.rstrip("0").ljust(2, "0")
    return f"{sign}{symbol}{whole}.{frac}"


def score(value: float | None) -> str:
    """Format a signal score with 2 decimals (scores are unitless)."""
    if value is None:
        return MISSING
    return number(value, 2)
