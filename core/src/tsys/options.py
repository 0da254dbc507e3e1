"""Plugin options: each data source, broker and notifier declares an attrs class, and
:func:`structure_options` builds it from its table in ``tsys.toml``.

One function, one wording. It uses the project's converter (:func:`tsys.serialization.converter`,
plugins' converter hooks included) with strict scalars on top: ``top_n = "10"`` or
``top_n = 2.5`` is an error, not a silent ``10`` or ``2``. Unknown keys are refused with a
"did you mean"; every problem is reported at once, located by its path::

    invalid [data.options.coingecko]:
      expected an integer, got 'ten' (a string) @ $.data.options.coingecko.top_n
      unknown option 'tpo_n' (did you mean 'top_n'?) @ $.data.options.coingecko.tpo_n

Secrets are fields declared with :func:`secret_field`: they are read from the environment only
(a value in the table is refused without being echoed) and never appear in the class's repr.
Range rules are attrs validators; the ones here (:func:`at_least`, :func:`between`,
:func:`one_of`, ...) word their errors like the type errors.
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Self, TypeVar

import attrs
import cattrs

from tsys.contracts import FieldError
from tsys.errors import ConfigError

T = TypeVar("T")

#: attrs metadata key of a secret field: the environment variable it is read from.
SECRET = "tsys_secret_env"

_NAMES: dict[Any, str] = {
    bool: "true or false",
    int: "an integer",
    float: "a number",
    str: "a string",
    type(None): "nothing",
}
_PLURAL: dict[Any, str] = {
    bool: "true/false values",
    int: "integers",
    float: "numbers",
    str: "strings",
}
#: attrs' own validators say "'size' must be > 0: -5.0".
_ATTRS_MSG = re.compile(r"^'(\w+)' (.*)$", re.S)


class _Expected(TypeError):
    """A value of the wrong type; ``at`` is the path below the field (list index, table key)."""

    def __init__(self, expected: str, value: Any, at: str = "") -> None:
        super().__init__(f"expected {expected}, got {_show(value)}")
        self.at = at


def _show(value: Any) -> str:
    kind = _NAMES.get(type(value), type(value).__name__)
    if isinstance(value, list | tuple):
        kind = "a list"
    elif isinstance(value, Mapping):
        kind = "a table"
    text = repr(value)
    return f"{text if len(text) <= 60 else text[:57] + '...'} ({kind})"


def type_name(tp: Any) -> str:
    """How an option's type reads in a message: ``an integer``, ``a list of a string``..."""
    if tp in _NAMES:
        return _NAMES[tp]
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (list, tuple, set, frozenset) or origin is typing.Sequence:
        return f"a list of {_PLURAL.get(args[0], type_name(args[0]))}" if args else "a list"
    if origin in (dict, Mapping):
        return (
            f"a table of {_PLURAL.get(args[1], type_name(args[1]))}"
            if len(args) == 2
            else "a table"
        )
    if origin in (typing.Union, types.UnionType):
        rest = [a for a in args if a is not type(None)]
        return " or ".join(type_name(a) for a in rest)
    return getattr(tp, "__name__", str(tp))


# ------------------------------------------------------------------------ strict converter
def _scalar(tp: type, ok: Callable[[Any], bool], cast: Callable[[Any], Any]) -> Callable:
    def hook(value: Any, _: Any) -> Any:
        if not ok(value):
            raise _Expected(type_name(tp), value)
        return cast(value)

    return hook


def _is_list(tp: Any) -> bool:
    return typing.get_origin(tp) in (list, tuple, set, frozenset)


def _is_dict(tp: Any) -> bool:
    return typing.get_origin(tp) in (dict, Mapping)


def _list_hook(tp: Any, conv: cattrs.Converter) -> Callable:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    item = args[0] if args else Any

    def hook(value: Any, _: Any) -> Any:
        if not isinstance(value, list | tuple):
            raise _Expected(type_name(tp), value)
        out = []
        for i, x in enumerate(value):
            try:
                out.append(conv.structure(x, item))
            except _Expected as exc:
                raise _Expected(type_name(item), x, f"[{i}]{exc.at}") from None
        return out if origin is list else origin(out)

    return hook


def _dict_hook(tp: Any, conv: cattrs.Converter) -> Callable:
    args = typing.get_args(tp)
    key_t, val_t = args if len(args) == 2 else (Any, Any)

    def hook(value: Any, _: Any) -> Any:
        if not isinstance(value, Mapping):
            raise _Expected(type_name(tp), value)
        out = {}
        for k, x in value.items():
            try:
                out[conv.structure(k, key_t)] = conv.structure(x, val_t)
            except _Expected as exc:
                raise _Expected(type_name(val_t), x, f".{k}{exc.at}") from None
        return out

    return hook


def _is_union(tp: Any) -> bool:
    if typing.get_origin(tp) not in (typing.Union, types.UnionType):
        return False
    return len([a for a in typing.get_args(tp) if a is not type(None)]) > 1


def _fits(tp: Any, value: Any) -> bool:
    """Whether ``value`` has the shape of ``tp`` (how a union picks its member)."""
    shape = typing.get_origin(tp) or tp
    if shape in (list, tuple, set, frozenset):
        return isinstance(value, list | tuple)
    if shape in (dict, Mapping):
        return isinstance(value, Mapping)
    if shape is bool:
        return isinstance(value, bool)
    if shape in (int, float):
        return isinstance(value, int | float) and not isinstance(value, bool)
    return isinstance(value, shape) if isinstance(shape, type) else False


def _union_hook(tp: Any, conv: cattrs.Converter) -> Callable:
    members = typing.get_args(tp)

    def hook(value: Any, _: Any) -> Any:
        if value is None and type(None) in members:
            return None
        for member in members:
            if member is not type(None) and _fits(member, value):
                return conv.structure(value, member)
        raise _Expected(type_name(tp), value)

    return hook


def _build(base: cattrs.Converter) -> cattrs.Converter:
    conv = base.copy()
    conv.register_structure_hook(bool, _scalar(bool, lambda v: isinstance(v, bool), bool))
    conv.register_structure_hook(
        int, _scalar(int, lambda v: isinstance(v, int) and not isinstance(v, bool), int)
    )
    conv.register_structure_hook(
        float,
        _scalar(float, lambda v: isinstance(v, int | float) and not isinstance(v, bool), float),
    )
    conv.register_structure_hook(str, _scalar(str, lambda v: isinstance(v, str), str))
    conv.register_structure_hook_factory(_is_list, lambda tp: _list_hook(tp, conv))
    conv.register_structure_hook_factory(_is_dict, lambda tp: _dict_hook(tp, conv))
    conv.register_structure_hook_factory(_is_union, lambda tp: _union_hook(tp, conv))
    return conv


_built: tuple[cattrs.Converter, cattrs.Converter] | None = None


def options_converter() -> cattrs.Converter:
    """The project's converter with strict scalars, lists and tables (rebuilt with it)."""
    global _built
    from tsys.serialization import converter

    base = converter()
    if _built is None or _built[0] is not base:
        _built = (base, _build(base))
    return _built[1]


class Configurable:
    """What every configured plugin class has (data sources, brokers, notifiers): a ``name``,
    the attrs ``options_class`` of its table and ``from_config``, which builds it from that
    table and its build context (by default ``cls(**options)``; a plugin with an
    ``options_class`` calls :func:`structure_options` there)."""

    name: ClassVar[str] = ""
    #: The attrs class of the plugin's options, built by ``tsys.options.structure_options``.
    options_class: ClassVar[type | None] = None

    @classmethod
    def from_config(cls, options: dict[str, Any], ctx: Any) -> Self:
        return cls(**options)


# ----------------------------------------------------------------------------- the function
def structure_options(cls: type[T], options: Mapping[str, Any] | None, *, where: str) -> T:
    """Build the options class ``cls`` from a config table, or raise one :class:`ConfigError`.

    Parameters
    ----------
    cls
        An attrs class; secret fields come from :func:`secret_field`.
    options
        The table as read from ``tsys.toml`` (None: empty).
    where
        The table's path, e.g. ``$.data.options.coingecko``, ``$.broker.options`` or
        ``$.notifiers.email``; every message is located below it.
    """
    data = dict(options or {})
    fields = {a.name: a for a in attrs.fields(cls)}
    secrets = {n: a.metadata[SECRET] for n, a in fields.items() if SECRET in a.metadata}
    known = sorted(n for n in fields if n not in secrets)
    problems: list[str] = []
    for key in sorted(data, key=str):
        if key in secrets:
            del data[key]
            problems.append(
                f"{key} is a secret, read from the environment only: remove it and set "
                f"{secrets[key]} @ {where}.{key}"
            )
        elif key not in fields:
            del data[key]
            close = difflib.get_close_matches(str(key), known, n=1)
            guess = f" (did you mean {close[0]!r}?)" if close else ""
            problems.append(f"unknown option {key!r}{guess} @ {where}.{key}")
    if secrets:
        from tsys.config import secret

        for name, env in secrets.items():
            data[name] = secret(env)
    try:
        result = options_converter().structure(data, cls)
    except cattrs.BaseValidationError as exc:
        problems.extend(_walk(exc, where))
    except (TypeError, ValueError) as exc:  # a validator or converter of the class
        problems.append(_located(exc, where))
    else:
        if not problems:
            return result
    section = f"[{where.removeprefix('$.')}]"
    raise ConfigError(
        f"invalid {section}:\n  " + "\n  ".join(problems),
        hint=f"known options of {section}: {', '.join(known) or '(none)'}",
    )


def _walk(exc: cattrs.BaseValidationError, path: str) -> list[str]:
    out: list[str] = []
    with_notes, without = exc.group_exceptions()
    for sub, note in with_notes:
        name = getattr(note, "name", None)
        index = getattr(note, "index", None)
        at = f"{path}.{name}" if name is not None else f"{path}[{index!r}]"
        if isinstance(sub, cattrs.BaseValidationError):
            out.extend(_walk(sub, at))
        elif isinstance(sub, KeyError):
            out.append(f"required option missing ({type_name(note.type)}) @ {at}")
        elif isinstance(sub, _Expected):
            out.append(f"{sub} @ {at}{sub.at}")
        else:
            out.append(f"{sub} @ {at}")
    for sub in without:
        if isinstance(sub, cattrs.ForbiddenExtraKeysError):
            out.extend(f"unknown option {k!r} @ {path}.{k}" for k in sorted(sub.extra_fields))
        elif isinstance(sub, cattrs.BaseValidationError):
            out.extend(_walk(sub, path))
        else:
            out.append(_located(sub, path))
    return out


def _located(exc: BaseException, path: str) -> str:
    """A validator's error at its field's path: ``must be >= 1, got 0 @ $.x.top_n``."""
    if isinstance(exc, FieldError):
        return f"{exc.detail} @ {path}.{exc.field}"
    if isinstance(exc, ValueError) and (m := _ATTRS_MSG.match(str(exc))):
        return f"{m.group(2)} @ {path}.{m.group(1)}"
    if (
        isinstance(exc, TypeError)
        and len(exc.args) == 4
        and isinstance(exc.args[1], attrs.Attribute)
    ):
        # attrs.validators.instance_of: (message, attribute, expected type, value)
        _, attribute, expected, value = exc.args
        return f"expected {type_name(expected)}, got {_show(value)} @ {path}.{attribute.name}"
    return f"{exc} @ {path}"


# ------------------------------------------------------------------------------ field helpers
def secret_field(env: str) -> Any:
    """A field read from the environment variable ``env`` only, hidden from repr."""
    return attrs.field(default=None, repr=False, metadata={SECRET: env})


def _rule(check: Callable[[Any], bool], wording: str) -> Callable[[Any, Any, Any], None]:
    def validate(inst: Any, attribute: attrs.Attribute, value: Any) -> None:
        if value is not None and not check(value):
            raise FieldError(attribute.name, f"{wording}, got {value!r}")

    return validate


def at_least(low: float) -> Callable[[Any, Any, Any], None]:
    """Validator: ``value >= low`` (None passes: optional fields)."""
    return _rule(lambda x: x >= low, f"must be >= {low}")


def above(low: float) -> Callable[[Any, Any, Any], None]:
    """Validator: ``value > low``."""
    return _rule(lambda x: x > low, f"must be > {low}")


def between(low: float, high: float) -> Callable[[Any, Any, Any], None]:
    """Validator: ``low <= value <= high``."""
    return _rule(lambda x: low <= x <= high, f"must be between {low} and {high}")


def one_of(*choices: Any) -> Callable[[Any, Any, Any], None]:
    """Validator: the value is one of ``choices``."""
    return _rule(lambda x: x in choices, "must be one of " + ", ".join(map(repr, choices)))


def non_empty() -> Callable[[Any, Any, Any], None]:
    """Validator: a string or list that is not empty (nor only spaces)."""
    return _rule(lambda x: bool(x.strip() if isinstance(x, str) else x), "must not be empty")


def http_url() -> Callable[[Any, Any, Any], None]:
    """Validator: an ``http://`` or ``https://`` URL."""
    return _rule(
        lambda x: str(x).startswith(("http://", "https://")),
        "must start with http:// or https://",
    )
