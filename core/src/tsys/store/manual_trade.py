"""A manual trade as a user enters it: ids, inputs, the rules it must follow, and the state
its fills add up to.

A manual trade opens with one fill (``side`` buy = a long position, sell = a short one) and is
reduced by closing fills in the opposite direction. Everything derived (open quantity, realised
PnL, exit price, closed at) is recomputed from the fills by :func:`compute_state`.

Realised PnL of a close of ``q`` at ``p`` with fee ``f`` on a position opened with ``Q`` at
``E`` with fee ``F`` is ``d * q * (p - E) - f - F * q / Q`` (``d`` = +1 long, -1 short): the
opening fee is charged to closes in proportion to the quantity they close.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterable, Sequence
from typing import Any

import attrs

from tsys import format as fmt
from tsys.contracts import AssetClass, Side
from tsys.errors import TsysError
from tsys.symbols import symbol_problem

ID_PREFIX = "M-"


class InvalidTrade(TsysError):
    """A manual trade (or an import file) breaks a rule; nothing was written."""

    exit_code = 2


# ------------------------------------------------------------------------------------ ids
def format_id(n: int) -> str:
    """The human id of manual trade row ``n``: ``M-000042``."""
    return f"{ID_PREFIX}{n:06d}"


def format_ids(ns: Iterable[int]) -> list[str]:
    """:func:`format_id` of each of ``ns``."""
    return list(map(f"{ID_PREFIX}{{:06d}}".format, ns))


def parse_id(text: str | int) -> int:
    """Accept ``M-000042``, ``m-42`` or ``42``."""
    if isinstance(text, int):
        return text
    m = re.fullmatch(r"(?i)\s*(?:m-?)?0*(\d+)\s*", str(text))
    if m is None:
        raise InvalidTrade(
            f"{text!r} is not a manual trade id; ids look like M-000042",
            hint="`tsys trades list` shows the ids",
        )
    return int(m.group(1))


def default_asset_class(symbol: str) -> AssetClass:
    """Crypto when the symbol looks like a pair (``BTC-USD``, ``ETH/USD``), else equity."""
    s = symbol.upper()
    return AssetClass.CRYPTO if s.endswith("-USD") or "/" in s else AssetClass.EQUITY


# ------------------------------------------------------------------------------------ inputs
@attrs.frozen
class CloseInput:
    """A (partial) close: quantity, price, when, and the fee paid."""

    quantity: float
    price: float
    at: dt.datetime
    fee: float = 0.0


@attrs.frozen
class TradeInput:
    """A manual trade as a user enters it (or as an import file row describes it)."""

    symbol: str
    side: str
    quantity: float
    price: float
    opened_at: dt.datetime
    asset_class: str | None = None
    stop: float | None = None
    target: float | None = None
    bucket: str = ""
    tags: tuple[str, ...] = attrs.field(default=(), converter=tuple)
    notes: str = ""
    fee: float = 0.0
    closes: tuple[CloseInput, ...] = attrs.field(default=(), converter=tuple)

    def duplicate_key(self) -> tuple:
        return duplicate_key_of(
            self.symbol.upper(), self.side, self.quantity, self.price, self.opened_at
        )


def duplicate_key_of(symbol: str, side: str, qty: float, price: float, at: dt.datetime) -> tuple:
    return (symbol, str(side).lower(), round(qty, 9), round(price, 9), at.date().isoformat())


# ------------------------------------------------------------------------------------ state
@attrs.frozen
class PositionState:
    """What the fills of one position add up to."""

    initial_quantity: float
    quantity: float
    entry_price: float
    realized_pnl: float
    closed_at: dt.datetime | None
    exit_price: float | None


def tolerance(q: float) -> float:
    return 1e-9 * max(1.0, abs(q))


def compute_state(
    side: Side | str,
    quantity: float,
    price: float,
    fee: float,
    closes: Sequence[tuple[float, float, float, dt.datetime]],
) -> PositionState:
    """Open quantity, realised PnL and exit of a position from its opening fill and closes.

    ``closes`` are ``(quantity, price, fee, at)`` in time order. Raises :class:`InvalidTrade`
    when the closes add up to more than was opened.
    """
    d = 1.0 if Side(side) is Side.BUY else -1.0
    remaining = quantity
    realized = 0.0
    closed_qty = 0.0
    closed_value = 0.0
    last_at = None
    for q, p, f, at in closes:
        if q > remaining + tolerance(quantity):
            raise InvalidTrade(
                f"cannot close {fmt.exact(q)}: only {fmt.exact(remaining)} is open",
                hint="close at most the open quantity (omit --qty to close all of it)",
            )
        q = min(q, remaining)
        realized += d * q * (p - price) - f - fee * q / quantity
        remaining -= q
        closed_qty += q
        closed_value += q * p
        last_at = at
    if remaining <= tolerance(quantity):
        remaining = 0.0
    closed = remaining == 0.0 and closed_qty > 0
    return PositionState(
        initial_quantity=quantity,
        quantity=remaining,
        entry_price=price,
        realized_pnl=realized,
        closed_at=last_at if closed else None,
        exit_price=closed_value / closed_qty if closed else None,
    )


# ------------------------------------------------------------------------------ validation
def validate_trade(t: TradeInput, *, now: dt.datetime | None = None) -> list[str]:
    """Every rule the trade breaks, as sentences (empty when it is valid)."""
    now = now or dt.datetime.now(dt.UTC)
    errors: list[str] = []
    problem = symbol_problem(t.symbol)
    if problem is not None:
        errors.append(f"symbol {problem}")
    if str(t.side).lower() not in ("buy", "sell"):
        errors.append(f"side must be 'buy' or 'sell', got {t.side!r}")
    if t.asset_class is not None and str(t.asset_class).lower() not in ("equity", "crypto"):
        errors.append(f"unknown asset class {t.asset_class!r}; expected 'equity' or 'crypto'")
    errors += check_quantity("quantity", t.quantity)
    errors += check_price("price", t.price)
    errors += check_notional("", t.quantity, t.price)
    errors += check_non_negative("fee", t.fee)
    if t.stop is not None:
        errors += check_price("stop", t.stop)
    if t.target is not None:
        errors += check_price("target", t.target)
    errors += check_stop_side(str(t.side).lower(), t.price, t.stop)
    for name, text in (("bucket", t.bucket), ("notes", t.notes), *(("tag", x) for x in t.tags)):
        if "\x00" in str(text):
            # PostgreSQL refuses NUL in text; SQLite would keep it: refuse it on both.
            errors.append(f"{name} contains a NUL character (\\x00)")
    errors += check_not_future("date", t.opened_at, now)
    last = t.opened_at
    for i, c in enumerate(t.closes, start=1):
        what = f"close {i}" if len(t.closes) > 1 else "close"
        errors += check_quantity(f"{what} quantity", c.quantity)
        errors += check_price(f"{what} price", c.price)
        errors += check_non_negative(f"{what} fee", c.fee)
        errors += check_not_future(f"{what} date", c.at, now)
        if not (_aware(c.at) and _aware(t.opened_at)):
            continue  # the date's own error says why; a naive one cannot be put in order
        if c.at < t.opened_at:
            errors.append(
                f"{what} date {day_text(c.at)} is before the trade opened ({day_text(t.opened_at)})"
            )
        elif c.at < last:
            errors.append(
                f"{what} date {day_text(c.at)} is before the previous close ({day_text(last)})"
            )
        last = max(last, c.at)
    if not errors and t.closes:
        try:
            compute_state(
                t.side.lower(), t.quantity, t.price, t.fee,
                [(c.quantity, c.price, c.fee, c.at) for c in t.closes],
            )  # fmt: skip
        except InvalidTrade as exc:
            errors.append(exc.message)
    return errors


def plainly_valid(t: TradeInput, now: dt.datetime) -> bool:
    """True only when :func:`validate_trade` finds nothing: every number a float within its
    bounds, a stop on the protecting side, the dates between :data:`FIRST_TRADE_DATE` and
    ``now`` and the closes in order, none closing more than is open. False says nothing: ask
    :func:`validate_trade`.

    An import of 100,000 plain rows checks each in a fraction of the time; the rules are
    those of :func:`validate_trade` (``test_manual_trade_rules`` checks on random trades,
    broken ones included, that a trade passed here has no error there)."""
    q, p, fee, stop, target, at = t.quantity, t.price, t.fee, t.stop, t.target, t.opened_at
    if not (type(q) is float and type(p) is float and type(fee) is float):
        return False
    side = t.side.lower() if type(t.side) is str else None
    if side not in ("buy", "sell") or symbol_problem(t.symbol) is not None:
        return False
    ac = t.asset_class
    if ac is not None and not (type(ac) is str and ac.lower() in ("equity", "crypto")):
        return False
    if not (MIN_QUANTITY <= q <= MAX_QUANTITY and MIN_PRICE <= p <= MAX_PRICE):
        return False
    if not (q * p <= MAX_NOTIONAL and 0.0 <= fee < math.inf):
        return False
    for level in (stop, target):
        if level is not None and not (type(level) is float and MIN_PRICE <= level <= MAX_PRICE):
            return False
    if stop is not None and (stop >= p if side == "buy" else stop <= p):
        return False
    if any("\x00" in x for x in (t.bucket, t.notes, *t.tags) if type(x) is str) or not all(
        type(x) is str for x in (t.bucket, t.notes, *t.tags)
    ):
        return False
    if not _plain_moment(at, now):
        return False
    return not t.closes or _plain_closes(t, now)


def _plain_moment(at: Any, now: dt.datetime) -> bool:
    if type(at) is not dt.datetime or at.tzinfo is None:
        return False
    try:
        return FIRST_TRADE_DATE <= at <= now
    except (OverflowError, TypeError):
        return False


def _plain_closes(t: TradeInput, now: dt.datetime) -> bool:
    """The closes of a plain trade: floats within bounds, in time order from the opening, never
    more than is open (what :func:`compute_state` would refuse)."""
    last, remaining, tol = t.opened_at, t.quantity, tolerance(t.quantity)
    for c in t.closes:
        if type(c) is not CloseInput:
            return False
        q, p, fee, at = c.quantity, c.price, c.fee, c.at
        if not (type(q) is float and type(p) is float and type(fee) is float):
            return False
        if not (MIN_QUANTITY <= q <= MAX_QUANTITY and MIN_PRICE <= p <= MAX_PRICE):
            return False
        if not (0.0 <= fee < math.inf and _plain_moment(at, now)) or at < last:
            return False
        if q > remaining + tol:
            return False
        remaining -= min(q, remaining)
        last = at
    return True


def _exact(x: float) -> str:
    try:
        return fmt.exact(x)
    except ArithmeticError:  # beyond what a decimal quantize takes (-1e20)
        return f"{x:g}"


def _is_number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def check_positive(name: str, x: Any) -> list[str]:
    if not _is_number(x):
        return [f"{name} must be a finite number, got {x!r}"]
    if x <= 0:
        return [f"{name} must be greater than zero, got {_exact(x)}"]
    return []


#: What a trade may hold: a satoshi to a trillion units, a billionth of a dollar to a billion
#: dollars a unit, at most ten trillion dollars in all. Anything else is a typo (1e308).
MIN_QUANTITY, MAX_QUANTITY = 1e-8, 1e12
MIN_PRICE, MAX_PRICE = 1e-9, 1e9
MAX_NOTIONAL = 1e12
#: The earliest date a trade may carry (year 1 is a typo, and breaks time-zone arithmetic).
FIRST_TRADE_DATE = dt.datetime(1900, 1, 1, tzinfo=dt.UTC)


def _within(name: str, x: Any, lo: float, hi: float) -> list[str]:
    errors = check_positive(name, x)
    if not errors and not lo <= x <= hi:
        return [f"{name} must be between {lo:g} and {hi:g}, got {x:g}"]
    return errors


def check_quantity(name: str, x: Any) -> list[str]:
    """A positive, finite quantity between :data:`MIN_QUANTITY` and :data:`MAX_QUANTITY`."""
    return _within(name, x, MIN_QUANTITY, MAX_QUANTITY)


def check_price(name: str, x: Any) -> list[str]:
    """A positive, finite price between :data:`MIN_PRICE` and :data:`MAX_PRICE`."""
    return _within(name, x, MIN_PRICE, MAX_PRICE)


def check_notional(what: str, qty: Any, price: Any) -> list[str]:
    if _is_number(qty) and _is_number(price) and qty * price > MAX_NOTIONAL:
        return [
            f"{what}quantity x price is {qty * price:.3g} dollars, above {MAX_NOTIONAL:g}; "
            "check both"
        ]
    return []


def check_stop_side(side: str, entry: Any, stop: Any) -> list[str]:
    """A new trade's stop must protect it: below a long's entry, above a short's."""
    if stop is None or not (_is_number(entry) and _is_number(stop)):
        return []
    long = side == "buy"
    if stop >= entry if long else stop <= entry:
        where = "at or above" if long else "at or below"
        return [
            f"the stop {_exact(stop)} is {where} the entry {_exact(entry)} of a "
            f"{'long' if long else 'short'} position: it is already touched (record the stop "
            "it had at entry, then `tsys trades edit ID --stop X` to trail it)"
        ]
    return []


def check_non_negative(name: str, x: Any) -> list[str]:
    if not _is_number(x):
        return [f"{name} must be a finite number, got {x!r}"]
    if x < 0:
        return [f"{name} must not be negative, got {_exact(x)}"]
    return []


def _aware(at: Any) -> bool:
    return isinstance(at, dt.datetime) and at.tzinfo is not None


def check_not_future(name: str, at: dt.datetime, now: dt.datetime) -> list[str]:
    if not _aware(at):
        return [f"{name} must be a timezone-aware datetime, got {at!r}"]
    try:
        too_early = at < FIRST_TRADE_DATE
    except OverflowError:  # 0001-01-01T00:00:00+05:00 is before year 1 in UTC
        too_early = True
    if too_early:
        return [f"{name} {at.isoformat()} is before {FIRST_TRADE_DATE.date()}; check the year"]
    if at > now:
        return [f"{name} {day_text(at)} is in the future; record trades once they have happened"]
    return []


def day_text(at: dt.datetime) -> str:
    if at.time() == dt.time(0) and at.utcoffset() == dt.timedelta(0):
        return at.date().isoformat()
    return at.isoformat(timespec="minutes")


def clean_tags(tags: Iterable[str]) -> list[str]:
    """Tags stripped, empty ones and repeats dropped, in their order."""
    out: list[str] = []
    for t in tags:
        t = str(t).strip()
        if t and t not in out:
            out.append(t)
    return out
