"""The one symbol grammar, and safe file names for keys made of outside text.

A symbol is what a user types, a file names, a vendor or a broker returns: ``AAPL``, ``BRK.B``,
``BTC-USD``, ``^GSPC``, ``ES=F``. Every entry point (the CLI, trade import, data sources, broker
positions, the contracts themselves) checks it with :func:`symbol_problem`, so the rule is the
same on SQLite and PostgreSQL and no symbol can steer a path: letters, digits and ``. - _ ^ =``,
starting with a letter, digit or ``^``, no ``..``, at most :data:`MAX_SYMBOL_LENGTH` characters.

:func:`safe_name` turns any key (a symbol, a query) into a file name that stays in its folder.
"""

from __future__ import annotations

import functools
import hashlib
import re

MAX_SYMBOL_LENGTH = 32
_GRAMMAR = re.compile(r"[A-Za-z0-9^][A-Za-z0-9._^=-]*")
_PAIR = re.compile(r"([A-Za-z0-9]+)/([A-Za-z]+)")
_PRINTABLE = 40


def symbol_problem(value: object) -> str | None:
    """Why ``value`` is not a valid symbol, in words (None when it is one)."""
    if not isinstance(value, str):
        return f"must be text, got {type(value).__name__}"
    return _text_problem(str(value))


@functools.lru_cache(maxsize=8192)
def _text_problem(value: str) -> str | None:
    # Cached: every record of a large book checks the same few hundred symbols again.
    if not value:
        return "must not be empty"
    shown = repr(value if len(value) <= _PRINTABLE else value[:_PRINTABLE] + "...")
    if len(value) > MAX_SYMBOL_LENGTH:
        return f"must be at most {MAX_SYMBOL_LENGTH} characters, got {len(value)} ({shown})"
    if any(c in value for c in "/\\"):
        return f"must not contain a path separator, got {shown}"
    if ".." in value:
        return f"must not contain '..', got {shown}"
    if any(not c.isprintable() or c.isspace() for c in value):
        return f"must not contain white space or control characters, got {shown}"
    if _GRAMMAR.fullmatch(value) is None:
        return (
            f"may hold only letters, digits and . - _ ^ = (starting with a letter, digit or ^), "
            f"got {shown}"
        )
    return None


def is_symbol(value: object) -> bool:
    """Whether ``value`` follows the symbol grammar."""
    return symbol_problem(value) is None


def normalise_symbol(text: str) -> str:
    """What a user typed, as tsys spells it: stripped, upper case, ``BTC/USD`` -> ``BTC-USD``.

    The result is not checked; pass it to :func:`symbol_problem`.
    """
    s = str(text).strip().upper()
    pair = _PAIR.fullmatch(s)
    return f"{pair.group(1)}-{pair.group(2)}" if pair else s


def safe_name(key: str, *, suffix: str = "") -> str:
    """A file name for ``key`` that cannot leave its folder: a readable slug and a short hash.

    ``"AAPL"`` -> ``"AAPL-<10 hex>"``; ``"../../PWNED"`` -> ``".._.._PWNED-<10 hex>"`` (no
    separator, so it names a file in the folder). The hash keeps keys that slug alike (``a/b``
    and ``a_b``) apart.
    """
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", str(key)).strip("_")[:80] or "key"
    digest = hashlib.sha256(str(key).encode("utf-8", "surrogatepass")).hexdigest()[:10]
    return f"{slug}-{digest}{suffix}"
