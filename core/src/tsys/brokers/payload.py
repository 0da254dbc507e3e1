"""The broker-payload boundary: a broker's JSON is read into tsys contracts here, field by field.

A broker answers with JSON that tsys does not control: a new enum value, ``null`` where a
number was, a word where a time was, an object where a list was. Read through :class:`PayloadItem`,
each field is checked once, at the boundary, and a field that cannot be read becomes a
:class:`~tsys.errors.BrokerError` that names the broker, the item and the field, never a
``KeyError`` or ``ValueError`` traceback deep in the daily run. Values are echoed shortened
(:func:`shown`): a payload is data, but a broker's answer has no business in a message whole.

Positions in an asset class tsys does not trade (an option, a future) are not forced into a
stock :class:`~tsys.contracts.PositionRecord`: they become a :class:`ForeignPosition`, listed
(``tsys paper positions``, reconciliation notes, run warnings) and never sized or sold.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import attrs

from tsys.errors import BrokerError

T = TypeVar("T")

#: How many characters of an unreadable value a message shows.
SHOWN = 40


def shown(value: Any) -> str:
    """``value`` as a short repr for a message (at most :data:`SHOWN` characters)."""
    text = repr(value)
    return text if len(text) <= SHOWN else text[: SHOWN - 3] + "..."


@attrs.frozen
class ForeignPosition:
    """A position at the broker in something tsys does not trade: listed, never traded.

    ``asset_class`` and ``quantity`` are the broker's own words, kept as text.
    """

    symbol: str
    asset_class: str
    quantity: str
    broker: str = ""

    def describe(self) -> str:
        return f"{self.symbol} ({self.asset_class}, quantity {self.quantity})"


def payload_items(payload: Any, *, broker: str, what: str) -> list[Any]:
    """``payload`` as a list (the answer to a "list" request), else a :class:`BrokerError`."""
    if not isinstance(payload, list):
        raise BrokerError(
            f"{broker} answered {what} with {_kind(payload)} instead of a list",
            hint="nothing was read from that answer; if it persists, report the broker's "
            "response shape",
        )
    return payload


class PayloadItem:
    """One object of a broker's answer, read field by field with the field named on failure.

    ``what`` names the item in messages (``"position 2 (AAPL)"``, ``"order tsys-x"``).
    """

    def __init__(self, raw: Any, *, broker: str, what: str) -> None:
        if not isinstance(raw, Mapping):
            raise BrokerError(f"{broker} sent {what} as {_kind(raw)} instead of an object")
        self.raw = raw
        self.broker = broker
        self.what = what

    def error(self, field: str, problem: str) -> BrokerError:
        """The error for an unreadable ``field``."""
        return BrokerError(
            f"{self.broker} sent {self.what} that tsys cannot read: field {field!r} {problem}",
            hint="the item was not used; if it persists, report the broker's response shape",
        )

    def get(self, field: str) -> Any:
        """The raw value (None when missing)."""
        return self.raw.get(field)

    def present(self, field: str) -> bool:
        """True when the field is there with a value (not missing, null or empty)."""
        return self.raw.get(field) not in (None, "")

    def _required(self, field: str) -> Any:
        if field not in self.raw:
            raise self.error(field, "is missing")
        value = self.raw[field]
        if value is None or value == "":
            raise self.error(field, f"is empty ({shown(value)})")
        return value

    def text(self, field: str, *, required: bool = True) -> str | None:
        """A non-empty string field."""
        if not required and not self.present(field):
            return None
        value = self._required(field)
        if not isinstance(value, str):
            raise self.error(field, f"must be text, got {shown(value)}")
        return value

    def number(self, field: str, *, required: bool = True, positive: bool = False) -> float | None:
        """A finite decimal number, sent as a JSON number or a decimal string (``"10.5"``)."""
        if not required and not self.present(field):
            return None
        value = self._required(field)
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise self.error(field, f"must be a number, got {shown(value)}")
        try:
            out = float(value)
        except ValueError:
            raise self.error(field, f"must be a number, got {shown(value)}") from None
        if not math.isfinite(out):
            raise self.error(field, f"must be a finite number, got {shown(value)}")
        if positive and out <= 0:
            raise self.error(field, f"must be above 0, got {shown(value)}")
        return out

    def time(self, field: str, *, required: bool = True) -> dt.datetime | None:
        """An ISO 8601 timestamp (naive ones are taken as UTC)."""
        if not required and not self.present(field):
            return None
        value = self._required(field)
        if not isinstance(value, str):
            raise self.error(field, f"must be an ISO 8601 time, got {shown(value)}")
        try:
            out = dt.datetime.fromisoformat(value)
        except ValueError:
            raise self.error(field, f"must be an ISO 8601 time, got {shown(value)}") from None
        return out if out.tzinfo is not None else out.replace(tzinfo=dt.UTC)

    def choice(self, field: str, mapping: Mapping[str, T], *, required: bool = True) -> T | None:
        """A string field that must be one of ``mapping``'s keys; returns the mapped value."""
        if not required and not self.present(field):
            return None
        value = self._required(field)
        if not isinstance(value, str) or value not in mapping:
            raise self.error(
                field, f"must be one of {', '.join(sorted(mapping))}; got {shown(value)}"
            )
        return mapping[value]

    def parsed(self, field: str, parse: Callable[[Any], T]) -> T:
        """``parse(value)``, with its ``ValueError``/``TypeError`` reported at ``field``."""
        value = self._required(field)
        try:
            return parse(value)
        except (TypeError, ValueError) as exc:
            raise self.error(field, f"is unreadable ({exc}); got {shown(value)}") from None


def _kind(value: Any) -> str:
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "null"
    return f"{type(value).__name__} {shown(value)}"
