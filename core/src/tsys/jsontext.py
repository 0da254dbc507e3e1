"""``json.dumps(obj, indent=2)``, byte for byte, at the speed of the C encoder.

The standard library encodes with its C encoder only without ``indent``; with it, every value
goes through Python (8 s for the 60 MB of ``tsys portfolio --json`` over 100,000 positions).
:func:`dumps_indented` gives the same text: a list of flat objects (every value a string,
number, bool or None, e.g. one per position) is encoded in one C call, with separators that
carry the line breaks and indentation, then its objects' braces are put on their own lines;
every other value is encoded by ``json.dumps`` and indented to its depth. JSON text never holds
a raw line break inside a string, so re-indenting by replacing line breaks is exact.

:class:`Rows` is such a list held as columns (one list of values per key, the same keys in
every object): each column is encoded in one C call, its values split at the line breaks put
between them, and every object is filled into one template. The text is that of the list of
dicts, without making the dicts (100,000 positions of 21 keys).

It imports nothing from tsys (foundation layer).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from itertools import chain, repeat
from json.encoder import encode_basestring_ascii
from typing import Any

_SCALARS = frozenset({str, int, float, bool, type(None)})
_STR = frozenset({str})


def _flat_object(x: Any) -> bool:
    return (
        type(x) is dict
        and bool(x)
        and set(map(type, x)) == _STR
        and _SCALARS.issuperset(map(type, x.values()))
    )


class Rows:
    """A list of flat objects with the same ``keys``, as ``columns`` (one per key, in order):
    :func:`dumps_indented` writes it as it writes ``rows.dicts()``."""

    def __init__(self, keys: Sequence[str], columns: Sequence[Sequence[Any]]) -> None:
        if not keys or len(keys) != len(columns) or len({len(c) for c in columns}) > 1:
            raise ValueError("Rows needs keys and one column per key, all of the same length")
        self.keys = tuple(keys)
        self.columns = [list(c) for c in columns]

    def __len__(self) -> int:
        return len(self.columns[0]) if self.columns else 0

    def dicts(self) -> list[dict[str, Any]]:
        return [dict(zip(self.keys, row, strict=True)) for row in zip(*self.columns, strict=True)]


def _encode_rows(rows: Rows, level: int, out: list[str]) -> None:
    flat = (
        len(rows) > 0
        and len(set(rows.keys)) == len(rows.keys)
        and all(type(k) is str for k in rows.keys)
        and all(_SCALARS.issuperset(map(type, c)) for c in rows.columns)
    )
    if not flat:  # (what the list of dicts would be: written the general way)
        _encode(rows.dicts(), level, out)
        return
    pad = "\n" + "  " * (level + 1)
    inner = pad + "  "
    # one C call per column; no encoded value holds a raw line break, so they split there
    cells = [json.dumps(c, separators=("\n", ": "))[1:-1].split("\n") for c in rows.columns]
    n = len(rows)
    heads = ["{" + inner] + ["," + inner] * (len(rows.keys) - 1)
    parts: list[Any] = []
    for head, key, col in zip(heads, rows.keys, cells, strict=True):
        parts += [repeat(head + encode_basestring_ascii(key) + ": ", n), col]
    first = heads[0] + encode_basestring_ascii(rows.keys[0]) + ": "
    # every object but the first starts where the one before it ends
    parts[0] = chain([first], repeat(pad + "}," + pad + first, n - 1))
    out += ["[", pad, "".join(chain.from_iterable(zip(*parts, strict=True))), pad, "}"]
    out.append(pad[:-2] + "]")


def dumps_indented(obj: Any, *, end: str = "") -> str:
    """Exactly ``json.dumps(obj, indent=2) + end`` (see the module docstring), joined once."""
    out: list[str] = []
    _encode(obj, 0, out)
    out.append(end)
    return "".join(out)


def _encode(obj: Any, level: int, out: list[str]) -> None:
    if type(obj) is Rows:
        _encode_rows(obj, level, out)
        return
    pad = "\n" + "  " * (level + 1)
    if type(obj) is dict and obj and all(type(k) is str for k in obj):
        opening = "{" + pad
        for k, v in obj.items():
            out += [opening, encode_basestring_ascii(k), ": "]
            _encode(v, level + 1, out)
            opening = "," + pad
        out.append(pad[:-2] + "}")
        return
    if type(obj) is list and obj and all(map(_flat_object, obj)):
        inner = pad + "  "
        text = json.dumps(obj, separators=("," + inner, ": "))  # [{"a": 1,<inner>"b": 2}, ...]
        # "}," + inner + "{" is only ever between two objects: inside one, a key follows inner
        body = text[2:-2].replace("}," + inner + "{", pad + "}," + pad + "{" + inner)
        out += ["[", pad, "{", inner, body, pad, "}", pad[:-2], "]"]
        return
    text = json.dumps(obj, indent=2)
    out.append(text.replace("\n", "\n" + "  " * level) if level else text)
