"""The one cattrs converter of tsys: JSON in and out for every contract.

Built on :mod:`cattrs.preconf.json` and private to tsys (the global converter is never touched).
Plugins extend it through the ``register_converter_hooks`` hook. Failures become a
:class:`~tsys.errors.ContractError` whose message names every failing field path, as
``cattrs.transform_error`` writes them (``invalid value for type, expected int @ $.quantity``).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import weakref
from typing import Any, TypeVar

import cattrs
import pluggy
from cattrs.preconf.json import make_converter
from cattrs.v import format_exception

from tsys.contracts import SCHEMA_VERSION, FieldError
from tsys.errors import ContractError
from tsys.plugins import call_hook, get_plugin_manager

T = TypeVar("T")
#: A path segment like ['sp500'] reads better as .sp500 for identifier-like keys.
_ATTRS_MSG = re.compile(r"^'(\w+)' (.*)$", re.S)
_KEY = re.compile(r"\['([A-Za-z_][\w-]*)'\]")


def _build() -> cattrs.Converter:
    conv = make_converter(forbid_extra_keys=True, omit_if_default=False)
    conv.register_unstructure_hook(dt.date, lambda d: d.isoformat())
    conv.register_structure_hook(dt.date, lambda v, _: _parse_date(v))
    conv.register_unstructure_hook(dt.datetime, lambda d: d.isoformat())
    conv.register_structure_hook(dt.datetime, lambda v, _: _parse_datetime(v))
    return conv


def _parse_date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if not isinstance(value, str):
        raise TypeError(f"expected an ISO date string, got {type(value).__name__}")
    return dt.date.fromisoformat(value)


def _parse_datetime(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value
    if not isinstance(value, str):
        raise TypeError(f"expected an ISO datetime string, got {type(value).__name__}")
    return dt.datetime.fromisoformat(value)


#: One converter per plugin manager (a test that swaps the manager gets a fresh converter).
_converters: weakref.WeakKeyDictionary[pluggy.PluginManager, cattrs.Converter] = (
    weakref.WeakKeyDictionary()
)


def converter() -> cattrs.Converter:
    """Return the tsys converter, extended by the current plugins' converter hooks."""
    pm = get_plugin_manager()
    conv = _converters.get(pm)
    if conv is None:
        conv = _build()
        call_hook("register_converter_hooks", contain=False, converter=conv)
        _converters[pm] = conv
    return conv


def unstructure(obj: Any) -> Any:
    """Turn a contract into plain JSON-compatible data."""
    return converter().unstructure(obj)


def structure(data: Any, cls: type[T], *, what: str | None = None) -> T:
    """Build ``cls`` from plain data, raising :class:`ContractError` with field paths."""
    try:
        return converter().structure(data, cls)
    except Exception as exc:  # cattrs raises ClassValidationError and plain errors alike
        raise ContractError(describe_error(exc, what or cls.__name__)) from exc


def dumps(obj: Any, *, indent: int | None = 2) -> str:
    """Serialise a contract to JSON text (stable key order, so files diff cleanly)."""
    return json.dumps(unstructure(obj), indent=indent, sort_keys=True, allow_nan=False)


def loads(text: str | bytes, cls: type[T], *, what: str | None = None) -> T:
    """Parse JSON text into ``cls``; top-level payloads must carry a known ``schema_version``."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ContractError(f"{what or cls.__name__}: not valid JSON ({exc})") from exc
    if isinstance(data, dict) and "schema_version" in data:
        version = data["schema_version"]
        if not isinstance(version, int) or version > SCHEMA_VERSION:
            raise ContractError(
                f"{what or cls.__name__}: schema_version {version!r} is newer than this tsys "
                f"understands ({SCHEMA_VERSION})",
                hint="upgrade tsys to read this file",
            )
    return structure(data, cls, what=what)


def _format_exception(exc: BaseException, type_: Any) -> str:
    if isinstance(exc, FieldError):
        # Marker, resolved by describe_error into the field's own path.
        return f"\x00{exc.field}\x00{exc.detail}"
    if type(exc) is ValueError and (m := _ATTRS_MSG.match(str(exc))):
        # attrs' own validators say "'size' must be > 0: -5.0".
        return f"\x00{m.group(1)}\x00{m.group(2)}"
    return format_exception(exc, type_)


def describe_error(exc: BaseException, what: str) -> str:
    """One readable message for a structuring failure: a line per failing field path."""
    if isinstance(exc, cattrs.BaseValidationError):
        lines = []
        for line in cattrs.transform_error(exc, path="$", format_exception=_format_exception):
            if line.startswith("\x00"):
                _, field, rest = line.split("\x00", 2)
                detail, _, path = rest.rpartition(" @ ")
                line = f"invalid value for {field}: {detail} @ {path}.{field}"
            lines.append(_KEY.sub(r".\1", line))
    elif isinstance(exc, FieldError):
        lines = [f"invalid value for {exc.field}: {exc.detail} @ $.{exc.field}"]
    else:
        lines = [f"{type(exc).__name__}: {exc} @ $"]
    return f"invalid {what}:\n  " + "\n  ".join(lines)


def json_ready(x: Any) -> Any:
    """Plain data for ``json.dumps`` from report payloads: NaN and infinity become null,
    numpy scalars Python numbers, timestamps and dates ISO strings, tuples lists."""
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {k: json_ready(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [json_ready(v) for v in x]
    if isinstance(x, dt.datetime | dt.date):  # pandas Timestamps are datetimes
        return x.isoformat()
    if hasattr(x, "item") and not isinstance(x, str | bytes):  # numpy scalars
        return json_ready(x.item())
    return x
