"""Numbers for people: the one formatter of money, percentages, quantities, prices and figures
(and of the short list of names a message quotes, :func:`shortlist`).

The newsletter, the HTML reports (backtest, validation, paper), the CLI tables and the store's
messages all format through here, so a figure reads the same everywhere. It sits at the bottom
of the layers (it imports nothing from tsys).

Every function returns a string and never raises for a finite number. ``None`` (a value a run
does not know) becomes :data:`MISSING`; a NaN or an infinity is corrupt data and raises
:class:`ValueError`, so it cannot slip into an email as "nan". The exception is
:func:`figure`, the cell of a metrics table, where NaN is a legitimate "undefined" (the Sharpe
ratio of a flat curve) and prints as :data:`NOT_AVAILABLE`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal

#: What a missing value prints as.
MISSING = "—"
#: What an undefined figure (NaN ratio, no trades) prints as in a metrics table.
NOT_AVAILABLE = "n/a"

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
    return exact(v)


def exact(value: float | None, max_decimals: int = 8) -> str:
    """Format with the decimals the number has, up to ``max_decimals``: ``exact(1234.5) ==
    "1,234.5"``, ``exact(0.00000001) == "0.00000001"`` (quantities, amounts in messages)."""
    if value is None:
        return MISSING
    d = _round(_check(value, "number"), max_decimals)
    text = f"{d:,.{max_decimals}f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def price(value: float | None, *, symbol: str = "$", decimals: int = 2, digits: int = 4) -> str:
    """Format a price: ``decimals`` (2) from $1 up, ``digits`` (4) significant digits below
    (``"$0.0001234"``); ``tsys data`` shows bars with ``decimals=4, digits=6``."""
    if value is None:
        return MISSING
    v = _check(value, "price")
    if v == 0 or abs(v) >= 1:
        d = _round(v, decimals)
        sign = "-" if d < 0 else ""
        return f"{sign}{symbol}{abs(d):,.{decimals}f}"
    places = min(12, digits - 1 - math.floor(math.log10(abs(v))))
    d = _round(v, places)
    sign = "-" if d < 0 else ""
    text = f"{abs(d):.{places}f}"
    # Drop trailing zeros, but keep at least cents: "$0.50", "$0.000123".
    whole, frac = text.split(".")
    frac = frac.rstrip("0").ljust(2, "0")
    return f"{sign}{symbol}{whole}.{frac}"


def score(value: float | None) -> str:
    """Format a signal score with 2 decimals (scores are unitless)."""
    if value is None:
        return MISSING
    return number(value, 2)


def significant(value: float | None, digits: int = 3) -> str:
    """Format with ``digits`` significant digits (``significant(0.012345) == "0.0123"``), for
    parameters and objective values whose scale is not known in advance."""
    if value is None:
        return MISSING
    return f"{_check(value, 'number'):.{digits}g}"


def param_value(x: object, digits: int = 3) -> str:
    """A parameter value of any type: numbers by :func:`significant` (integers whole), the
    rest (a mode, a flag) as written."""
    if x is None:
        return MISSING
    if isinstance(x, float):
        return significant(x, digits)
    return str(x)


def gate_number(x: float | None) -> str:
    """A gate's value or threshold: 4 significant digits, so a threshold reads as configured
    (``0.35`` stays "0.35", never "0.3" or "0.4") and a value is never rounded onto the
    wrong side of it at a glance; None, NaN and infinity print :data:`NOT_AVAILABLE`."""
    if x is None or isinstance(x, bool) or not math.isfinite(float(x)):
        return NOT_AVAILABLE
    return f"{float(x):.4g}"


#: Kinds of :func:`figure`.
FIGURE_KINDS = ("pct", "ratio", "times", "int", "p", "num")


def figure(x: float | None, kind: str = "num") -> str:
    """One cell of a metrics table (backtest, validation and paper reports, their CLI tables).

    ``pct`` a fraction as an unsigned percentage with 2 decimals (-12.34% for a drawdown),
    ``ratio`` 2 decimals (Sharpe), ``times`` 2 decimals and "x" (turnover), ``int`` a whole
    count, ``p`` a p-value with 3 decimals, ``num`` 1 decimal. None, NaN and infinity print
    :data:`NOT_AVAILABLE`.
    """
    if x is None or isinstance(x, bool) or not math.isfinite(float(x)):
        return NOT_AVAILABLE
    v = float(x)
    if kind == "pct":
        return pct(v, signed=False, decimals=2)
    if kind == "ratio":
        return number(v, 2)
    if kind == "times":
        return f"{number(v, 2)}x"
    if kind == "int":
        return number(v, 0)
    if kind == "p":
        return number(v, 3)
    if kind == "num":
        return number(v, 1)
    raise ValueError(f"unknown figure kind {kind!r}; choose one of {', '.join(FIGURE_KINDS)}")


def cash_interest(rate: float | None, interest: float | None, trading: float | None) -> str:
    """One line telling interest on idle cash apart from trading PnL:
    ``"idle cash earned 4.00%/yr: interest $1,234.56, trading PnL $9,876.54"``."""
    if not rate:
        return f"idle cash earned nothing ([account] cash_rate = 0); trading PnL {money(trading)}"
    return (
        f"idle cash earned {pct(rate, signed=False)}/yr: interest {money(interest)}, "
        f"trading PnL {money(trading)}"
    )


def shortlist(names: Sequence[str], limit: int = 10) -> str:
    """The first ``limit`` of ``names`` for a message, comma-separated, with ``" ..."`` after
    them when there are more: ``"XLB, XLC ..."``."""
    return ", ".join(names[:limit]) + (" ..." if len(names) > limit else "")
